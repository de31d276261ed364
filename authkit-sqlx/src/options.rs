//! What a store does at start-up, and which tables it uses.

use authkit_schema::{InvalidTableName, TableNames};

/// Options for `PgStore::new`, `SqliteStore::new` and `MySqlStore::new`.
///
/// The defaults run authkit's migrations and then verify the live schema, on the
/// reference table names (`authkit_*`), in no namespace.
///
/// ```
/// use authkit_sqlx::{StoreOptions, TableNames};
///
/// // Schema managed elsewhere (say, by the deploy pipeline): check it, never change it.
/// let options = StoreOptions::default()
///     .tables(TableNames::with_prefix("auth_")?)
///     .run_migrations(false);
///
/// // PostgreSQL: every table in the schema `auth` (created if missing), whatever the
/// // connections' search_path.
/// let options = StoreOptions::default().namespace("auth")?;
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
    /// The table names to use (default: [`TableNames::default`]), namespace included:
    /// this replaces one set by [`namespace`](Self::namespace) before.
    pub fn tables(mut self, tables: TableNames) -> Self {
        self.tables = tables;
        self
    }

    /// PostgreSQL only: puts authkit's tables, its migrations table included, in the
    /// schema `namespace` ([`TableNames::in_namespace`]). Every statement then names
    /// its tables qualified, so the pool's `search_path` does not matter; migrating
    /// creates the schema when it is missing, and the verifier reads that schema's
    /// catalogue. `SqliteStore` and `MySqlStore` refuse options with a namespace
    /// (SQLite and MySQL have no such namespaces).
    ///
    /// A database whose tables were created in that schema through `search_path`
    /// (without this option) keeps working with it: migration checksums do not depend
    /// on the namespace.
    pub fn namespace(mut self, namespace: &str) -> Result<Self, InvalidTableName> {
        self.tables = self.tables.in_namespace(namespace)?;
        Ok(self)
    }

    /// Whether start-up applies authkit's pending migrations (default `true`).
    pub fn run_migrations(mut self, run: bool) -> Self {
        self.run_migrations = run;
        self
    }

    /// Whether start-up checks the live schema against the expected one (default `true`).
    /// Every [`Problem`](authkit_schema::Problem) the schema crate's verifier finds
    /// (missing tables, columns, indexes or foreign keys, type and nullability drift, an
    /// index that should be unique and is not) then fails start-up with
    /// [`StoreError::SchemaDrift`](authkit::StoreError::SchemaDrift); extra columns,
    /// indexes and tables are fine.
    pub fn verify_schema(mut self, verify: bool) -> Self {
        self.verify_schema = verify;
        self
    }

    /// The table names (and namespace) in use.
    pub fn table_names(&self) -> &TableNames {
        &self.tables
    }
}
