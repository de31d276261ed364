//! The `authkit` binary end to end, every case on SQLite, PostgreSQL and MariaDB/MySQL
//! (`cargo test -p authkit-cli`; see `common` for the databases and their variables).
//! Each case runs the binary, then checks its output, its exit code, and the database
//! through `Auth` as an application would see it.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use authkit::{Error, SlugKind};
use common::{Fixture, Kind};
use serde_json::Value;

const RBAC_V1: &str = r#"
[permissions]
"users:read" = "Read users"
"users:write" = "Write users"

[abilities]
"reports:export" = "Export reports"

[roles.admin]
label = "Administrator"
permissions = ["users:read", "users:write"]
abilities = ["reports:export"]

[roles.viewer]
permissions = ["users:read"]

[users."Alice@Example.com"]
roles = ["admin"]
"#;

/// V1 changed: `users:write` dropped, `viewer` gains the export, `auditor` is new, Alice
/// moves from `admin` to `viewer` and `auditor`.
const RBAC_V2: &str = "
permissions:
  users:read: Read users
abilities:
  reports:export: Export reports
roles:
  admin:
    label: Administrator
    permissions: [users:read]
    abilities: [reports:export]
  viewer:
    permissions: [users:read]
    abilities: [reports:export]
  auditor: {}
users:
  alice@example.com:
    roles: [viewer, auditor]
";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

async fn slugs(auth: &authkit::Auth, kind: SlugKind) -> Vec<String> {
    let items = auth.list_items(kind).await.unwrap();
    items.into_iter().map(|i| i.slug).collect()
}

async fn role_grants(auth: &authkit::Auth, role: &str) -> Vec<(SlugKind, String)> {
    let grants = auth.role_grants(role).await.unwrap();
    grants.into_iter().map(|g| (g.kind, g.slug)).collect()
}

/// Apply a file, apply it again (nothing), change it, dry-run (nothing changes), apply,
/// dry-run again (nothing to change).
async fn rbac_apply_round_trip(kind: Kind) {
    let db = Fixture::new(kind).await;
    db.ok(&["migrate"]);
    let auth = db.auth().await;
    let alice = auth.create_user("alice@example.com").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let v1 = write(dir.path(), "rbac.toml", RBAC_V1);

    let applied = db.ok(&["rbac", "apply", &v1]);
    assert_eq!(
        lines(&applied),
        [
            "define role admin",
            "define role viewer",
            "define permission users:read",
            "define permission users:write",
            "define ability reports:export",
            "grant permission users:read to role admin",
            "grant permission users:write to role admin",
            "grant ability reports:export to role admin",
            "grant permission users:read to role viewer",
            "assign role admin to alice@example.com",
        ]
    );
    assert_eq!(slugs(&auth, SlugKind::Role).await, ["admin", "viewer"]);
    let admin = auth.list_items(SlugKind::Role).await.unwrap();
    assert_eq!(admin[0].label, "Administrator");
    assert_eq!(auth.user_grants(alice.id).await.unwrap().roles, ["admin"]);
    assert_eq!(db.ok(&["rbac", "apply", &v1]).trim(), "nothing to change");

    let v2 = write(dir.path(), "rbac.yaml", RBAC_V2);
    let planned = db.ok(&["rbac", "apply", &v2, "--dry-run"]);
    let expected = [
        "define role auditor",
        "grant ability reports:export to role viewer",
        "assign role auditor to alice@example.com",
        "assign role viewer to alice@example.com",
        "unassign role admin from alice@example.com",
        "undefine permission users:write",
    ];
    let would: Vec<String> = expected.iter().map(|l| format!("would {l}")).collect();
    assert_eq!(lines(&planned), would);
    assert_eq!(
        auth.user_grants(alice.id).await.unwrap().roles,
        ["admin"],
        "a dry run changes nothing"
    );
    assert_eq!(slugs(&auth, SlugKind::Permission).await.len(), 2);

    assert_eq!(lines(&db.ok(&["rbac", "apply", &v2])), expected);
    let grants = auth.user_grants(alice.id).await.unwrap();
    assert_eq!(grants.roles, ["auditor", "viewer"]);
    assert_eq!(grants.permissions, ["users:read"]);
    assert_eq!(grants.abilities, ["reports:export"]);
    assert_eq!(
        slugs(&auth, SlugKind::Permission).await,
        ["users:read"],
        "users:write undefined"
    );
    assert_eq!(
        role_grants(&auth, "admin").await,
        [
            (SlugKind::Permission, "users:read".to_owned()),
            (SlugKind::Ability, "reports:export".to_owned())
        ]
    );
    let again = db.json(&["rbac", "apply", &v2, "--dry-run"]);
    assert_eq!(again["changes"], Value::Array(Vec::new()), "{again}");
    assert_eq!(again["dry_run"], Value::Bool(true));
    assert_eq!(db.ok(&["rbac", "apply", &v2]).trim(), "nothing to change");
}

