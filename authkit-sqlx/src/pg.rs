//! PostgreSQL: [`PgStore`].
//!
//! Types: `uuid` ids, `bytea` hashes (unique), `timestamptz` times (microseconds, UTC),
//! `bigint` counters, `text` everywhere else; scopes, IP allow-lists and metadata are JSON
//! text. Emails are unique on `lower(email)`. With a namespace
//! ([`StoreOptions::namespace`]) every table is named qualified.

use std::sync::Arc;

use authkit::StoreError;
use authkit_schema::{Catalogue, Dialect, LiveColumn, LiveForeignKey, LiveIndex, TableNames};
use sqlx::postgres::{PgPool, PgRow};

use crate::options::StoreOptions;
use crate::sql::Statements;

type Db = sqlx::Postgres;
type DbRow = PgRow;
type Pool = PgPool;
type Store = PgStore;
const DIALECT: Dialect = Dialect::Postgres;
const STORE_NAME: &str = "PgStore";

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
    /// Sessions last seen with no slide due (PostgreSQL picks its statement by them).
    hints: Arc<authkit::SlideHints>,
}

impl PgStore {
    /// Connects with a pool built from [`PgStore::pool_options`], runs the migrations
    /// and verifies the schema, on the default table names. For anything else, build the
    /// pool yourself and call [`PgStore::new`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = Self::pool_options()
            .connect(url)
            .await
            .map_err(StoreError::backend)?;
        Self::new(pool, StoreOptions::default()).await
    }
}

/// The names of authkit's tables, as the catalogue queries bind them.
fn table_names(tables: &TableNames) -> Vec<String> {
    authkit_schema::Table::ALL
        .iter()
        .map(|t| tables.get(*t).to_owned())
        .collect()
}

/// The catalogue of authkit's tables in the namespace, or without one in the current
/// schema (the first of `search_path` that exists).
async fn catalogue(pool: &PgPool, tables: &TableNames) -> Result<Catalogue, StoreError> {
    let namespace = tables.namespace();
    let names = table_names(tables);

    let columns: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text, is_nullable::text \
         FROM information_schema.columns \
         WHERE table_schema = COALESCE($1, current_schema()) AND table_name = ANY($2)",
    )
    .bind(namespace)
    .bind(&names)
    .fetch_all(pool)
    .await
    .map_err(StoreError::backend)?;

    // Each key part as PostgreSQL prints it (`user_id`, `lower(email)`); included
    // (non-key) columns and partial indexes' predicates are left out.
    let indexes: Vec<(String, String, bool, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, i.relname::text, x.indisunique, \
         ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) \
               FROM generate_series(1, x.indnkeyatts::int) AS k ORDER BY k) \
         FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = COALESCE($1, current_schema()) AND t.relname = ANY($2) \
         AND x.indpred IS NULL",
    )
    .bind(namespace)
    .bind(&names)
    .fetch_all(pool)
    .await
    .map_err(StoreError::backend)?;

    // (table, columns, referenced table, referenced columns, confdeltype)
    type FkRow = (String, Vec<String>, String, Vec<String>, String);
    let foreign_keys: Vec<FkRow> = sqlx::query_as(
        "SELECT t.relname::text, \
         ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(num, pos) \
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num \
               ORDER BY k.pos), \
         r.relname::text, \
         ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(num, pos) \
               JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num \
               ORDER BY k.pos), \
         c.confdeltype::text \
         FROM pg_constraint c \
         JOIN pg_class t ON t.oid = c.conrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         JOIN pg_class r ON r.oid = c.confrelid \
         WHERE c.contype = 'f' AND n.nspname = COALESCE($1, current_schema()) \
         AND t.relname = ANY($2)",
    )
    .bind(namespace)
    .bind(&names)
    .fetch_all(pool)
    .await
    .map_err(StoreError::backend)?;

    Ok(Catalogue {
        columns: columns
            .into_iter()
            .map(|(table, column, data_type, nullable)| LiveColumn {
                table,
                column,
                data_type,
                column_type: String::new(),
                nullable: nullable == "YES",
            })
            .collect(),
        indexes: indexes
            .into_iter()
            .map(|(table, name, unique, keys)| LiveIndex {
                table,
                name,
                unique,
                keys,
            })
            .collect(),
        foreign_keys: foreign_keys
            .into_iter()
            .map(
                |(table, columns, referenced_table, referenced_columns, rule)| LiveForeignKey {
                    table,
                    columns,
                    referenced_table,
                    referenced_columns,
                    on_delete: delete_rule(&rule).to_owned(),
                },
            )
            .collect(),
    })
}

