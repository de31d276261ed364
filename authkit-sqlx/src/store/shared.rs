//! What the store files of one database share: running statements, transactions, and
//! reading columns.
//!
//! The files in `src/store/` are written once and mounted in each database's module
//! (`pg`, `mysql`, `sqlite`) with `#[path = "store/…"] mod …;`, the way rustls mounts
//! its tests once per provider. The database's module supplies:
//!
//! - `Db` (the sqlx database), `DbRow` (its row), `Pool` (its pool);
//! - `DIALECT` (an [`authkit_schema::Dialect`]);
//! - `Store`, the store type, with fields `pool: Pool` and `sql: Arc<Statements>`;
//! - `conv::ts(Timestamp) -> T` (a timestamp as bound) and `conv::get_ts` /
//!   `conv::get_ts_opt` (one read back);
//! - `catalogue`, `check_connection` and `before_migrate` for [`entry`](super::entry);
//! - `last_insert_id(&QueryResult) -> Option<u64>`: what `LAST_INSERT_ID(expr)` left
//!   in a statement's result (MySQL; `None` elsewhere), for
//!   [`api_keys`](super::api_keys).
//!
//! Only the SQL text and the transaction shape differ between databases. Where they do,
//! the code matches on `DIALECT`, a constant, so the other arms compile away.

use authkit::{Entity, RbacItem, RbacItemId, SlugKind, StoreError, TokenHash};
use authkit_schema::Dialect;
use sqlx::{Decode, Row as _, Type};

use super::{DIALECT, Db, DbRow, Store};
use crate::error::{backend, corrupt, map, retrying};
use crate::sql::Stmt;

/// A statement with its binds so far.
pub(super) type Query = sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments>;
/// A transaction on the store's pool.
pub(super) type Tx = sqlx::Transaction<'static, Db>;

pub(super) const NO_USER: StoreError = StoreError::NotFound { what: Entity::User };
pub(super) const NO_ROLE: StoreError = StoreError::NotFound { what: Entity::Role };
pub(super) const NO_KEY: StoreError = StoreError::NotFound {
    what: Entity::ApiKey,
};

impl Store {
    /// `stmt`, rendered for this store, ready for its binds.
    pub(super) fn query(&self, stmt: &Stmt) -> Query {
        sqlx::query::<Db>(self.sql.get(stmt))
    }

    /// Runs a statement that can violate no constraint the caller handles, built by
    /// `query` (again after a deadlock: see [`retrying!`]); returns the number of rows it
    /// changed.
    pub(super) async fn execute(&self, query: impl Fn() -> Query) -> Result<u64, StoreError> {
        let done = retrying!(query().execute(&self.pool).await).map_err(backend)?;
        Ok(done.rows_affected())
    }

    /// Runs an insert: a unique violation is a conflict on `conflict`, a foreign-key
    /// violation a missing `missing`.
    pub(super) async fn insert(
        &self,
        query: Query,
        conflict: Entity,
        missing: Entity,
    ) -> Result<u64, StoreError> {
        let done = query
            .execute(&self.pool)
            .await
            .map_err(|e| map(e, conflict, missing))?;
        Ok(done.rows_affected())
    }

    /// The row the query finds, if any.
    pub(super) async fn fetch_optional(&self, query: Query) -> Result<Option<DbRow>, StoreError> {
        query.fetch_optional(&self.pool).await.map_err(backend)
    }

    /// Every row the query finds.
    pub(super) async fn fetch_all(&self, query: Query) -> Result<Vec<DbRow>, StoreError> {
        query.fetch_all(&self.pool).await.map_err(backend)
    }

    /// Whether the query finds a row.
    pub(super) async fn exists(&self, query: Query) -> Result<bool, StoreError> {
        Ok(self.fetch_optional(query).await?.is_some())
    }

    /// A transaction for a read-then-write step. SQLite takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes can fail
    /// to upgrade its lock when another one did the same.
    pub(super) async fn begin_write(&self) -> Result<Tx, StoreError> {
        self.begin_raw().await.map_err(backend)
    }

    /// [`begin_write`](Self::begin_write), with the driver's error.
    pub(super) async fn begin_raw(&self) -> Result<Tx, sqlx::Error> {
        match DIALECT {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres | Dialect::MySql => self.pool.begin().await,
        }
    }

