//! MySQL and MariaDB: [`MySqlStore`].
//!
//! Types: `BINARY(16)` ids, `BINARY(32)` hashes, `DATETIME(6)` times holding UTC,
//! JSON text for scopes, IP allow-lists and metadata. Read-then-write steps lock their
//! row with `SELECT … FOR UPDATE` inside a short transaction. MariaDB has no
//! `UPDATE … RETURNING` (and this crate leaves SeaORM's `mariadb-use-returning` off), so
//! a conditional update is followed by a read inside the transaction that holds its row
//! lock; a rate-limit count instead hands its value back through `LAST_INSERT_ID(…)`.

use authkit::{StoreError, Timestamp};
use sea_orm::{DatabaseConnection, DatabaseConnectionType, DbBackend};

pub(crate) use crate::entity::mysql as e;

type Store = MySqlStore;
/// The sqlx database under the connection.
type Db = sea_orm::sqlx::MySql;
const STORE_NAME: &str = "MySqlStore";

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

/// Whether the store runs on `backend`.
fn accepts(backend: DbBackend) -> bool {
    backend == DbBackend::MySql
}

/// Nothing to add to the common connection settings.
fn tune(_options: &mut sea_orm::ConnectOptions) {}

/// The sqlx pool under the connection, for two statements on one pooled connection
/// (SeaORM takes a connection from the pool for each statement, and gives no other way
/// to hold one outside a transaction). `None` for a connection that is no sqlx pool (a
/// mock or proxy connection).
fn pool(db: &DatabaseConnection) -> Option<&sea_orm::sqlx::MySqlPool> {
    matches!(db.inner, DatabaseConnectionType::SqlxMySqlPoolConnection(_))
        .then(|| db.get_mysql_connection_pool())
}

/// None: a usage batch takes the transaction of `UPDATE`s (see `record_key_usage`).
fn usage_in_one(_merged: &[authkit::KeyUsage]) -> Option<sea_orm::Statement> {
    None
}

/// Timestamps as `DATETIME(6)` holding UTC: exact to the microsecond, any year from 1000
/// to 9999 (sqlx binds an `OffsetDateTime` as a `TIMESTAMP`, which ends in 2038).
mod conv {
    use super::{StoreError, Timestamp, e::Time};

    /// A timestamp as bound.
    pub(super) fn t(ts: Timestamp) -> Time {
        let utc = ts.to_offset(time::UtcOffset::UTC);
        Time::new(utc.date(), utc.time())
    }

    /// A timestamp as read.
    pub(super) fn from_t(_col: &'static str, time: Time) -> Result<Timestamp, StoreError> {
        Ok(time.assume_utc())
    }
}

/// Every authkit store trait through SeaORM on MySQL 8 or MariaDB 10.6+, over the
/// application's [`DatabaseConnection`].
///
/// Cheap to clone (a `DatabaseConnection` is a pool handle).
#[derive(Clone)]
pub struct MySqlStore {
    db: DatabaseConnection,
    /// The text of the hot lookups, rendered once.
    hot: std::sync::Arc<shared::HotSql>,
    /// None: PostgreSQL alone has a one-statement slide for slide hints to pick.
    hints: Option<std::sync::Arc<authkit::SlideHints>>,
}
