//! Table names: the `authkit_` defaults, a prefix, or a name per table, all validated;
//! and the PostgreSQL namespace the tables live in.

use std::fmt;

use crate::Dialect;

/// The longest table (or namespace) name accepted, in bytes. Index names are derived
/// from table names (`<table>_<suffix>`, suffixes up to 15 bytes), and PostgreSQL cuts
/// identifiers at 63 bytes, MySQL at 64.
pub const MAX_TABLE_NAME: usize = 48;

/// One of the tables authkit owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Table {
    /// Users (`authkit_users`).
    Users,
    /// Sessions (`authkit_sessions`).
    Sessions,
    /// Refresh tokens (`authkit_refresh_tokens`).
    RefreshTokens,
    /// One-time tokens and OTP codes (`authkit_one_time_tokens`).
    OneTimeTokens,
    /// API and service keys (`authkit_api_keys`).
    ApiKeys,
    /// Roles, permissions and abilities (`authkit_rbac_items`).
    RbacItems,
    /// Role → permission/ability grants (`authkit_role_grants`).
    RoleGrants,
    /// User → role assignments (`authkit_user_roles`).
    UserRoles,
    /// User → permission/ability grants (`authkit_user_grants`).
    UserGrants,
    /// API key → role assignments (`authkit_api_key_roles`), since migration 2.
    ApiKeyRoles,
    /// authkit's own migrations table (`authkit_migrations`), apart from an ORM's
    /// default one (sqlx's `_sqlx_migrations`, …) so that an application's own
    /// migrations are not disturbed. Its columns belong to the migrator that keeps it,
    /// so it has no [`TableDef`](crate::TableDef).
    Migrations,
}

impl Table {
    /// Every table, in creation order.
    pub const ALL: [Table; 11] = [
        Table::Users,
        Table::Sessions,
        Table::RefreshTokens,
        Table::OneTimeTokens,
        Table::ApiKeys,
        Table::RbacItems,
        Table::RoleGrants,
        Table::UserRoles,
        Table::UserGrants,
        Table::ApiKeyRoles,
        Table::Migrations,
    ];

    /// The name after the prefix: `users`, `sessions`, `refresh_tokens`, …. It is also
    /// the table's placeholder in migration templates (`{users}`).
    pub fn suffix(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::Sessions => "sessions",
            Table::RefreshTokens => "refresh_tokens",
            Table::OneTimeTokens => "one_time_tokens",
            Table::ApiKeys => "api_keys",
            Table::RbacItems => "rbac_items",
            Table::RoleGrants => "role_grants",
            Table::UserRoles => "user_roles",
            Table::UserGrants => "user_grants",
            Table::ApiKeyRoles => "api_key_roles",
            Table::Migrations => "migrations",
        }
    }

    /// The table whose [`suffix`](Self::suffix) is `suffix`.
    pub fn from_suffix(suffix: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.suffix() == suffix)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A table name, prefix or namespace that is not a safe SQL identifier, or a name used
/// twice.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid table name {name:?}: {reason}")]
pub struct InvalidTableName {
    /// The name (or, for a prefix, the first name it produced) that was refused.
    pub name: String,
    /// Why it was refused.
    pub reason: &'static str,
}

/// Names set with a namespace for a database that has none (only PostgreSQL has
/// namespaces, there called schemas). Returned by [`TableNames::check_dialect`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the table names are in namespace {namespace:?}, but {dialect:?} has no namespaces \
     (only PostgreSQL has): leave the namespace unset"
)]
pub struct UnsupportedNamespace {
    /// The namespace that was set.
    pub namespace: String,
    /// The dialect that cannot honour it.
    pub dialect: Dialect,
}

/// The names of authkit's tables, validated as SQL identifiers, and the PostgreSQL
/// namespace (schema) they live in.
///
/// Names are lowercase ASCII letters, digits and `_`, start with a letter or `_`, and are
/// at most [`MAX_TABLE_NAME`] bytes: the same spelling then means the same table on every
/// database (no case folding, no quoting rules to remember). Rendered SQL quotes them
/// anyway, so a name that happens to be a reserved word still works.
///
/// ```
/// use authkit_schema::{Dialect, Table, TableNames};
///
/// let names = TableNames::with_prefix("myapp_auth_")?.set(Table::Users, "accounts")?;
/// assert_eq!(names.get(Table::Users), "accounts");
/// assert_eq!(names.get(Table::Sessions), "myapp_auth_sessions");
/// assert!(TableNames::with_prefix("bad-prefix").is_err());
///
/// // PostgreSQL only: every table in the schema `auth`, qualified and quoted.
/// let names = TableNames::default().in_namespace("auth")?;
/// assert_eq!(names.qualified(Table::Users, Dialect::Postgres), r#""auth"."authkit_users""#);
/// # Ok::<(), authkit_schema::InvalidTableName>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TableNames {
    names: [String; Table::ALL.len()],
    namespace: Option<String>,
}

impl Default for TableNames {
    /// The reference names: `authkit_users`, `authkit_sessions`, …, `authkit_migrations`,
    /// in no namespace (PostgreSQL: the connection's current schema, the first of its
    /// `search_path`).
    fn default() -> Self {
        TableNames {
            names: Table::ALL.map(|t| format!("authkit_{}", t.suffix())),
            namespace: None,
        }
    }
}

impl fmt::Debug for TableNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        if let Some(namespace) = &self.namespace {
            map.entry(&"namespace", namespace);
        }
        for table in Table::ALL {
            map.entry(&table, &self.get(table));
        }
        map.finish()
    }
}

