//! PostgreSQL and MySQL/MariaDB: [`ServerStore`].
//!
//! Types: `uuid` (PostgreSQL) or `BINARY(16)` (MySQL) ids, `bytea` / `BINARY(32)`
//! hashes, `timestamptz` / `DATETIME(6)` (UTC) times, JSON text for scopes, IP
//! allow-lists and metadata. Read-then-write steps lock their row with
//! `SELECT … FOR UPDATE` inside a short transaction; MariaDB has no
//! `UPDATE … RETURNING`, so a conditional update is followed by a read inside the
//! transaction that holds its row lock.

use authkit::{StoreError, Timestamp};
use sea_orm::{DatabaseConnection, DbBackend};

pub(crate) use crate::entity::server as e;

type Store = ServerStore;
const STORE_NAME: &str = "ServerStore";

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
    matches!(backend, DbBackend::Postgres | DbBackend::MySql)
}

/// Nothing to add to the common connection settings.
fn tune(_options: &mut sea_orm::ConnectOptions) {}

/// Timestamps as they are: `OffsetDateTime` in UTC, microseconds kept by both databases.
mod conv {
    use super::{StoreError, Timestamp, e::Time};

    /// A timestamp as bound.
    pub(super) fn t(ts: Timestamp) -> Time {
        ts
    }

    /// A timestamp as read.
    pub(super) fn from_t(_col: &'static str, time: Time) -> Result<Timestamp, StoreError> {
        Ok(time)
    }
}

/// Every authkit store trait through SeaORM on PostgreSQL (13+) or MySQL 8 /
/// MariaDB 10.6+, over the application's [`DatabaseConnection`].
///
/// Cheap to clone (a `DatabaseConnection` is a pool handle).
#[derive(Clone)]
pub struct ServerStore {
    db: DatabaseConnection,
}
