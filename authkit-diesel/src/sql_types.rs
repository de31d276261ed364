//! The SQL types of authkit's columns that differ between databases, and the Rust values
//! that travel through them.
//!
//! | SQL type | PostgreSQL | MySQL/MariaDB | SQLite | Rust value |
//! |---|---|---|---|---|
//! | [`Id`] | `uuid` | `BINARY(16)` | `BLOB` (16 bytes) | [`DbId`] |
//! | [`Ts`] | `timestamptz` | `DATETIME(6)` (UTC) | `INTEGER` (Unix microseconds) | [`DbTs`] |
//!
//! Everything else uses Diesel's own types (`Text`, `Binary`, `BigInt`). An application
//! table that refers to authkit's users declares its column as `Id`, so that
//! `joinable!` and comparisons type-check:
//!
//! ```
//! diesel::table! {
//!     posts (id) {
//!         id -> BigInt,
//!         author_id -> authkit_diesel::sql_types::Id,
//!         title -> Text,
//!     }
//! }
//! ```

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::SqlType;
use time::OffsetDateTime;
use uuid::Uuid;

/// An authkit id (a UUIDv7): `uuid` on PostgreSQL, 16 bytes elsewhere.
#[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(mysql_type(name = "Blob"))]
#[diesel(sqlite_type(name = "Binary"))]
pub struct Id;

/// A UTC timestamp with microseconds: `timestamptz` on PostgreSQL, `DATETIME(6)` holding
/// UTC on MySQL, Unix microseconds in an `INTEGER` on SQLite.
#[derive(Debug, Clone, Copy, Default, SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(mysql_type(name = "DateTime"))]
#[diesel(sqlite_type(name = "Long"))]
pub struct Ts;

/// A value of an [`Id`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = Id)]
pub struct DbId(pub Uuid);

/// A value of a [`Ts`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, AsExpression, FromSqlRow)]
#[diesel(sql_type = Ts)]
pub struct DbTs(pub OffsetDateTime);

impl From<Uuid> for DbId {
    fn from(id: Uuid) -> Self {
        DbId(id)
    }
}

impl From<OffsetDateTime> for DbTs {
    fn from(t: OffsetDateTime) -> Self {
        DbTs(t)
    }
}

/// 16 bytes as a UUID; any other length is a corrupt row.
#[cfg(any(feature = "mysql", feature = "sqlite"))]
fn uuid_from(bytes: &[u8]) -> deserialize::Result<DbId> {
    Ok(DbId(Uuid::from_slice(bytes)?))
}

/// Microseconds since the Unix epoch (in range for every `OffsetDateTime`).
#[cfg(feature = "sqlite")]
fn micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use diesel::pg::{Pg, PgValue};
    use diesel::sql_types::{Timestamptz, Uuid as PgUuid};

    impl ToSql<Id, Pg> for DbId {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
            <Uuid as ToSql<PgUuid, Pg>>::to_sql(&self.0, out)
        }
    }

    impl FromSql<Id, Pg> for DbId {
        fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
            <Uuid as FromSql<PgUuid, Pg>>::from_sql(value).map(DbId)
        }
    }

    impl ToSql<Ts, Pg> for DbTs {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
            <OffsetDateTime as ToSql<Timestamptz, Pg>>::to_sql(&self.0, out)
        }
    }

    impl FromSql<Ts, Pg> for DbTs {
        fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
            <OffsetDateTime as FromSql<Timestamptz, Pg>>::from_sql(value).map(DbTs)
        }
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;
    use diesel::mysql::{Mysql, MysqlValue};
    use diesel::serialize::IsNull;
    use diesel::sql_types::Datetime;
    use std::io::Write as _;

    impl ToSql<Id, Mysql> for DbId {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> serialize::Result {
            out.write_all(self.0.as_bytes())?;
            Ok(IsNull::No)
        }
    }

    impl FromSql<Id, Mysql> for DbId {
        fn from_sql(value: MysqlValue<'_>) -> deserialize::Result<Self> {
            uuid_from(value.as_bytes())
        }
    }

    impl ToSql<Ts, Mysql> for DbTs {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Mysql>) -> serialize::Result {
            <OffsetDateTime as ToSql<Datetime, Mysql>>::to_sql(&self.0, out)
        }
    }

    impl FromSql<Ts, Mysql> for DbTs {
        fn from_sql(value: MysqlValue<'_>) -> deserialize::Result<Self> {
            <OffsetDateTime as FromSql<Datetime, Mysql>>::from_sql(value).map(DbTs)
        }
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use diesel::serialize::IsNull;
    use diesel::sql_types::{BigInt, Binary};
    use diesel::sqlite::{Sqlite, SqliteValue};

    impl ToSql<Id, Sqlite> for DbId {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
            out.set_value(self.0.as_bytes().as_slice());
            Ok(IsNull::No)
        }
    }

    impl FromSql<Id, Sqlite> for DbId {
        fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
            let bytes = <Vec<u8> as FromSql<Binary, Sqlite>>::from_sql(value)?;
            uuid_from(&bytes)
        }
    }

    impl ToSql<Ts, Sqlite> for DbTs {
        fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
            out.set_value(micros(self.0));
            Ok(IsNull::No)
        }
    }

    impl FromSql<Ts, Sqlite> for DbTs {
        fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
            let micros = <i64 as FromSql<BigInt, Sqlite>>::from_sql(value)?;
            let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)?;
            Ok(DbTs(t))
        }
    }
}
