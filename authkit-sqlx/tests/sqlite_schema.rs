//! Start-up on SQLite: migrations in authkit's own table, the schema verifier's drift
//! reports, both steps switched off, and overridden table names.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use authkit::{Session, SessionId, SessionStore, StoreError, User, UserId, UserStore};
use authkit_sqlx::sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use authkit_sqlx::sqlx::{self, AssertSqlSafe};
use authkit_sqlx::{SqliteStore, StoreOptions, Table, TableNames};
use time::macros::datetime;

/// A database file deleted on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> Self {
        TempDb(std::env::temp_dir().join(format!(
            "authkit_sqlx_{name}_{}_{}.db",
            std::process::id(),
            UserId::new()
        )))
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

async fn exec(pool: &SqlitePool, sql: &str) {
    sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
        .execute(pool)
        .await
        .unwrap();
}

async fn tables(pool: &SqlitePool) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(pool)
        .await
        .unwrap()
}

fn drift(result: Result<SqliteStore, StoreError>) -> Vec<String> {
    match result {
        Err(StoreError::SchemaDrift(problems)) => problems,
        other => panic!("expected SchemaDrift, got {other:?}"),
    }
}

#[tokio::test]
async fn migrations_use_authkit_table_and_are_idempotent() {
    let db = TempDb::new("migrate");
    let pool = db.pool().await;
    SqliteStore::new(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    // A second start (another instance, a restart) applies nothing and passes.
    SqliteStore::new(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    let names = tables(&pool).await;
    assert!(
        names.contains(&"authkit_migrations".to_owned()),
        "{names:?}"
    );
    assert!(!names.contains(&"_sqlx_migrations".to_owned()), "{names:?}");
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM authkit_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    let shipped = SqliteStore::migrator(&TableNames::default()).iter().count();
    assert_eq!(
        usize::try_from(applied).unwrap(),
        shipped,
        "every migration, once"
    );
}

#[tokio::test]
async fn verifier_names_every_problem() {
    let db = TempDb::new("drift");
    let pool = db.pool().await;
    SqliteStore::new(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    exec(
        &pool,
        "PRAGMA foreign_keys = OFF;
         DROP TABLE authkit_user_grants;
         ALTER TABLE authkit_sessions DROP COLUMN payload;
         ALTER TABLE authkit_rbac_items ADD COLUMN extra TEXT;
         DROP TABLE authkit_role_grants;
         CREATE TABLE authkit_role_grants (role_id TEXT NOT NULL, item_id BLOB);
         PRAGMA foreign_keys = ON;",
    )
    .await;
    let mut problems = drift(SqliteStore::new(pool.clone(), StoreOptions::default()).await);
    problems.sort();
    assert_eq!(
        problems,
        [
            "authkit_role_grants.item_id: nullability drift: expected NOT NULL, found nullable",
            "authkit_role_grants.role_id: type drift: expected BLOB, found TEXT",
            // The table was recreated bare: no keys, no index.
            "authkit_role_grants: missing foreign key (item_id) references authkit_rbac_items",
            "authkit_role_grants: missing foreign key (role_id) references authkit_rbac_items",
            "authkit_role_grants: missing index authkit_role_grants_item_idx on (item_id)",
            "authkit_role_grants: missing primary key (role_id, item_id)",
            "authkit_sessions.payload: missing column",
            "authkit_user_grants: missing table",
        ]
    );
}

#[tokio::test]
async fn steps_can_be_switched_off() {
    let db = TempDb::new("off");
    let pool = db.pool().await;
    let neither = StoreOptions::default()
        .run_migrations(false)
        .verify_schema(false);
    SqliteStore::new(pool.clone(), neither).await.unwrap();
    assert!(tables(&pool).await.is_empty(), "nothing was created");
    let verify_only = StoreOptions::default().run_migrations(false);
    let problems = drift(SqliteStore::new(pool.clone(), verify_only).await);
    // One missing table each, the migrations' tracking table aside (not in the model).
    assert_eq!(problems.len(), Table::ALL.len() - 1, "{problems:?}");
    assert!(problems.contains(&"authkit_users: missing table".to_owned()));
}

#[tokio::test]
async fn embedded_schema_then_verify_only() {
    let db = TempDb::new("embedded");
    let pool = db.pool().await;
    exec(&pool, &SqliteStore::schema_sql(&TableNames::default())).await;
    SqliteStore::new(pool.clone(), StoreOptions::default().run_migrations(false))
        .await
        .unwrap();
}

#[tokio::test]
async fn foreign_keys_off_is_reported() {
    let db = TempDb::new("fk");
    let url = format!("sqlite://{}", db.0.display());
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteStore::connect_options(&url)
                .unwrap()
                .foreign_keys(false),
        )
        .await
        .unwrap();
    let problems = drift(SqliteStore::new(pool, StoreOptions::default()).await);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("foreign_keys"), "{problems:?}");
}

#[tokio::test]
async fn overridden_table_names_are_used() {
    let db = TempDb::new("names");
    let pool = db.pool().await;
    let names = TableNames::with_prefix("app_")
        .unwrap()
        .set(Table::Users, "accounts")
        .unwrap()
        // A reserved word works: generated SQL quotes every name.
        .set(Table::Sessions, "order")
        .unwrap();
    let store = SqliteStore::new(pool.clone(), StoreOptions::default().tables(names))
        .await
        .unwrap();
    let t = datetime!(2030-01-01 00:00:00.000001 UTC);
    let user = User {
        id: UserId::new(),
        email: "a@example.com".into(),
        password_hash: None,
        email_verified_at: None,
        created_at: t,
        updated_at: t,
    };
    store.create_user(&user).await.unwrap();
    let session = Session {
        id: SessionId::new(),
        user_id: user.id,
        token_hash: authkit::TokenHash([7; 32]),
        created_at: t,
        last_seen_at: t,
        idle_expires_at: t + time::Duration::hours(1),
        absolute_expires_at: t + time::Duration::hours(2),
        payload: None,
    };
    store.create_session(&session).await.unwrap();
    assert_eq!(
        store.session_by_id(session.id, t).await.unwrap(),
        Some(session)
    );
    let mut found = tables(&pool).await;
    found.retain(|n| !n.starts_with("sqlite_"));
    assert_eq!(
        found,
        [
            "accounts",
            "app_api_key_roles",
            "app_api_keys",
            "app_migrations",
            "app_one_time_tokens",
            "app_rbac_items",
            "app_refresh_tokens",
            "app_role_grants",
            "app_user_grants",
            "app_user_roles",
            "order",
        ]
    );
    // Cascades follow the renamed tables.
    assert!(store.delete_user(user.id).await.unwrap());
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM \"order\"")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
