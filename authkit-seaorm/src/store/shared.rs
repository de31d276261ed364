//! What the store files of one database share: transactions, and reading columns.
//!
//! The files in `src/store/` are written once and mounted in each database's module
//! (`pg`, `mysql`, `sqlite`) with `#[path = "store/…"] mod …;`. The database's module
//! supplies `e` (its entities), `Store` (the store type, with `db: DatabaseConnection`,
//! `hot` and `hints` fields), `STORE_NAME`, `accepts(DbBackend)`,
//! `tune(&mut ConnectOptions)`, `conv::t` / `conv::from_t` (a timestamp as bound and as
//! read), `Db` and `pool(&DatabaseConnection)` (the sqlx database and pool under the
//! connection, where the store holds one connection for two statements), and
//! `usage_in_one(&[KeyUsage])` (a usage batch as one statement, where the database has
//! one).
//!
//! Where the SQL differs between databases, the code matches on the connection's
//! backend (one `DbBackend` per store type, checked when the store is built).

use std::sync::OnceLock;

use authkit::{Entity, RbacItem, RbacItemId, SlugKind, StoreError, Timestamp, TokenHash};
use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, QueryTrait, Select, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait, Value,
};

use super::{Store, conv, e};
use crate::error::{backend, corrupt, retrying};

pub(super) const NO_USER: StoreError = StoreError::NotFound { what: Entity::User };
pub(super) const NO_KEY: StoreError = StoreError::NotFound {
    what: Entity::ApiKey,
};

impl Store {
    /// The connection's database.
    pub(super) fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// A transaction for a read-then-write step. SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`): SeaORM drops `FOR UPDATE` there, and a deferred transaction
    /// that reads and then writes can fail to upgrade its lock when another did the same.
    pub(super) async fn begin_write(&self) -> Result<DatabaseTransaction, StoreError> {
        self.begin_raw().await.map_err(backend)
    }

    /// [`begin_write`](Self::begin_write), with the driver's error.
    async fn begin_raw(&self) -> Result<DatabaseTransaction, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        match self.backend() {
            DbBackend::Sqlite => self.db.begin_with_options(options).await,
            _ => self.db.begin().await,
        }
    }

    /// Begins a write transaction and runs its first read, locking the row it finds
    /// (`FOR UPDATE`; SQLite holds the write lock already). A deadlock or serialization
    /// failure at this point has changed nothing and called no caller closure, so it is
    /// retried (see [`retrying!`]; a dropped transaction rolls back).
    pub(super) async fn begin_locked<E: EntityTrait>(
        &self,
        read: impl Fn() -> Select<E>,
    ) -> Result<(DatabaseTransaction, Option<E::Model>), StoreError> {
        retrying!(
            async {
                let tx = self.begin_raw().await?;
                let row = read().lock_exclusive().one(&tx).await?;
                Ok((tx, row))
            }
            .await
        )
        .map_err(backend)
    }
}

impl Store {
    /// Deletes at most `limit` rows of `E` matching `cond`, in one statement: MySQL's
    /// `DELETE … LIMIT`; elsewhere (no `DELETE … LIMIT`) `DELETE … WHERE id IN (SELECT id
    /// … LIMIT n)`, which MySQL refuses.
    pub(super) async fn purge<E: EntityTrait>(
        &self,
        id: E::Column,
        cond: Condition,
        limit: u32,
    ) -> Result<u64, StoreError> {
        let delete = match self.backend() {
            DbBackend::MySql => E::delete_many()
                .filter(cond)
                .into_query()
                .limit(u64::from(limit))
                .to_owned(),
            _ => {
                let ids = E::find()
                    .select_only()
                    .column(id)
                    .filter(cond)
                    .limit(u64::from(limit))
                    .into_query();
                E::delete_many().filter(id.in_subquery(ids)).into_query()
            }
        };
        let done = retrying!(self.db.execute(&delete).await).map_err(backend)?;
        Ok(done.rows_affected())
    }
}

/// The statement text of each hot-path lookup (a session, a key, a user by email),
/// rendered by the query builder at its first use and then reused with each call's
/// values: rendering the text on every call was a measurable share of a lookup.
#[derive(Debug, Default)]
pub(super) struct HotSql {
    pub(super) session_by_hash: OnceLock<String>,
    pub(super) key_by_hash: OnceLock<String>,
    pub(super) user_by_email: OnceLock<String>,
}

impl Store {
    /// The one row of `E` that `select` finds, with the statement text kept in `cell`
    /// after the first call. `select` must bind exactly `values`, in that order (the
    /// values it carries itself are thrown away after the first call).
    pub(super) async fn hot_one<E: EntityTrait>(
        &self,
        cell: &OnceLock<String>,
        select: impl FnOnce() -> Select<E>,
        values: Vec<Value>,
    ) -> Result<Option<E::Model>, StoreError> {
        let db_backend = self.backend();
        let sql = cell.get_or_init(|| select().build(db_backend).sql);
        let statement = Statement::from_sql_and_values(db_backend, sql.clone(), values);
        E::find()
            .from_raw_sql(statement)
            .one(&self.db)
            .await
            .map_err(backend)
    }
}

/// Commits the transaction.
pub(super) async fn commit(tx: DatabaseTransaction) -> Result<(), StoreError> {
    tx.commit().await.map_err(backend)
}

/// Rolls the transaction back (a step that decided to change nothing).
pub(super) async fn rollback(tx: DatabaseTransaction) -> Result<(), StoreError> {
    tx.rollback().await.map_err(backend)
}

/// A timestamp as bound.
pub(super) fn t(ts: Timestamp) -> e::Time {
    conv::t(ts)
}

/// An optional timestamp as bound.
pub(super) fn t_opt(ts: Option<Timestamp>) -> Option<e::Time> {
    ts.map(conv::t)
}

/// A timestamp as read.
pub(super) fn ts(col: &'static str, time: e::Time) -> Result<Timestamp, StoreError> {
    conv::from_t(col, time)
}

/// An optional timestamp as read.
pub(super) fn ts_opt(
    col: &'static str,
    time: Option<e::Time>,
) -> Result<Option<Timestamp>, StoreError> {
    time.map(|time| conv::from_t(col, time)).transpose()
}

/// A SHA-256 column; any other length is corrupt.
pub(super) fn hash(col: &'static str, bytes: &[u8]) -> Result<TokenHash, StoreError> {
    let hash: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt(col, format!("{} bytes, not 32", bytes.len())))?;
    Ok(TokenHash(hash))
}

/// A counter that the model holds as a `u32`.
pub(super) fn small_count(col: &'static str, n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| corrupt(col, format!("{n} out of range")))
}

/// A count as the signed 64-bit integer the databases hold.
pub(super) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A JSON text column.
pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    col: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(col, e.to_string()))
}

/// A value as JSON text.
pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

/// An RBAC item kind as read.
pub(super) fn kind_from(kind: &str) -> Result<SlugKind, StoreError> {
    [SlugKind::Role, SlugKind::Permission, SlugKind::Ability]
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| corrupt("kind", format!("unknown kind {kind:?}")))
}

/// An RBAC item from its row.
pub(super) fn item_from(row: e::rbac_item::Model) -> Result<RbacItem, StoreError> {
    Ok(RbacItem {
        id: RbacItemId(row.id),
        kind: kind_from(&row.kind)?,
        slug: row.slug,
        label: row.label,
    })
}
