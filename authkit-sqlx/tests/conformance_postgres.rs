//! The conformance suite on [`PgStore`], one PostgreSQL schema per case:
//! `cargo nextest run -p authkit-sqlx --all-features --test conformance_postgres`.
//!
//! The server is `AUTHKIT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`). A server that cannot be reached fails
//! every case with a message naming that variable; nothing is skipped. Each case's schema
//! is dropped when the case ends; schemas left by a killed run are dropped by the next.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::str::FromStr;
use std::sync::Mutex;

use authkit::Stores;
use authkit_conformance::{Cleanup, StoreFactory, async_trait};
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection};
use authkit_sqlx::{PgStore, StoreOptions};

const URL_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Every schema this suite creates starts so.
const PREFIX: &str = "akt_";
/// Connections per case: cases run in parallel, and the server allows about 100.
const POOL_SIZE: u32 = 5;

/// A fresh schema per [`StoreFactory::stores`] call, dropped with the factory.
#[derive(Default)]
struct PgFactory {
    /// One per schema made: drops it when the case ends.
    cleanups: Mutex<Vec<Cleanup>>,
}

async fn admin(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap_or_else(|err| {
        panic!(
            "cannot reach PostgreSQL at {url}: {err}. \
             Set {URL_VAR} to a server the suite may create schemas on."
        )
    })
}

/// Drops schemas of earlier runs that were killed before they could clean up.
async fn sweep(conn: &mut PgConnection) {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'akt\\_%'")
            .fetch_all(&mut *conn)
            .await
            .expect("list schemas");
    for name in names.iter().filter(|n| common::is_stale(PREFIX, n)) {
        let _ = sqlx::query(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
        )))
        .execute(&mut *conn)
        .await;
    }
}

impl PgFactory {
    /// Creates a fresh schema for one case and remembers it for the cleanup.
    async fn fresh_schema(&self, url: &str) -> String {
        static SWEPT: std::sync::Once = std::sync::Once::new();
        let mut conn = admin(url).await;
        if !SWEPT.is_completed() {
            sweep(&mut conn).await;
            SWEPT.call_once(|| ());
        }
        let schema = common::case_name(PREFIX);
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut conn)
            .await
            .expect("create the case's schema");
        let _ = conn.close().await;
        let (url, doomed) = (url.to_owned(), schema.clone());
        let cleanup = Cleanup::new(async move {
            let Ok(mut conn) = PgConnection::connect(&url).await else {
                return;
            };
            let drop = format!("DROP SCHEMA IF EXISTS \"{doomed}\" CASCADE");
            let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await;
            let _ = conn.close().await;
        });
        self.cleanups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(cleanup);
        schema
    }
}

/// A store on a pool of its own over `schema` (migrated and verified).
async fn open(url: &str, schema: &str) -> Stores {
    let options = PgConnectOptions::from_str(url)
        .expect("parse the PostgreSQL URL")
        .options([("search_path", schema)]);
    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect_with(options)
        .await
        .unwrap_or_else(|err| panic!("connect to {url} ({URL_VAR}): {err}"));
    let store = PgStore::new(pool, StoreOptions::default())
        .await
        .expect("migrate and verify the case's schema");
    Stores::from_backend(store)
}

#[async_trait]
impl StoreFactory for PgFactory {
    async fn stores(&self) -> Stores {
        let url = common::url_from_env(URL_VAR, DEFAULT_URL);
        let schema = self.fresh_schema(&url).await;
        open(&url, &schema).await
    }

    async fn two_handles(&self) -> (Stores, Stores) {
        let url = common::url_from_env(URL_VAR, DEFAULT_URL);
        let schema = self.fresh_schema(&url).await;
        (open(&url, &schema).await, open(&url, &schema).await)
    }
}

authkit_conformance::conformance_suite!(PgFactory::default());
