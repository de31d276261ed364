#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The entity and store files are mounted once per database on purpose, each time over
// that database's timestamp type: one body of code, every line
// visible to rustfmt, clippy and editors.
#![allow(clippy::duplicate_mod)]

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!(
    "authkit-seaorm needs at least one database: enable the `postgres`, `sqlite` or `mysql` feature"
);

#[cfg(feature = "_any")]
pub mod entity;
#[cfg(feature = "_any")]
mod error;
#[cfg(feature = "_any")]
#[cfg(feature = "_any")]
mod migrate;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "_any")]
mod sql;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "_any")]
pub use migrate::{AuthkitMigration, HISTORY_TABLE, Migrator, migrations};
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use mysql::MySqlStore;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use pg::PgStore;
/// The SeaORM this crate is built on, so connections and entities match its version.
pub use sea_orm;
/// The migration crate of that SeaORM, for [`Migrator`] and [`migrations()`].
pub use sea_orm_migration;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::SqliteStore;

/// A timestamp as SQLite keeps it: Unix microseconds (the [`entity::sqlite`] columns).
/// Saturates outside ±292,000 years, which no `OffsetDateTime` reaches.
pub fn micros(ts: authkit::Timestamp) -> i64 {
    i64::try_from(ts.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// A timestamp from SQLite's Unix microseconds.
///
/// # Errors
///
/// When the value is outside the range of [`time::OffsetDateTime`].
pub fn from_micros(micros: i64) -> Result<authkit::Timestamp, time::error::ComponentRange> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
}
