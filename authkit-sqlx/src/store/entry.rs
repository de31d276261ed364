//! The store's constructors and schema helpers, the same on every database.
//!
//! Besides what [`shared`](super::shared) lists, the database's module supplies
//! `catalogue` (its catalogue queries), `check_connection` (per-connection settings the
//! schema relies on) and `before_migrate` (what must exist before sqlx's migrator runs).

use std::sync::Arc;
use std::time::Duration;

use authkit::StoreError;
use authkit_schema::{Catalogue, Problem, TableNames};

use super::{DIALECT, Db, Pool, Store, before_migrate, catalogue, check_connection};
use crate::options::StoreOptions;
use crate::sql::Statements;

/// A pooled connection idle at least this long is pinged before use; see
/// [`Store::pool_options`].
const PING_IDLE_AFTER: Duration = Duration::from_secs(5);

impl Store {
    /// The pool settings `connect` uses, to start from when you build the pool yourself
    /// (then call [`new`](Self::new)):
    ///
    /// - **No ping on every acquire.** sqlx's default (`test_before_acquire(true)`) sends
    ///   a ping each time a connection leaves the pool: a second round trip on every
    ///   authentication, measured at 26–39% of the hot path's throughput on PostgreSQL.
    ///   Here only a connection idle for 5 s or more is pinged (a dead one is dropped and
    ///   another taken), so a connection the pool handed out within the last seconds is
    ///   trusted. The risk: when the database restarts or a proxy drops connections
    ///   under load, each connection that was in use just before fails one statement
    ///   (a [`StoreError::Backend`], surfacing as an
    ///   [`ErrorKind::Unavailable`](authkit::ErrorKind::Unavailable) error, never a
    ///   wrong answer) and is then replaced.
    /// - **10 connections**, sqlx's default: enough for two cores; size it to your
    ///   database's connection budget divided by your instances.
    /// - **A 5 s acquire timeout** instead of sqlx's 30 s: with the pool exhausted, a
    ///   request fails fast as unavailable rather than holding its caller half a minute.
    /// - sqlx's idle timeout (10 min) and maximum lifetime (30 min), which retire
    ///   connections before most middleboxes drop them.
    ///
    /// sqlx 0.9 also pings every connection it takes back, whatever the options: the
    /// caller has its answer by then, but the connection stays busy one more round trip,
    /// so a pool serves fewer statements per second than its size suggests.
    pub fn pool_options() -> sqlx::pool::PoolOptions<Db> {
        sqlx::pool::PoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_IDLE_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
    }

    /// Builds the store on an existing pool: runs authkit's pending migrations and
    /// verifies the live schema, unless `options` turn either step off.
    ///
    /// # Errors
    ///
    /// - [`StoreError::SchemaDrift`] listing every [`Problem`] the verifier finds
    ///   (missing tables, columns, indexes or foreign keys, type or nullability drift, an
    ///   index that should be unique and is not), one line each;
    /// - [`StoreError::Backend`] when the database cannot be reached, a migration fails
    ///   (the sqlx error is its source), or the options name a namespace on a database
    ///   without namespaces ([`UnsupportedNamespace`](authkit_schema::UnsupportedNamespace)).
    pub async fn new(pool: Pool, options: StoreOptions) -> Result<Self, StoreError> {
        options
            .tables
            .check_dialect(DIALECT)
            .map_err(StoreError::backend)?;
        if options.run_migrations {
            Self::migrate(&pool, &options.tables).await?;
        }
        if options.verify_schema {
            Self::verify_schema(&pool, &options.tables).await?;
        }
        Ok(Store {
            pool,
            sql: Arc::new(Statements::new(DIALECT, options.tables)),
            hints: Arc::default(),
        })
    }

    /// Applies authkit's pending migrations (the schema crate's files, rendered for
    /// `tables`), tracked in its own table ([`Table::Migrations`](crate::Table::Migrations),
    /// `authkit_migrations` by default), never in sqlx's `_sqlx_migrations`. Safe to
    /// call from several instances at once on PostgreSQL and MySQL (sqlx takes a
    /// database lock). On PostgreSQL with a namespace, creates that schema first if it is
    /// missing.
    pub async fn migrate(pool: &Pool, tables: &TableNames) -> Result<(), StoreError> {
        tables.check_dialect(DIALECT).map_err(StoreError::backend)?;
        before_migrate(pool, tables).await?;
        crate::migrate::migrator(DIALECT, tables)
            .run(pool)
            .await
            .map_err(StoreError::backend)
    }

    /// Checks the live schema against the schema crate's model: fails with
    /// [`StoreError::SchemaDrift`] naming every [`Problem`], one line each (see
    /// [`schema_problems`](Self::schema_problems) for them typed). Extra tables,
    /// columns and indexes are fine.
    pub async fn verify_schema(pool: &Pool, tables: &TableNames) -> Result<(), StoreError> {
        let mut problems: Vec<String> = Self::schema_problems(pool, tables)
            .await?
            .iter()
            .map(ToString::to_string)
            .collect();
        problems.extend(check_connection(pool).await?);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(StoreError::SchemaDrift(problems))
        }
    }

    /// Every difference between the live schema and the model, typed: the catalogue
    /// ([`catalogue`](Self::catalogue)) handed to [`authkit_schema::verify`].
    pub async fn schema_problems(
        pool: &Pool,
        tables: &TableNames,
    ) -> Result<Vec<Problem>, StoreError> {
        let live = Self::catalogue(pool, tables).await?;
        Ok(authkit_schema::verify(DIALECT, tables, &live))
    }

    /// The catalogue rows (columns, indexes, foreign keys) of the tables named by
    /// `tables`, in its namespace (PostgreSQL; else the connection's current schema or
    /// database), as the verifier reads them.
    pub async fn catalogue(pool: &Pool, tables: &TableNames) -> Result<Catalogue, StoreError> {
        tables.check_dialect(DIALECT).map_err(StoreError::backend)?;
        catalogue(pool, tables).await
    }

    /// authkit's migrations as an sqlx [`Migrator`](sqlx::migrate::Migrator) for these
    /// table names, with its tracking table already set to authkit's own. A namespace
    /// counts on PostgreSQL only (on the others [`new`](Self::new) and
    /// [`migrate`](Self::migrate) refuse it); the schema must exist before it runs.
    pub fn migrator(tables: &TableNames) -> sqlx::migrate::Migrator {
        crate::migrate::migrator(DIALECT, tables)
    }

    /// The whole current schema as one SQL script for these table names, to embed in an
    /// application's own migrations (then start the store with
    /// [`StoreOptions::run_migrations(false)`](crate::StoreOptions::run_migrations)).
    pub fn schema_sql(tables: &TableNames) -> String {
        crate::migrate::schema_sql(DIALECT, tables)
    }

    /// The pool the store runs on.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The table names the store uses.
    pub fn table_names(&self) -> &TableNames {
        self.sql.names()
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(super::STORE_NAME)
            .field("pool_size", &self.pool.size())
            .field("tables", self.sql.names())
            .finish()
    }
}
