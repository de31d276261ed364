//! SeaORM entities for every authkit table, with the relations between them, so an
//! application can join its own entities to authkit's users (see the crate README).
//!
//! The tables keep authkit's default names (`authkit_users`, …): entity table names are
//! fixed at compile time. The columns are those of the frozen schema in
//! [`authkit_schema`]; the same entity files are compiled once per database, because each keeps
//! timestamps in its own way:
//!
//! - [`postgres`]: timestamps as [`time::OffsetDateTime`] (UTC);
//! - [`mysql`]: MySQL/MariaDB, timestamps as [`time::PrimitiveDateTime`] holding UTC;
//! - [`sqlite`]: SQLite, timestamps as `i64` Unix microseconds
//!   ([`micros`](crate::micros) and [`from_micros`](crate::from_micros) convert).
//!
//! Ids are [`uuid::Uuid`] everywhere (`uuid` on PostgreSQL, 16 bytes elsewhere), token
//! and key hashes 32-byte `Vec<u8>`s, and scopes, IP allow-lists and metadata JSON text.
//!
//! Write through the store, not through the entities: the store keeps the rules (a hash
//! is never a secret, a rotation is one atomic step). Read, join and relate freely.

#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub mod mysql;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;
