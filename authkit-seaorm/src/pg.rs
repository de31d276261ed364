//! PostgreSQL: [`PgStore`].
//!
//! Types: `uuid` ids, `bytea` hashes, `timestamptz` times, JSON text for scopes, IP
//! allow-lists and metadata. Read-then-write steps lock their row with
//! `SELECT … FOR UPDATE` inside a short transaction; single-row steps are one
//! conditional `UPDATE … RETURNING`.

use authkit::{StoreError, Timestamp};
use sea_orm::{DatabaseConnection, DbBackend};

pub(crate) use crate::entity::postgres as e;

type Store = PgStore;
const STORE_NAME: &str = "PgStore";

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
    backend == DbBackend::Postgres
}

/// Nothing to add to the common connection settings.
fn tune(_options: &mut sea_orm::ConnectOptions) {}

/// Timestamps as they are: `OffsetDateTime`, microseconds kept by `timestamptz`.
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

/// Every authkit store trait through SeaORM on PostgreSQL (13+), over the application's
/// [`DatabaseConnection`].
///
/// Cheap to clone (a `DatabaseConnection` is a pool handle).
#[derive(Clone)]
pub struct PgStore {
    db: DatabaseConnection,
    /// The text of the hot lookups, rendered once.
    hot: std::sync::Arc<shared::HotSql>,
}
