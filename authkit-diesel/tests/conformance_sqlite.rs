//! The conformance suite on [`SqliteStore`], one temporary database file per case:
//! `cargo nextest run -p authkit-diesel --features sqlite --test conformance_sqlite`.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The sqlx backend's test plumbing (unique case names, stale sweeps, cleanup), shared
// rather than copied.
#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use authkit::Stores;
use authkit_conformance::{StoreFactory, async_trait};
use authkit_diesel::SqliteStore;

/// Connections per case: enough for the concurrency cases to contend for the write lock.
const POOL_SIZE: usize = 5;

/// A fresh database file per [`StoreFactory::stores`] call, deleted with the factory.
#[derive(Default)]
struct SqliteFactory {
    files: Mutex<Vec<PathBuf>>,
}

impl SqliteFactory {
    fn fresh_file(&self) -> PathBuf {
        let name = format!("{}.db", common::case_name("authkit_diesel_"));
        let path = std::env::temp_dir().join(name);
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.clone());
        path
    }
}

/// A store on a pool of its own over the database file `path` (created and migrated).
async fn open(path: &Path) -> Stores {
    let pool =
        SqliteStore::build_pool(&path.display().to_string(), POOL_SIZE).expect("build the pool");
    let store = SqliteStore::new(pool)
        .await
        .unwrap_or_else(|err| panic!("open and migrate {}: {err}", path.display()));
    Stores::from_backend(store)
}

#[async_trait]
impl StoreFactory for SqliteFactory {
    async fn stores(&self) -> Stores {
        open(&self.fresh_file()).await
    }

    async fn two_handles(&self) -> (Stores, Stores) {
        let path = self.fresh_file();
        let first = open(&path).await;
        (first, open(&path).await)
    }
}

impl Drop for SqliteFactory {
    fn drop(&mut self) {
        for path in self
            .files
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

authkit_conformance::conformance_suite!(SqliteFactory::default());
