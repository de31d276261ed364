//! Shared by this crate's database tests: temporary SQLite files, and (in `server`) a
//! scratch PostgreSQL schema or MySQL database per case with SeaORM connections onto
//! it. Unique names and the cleanup guard come from authkit-sqlx's test plumbing,
//! mounted here rather than copied.

// Each target uses part of this module.
#![allow(dead_code)]

#[path = "../../../authkit-sqlx/tests/common/mod.rs"]
mod sqlx_common;

#[cfg(all(feature = "postgres", feature = "mysql"))]
pub(crate) mod server;

use std::path::PathBuf;
use std::sync::Mutex;

pub(crate) use sqlx_common::case_name;

/// Temporary SQLite database files, deleted (with their WAL and shared-memory files)
/// when this is dropped.
#[derive(Default)]
pub(crate) struct TempFiles {
    files: Mutex<Vec<PathBuf>>,
}

impl TempFiles {
    /// A fresh file name in the system's temporary directory, remembered for the cleanup.
    pub(crate) fn fresh(&self) -> PathBuf {
        let path = std::env::temp_dir().join(format!("{}.db", case_name("authkit_sea_")));
        self.files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(path.clone());
        path
    }
}

impl Drop for TempFiles {
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
