//! The migrations: checked-in, frozen template files, embedded in the crate.

use crate::{Dialect, TableNames};

/// One migration of one dialect: a numbered, frozen SQL template
/// (`migrations/<dialect>/<version>_<name>.sql`), rendered with the application's
/// [`TableNames`] when it is applied.
///
/// The template never changes once released (see the
/// [crate docs](crate#migrations-and-the-freeze-rule)), so for a given configuration
/// [`render`](Self::render) returns the same bytes forever, and a migrator that
/// checksums what it applied (sqlx does) keeps accepting every deployed database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Migration {
    /// The version, from 1, without gaps; applied in this order.
    pub version: i64,
    /// The name after the number (`reference_schema`).
    pub name: &'static str,
    /// The dialect it is written in.
    pub dialect: Dialect,
    /// The file's text, placeholders unrendered (see [`render`](crate::render())).
    pub template: &'static str,
}

impl Migration {
    /// The SQL to run for these names: the template with every placeholder filled in.
    /// The namespace of `names` counts on PostgreSQL only (see
    /// [`TableNames::check_dialect`]).
    pub fn render(&self, names: &TableNames) -> String {
        crate::render(self.template, self.dialect, names)
    }

    /// The file's name, `0001_reference_schema.sql`.
    pub fn file_name(&self) -> String {
        format!("{:04}_{}.sql", self.version, self.name)
    }

    /// The file's path inside the crate, `migrations/postgres/0001_reference_schema.sql`.
    pub fn path(&self) -> String {
        format!("migrations/{}/{}", self.dialect.dir(), self.file_name())
    }
}

// Each entry names its file literally; a test checks that the list and the folder agree
// (no file left out, names and versions as the entry says).

const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "reference_schema",
        dialect: Dialect::Postgres,
        template: include_str!("../migrations/postgres/0001_reference_schema.sql"),
    },
    Migration {
        version: 2,
        name: "key_limits_and_roles",
        dialect: Dialect::Postgres,
        template: include_str!("../migrations/postgres/0002_key_limits_and_roles.sql"),
    },
];

const MYSQL: &[Migration] = &[
    Migration {
        version: 1,
        name: "reference_schema",
        dialect: Dialect::MySql,
        template: include_str!("../migrations/mysql/0001_reference_schema.sql"),
    },
    Migration {
        version: 2,
        name: "key_limits_and_roles",
        dialect: Dialect::MySql,
        template: include_str!("../migrations/mysql/0002_key_limits_and_roles.sql"),
    },
];

const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "reference_schema",
        dialect: Dialect::Sqlite,
        template: include_str!("../migrations/sqlite/0001_reference_schema.sql"),
    },
    Migration {
        version: 2,
        name: "key_limits_and_roles",
        dialect: Dialect::Sqlite,
        template: include_str!("../migrations/sqlite/0002_key_limits_and_roles.sql"),
    },
];

/// Every migration of `dialect`, in version order.
///
/// ```
/// use authkit_schema::{Dialect, TableNames, migrations};
///
/// let names = TableNames::with_prefix("auth_")?;
/// for migration in migrations(Dialect::Sqlite) {
///     let sql = migration.render(&names);
///     assert!(sql.contains(r#""auth_"#));
///     // …hand `migration.version` and `sql` to your migrator.
/// }
/// assert!(migrations(Dialect::Sqlite)[0].render(&names).contains(r#"CREATE TABLE "auth_users""#));
/// # Ok::<(), authkit_schema::InvalidTableName>(())
/// ```
pub fn migrations(dialect: Dialect) -> &'static [Migration] {
    match dialect {
        Dialect::Postgres => POSTGRES,
        Dialect::MySql => MYSQL,
        Dialect::Sqlite => SQLITE,
    }
}
