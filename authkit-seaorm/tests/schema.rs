//! The schema this crate's migrations produce is the frozen schema of `authkit-schema`:
//! the verifier (through authkit-sqlx's catalogue reader) finds no problem on SQLite,
//! PostgreSQL and MariaDB, whether the standalone [`Migrator`] ran or an application's
//! own migrator ran [`migrations()`]. Migrating twice changes nothing.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use authkit_schema::TableNames;
use authkit_seaorm::sea_orm::{Database, DatabaseConnection};
use authkit_seaorm::sea_orm_migration::{MigrationTrait, MigratorTrait};
use authkit_seaorm::{Migrator, migrations};
use common::server::{Scratch, Server};

/// An application's migrator: its own migrations (none here) and authkit's, tracked in
/// SeaORM's default `seaql_migrations`.
struct AppMigrator;

impl MigratorTrait for AppMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        migrations()
    }
}

/// Which migrator a case runs.
#[derive(Clone, Copy, Debug)]
enum Route {
    Standalone,
    Application,
}

/// Runs the route's migrator twice, and checks that every migration is recorded once.
async fn migrate(db: &DatabaseConnection, route: Route) {
    for _ in 0..2 {
        let applied = match route {
            Route::Standalone => {
                Migrator::up(db, None).await.unwrap();
                Migrator::get_applied_migrations(db).await.unwrap().len()
            }
            Route::Application => {
                AppMigrator::up(db, None).await.unwrap();
                AppMigrator::get_applied_migrations(db).await.unwrap().len()
            }
        };
        assert_eq!(applied, migrations().len(), "{route:?}");
    }
}

/// The verifier's problems, one line each, for the assertion message.
fn lines(problems: &[authkit_schema::Problem]) -> String {
    problems.iter().map(|p| format!("\n  {p}")).collect()
}

async fn sqlite(route: Route) {
    let files = common::TempFiles::default();
    let url = format!("sqlite://{}", files.fresh().display());
    let db = Database::connect(authkit_seaorm::SqliteStore::connect_options(&url))
        .await
        .unwrap();
    migrate(&db, route).await;
    let pool = db.get_sqlite_connection_pool();
    let tables = TableNames::default();
    let problems = authkit_sqlx::SqliteStore::schema_problems(pool, &tables)
        .await
        .unwrap();
    assert!(problems.is_empty(), "{route:?}:{}", lines(&problems));
    authkit_sqlx::SqliteStore::verify_schema(pool, &tables)
        .await
        .unwrap();
}

async fn postgres(route: Route) {
    let scratch = Scratch::default();
    let db = Server::Postgres
        .connect(&scratch.fresh(Server::Postgres).await)
        .await;
    migrate(&db, route).await;
    let pool = db.get_postgres_connection_pool();
    let tables = TableNames::default();
    let problems = authkit_sqlx::PgStore::schema_problems(pool, &tables)
        .await
        .unwrap();
    assert!(problems.is_empty(), "{route:?}:{}", lines(&problems));
    authkit_sqlx::PgStore::verify_schema(pool, &tables)
        .await
        .unwrap();
}

async fn mysql(route: Route) {
    let scratch = Scratch::default();
    let db = Server::MySql
        .connect(&scratch.fresh(Server::MySql).await)
        .await;
    migrate(&db, route).await;
    let pool = db.get_mysql_connection_pool();
    let tables = TableNames::default();
    let problems = authkit_sqlx::MySqlStore::schema_problems(pool, &tables)
        .await
        .unwrap();
    assert!(problems.is_empty(), "{route:?}:{}", lines(&problems));
    authkit_sqlx::MySqlStore::verify_schema(pool, &tables)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_standalone_migrator_gives_the_frozen_schema() {
    sqlite(Route::Standalone).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_application_migrator_gives_the_frozen_schema() {
    sqlite(Route::Application).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_standalone_migrator_gives_the_frozen_schema() {
    postgres(Route::Standalone).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_application_migrator_gives_the_frozen_schema() {
    postgres(Route::Application).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_standalone_migrator_gives_the_frozen_schema() {
    mysql(Route::Standalone).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_application_migrator_gives_the_frozen_schema() {
    mysql(Route::Application).await;
}

/// The standalone migrator keeps its history apart from SeaORM's default table and
/// from authkit-sqlx's.
#[test]
fn the_standalone_history_table_is_authkits_own() {
    let name = Migrator::migration_table_name().to_string();
    assert_eq!(name, authkit_seaorm::HISTORY_TABLE);
    assert_ne!(name, AppMigrator::migration_table_name().to_string());
    assert_ne!(name, "authkit_migrations");
}