/// A service key made by the CLI verifies through `Auth`; listing never shows a secret;
/// rotation and revocation take effect.
async fn cli_keys_verify_through_auth(kind: Kind) {
    let db = Fixture::new(kind).await;
    db.ok(&["migrate"]);
    db.ok(&["abilities", "define", "reports:export"]);
    let created = db.json(&[
        "keys",
        "create",
        "--name",
        "nightly export",
        "--scope",
        "reports:export",
    ]);
    let secret = created["secret"].as_str().unwrap().to_owned();
    let prefix = created["key"]["prefix"].as_str().unwrap().to_owned();
    assert!(secret.starts_with(&prefix) && secret.starts_with("sk_live_"));

    let auth = db.auth().await;
    let key = auth
        .verify_api_key(&secret, Some("reports:export"), None)
        .await
        .expect("the CLI's key verifies");
    assert_eq!(key.owner, None, "a service key");
    assert_eq!(key.name, "nightly export");

    let listed = db.ok(&["keys", "list"]);
    assert!(
        listed.contains(&prefix) && listed.contains("active"),
        "{listed}"
    );
    let listed = db.json(&["keys", "list"]);
    assert!(!listed.to_string().contains(&secret), "never a secret");
    assert_eq!(listed[0]["scopes"][0], "reports:export");
    assert_eq!(listed[0]["state"], "active");

    let rotated = db.json(&["keys", "rotate", &prefix]);
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    auth.verify_api_key(&new_secret, Some("reports:export"), None)
        .await
        .expect("the rotated key verifies");
    let old = auth.verify_api_key(&secret, None, None).await;
    assert!(matches!(old, Err(Error::ApiKeyExpired)), "{old:?}");

    let new_id = rotated["key"]["id"].as_str().unwrap();
    let revoked = db.ok(&["keys", "revoke", new_id, "--reason", "leaked in a log"]);
    assert!(revoked.starts_with("revoked key"), "{revoked}");
    let refused = auth.verify_api_key(&new_secret, None, None).await;
    assert!(matches!(refused, Err(Error::ApiKeyRevoked)), "{refused:?}");
    let listed = db.json(&["keys", "list"]);
    let states: Vec<&str> = (0..2)
        .map(|i| listed[i]["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["expired", "revoked"]);
    assert_eq!(listed[1]["revoked_reason"], "leaked in a log");

    let (_, err) = db.fails(&["keys", "rotate", new_id], 6);
    assert!(err.contains("revoked"), "{err}");
    let (_, err) = db.fails(&["keys", "create", "--name", "x", "--scope", "nope"], 5);
    assert!(err.contains("ability") && err.contains("nope"), "{err}");
    db.fails(&["keys", "revoke", "sk_live_missing1", "--reason", "x"], 5);
}

/// `schema verify` passes on a migrated database, then fails naming a dropped column;
/// other commands refuse the drifted schema too.
async fn schema_verify_names_a_dropped_column(kind: Kind) {
    let db = Fixture::new(kind).await;
    db.ok(&["migrate"]);
    assert_eq!(db.ok(&["schema", "verify"]).trim(), "schema ok");
    let table = db.sessions_table();
    db.execute(format!("ALTER TABLE {table} DROP COLUMN payload"))
        .await;
    let (stdout, stderr) = db.fails(&["schema", "verify"], 4);
    let sessions = db.tables.get(authkit_schema::Table::Sessions);
    assert_eq!(
        stdout.trim(),
        format!("{sessions}.payload: missing column"),
        "{stderr}"
    );
    assert!(stderr.contains("schema drift: 1 problem"), "{stderr}");
    let (_, stderr) = db.fails(&["roles", "list"], 4);
    assert!(stderr.contains("payload: missing column"), "{stderr}");
    let verdict = db
        .cmd()
        .args(["schema", "verify", "--json"])
        .output()
        .unwrap();
    let verdict: Value = serde_json::from_slice(&verdict.stdout).unwrap();
    assert_eq!(verdict["ok"], Value::Bool(false));
}

/// Roles, permissions and abilities one command at a time, on a user by email; then the
/// user's credentials, purge and deletion.
async fn imperative_rbac_users_and_purge(kind: Kind) {
    let db = Fixture::new(kind).await;
    db.ok(&["migrate"]);
    let auth = db.auth().await;
    let bob = auth.create_user("bob@example.com").await.unwrap();
    auth.set_password(bob.id, "correct horse battery staple")
        .await
        .unwrap();
    let session = auth.issue_session(bob.id).await.unwrap();
    let pair = auth.issue_token_pair(bob.id).await.unwrap();

    db.ok(&["roles", "define", "support", "--label", "Support desk"]);
    db.ok(&["permissions", "define", "tickets:read"]);
    db.ok(&["abilities", "define", "tickets:close"]);
    db.ok(&["permissions", "grant", "tickets:read", "support"]);
    db.ok(&["roles", "assign", "support", "Bob@Example.com"]);
    db.ok(&["abilities", "assign", "tickets:close", "bob@example.com"]);
    let grants = auth.user_grants(bob.id).await.unwrap();
    assert_eq!(
        (grants.roles, grants.permissions, grants.abilities),
        (
            vec!["support".to_owned()],
            vec!["tickets:read".to_owned()],
            vec!["tickets:close".to_owned()]
        )
    );
    let again = db.json(&["roles", "assign", "support", "bob@example.com"]);
    assert_eq!(again["changed"], Value::Bool(false), "{again}");
    let roles = db.json(&["roles", "list"]);
    assert_eq!(roles[0]["label"], "Support desk");
    assert_eq!(roles[0]["permissions"][0], "tickets:read");
    let (_, err) = db.fails(&["roles", "assign", "ghost", "bob@example.com"], 5);
    assert!(err.contains("role") && err.contains("ghost"), "{err}");
    let (_, err) = db.fails(&["roles", "define", "support"], 6);
    assert!(err.contains("support"), "{err}");
    db.fails(&["roles", "define", "Bad Slug"], 2);

    let shown = db.json(&["users", "show", "bob@example.com"]);
    assert_eq!(shown["email"], "bob@example.com");
    assert_eq!(shown["has_password"], Value::Bool(true));
    assert_eq!(shown["live_sessions"], 1);
    assert_eq!(shown["roles"][0], "support");
    let text = db.ok(&["users", "show", "bob@example.com"]) + &shown.to_string();
    assert!(!text.contains("argon2"), "never a hash: {text}");

    db.ok(&["permissions", "revoke", "tickets:read", "support"]);
    db.ok(&["abilities", "unassign", "tickets:close", "bob@example.com"]);
    db.ok(&["roles", "unassign", "support", "bob@example.com"]);
    assert_eq!(auth.user_grants(bob.id).await.unwrap(), Default::default());
    db.ok(&["permissions", "undefine", "tickets:read"]);
    assert!(slugs(&auth, SlugKind::Permission).await.is_empty());
    db.fails(&["permissions", "undefine", "tickets:read"], 5);

    let revoked = db.json(&["users", "revoke", "bob@example.com"]);
    assert_eq!(
        (
            revoked["sessions"].as_u64(),
            revoked["refresh_tokens"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let dead = auth.authenticate_session(session.secret.expose()).await;
    assert!(matches!(dead, Err(Error::SessionInvalid)), "{dead:?}");
    let dead = auth.refresh(pair.refresh_token.expose()).await;
    assert!(dead.is_err(), "the refresh token is revoked");

    let purged = db.json(&["purge"]);
    let sessions = db.tables.get(authkit_schema::Table::Sessions);
    assert!(purged["tables"][sessions].is_u64(), "{purged}");
    assert_eq!(purged["tables"].as_object().unwrap().len(), 4);

    db.fails(&["users", "delete", "bob@example.com"], 2);
    db.ok(&["users", "delete", "bob@example.com", "--yes"]);
    assert!(matches!(auth.user(bob.id).await, Err(Error::UserNotFound)));
    db.fails(&["users", "show", "bob@example.com"], 5);
}

/// Failures name what was wrong, on one line, with their documented exit code, and
/// change nothing.
#[tokio::test]
async fn errors_name_what_was_wrong() {
    let db = Fixture::new(Kind::Sqlite).await;
    let (_, err) = db.fails(&["roles", "list"], 3);
    assert!(
        err.contains("cannot reach") && err.contains("authkit migrate"),
        "{err}"
    );
    let mut bare = db.cmd();
    let out = bare
        .env_remove("DATABASE_URL")
        .args(["roles", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
    let url_cases = [
        ("redis://u:hunter2@h/0", "bad database URL"),
        (
            "postgres://u:hunter2@127.0.0.1:1/x",
            "cannot reach the database",
        ),
    ];
    for (url, says) in url_cases {
        let out = db
            .cmd()
            .args(["--database-url", url, "roles", "list"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(err.contains(says) && !err.contains("hunter2"), "{err}");
    }
    let (_, err) = db.fails(&["--pg-schema", "auth", "migrate"], 2);
    assert!(err.contains("PostgreSQL only"), "{err}");
    db.fails(&["roles", "frobnicate"], 2);

    db.ok(&["migrate"]);
    let dir = tempfile::tempdir().unwrap();
    let ghost = write(
        dir.path(),
        "r.toml",
        "[roles.a]\n[users.\"ghost@example.com\"]\nroles = [\"a\"]\n",
    );
    let (_, err) = db.fails(&["rbac", "apply", &ghost], 5);
    assert!(err.contains("ghost@example.com"), "{err}");
    let auth = db.auth().await;
    assert!(
        slugs(&auth, SlugKind::Role).await.is_empty(),
        "nothing changed"
    );
    let broken = write(dir.path(), "r.yaml", "roles: [unclosed\n");
    let (_, err) = db.fails(&["rbac", "apply", &broken], 2);
    assert!(err.contains("r.yaml"), "{err}");
    let undeclared = write(dir.path(), "u.toml", "[roles.a]\npermissions = [\"p\"]\n");
    let (_, err) = db.fails(&["rbac", "apply", &undeclared], 2);
    assert!(err.contains("permission p"), "{err}");
    db.fails(&["users", "revoke", "not-an-email"], 2);
}

/// `schema print` needs no database and follows the table options.
#[test]
fn schema_print_renders_the_options() {
    let mut cmd = assert_cmd::Command::cargo_bin("authkit").unwrap();
    let out = cmd
        .env_remove("DATABASE_URL")
        .args([
            "schema",
            "print",
            "postgres",
            "--table-prefix",
            "app_",
            "--pg-schema",
            "auth",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let sql = String::from_utf8_lossy(&out.stdout);
    assert!(
        sql.starts_with("CREATE TABLE \"auth\".\"app_users\" ("),
        "{sql}"
    );
    let mut cmd = assert_cmd::Command::cargo_bin("authkit").unwrap();
    let out = cmd.args(["schema", "print", "mysql"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("CREATE TABLE `authkit_users`"));
}

macro_rules! on {
    ($db:ident, $kind:expr) => {
        mod $db {
            #[tokio::test]
            async fn rbac_apply_round_trip() {
                super::rbac_apply_round_trip($kind).await
            }
            #[tokio::test]
            async fn cli_keys_verify_through_auth() {
                super::cli_keys_verify_through_auth($kind).await
            }
            #[tokio::test]
            async fn schema_verify_names_a_dropped_column() {
                super::schema_verify_names_a_dropped_column($kind).await
            }
            #[tokio::test]
            async fn imperative_rbac_users_and_purge() {
                super::imperative_rbac_users_and_purge($kind).await
            }
        }
    };
}

on!(sqlite, super::Kind::Sqlite);
on!(postgres, super::Kind::Postgres);
on!(mysql, super::Kind::MySql);
