//! PostgreSQL: [`PgStore`].
//!
//! Types: `uuid` ids, `bytea` hashes, `timestamptz` times, JSON text for scopes, IP
//! allow-lists and metadata. Read-then-write steps lock their row with
//! `SELECT … FOR UPDATE` inside a short transaction; single-row steps are one
//! conditional `UPDATE … RETURNING`.

use authkit::{StoreError, Timestamp};
use sea_orm::{DatabaseConnection, DatabaseConnectionType, DbBackend};

pub(crate) use crate::entity::postgres as e;

type Store = PgStore;
/// The sqlx database under the connection.
type Db = sea_orm::sqlx::Postgres;
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

/// The sqlx pool under the connection, for two statements on one pooled connection
/// (SeaORM takes a connection from the pool for each statement, and gives no other way
/// to hold one outside a transaction). `None` for a connection that is no sqlx pool (a
/// mock or proxy connection).
fn pool(db: &DatabaseConnection) -> Option<&sea_orm::sqlx::PgPool> {
    matches!(
        db.inner,
        DatabaseConnectionType::SqlxPostgresPoolConnection(_)
    )
    .then(|| db.get_postgres_connection_pool())
}

/// A usage batch (merged, one entry per key) in one statement, whatever its size:
/// authkit-sqlx's. The entries travel as arrays (`UNNEST`), the keys' rows are locked
/// first in id order by a `FOR UPDATE` CTE, and then updated. The order matters: two
/// batches sharing keys otherwise lock them in whatever order the join visits them and
/// can deadlock. PostgreSQL reads the row's old values in every assignment, and re-reads
/// a row a concurrent batch changed before updating it, so counts add up and
/// `last_used_at` (with its IP and user agent) moves only forward.
///
/// Raw SQL: the query builder has no `UPDATE … FROM` over a locking CTE. SeaORM binds an
/// array's elements as values that must not be NULL (a NULL element fails its binder),
/// so a missing IP or user agent travels as `''` beside a flag (`has_ip`, `has_ua`) that
/// turns it back into NULL.
fn usage_in_one(merged: &[authkit::KeyUsage]) -> Option<sea_orm::Statement> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        let template = "WITH u AS (SELECT id, uses, at, \
             CASE WHEN has_ip THEN ip END AS ip, CASE WHEN has_ua THEN ua END AS ua \
             FROM UNNEST(?::uuid[], ?::bigint[], ?::timestamptz[], \
             ?::text[], ?::boolean[], ?::text[], ?::boolean[]) \
             AS u(id, uses, at, ip, has_ip, ua, has_ua)), \
             locked AS (SELECT k.id FROM {api_keys} AS k JOIN u ON k.id = u.id \
             ORDER BY k.id FOR UPDATE OF k) \
             UPDATE {api_keys} AS k SET usage_count = k.usage_count + u.uses, \
             last_used_ip = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < u.at \
             THEN u.ip ELSE k.last_used_ip END, \
             last_used_user_agent = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < u.at \
             THEN u.ua ELSE k.last_used_user_agent END, \
             last_used_at = CASE WHEN k.last_used_at IS NULL OR k.last_used_at < u.at \
             THEN u.at ELSE k.last_used_at END \
             FROM u JOIN locked ON locked.id = u.id WHERE k.id = u.id";
        crate::sql::render(
            template,
            DbBackend::Postgres,
            &authkit_schema::TableNames::default(),
        )
    });
    let ids: Vec<uuid::Uuid> = merged.iter().map(|u| u.key_id.0).collect();
    let uses: Vec<i64> = merged.iter().map(|u| shared::count(u.uses)).collect();
    let at: Vec<Timestamp> = merged.iter().map(|u| conv::t(u.last_used_at)).collect();
    let ips: Vec<Option<String>> = merged
        .iter()
        .map(|u| u.last_used_ip.map(|ip| ip.to_string()))
        .collect();
    let agents: Vec<Option<String>> = merged
        .iter()
        .map(|u| u.last_used_user_agent.clone())
        .collect();
    // A NULL as `''` and a `false` flag.
    let text = |all: &[Option<String>]| -> Vec<String> {
        all.iter().map(|s| s.clone().unwrap_or_default()).collect()
    };
    let flag = |all: &[Option<String>]| -> Vec<bool> { all.iter().map(Option::is_some).collect() };
    let values: [sea_orm::Value; 7] = [
        ids.into(),
        uses.into(),
        at.into(),
        text(&ips).into(),
        flag(&ips).into(),
        text(&agents).into(),
        flag(&agents).into(),
    ];
    Some(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql.as_str(),
        values,
    ))
}

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
    /// The sessions last seen, to predict a due slide (see [`authkit::SlideHints`]).
    hints: Option<std::sync::Arc<authkit::SlideHints>>,
}
