//! Start-up on the local PostgreSQL and MariaDB: the verifier reads each catalogue right
//! (types, nullability, missing columns and tables), and overridden names (a reserved
//! word among them) work end to end. Servers: `AUTHKIT_TEST_POSTGRES_URL`,
//! `AUTHKIT_TEST_MYSQL_URL` (defaults: the local ones); unreachable is a failure.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;

use authkit::{StoreError, User, UserId, UserStore};
use authkit_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use authkit_sqlx::sqlx::{self, AssertSqlSafe};
use authkit_sqlx::{MySqlStore, PgStore, StoreOptions, Table, TableNames};
use time::macros::datetime;

fn var(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}_{}",
        std::process::id(),
        UserId::new().0.simple()
    )
}

fn problems<T: std::fmt::Debug>(result: Result<T, StoreError>) -> Vec<String> {
    match result {
        Err(StoreError::SchemaDrift(mut problems)) => {
            problems.sort();
            problems
        }
        other => panic!("expected SchemaDrift, got {other:?}"),
    }
}

fn user() -> User {
    let t = datetime!(2030-01-01 00:00:00.654321 UTC);
    User {
        id: UserId::new(),
        email: "Case@Example.com".into(),
        password_hash: None,
        email_verified_at: None,
        created_at: t,
        updated_at: t,
    }
}

fn names() -> TableNames {
    TableNames::with_prefix("x_")
        .unwrap()
        .set(Table::Users, "user")
        .unwrap()
}

/// A pool on a fresh schema, and the schema's name (dropped by the caller).
async fn pg_schema() -> (PgPool, PgPool, String) {
    let url = var(
        "AUTHKIT_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let admin = PgPool::connect(&url)
        .await
        .expect("PostgreSQL at AUTHKIT_TEST_POSTGRES_URL");
    let schema = unique("akt_schema_");
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&admin)
        .await
        .unwrap();
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    (admin, pool, schema)
}

async fn mysql_database() -> (MySqlPool, MySqlPool, String) {
    let url = var("AUTHKIT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
    let admin = MySqlPool::connect(&url)
        .await
        .expect("MariaDB at AUTHKIT_TEST_MYSQL_URL");
    let database = unique("akt_schema_");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&admin)
        .await
        .unwrap();
    let options = MySqlConnectOptions::from_str(&url)
        .unwrap()
        .database(&database);
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    (admin, pool, database)
}

#[tokio::test]
async fn postgres_drift_is_reported() {
    let (admin, pool, schema) = pg_schema().await;
    PgStore::new(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    sqlx::raw_sql(
        "ALTER TABLE authkit_api_keys ALTER COLUMN usage_count TYPE integer;
         ALTER TABLE authkit_refresh_tokens ALTER COLUMN expires_at DROP NOT NULL;
         ALTER TABLE authkit_sessions DROP COLUMN payload;
         ALTER TABLE authkit_sessions ADD COLUMN device text;
         DROP TABLE authkit_user_grants;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let found = problems(PgStore::new(pool.clone(), StoreOptions::default()).await);
    pool.close().await;
    let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await;
    assert_eq!(
        found,
        [
            "authkit_api_keys.usage_count: type drift: expected bigint, found integer",
            "authkit_refresh_tokens.expires_at: nullability drift: expected NOT NULL, found nullable",
            "authkit_sessions.payload: missing column",
            "authkit_user_grants: missing table",
        ]
    );
}

#[tokio::test]
async fn mysql_drift_is_reported() {
    let (admin, pool, database) = mysql_database().await;
    MySqlStore::new(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    sqlx::raw_sql(
        "ALTER TABLE authkit_api_keys MODIFY usage_count INT NOT NULL;
         ALTER TABLE authkit_refresh_tokens MODIFY expires_at DATETIME(6) NULL;
         ALTER TABLE authkit_sessions MODIFY created_at DATETIME NOT NULL;
         ALTER TABLE authkit_sessions DROP COLUMN payload;
         ALTER TABLE authkit_users DROP INDEX authkit_users_email_key;
         ALTER TABLE authkit_users DROP COLUMN email_lower;
         DROP TABLE authkit_user_grants;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let found = problems(MySqlStore::new(pool.clone(), StoreOptions::default()).await);
    pool.close().await;
    let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE {database}")))
        .execute(&admin)
        .await;
    assert_eq!(
        found,
        [
            "authkit_api_keys.usage_count: type drift: expected BIGINT, found int(11)",
            "authkit_refresh_tokens.expires_at: nullability drift: expected NOT NULL, found nullable",
            "authkit_sessions.created_at: type drift: expected DATETIME(6), found datetime",
            "authkit_sessions.payload: missing column",
            "authkit_user_grants: missing table",
            "authkit_users.email_lower: missing column",
            // The unique key lived on the dropped column.
            "authkit_users: missing unique index authkit_users_email_key on (email_lower)",
        ]
    );
}

#[tokio::test]
async fn postgres_overridden_names() {
    let (admin, pool, schema) = pg_schema().await;
    let store = PgStore::new(pool.clone(), StoreOptions::default().tables(names()))
        .await
        .unwrap();
    let u = user();
    store.create_user(&u).await.unwrap();
    assert_eq!(
        store.user_by_email("case@example.COM").await.unwrap(),
        Some(u.clone())
    );
    assert!(matches!(
        store
            .create_user(&User {
                id: UserId::new(),
                ..u.clone()
            })
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let tracked: i64 = sqlx::query_scalar("SELECT count(*) FROM x_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&admin)
        .await;
    // One row per migration the crate ships, tracked in the renamed table.
    let shipped = PgStore::migrator(&names()).iter().count();
    assert_eq!(usize::try_from(tracked).unwrap(), shipped);
}

#[tokio::test]
async fn mysql_overridden_names() {
    let (admin, pool, database) = mysql_database().await;
    let store = MySqlStore::new(pool.clone(), StoreOptions::default().tables(names()))
        .await
        .unwrap();
    let u = user();
    store.create_user(&u).await.unwrap();
    assert_eq!(
        store.user_by_email("case@example.COM").await.unwrap(),
        Some(u.clone())
    );
    assert!(matches!(
        store
            .create_user(&User {
                id: UserId::new(),
                ..u.clone()
            })
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let tracked: i64 = sqlx::query_scalar("SELECT count(*) FROM x_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE {database}")))
        .execute(&admin)
        .await;
    let shipped = MySqlStore::migrator(&names()).iter().count();
    assert_eq!(usize::try_from(tracked).unwrap(), shipped);
}
