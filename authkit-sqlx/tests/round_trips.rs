//! How many statements and round trips each hot path sends, counted on the wire.
//!
//! The store's pool (one connection, built from the store's own `pool_options`) reaches
//! the local PostgreSQL and MariaDB through the suite's counting proxy
//! ([`authkit_conformance::wire`]). Each path runs once to warm the statement cache,
//! then once counted ([`HotPaths`]).
//!
//! Servers: `AUTHKIT_TEST_POSTGRES_URL`, `AUTHKIT_TEST_MYSQL_URL` (defaults: the local
//! ones); unreachable is a failure, never a skip. Each test works in a schema
//! (PostgreSQL) or database (MariaDB) of its own, dropped when it ends.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::sync::Arc;

use authkit::Stores;
use authkit_conformance::Cleanup;
use authkit_conformance::wire::{
    Counts, HotPaths, KeyCounts, Protocol, SessionCounts, Wire, counting_proxy,
};
use authkit_sqlx::sqlx::mysql::MySqlConnectOptions;
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgSslMode};
use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection};
use authkit_sqlx::{MySqlStore, PgStore, StoreOptions};

mod common;
use common::{case_name, url_from_env};

const PG_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_VAR: &str = "AUTHKIT_TEST_MYSQL_URL";
const MYSQL_DEFAULT: &str = "mysql://root@127.0.0.1:3306/test";

/// The hot paths on a store behind the proxy, and what drops its schema or database.
struct Rig {
    paths: HotPaths,
    protocol: Protocol,
    _drop: Cleanup,
}

async fn postgres_rig() -> Rig {
    let url = url_from_env(PG_VAR, PG_DEFAULT);
    let schema = case_name("akt_");
    let mut admin = sqlx::PgConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {PG_VAR} ({url}): {e}"));
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let options = PgConnectOptions::from_str(&url).unwrap();
    let upstream = format!("{}:{}", options.get_host(), options.get_port());
    let (port, wire) = counting_proxy(upstream, Protocol::Postgres).await;
    let options = options
        .host("127.0.0.1")
        .port(port)
        .ssl_mode(PgSslMode::Disable);
    let pool = PgStore::pool_options()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let store = PgStore::new(pool, StoreOptions::default().namespace(&schema).unwrap())
        .await
        .unwrap();
    let drop = Cleanup::new(async move {
        let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
        let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await;
    });
    rig(Stores::from_backend(store), wire, Protocol::Postgres, drop)
}

async fn mysql_rig() -> Rig {
    let url = url_from_env(MYSQL_VAR, MYSQL_DEFAULT);
    let database = case_name("akt_");
    let mut admin = sqlx::MySqlConnection::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {MYSQL_VAR} ({url}): {e}"));
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .unwrap();
    let options = MySqlConnectOptions::from_str(&url).unwrap();
    let upstream = format!("{}:{}", options.get_host(), options.get_port());
    let (port, wire) = counting_proxy(upstream, Protocol::MySql).await;
    let options = options
        .host("127.0.0.1")
        .port(port)
        .database(&database)
        .ssl_mode(sqlx::mysql::MySqlSslMode::Disabled);
    let pool = MySqlStore::pool_options()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let store = MySqlStore::new(pool, StoreOptions::default())
        .await
        .unwrap();
    let drop = Cleanup::new(async move {
        let sql = format!("DROP DATABASE IF EXISTS {database}");
        let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut admin).await;
    });
    rig(Stores::from_backend(store), wire, Protocol::MySql, drop)
}

fn rig(stores: Stores, wire: Arc<Wire>, protocol: Protocol, drop: Cleanup) -> Rig {
    Rig {
        paths: HotPaths::new(stores, wire),
        protocol,
        _drop: drop,
    }
}

/// What one path sends: `statements` in `round_trips`, `tx_control` of them
/// transaction control, from `checkouts` pool checkouts (each one release ping, and no
/// ping on acquire: the store's pool options skip it for a busy connection).
fn counts(statements: usize, tx_control: usize, round_trips: usize, checkouts: usize) -> Counts {
    Counts {
        statements,
        tx_control,
        round_trips,
        pings: checkouts,
    }
}

/// Session authentication: one statement when no slide is due; when one is, one on
/// PostgreSQL (a conditional `UPDATE … RETURNING`) and two elsewhere (MariaDB has no
/// `UPDATE … RETURNING`).
async fn session_authentication(rig: Rig) {
    let slide_due = match rig.protocol {
        Protocol::Postgres => counts(1, 0, 1, 1),
        Protocol::MySql => counts(2, 0, 2, 1),
    };
    let expected = SessionCounts {
        nothing_due: counts(1, 0, 1, 1),
        slide_due,
    };
    assert_eq!(rig.paths.session_authentication().await, expected);
}

/// API-key verification: one statement for a key without a limit, one more to count a
/// limited key (two on MariaDB, which has no `UPDATE … RETURNING`: the count comes back
/// through `LAST_INSERT_ID(…)` and the window's start takes a `SELECT` of its own); the
/// buffered uses of 149 keys in one statement on PostgreSQL, in one transaction of three
/// (64 keys each) on MariaDB.
async fn key_verification(rig: Rig) {
    let expected = match rig.protocol {
        Protocol::Postgres => KeyCounts {
            unlimited: counts(1, 0, 1, 1),
            limited: counts(2, 0, 2, 2),
            flush: counts(1, 0, 1, 1),
        },
        Protocol::MySql => KeyCounts {
            unlimited: counts(1, 0, 1, 1),
            limited: counts(3, 0, 3, 3),
            flush: counts(3, 2, 5, 1),
        },
    };
    assert_eq!(rig.paths.key_verification().await, expected);
}

/// Refresh rotation: the locked read and the consume-and-insert, two statements in its
/// transaction on PostgreSQL; MariaDB has no writing CTE, so the consume and the insert
/// are two statements there.
async fn refresh_rotation(rig: Rig) {
    let rotation = match rig.protocol {
        Protocol::Postgres => counts(2, 2, 4, 1),
        Protocol::MySql => counts(3, 2, 5, 1),
    };
    assert_eq!(rig.paths.refresh_rotation().await, rotation);
}

/// A user looked up by email: one statement, on the indexed `lower(email)` on
/// PostgreSQL and the stored `email_lower` column on MariaDB.
async fn user_lookup_by_email(rig: Rig) {
    assert_eq!(rig.paths.user_lookup_by_email().await, counts(1, 0, 1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_session_authentication() {
    session_authentication(postgres_rig().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_session_authentication() {
    session_authentication(mysql_rig().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_key_verification() {
    key_verification(postgres_rig().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_key_verification() {
    key_verification(mysql_rig().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refresh_rotation() {
    refresh_rotation(postgres_rig().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_refresh_rotation() {
    refresh_rotation(mysql_rig().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_user_lookup_by_email() {
    user_lookup_by_email(postgres_rig().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_user_lookup_by_email() {
    user_lookup_by_email(mysql_rig().await).await;
}
