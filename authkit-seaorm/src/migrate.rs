//! authkit's schema as SeaORM migrations: the frozen files of [`authkit_schema`], run
//! for the connection's database, on the default table names.
//!
//! Two ways in:
//!
//! - an application with its own migrator appends [`migrations()`] to its list (they
//!   are then tracked in its `seaql_migrations`, or whatever table it names);
//! - an application that keeps no migrations runs [`Migrator`], which tracks them in
//!   its own table, `authkit_seaorm_migrations`, apart from `seaql_migrations` and from
//!   authkit-sqlx's `authkit_migrations`.
//!
//! Either way the schema is exactly the frozen schema, the one authkit-sqlx and the
//! schema verifier expect: a database migrated here can be opened by authkit-sqlx with
//! its migrations turned off, and the other way round.

use authkit_schema::{Dialect, TableNames};
use sea_orm::{ConnectionTrait, DbBackend, DbErr};
use sea_orm_migration::prelude::*;

/// The name of [`Migrator`]'s history table.
pub const HISTORY_TABLE: &str = "authkit_seaorm_migrations";

/// One frozen migration file of [`authkit_schema`], by its position in the list.
#[derive(Debug, Clone)]
pub struct AuthkitMigration {
    index: usize,
    name: String,
}

impl MigrationName for AuthkitMigration {
    fn name(&self) -> &str {
        &self.name
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AuthkitMigration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let dialect = dialect(manager.get_database_backend());
        let file = authkit_schema::migrations(dialect)
            .get(self.index)
            .ok_or_else(|| DbErr::Migration(format!("{}: no such file", self.name)))?;
        let sql = file.render(&TableNames::default());
        manager
            .get_connection()
            .execute_unprepared(&sql)
            .await
            .map(drop)
    }
}

/// The migrations, in order: append them to an application's
/// [`MigratorTrait::migrations`]. Their names (`authkit_0001_reference_schema`, …) do
/// not change, and the files they run are frozen.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    // The file list is the same on every dialect; PostgreSQL's names it.
    authkit_schema::migrations(Dialect::Postgres)
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let name = format!("authkit_{:04}_{}", file.version, file.name);
            Box::new(AuthkitMigration { index, name }) as Box<dyn MigrationTrait>
        })
        .collect()
}

/// A standalone migrator of authkit's tables, tracked in [`HISTORY_TABLE`]:
/// `Migrator::up(&db, None).await?`.
#[derive(Debug)]
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }

    fn migration_table_name() -> DynIden {
        Alias::new(HISTORY_TABLE).into_iden()
    }
}

/// The schema dialect of a SeaORM backend.
pub(crate) fn dialect(backend: DbBackend) -> Dialect {
    match backend {
        DbBackend::Postgres => Dialect::Postgres,
        DbBackend::MySql => Dialect::MySql,
        _ => Dialect::Sqlite,
    }
}