impl TableNames {
    /// Every table named `<prefix><suffix>` (`myapp_users`, …). The prefix may be empty.
    pub fn with_prefix(prefix: &str) -> Result<Self, InvalidTableName> {
        let names = Table::ALL.map(|t| format!("{prefix}{}", t.suffix()));
        for name in &names {
            validate(name)?;
        }
        Ok(TableNames {
            names,
            namespace: None,
        })
    }

    /// Renames one table. Fails if the name is not a valid identifier or is already the
    /// name of another authkit table.
    pub fn set(mut self, table: Table, name: &str) -> Result<Self, InvalidTableName> {
        validate(name)?;
        let taken = Table::ALL
            .into_iter()
            .any(|other| other != table && self.get(other) == name);
        if taken {
            return Err(InvalidTableName {
                name: name.to_owned(),
                reason: "already the name of another authkit table",
            });
        }
        self.names[table.index()] = name.to_owned();
        Ok(self)
    }

    /// Puts every table, the migrations table included, in the PostgreSQL schema
    /// `namespace` (validated like a table name). Every name in rendered SQL is then
    /// qualified (`"auth"."authkit_users"`), so the connection's `search_path` does not
    /// matter. PostgreSQL only: see [`check_dialect`](Self::check_dialect), and the
    /// [crate docs](crate#table-names-and-namespaces) for which backend honours it.
    pub fn in_namespace(mut self, namespace: &str) -> Result<Self, InvalidTableName> {
        validate(namespace)?;
        self.namespace = Some(namespace.to_owned());
        Ok(self)
    }

    /// The names as they are, in no namespace.
    pub fn without_namespace(mut self) -> Self {
        self.namespace = None;
        self
    }

    /// The name of `table`, unqualified and unquoted.
    pub fn get(&self, table: Table) -> &str {
        &self.names[table.index()]
    }

    /// The PostgreSQL namespace, if one was set.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The table as SQL refers to it in `dialect`: quoted, and qualified with the
    /// namespace on PostgreSQL when one is set.
    pub fn qualified(&self, table: Table, dialect: Dialect) -> String {
        let name = dialect.quote(self.get(table));
        match (dialect, &self.namespace) {
            (Dialect::Postgres, Some(namespace)) => format!("{}.{name}", dialect.quote(namespace)),
            _ => name,
        }
    }

    /// Fails when a namespace is set and `dialect` has no namespaces (anything but
    /// PostgreSQL). A backend calls this before it renders SQL, so that a namespace is
    /// never silently dropped.
    pub fn check_dialect(&self, dialect: Dialect) -> Result<(), UnsupportedNamespace> {
        match &self.namespace {
            Some(namespace) if !dialect.has_namespaces() => Err(UnsupportedNamespace {
                namespace: namespace.clone(),
                dialect,
            }),
            _ => Ok(()),
        }
    }
}

/// Checks that `name` is a lowercase SQL identifier of at most [`MAX_TABLE_NAME`] bytes.
fn validate(name: &str) -> Result<(), InvalidTableName> {
    let refuse = |reason| {
        Err(InvalidTableName {
            name: name.to_owned(),
            reason,
        })
    };
    let Some(first) = name.bytes().next() else {
        return refuse("empty");
    };
    if name.len() > MAX_TABLE_NAME {
        return refuse("longer than 48 bytes");
    }
    if !(first.is_ascii_lowercase() || first == b'_') {
        return refuse("must start with a lowercase ASCII letter or `_`");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return refuse("only lowercase ASCII letters, digits and `_` are allowed");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn defaults_and_prefix() {
        let names = TableNames::default();
        assert_eq!(names.get(Table::Users), "authkit_users");
        assert_eq!(names.get(Table::Migrations), "authkit_migrations");
        assert_eq!(names.namespace(), None);
        let names = TableNames::with_prefix("").unwrap();
        assert_eq!(names.get(Table::OneTimeTokens), "one_time_tokens");
        for table in Table::ALL {
            assert_eq!(Table::from_suffix(table.suffix()), Some(table));
        }
    }

    #[test]
    fn refuses_bad_names() {
        for bad in [
            "",
            "Users",
            "1users",
            "users;drop",
            "a b",
            "\"x\"",
            "ü",
            &"x".repeat(49),
        ] {
            assert!(validate(bad).is_err(), "{bad:?} accepted");
            assert!(TableNames::default().in_namespace(bad).is_err(), "{bad:?}");
        }
        assert!(TableNames::with_prefix("X_").is_err());
        assert!(TableNames::with_prefix(&"p".repeat(40)).is_err());
        let err = TableNames::default()
            .set(Table::Users, "authkit_sessions")
            .unwrap_err();
        assert_eq!(err.reason, "already the name of another authkit table");
    }

    #[test]
    fn qualified_names() {
        let names = TableNames::default();
        assert_eq!(
            names.qualified(Table::Users, Dialect::Postgres),
            "\"authkit_users\""
        );
        assert_eq!(
            names.qualified(Table::Users, Dialect::MySql),
            "`authkit_users`"
        );
        let names = names.in_namespace("auth").unwrap();
        assert_eq!(
            names.qualified(Table::Sessions, Dialect::Postgres),
            "\"auth\".\"authkit_sessions\""
        );
        assert!(names.check_dialect(Dialect::Postgres).is_ok());
        let err = names.check_dialect(Dialect::Sqlite).unwrap_err();
        assert_eq!(err.dialect, Dialect::Sqlite);
        assert!(
            names
                .without_namespace()
                .check_dialect(Dialect::MySql)
                .is_ok()
        );
    }
}
