//! SeaORM entities for every authkit table, with the relations between them, so an
//! application can join its own entities to authkit's users (see the crate README).
//!
//! The tables keep authkit's default names (`authkit_users`, …): entity table names are
//! fixed at compile time. The columns are those of the frozen schema in
//! [`authkit_schema`]; the same entity files are compiled twice, because SQLite keeps
//! timestamps as `INTEGER` Unix microseconds where PostgreSQL and MySQL have a time type:
//!
//! - [`server`]: PostgreSQL and MySQL/MariaDB, timestamps as [`time::OffsetDateTime`] (UTC);
//! - [`sqlite`]: SQLite, timestamps as `i64` Unix microseconds
//!   ([`micros`](crate::micros) and [`from_micros`](crate::from_micros) convert).
//!
//! Ids are [`uuid::Uuid`] everywhere (`uuid` on PostgreSQL, 16 bytes elsewhere), token
//! and key hashes 32-byte `Vec<u8>`s, and scopes, IP allow-lists and metadata JSON text.
//!
//! Write through the store, not through the entities: the store keeps the rules (a hash
//! is never a secret, a rotation is one atomic step). Read, join and relate freely.

#[cfg(any(feature = "postgres", feature = "mysql"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "postgres", feature = "mysql"))))]
pub mod server;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;
