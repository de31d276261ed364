//! authkit's migrations as sqlx migrations: the schema crate's frozen files, rendered
//! for the configured names, tracked in authkit's own table.

use std::borrow::Cow;

use authkit_schema::{Dialect, Table, TableNames};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AssertSqlSafe, SqlSafeStr};

/// The migrations of `dialect`, in order, rendered for `names`, tracked in
/// [`Table::Migrations`] (never in sqlx's `_sqlx_migrations`).
///
/// Checksums: sqlx records the SHA-384 of each applied migration and refuses to start
/// when it changes. The files are frozen, so for given names the text, and so the
/// checksum, never changes. The checksum is taken over the text rendered *without* the
/// namespace: a database migrated with its tables found through `search_path` keeps
/// its checksums when the application names the same schema as the namespace instead.
pub(crate) fn migrator(dialect: Dialect, names: &TableNames) -> Migrator {
    let plain = names.clone().without_namespace();
    let migrations = authkit_schema::migrations(dialect)
        .iter()
        .map(|m| {
            let description: Cow<'static, str> =
                format!("authkit {}", m.name.replace('_', " ")).into();
            // `Migration::new` computes the checksum from the text it is given.
            let mut migration = Migration::new(
                m.version,
                description,
                MigrationType::Simple,
                AssertSqlSafe(m.render(&plain)).into_sql_str(),
                false,
            );
            if names.namespace().is_some() {
                migration.sql = AssertSqlSafe(m.render(names)).into_sql_str();
            }
            migration
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(names.qualified(Table::Migrations, dialect));
    // During a rolling upgrade an older instance meets migrations a newer one applied:
    // they only add, so the older instance may go on.
    migrator.set_ignore_missing(true);
    migrator
}

/// The whole current schema as one script (the schema crate's snapshot, rendered).
pub(crate) fn schema_sql(dialect: Dialect, names: &TableNames) -> String {
    authkit_schema::render(&authkit_schema::schema_template(dialect), dialect, names)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod tests {
    use super::*;

    /// The SHA-384 sqlx recorded for migration 1 when it was generated from Rust code
    /// (before the schema crate), default names: deployed databases hold these.
    const DEPLOYED: [(Dialect, &str); 3] = [
        (
            Dialect::Postgres,
            "4a9ac119aad94605c4aaf41ecd8b3e60d9c793e41c4a39c3b17f8c0950016e59\
             95af1f19eaae1f3dd549ef0d7ffdf6d4",
        ),
        (
            Dialect::MySql,
            "5343aeabfa328adc8e1f4d513e5878b0c32a47914ff5c7550cafe7e869dfcd82\
             0458b265970a8bd8ca71a4225d7c98df",
        ),
        (
            Dialect::Sqlite,
            "ea1baf0953d1ae3be1f4effeac66d0c7f1a18983b19fe284cff086be5f01fd4b\
             38ceba4d6d8e03e5f1c7091f789b7ad7",
        ),
    ];

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn migration_1_keeps_the_deployed_checksum() {
        for (dialect, deployed) in DEPLOYED {
            let migrator = migrator(dialect, &TableNames::default());
            let first = migrator.iter().next().unwrap();
            assert_eq!(first.version, 1);
            assert_eq!(hex(&first.checksum), deployed, "{dialect:?}");
        }
    }

    #[test]
    fn the_namespace_leaves_the_checksum_alone() {
        let plain = migrator(Dialect::Postgres, &TableNames::default());
        let names = TableNames::default().in_namespace("auth").unwrap();
        let spaced = migrator(Dialect::Postgres, &names);
        let (a, b) = (plain.iter().next().unwrap(), spaced.iter().next().unwrap());
        assert_eq!(a.checksum, b.checksum);
        assert!(b.sql.as_str().contains("\"auth\".\"authkit_users\""));
        assert_eq!(spaced.table_name, "\"auth\".\"authkit_migrations\"");
    }
}
