//! One isolated database per case, on each database the CLI serves, and the `authkit`
//! binary pointed at it.
//!
//! - SQLite: a file in a temporary folder, tables under the prefix `cli_`
//!   (`--table-prefix`).
//! - PostgreSQL (`AUTHKIT_TEST_POSTGRES_URL`, default
//!   `postgres://postgres@127.0.0.1:5432/test`): a schema of its own per case
//!   (`--pg-schema`, created by `authkit migrate`), dropped when the case ends.
//! - MariaDB/MySQL (`AUTHKIT_TEST_MYSQL_URL`, default `mysql://root@127.0.0.1:3306/test`):
//!   a database of its own per case, default table names, dropped when the case ends.
//!
//! A server that cannot be reached fails the case with a message naming its variable;
//! nothing is skipped. Leftovers of a killed run are dropped by the next run.

use assert_cmd::Command;
use authkit::{Auth, Config, SigningKey, Stores};
use authkit_conformance::Cleanup;
use authkit_sqlx::sqlx::mysql::{MySqlConnection, MySqlPoolOptions};
use authkit_sqlx::sqlx::postgres::{PgConnection, PgPoolOptions};
use authkit_sqlx::sqlx::sqlite::SqlitePoolOptions;
use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection};
use authkit_sqlx::{MySqlStore, PgStore, SqliteStore, StoreOptions, TableNames};

// The sqlx backend's helpers for per-case names and stale leftovers (the module allows
// its own unused parts).
#[path = "../../../authkit-sqlx/tests/common/mod.rs"]
mod sqlx_common;

const PG_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_VAR: &str = "AUTHKIT_TEST_MYSQL_URL";
const MYSQL_DEFAULT: &str = "mysql://root@127.0.0.1:3306/test";
/// Every schema or database these tests create starts so.
const PREFIX: &str = "akc_";
/// The SQLite cases' table prefix.
const SQLITE_PREFIX: &str = "cli_";

/// Which database a case runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Sqlite,
    Postgres,
    MySql,
}

/// A fresh, isolated database for one case; dropped (with its data) when the case ends.
pub(crate) struct Fixture {
    pub(crate) kind: Kind,
    /// What `DATABASE_URL` is set to.
    pub(crate) url: String,
    /// The table options passed to every command.
    pub(crate) options: Vec<String>,
    /// The table names those options mean.
    pub(crate) tables: TableNames,
    _dir: Option<tempfile::TempDir>,
    _cleanup: Option<Cleanup>,
}

impl Fixture {
    /// A fresh database of `kind`, not migrated yet.
    pub(crate) async fn new(kind: Kind) -> Fixture {
        match kind {
            Kind::Sqlite => sqlite(),
            Kind::Postgres => postgres().await,
            Kind::MySql => mysql().await,
        }
    }

    /// The `authkit` binary with the case's database and table options, and no
    /// variable of the environment that could point it elsewhere.
    pub(crate) fn cmd(&self) -> Command {
        let mut cmd = Command::cargo_bin("authkit").expect("the authkit binary is built");
        cmd.env("DATABASE_URL", &self.url)
            .env_remove("AUTHKIT_TABLE_PREFIX")
            .env_remove("AUTHKIT_PG_SCHEMA")
            .args(&self.options);
        cmd
    }

    /// Runs `authkit <args>` and asserts that it succeeded; returns its stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let output = self.cmd().args(args).output().expect("run authkit");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "authkit {args:?} failed ({:?}): {stderr}{stdout}",
            output.status.code()
        );
        stdout
    }

    /// Runs `authkit <args> --json` and parses its stdout.
    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        let stdout = self.ok(&args);
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    /// Runs `authkit <args>`, asserts it failed with `code` and one line on stderr;
    /// returns (stdout, that line).
    pub(crate) fn fails(&self, args: &[&str], code: i32) -> (String, String) {
        let output = self.cmd().args(args).output().expect("run authkit");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(
            output.status.code(),
            Some(code),
            "authkit {args:?}: {stderr}{stdout}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line on stderr: {stderr:?}");
        assert!(stderr.starts_with("authkit: "), "{stderr}");
        (stdout, stderr)
    }

    /// `Auth` over the case's database, as an application would build it (migrations
    /// already run by the CLI: verify only).
    pub(crate) async fn auth(&self) -> Auth {
        let options = StoreOptions::default()
            .tables(self.tables.clone())
            .run_migrations(false);
        let stores = match self.kind {
            Kind::Sqlite => {
                let connect = SqliteStore::connect_options(&self.url).expect("SQLite URL");
                let pool = SqlitePoolOptions::new().connect_with(connect).await;
                let store = SqliteStore::new(pool.expect("open SQLite"), options).await;
                Stores::from_backend(store.expect("the CLI's schema verifies"))
            }
            Kind::Postgres => {
                let pool = PgPoolOptions::new().max_connections(2).connect(&self.url);
                let store = PgStore::new(pool.await.expect("connect"), options).await;
                Stores::from_backend(store.expect("the CLI's schema verifies"))
            }
            Kind::MySql => {
                let pool = MySqlPoolOptions::new()
                    .max_connections(2)
                    .connect(&self.url);
                let store = MySqlStore::new(pool.await.expect("connect"), options).await;
                Stores::from_backend(store.expect("the CLI's schema verifies"))
            }
        };
        let config = Config::new("https://cli.test", SigningKey::new([7u8; 32]));
        Auth::builder(stores, config).build().expect("build Auth")
    }

    /// The sessions table as SQL names it here.
    pub(crate) fn sessions_table(&self) -> String {
        let dialect = match self.kind {
            Kind::Sqlite => authkit_schema::Dialect::Sqlite,
            Kind::Postgres => authkit_schema::Dialect::Postgres,
            Kind::MySql => authkit_schema::Dialect::MySql,
        };
        self.tables
            .qualified(authkit_schema::Table::Sessions, dialect)
    }

    /// Runs one statement on the case's database (to break its schema on purpose).
    pub(crate) async fn execute(&self, statement: String) {
        let done = match self.kind {
            Kind::Sqlite => {
                let connect = SqliteStore::connect_options(&self.url).expect("SQLite URL");
                let mut conn = sqlx::SqliteConnection::connect_with(&connect)
                    .await
                    .unwrap();
                let query = sqlx::query(AssertSqlSafe(statement));
                query.execute(&mut conn).await.map(drop)
            }
            Kind::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.unwrap();
                let query = sqlx::query(AssertSqlSafe(statement));
                query.execute(&mut conn).await.map(drop)
            }
            Kind::MySql => {
                let mut conn = MySqlConnection::connect(&self.url).await.unwrap();
                let query = sqlx::query(AssertSqlSafe(statement));
                query.execute(&mut conn).await.map(drop)
            }
        };
        done.expect("run the statement");
    }
}

fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let url = format!("sqlite://{}", dir.path().join("authkit.db").display());
    Fixture {
        kind: Kind::Sqlite,
        url,
        options: vec!["--table-prefix".into(), SQLITE_PREFIX.into()],
        tables: TableNames::with_prefix(SQLITE_PREFIX).expect("a valid prefix"),
        _dir: Some(dir),
        _cleanup: None,
    }
}

async fn postgres() -> Fixture {
    let url = sqlx_common::url_from_env(PG_VAR, PG_DEFAULT);
    let mut conn = PgConnection::connect(&url).await.unwrap_or_else(|err| {
        panic!("cannot reach PostgreSQL at {url}: {err}. Set {PG_VAR} to a server the tests may create schemas on.")
    });
    static SWEPT: std::sync::Once = std::sync::Once::new();
    if !SWEPT.is_completed() {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'akc\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .expect("list schemas");
        for name in names.iter().filter(|n| sqlx_common::is_stale(PREFIX, n)) {
            let drop = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
            let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await;
        }
        SWEPT.call_once(|| ());
    }
    let _ = conn.close().await;
    let schema = sqlx_common::case_name(PREFIX);
    let (admin_url, doomed) = (url.clone(), schema.clone());
    let cleanup = Cleanup::new(async move {
        let Ok(mut conn) = PgConnection::connect(&admin_url).await else {
            return;
        };
        let drop = format!("DROP SCHEMA IF EXISTS \"{doomed}\" CASCADE");
        let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await;
        let _ = conn.close().await;
    });
    Fixture {
        kind: Kind::Postgres,
        url,
        options: vec!["--pg-schema".into(), schema.clone()],
        tables: TableNames::default()
            .in_namespace(&schema)
            .expect("a valid schema name"),
        _dir: None,
        _cleanup: Some(cleanup),
    }
}

async fn mysql() -> Fixture {
    let url = sqlx_common::url_from_env(MYSQL_VAR, MYSQL_DEFAULT);
    let mut conn = MySqlConnection::connect(&url).await.unwrap_or_else(|err| {
        panic!("cannot reach MySQL/MariaDB at {url}: {err}. Set {MYSQL_VAR} to a server the tests may create databases on.")
    });
    static SWEPT: std::sync::Once = std::sync::Once::new();
    if !SWEPT.is_completed() {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME LIKE 'akc\\_%'",
        )
        .fetch_all(&mut conn)
        .await
        .expect("list databases");
        for name in names.iter().filter(|n| sqlx_common::is_stale(PREFIX, n)) {
            let drop = format!("DROP DATABASE IF EXISTS `{name}`");
            let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await;
        }
        SWEPT.call_once(|| ());
    }
    let database = sqlx_common::case_name(PREFIX);
    let create = format!("CREATE DATABASE `{database}`");
    sqlx::query(AssertSqlSafe(create))
        .execute(&mut conn)
        .await
        .expect("create the case's database");
    let _ = conn.close().await;
    let case_url = with_database(&url, &database);
    let (admin_url, doomed) = (url, database);
    let cleanup = Cleanup::new(async move {
        let Ok(mut conn) = MySqlConnection::connect(&admin_url).await else {
            return;
        };
        let drop = format!("DROP DATABASE IF EXISTS `{doomed}`");
        let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await;
        let _ = conn.close().await;
    });
    Fixture {
        kind: Kind::MySql,
        url: case_url,
        options: Vec::new(),
        tables: TableNames::default(),
        _dir: None,
        _cleanup: Some(cleanup),
    }
}

/// `url` naming `database` instead of its own (query string kept).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    format!("{}/{database}{query}", &base[..host_end])
}
