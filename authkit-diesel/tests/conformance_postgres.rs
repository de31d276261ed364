//! The conformance suite on [`PgStore`], one PostgreSQL schema per case:
//! `cargo nextest run -p authkit-diesel --all-features --test conformance_postgres`.
//! The server: `AUTHKIT_TEST_POSTGRES_URL` (see `support`).

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use authkit::Stores;
use authkit_diesel::PgStore;

/// Connections per case: enough for the concurrency cases to contend (the server allows about 100 at once).
const POOL_SIZE: usize = 5;

/// A store on a pool of its own over the case's PostgreSQL schema (migrated).
fn open(url: String) -> std::pin::Pin<Box<dyn Future<Output = Stores> + Send>> {
    Box::pin(async move {
        let pool = PgStore::build_pool(&url, POOL_SIZE).expect("build the pool");
        let store = PgStore::new(pool)
            .await
            .unwrap_or_else(|err| panic!("migrate the case's PostgreSQL schema ({url}): {err}"));
        Stores::from_backend(store)
    })
}

authkit_conformance::conformance_suite!(support::Factory::new(
    Some(support::Server::Postgres),
    open
));
