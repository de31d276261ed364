//! The drift verifier: the live schema, as a backend reads it from the database's
//! catalogue, compared with the logical one.

use std::collections::HashMap;
use std::fmt;

use crate::{Dialect, IndexName, TableDef, TableNames};

/// One column as the database's catalogue describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveColumn {
    /// The table's name, unqualified.
    pub table: String,
    /// The column's name.
    pub column: String,
    /// The type name: PostgreSQL `information_schema.columns.data_type`, MySQL
    /// `DATA_TYPE`, SQLite's declared type (`pragma_table_info.type`).
    pub data_type: String,
    /// The full type where the catalogue has one (MySQL `COLUMN_TYPE`, such as
    /// `binary(16)`), else empty.
    pub column_type: String,
    /// Whether the column accepts `NULL`.
    pub nullable: bool,
}

/// One index (primary key and unique constraints included) as the database's catalogue
/// describes it.
///
/// A live index is recognised by its keys, never by its name: unique constraints are
/// named by the database, differently on each. The verifier compares keys after
/// lowercasing them and dropping whitespace, identifier quotes, `::type` casts and
/// parentheses around a bare name, so `lower((email)::text)` (PostgreSQL on a
/// `varchar`) matches `lower(email)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveIndex {
    /// The table's name, unqualified.
    pub table: String,
    /// The index's name, as the catalogue has it (only used in reports).
    pub name: String,
    /// Whether it is unique (a primary key is).
    pub unique: bool,
    /// Its key parts in order, each a column name or an expression's text as the
    /// catalogue reports it: PostgreSQL `pg_get_indexdef(indexrelid, n, true)`, MySQL
    /// `information_schema.STATISTICS.COLUMN_NAME`, SQLite `pragma_index_info.name`
    /// (for an expression, its text from the index's `CREATE INDEX` in `sqlite_master`).
    pub keys: Vec<String>,
}

/// One foreign key as the database's catalogue describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveForeignKey {
    /// The referencing table's name, unqualified.
    pub table: String,
    /// The referencing columns, in order.
    pub columns: Vec<String>,
    /// The referenced table's name, unqualified.
    pub referenced_table: String,
    /// The referenced columns, in order.
    pub referenced_columns: Vec<String>,
    /// The delete rule spelled as SQL writes it: `CASCADE`, `NO ACTION`, `RESTRICT`,
    /// `SET NULL`, `SET DEFAULT` (MySQL `REFERENTIAL_CONSTRAINTS.DELETE_RULE` and
    /// SQLite `pragma_foreign_key_list.on_delete` already are; PostgreSQL's
    /// `pg_constraint.confdeltype` letter must be translated).
    pub on_delete: String,
}

/// Everything a backend read from the catalogue about authkit's tables (rows about other
/// tables are ignored).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Catalogue {
    /// Every column.
    pub columns: Vec<LiveColumn>,
    /// Every index, primary keys and unique constraints included.
    pub indexes: Vec<LiveIndex>,
    /// Every foreign key.
    pub foreign_keys: Vec<LiveForeignKey>,
}

