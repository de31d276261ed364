//! The schema crate's migration files on each database, and what the verifier makes of
//! the result:
//!
//! - every file, applied in order on a fresh PostgreSQL schema, MariaDB database or
//!   SQLite file, gives a schema the verifier accepts;
//! - a unique index dropped (or replaced by a plain one), and a foreign key that no
//!   longer cascades, are named by the verifier;
//! - on PostgreSQL, tables in a namespace of their own work end to end (conformance
//!   cases on a store created with the namespace option), and a schema first reached
//!   through `search_path` opens with the namespace option too.
//!
//! Servers: `AUTHKIT_TEST_POSTGRES_URL`, `AUTHKIT_TEST_MYSQL_URL` (defaults: the local
//! ones); unreachable is a failure naming the variable, never a skip. Schemas and
//! databases are named like the conformance suite's (`akt_<unix seconds>_<pid>_<n>`, so
//! its sweep drops what a killed run leaves) and dropped when the test ends.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::error::Error as _;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Mutex;

use authkit::{StoreError, Stores, User, UserId, UserStore};
use authkit_conformance::{StoreFactory, async_trait, cases};
use authkit_schema::{Dialect, Problem, TableNames, UnsupportedNamespace, migrations};
use authkit_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use authkit_sqlx::sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use authkit_sqlx::sqlx::{self, AssertSqlSafe};
use authkit_sqlx::{MySqlStore, PgStore, SqliteStore, StoreOptions};
use time::macros::datetime;

const PG_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_VAR: &str = "AUTHKIT_TEST_MYSQL_URL";
const MYSQL_DEFAULT: &str = "mysql://root@127.0.0.1:3306/test";

fn pg_url() -> String {
    common::url_from_env(PG_VAR, PG_DEFAULT)
}

fn mysql_url() -> String {
    common::url_from_env(MYSQL_VAR, MYSQL_DEFAULT)
}

/// Runs a script of several statements.
async fn script<'c, E>(executor: E, sql: &str)
where
    E: sqlx::Executor<'c>,
{
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(executor)
        .await
        .unwrap_or_else(|err| panic!("{err}\nwhile running:\n{sql}"));
}

fn strings(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

fn user(email: &str) -> User {
    let t = datetime!(2030-01-01 00:00:00.123456 UTC);
    User {
        id: UserId::new(),
        email: email.into(),
        password_hash: None,
        email_verified_at: None,
        created_at: t,
        updated_at: t,
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// A connection pool for administration; panics naming the variable when unreachable.
async fn pg_admin() -> PgPool {
    let url = pg_url();
    PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap_or_else(|err| {
            panic!("cannot reach PostgreSQL at {url}: {err}. Set {PG_VAR} to a server the tests may create schemas on.")
        })
}

/// Drops the PostgreSQL schemas named when dropped (also while unwinding).
#[derive(Default)]
struct PgSchemas(Mutex<Vec<String>>);

impl PgSchemas {
    /// A fresh name, remembered for the cleanup (the schema itself is not created).
    fn name(&self) -> String {
        let name = common::case_name("akt_");
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.clone());
        name
    }

    /// A fresh, created schema.
    async fn create(&self) -> String {
        let name = self.name();
        script(&pg_admin().await, &format!("CREATE SCHEMA \"{name}\"")).await;
        name
    }
}

impl Drop for PgSchemas {
    fn drop(&mut self) {
        let names = std::mem::take(self.0.get_mut().unwrap_or_else(|e| e.into_inner()));
        let url = pg_url();
        common::run_cleanup(async move {
            let Ok(admin) = PgPool::connect(&url).await else {
                return;
            };
            for name in names {
                let _ = sqlx::query(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                )))
                .execute(&admin)
                .await;
            }
            admin.close().await;
        });
    }
}

/// A pool whose `search_path` is `schema` only, or the server's default without one.
async fn pg_pool(search_path: Option<&str>) -> PgPool {
    let mut options = PgConnectOptions::from_str(&pg_url()).expect("parse the PostgreSQL URL");
    if let Some(schema) = search_path {
        options = options.options([("search_path", schema)]);
    }
    PgPoolOptions::new()
        .max_connections(3)
        .connect_with(options)
        .await
        .unwrap_or_else(|err| panic!("connect to PostgreSQL ({PG_VAR}): {err}"))
}

