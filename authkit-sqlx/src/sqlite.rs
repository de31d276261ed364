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
use authkit_schema::{Catalogue, Dialect, LiveColumn, LiveForeignKey, LiveIndex, TableNames};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteRow};

use crate::options::StoreOptions;
use crate::sql::Statements;

type Db = sqlx::Sqlite;
type DbRow = SqliteRow;
type Pool = SqlitePool;
type Store = SqliteStore;
const DIALECT: Dialect = Dialect::Sqlite;
const STORE_NAME: &str = "SqliteStore";

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
    /// Sessions last seen with no slide due (PostgreSQL picks its statement by them).
    hints: Arc<authkit::SlideHints>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `url` (`sqlite://path/to/file.db`)
    /// with WAL, a 5 s busy timeout and foreign keys on, a pool of up to 5 connections
    /// otherwise as [`SqliteStore::pool_options`], runs the migrations and verifies the
    /// schema, on the default table names.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = Self::connect_options(url)?;
        let pool = Self::pool_options()
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

/// The catalogue of authkit's tables: declared columns, indexes (the primary key's and
/// the unique constraints' automatic ones included) and foreign keys, table by table.
async fn catalogue(pool: &SqlitePool, tables: &TableNames) -> Result<Catalogue, StoreError> {
    let mut live = Catalogue::default();
    for table in authkit_schema::Table::ALL {
        let name = tables.get(table);
        let columns: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT name, type, \"notnull\" FROM pragma_table_info(?)")
                .bind(name)
                .fetch_all(pool)
                .await
                .map_err(StoreError::backend)?;
        live.columns.extend(
            columns
                .into_iter()
                .map(|(column, data_type, not_null)| LiveColumn {
                    table: name.to_owned(),
                    column,
                    data_type,
                    column_type: String::new(),
                    nullable: not_null == 0,
                }),
        );

        // One row per key part; `ii.name` is NULL for an expression (`lower(email)`),
        // whose text is then read from the index's own `CREATE INDEX`.
        let key_parts: Vec<(String, i64, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT il.name, il.\"unique\", ii.name, m.sql \
             FROM pragma_index_list(?1) AS il \
             JOIN pragma_index_info(il.name) AS ii \
             LEFT JOIN sqlite_master AS m ON m.type = 'index' AND m.name = il.name \
             WHERE il.partial = 0 \
             ORDER BY il.name, ii.seqno",
        )
        .bind(name)
        .fetch_all(pool)
        .await
        .map_err(StoreError::backend)?;
        for (index, unique, column, sql) in key_parts {
            let same = matches!(live.indexes.last(), Some(last) if last.table == name && last.name == index);
            if !same {
                live.indexes.push(LiveIndex {
                    table: name.to_owned(),
                    name: index,
                    unique: unique != 0,
                    keys: Vec::new(),
                });
            }
            let Some(last) = live.indexes.last_mut() else {
                continue;
            };
            let part = last.keys.len();
            let key = column.unwrap_or_else(|| {
                sql.as_deref()
                    .map(index_keys)
                    .and_then(|keys| keys.into_iter().nth(part))
                    .unwrap_or_default()
            });
            last.keys.push(key);
        }

        let fk_parts: Vec<(i64, String, String, Option<String>, String)> = sqlx::query_as(
            "SELECT id, \"table\", \"from\", \"to\", on_delete \
             FROM pragma_foreign_key_list(?) ORDER BY id, seq",
        )
        .bind(name)
        .fetch_all(pool)
        .await
        .map_err(StoreError::backend)?;
        let mut last_id = None;
        for (id, referenced_table, column, referenced_column, rule) in fk_parts {
            // `to` is NULL when the key names the parent's primary key implicitly.
            let referenced_column = referenced_column.unwrap_or_else(|| "id".to_owned());
            match live.foreign_keys.last_mut() {
                Some(fk) if last_id == Some(id) && fk.table == name => {
                    fk.columns.push(column);
                    fk.referenced_columns.push(referenced_column);
                }
                _ => live.foreign_keys.push(LiveForeignKey {
                    table: name.to_owned(),
                    columns: vec![column],
                    referenced_table,
                    referenced_columns: vec![referenced_column],
                    on_delete: rule,
                }),
            }
            last_id = Some(id);
        }
    }
    Ok(live)
}

/// The key parts of a `CREATE INDEX … ON t (a, lower(b)) …` statement: the text
/// between the parentheses after the table, split at its top-level commas.
fn index_keys(sql: &str) -> Vec<String> {
    let Some(open) = sql.find('(') else {
        return Vec::new();
    };
    let mut keys = Vec::new();
    let mut depth = 0;
    let mut start = open + 1;
    for (i, c) in sql[open..].char_indices().map(|(i, c)| (open + i, c)) {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    keys.push(sql[start..i].trim().to_owned());
                    break;
                }
            }
            ',' if depth == 1 => {
                keys.push(sql[start..i].trim().to_owned());
                start = i + 1;
            }
            _ => {}
        }
    }
    keys
}

/// What `LAST_INSERT_ID(expr)` left in a statement's result: MySQL's alone (SQLite
/// returns values with `RETURNING`; its last rowid is another thing).
fn last_insert_id(_done: &sqlx::sqlite::SqliteQueryResult) -> Option<u64> {
    None
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

/// Nothing to prepare: the tables live in the database file.
async fn before_migrate(_pool: &SqlitePool, _tables: &TableNames) -> Result<(), StoreError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn index_keys_of_a_create_index() {
        assert_eq!(
            super::index_keys(
                "CREATE UNIQUE INDEX \"u\" ON \"authkit_users\" (lower(email), a) WHERE x"
            ),
            ["lower(email)", "a"]
        );
        assert!(super::index_keys("nonsense").is_empty());
    }
}
