//! The logical schema as data: every table's columns, primary key, indexes and foreign
//! keys, and what each logical type is in each dialect.

use crate::{Dialect, Table};

/// A column's logical type, mapped to a concrete type per dialect.
///
/// | logical | PostgreSQL | MySQL/MariaDB | SQLite |
/// |---|---|---|---|
/// | [`Uuid`](Self::Uuid) | `uuid` | `BINARY(16)` | `BLOB` (16 bytes) |
/// | [`Sha256`](Self::Sha256) | `bytea` | `BINARY(32)` | `BLOB` (32 bytes) |
/// | [`Timestamp`](Self::Timestamp) | `timestamptz` | `DATETIME(6)` holding UTC | `INTEGER` (Unix µs) |
/// | [`Text`](Self::Text) | `text` | `TEXT` | `TEXT` |
/// | [`ShortText`](Self::ShortText)`(n)` | `text` | `VARCHAR(n)` | `TEXT` |
/// | [`BigInt`](Self::BigInt) | `bigint` | `BIGINT` | `INTEGER` |
/// | [`Bytes`](Self::Bytes) | `bytea` | `LONGBLOB` | `BLOB` |
///
/// MySQL tables use the `utf8mb4_bin` collation, so text compares exactly, as on the
/// other databases.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogicalType {
    /// A UUID (authkit's ids are UUIDv7).
    Uuid,
    /// A SHA-256 digest, 32 bytes (token and key hashes).
    Sha256,
    /// A UTC instant to the microsecond.
    Timestamp,
    /// Unbounded text.
    Text,
    /// Short text that is indexed or compared, at most this many characters (the bound
    /// is enforced by MySQL's `VARCHAR(n)` only).
    ShortText(u16),
    /// A signed 64-bit counter.
    BigInt,
    /// Opaque bytes of any length.
    Bytes,
}

impl LogicalType {
    /// The type as migrations declare it in `dialect` (`uuid`, `BINARY(16)`, …).
    pub fn sql_type(self, dialect: Dialect) -> String {
        use LogicalType::*;
        match (dialect, self) {
            (Dialect::Postgres, Uuid) => "uuid".into(),
            (Dialect::Postgres, Sha256 | Bytes) => "bytea".into(),
            (Dialect::Postgres, Timestamp) => "timestamptz".into(),
            (Dialect::Postgres, Text | ShortText(_)) => "text".into(),
            (Dialect::Postgres, BigInt) => "bigint".into(),
            (Dialect::MySql, Uuid) => "BINARY(16)".into(),
            (Dialect::MySql, Sha256) => "BINARY(32)".into(),
            (Dialect::MySql, Timestamp) => "DATETIME(6)".into(),
            (Dialect::MySql, Text) => "TEXT".into(),
            (Dialect::MySql, ShortText(n)) => format!("VARCHAR({n})"),
            (Dialect::MySql, BigInt) => "BIGINT".into(),
            (Dialect::MySql, Bytes) => "LONGBLOB".into(),
            (Dialect::Sqlite, Uuid | Sha256 | Bytes) => "BLOB".into(),
            (Dialect::Sqlite, Timestamp | BigInt) => "INTEGER".into(),
            (Dialect::Sqlite, Text | ShortText(_)) => "TEXT".into(),
        }
    }

    /// Whether a live column of this type matches, as the verifier judges it:
    /// `data_type` is the type name as the catalogue spells it (PostgreSQL
    /// `data_type`, MySQL `DATA_TYPE`, SQLite's declared type), `column_type` the full
    /// type where the catalogue has one (MySQL `COLUMN_TYPE`). Case does not matter.
    ///
    /// Some equivalent types are accepted: `character varying` for text on PostgreSQL,
    /// any of `varchar`, `text`, `mediumtext`, `longtext` for text on MySQL, and
    /// `mediumblob` for bytes on MySQL.
    pub fn matches(self, dialect: Dialect, data_type: &str, column_type: &str) -> bool {
        use LogicalType::*;
        let data_type = data_type.to_ascii_lowercase();
        let column_type = column_type.to_ascii_lowercase();
        match dialect {
            Dialect::Postgres => match self {
                Uuid => data_type == "uuid",
                Sha256 | Bytes => data_type == "bytea",
                Timestamp => data_type == "timestamp with time zone",
                Text | ShortText(_) => data_type == "text" || data_type == "character varying",
                BigInt => data_type == "bigint",
            },
            Dialect::MySql => match self {
                Uuid => column_type == "binary(16)",
                Sha256 => column_type == "binary(32)",
                Timestamp => column_type == "datetime(6)",
                Text | ShortText(_) => {
                    matches!(
                        data_type.as_str(),
                        "varchar" | "text" | "mediumtext" | "longtext"
                    )
                }
                BigInt => data_type == "bigint",
                Bytes => matches!(data_type.as_str(), "mediumblob" | "longblob"),
            },
            Dialect::Sqlite => data_type == self.sql_type(dialect).to_ascii_lowercase(),
        }
    }

