//! What a store does at start-up, and which tables it uses.

use crate::names::TableNames;

/// Options for `PgStore::new`, `SqliteStore::new` and `MySqlStore::new`.
///
/// The defaults run authkit's migrations and then verify the live schema, on the
/// reference table names (`authkit_*`).
///
/// ```
/// use authkit_sqlx::{StoreOptions, TableNames};
///
/// // Schema managed elsewhere (say, by the deploy pipeline): check it, never change it.
/// let options = StoreOptions::default()
///     .tables(TableNames::with_prefix("auth_")?)
///     .run_migrations(false);
/// # Ok::<(), authkit_sqlx::InvalidTableName>(())
/// ```
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub(crate) tables: TableNames,
    pub(crate) run_migrations: bool,
    pub(crate) verify_schema: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            tables: TableNames::default(),
            run_migrations: true,
            verify_schema: true,
        }
    }
}

impl StoreOptions {
    /// The table names to use (default: [`TableNames::default`]).
    pub fn tables(mut self, tables: TableNames) -> Self {
        self.tables = tables;
        self
    }

    /// Whether start-up applies authkit's pending migrations (default `true`).
    pub fn run_migrations(mut self, run: bool) -> Self {
        self.run_migrations = run;
        self
    }

    /// Whether start-up checks the live schema against the expected one (default `true`).
    /// Missing tables or columns, type drift and nullability drift then fail start-up
    /// with [`StoreError::SchemaDrift`](authkit::StoreError::SchemaDrift); extra columns
    /// and tables are fine.
    pub fn verify_schema(mut self, verify: bool) -> Self {
        self.verify_schema = verify;
        self
    }

    /// The table names in use.
    pub fn table_names(&self) -> &TableNames {
        &self.tables
    }
}
