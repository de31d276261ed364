//! What every database's store shares beyond the trait methods: migrations, the schema
//! verifier's comparison, and the constructors (as a macro, like the store itself).

use std::collections::HashMap;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

use crate::names::{Table, TableNames};
use crate::sql::{Dialect, Renderer, columns};

/// The migrations, in order. Version 1 is the reference schema; later versions (if
/// any) only ever add.
pub(crate) fn migrator(dialect: Dialect, tables: &TableNames) -> Migrator {
    let render = Renderer {
        dialect,
        tables: tables.clone(),
    };
    let mut migrator = Migrator::with_migrations(vec![Migration::new(
        1,
        "authkit reference schema".into(),
        MigrationType::Simple,
        AssertSqlSafe(render.schema()).into_sql_str(),
        false,
    )]);
    migrator.dangerous_set_table_name(render.quote(tables.get(Table::Migrations)));
    // During a rolling upgrade an older instance meets migrations a newer one applied:
    // they only add, so the older instance may go on.
    migrator.set_ignore_missing(true);
    migrator
}

/// The whole schema as one script, for embedding into an application's own migrations.
pub(crate) fn schema_sql(dialect: Dialect, tables: &TableNames) -> String {
    Renderer {
        dialect,
        tables: tables.clone(),
    }
    .schema()
}

/// One column as the database's catalogue describes it.
#[derive(Debug)]
pub(crate) struct LiveColumn {
    pub(crate) table: String,
    pub(crate) column: String,
    /// The type name (PostgreSQL `data_type`, MySQL `DATA_TYPE`, SQLite declared type).
    pub(crate) data_type: String,
    /// The full type where the catalogue has one (MySQL `COLUMN_TYPE`), else empty.
    pub(crate) column_type: String,
    pub(crate) nullable: bool,
}

/// Compares the live columns with the reference schema; one line per problem, each
/// naming `table` or `table.column`. Extra tables and columns are fine.
pub(crate) fn drift(dialect: Dialect, tables: &TableNames, live: &[LiveColumn]) -> Vec<String> {
    let mut by_table: HashMap<&str, HashMap<&str, &LiveColumn>> = HashMap::new();
    for col in live {
        by_table
            .entry(col.table.as_str())
            .or_default()
            .insert(col.column.as_str(), col);
    }
    let mut problems = Vec::new();
    if dialect == Dialect::MySql {
        // The unique email index lives on this generated column (MariaDB cannot index
        // an expression); without it lookups by email find nothing.
        let users = tables.get(Table::Users);
        let has = by_table
            .get(users)
            .is_some_and(|cols| cols.contains_key("email_lower"));
        if by_table.contains_key(users) && !has {
            problems.push(format!("{users}.email_lower: missing column"));
        }
    }
    for table in Table::ALL {
        let expected = columns(table);
        if expected.is_empty() {
            continue;
        }
        let name = tables.get(table);
        let Some(found) = by_table.get(name) else {
            problems.push(format!("{name}: missing table"));
            continue;
        };
        for col in expected {
            let Some(live) = found.get(col.name) else {
                problems.push(format!("{name}.{}: missing column", col.name));
                continue;
            };
            if !col.ty.matches(dialect, &live.data_type, &live.column_type) {
                let found_type = if live.column_type.is_empty() {
                    &live.data_type
                } else {
                    &live.column_type
                };
                problems.push(format!(
                    "{name}.{}: type drift: expected {}, found {found_type}",
                    col.name,
                    col.ty.describe(dialect)
                ));
            }
            if col.nullable != live.nullable {
                let (want, got) = if col.nullable {
                    ("nullable", "NOT NULL")
                } else {
                    ("NOT NULL", "nullable")
                };
                problems.push(format!(
                    "{name}.{}: nullability drift: expected {want}, found {got}",
                    col.name
                ));
            }
        }
    }
    problems
}

/// The constructors and schema helpers, the same on every database. Expands where
/// `store_impl!` does, plus `Pool` (the pool type) and `live_columns` (the catalogue
/// query) and `check_connection` (per-connection settings the schema relies on).
macro_rules! entry_impl {
    ($Store:ident, $Pool:ty, $db_name:literal) => {
        impl $Store {
            #[doc = concat!("Builds the store on an existing ", $db_name, " pool: runs authkit's")]
            /// pending migrations and verifies the live schema, unless `options` turn
            /// either step off.
            ///
            /// # Errors
            ///
            /// - [`StoreError::SchemaDrift`](authkit::StoreError::SchemaDrift) listing every
            ///   missing table, missing column, type drift and nullability drift;
            /// - [`StoreError::Backend`](authkit::StoreError::Backend) when the database
            ///   cannot be reached or a migration fails (the sqlx error is its source).
            pub async fn new(pool: $Pool, options: StoreOptions) -> Result<Self, StoreError> {
                if options.run_migrations {
                    Self::migrate(&pool, &options.tables).await?;
                }
                if options.verify_schema {
                    Self::verify_schema(&pool, &options.tables).await?;
                }
                Ok($Store {
                    pool,
                    sql: std::sync::Arc::new(crate::sql::Statements::new(DIALECT, options.tables)),
                })
            }

            /// Applies authkit's pending migrations, tracked in its own table
            /// ([`Table::Migrations`](crate::Table::Migrations), `authkit_migrations` by
            /// default), never in sqlx's `_sqlx_migrations`. Safe to call from several
            /// instances at once on PostgreSQL and MySQL (sqlx takes a database lock).
            pub async fn migrate(pool: &$Pool, tables: &TableNames) -> Result<(), StoreError> {
                crate::common::migrator(DIALECT, tables)
                    .run(pool)
                    .await
                    .map_err(StoreError::backend)
            }

            /// Checks the live schema against the reference one: every table and column
            /// present, with the expected type and nullability. Extra columns are fine.
            pub async fn verify_schema(
                pool: &$Pool,
                tables: &TableNames,
            ) -> Result<(), StoreError> {
                let live = live_columns(pool, tables).await?;
                let mut problems = crate::common::drift(DIALECT, tables, &live);
                problems.extend(check_connection(pool).await?);
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(StoreError::SchemaDrift(problems))
                }
            }

            /// authkit's migrations as an sqlx [`Migrator`](sqlx::migrate::Migrator) for these
            /// table names, with its tracking table already set to authkit's own.
            pub fn migrator(tables: &TableNames) -> sqlx::migrate::Migrator {
                crate::common::migrator(DIALECT, tables)
            }

            /// The whole reference schema as one SQL script for these table names, to
            /// embed in an application's own migrations (then start the store with
            /// [`StoreOptions::run_migrations(false)`](crate::StoreOptions::run_migrations)).
            pub fn schema_sql(tables: &TableNames) -> String {
                crate::common::schema_sql(DIALECT, tables)
            }

            /// The pool the store runs on.
            pub fn pool(&self) -> &$Pool {
                &self.pool
            }

            /// The table names the store uses.
            pub fn table_names(&self) -> &TableNames {
                &self.sql.render.tables
            }
        }

        impl std::fmt::Debug for $Store {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($Store))
                    .field("pool_size", &self.pool.size())
                    .field("tables", &self.sql.render.tables)
                    .finish()
            }
        }
    };
}

pub(crate) use entry_impl;
