//! SQLite: [`SqliteStore`].
//!
//! Types: `BLOB` ids (16 bytes) and hashes (32 bytes), `INTEGER` times as Unix
//! microseconds, JSON text for scopes, IP allow-lists and metadata. SQLite has one
//! writer at a time, and SeaORM drops `FOR UPDATE` there silently: every
//! read-then-write step runs in a `BEGIN IMMEDIATE` transaction, which takes the write
//! lock before it reads.

use authkit::{StoreError, Timestamp};
use sea_orm::{DatabaseConnection, DbBackend};

pub(crate) use crate::entity::sqlite as e;

type Store = SqliteStore;
/// The sqlx database under the connection.
type Db = sea_orm::sqlx::Sqlite;
const STORE_NAME: &str = "SqliteStore";

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
    backend == DbBackend::Sqlite
}

/// SQLite's connection settings: see [`SqliteStore::connect_options`].
fn tune(options: &mut sea_orm::ConnectOptions) {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
    options.map_sqlx_sqlite_opts(|o| {
        o.create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5))
            .foreign_keys(true)
    });
}

/// None: SQLite runs in-process, so two statements on two pool checkouts cost no round
/// trip more than on one, and the SeaORM path also serves a connection that is no sqlx
/// pool (SeaORM's `rusqlite` driver).
fn pool(_db: &DatabaseConnection) -> Option<&sea_orm::sqlx::SqlitePool> {
    None
}

/// None: a usage batch takes the transaction of `UPDATE`s (see `record_key_usage`).
fn usage_in_one(_merged: &[authkit::KeyUsage]) -> Option<sea_orm::Statement> {
    None
}

/// Timestamps as Unix microseconds in an `INTEGER`: exact, compact, and ordered.
mod conv {
    use super::{StoreError, Timestamp, e::Time};

    /// A timestamp as bound.
    pub(super) fn t(ts: Timestamp) -> Time {
        crate::micros(ts)
    }

    /// A timestamp as read.
    pub(super) fn from_t(col: &'static str, time: Time) -> Result<Timestamp, StoreError> {
        crate::from_micros(time).map_err(|e| crate::error::corrupt(col, e.to_string()))
    }
}

/// Every authkit store trait through SeaORM on SQLite (3.35 or later; the bundled one is
/// newer), over the application's [`DatabaseConnection`].
///
/// Cheap to clone (a `DatabaseConnection` is a pool handle).
#[derive(Clone)]
pub struct SqliteStore {
    db: DatabaseConnection,
    /// The text of the hot lookups, rendered once.
    hot: std::sync::Arc<shared::HotSql>,
    /// None: PostgreSQL alone has a one-statement slide for slide hints to pick.
    hints: Option<std::sync::Arc<authkit::SlideHints>>,
}
