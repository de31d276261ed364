//! The schema authkit-diesel's migrations produce, on each database: the schema
//! crate's verifier (through authkit-sqlx's catalogue readers) finds no problem, every
//! `table!` column exists, the runner is idempotent and refuses an altered history,
//! and the Diesel [`MigrationSource`](authkit_diesel::MigrationSource) produces the
//! same schema through Diesel's own tooling.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use std::str::FromStr;

use authkit_diesel::schema::*;
use authkit_schema::{Dialect, TableNames};
use authkit_sqlx::sqlx::mysql::MySqlPoolOptions;
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use authkit_sqlx::sqlx::sqlite::SqlitePoolOptions;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use support::{Cases, Server};

/// Selects every column the `table!`s declare, from every table (no rows needed):
/// a column missing or misnamed fails the statement.
macro_rules! select_every_column {
    ($conn:expr) => {{
        let conn = &mut *$conn;
        authkit_users::table
            .select(authkit_users::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
        authkit_sessions::table
            .select(authkit_sessions::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
        authkit_refresh_tokens::table
            .select(authkit_refresh_tokens::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
        authkit_one_time_tokens::table
            .select(authkit_one_time_tokens::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
        authkit_api_keys::table
            .select(authkit_api_keys::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
        authkit_rbac_items::table
            .select(authkit_rbac_items::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
        authkit_role_grants::table
            .select(authkit_role_grants::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
        authkit_user_roles::table
            .select(authkit_user_roles::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
        authkit_user_grants::table
            .select(authkit_user_grants::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
        authkit_api_key_roles::table
            .select(authkit_api_key_roles::all_columns)
            .limit(0)
            .execute(conn)
            .await
            .unwrap();
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_verifies() {
    let cases = Cases::default();
    let schema = cases.fresh_name(Server::Postgres).await;
    let pool = authkit_diesel::PgStore::build_pool(&Server::Postgres.case_url(&schema), 2);
    let store = authkit_diesel::PgStore::new(pool.unwrap()).await.unwrap();
    select_every_column!(store.pool().get().await.unwrap());
    // A second run finds everything applied.
    authkit_diesel::PgStore::migrate(store.pool())
        .await
        .unwrap();

    let options = PgConnectOptions::from_str(&Server::Postgres.url())
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let sqlx = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let names = TableNames::default();
    let problems = authkit_sqlx::PgStore::schema_problems(&sqlx, &names);
    assert_eq!(
        problems.await.unwrap(),
        vec![],
        "the verifier accepts the schema"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_schema_verifies() {
    let cases = Cases::default();
    let url = cases.fresh(Server::Mysql).await;
    let pool = authkit_diesel::MysqlStore::build_pool(&url, 2).unwrap();
    let store = authkit_diesel::MysqlStore::new(pool).await.unwrap();
    select_every_column!(store.pool().get().await.unwrap());
    authkit_diesel::MysqlStore::migrate(store.pool())
        .await
        .unwrap();

    let sqlx = MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .unwrap();
    let names = TableNames::default();
    let problems = authkit_sqlx::MySqlStore::schema_problems(&sqlx, &names);
    assert_eq!(
        problems.await.unwrap(),
        vec![],
        "the verifier accepts the schema"
    );
}

async fn sqlite_problems(file: &str) -> Vec<authkit_schema::Problem> {
    let url = format!("sqlite://{file}");
    let options = authkit_sqlx::SqliteStore::connect_options(&url).unwrap();
    let sqlx = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    authkit_sqlx::SqliteStore::schema_problems(&sqlx, &TableNames::default())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_schema_verifies() {
    let temp = support::TempFile::new();
    let file = temp.path();
    let pool = authkit_diesel::SqliteStore::build_pool(&file, 2).unwrap();
    let store = authkit_diesel::SqliteStore::new(pool).await.unwrap();
    select_every_column!(store.pool().get().await.unwrap());
    authkit_diesel::SqliteStore::migrate(store.pool())
        .await
        .unwrap();
    assert_eq!(
        sqlite_problems(&file).await,
        vec![],
        "the verifier accepts the schema"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_history_is_refused() {
    let temp = support::TempFile::new();
    let file = temp.path();
    let pool = authkit_diesel::SqliteStore::build_pool(&file, 2).unwrap();
    authkit_diesel::SqliteStore::migrate(&pool).await.unwrap();
    diesel::sql_query("UPDATE authkit_migrations SET checksum = x'00' WHERE version = 1")
        .execute(&mut *pool.get().await.unwrap())
        .await
        .unwrap();
    let err = authkit_diesel::SqliteStore::migrate(&pool)
        .await
        .unwrap_err();
    assert!(
        matches!(err, authkit::StoreError::Backend(_)),
        "a changed checksum stops the runner: {err:?}"
    );
    assert!(err.to_string().contains("checksum") || format!("{err:?}").contains("checksum"));
}

#[test]
fn diesel_tooling_migrates_the_same_schema() {
    use diesel_migrations::MigrationHarness;

    let temp = support::TempFile::new();
    let file = temp.path();
    let mut conn = diesel::SqliteConnection::establish(&file).unwrap();
    let source = authkit_diesel::migration_source(Dialect::Sqlite);
    let applied = conn.run_pending_migrations(source).unwrap();
    let versions: Vec<String> = applied.iter().map(ToString::to_string).collect();
    assert_eq!(versions, ["authkit_0001", "authkit_0002"]);
    assert!(conn.run_pending_migrations(source).unwrap().is_empty());
    drop(conn);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(runtime.block_on(sqlite_problems(&file)), vec![]);
}
