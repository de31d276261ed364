//! MySQL/MariaDB: [`MysqlStore`], on diesel-async's `AsyncMysqlConnection` (the
//! pure-Rust `mysql_async` driver: no system libraries).
//!
//! Types: `BINARY(16)` ids, `BINARY(32)` hashes (unique), `DATETIME(6)` times holding
//! UTC, `BIGINT` counters, `TEXT` everywhere else. Emails are unique on the stored
//! generated column `email_lower`. Read-then-write steps lock their row with
//! `SELECT … FOR UPDATE`; MariaDB has no `UPDATE … RETURNING`, which no step here uses
//! (a rate-limit count hands its value back through `LAST_INSERT_ID(…)` instead).

use authkit_schema::Dialect;
use diesel_async::AsyncMysqlConnection;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};

type Conn = AsyncMysqlConnection;
type Store = MysqlStore;
const DIALECT: Dialect = Dialect::MySql;
/// The pool size of `connect`.
const DEFAULT_POOL_SIZE: usize = 10;
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

/// MySQL commits DDL as it goes: no lock would hold across a migration.
macro_rules! migration_lock {
    ($conn:expr) => {};
}

/// The unique index is on the generated column `email_lower`, which the `table!`
/// leaves out (the other databases have no such column): named through `EmailLower`
/// here, so the lookup uses the index.
macro_rules! email_matches {
    ($email:expr) => {
        super::EmailLower.eq(crate::lower($email))
    };
}

/// `authkit_users.email_lower`, as an expression of its own rather than an `sql`
/// fragment: Diesel caches no prepared statement that holds a fragment, and would
/// prepare every lookup by email anew.
#[derive(Debug, Clone, Copy, diesel::query_builder::QueryId)]
struct EmailLower;

impl diesel::Expression for EmailLower {
    type SqlType = diesel::sql_types::Text;
}

impl diesel::query_builder::QueryFragment<diesel::mysql::Mysql> for EmailLower {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, diesel::mysql::Mysql>,
    ) -> diesel::QueryResult<()> {
        out.push_identifier("email_lower")
    }
}

impl diesel::AppearsOnTable<crate::schema::authkit_users::table> for EmailLower {}

impl diesel::expression::ValidGrouping<()> for EmailLower {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

// The store, written once for every database (see `store/shared.rs`).
mount_store!();
#[path = "store/count_last_insert_id.rs"]
mod count_last_insert_id;

/// The pool type [`MysqlStore`] runs on (deadpool, through diesel-async).
pub type MysqlPool = shared::Pool;

/// Every authkit store trait on MySQL 8 or MariaDB 10.6 and later.
///
/// Cheap to clone (the pool is shared). Several application instances may share one
/// database: every atomic step is a single statement or a transaction with row locks.
/// URLs are `mysql://user@host/db`.
#[derive(Clone)]
pub struct MysqlStore {
    pool: MysqlPool,
    /// None: PostgreSQL alone has a one-statement slide for slide hints to pick.
    hints: Option<std::sync::Arc<authkit::SlideHints>>,
}

/// Connections to `url`, with no setup of their own (diesel-async sets
/// `CLIENT_FOUND_ROWS`: an `UPDATE` counts the rows it matched, changed or not),
/// recycled without a check query (`RecyclingMethod::Fast`; diesel-async's default runs
/// a `SELECT 1` per checkout).
fn manager(url: &str) -> AsyncDieselConnectionManager<Conn> {
    let mut config = ManagerConfig::default();
    config.recycling_method = RecyclingMethod::Fast;
    AsyncDieselConnectionManager::new_with_config(url, config)
}
