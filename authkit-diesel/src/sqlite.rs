//! SQLite: [`SqliteStore`], through diesel-async's sync connection wrapper.
//!
//! diesel-async has no asynchronous SQLite driver: its `SyncConnectionWrapper` runs
//! each statement of Diesel's blocking `SqliteConnection` on tokio's blocking thread
//! pool (`spawn_blocking`). Every statement therefore costs a hand-off to a blocking
//! thread and back (microseconds), and a statement waiting for SQLite's write lock
//! (up to the 5 s busy timeout) holds a blocking thread, not an async worker. tokio's
//! blocking pool grows to 512 threads by default, so this bounds nothing but memory;
//! the pool's size (5 connections by default) bounds how many statements run at once.
//!
//! Types: `BLOB` ids (16 bytes) and hashes (32 bytes), `INTEGER` times as Unix
//! microseconds, `INTEGER` counters, `TEXT` everywhere else. SQLite has one writer at a
//! time: connections use WAL and a busy timeout, and every read-then-write step starts
//! as `BEGIN IMMEDIATE`. Foreign keys (and so the cascades from users) need
//! `PRAGMA foreign_keys = ON` on every connection, which the store's pool sets.

use authkit_schema::Dialect;
use diesel::ConnectionError;
use diesel::SqliteConnection;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, SimpleAsyncConnection};

type Conn = SyncConnectionWrapper<SqliteConnection>;
type Store = SqliteStore;
const DIALECT: Dialect = Dialect::Sqlite;
/// The pool size of `connect`.
const DEFAULT_POOL_SIZE: usize = 5;
const STORE_NAME: &str = "SqliteStore";

/// No row locks on SQLite: the write transaction (`BEGIN IMMEDIATE`) holds the
/// database's one write lock instead.
macro_rules! lock {
    ($query:expr) => {
        $query
    };
}

/// `BEGIN IMMEDIATE`: a transaction that reads and then writes takes the write lock
/// up front (a deferred one can fail to upgrade its lock when another did the same).
macro_rules! write_tx {
    ($conn:expr, $body:expr) => {
        $conn.immediate_transaction($body)
    };
}

/// A usage batch in one transaction, one statement per 64 keys (`usage_chunks`, in
/// `store/api_keys.rs`).
macro_rules! write_usage {
    ($store:expr, $merged:expr) => {
        $store
            .transaction(
                authkit::Entity::ApiKey,
                authkit::Entity::ApiKey,
                async |conn| usage_chunks(conn, $merged).await,
            )
            .await
    };
}

/// `BEGIN IMMEDIATE` already serializes migrations.
macro_rules! migration_lock {
    ($conn:expr) => {};
}

/// SQLite's `lower` changes ASCII letters only: the unique index is on `lower(email)`.
macro_rules! email_matches {
    ($email:expr) => {
        crate::lower(crate::schema::authkit_users::email).eq(crate::lower($email))
    };
}

/// The rate window's length subtracted from a time in SQL (seconds as microseconds, the unit of times here),
/// for `window_over!` in `store/count_returning.rs`.
const WINDOW_SPAN: &str = " - rate_window_seconds * 1000000";

// The store, written once for every database (see `store/shared.rs`).
mount_store!();
#[path = "store/count_returning.rs"]
mod count_returning;

/// The pool type [`SqliteStore`] runs on (deadpool, through diesel-async).
pub type SqlitePool = shared::Pool;

/// Every authkit store trait on SQLite (3.35 or later; the bundled one is newer).
///
/// Cheap to clone (the pool is shared). The "URL" is a file path, created if missing.
/// See the README for the cost of the sync connection wrapper.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// None: PostgreSQL alone has a one-statement slide for slide hints to pick.
    hints: Option<std::sync::Arc<authkit::SlideHints>>,
}

/// Per connection: WAL, `synchronous = NORMAL` (durable across application crashes,
/// the usual WAL choice), a 5 s busy timeout, foreign keys on.
const PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                       PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;";

/// Connections to the file at `path` (created if missing), each set up with
/// [`PRAGMAS`], recycled without a check query (`RecyclingMethod::Fast`; diesel-async's
/// default runs a `SELECT 1` per checkout).
fn manager(path: &str) -> AsyncDieselConnectionManager<Conn> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    config.custom_setup = Box::new(|url| {
        Box::pin(async move {
            let mut conn = Conn::establish(url).await?;
            conn.batch_execute(PRAGMAS)
                .await
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        })
    });
    AsyncDieselConnectionManager::new_with_config(path, config)
}
