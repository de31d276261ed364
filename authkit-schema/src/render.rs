//! The per-dialect DDL renderer, and the rendering of templates with table names.
//!
//! DDL is produced in two steps. [`schema_template`] writes the whole logical schema
//! ([`TABLES`](crate::TABLES)) as SQL for one dialect, with placeholders where the
//! configured names go; [`render`] then fills them in from a
//! [`TableNames`](crate::TableNames). The migration files are such templates, and the
//! golden test holds the checked-in snapshot equal to [`schema_template`].
//!
//! # Placeholders
//!
//! - `{users}`, `{sessions}`, … (a [`Table::suffix`]): the table as SQL refers to it,
//!   quoted, and qualified with the namespace on PostgreSQL when one is set
//!   ([`TableNames::qualified`]);
//! - `{sessions:user_idx}`: the name of an index of that table, `<table name>_<suffix>`,
//!   quoted and never qualified (an index lives in its table's namespace).
//!
//! Anything else between braces is left as it is.

use crate::{Dialect, IndexName, Table, TableDef, TableNames};

/// The whole logical schema as one SQL script for `dialect`, with placeholders for the
/// names (see [`render`]).
///
/// For each table, in [`TABLES`](crate::TABLES) order: `CREATE TABLE` with its columns
/// (`NOT NULL` unless nullable, `DEFAULT n` where the model has one), on MySQL the
/// generated columns of [`IndexKey::Lower`](crate::IndexKey::Lower) keys, then the
/// primary key, the inline unique constraints, the foreign keys and (MySQL) the named
/// unique keys; after it, one `CREATE [UNIQUE] INDEX` per named index (MySQL: the
/// non-unique ones), and a blank line.
pub fn schema_template(dialect: Dialect) -> String {
    let mut out = String::new();
    for def in crate::TABLES {
        table_template(&mut out, def, dialect);
    }
    out
}