/// `pg_constraint.confdeltype` as SQL spells the rule.
fn delete_rule(code: &str) -> &str {
    match code {
        "a" => "NO ACTION",
        "r" => "RESTRICT",
        "c" => "CASCADE",
        "n" => "SET NULL",
        "d" => "SET DEFAULT",
        other => other,
    }
}

/// What `LAST_INSERT_ID(expr)` left in a statement's result: MySQL's alone (PostgreSQL
/// returns values with `RETURNING`).
fn last_insert_id(_done: &sqlx::postgres::PgQueryResult) -> Option<u64> {
    None
}

/// Nothing per connection matters on PostgreSQL.
async fn check_connection(_pool: &PgPool) -> Result<Vec<String>, StoreError> {
    Ok(Vec::new())
}

/// Creates the namespace if it is missing: sqlx's migrator creates its tracking table
/// in it before the first migration runs. Only when missing, so that a role without
/// `CREATE` on the database can use a schema made for it.
async fn before_migrate(pool: &PgPool, tables: &TableNames) -> Result<(), StoreError> {
    let Some(namespace) = tables.namespace() else {
        return Ok(());
    };
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(namespace)
            .fetch_one(pool)
            .await
            .map_err(StoreError::backend)?;
    if !exists {
        let create = format!("CREATE SCHEMA IF NOT EXISTS {}", DIALECT.quote(namespace));
        sqlx::query(sqlx::AssertSqlSafe(create))
            .execute(pool)
            .await
            .map_err(StoreError::backend)?;
    }
    Ok(())
}

/// A usage batch in one statement, whatever its size: the entries as five arrays
/// (`UNNEST`), the keys' rows locked first in id order by a `FOR UPDATE` CTE, and then
/// updated. The order matters: two batches sharing keys otherwise lock them in
/// whatever order the join visits them and can deadlock (seen in the conformance race
/// of concurrent batches). PostgreSQL reads the row's old values in every assignment,
/// and re-reads a row a concurrent batch changed before updating it, so counts add up.
fn usage_statements(store: &PgStore, merged: &[authkit::KeyUsage]) -> Vec<shared::Query> {
    static SQL: crate::sql::Stmt = crate::sql::Stmt::new(
        "WITH u AS (SELECT * FROM \
         UNNEST(?::uuid[], ?::bigint[], ?::timestamptz[], ?::text[], ?::text[]) \
         AS u(id, uses, at, ip, ua)), \
         locked AS (SELECT k.id FROM {api_keys} AS k JOIN u ON k.id = u.id \
         ORDER BY k.id FOR UPDATE OF k) \
         UPDATE {api_keys} AS k SET usage_count = k.usage_count + u.uses, \
         last_used_ip = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < u.at \
         THEN u.ip ELSE k.last_used_ip END, \
         last_used_user_agent = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < u.at \
         THEN u.ua ELSE k.last_used_user_agent END, \
         last_used_at = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < u.at \
         THEN u.at ELSE k.last_used_at END \
         FROM u JOIN locked ON locked.id = u.id WHERE k.id = u.id",
    );
    if merged.is_empty() {
        return Vec::new();
    }
    let ids: Vec<uuid::Uuid> = merged.iter().map(|u| u.key_id.0).collect();
    let uses: Vec<i64> = merged.iter().map(|u| shared::count(u.uses)).collect();
    let at: Vec<time::OffsetDateTime> = merged.iter().map(|u| u.last_used_at).collect();
    let ips: Vec<Option<String>> = merged
        .iter()
        .map(|u| u.last_used_ip.map(|ip| ip.to_string()))
        .collect();
    let agents: Vec<Option<String>> = merged
        .iter()
        .map(|u| u.last_used_user_agent.clone())
        .collect();
    vec![
        store
            .query(&SQL)
            .bind(ids)
            .bind(uses)
            .bind(at)
            .bind(ips)
            .bind(agents),
    ]
}
