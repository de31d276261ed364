//! The three SQL dialects authkit's schema is written for.

/// A SQL dialect: the database family a migration file, a DDL rendering or a catalogue
/// reading belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    /// PostgreSQL 13 or later.
    Postgres,
    /// MySQL 8 or MariaDB 10.6 or later.
    MySql,
    /// SQLite 3.35 or later.
    Sqlite,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

    /// The folder of this dialect's migration files (`migrations/<dir>/`): `postgres`,
    /// `mysql`, `sqlite`.
    pub fn dir(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// Quotes an identifier: `"name"` (PostgreSQL, SQLite) or `` `name` `` (MySQL).
    ///
    /// Meant for names validated by [`TableNames`](crate::TableNames) (lowercase
    /// letters, digits, `_`), which never contain a quote; any quote character inside
    /// `ident` is doubled anyway, so the result is one identifier whatever it holds.
    pub fn quote(self, ident: &str) -> String {
        match self {
            Dialect::MySql => format!("`{}`", ident.replace('`', "``")),
            Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", ident.replace('"', "\"\"")),
        }
    }

    /// Whether the dialect has namespaces that [`TableNames::in_namespace`] can name:
    /// PostgreSQL only.
    ///
    /// [`TableNames::in_namespace`]: crate::TableNames::in_namespace
    pub fn has_namespaces(self) -> bool {
        self == Dialect::Postgres
    }
}
