//! The conformance suite on [`PgStore`], one PostgreSQL schema per case (the pool's
//! `search_path`): `cargo nextest run -p authkit-diesel --all-features --test
//! conformance_postgres`. The server: `AUTHKIT_TEST_POSTGRES_URL` (see `servers`).

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod servers;

use authkit::Stores;
use authkit_conformance::{StoreFactory, async_trait};
use authkit_diesel::PgStore;
use servers::{Cases, Server};

/// Connections per case: cases run in parallel, and the server allows about 100.
const POOL_SIZE: usize = 5;

/// A store on a pool of its own over the case's schema (migrated).
async fn open(url: &str) -> Stores {
    let pool = PgStore::build_pool(url, POOL_SIZE).expect("build the pool");
    let store = PgStore::new(pool)
        .await
        .unwrap_or_else(|err| panic!("migrate the case's schema ({}): {err}", servers::PG_VAR));
    Stores::from_backend(store)
}

#[derive(Default)]
struct PgFactory {
    cases: Cases,
}

#[async_trait]
impl StoreFactory for PgFactory {
    async fn stores(&self) -> Stores {
        open(&self.cases.fresh(Server::Postgres).await).await
    }

    async fn two_handles(&self) -> (Stores, Stores) {
        let url = self.cases.fresh(Server::Postgres).await;
        (open(&url).await, open(&url).await)
    }
}

authkit_conformance::conformance_suite!(PgFactory::default());
