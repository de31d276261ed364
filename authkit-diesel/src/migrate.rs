//! authkit's migrations for Diesel: the schema crate's frozen files on the default
//! table names, run by the store (tracked in authkit's own `authkit_migrations`) or by
//! the application's Diesel tooling ([`migration_source`], tracked where Diesel tracks
//! everything, `__diesel_schema_migrations`).

use std::fmt;

use authkit_schema::{Dialect, TableNames};
use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{self, Migration, MigrationMetadata, MigrationName, MigrationVersion};
use sha2::{Digest, Sha384};

/// The table the stores record applied migrations in, the one authkit-sqlx uses too
/// (same columns, same checksums), so either crate accepts a database the other
/// migrated.
pub const MIGRATIONS_TABLE: &str = "authkit_migrations";

diesel::table! {
    /// authkit's migration history (the layout of sqlx's migrator).
    authkit_migrations (version) {
        version -> BigInt,
        description -> Text,
        success -> Bool,
        checksum -> Binary,
        execution_time -> BigInt,
    }
}

/// The history table's DDL, as sqlx's migrator creates it.
pub(crate) fn history_ddl(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "CREATE TABLE IF NOT EXISTS authkit_migrations (version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), \
             success BOOLEAN NOT NULL, checksum BYTEA NOT NULL, \
             execution_time BIGINT NOT NULL)"
        }
        Dialect::MySql => {
            "CREATE TABLE IF NOT EXISTS authkit_migrations (version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
             success BOOLEAN NOT NULL, checksum BLOB NOT NULL, \
             execution_time BIGINT NOT NULL)"
        }
        Dialect::Sqlite => {
            "CREATE TABLE IF NOT EXISTS authkit_migrations (version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, \
             installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
             success BOOLEAN NOT NULL, checksum BLOB NOT NULL, \
             execution_time BIGINT NOT NULL)"
        }
    }
}

/// One of authkit's migrations, rendered for the default table names.
#[derive(Debug, Clone)]
pub(crate) struct Rendered {
    pub(crate) version: i64,
    pub(crate) description: String,
    pub(crate) sql: String,
}

impl Rendered {
    /// The SHA-384 of the text, as sqlx records it.
    pub(crate) fn checksum(&self) -> Vec<u8> {
        Sha384::digest(self.sql.as_bytes()).to_vec()
    }
}

/// The migrations of `dialect`, in order, for the default table names.
pub(crate) fn rendered(dialect: Dialect) -> Vec<Rendered> {
    let names = TableNames::default();
    authkit_schema::migrations(dialect)
        .iter()
        .map(|m| Rendered {
            version: m.version,
            description: format!("authkit {}", m.name.replace('_', " ")),
            sql: m.render(&names),
        })
        .collect()
}

/// A recorded migration whose text no longer matches authkit's file, or that failed.
#[derive(Debug, thiserror::Error)]
#[error("authkit migration {version} {problem}")]
pub(crate) struct HistoryMismatch {
    pub(crate) version: i64,
    pub(crate) problem: &'static str,
}

/// authkit's migrations as a Diesel [`MigrationSource`](diesel::migration::MigrationSource),
/// for an application that runs every migration with its own Diesel tooling
/// (`diesel_migrations`' `MigrationHarness::run_pending_migrations`, on a sync connection
/// or diesel-async's `AsyncMigrationHarness`).
///
/// Versions are `authkit_0001`, `authkit_0002`, …, so they never collide with the
/// application's own (Diesel orders versions as text). Diesel records them in its own
/// `__diesel_schema_migrations` (its name is fixed); open a database migrated this way
/// with the store's `without_migrations` constructor, since the store's own runner
/// tracks `authkit_migrations` and would not know these were applied.
#[derive(Debug, Clone, Copy)]
pub struct MigrationSource {
    dialect: Dialect,
}

/// authkit's migrations for `dialect` as a Diesel migration source (see
/// [`MigrationSource`]).
pub fn migration_source(dialect: Dialect) -> MigrationSource {
    MigrationSource { dialect }
}

/// One migration as Diesel runs it.
struct DieselMigration {
    name: String,
    version: String,
    sql: String,
}

impl fmt::Display for DieselMigration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl MigrationName for DieselMigration {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(self.version.as_str())
    }
}

impl MigrationMetadata for DieselMigration {}

/// No down migrations: authkit's schema only ever grows.
#[derive(Debug, thiserror::Error)]
#[error("authkit migrations cannot be reverted")]
struct NoRevert;

impl<DB: Backend> Migration<DB> for DieselMigration {
    fn run(&self, conn: &mut dyn BoxableConnection<DB>) -> migration::Result<()> {
        conn.batch_execute(&self.sql)?;
        Ok(())
    }

    fn revert(&self, _conn: &mut dyn BoxableConnection<DB>) -> migration::Result<()> {
        Err(Box::new(NoRevert))
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        self
    }

    fn name(&self) -> &dyn MigrationName {
        self
    }
}

impl<DB: Backend> diesel::migration::MigrationSource<DB> for MigrationSource {
    fn migrations(&self) -> migration::Result<Vec<Box<dyn Migration<DB>>>> {
        Ok(authkit_schema::migrations(self.dialect)
            .iter()
            .map(|m| {
                Box::new(DieselMigration {
                    name: format!("authkit_{:04}_{}", m.version, m.name),
                    version: format!("authkit_{:04}", m.version),
                    sql: m.render(&TableNames::default()),
                }) as Box<dyn Migration<DB>>
            })
            .collect())
    }
}
