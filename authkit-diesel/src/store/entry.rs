//! The store's constructors and its migration runner, the same on every database.

use std::time::Instant;

use authkit::{Entity, StoreError};
use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};

use super::shared::Pool;
use super::{Conn, DEFAULT_POOL_SIZE, DIALECT, Store, manager};
use crate::error::TxError;
use crate::migrate::{HistoryMismatch, Rendered, authkit_migrations as history};

impl Store {
    /// A pool of up to `size` connections to `url` (see the store type's docs for the
    /// URL and any per-connection setup). Connections are made when first needed, and
    /// not pinged when handed out: a checkout costs no round trip (the README's "The
    /// pool" says what that trades).
    pub fn build_pool(url: &str, size: usize) -> Result<Pool, StoreError> {
        Pool::builder(manager(url))
            .max_size(size)
            .build()
            .map_err(StoreError::backend)
    }

    /// Connects with a pool of the database's default size (10; SQLite 5) and applies
    /// authkit's pending migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::new(Self::build_pool(url, DEFAULT_POOL_SIZE)?).await
    }

    /// Builds the store on an existing pool and applies authkit's pending migrations
    /// (see [`migrate`](Self::migrate)).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database cannot be reached or a migration fails
    /// (the Diesel error is its source), or when a recorded migration's checksum differs
    /// from authkit's file.
    pub async fn new(pool: Pool) -> Result<Self, StoreError> {
        Self::migrate(&pool).await?;
        Ok(Self::without_migrations(pool))
    }

    /// Builds the store on a pool whose database already has authkit's schema (migrated
    /// by the application's own tooling, say with
    /// [`migration_source`](crate::migration_source)). Nothing is checked.
    pub fn without_migrations(pool: Pool) -> Self {
        Store {
            pool,
            // PostgreSQL alone has a one-statement slide for the hints to pick.
            hints: (DIALECT == authkit_schema::Dialect::Postgres).then(Default::default),
        }
    }

    /// Applies authkit's pending migrations (the schema crate's frozen files, on the
    /// default table names), each in a transaction of its own where the database has
    /// transactional DDL (PostgreSQL, SQLite), recorded in
    /// [`MIGRATIONS_TABLE`](crate::MIGRATIONS_TABLE) with the same checksums
    /// authkit-sqlx records: a database either crate migrated is up to date for the
    /// other. On PostgreSQL a transaction-scoped advisory lock lets several instances
    /// start at once; SQLite's `BEGIN IMMEDIATE` does the same. MySQL commits DDL as it
    /// goes: start one instance first, or migrate at deploy time.
    pub async fn migrate(pool: &Pool) -> Result<(), StoreError> {
        let store = Self::without_migrations(pool.clone());
        let ddl = crate::migrate::history_ddl(DIALECT);
        store
            .read(async |conn| Ok(conn.batch_execute(ddl).await?))
            .await?;
        for migration in crate::migrate::rendered(DIALECT) {
            let migration = &migration;
            store
                .transaction(Entity::User, Entity::User, async |conn| {
                    apply(conn, migration).await
                })
                .await?;
        }
        Ok(())
    }

    /// The pool the store runs on.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// Applies one migration unless the history has it.
async fn apply(conn: &mut Conn, migration: &Rendered) -> Result<(), TxError> {
    migration_lock!(conn);
    let recorded: Option<(bool, Vec<u8>)> = history::table
        .find(migration.version)
        .select((history::success, history::checksum))
        .first(conn)
        .await
        .optional()?;
    let problem = match recorded {
        None => None,
        Some((false, _)) => Some("failed earlier: fix the database by hand"),
        Some((true, sum)) if sum != migration.checksum() => {
            Some("was applied with other text (checksum differs)")
        }
        Some(_) => return Ok(()),
    };
    if let Some(problem) = problem {
        let version = migration.version;
        return Err(StoreError::backend(HistoryMismatch { version, problem }).into());
    }
    let started = Instant::now();
    conn.batch_execute(&migration.sql).await?;
    let nanos = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
    diesel::insert_into(history::table)
        .values((
            history::version.eq(migration.version),
            history::description.eq(&migration.description),
            history::success.eq(true),
            history::checksum.eq(migration.checksum()),
            history::execution_time.eq(nanos),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct(super::STORE_NAME)
            .field("pool_size", &status.size)
            .field("pool_max_size", &status.max_size)
            .finish()
    }
}