    /// The type as the verifier names it in a drift report (`bigint`, `text or
    /// varchar`, …).
    pub fn describe(self, dialect: Dialect) -> String {
        use LogicalType::*;
        match (dialect, self) {
            (Dialect::Postgres, Text | ShortText(_)) => "text or varchar".into(),
            (Dialect::MySql, Text | ShortText(_)) => "varchar or text".into(),
            (Dialect::MySql, Bytes) => "mediumblob or longblob".into(),
            _ => self.sql_type(dialect),
        }
    }
}

/// One column of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Column {
    /// The column's name (the same in every dialect and every configuration).
    pub name: &'static str,
    /// Its logical type.
    pub ty: LogicalType,
    /// Whether it may hold `NULL`.
    pub nullable: bool,
    /// Its default value, if any (the counters default to 0).
    pub default: Option<i64>,
}

const fn col(name: &'static str, ty: LogicalType) -> Column {
    Column {
        name,
        ty,
        nullable: false,
        default: None,
    }
}

const fn null(name: &'static str, ty: LogicalType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
        default: None,
    }
}

const fn counter(name: &'static str) -> Column {
    Column {
        name,
        ty: LogicalType::BigInt,
        nullable: false,
        default: Some(0),
    }
}

/// One key part of an index: a column, or an expression over one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexKey {
    /// The column itself.
    Column(&'static str),
    /// `lower(column)`: the column lowercased (ASCII letters at least; PostgreSQL and
    /// MySQL lowercase Unicode, SQLite ASCII only, which is why emails are lowercased
    /// by core before they are stored).
    ///
    /// MariaDB cannot index an expression, so on MySQL/MariaDB this key is a stored
    /// generated column named `<column>_lower`, `AS (LOWER(<column>)) STORED`, and the
    /// index is on that column ([`IndexKey::mysql_generated_column`]).
    Lower(&'static str),
}

impl IndexKey {
    /// The key as an index definition writes it in `dialect`: `token_hash`,
    /// `lower(email)`, or on MySQL `email_lower`.
    pub fn sql(self, dialect: Dialect) -> String {
        match (self, dialect) {
            (IndexKey::Column(c), _) => c.to_owned(),
            (IndexKey::Lower(c), Dialect::MySql) => format!("{c}_lower"),
            (IndexKey::Lower(c), Dialect::Postgres | Dialect::Sqlite) => format!("lower({c})"),
        }
    }

    /// The stored generated column MySQL needs for this key, if any: its name and the
    /// column it lowercases.
    pub fn mysql_generated_column(self) -> Option<(String, &'static str)> {
        match self {
            IndexKey::Column(_) => None,
            IndexKey::Lower(c) => Some((format!("{c}_lower"), c)),
        }
    }
}

/// How an index is named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexName {
    /// Declared inside `CREATE TABLE` as `UNIQUE (…)`: the database names it (so the
    /// name differs per database: PostgreSQL `<table>_<column>_key`, MySQL the first
    /// column, SQLite `sqlite_autoindex_<table>_<n>`). Only unique indexes are inline.
    Inline,
    /// `<table name>_<suffix>`, with the configured table name (`authkit_users_email_key`).
    Suffix(&'static str),
}

/// An index (or unique constraint) of a table. The verifier recognises a live index by
/// its keys, not by its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Index {
    /// How it is named.
    pub name: IndexName,
    /// Whether it is unique.
    pub unique: bool,
    /// Its key parts, in order.
    pub keys: &'static [IndexKey],
}

impl Index {
    /// The index's name for a table named `table_name`, or `None` when the database
    /// names it ([`IndexName::Inline`]).
    pub fn name_for(&self, table_name: &str) -> Option<String> {
        match self.name {
            IndexName::Inline => None,
            IndexName::Suffix(suffix) => Some(format!("{table_name}_{suffix}")),
        }
    }
}

