//! SQLite: [`SqliteStore`].
//!
//! Types: `BLOB` ids (16 bytes) and hashes (32 bytes, unique), `INTEGER` times as Unix
//! microseconds (exact, and they sort), `INTEGER` counters, `TEXT` everywhere else;
//! scopes, IP allow-lists and metadata are JSON text. Emails are unique on
//! `lower(email)` (SQLite's `lower` changes ASCII letters only).
//!
//! SQLite has one writer at a time: the store's connections use WAL and a busy
//! timeout, and every read-then-write step starts as `BEGIN IMMEDIATE`. Foreign keys
//! (and so the cascades from users) need `PRAGMA foreign_keys = ON` on every
//! connection: sqlx's default, which [`SqliteStore::connect`] keeps and the schema
//! verifier checks.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use authkit::StoreError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
};

use crate::common::{LiveColumn, entry_impl};
use crate::names::TableNames;
use crate::options::StoreOptions;
use crate::sql::{Dialect, Statements};
use crate::store::store_impl;

type Db = sqlx::Sqlite;
type DbRow = SqliteRow;
const DIALECT: Dialect = Dialect::Sqlite;

/// Timestamps as Unix microseconds in an `INTEGER`: exact, compact, and ordered.
mod conv {
    use authkit::{StoreError, Timestamp};
    use std::fmt::Display;

    use sqlx::sqlite::SqliteRow;
    use sqlx::{ColumnIndex, Row};
    use time::OffsetDateTime;

    use crate::error::corrupt;

    pub(super) fn ts(t: Timestamp) -> i64 {
        // In range for every OffsetDateTime (±9999 years is ±3.2e17 µs).
        i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
    }

    fn from_micros(col: impl Display, micros: i64) -> Result<Timestamp, StoreError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
            .map_err(|e| corrupt("timestamp", format!("{col}: {e}")))
    }

    pub(super) fn get_ts<I: ColumnIndex<SqliteRow> + Display + Copy>(
        row: &SqliteRow,
        col: I,
    ) -> Result<Timestamp, StoreError> {
        let micros: i64 = row.try_get(col).map_err(StoreError::backend)?;
        from_micros(col, micros)
    }

    pub(super) fn get_ts_opt<I: ColumnIndex<SqliteRow> + Display + Copy>(
        row: &SqliteRow,
        col: I,
    ) -> Result<Option<Timestamp>, StoreError> {
        let micros: Option<i64> = row.try_get(col).map_err(StoreError::backend)?;
        micros.map(|m| from_micros(col, m)).transpose()
    }
}

/// Every authkit store trait on SQLite (3.35 or later; the bundled one is newer).
///
/// Cheap to clone (the pool and the rendered statements are shared). See the
/// [crate docs](crate) for start-up.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    sql: Arc<Statements>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` (`sqlite://path/to/file.db`)
    /// with WAL, a 5 s busy timeout and foreign keys on, a pool of up to 5 connections,
    /// runs the migrations and verifies the schema, on the default table names.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = Self::connect_options(url)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(5)
            .connect_with(options)
            .await
            .map_err(StoreError::backend)?;
        Self::new(pool, StoreOptions::default()).await
    }

    /// The connection options [`SqliteStore::connect`] uses: create if missing, WAL,
    /// `synchronous = NORMAL` (durable across application crashes; the usual WAL
    /// choice), a 5 s busy timeout, foreign keys on. Start from these when you build
    /// the pool yourself.
    pub fn connect_options(url: &str) -> Result<SqliteConnectOptions, StoreError> {
        Ok(SqliteConnectOptions::from_str(url)
            .map_err(StoreError::backend)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true))
    }
}

/// The declared columns of authkit's tables.
async fn live_columns(
    pool: &SqlitePool,
    tables: &TableNames,
) -> Result<Vec<LiveColumn>, StoreError> {
    let mut live = Vec::new();
    for table in crate::names::Table::ALL {
        let name = tables.get(table);
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\" FROM pragma_table_info(?)")
                .bind(name)
                .fetch_all(pool)
                .await
                .map_err(StoreError::backend)?;
        live.extend(
            rows.into_iter()
                .map(|(column, data_type, not_null)| LiveColumn {
                    table: name.to_owned(),
                    column,
                    data_type,
                    column_type: String::new(),
                    nullable: not_null == 0,
                }),
        );
    }
    Ok(live)
}

/// Foreign keys are a per-connection setting in SQLite: without them no cascade runs.
async fn check_connection(pool: &SqlitePool) -> Result<Vec<String>, StoreError> {
    let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .map_err(StoreError::backend)?;
    Ok(if on == 1 {
        Vec::new()
    } else {
        vec![
            "connection: PRAGMA foreign_keys is off, so deleting a user cascades nowhere \
              (enable it on every connection: SqliteConnectOptions::foreign_keys(true))"
                .to_owned(),
        ]
    })
}

entry_impl!(SqliteStore, SqlitePool, "SQLite");
store_impl!(SqliteStore);
