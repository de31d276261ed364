//! What the store files of one database share: checking out connections, running
//! steps and transactions, and converting columns.
//!
//! The files in `src/store/` are written once and mounted in each database's module
//! (`pg`, `mysql`, `sqlite`) with `#[path = "store/…"] mod …;`, as authkit-sqlx does.
//! The database's module supplies `Conn` (its diesel-async connection), `Store` (the
//! store type, with the fields `pool: Pool` and `hints`, the slide hints only
//! PostgreSQL's sessions use), `DIALECT`, and macros defined before the mounts, among
//! them `lock!(query)` (`FOR UPDATE` where the database has row locks, the query
//! unchanged on SQLite) and `write_tx!(conn, body)` (a transaction; `BEGIN IMMEDIATE`
//! on SQLite).

use authkit::{Entity, StoreError, TokenHash};

use super::{Conn, DIALECT, Store};
use crate::conn::AsyncStep;
use crate::error::{PoolFailure, RETRIES, TxError, corrupt};

/// The database's Diesel backend.
pub(super) type Db = <Conn as diesel_async::AsyncConnectionCore>::Backend;

/// The store's pool.
pub(super) type Pool = diesel_async::pooled_connection::deadpool::Pool<Conn>;

pub(super) const NO_USER: StoreError = StoreError::NotFound { what: Entity::User };
pub(super) const NO_ROLE: StoreError = StoreError::NotFound { what: Entity::Role };
pub(super) const NO_KEY: StoreError = StoreError::NotFound {
    what: Entity::ApiKey,
};

impl Store {
    /// A connection from the pool, returned by [`Checkout::finish`].
    async fn checkout(&self) -> Result<Checkout, StoreError> {
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| StoreError::backend(PoolFailure(e.to_string())))?;
        Ok(Checkout { conn: Some(conn) })
    }

    /// Runs `step` on one pooled connection. A step cancelled before it ends closes
    /// its connection instead of returning it (see [`Checkout`]).
    pub(super) async fn run<R, F>(&self, step: F) -> Result<R, TxError>
    where
        for<'r> F: AsyncFnOnce(&'r mut Conn) -> Result<R, TxError>
            + AsyncStep<&'r mut Conn, Result<R, TxError>, Fut: Send>
            + Send,
        R: Send,
    {
        let mut conn = self.checkout().await?;
        let out = step(&mut conn).await;
        conn.finish();
        out
    }

    /// [`run`](Self::run) with errors as [`StoreError`]s: a unique violation is a
    /// conflict on `conflict`, a foreign-key violation a missing `missing`.
    pub(super) async fn step<R, F>(
        &self,
        conflict: Entity,
        missing: Entity,
        step: F,
    ) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut Conn) -> Result<R, TxError>
            + AsyncStep<&'r mut Conn, Result<R, TxError>, Fut: Send>
            + Send,
        R: Send,
    {
        self.run(step)
            .await
            .map_err(|e| e.into_store(conflict, missing))
    }

    /// [`step`](Self::step) for statements that violate no constraint a caller handles.
    pub(super) async fn read<R, F>(&self, step: F) -> Result<R, StoreError>
    where
        for<'r> F: AsyncFnOnce(&'r mut Conn) -> Result<R, TxError>
            + AsyncStep<&'r mut Conn, Result<R, TxError>, Fut: Send>
            + Send,
        R: Send,
    {
        self.step(Entity::User, Entity::User, step).await
    }

    /// Runs `body` in a write transaction (SQLite: `BEGIN IMMEDIATE`, so a transaction
    /// that reads and then writes holds the write lock from its start). A deadlock or
    /// serialization failure rolls the whole transaction back; it is run again, a few
    /// times, so `body` must be safe to repeat (every caller's is: it decides from what
    /// it reads inside the transaction).
    pub(super) async fn transaction<R, F>(
        &self,
        conflict: Entity,
        missing: Entity,
        body: F,
    ) -> Result<R, StoreError>
    where
        F: Clone + Send,
        for<'r> F: AsyncFnOnce(&'r mut Conn) -> Result<R, TxError>
            + AsyncStep<&'r mut Conn, Result<R, TxError>, Fut: Send>
            + Send,
        R: Send,
    {
        let mut attempt = 0;
        loop {
            let body = body.clone();
            let out = self
                .run(async move |conn: &mut Conn| write_tx!(conn, body).await)
                .await;
            match out {
                Err(err) if attempt < RETRIES && err.retryable() => attempt += 1,
                out => return out.map_err(|e| e.into_store(conflict, missing)),
            }
        }
    }
}

/// A statement template of [`authkit_schema::statements`] as this database runs it: the
/// default table names (those of the `table!` schema) filled in, and on PostgreSQL the
/// bind markers numbered.
pub(super) fn render(template: &str) -> String {
    let names = authkit_schema::TableNames::default();
    let sql = authkit_schema::render(template, DIALECT, &names);
    match DIALECT {
        authkit_schema::Dialect::Postgres => authkit_schema::number_binds(&sql),
        authkit_schema::Dialect::MySql | authkit_schema::Dialect::Sqlite => sql,
    }
}

/// A SHA-256 column; any other length is corrupt.
pub(super) fn hash_from(col: &'static str, bytes: &[u8]) -> Result<TokenHash, StoreError> {
    let hash: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt(col, format!("{} bytes, not 32", bytes.len())))?;
    Ok(TokenHash(hash))
}

/// A counter that the model holds as a `u32`.
pub(super) fn u32_from(col: &'static str, n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| corrupt(col, format!("{n} out of range")))
}

/// A count as the signed 64-bit integer the databases hold.
pub(super) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A pooled connection that goes back to the pool only through [`Checkout::finish`].
///
/// Dropped unfinished (the step's future was cancelled mid-way, or panicked), the
/// connection is taken out of the pool and closed: the server then rolls back whatever
/// transaction it had open. diesel-async's pool also refuses a connection whose
/// transaction manager shows an open transaction, but its SQLite wrapper may still be
/// running the cancelled statement on a blocking thread, where that check would panic;
/// closing the connection is right on every database.
pub(super) struct Checkout {
    conn: Option<diesel_async::pooled_connection::deadpool::Object<Conn>>,
}

impl Checkout {
    /// The step ended (well or not): the connection may serve the next one.
    fn finish(mut self) {
        drop(self.conn.take());
    }
}

impl std::ops::Deref for Checkout {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        // Only `finish` and `drop` empty it, and both consume the checkout.
        self.conn.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Checkout {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(diesel_async::pooled_connection::deadpool::Object::take(
                conn,
            ));
        }
    }
}
