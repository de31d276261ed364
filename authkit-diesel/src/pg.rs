//! PostgreSQL: [`PgStore`], on diesel-async's `AsyncPgConnection`.
//!
//! Types: `uuid` ids, `bytea` hashes (unique), `timestamptz` times (microseconds, UTC),
//! `bigint` counters, `text` everywhere else. Emails are unique on `lower(email)`.
//! Read-then-write steps lock their row with `SELECT … FOR UPDATE`.

use authkit_schema::Dialect;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};

type Conn = AsyncPgConnection;
type Store = PgStore;
const DIALECT: Dialect = Dialect::Postgres;
/// The pool size of `connect`.
const DEFAULT_POOL_SIZE: usize = 10;
const STORE_NAME: &str = "PgStore";

/// Row locks: `SELECT … FOR UPDATE`.
macro_rules! lock {
    ($query:expr) => {
        $query.for_update()
    };
}

/// A transaction at the database's default isolation (READ COMMITTED).
macro_rules! write_tx {
    ($conn:expr, $body:expr) => {
        diesel_async::AsyncConnection::transaction($conn, $body)
    };
}

/// A usage batch in one statement, alone (`pg_usage` below): a single statement is
/// atomic on its own.
macro_rules! write_usage {
    ($store:expr, $merged:expr) => {
        $store
            .step(
                authkit::Entity::ApiKey,
                authkit::Entity::ApiKey,
                async |conn| super::pg_usage(conn, $merged).await,
            )
            .await
    };
}

/// Instances starting at once migrate one after the other: a transaction-scoped
/// advisory lock (the key is arbitrary, fixed for authkit).
macro_rules! migration_lock {
    ($conn:expr) => {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7357823451)")
            .execute($conn)
            .await?;
    };
}

/// The unique index is on `lower(email)`.
macro_rules! email_matches {
    ($email:expr) => {
        crate::lower(crate::schema::authkit_users::email).eq(crate::lower($email))
    };
}

/// The rate window's length subtracted from a time in SQL (seconds as an interval),
/// for `window_over!` in `store/count_returning.rs`.
const WINDOW_SPAN: &str = " - make_interval(secs => rate_window_seconds)";

// The store, written once for every database (see `store/shared.rs`).
mount_store!();
#[path = "store/count_returning.rs"]
mod count_returning;

/// The pool type [`PgStore`] runs on (deadpool, through diesel-async).
pub type PgPool = shared::Pool;

/// Every authkit store trait on PostgreSQL (13 or later).
///
/// Cheap to clone (the pool is shared). Several application instances may share one
/// database: every atomic step is a single statement or a transaction with row locks.
/// URLs are `postgres://user@host/db`; add `?options=-c%20search_path%3Dauth` to keep
/// authkit's tables in the schema `auth`.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The sessions last seen, to predict a due slide (see [`authkit::SlideHints`]).
    hints: Option<std::sync::Arc<authkit::SlideHints>>,
}

/// Connections to `url`, with no setup of their own, recycled without a check query
/// (`RecyclingMethod::Fast`; diesel-async's default runs a `SELECT 1` per checkout).
fn manager(url: &str) -> AsyncDieselConnectionManager<Conn> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    AsyncDieselConnectionManager::new_with_config(url, config)
}

/// A usage batch in one statement, whatever its size (authkit-sqlx's): the entries as
/// five arrays (`UNNEST`), the keys' rows locked first in id order by a `FOR UPDATE`
/// CTE (so two batches sharing keys cannot deadlock), then updated, adding each count
/// and moving `last_used_at` (with its IP and user agent) only forward. Run again after
/// a deadlock all the same, as every single statement here. Raw SQL: Diesel's DSL has
/// no `UPDATE … FROM UNNEST(…)`.
async fn pg_usage(
    conn: &mut Conn,
    merged: &[authkit::KeyUsage],
) -> Result<(), crate::error::TxError> {
    use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid};
    use diesel_async::RunQueryDsl;

    const SQL: &str = "WITH u AS (SELECT * FROM \
         UNNEST($1::uuid[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[]) \
         AS u(id, uses, at, ip, ua)), \
         locked AS (SELECT k.id FROM authkit_api_keys AS k JOIN u ON k.id = u.id \
         ORDER BY k.id FOR UPDATE OF k) \
         UPDATE authkit_api_keys AS k SET usage_count = k.usage_count + u.uses, \
         last_used_ip = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < u.at \
         THEN u.ip ELSE k.last_used_ip END, \
         last_used_user_agent = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < u.at \
         THEN u.ua ELSE k.last_used_user_agent END, \
         last_used_at = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < u.at \
         THEN u.at ELSE k.last_used_at END \
         FROM u JOIN locked ON locked.id = u.id WHERE k.id = u.id";
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
    let query = crate::conn::Cached(
        diesel::sql_query(SQL)
            .bind::<Array<Uuid>, _>(ids)
            .bind::<Array<BigInt>, _>(uses)
            .bind::<Array<Timestamptz>, _>(at)
            .bind::<Array<Nullable<Text>>, _>(ips)
            .bind::<Array<Nullable<Text>>, _>(agents),
    );
    crate::error::retrying!(query.clone().execute(conn).await)?;
    Ok(())
}