#[tokio::test]
async fn postgres_files_apply_in_order_and_verify() {
    let schemas = PgSchemas::default();
    // Default names, found through search_path.
    let schema = schemas.create().await;
    let pool = pg_pool(Some(&schema)).await;
    let names = TableNames::default();
    for migration in migrations(Dialect::Postgres) {
        script(&pool, &migration.render(&names)).await;
    }
    assert_eq!(PgStore::schema_problems(&pool, &names).await.unwrap(), []);
    PgStore::new(pool.clone(), StoreOptions::default().run_migrations(false))
        .await
        .unwrap();
    pool.close().await;

    // Other names, in a namespace, from a pool whose search_path does not name it.
    let namespace = schemas.create().await;
    let names = TableNames::with_prefix("app_")
        .unwrap()
        .in_namespace(&namespace)
        .unwrap();
    let pool = pg_pool(None).await;
    for migration in migrations(Dialect::Postgres) {
        script(&pool, &migration.render(&names)).await;
    }
    assert_eq!(PgStore::schema_problems(&pool, &names).await.unwrap(), []);
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&namespace)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        tables,
        authkit_schema::TABLES.len() as i64,
        "every model table, in the namespace"
    );
    pool.close().await;
}

#[tokio::test]
async fn postgres_dropped_unique_indexes_are_named() {
    let schemas = PgSchemas::default();
    let schema = schemas.create().await;
    let pool = pg_pool(Some(&schema)).await;
    PgStore::new(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    script(
        &pool,
        "ALTER TABLE authkit_sessions DROP CONSTRAINT authkit_sessions_token_hash_key;
         DROP INDEX authkit_users_email_key;
         CREATE INDEX authkit_users_email_plain ON authkit_users (lower(email));
         ALTER TABLE authkit_api_keys DROP CONSTRAINT authkit_api_keys_key_hash_key;
         CREATE INDEX authkit_api_keys_hash_plain ON authkit_api_keys (key_hash);
         ALTER TABLE authkit_user_roles DROP CONSTRAINT authkit_user_roles_role_id_fkey;
         ALTER TABLE authkit_user_roles ADD FOREIGN KEY (role_id)
             REFERENCES authkit_rbac_items (id);",
    )
    .await;
    let problems = PgStore::schema_problems(&pool, &TableNames::default())
        .await
        .unwrap();
    assert_eq!(
        strings(&problems),
        [
            "authkit_users: index authkit_users_email_plain on (lower(email)) is not unique",
            "authkit_sessions: missing unique index on (token_hash)",
            "authkit_api_keys: index authkit_api_keys_hash_plain on (key_hash) is not unique",
            "authkit_user_roles: foreign key (role_id) references authkit_rbac_items: \
             expected ON DELETE CASCADE, found ON DELETE NO ACTION",
        ]
    );
    // Start-up fails with the same lines.
    match PgStore::new(pool.clone(), StoreOptions::default()).await {
        Err(StoreError::SchemaDrift(lines)) => assert_eq!(lines, strings(&problems)),
        other => panic!("expected SchemaDrift, got {other:?}"),
    }
    pool.close().await;
}

/// Stores on tables in a namespace the store creates, reached from pools whose
/// `search_path` does not name it.
#[derive(Default)]
struct NamespaceFactory {
    schemas: PgSchemas,
}

async fn open_in_namespace(namespace: &str) -> Stores {
    let options = StoreOptions::default().namespace(namespace).unwrap();
    let store = PgStore::new(pg_pool(None).await, options)
        .await
        .expect("migrate and verify the case's namespace");
    assert_eq!(store.table_names().namespace(), Some(namespace));
    Stores::from_backend(store)
}

#[async_trait]
impl StoreFactory for NamespaceFactory {
    async fn stores(&self) -> Stores {
        open_in_namespace(&self.schemas.name()).await
    }

    async fn two_handles(&self) -> (Stores, Stores) {
        let namespace = self.schemas.name();
        let first = open_in_namespace(&namespace).await;
        (first, open_in_namespace(&namespace).await)
    }
}

/// A selection of conformance cases, every trait and the flows over them, on tables in
/// a namespace: every statement names its tables qualified.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_namespace_end_to_end() {
    let f = NamespaceFactory::default();
    cases::users::create_then_read(&f).await;
    cases::users::duplicate_email_conflicts_ignoring_case(&f).await;
    cases::sessions::touch_slides_idle_deadline(&f).await;
    cases::sessions::purge_respects_limit(&f).await;
    cases::tokens::refresh_concurrent_rotation_rotates_once(&f).await;
    cases::tokens::one_time_concurrent_consume_once(&f).await;
    cases::tokens::otp_decisions_applied(&f).await;
    cases::api_keys::replace_api_key(&f).await;
    cases::api_keys::purge_api_keys(&f).await;
    cases::rbac::user_grants_union(&f).await;
    cases::cascade::delete_user_removes_everything(&f).await;
    cases::flows::password_login(&f).await;
    cases::refresh_races::two_servers_rotate_once(&f).await;

    // The migrations table lives in the namespace too, and nothing went to `public`.
    let namespace = f.schemas.name();
    let store = PgStore::new(
        pg_pool(None).await,
        StoreOptions::default().namespace(&namespace).unwrap(),
    )
    .await
    .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = $1 ORDER BY 1",
    )
    .bind(&namespace)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        tables.len(),
        authkit_schema::TABLES.len() + 1,
        "the model's tables and the migrations table: {tables:?}"
    );
    assert!(tables.contains(&"authkit_migrations".to_owned()));
}

