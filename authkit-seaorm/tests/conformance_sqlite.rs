//! The conformance suite on [`SqliteStore`], one temporary database file per case:
//! `cargo nextest run -p authkit-seaorm --all-features --test conformance_sqlite`.
//!
//! Files live in the system's temporary directory and are deleted (with their WAL and
//! shared-memory files) when the case ends.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use authkit::Stores;
use authkit_conformance::{StoreFactory, async_trait};
use authkit_seaorm::SqliteStore;
use authkit_seaorm::sea_orm::Database;
use authkit_seaorm::sea_orm_migration::MigratorTrait;

/// Connections per case: enough for the concurrency cases to contend for the write lock.
const POOL_SIZE: u32 = 5;

/// A fresh database file per [`StoreFactory::stores`] call, deleted with the factory.
#[derive(Default)]
struct SqliteFactory {
    files: common::TempFiles,
}

/// A store on a pool of its own over the database file `path` (created and migrated).
async fn open(path: &Path) -> Stores {
    let url = format!("sqlite://{}", path.display());
    let mut options = SqliteStore::connect_options(&url);
    options.max_connections(POOL_SIZE);
    let db = Database::connect(options)
        .await
        .unwrap_or_else(|err| panic!("open {}: {err}", path.display()));
    authkit_seaorm::Migrator::up(&db, None)
        .await
        .expect("migrate the case's database");
    Stores::from_backend(SqliteStore::new(db).expect("a SQLite connection"))
}

#[async_trait]
impl StoreFactory for SqliteFactory {
    async fn stores(&self) -> Stores {
        open(&self.files.fresh()).await
    }

    async fn two_handles(&self) -> (Stores, Stores) {
        let path = self.files.fresh();
        let first = open(&path).await;
        (first, open(&path).await)
    }
}

authkit_conformance::conformance_suite!(SqliteFactory::default());
