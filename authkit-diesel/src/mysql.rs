//! MySQL/MariaDB: [`MysqlStore`], on diesel-async's `AsyncMysqlConnection` (the
//! pure-Rust `mysql_async` driver: no system libraries).
//!
//! Types: `BINARY(16)` ids, `BINARY(32)` hashes (unique), `DATETIME(6)` times holding
//! UTC, `BIGINT` counters, `TEXT` everywhere else. Emails are unique on the stored
//! generated column `email_lower`. Read-then-write steps lock their row with
//! `SELECT … FOR UPDATE`; MariaDB has no `UPDATE … RETURNING`, which no step here uses.

use authkit_schema::Dialect;
use diesel_async::AsyncMysqlConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;

type Conn = AsyncMysqlConnection;
type Store = MysqlStore;
const DIALECT: Dialect = Dialect::MySql;
const STORE_NAME: &str = "MysqlStore";

/// Row locks: `SELECT … FOR UPDATE`.
macro_rules! lock {
    ($query:expr) => {
        $query.for_update()
    };
}

/// A transaction at the database's default isolation (REPEATABLE READ; locking reads
/// and updates see the latest committed row).
macro_rules! write_tx {
    ($conn:expr, $body:expr) => {
        diesel_async::AsyncConnection::transaction($conn, $body)
    };
}

/// MySQL commits DDL as it goes: no lock would hold across a migration.
macro_rules! migration_lock {
    ($conn:expr) => {};
}

/// The unique index is on the generated column `email_lower`, which the `table!`
/// leaves out (the other databases have no such column): named in SQL here, so the
/// lookup uses the index.
macro_rules! email_matches {
    ($email:expr) => {
        diesel::dsl::sql::<diesel::sql_types::Text>("email_lower").eq(crate::lower($email))
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

/// The pool type [`MysqlStore`] runs on (deadpool, through diesel-async).
pub type MysqlPool = shared::Pool;

/// Every authkit store trait on MySQL 8 or MariaDB 10.6 and later.
///
/// Cheap to clone (the pool is shared). Several application instances may share one
/// database: every atomic step is a single statement or a transaction with row locks.
#[derive(Clone)]
pub struct MysqlStore {
    pool: MysqlPool,
}

impl MysqlStore {
    /// A pool of up to `size` connections to `url` (`mysql://user@host/db`).
    /// Connections are made when first needed, and not pinged when handed out (see the
    /// README: the same trade as authkit-sqlx's pool).
    pub fn build_pool(url: &str, size: usize) -> Result<MysqlPool, authkit::StoreError> {
        let manager = AsyncDieselConnectionManager::<Conn>::new(url);
        MysqlPool::builder(manager)
            .max_size(size)
            .build()
            .map_err(authkit::StoreError::backend)
    }

    /// Connects with a pool of 10 connections and applies authkit's pending migrations.
    pub async fn connect(url: &str) -> Result<Self, authkit::StoreError> {
        Self::new(Self::build_pool(url, 10)?).await
    }
}
