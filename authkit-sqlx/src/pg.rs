//! PostgreSQL: [`PgStore`].
//!
//! Types: `uuid` ids, `bytea` hashes (unique), `timestamptz` times (microseconds, UTC),
//! `bigint` counters, `text` everywhere else; scopes, IP allow-lists and metadata are JSON
//! text. Emails are unique on `lower(email)`.

use std::sync::Arc;

use authkit::StoreError;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};

use crate::common::{LiveColumn, entry_impl};
use crate::names::TableNames;
use crate::options::StoreOptions;
use crate::sql::{Dialect, Statements};
use crate::store::store_impl;

type Db = sqlx::Postgres;
type DbRow = PgRow;
const DIALECT: Dialect = Dialect::Postgres;

/// Timestamps as `timestamptz`: sqlx binds `OffsetDateTime` with its microseconds.
mod conv {
    use authkit::{StoreError, Timestamp};
    use std::fmt::Display;

    use sqlx::postgres::PgRow;
    use sqlx::{ColumnIndex, Row};
    use time::{OffsetDateTime, UtcOffset};

    pub(super) fn ts(t: Timestamp) -> OffsetDateTime {
        t
    }

    pub(super) fn get_ts<I: ColumnIndex<PgRow> + Display + Copy>(
        row: &PgRow,
        col: I,
    ) -> Result<Timestamp, StoreError> {
        let t: OffsetDateTime = row.try_get(col).map_err(StoreError::backend)?;
        Ok(t.to_offset(UtcOffset::UTC))
    }

    pub(super) fn get_ts_opt<I: ColumnIndex<PgRow> + Display + Copy>(
        row: &PgRow,
        col: I,
    ) -> Result<Option<Timestamp>, StoreError> {
        let t: Option<OffsetDateTime> = row.try_get(col).map_err(StoreError::backend)?;
        Ok(t.map(|t| t.to_offset(UtcOffset::UTC)))
    }
}

/// Every authkit store trait on PostgreSQL (13 or later).
///
/// Cheap to clone (the pool and the rendered statements are shared). Several
/// application instances may share one database: every atomic step is a single
/// statement or a transaction with row locks. See the [crate docs](crate) for start-up.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    sql: Arc<Statements>,
}

impl PgStore {
    /// Connects with a pool of up to 10 connections, runs the migrations and verifies
    /// the schema, on the default table names. For anything else, build the pool
    /// yourself and call [`PgStore::new`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .map_err(StoreError::backend)?;
        Self::new(pool, StoreOptions::default()).await
    }
}

/// The columns of authkit's tables in the current schema (the first of `search_path`).
async fn live_columns(pool: &PgPool, tables: &TableNames) -> Result<Vec<LiveColumn>, StoreError> {
    let names: Vec<String> = crate::names::Table::ALL
        .iter()
        .map(|t| tables.get(*t).to_owned())
        .collect();
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = ANY($1)",
    )
    .bind(names)
    .fetch_all(pool)
    .await
    .map_err(StoreError::backend)?;
    Ok(rows
        .into_iter()
        .map(|(table, column, data_type, nullable)| LiveColumn {
            table,
            column,
            data_type,
            column_type: String::new(),
            nullable: nullable == "YES",
        })
        .collect())
}

async fn check_connection(_pool: &PgPool) -> Result<Vec<String>, StoreError> {
    Ok(Vec::new())
}

entry_impl!(PgStore, PgPool, "PostgreSQL");
store_impl!(PgStore);
