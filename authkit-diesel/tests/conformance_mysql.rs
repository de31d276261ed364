//! The conformance suite on [`MysqlStore`], one MariaDB/MySQL database per case:
//! `cargo nextest run -p authkit-diesel --all-features --test
//! conformance_mysql`. The server: `AUTHKIT_TEST_MYSQL_URL` (see `servers`).

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod servers;

use authkit::Stores;
use authkit_conformance::{StoreFactory, async_trait};
use authkit_diesel::MysqlStore;
use servers::{Cases, Server};

/// Connections per case: cases run in parallel, and the server allows about 100.
const POOL_SIZE: usize = 5;

/// A store on a pool of its own over the case's database (migrated).
async fn open(url: &str) -> Stores {
    let pool = MysqlStore::build_pool(url, POOL_SIZE).expect("build the pool");
    let store = MysqlStore::new(pool).await.unwrap_or_else(|err| {
        panic!(
            "migrate the case's database ({}): {err}",
            servers::MYSQL_VAR
        )
    });
    Stores::from_backend(store)
}

#[derive(Default)]
struct MysqlFactory {
    cases: Cases,
}

#[async_trait]
impl StoreFactory for MysqlFactory {
    async fn stores(&self) -> Stores {
        open(&self.cases.fresh(Server::Mysql).await).await
    }

    async fn two_handles(&self) -> (Stores, Stores) {
        let url = self.cases.fresh(Server::Mysql).await;
        (open(&url).await, open(&url).await)
    }
}

authkit_conformance::conformance_suite!(MysqlFactory::default());
