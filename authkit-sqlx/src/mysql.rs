//! MySQL and MariaDB: [`MySqlStore`].
//!
//! Types: `BINARY(16)` ids, `BINARY(32)` hashes (unique), `DATETIME(6)` times holding
//! UTC, `BIGINT` counters, `VARCHAR`/`TEXT` with the `utf8mb4_bin` collation (so
//! comparisons are exact, as on the other databases); scopes, IP allow-lists and
//! metadata are JSON text. Emails are unique on a stored generated column
//! `email_lower = LOWER(email)` (MariaDB has no index on an expression).

use std::sync::Arc;

use authkit::StoreError;
use authkit_schema::{Catalogue, Dialect, LiveColumn, LiveForeignKey, LiveIndex, TableNames};
use sqlx::mysql::{MySqlPool, MySqlRow};

use crate::options::StoreOptions;
use crate::sql::Statements;

type Db = sqlx::MySql;
type DbRow = MySqlRow;
type Pool = MySqlPool;
type Store = MySqlStore;
const DIALECT: Dialect = Dialect::MySql;
const STORE_NAME: &str = "MySqlStore";

// The store, written once for every database (see `store/shared.rs`).
#[path = "store/api_keys.rs"]
mod api_keys;
#[path = "store/entry.rs"]
mod entry;
#[path = "store/rbac.rs"]
mod rbac;
#[path = "store/sessions.rs"]
mod sessions;
#[path = "store/shared.rs"]
mod shared;
#[path = "store/tokens.rs"]
mod tokens;
#[path = "store/users.rs"]
mod users;

/// Usage batches: see [`api_keys::usage_chunks`].
use api_keys::usage_chunks as usage_statements;

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
    /// Sessions last seen with no slide due (PostgreSQL picks its statement by them).
    hints: Arc<authkit::SlideHints>,
}

impl MySqlStore {
    /// Connects with a pool built from [`MySqlStore::pool_options`], runs the
    /// migrations and verifies the schema, on the default table names. For anything
    /// else, build the pool yourself and call [`MySqlStore::new`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = Self::pool_options()
            .connect(url)
            .await
            .map_err(StoreError::backend)?;
        Self::new(pool, StoreOptions::default()).await
    }
}

/// Whether a catalogue row is about one of authkit's tables.
fn ours(tables: &TableNames) -> impl Fn(&str) -> bool + '_ {
    move |table| {
        authkit_schema::Table::ALL
            .iter()
            .any(|t| tables.get(*t) == table)
    }
}

/// The catalogue of authkit's tables in the connection's current database.
async fn catalogue(pool: &MySqlPool, tables: &TableNames) -> Result<Catalogue, StoreError> {
    let ours = ours(tables);

    let columns: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(DATA_TYPE AS CHAR), \
         CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR) \
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
    )
    .fetch_all(pool)
    .await
    .map_err(StoreError::backend)?;

    // One row per key part. COLUMN_NAME is NULL for a MySQL 8 functional key part
    // (MariaDB has none): the key is then empty, and matches nothing the model wants.
    let key_parts: Vec<(String, String, i64, Option<String>)> = sqlx::query_as(
        "SELECT CAST(TABLE_NAME AS CHAR), CAST(INDEX_NAME AS CHAR), \
         CAST(NON_UNIQUE AS SIGNED), CAST(COLUMN_NAME AS CHAR) \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
         ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    )
    .fetch_all(pool)
    .await
    .map_err(StoreError::backend)?;

    let fk_parts: Vec<(String, String, String, String, String, String)> = sqlx::query_as(
        "SELECT CAST(k.TABLE_NAME AS CHAR), CAST(k.CONSTRAINT_NAME AS CHAR), \
         CAST(k.COLUMN_NAME AS CHAR), CAST(k.REFERENCED_TABLE_NAME AS CHAR), \
         CAST(k.REFERENCED_COLUMN_NAME AS CHAR), CAST(r.DELETE_RULE AS CHAR) \
         FROM information_schema.KEY_COLUMN_USAGE k \
         JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
         ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA \
         AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
         WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
         ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
    )
    .fetch_all(pool)
    .await
    .map_err(StoreError::backend)?;

    let columns = columns
        .into_iter()
        .filter(|row| ours(&row.0))
        .map(
            |(table, column, data_type, column_type, nullable)| LiveColumn {
                table,
                column,
                data_type,
                column_type,
                nullable: nullable == "YES",
            },
        )
        .collect();
    let mut live = Catalogue {
        columns,
        ..Catalogue::default()
    };
    for (table, name, non_unique, column) in key_parts {
        if !ours(&table) {
            continue;
        }
        match live.indexes.last_mut() {
            Some(index) if index.table == table && index.name == name => {
                index.keys.push(column.unwrap_or_default());
            }
            _ => live.indexes.push(LiveIndex {
                table,
                name,
                unique: non_unique == 0,
                keys: vec![column.unwrap_or_default()],
            }),
        }
    }
    let mut last_constraint = String::new();
    for (table, constraint, column, referenced_table, referenced_column, rule) in fk_parts {
        if !ours(&table) {
            continue;
        }
        match live.foreign_keys.last_mut() {
            Some(fk) if fk.table == table && last_constraint == constraint => {
                fk.columns.push(column);
                fk.referenced_columns.push(referenced_column);
            }
            _ => live.foreign_keys.push(LiveForeignKey {
                table,
                columns: vec![column],
                referenced_table,
                referenced_columns: vec![referenced_column],
                on_delete: rule,
            }),
        }
        last_constraint = constraint;
    }
    Ok(live)
}

/// What `LAST_INSERT_ID(expr)` left in a statement's result: the OK packet's
/// last-insert-id, which an `UPDATE … SET c = LAST_INSERT_ID(expr)` sets to `expr` (the
/// way to return a value from an `UPDATE` on MariaDB, which has no `RETURNING` there).
fn last_insert_id(done: &sqlx::mysql::MySqlQueryResult) -> Option<u64> {
    Some(done.last_insert_id())
}

/// Nothing per connection matters on MySQL.
async fn check_connection(_pool: &MySqlPool) -> Result<Vec<String>, StoreError> {
    Ok(Vec::new())
}

/// Nothing to prepare: the tables live in the connection's database.
async fn before_migrate(_pool: &MySqlPool, _tables: &TableNames) -> Result<(), StoreError> {
    Ok(())
}
