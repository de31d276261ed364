//! The store's constructors, the same on every database.

use std::time::Duration;

use authkit::StoreError;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};
use sea_orm_migration::MigratorTrait;

use super::{STORE_NAME, Store, accepts, tune};
use crate::migrate::Migrator;

/// A pooled connection idle at least this long is pinged before use.
const PING_IDLE_AFTER: Duration = Duration::from_secs(5);

/// The database a store was given is not the one it runs on.
#[derive(Debug, thiserror::Error)]
#[error("{store} cannot run on a {backend:?} connection")]
pub(crate) struct WrongBackend {
    store: &'static str,
    backend: sea_orm::DbBackend,
}

impl Store {
    /// The store on an application's connection, as it is: no migration, no check of
    /// the schema (run [`Migrator`] or the application's own migrator with
    /// [`migrations()`](crate::migrations) first).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the connection is to another kind of database.
    pub fn new(db: DatabaseConnection) -> Result<Self, StoreError> {
        let backend = db.get_database_backend();
        if !accepts(backend) {
            return Err(StoreError::backend(WrongBackend {
                store: STORE_NAME,
                backend,
            }));
        }
        Ok(Store {
            // PostgreSQL alone has a one-statement slide for the hints to pick.
            hints: (backend == DbBackend::Postgres).then(Default::default),
            db,
            hot: Default::default(),
        })
    }

    /// Connects to `url` with [`connect_options`](Self::connect_options), applies
    /// authkit's pending migrations with the standalone [`Migrator`] (history in
    /// `authkit_seaorm_migrations`), and builds the store.
    ///
    /// SeaORM's migrator takes no database lock (sqlx's does): when several instances
    /// may start at once on a database that still lacks migrations, migrate in a deploy
    /// step first, or start one instance before the others.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] when the database cannot be reached, a migration fails,
    /// or the URL names another kind of database.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let db = Database::connect(Self::connect_options(url))
            .await
            .map_err(StoreError::backend)?;
        Migrator::up(&db, None).await.map_err(StoreError::backend)?;
        Self::new(db)
    }

    /// The options [`connect`](Self::connect) uses, to start from when you open the
    /// connection yourself:
    ///
    /// - no ping each time a connection leaves the pool, only after it was idle 5 s
    ///   (a ping per acquire is a second round trip on every authentication);
    /// - 10 connections and a 5 s acquire timeout (an exhausted pool fails fast as
    ///   unavailable);
    /// - no statement logging;
    /// - on SQLite: WAL, `synchronous = NORMAL`, a 5 s busy timeout, foreign keys on
    ///   (the cascades from users need them), and the file created if missing.
    pub fn connect_options(url: &str) -> ConnectOptions {
        let mut options = ConnectOptions::new(url);
        options
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false)
            .test_before_acquire_if_idle_for(PING_IDLE_AFTER)
            .sqlx_logging(false);
        tune(&mut options);
        options
    }

    /// The connection the store runs on.
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(STORE_NAME)
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}