/// One difference between the live schema and the logical one that matters. Extra
/// tables, columns, indexes and foreign keys never do.
///
/// Its [`Display`](fmt::Display) starts with `table` or `table.column` and says what is
/// wrong, such as `authkit_sessions.payload: missing column`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Problem {
    /// The table does not exist (nothing else is reported about it).
    MissingTable {
        /// The table's name.
        table: String,
    },
    /// The column does not exist.
    MissingColumn {
        /// The table's name.
        table: String,
        /// The column's name.
        column: String,
    },
    /// The column's type is not the expected one.
    TypeDrift {
        /// The table's name.
        table: String,
        /// The column's name.
        column: String,
        /// The expected type, as [`LogicalType::describe`](crate::LogicalType::describe)
        /// names it.
        expected: String,
        /// The type found (the full type where the catalogue has one).
        found: String,
    },
    /// The column accepts `NULL` and should not, or the reverse.
    NullabilityDrift {
        /// The table's name.
        table: String,
        /// The column's name.
        column: String,
        /// Whether the model says it is nullable (the live column is the opposite).
        expected_nullable: bool,
    },
    /// No unique index has exactly the primary key's columns.
    MissingPrimaryKey {
        /// The table's name.
        table: String,
        /// The primary key's columns.
        columns: Vec<String>,
    },
    /// No index has exactly these keys.
    MissingIndex {
        /// The table's name.
        table: String,
        /// The index's expected name, if the model names it.
        name: Option<String>,
        /// Its keys, as the dialect writes them.
        keys: Vec<String>,
        /// Whether it should be unique.
        unique: bool,
    },
    /// An index with these keys exists, but none of them is unique, and uniqueness is
    /// what the store relies on (one user per email, one row per token hash).
    NotUnique {
        /// The table's name.
        table: String,
        /// The live index found.
        index: String,
        /// Its keys, as the dialect writes them.
        keys: Vec<String>,
    },
    /// No foreign key from these columns to that table.
    MissingForeignKey {
        /// The referencing table's name.
        table: String,
        /// The referencing columns.
        columns: Vec<String>,
        /// The referenced table's name.
        references: String,
    },
    /// The foreign key exists with another delete rule: deleting a user (or an RBAC
    /// item) would then fail, or leave rows behind.
    OnDeleteDrift {
        /// The referencing table's name.
        table: String,
        /// The referencing columns.
        columns: Vec<String>,
        /// The referenced table's name.
        references: String,
        /// The expected rule (`CASCADE`).
        expected: String,
        /// The rule found.
        found: String,
    },
}

impl Problem {
    /// The table the problem is about.
    pub fn table(&self) -> &str {
        match self {
            Problem::MissingTable { table }
            | Problem::MissingColumn { table, .. }
            | Problem::TypeDrift { table, .. }
            | Problem::NullabilityDrift { table, .. }
            | Problem::MissingPrimaryKey { table, .. }
            | Problem::MissingIndex { table, .. }
            | Problem::NotUnique { table, .. }
            | Problem::MissingForeignKey { table, .. }
            | Problem::OnDeleteDrift { table, .. } => table,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::MissingTable { table } => write!(f, "{table}: missing table"),
            Problem::MissingColumn { table, column } => {
                write!(f, "{table}.{column}: missing column")
            }
            Problem::TypeDrift {
                table,
                column,
                expected,
                found,
            } => write!(
                f,
                "{table}.{column}: type drift: expected {expected}, found {found}"
            ),
            Problem::NullabilityDrift {
                table,
                column,
                expected_nullable,
            } => {
                let (want, got) = if *expected_nullable {
                    ("nullable", "NOT NULL")
                } else {
                    ("NOT NULL", "nullable")
                };
                write!(
                    f,
                    "{table}.{column}: nullability drift: expected {want}, found {got}"
                )
            }
            Problem::MissingPrimaryKey { table, columns } => {
                write!(f, "{table}: missing primary key ({})", columns.join(", "))
            }
            Problem::MissingIndex {
                table,
                name,
                keys,
                unique,
            } => {
                let unique = if *unique { "unique " } else { "" };
                let name = name.as_deref().map(|n| format!(" {n}")).unwrap_or_default();
                write!(
                    f,
                    "{table}: missing {unique}index{name} on ({})",
                    keys.join(", ")
                )
            }
            Problem::NotUnique { table, index, keys } => write!(
                f,
                "{table}: index {index} on ({}) is not unique",
                keys.join(", ")
            ),
            Problem::MissingForeignKey {
                table,
                columns,
                references,
            } => write!(
                f,
                "{table}: missing foreign key ({}) references {references}",
                columns.join(", ")
            ),
            Problem::OnDeleteDrift {
                table,
                columns,
                references,
                expected,
                found,
            } => write!(
                f,
                "{table}: foreign key ({}) references {references}: expected ON DELETE \
                 {expected}, found ON DELETE {found}",
                columns.join(", ")
            ),
        }
    }
}

