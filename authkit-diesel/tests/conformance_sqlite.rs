//! The conformance suite on [`SqliteStore`], one SQLite file per case:
//! `cargo nextest run -p authkit-diesel --all-features --test conformance_sqlite`.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use authkit::Stores;
use authkit_diesel::SqliteStore;

/// Connections per case: enough for the concurrency cases to contend for the write lock.
const POOL_SIZE: usize = 5;

/// A store on a pool of its own over the case's SQLite file (migrated).
fn open(url: String) -> std::pin::Pin<Box<dyn Future<Output = Stores> + Send>> {
    Box::pin(async move {
        let pool = SqliteStore::build_pool(&url, POOL_SIZE).expect("build the pool");
        let store = SqliteStore::new(pool)
            .await
            .unwrap_or_else(|err| panic!("migrate the case's SQLite file ({url}): {err}"));
        Stores::from_backend(store)
    })
}

authkit_conformance::conformance_suite!(support::Factory::new(None, open));
