#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The store files in `src/store/` are mounted once per database on purpose, each time
// over that database's types (see `pg.rs`): one body of code, every line visible to
// rustfmt, clippy and editors.
#![allow(clippy::duplicate_mod)]

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!(
    "authkit-sqlx needs at least one database: enable the `postgres`, `sqlite` or `mysql` feature"
);

// The store itself is written once, as plain files in `src/store/` (one per trait, plus
// the shared helpers and the constructors), and mounted in each database's module with
// `#[path]`: see `pg.rs`, `mysql.rs`, `sqlite.rs`.

#[cfg(feature = "_any")]
mod error;
#[cfg(feature = "_any")]
#[cfg(feature = "_any")]
mod migrate;
#[cfg(feature = "_any")]
mod options;
#[cfg(feature = "_any")]
mod sql;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

/// The schema crate this store follows: the logical model, the migration files, the
/// verifier and its [`Problem`](authkit_schema::Problem)s.
#[cfg(feature = "_any")]
pub use authkit_schema as schema;
#[cfg(feature = "_any")]
pub use authkit_schema::{InvalidTableName, MAX_TABLE_NAME, Table, TableNames};
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use mysql::MySqlStore;
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