/// Compares the live schema with the logical one, for the tables named by `names`, and
/// returns every problem, table by table in creation order (an empty list: the schema
/// is right).
///
/// Checked for each table of [`TABLES`](crate::TABLES): it exists; each column exists
/// with a matching type ([`LogicalType::matches`](crate::LogicalType::matches)) and
/// nullability (on MySQL also the generated `<column>_lower` column of a
/// [`IndexKey::Lower`](crate::IndexKey::Lower) key); its primary key, every index (unique ones unique) and every
/// foreign key with its delete rule exist. Extra tables, columns, indexes and foreign
/// keys are fine: an application may add its own.
///
/// ```
/// use authkit_schema::{Catalogue, Dialect, LiveColumn, Problem, TableNames, verify};
///
/// // A backend reads its database's catalogue into a `Catalogue`; an empty database:
/// let problems = verify(Dialect::Postgres, &TableNames::default(), &Catalogue::default());
/// assert_eq!(problems.len(), authkit_schema::TABLES.len());
/// assert_eq!(problems[0], Problem::MissingTable { table: "authkit_users".into() });
/// assert_eq!(problems[0].to_string(), "authkit_users: missing table");
/// ```
pub fn verify(dialect: Dialect, names: &TableNames, live: &Catalogue) -> Vec<Problem> {
    let mut columns: HashMap<&str, HashMap<&str, &LiveColumn>> = HashMap::new();
    for col in &live.columns {
        columns
            .entry(col.table.as_str())
            .or_default()
            .insert(col.column.as_str(), col);
    }
    let mut problems = Vec::new();
    for def in crate::TABLES {
        let table = names.get(def.table);
        let Some(found) = columns.get(table) else {
            problems.push(Problem::MissingTable {
                table: table.to_owned(),
            });
            continue;
        };
        check_columns(&mut problems, dialect, def, table, found);
        check_indexes(&mut problems, dialect, def, table, &live.indexes);
        check_foreign_keys(&mut problems, names, def, table, &live.foreign_keys);
    }
    problems
}

fn check_columns(
    problems: &mut Vec<Problem>,
    dialect: Dialect,
    def: &TableDef,
    table: &str,
    found: &HashMap<&str, &LiveColumn>,
) {
    for col in def.columns {
        let Some(live) = found.get(col.name) else {
            problems.push(Problem::MissingColumn {
                table: table.to_owned(),
                column: col.name.to_owned(),
            });
            continue;
        };
        if !col.ty.matches(dialect, &live.data_type, &live.column_type) {
            let found_type = if live.column_type.is_empty() {
                &live.data_type
            } else {
                &live.column_type
            };
            problems.push(Problem::TypeDrift {
                table: table.to_owned(),
                column: col.name.to_owned(),
                expected: col.ty.describe(dialect),
                found: found_type.clone(),
            });
        }
        if col.nullable != live.nullable {
            problems.push(Problem::NullabilityDrift {
                table: table.to_owned(),
                column: col.name.to_owned(),
                expected_nullable: col.nullable,
            });
        }
    }
    if dialect == Dialect::MySql {
        // The unique email index lives on this generated column (MariaDB cannot index
        // an expression); without it lookups by email find nothing.
        for key in def.indexes.iter().flat_map(|i| i.keys) {
            if let Some((generated, _)) = key.mysql_generated_column()
                && !found.contains_key(generated.as_str())
            {
                problems.push(Problem::MissingColumn {
                    table: table.to_owned(),
                    column: generated,
                });
            }
        }
    }
}

fn check_indexes(
    problems: &mut Vec<Problem>,
    dialect: Dialect,
    def: &TableDef,
    table: &str,
    live: &[LiveIndex],
) {
    let on_table: Vec<(&LiveIndex, Vec<String>)> = live
        .iter()
        .filter(|index| index.table == table)
        .map(|index| (index, index.keys.iter().map(|k| normalize_key(k)).collect()))
        .collect();
    // The live indexes whose keys are exactly `keys`.
    let with_keys = |keys: &[String]| -> Vec<&LiveIndex> {
        let wanted: Vec<String> = keys.iter().map(|k| normalize_key(k)).collect();
        on_table
            .iter()
            .filter(|(_, found)| *found == wanted)
            .map(|(index, _)| *index)
            .collect()
    };

    let pk: Vec<String> = def.primary_key.iter().map(|c| (*c).to_owned()).collect();
    if !with_keys(&pk).iter().any(|index| index.unique) {
        problems.push(Problem::MissingPrimaryKey {
            table: table.to_owned(),
            columns: pk,
        });
    }
    for index in def.indexes {
        let keys: Vec<String> = index.keys.iter().map(|k| k.sql(dialect)).collect();
        let found = with_keys(&keys);
        if found.iter().any(|live| live.unique || !index.unique) {
            continue;
        }
        match found.first() {
            Some(live) => problems.push(Problem::NotUnique {
                table: table.to_owned(),
                index: live.name.clone(),
                keys,
            }),
            None => problems.push(Problem::MissingIndex {
                table: table.to_owned(),
                name: match index.name {
                    IndexName::Inline => None,
                    IndexName::Suffix(_) => index.name_for(table),
                },
                keys,
                unique: index.unique,
            }),
        }
    }
}

