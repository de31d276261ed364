//! Released migrations are frozen: each file's SHA-256 is pinned here, and an edit fails.
//!
//! Migrators record what they applied (sqlx checksums each migration's text), so an
//! edited file breaks every database it was applied to. A schema change is a new
//! numbered file, never an edit. When you add one, add its pin below in the same
//! change (`sha256sum authkit-schema/migrations/*/*.sql`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use authkit_schema::{Dialect, migrations};
use sha2::{Digest, Sha256};

/// `(path inside the crate, SHA-256 of the file)`, one per released migration.
const RELEASED: &[(&str, &str)] = &[
    (
        "migrations/postgres/0001_reference_schema.sql",
        "c186d3627c124cb6170f1b9b9ffa0f79c822b75e1a3bfbcb42171569d1fa547e",
    ),
    (
        "migrations/mysql/0001_reference_schema.sql",
        "8c54afd24df0a73d48855c651281bb7ff2c687b3a18be9d2a6a41a04c46aaa45",
    ),
    (
        "migrations/sqlite/0001_reference_schema.sql",
        "ae4eb513bf73b912a48997a268eb1ec1c6adbb97255757d2d6c692edc853a8f2",
    ),
    (
        "migrations/postgres/0002_key_limits_and_roles.sql",
        "f83dc3a30af0ff5222f2a41ec3ad24454b59aef8a182d6647d6158367f961ac4",
    ),
    (
        "migrations/mysql/0002_key_limits_and_roles.sql",
        "5ec077d5604d3787d00e659696eebc14c2360ebbda779fce0082334b6db1d515",
    ),
    (
        "migrations/sqlite/0002_key_limits_and_roles.sql",
        "8fedea5b86378684e675b556121ae170d01531f651034b24adc49204aa54d9ad",
    ),
];

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn released_migrations_are_unchanged() {
    let mut failures = Vec::new();
    for dialect in Dialect::ALL {
        for migration in migrations(dialect) {
            let path = migration.path();
            let actual = sha256_hex(migration.template);
            match RELEASED.iter().find(|(p, _)| *p == path) {
                Some((_, pinned)) if *pinned == actual => {}
                Some((_, pinned)) => failures.push(format!(
                    "{path} changed after its release (SHA-256 {actual}, pinned {pinned}). \
                     Released migrations are frozen: restore the file and add a new \
                     numbered file instead."
                )),
                None => failures.push(format!(
                    "{path} has no pin: add (\"{path}\", \"{actual}\") to RELEASED in \
                     tests/frozen.rs, in the change that adds the file"
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn no_released_migration_is_gone() {
    for (path, _) in RELEASED {
        let listed = Dialect::ALL
            .iter()
            .flat_map(|d| migrations(*d))
            .any(|m| m.path() == *path);
        assert!(
            listed,
            "{path} was released and is gone from the list: databases that applied it \
             still need it (add a new numbered file instead of removing one)"
        );
    }
}