    /// Begins a write transaction and runs its first, locking read. A deadlock or
    /// serialization failure at this point (InnoDB picks as victim the transaction that
    /// changed least: one still waiting for the row) has changed nothing and called no
    /// caller closure, so it is retried (a dropped transaction rolls back).
    pub(super) async fn begin_locked(
        &self,
        read: impl Fn() -> Query,
    ) -> Result<(Tx, Option<DbRow>), StoreError> {
        retrying!(
            async {
                let mut tx = self.begin_raw().await?;
                let row = read().fetch_optional(&mut *tx).await?;
                Ok((tx, row))
            }
            .await
        )
        .map_err(backend)
    }
}

/// [`Store::execute`] inside a transaction.
pub(super) async fn execute_in(tx: &mut Tx, query: Query) -> Result<u64, StoreError> {
    let done = query.execute(&mut **tx).await.map_err(backend)?;
    Ok(done.rows_affected())
}

/// [`Store::insert`] inside a transaction.
pub(super) async fn insert_in(
    tx: &mut Tx,
    query: Query,
    conflict: Entity,
    missing: Entity,
) -> Result<(), StoreError> {
    query
        .execute(&mut **tx)
        .await
        .map_err(|e| map(e, conflict, missing))?;
    Ok(())
}

/// [`Store::fetch_optional`] inside a transaction.
pub(super) async fn fetch_optional_in(
    tx: &mut Tx,
    query: Query,
) -> Result<Option<DbRow>, StoreError> {
    query.fetch_optional(&mut **tx).await.map_err(backend)
}

/// Commits the transaction.
pub(super) async fn commit(tx: Tx) -> Result<(), StoreError> {
    tx.commit().await.map_err(backend)
}

/// Rolls the transaction back (a step that decided to change nothing).
pub(super) async fn rollback(tx: Tx) -> Result<(), StoreError> {
    tx.rollback().await.map_err(backend)
}

/// A column by name.
pub(super) fn get<'r, T>(row: &'r DbRow, col: &str) -> Result<T, StoreError>
where
    T: Decode<'r, Db> + Type<Db>,
{
    row.try_get(col).map_err(backend)
}

/// A SHA-256 column, by name or position; any other length is corrupt.
pub(super) fn get_hash<I>(row: &DbRow, col: I) -> Result<TokenHash, StoreError>
where
    I: sqlx::ColumnIndex<DbRow> + std::fmt::Display + Copy,
{
    let bytes: &[u8] = row.try_get(col).map_err(backend)?;
    let hash: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt("hash", format!("{col}: {} bytes, not 32", bytes.len())))?;
    Ok(TokenHash(hash))
}

/// A counter that the model holds as a `u32`.
pub(super) fn get_u32(row: &DbRow, col: &'static str) -> Result<u32, StoreError> {
    let n: i64 = get(row, col)?;
    u32::try_from(n).map_err(|_| corrupt(col, format!("{n} out of range")))
}

/// A JSON text column.
pub(super) fn get_json<T: serde::de::DeserializeOwned>(
    row: &DbRow,
    col: &'static str,
) -> Result<T, StoreError> {
    let text: String = get(row, col)?;
    serde_json::from_str(&text).map_err(|e| corrupt(col, e.to_string()))
}

/// A value as JSON text.
pub(super) fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

/// A count as the signed 64-bit integer the databases hold.
pub(super) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// An RBAC item kind.
/// An RBAC item from a row with `id`, `kind`, `slug` and `label`.
pub(super) fn item_from(row: &DbRow) -> Result<RbacItem, StoreError> {
    Ok(RbacItem {
        id: RbacItemId(get(row, "id")?),
        kind: kind_from(row, "kind")?,
        slug: get(row, "slug")?,
        label: get(row, "label")?,
    })
}

pub(super) fn kind_from(row: &DbRow, col: &'static str) -> Result<SlugKind, StoreError> {
    let kind: String = get(row, col)?;
    [SlugKind::Role, SlugKind::Permission, SlugKind::Ability]
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| corrupt(col, format!("unknown kind {kind:?}")))
}
