//! The golden test: the DDL the model renders ([`schema_template`]) is the checked-in
//! snapshot `snapshots/<dialect>.sql`, and while only migration 0001 exists, 0001 is that
//! schema too. Also: the migration list and the `migrations/` folders agree.
//!
//! After an intended change to the model, regenerate the snapshots with
//! `AUTHKIT_BLESS_SCHEMA=1 cargo test -p authkit-schema --test golden`, and add a new
//! numbered migration that takes a database from the previous schema to the new one.
//! Blessing never writes a migration: released migrations are frozen (`tests/frozen.rs`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use authkit_schema::{Dialect, Table, TableNames, migrations, placeholders, schema_template};

/// Set to `1` to rewrite the snapshots from the model instead of comparing.
const BLESS: &str = "AUTHKIT_BLESS_SCHEMA";

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn blessing() -> bool {
    std::env::var(BLESS).is_ok_and(|v| v == "1")
}

/// The first line where `a` and `b` differ, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    let mut la = a.lines();
    let mut lb = b.lines();
    for n in 1.. {
        match (la.next(), lb.next()) {
            (None, None) => return "they differ in line endings or a final newline".into(),
            (x, y) if x == y => continue,
            (x, y) => {
                return format!(
                    "line {n}:\n  rendered: {}\n  file:     {}",
                    x.unwrap_or("<end>"),
                    y.unwrap_or("<end>")
                );
            }
        }
    }
    unreachable!()
}

#[test]
fn snapshots_are_the_rendered_model() {
    let mut failures = Vec::new();
    for dialect in Dialect::ALL {
        let path = crate_dir().join(format!("snapshots/{}.sql", dialect.dir()));
        let rendered = schema_template(dialect);
        if blessing() {
            std::fs::write(&path, &rendered).expect("write the snapshot");
            continue;
        }
        let file = std::fs::read_to_string(&path).unwrap_or_default();
        if file != rendered {
            failures.push(format!(
                "{} disagrees with the model; {}",
                path.display(),
                first_difference(&rendered, &file)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n\nIf the model change is intended, run `{BLESS}=1 cargo test -p authkit-schema \
         --test golden` to rewrite the snapshots, and add a new numbered migration file \
         (never edit a released one).",
        failures.join("\n")
    );
}

#[test]
fn while_it_is_alone_migration_0001_is_the_schema() {
    for dialect in Dialect::ALL {
        let list = migrations(dialect);
        assert!(!list.is_empty(), "{dialect:?} has no migration");
        if list.len() > 1 {
            // Later migrations alter what 0001 created: the database tests apply them
            // all in order and verify the result against the model instead.
            continue;
        }
        let rendered = schema_template(dialect);
        assert!(
            list[0].template == rendered,
            "{} is not the schema the model renders; {}\n\nA released migration is \
             frozen: change the model back, or add a new numbered file instead.",
            list[0].path(),
            first_difference(&rendered, list[0].template)
        );
    }
}

#[test]
fn the_list_and_the_folders_agree() {
    for dialect in Dialect::ALL {
        let dir = crate_dir().join("migrations").join(dialect.dir());
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("the dialect's migration folder")
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".sql"))
            .collect();
        on_disk.sort();
        let listed: Vec<String> = migrations(dialect).iter().map(|m| m.file_name()).collect();
        assert_eq!(
            listed,
            on_disk,
            "{dialect:?}: every file in {} must be listed in src/migrations.rs, in order",
            dir.display()
        );
        for (n, migration) in migrations(dialect).iter().enumerate() {
            assert_eq!(
                migration.version,
                n as i64 + 1,
                "versions start at 1, no gaps"
            );
            assert_eq!(migration.dialect, dialect);
            let file = std::fs::read_to_string(crate_dir().join(migration.path())).unwrap();
            assert_eq!(file, migration.template, "{}", migration.path());
        }
    }
}

#[test]
fn every_placeholder_is_filled() {
    let names = TableNames::with_prefix("p_")
        .unwrap()
        .set(Table::Users, "order")
        .unwrap();
    for dialect in Dialect::ALL {
        for migration in migrations(dialect) {
            assert!(!placeholders(migration.template).is_empty());
            let sql = migration.render(&names);
            assert!(
                !sql.contains('{') && !sql.contains('}'),
                "{}: an unknown placeholder is left: {sql}",
                migration.path()
            );
            assert!(!sql.contains("authkit_"), "{}", migration.path());
        }
    }
}

#[test]
fn the_namespace_qualifies_every_table_on_postgres() {
    let names = TableNames::default().in_namespace("auth").unwrap();
    for migration in migrations(Dialect::Postgres) {
        let sql = migration.render(&names);
        for word in sql.split_whitespace() {
            if word.starts_with("\"authkit_")
                && !word.ends_with("_idx\"")
                && !word.ends_with("_key\"")
            {
                panic!("{}: unqualified table {word}", migration.path());
            }
        }
        assert!(sql.contains("\"auth\".\"authkit_users\""));
    }
}