fn check_foreign_keys(
    problems: &mut Vec<Problem>,
    names: &TableNames,
    def: &TableDef,
    table: &str,
    live: &[LiveForeignKey],
) {
    for fk in def.foreign_keys {
        let references = names.get(fk.references);
        let found: Vec<&LiveForeignKey> = live
            .iter()
            .filter(|l| {
                l.table == table
                    && l.referenced_table == references
                    && l.columns
                        .iter()
                        .map(String::as_str)
                        .eq(fk.columns.iter().copied())
                    && l.referenced_columns
                        .iter()
                        .map(String::as_str)
                        .eq(fk.referenced_columns.iter().copied())
            })
            .collect();
        let expected = fk.on_delete.sql().trim_start_matches("ON DELETE ");
        if found
            .iter()
            .any(|l| l.on_delete.eq_ignore_ascii_case(expected))
        {
            continue;
        }
        let columns: Vec<String> = fk.columns.iter().map(|c| (*c).to_owned()).collect();
        match found.first() {
            Some(l) => problems.push(Problem::OnDeleteDrift {
                table: table.to_owned(),
                columns,
                references: references.to_owned(),
                expected: expected.to_owned(),
                found: l.on_delete.to_ascii_uppercase(),
            }),
            None => problems.push(Problem::MissingForeignKey {
                table: table.to_owned(),
                columns,
                references: references.to_owned(),
            }),
        }
    }
}