const fn unique_inline(keys: &'static [IndexKey]) -> Index {
    Index {
        name: IndexName::Inline,
        unique: true,
        keys,
    }
}

const fn named(suffix: &'static str, keys: &'static [IndexKey]) -> Index {
    Index {
        name: IndexName::Suffix(suffix),
        unique: false,
        keys,
    }
}

const fn named_unique(suffix: &'static str, keys: &'static [IndexKey]) -> Index {
    Index {
        name: IndexName::Suffix(suffix),
        unique: true,
        keys,
    }
}

/// What happens to referencing rows when the referenced row is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnDelete {
    /// `ON DELETE CASCADE`: they are deleted in the same statement.
    Cascade,
}

impl OnDelete {
    /// The clause as SQL writes it (`ON DELETE CASCADE`).
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::Cascade => "ON DELETE CASCADE",
        }
    }
}

/// A foreign key of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ForeignKey {
    /// The referencing columns.
    pub columns: &'static [&'static str],
    /// The referenced table.
    pub references: Table,
    /// The referenced columns (its primary key).
    pub referenced_columns: &'static [&'static str],
    /// What a delete of the referenced row does.
    pub on_delete: OnDelete,
}

const fn cascade(columns: &'static [&'static str], references: Table) -> ForeignKey {
    ForeignKey {
        columns,
        references,
        referenced_columns: &["id"],
        on_delete: OnDelete::Cascade,
    }
}

/// One table of the logical schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TableDef {
    /// Which table (its name comes from [`TableNames`](crate::TableNames)).
    pub table: Table,
    /// Its columns, in order.
    pub columns: &'static [Column],
    /// Its primary key's columns.
    pub primary_key: &'static [&'static str],
    /// Its indexes and unique constraints, primary key excluded.
    pub indexes: &'static [Index],
    /// Its foreign keys.
    pub foreign_keys: &'static [ForeignKey],
}

