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

/// The pool type [`PgStore`] runs on (deadpool, through diesel-async).
pub type PgPool = shared::Pool;

/// Every authkit store trait on PostgreSQL (13 or later).
///
/// Cheap to clone (the pool is shared). Several application instances may share one
/// database: every atomic step is a single statement or a transaction with row locks.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// A pool of up to `size` connections to `url` (`postgres://user@host/db`; add
    /// `?options=-c%20search_path%3Dauth` to put authkit's tables in the schema `auth`).
    /// Connections are made when first needed, and not pinged when handed out (see the
    /// README: the same trade as authkit-sqlx's pool).
    pub fn build_pool(url: &str, size: usize) -> Result<PgPool, authkit::StoreError> {
        let manager = AsyncDieselConnectionManager::<Conn>::new(url);
        PgPool::builder(manager)
            .max_size(size)
            .build()
            .map_err(authkit::StoreError::backend)
    }

    /// Connects with a pool of 10 connections and applies authkit's pending migrations.
    pub async fn connect(url: &str) -> Result<Self, authkit::StoreError> {
        Self::new(Self::build_pool(url, 10)?).await
    }
}
