//! MySQL and MariaDB: [`MySqlStore`].
//!
//! Types: `BINARY(16)` ids, `BINARY(32)` hashes (unique), `DATETIME(6)` times holding
//! UTC, `BIGINT` counters, `VARCHAR`/`TEXT` with the `utf8mb4_bin` collation (so
//! comparisons are exact, as on the other databases); scopes, IP allow-lists and
//! metadata are JSON text. Emails are unique on a stored generated column
//! `email_lower = LOWER(email)` (MariaDB has no index on an expression).

use std::sync::Arc;

use authkit::StoreError;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions, MySqlRow};

use crate::common::{LiveColumn, entry_impl};
use crate::names::TableNames;
use crate::options::StoreOptions;
use crate::sql::{Dialect, Statements};
use crate::store::store_impl;

type Db = sqlx::MySql;
type DbRow = MySqlRow;
const DIALECT: Dialect = Dialect::MySql;

/// Timestamps as `DATETIME(6)` holding UTC: bound and read as a `PrimitiveDateTime`.
mod conv {
    use authkit::{StoreError, Timestamp};
    use std::fmt::Display;

    use sqlx::mysql::MySqlRow;
    use sqlx::{ColumnIndex, Row};
    use time::{PrimitiveDateTime, UtcOffset};

    pub(super) fn ts(t: Timestamp) -> PrimitiveDateTime {
        let utc = t.to_offset(UtcOffset::UTC);
        PrimitiveDateTime::new(utc.date(), utc.time())
    }

    pub(super) fn get_ts<I: ColumnIndex<MySqlRow> + Display + Copy>(
        row: &MySqlRow,
        col: I,
    ) -> Result<Timestamp, StoreError> {
        let t: PrimitiveDateTime = row.try_get(col).map_err(StoreError::backend)?;
        Ok(t.assume_utc())
    }

    pub(super) fn get_ts_opt<I: ColumnIndex<MySqlRow> + Display + Copy>(
        row: &MySqlRow,
        col: I,
    ) -> Result<Option<Timestamp>, StoreError> {
        let t: Option<PrimitiveDateTime> = row.try_get(col).map_err(StoreError::backend)?;
        Ok(t.map(PrimitiveDateTime::assume_utc))
    }
}

/// Every authkit store trait on MySQL 8 or MariaDB 10.6+.
///
/// Cheap to clone (the pool and the rendered statements are shared). Several
/// application instances may share one database: every atomic step is a single
/// statement or a transaction with row locks (`SELECT … FOR UPDATE`). See the
/// [crate docs](crate) for start-up.
#[derive(Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
    sql: Arc<Statements>,
}

impl MySqlStore {
    /// Connects with a pool of up to 10 connections, runs the migrations and verifies
    /// the schema, on the default table names. For anything else, build the pool
    /// yourself and call [`MySqlStore::new`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = MySqlPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .map_err(StoreError::backend)?;
        Self::new(pool, StoreOptions::default()).await
    }
}

/// The columns of authkit's tables in the current database.
async fn live_columns(
    pool: &MySqlPool,
    tables: &TableNames,
) -> Result<Vec<LiveColumn>, StoreError> {
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), \
         CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
    )
    .fetch_all(pool)
    .await
    .map_err(StoreError::backend)?;
    let ours: Vec<&str> = crate::names::Table::ALL
        .iter()
        .map(|t| tables.get(*t))
        .collect();
    Ok(rows
        .into_iter()
        .filter(|row| ours.contains(&row.0.as_str()))
        .map(
            |(table, column, data_type, column_type, nullable)| LiveColumn {
                table,
                column,
                data_type,
                column_type,
                nullable: nullable == "YES",
            },
        )
        .collect())
}

async fn check_connection(_pool: &MySqlPool) -> Result<Vec<String>, StoreError> {
    Ok(Vec::new())
}

entry_impl!(MySqlStore, MySqlPool, "MySQL/MariaDB");
store_impl!(MySqlStore);