impl TableDef {
    /// The definition of `table`, or `None` for [`Table::Migrations`] (its columns
    /// belong to the migrator that keeps it).
    pub fn of(table: Table) -> Option<&'static TableDef> {
        TABLES.iter().find(|def| def.table == table)
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

use IndexKey::{Column as C, Lower};
use LogicalType::*;

/// Every table of the logical schema, in creation order (a table comes after the
/// tables it references). [`Table::Migrations`] is not among them.
pub const TABLES: &[TableDef] = &[
    TableDef {
        table: Table::Users,
        columns: &[
            col("id", Uuid),
            col("email", ShortText(254)),
            null("password_hash", Text),
            null("email_verified_at", Timestamp),
            col("created_at", Timestamp),
            col("updated_at", Timestamp),
        ],
        primary_key: &["id"],
        indexes: &[named_unique("email_key", &[Lower("email")])],
        foreign_keys: &[],
    },
    TableDef {
        table: Table::Sessions,
        columns: &[
            col("id", Uuid),
            col("user_id", Uuid),
            col("token_hash", Sha256),
            col("created_at", Timestamp),
            col("last_seen_at", Timestamp),
            col("idle_expires_at", Timestamp),
            col("absolute_expires_at", Timestamp),
            null("payload", Bytes),
        ],
        primary_key: &["id"],
        indexes: &[
            unique_inline(&[C("token_hash")]),
            named("user_idx", &[C("user_id")]),
            named("idle_idx", &[C("idle_expires_at")]),
            named("absolute_idx", &[C("absolute_expires_at")]),
        ],
        foreign_keys: &[cascade(&["user_id"], Table::Users)],
    },
    TableDef {
        table: Table::RefreshTokens,
        columns: &[
            col("id", Uuid),
            col("family_id", Uuid),
            col("user_id", Uuid),
            col("token_hash", Sha256),
            col("audience", ShortText(255)),
            null("profile", ShortText(255)),
            col("chain_started_at", Timestamp),
            col("created_at", Timestamp),
            col("expires_at", Timestamp),
            null("consumed_at", Timestamp),
            counter("rotations"),
            null("revoked_at", Timestamp),
        ],
        primary_key: &["id"],
        indexes: &[
            unique_inline(&[C("token_hash")]),
            named("family_idx", &[C("family_id")]),
            named("user_idx", &[C("user_id")]),
            named("expires_idx", &[C("expires_at")]),
        ],
        foreign_keys: &[cascade(&["user_id"], Table::Users)],
    },
    TableDef {
        table: Table::OneTimeTokens,
        columns: &[
            col("id", Uuid),
            col("user_id", Uuid),
            col("purpose", ShortText(32)),
            col("token_hash", Sha256),
            col("created_at", Timestamp),
            col("expires_at", Timestamp),
            null("consumed_at", Timestamp),
            counter("failed_attempts"),
        ],
        primary_key: &["id"],
        indexes: &[
            unique_inline(&[C("token_hash")]),
            named("user_idx", &[C("user_id"), C("purpose"), C("created_at")]),
            named("expires_idx", &[C("expires_at")]),
            named("consumed_idx", &[C("consumed_at")]),
        ],
        foreign_keys: &[cascade(&["user_id"], Table::Users)],
    },
    TableDef {
        table: Table::ApiKeys,
        columns: &[
            col("id", Uuid),
            col("prefix", ShortText(64)),
            col("key_hash", Sha256),
            col("key_type", ShortText(8)),
            col("environment", ShortText(8)),
            null("owner_id", Uuid),
            null("organization_id", ShortText(255)),
            col("name", Text),
            null("description", Text),
            col("scopes", Text),
            col("allowed_ips", Text),
            col("metadata", Text),
            col("created_at", Timestamp),
            null("expires_at", Timestamp),
            null("revoked_at", Timestamp),
            null("revoked_reason", Text),
            counter("usage_count"),
            null("last_used_at", Timestamp),
            null("last_used_ip", ShortText(64)),
            // Since migration 2.
            counter("rate_limit"),
            counter("rate_window_seconds"),
            null("rate_window_started_at", Timestamp),
            counter("rate_count"),
            null("acts_for_user_id", Uuid),
            null("last_used_user_agent", ShortText(256)),
        ],
        primary_key: &["id"],
        indexes: &[
            unique_inline(&[C("key_hash")]),
            named("owner_idx", &[C("owner_id"), C("created_at")]),
            named("expires_idx", &[C("expires_at")]),
            named("acts_for_idx", &[C("acts_for_user_id")]),
        ],
        foreign_keys: &[
            cascade(&["owner_id"], Table::Users),
            cascade(&["acts_for_user_id"], Table::Users),
        ],
    },
    TableDef {
        table: Table::RbacItems,
        columns: &[
            col("id", Uuid),
            col("kind", ShortText(16)),
            col("slug", ShortText(64)),
            col("label", Text),
        ],
        primary_key: &["id"],
        indexes: &[unique_inline(&[C("kind"), C("slug")])],
        foreign_keys: &[],
    },
    TableDef {
        table: Table::RoleGrants,
        columns: &[col("role_id", Uuid), col("item_id", Uuid)],
        primary_key: &["role_id", "item_id"],
        indexes: &[named("item_idx", &[C("item_id")])],
        foreign_keys: &[
            cascade(&["role_id"], Table::RbacItems),
            cascade(&["item_id"], Table::RbacItems),
        ],
    },
    TableDef {
        table: Table::UserRoles,
        columns: &[col("user_id", Uuid), col("role_id", Uuid)],
        primary_key: &["user_id", "role_id"],
        indexes: &[named("role_idx", &[C("role_id")])],
        foreign_keys: &[
            cascade(&["user_id"], Table::Users),
            cascade(&["role_id"], Table::RbacItems),
        ],
    },
    TableDef {
        table: Table::UserGrants,
        columns: &[col("user_id", Uuid), col("item_id", Uuid)],
        primary_key: &["user_id", "item_id"],
        indexes: &[named("item_idx", &[C("item_id")])],
        foreign_keys: &[
            cascade(&["user_id"], Table::Users),
            cascade(&["item_id"], Table::RbacItems),
        ],
    },
    TableDef {
        table: Table::ApiKeyRoles,
        columns: &[col("key_id", Uuid), col("role_id", Uuid)],
        primary_key: &["key_id", "role_id"],
        indexes: &[named("role_idx", &[C("role_id")])],
        foreign_keys: &[
            cascade(&["key_id"], Table::ApiKeys),
            cascade(&["role_id"], Table::RbacItems),
        ],
    },
];