/// A schema migrated through `search_path` (no namespace option) opens with the option
/// naming it: same data, and the migration checksums still match.
#[tokio::test]
async fn postgres_search_path_schema_opens_with_the_namespace() {
    let schemas = PgSchemas::default();
    let schema = schemas.create().await;
    let through_path = PgStore::new(pg_pool(Some(&schema)).await, StoreOptions::default())
        .await
        .unwrap();
    let u = user("path@example.com");
    through_path.create_user(&u).await.unwrap();
    let named = PgStore::new(
        pg_pool(None).await,
        StoreOptions::default().namespace(&schema).unwrap(),
    )
    .await
    .expect("the applied migration's checksum does not depend on the namespace");
    assert_eq!(named.user_by_id(u.id).await.unwrap(), Some(u));
    let applied: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{schema}\".authkit_migrations"
    )))
    .fetch_one(named.pool())
    .await
    .unwrap();
    assert_eq!(applied, migrations(Dialect::Postgres).len() as i64);
}

// ---------------------------------------------------------------------------------------
// MariaDB

/// Drops the MariaDB database when dropped (also while unwinding).
struct MySqlDatabase(String);

impl Drop for MySqlDatabase {
    fn drop(&mut self) {
        let name = self.0.clone();
        let url = mysql_url();
        common::run_cleanup(async move {
            let Ok(admin) = MySqlPool::connect(&url).await else {
                return;
            };
            let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
                .execute(&admin)
                .await;
            admin.close().await;
        });
    }
}

/// A fresh database, and a pool on it.
async fn mysql_database() -> (MySqlDatabase, MySqlPool) {
    let url = mysql_url();
    let admin = MySqlPool::connect(&url).await.unwrap_or_else(|err| {
        panic!("cannot reach MySQL/MariaDB at {url}: {err}. Set {MYSQL_VAR} to a server the tests may create databases on.")
    });
    let database = MySqlDatabase(common::case_name("akt_"));
    script(&admin, &format!("CREATE DATABASE `{}`", database.0)).await;
    admin.close().await;
    let options = MySqlConnectOptions::from_str(&url)
        .expect("parse the MySQL URL")
        .database(&database.0);
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap_or_else(|err| panic!("connect to MySQL/MariaDB ({MYSQL_VAR}): {err}"));
    (database, pool)
}

