//! The conformance suite on [`MysqlStore`], one MariaDB/MySQL database per case:
//! `cargo nextest run -p authkit-diesel --all-features --test conformance_mysql`.
//! The server: `AUTHKIT_TEST_MYSQL_URL` (see `support`).

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use authkit::Stores;
use authkit_diesel::MysqlStore;

/// Connections per case: enough for the concurrency cases to contend (the server allows about 150 at once).
const POOL_SIZE: usize = 5;

/// A store on a pool of its own over the case's MariaDB/MySQL database (migrated).
fn open(url: String) -> std::pin::Pin<Box<dyn Future<Output = Stores> + Send>> {
    Box::pin(async move {
        let pool = MysqlStore::build_pool(&url, POOL_SIZE).expect("build the pool");
        let store = MysqlStore::new(pool).await.unwrap_or_else(|err| {
            panic!("migrate the case's MariaDB/MySQL database ({url}): {err:?}")
        });
        Stores::from_backend(store)
    })
}

authkit_conformance::conformance_suite!(support::Factory::new(Some(support::Server::Mysql), open));