/// An index key as the verifier compares it: lowercase, without whitespace, identifier
/// quotes, `::type` casts, or parentheses around a bare name.
fn normalize_key(key: &str) -> String {
    let mut s: String = key
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"' && *c != '`')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    // Casts: `::text`, `::charactervarying` (its space is gone already).
    while let Some(at) = s.find("::") {
        let end = s[at + 2..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(s.len(), |n| at + 2 + n);
        s.replace_range(at..end, "");
    }
    // `(name)` not preceded by a name (a call such as `lower(name)` keeps its own).
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    loop {
        let bytes = s.as_bytes();
        let mut done = true;
        for open in (0..bytes.len()).filter(|&i| bytes[i] == b'(') {
            let called = open > 0 && ident(bytes[open - 1] as char);
            let Some(len) = s[open + 1..].find(|c: char| !ident(c)) else {
                break;
            };
            let close = open + 1 + len;
            if !called && len > 0 && bytes[close] == b')' {
                s.replace_range(close..=close, "");
                s.replace_range(open..=open, "");
                done = false;
                break;
            }
        }
        if done {
            return s;
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod tests {
    use super::*;
    use crate::{LogicalType, Table};

    /// The type as the dialect's catalogue reports it: `(data_type, column_type)`.
    fn catalogue_type(ty: LogicalType, dialect: Dialect) -> (String, String) {
        match dialect {
            Dialect::Postgres => {
                let t = match ty {
                    LogicalType::Timestamp => "timestamp with time zone".to_owned(),
                    other => other.sql_type(dialect),
                };
                (t, String::new())
            }
            Dialect::MySql => {
                let full = ty.sql_type(dialect).to_ascii_lowercase();
                let data = full.split('(').next().unwrap().to_owned();
                (data, full)
            }
            Dialect::Sqlite => (ty.sql_type(dialect), String::new()),
        }
    }

    /// The catalogue of a database holding exactly the schema, as `dialect` reports it.
    fn perfect(dialect: Dialect, names: &TableNames) -> Catalogue {
        let mut live = Catalogue::default();
        for def in crate::TABLES {
            let table = names.get(def.table).to_owned();
            for col in def.columns {
                let (data_type, column_type) = catalogue_type(col.ty, dialect);
                live.columns.push(LiveColumn {
                    table: table.clone(),
                    column: col.name.to_owned(),
                    data_type,
                    column_type,
                    nullable: col.nullable,
                });
            }
            if dialect == Dialect::MySql {
                for key in def.indexes.iter().flat_map(|i| i.keys) {
                    if let Some((generated, _)) = key.mysql_generated_column() {
                        live.columns.push(LiveColumn {
                            table: table.clone(),
                            column: generated,
                            data_type: "varchar".into(),
                            column_type: "varchar(254)".into(),
                            nullable: true,
                        });
                    }
                }
            }
            live.indexes.push(LiveIndex {
                table: table.clone(),
                name: format!("{table}_pkey"),
                unique: true,
                keys: def.primary_key.iter().map(|c| (*c).to_owned()).collect(),
            });
            for (n, index) in def.indexes.iter().enumerate() {
                live.indexes.push(LiveIndex {
                    table: table.clone(),
                    name: index.name_for(&table).unwrap_or(format!("{table}_{n}")),
                    unique: index.unique,
                    keys: index.keys.iter().map(|k| k.sql(dialect)).collect(),
                });
            }
            for fk in def.foreign_keys {
                live.foreign_keys.push(LiveForeignKey {
                    table: table.clone(),
                    columns: fk.columns.iter().map(|c| (*c).to_owned()).collect(),
                    referenced_table: names.get(fk.references).to_owned(),
                    referenced_columns: fk
                        .referenced_columns
                        .iter()
                        .map(|c| (*c).to_owned())
                        .collect(),
                    on_delete: "CASCADE".into(),
                });
            }
        }
        live
    }

    fn strings(problems: &[Problem]) -> Vec<String> {
        problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_perfect_catalogue_passes_on_every_dialect() {
        let names = TableNames::with_prefix("app_").unwrap();
        for dialect in Dialect::ALL {
            assert_eq!(verify(dialect, &names, &perfect(dialect, &names)), []);
        }
    }

    #[test]
    fn extras_are_fine() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::Postgres, &names);
        live.columns.push(LiveColumn {
            table: "authkit_users".into(),
            column: "nickname".into(),
            data_type: "text".into(),
            column_type: String::new(),
            nullable: true,
        });
        live.columns.push(LiveColumn {
            table: "app_orders".into(),
            column: "id".into(),
            data_type: "uuid".into(),
            column_type: String::new(),
            nullable: false,
        });
        live.indexes.push(LiveIndex {
            table: "authkit_users".into(),
            name: "nick".into(),
            unique: false,
            keys: vec!["nickname".into()],
        });
        assert_eq!(verify(Dialect::Postgres, &names, &live), []);
    }

    #[test]
    fn missing_table_reports_nothing_else_about_it() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::Sqlite, &names);
        live.columns.retain(|c| c.table != "authkit_user_grants");
        let problems = verify(Dialect::Sqlite, &names, &live);
        assert_eq!(
            problems,
            [Problem::MissingTable {
                table: "authkit_user_grants".into()
            }]
        );
    }

    #[test]
    fn missing_column() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::Postgres, &names);
        live.columns
            .retain(|c| !(c.table == "authkit_sessions" && c.column == "payload"));
        assert_eq!(
            strings(&verify(Dialect::Postgres, &names, &live)),
            ["authkit_sessions.payload: missing column"]
        );
    }

    #[test]
    fn type_drift() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::MySql, &names);
        let col = live
            .columns
            .iter_mut()
            .find(|c| c.table == "authkit_api_keys" && c.column == "usage_count")
            .unwrap();
        col.data_type = "int".into();
        col.column_type = "int(11)".into();
        let problems = verify(Dialect::MySql, &names, &live);
        assert_eq!(
            problems,
            [Problem::TypeDrift {
                table: "authkit_api_keys".into(),
                column: "usage_count".into(),
                expected: "BIGINT".into(),
                found: "int(11)".into(),
            }]
        );
        assert_eq!(
            problems[0].to_string(),
            "authkit_api_keys.usage_count: type drift: expected BIGINT, found int(11)"
        );
    }

    #[test]
    fn nullability_drift() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::Postgres, &names);
        for col in &mut live.columns {
            if col.table == "authkit_refresh_tokens" && col.column == "expires_at" {
                col.nullable = true;
            }
            if col.table == "authkit_users" && col.column == "password_hash" {
                col.nullable = false;
            }
        }
        assert_eq!(
            strings(&verify(Dialect::Postgres, &names, &live)),
            [
                "authkit_users.password_hash: nullability drift: expected nullable, found NOT NULL",
                "authkit_refresh_tokens.expires_at: nullability drift: expected NOT NULL, found nullable",
            ]
        );
    }

    #[test]
    fn missing_unique_indexes_are_named() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::Postgres, &names);
        live.indexes.retain(|i| {
            !(i.keys == ["token_hash"] && i.table == "authkit_sessions"
                || i.keys == ["key_hash"]
                || i.keys == ["lower(email)"])
        });
        assert_eq!(
            strings(&verify(Dialect::Postgres, &names, &live)),
            [
                "authkit_users: missing unique index authkit_users_email_key on (lower(email))",
                "authkit_sessions: missing unique index on (token_hash)",
                "authkit_api_keys: missing unique index on (key_hash)",
            ]
        );
    }

    #[test]
    fn non_unique_index_where_unique_is_needed() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::Sqlite, &names);
        for index in &mut live.indexes {
            if index.table == "authkit_refresh_tokens" && index.keys == ["token_hash"] {
                index.unique = false;
                index.name = "plain_hash_idx".into();
            }
        }
        let problems = verify(Dialect::Sqlite, &names, &live);
        assert_eq!(
            problems,
            [Problem::NotUnique {
                table: "authkit_refresh_tokens".into(),
                index: "plain_hash_idx".into(),
                keys: vec!["token_hash".into()],
            }]
        );
        assert_eq!(
            problems[0].to_string(),
            "authkit_refresh_tokens: index plain_hash_idx on (token_hash) is not unique"
        );
    }

    #[test]
    fn missing_plain_index_and_primary_key() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::MySql, &names);
        live.indexes.retain(|i| {
            !(i.name == "authkit_sessions_idle_idx" || i.name == "authkit_user_roles_pkey")
        });
        assert_eq!(
            strings(&verify(Dialect::MySql, &names, &live)),
            [
                "authkit_sessions: missing index authkit_sessions_idle_idx on (idle_expires_at)",
                "authkit_user_roles: missing primary key (user_id, role_id)",
            ]
        );
    }

    #[test]
    fn index_keys_are_compared_by_meaning() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::Postgres, &names);
        for index in &mut live.indexes {
            if index.keys == ["lower(email)"] {
                // PostgreSQL's spelling when the column is a varchar.
                index.keys = vec!["lower((email)::text)".into()];
            }
            if index.keys == ["kind", "slug"] {
                index.keys = vec!["\"kind\"".into(), "SLUG".into()];
            }
        }
        assert_eq!(verify(Dialect::Postgres, &names, &live), []);
        assert_eq!(normalize_key("lower((email)::text)"), "lower(email)");
        assert_eq!(normalize_key(" LOWER( \"email\" ) "), "lower(email)");
        assert_eq!(normalize_key("(user_id)"), "user_id");
    }

    #[test]
    fn mysql_generated_column_and_its_key() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::MySql, &names);
        live.columns.retain(|c| c.column != "email_lower");
        live.indexes.retain(|i| i.keys != ["email_lower"]);
        assert_eq!(
            strings(&verify(Dialect::MySql, &names, &live)),
            [
                "authkit_users.email_lower: missing column",
                "authkit_users: missing unique index authkit_users_email_key on (email_lower)",
            ]
        );
    }

    #[test]
    fn foreign_keys_and_their_cascades() {
        let names = TableNames::default();
        let mut live = perfect(Dialect::Postgres, &names);
        live.foreign_keys
            .retain(|fk| fk.table != "authkit_sessions");
        for fk in &mut live.foreign_keys {
            if fk.table == "authkit_api_keys" && fk.columns == ["owner_id"] {
                fk.on_delete = "NO ACTION".into();
            }
        }
        assert_eq!(
            strings(&verify(Dialect::Postgres, &names, &live)),
            [
                "authkit_sessions: missing foreign key (user_id) references authkit_users",
                "authkit_api_keys: foreign key (owner_id) references authkit_users: \
                 expected ON DELETE CASCADE, found ON DELETE NO ACTION",
            ]
        );
    }

    #[test]
    fn uses_the_configured_names() {
        let names = TableNames::with_prefix("x_")
            .unwrap()
            .set(Table::Users, "accounts")
            .unwrap();
        let live = perfect(Dialect::Sqlite, &TableNames::default());
        let problems = verify(Dialect::Sqlite, &names, &live);
        assert_eq!(problems.len(), crate::TABLES.len());
        assert_eq!(problems[0].table(), "accounts");
    }
}