#[tokio::test]
async fn mysql_files_apply_in_order_and_verify() {
    let (_database, pool) = mysql_database().await;
    let names = TableNames::with_prefix("app_").unwrap();
    for migration in migrations(Dialect::MySql) {
        script(&pool, &migration.render(&names)).await;
    }
    assert_eq!(
        MySqlStore::schema_problems(&pool, &names).await.unwrap(),
        []
    );
    MySqlStore::new(
        pool.clone(),
        StoreOptions::default().tables(names).run_migrations(false),
    )
    .await
    .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn mysql_dropped_unique_indexes_are_named() {
    let (_database, pool) = mysql_database().await;
    MySqlStore::new(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    script(
        &pool,
        "ALTER TABLE authkit_sessions DROP INDEX token_hash;
         ALTER TABLE authkit_users DROP INDEX authkit_users_email_key;
         CREATE INDEX authkit_users_email_plain ON authkit_users (email_lower);
         ALTER TABLE authkit_api_keys DROP INDEX key_hash;
         CREATE INDEX authkit_api_keys_hash_plain ON authkit_api_keys (key_hash);",
    )
    .await;
    let problems = MySqlStore::schema_problems(&pool, &TableNames::default())
        .await
        .unwrap();
    assert_eq!(
        strings(&problems),
        [
            "authkit_users: index authkit_users_email_plain on (email_lower) is not unique",
            "authkit_sessions: missing unique index on (token_hash)",
            "authkit_api_keys: index authkit_api_keys_hash_plain on (key_hash) is not unique",
        ]
    );
    pool.close().await;
}

#[tokio::test]
async fn namespaces_are_refused_where_there_are_none() {
    let (_database, pool) = mysql_database().await;
    let err = MySqlStore::new(
        pool.clone(),
        StoreOptions::default().namespace("auth").unwrap(),
    )
    .await
    .unwrap_err();
    assert_unsupported(&err, Dialect::MySql);
    pool.close().await;

    let db = TempDb::new();
    let err = SqliteStore::new(
        db.pool().await,
        StoreOptions::default().namespace("auth").unwrap(),
    )
    .await
    .unwrap_err();
    assert_unsupported(&err, Dialect::Sqlite);
}

fn assert_unsupported(err: &StoreError, dialect: Dialect) {
    let source = err
        .source()
        .and_then(|s| s.downcast_ref::<UnsupportedNamespace>());
    assert!(
        matches!(source, Some(e) if e.dialect == dialect && e.namespace == "auth"),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------
// SQLite

/// A database file, deleted (with its WAL and shared-memory files) when dropped.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        TempDb(std::env::temp_dir().join(format!("{}.db", common::case_name("authkit_mig_"))))
    }

    async fn pool(&self) -> SqlitePool {
        let url = format!("sqlite://{}", self.0.display());
        SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(SqliteStore::connect_options(&url).unwrap())
            .await
            .unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.0.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

#[tokio::test]
async fn sqlite_files_apply_in_order_and_verify() {
    let db = TempDb::new();
    let pool = db.pool().await;
    let names = TableNames::with_prefix("app_").unwrap();
    for migration in migrations(Dialect::Sqlite) {
        script(&pool, &migration.render(&names)).await;
    }
    assert_eq!(
        SqliteStore::schema_problems(&pool, &names).await.unwrap(),
        []
    );
    let live = SqliteStore::catalogue(&pool, &names).await.unwrap();
    assert!(
        live.indexes
            .iter()
            .any(|i| i.unique && i.keys == ["lower(email)"]),
        "the expression index is read from its CREATE INDEX: {:?}",
        live.indexes
    );
    SqliteStore::new(
        pool.clone(),
        StoreOptions::default().tables(names).run_migrations(false),
    )
    .await
    .unwrap();
    pool.close().await;
}

#[tokio::test]
async fn sqlite_dropped_unique_indexes_are_named() {
    let db = TempDb::new();
    let pool = db.pool().await;
    let names = TableNames::default();
    SqliteStore::new(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    // SQLite cannot drop a UNIQUE constraint: the API keys table is rebuilt from the
    // schema's own DDL without it.
    let schema = SqliteStore::schema_sql(&names);
    let api_keys = schema
        .split("\n\n")
        .find(|part| part.starts_with("CREATE TABLE \"authkit_api_keys\""))
        .unwrap()
        .replace("    UNIQUE (key_hash),\n", "");
    script(
        &pool,
        &format!(
            "PRAGMA foreign_keys = OFF;
             DROP TABLE authkit_api_keys;
             {api_keys}
             PRAGMA foreign_keys = ON;
             DROP INDEX authkit_users_email_key;
             CREATE INDEX authkit_users_email_key ON authkit_users (lower(email));"
        ),
    )
    .await;
    let problems = SqliteStore::schema_problems(&pool, &names).await.unwrap();
    assert_eq!(
        strings(&problems),
        [
            "authkit_users: index authkit_users_email_key on (lower(email)) is not unique",
            "authkit_api_keys: missing unique index on (key_hash)",
        ]
    );
    pool.close().await;
}
