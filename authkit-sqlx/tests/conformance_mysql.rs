//! The conformance suite on [`MySqlStore`], one MySQL/MariaDB database per case:
//! `cargo nextest run -p authkit-sqlx --all-features --test conformance_mysql`.
//!
//! The server is `AUTHKIT_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`);
//! the account must be allowed to create and drop databases. A server that cannot be
//! reached fails every case with a message naming that variable; nothing is skipped.
//! Each case's database is dropped when the case ends; databases left by a killed run
//! are dropped by the next.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::str::FromStr;
use std::sync::Mutex;

use authkit::Stores;
use authkit_conformance::{Cleanup, StoreFactory, async_trait};
use authkit_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPoolOptions};
use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection};
use authkit_sqlx::{MySqlStore, StoreOptions};

const URL_VAR: &str = "AUTHKIT_TEST_MYSQL_URL";
const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";
/// Every database this suite creates starts so.
const PREFIX: &str = "akt_";
/// Connections per case: cases run in parallel, and the server allows about 150.
const POOL_SIZE: u32 = 5;

/// A fresh database per [`StoreFactory::stores`] call, dropped with the factory.
#[derive(Default)]
struct MySqlFactory {
    /// One per database made: drops it when the case ends.
    cleanups: Mutex<Vec<Cleanup>>,
}

async fn admin(url: &str) -> MySqlConnection {
    MySqlConnection::connect(url).await.unwrap_or_else(|err| {
        panic!(
            "cannot reach MySQL/MariaDB at {url}: {err}. \
             Set {URL_VAR} to a server the suite may create databases on."
        )
    })
}

/// Drops databases of earlier runs that were killed before they could clean up.
async fn sweep(conn: &mut MySqlConnection) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
         WHERE SCHEMA_NAME LIKE 'akt\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("list databases");
    for name in names.iter().filter(|n| common::is_stale(PREFIX, n)) {
        let _ = sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{name}`")))
            .execute(&mut *conn)
            .await;
    }
}

impl MySqlFactory {
    /// Creates a fresh database for one case and remembers it for the cleanup.
    async fn fresh_database(&self, url: &str) -> String {
        static SWEPT: std::sync::Once = std::sync::Once::new();
        let mut conn = admin(url).await;
        if !SWEPT.is_completed() {
            sweep(&mut conn).await;
            SWEPT.call_once(|| ());
        }
        let database = common::case_name(PREFIX);
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
            .execute(&mut conn)
            .await
            .expect("create the case's database");
        let _ = conn.close().await;
        let (url, doomed) = (url.to_owned(), database.clone());
        let cleanup = Cleanup::new(async move {
            let Ok(mut conn) = MySqlConnection::connect(&url).await else {
                return;
            };
            let drop = format!("DROP DATABASE IF EXISTS `{doomed}`");
            let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await;
            let _ = conn.close().await;
        });
        self.cleanups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(cleanup);
        database
    }
}

/// A store on a pool of its own over `database` (migrated and verified).
async fn open(url: &str, database: &str) -> Stores {
    let options = MySqlConnectOptions::from_str(url)
        .expect("parse the MySQL URL")
        .database(database);
    let pool = MySqlPoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect_with(options)
        .await
        .unwrap_or_else(|err| panic!("connect to {url} ({URL_VAR}): {err}"));
    let store = MySqlStore::new(pool, StoreOptions::default())
        .await
        .expect("migrate and verify the case's database");
    Stores::from_backend(store)
}

#[async_trait]
impl StoreFactory for MySqlFactory {
    async fn stores(&self) -> Stores {
        let url = common::url_from_env(URL_VAR, DEFAULT_URL);
        let database = self.fresh_database(&url).await;
        open(&url, &database).await
    }

    async fn two_handles(&self) -> (Stores, Stores) {
        let url = common::url_from_env(URL_VAR, DEFAULT_URL);
        let database = self.fresh_database(&url).await;
        (open(&url, &database).await, open(&url, &database).await)
    }
}

authkit_conformance::conformance_suite!(MySqlFactory::default());
