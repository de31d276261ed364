#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!(
    "authkit-sqlx needs at least one database: enable the `postgres`, `sqlite` or `mysql` feature"
);

#[cfg(feature = "_any")]
mod common;
#[cfg(feature = "_any")]
mod error;
#[cfg(feature = "_any")]
mod names;
#[cfg(feature = "_any")]
mod options;
#[cfg(feature = "_any")]
mod sql;
#[cfg(feature = "_any")]
mod store;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use mysql::MySqlStore;
#[cfg(feature = "_any")]
pub use names::{InvalidTableName, MAX_TABLE_NAME, Table, TableNames};
#[cfg(feature = "_any")]
pub use options::StoreOptions;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use pg::PgStore;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;
/// The sqlx this crate is built on, so pools and options match its version.
#[cfg(feature = "_any")]
pub use sqlx;
