//! PostgreSQL: [`PgStore`], on diesel-async's `AsyncPgConnection`.
//!
//! Types: `uuid` ids, `bytea` hashes (unique), `timestamptz` times (microseconds, UTC),
//! `bigint` counters, `text` everywhere else. Emails are unique on `lower(email)`.
//! Read-then-write steps lock their row with `SELECT … FOR UPDATE`.

use authkit_schema::Dialect;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;

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

/// Runs two statements of one step in one round trip: diesel-async pipelines queries
/// polled together on a shared `&AsyncPgConnection` (the server still runs them in
/// order, inside the step's transaction).
macro_rules! execute_both {
    ($conn:expr, $first:expr, $second:expr) => {{
        let shared: &diesel_async::AsyncPgConnection = &*$conn;
        let (mut a, mut b) = (shared, shared);
        tokio::try_join!($first.execute(&mut a), $second.execute(&mut b))?;
    }};
}

/// Runs `$first(entry)` and `$second(entry)` for every entry, in order, in one round
/// trip: every statement is sent before the first answer is awaited (pipelining).
macro_rules! execute_each {
    ($conn:expr, $entries:expr, $first:expr, $second:expr) => {{
        let shared: &diesel_async::AsyncPgConnection = &*$conn;
        let mut pending = Vec::with_capacity(2 * $entries.len());
        for entry in $entries {
            let (mut a, mut b) = (shared, shared);
            pending.push($first(entry).execute(&mut a));
            pending.push($second(entry).execute(&mut b));
        }
        futures_util::future::try_join_all(pending).await?;
    }};
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

/// Whether the key's rate window is over at `$now` (never started, or started at or
/// before `$now - rate_window_seconds`). Interval arithmetic on a column is beyond
/// Diesel's DSL: an SQL fragment, with `$now` bound.
macro_rules! window_over {
    ($now:expr) => {
        crate::schema::authkit_api_keys::rate_window_started_at
            .is_null()
            .or(
                diesel::dsl::sql::<diesel::sql_types::Bool>("rate_window_started_at <= ")
                    .bind::<crate::sql_types::Ts, _>(crate::sql_types::DbTs($now))
                    .sql(" - make_interval(secs => rate_window_seconds)"),
            )
    };
}

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
}

/// Connections to `url`, with no setup of their own.
fn manager(url: &str) -> AsyncDieselConnectionManager<Conn> {
    AsyncDieselConnectionManager::new(url)
}