fn table_template(out: &mut String, def: &TableDef, dialect: Dialect) {
    let mysql = dialect == Dialect::MySql;
    let table = def.table.suffix();
    let keys = |keys: &[crate::IndexKey]| {
        keys.iter()
            .map(|k| k.sql(dialect))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines: Vec<String> = def
        .columns
        .iter()
        .map(|c| {
            let not_null = if c.nullable { "" } else { " NOT NULL" };
            let default = c
                .default
                .map(|d| format!(" DEFAULT {d}"))
                .unwrap_or_default();
            format!(
                "    {} {}{not_null}{default}",
                c.name,
                c.ty.sql_type(dialect)
            )
        })
        .collect();
    if mysql {
        // MariaDB has no index on an expression: a stored generated column instead.
        for key in def.indexes.iter().flat_map(|i| i.keys) {
            if let Some((name, source)) = key.mysql_generated_column() {
                let ty = def
                    .column(source)
                    .map(|c| c.ty.sql_type(dialect))
                    .unwrap_or_else(|| "TEXT".into());
                lines.push(format!("    {name} {ty} AS (LOWER({source})) STORED"));
            }
        }
    }
    lines.push(format!("    PRIMARY KEY ({})", def.primary_key.join(", ")));
    for index in def.indexes {
        if index.name == IndexName::Inline {
            lines.push(format!("    UNIQUE ({})", keys(index.keys)));
        }
    }
    for fk in def.foreign_keys {
        lines.push(format!(
            "    FOREIGN KEY ({}) REFERENCES {{{}}} ({}) {}",
            fk.columns.join(", "),
            fk.references.suffix(),
            fk.referenced_columns.join(", "),
            fk.on_delete.sql()
        ));
    }
    if mysql {
        for index in def.indexes {
            if let (IndexName::Suffix(suffix), true) = (index.name, index.unique) {
                lines.push(format!(
                    "    UNIQUE KEY {{{table}:{suffix}}} ({})",
                    keys(index.keys)
                ));
            }
        }
    }
    let options = if mysql {
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
    } else {
        ""
    };
    out.push_str(&format!(
        "CREATE TABLE {{{table}}} (\n{}\n){options};\n",
        lines.join(",\n")
    ));
    for index in def.indexes {
        let IndexName::Suffix(suffix) = index.name else {
            continue;
        };
        if mysql && index.unique {
            continue;
        }
        let unique = if index.unique { "UNIQUE " } else { "" };
        out.push_str(&format!(
            "CREATE {unique}INDEX {{{table}:{suffix}}} ON {{{table}}} ({});\n",
            keys(index.keys)
        ));
    }
    out.push('\n');
}

/// Fills the placeholders of `template` with `names` as `dialect` writes them.
///
/// # Placeholders
///
/// - `{users}`, `{sessions}`, … (a [`Table::suffix`]): the table as SQL refers to it,
///   quoted, and qualified with the namespace on PostgreSQL when one is set
///   ([`TableNames::qualified`]);
/// - `{sessions:user_idx}`: the name of an index of that table, `<table name>_<suffix>`,
///   quoted and never qualified (an index lives in its table's namespace).
///
/// Anything else between braces is left as it is.
///
/// The namespace of `names` is applied on PostgreSQL only; for the other dialects
/// check [`TableNames::check_dialect`] first, so that a namespace is never dropped
/// silently.
///
/// ```
/// use authkit_schema::{Dialect, TableNames, render};
///
/// let names = TableNames::default().in_namespace("auth")?;
/// assert_eq!(
///     render("CREATE INDEX {sessions:user_idx} ON {sessions} (user_id);", Dialect::Postgres, &names),
///     r#"CREATE INDEX "authkit_sessions_user_idx" ON "auth"."authkit_sessions" (user_id);"#,
/// );
/// # Ok::<(), authkit_schema::InvalidTableName>(())
/// ```
pub fn render(template: &str, dialect: Dialect, names: &TableNames) -> String {
    let mut out = String::with_capacity(template.len() + 256);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        match placeholder(&after[..close], dialect, names) {
            Some(value) => out.push_str(&value),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The value of one placeholder (the text between the braces), or `None` if it is not
/// one.
fn placeholder(inner: &str, dialect: Dialect, names: &TableNames) -> Option<String> {
    let (table, suffix) = match inner.split_once(':') {
        Some((table, suffix)) => (table, Some(suffix)),
        None => (inner, None),
    };
    let table = Table::from_suffix(table)?;
    Some(match suffix {
        None => names.qualified(table, dialect),
        Some(suffix) => dialect.quote(&format!("{}_{suffix}", names.get(table))),
    })
}

/// `sql` with each `?` bind marker numbered in order (`$1`, `$2`, …), as PostgreSQL
/// wants them; the other dialects take `?` as it is. Backends write their raw statements
/// with `?`, bind every value separately and in order, and number them here for
/// PostgreSQL. A `?` inside a string literal is numbered too: templates hold none.
///
/// ```
/// assert_eq!(
///     authkit_schema::number_binds("UPDATE t SET a = ? WHERE id = ?"),
///     "UPDATE t SET a = $1 WHERE id = $2",
/// );
/// ```
pub fn number_binds(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// The placeholders a template uses, in order of appearance (the text between the
/// braces, for those [`render`] replaces).
pub fn placeholders(template: &str) -> Vec<&str> {
    let names = TableNames::default();
    let mut found = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            break;
        };
        let inner = &after[..close];
        if placeholder(inner, Dialect::Postgres, &names).is_some() {
            found.push(inner);
        }
        rest = &after[close + 1..];
    }
    found
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn renders_the_names_given() {
        let names = TableNames::with_prefix("app_").unwrap();
        for dialect in Dialect::ALL {
            let schema = render(&schema_template(dialect), dialect, &names);
            assert!(!schema.contains("authkit_"), "{schema}");
            assert!(!schema.contains('{'), "{schema}");
            assert!(schema.contains("app_sessions_idle_idx"), "{schema}");
        }
    }

    #[test]
    fn namespace_qualifies_tables_not_indexes() {
        let names = TableNames::default().in_namespace("auth").unwrap();
        let schema = render(
            &schema_template(Dialect::Postgres),
            Dialect::Postgres,
            &names,
        );
        assert!(schema.contains("CREATE TABLE \"auth\".\"authkit_users\" ("));
        assert!(schema.contains("REFERENCES \"auth\".\"authkit_users\" (id)"));
        assert!(schema.contains(
            "CREATE INDEX \"authkit_sessions_user_idx\" ON \"auth\".\"authkit_sessions\""
        ));
    }

    #[test]
    fn leaves_other_braces() {
        let names = TableNames::default();
        assert_eq!(
            render("{nope} {users} {x:y} {", Dialect::Sqlite, &names),
            "{nope} \"authkit_users\" {x:y} {"
        );
        assert_eq!(
            placeholders("{nope} {users} {sessions:user_idx}"),
            ["users", "sessions:user_idx"]
        );
    }
}
