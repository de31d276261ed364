//! How many statements and round trips each hot path sends through SeaORM, counted on
//! the wire, beside authkit-sqlx's budget for the same paths
//! (`authkit-sqlx/tests/round_trips.rs`):
//! `cargo nextest run -p authkit-seaorm --all-features --test round_trips`.
//!
//! The store's connection is built as an application builds it, from the store's own
//! [`connect_options`](authkit_seaorm::PgStore::connect_options) (no ping on acquire
//! unless idle 5 s), with one connection so that the counts are deterministic, and it
//! reaches the local PostgreSQL and MariaDB through the suite's counting proxy
//! ([`authkit_conformance::wire`]). SeaORM runs on sqlx's pool, which pings each
//! connection it takes back: `pings` is the number of pool checkouts. Each path runs
//! once to warm the prepared-statement cache, then once counted.
//!
//! Servers: `AUTHKIT_TEST_POSTGRES_URL`, `AUTHKIT_TEST_MYSQL_URL` (defaults: the local
//! ones); unreachable is a failure naming the variable, never a skip. Each test works in
//! a schema (PostgreSQL, found through `search_path`) or database (MariaDB) of its own,
//! dropped when it ends.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::sync::Arc;

use authkit::Stores;
use authkit_conformance::wire::{
    Counts, HotPaths, KeyCounts, Protocol, SessionCounts, Wire, counting_proxy,
};
use authkit_seaorm::sea_orm::sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use authkit_seaorm::sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
use authkit_seaorm::sea_orm::{ConnectOptions, Database, DatabaseConnection};
use authkit_seaorm::sea_orm_migration::MigratorTrait;
use authkit_seaorm::{Migrator, MySqlStore, PgStore};

mod common;
use common::server::{MYSQL_URL_VAR, PG_URL_VAR, Scratch, Server, mysql_url, pg_url};

/// The hot paths on a store behind the proxy; the scratch schema or database goes
/// last, after the store's pool.
struct Rig {
    paths: HotPaths,
    protocol: Protocol,
    _scratch: Scratch,
}

/// Connects and migrates; an unreachable server fails naming `var`.
async fn open(options: ConnectOptions, var: &str) -> DatabaseConnection {
    let url = options.get_url().to_owned();
    let db = Database::connect(options)
        .await
        .unwrap_or_else(|e| panic!("through the proxy to {url} ({var}): {e}"));
    Migrator::up(&db, None).await.unwrap();
    db
}

async fn postgres_rig() -> Rig {
    let scratch = Scratch::default();
    let schema = scratch.fresh(Server::Postgres).await;
    let url = pg_url();
    let parsed =
        PgConnectOptions::from_str(&url).unwrap_or_else(|e| panic!("{PG_URL_VAR} ({url}): {e}"));
    let upstream = format!("{}:{}", parsed.get_host(), parsed.get_port());
    let (port, wire) = counting_proxy(upstream, Protocol::Postgres).await;
    let mut options = PgStore::connect_options(&url);
    options.max_connections(1);
    options.map_sqlx_postgres_opts(move |o| {
        o.host("127.0.0.1")
            .port(port)
            .ssl_mode(PgSslMode::Disable)
            .options([("search_path", schema.as_str())])
    });
    let store = PgStore::new(open(options, PG_URL_VAR).await).unwrap();
    rig(
        Stores::from_backend(store),
        wire,
        Protocol::Postgres,
        scratch,
    )
}

async fn mysql_rig() -> Rig {
    let scratch = Scratch::default();
    let database = scratch.fresh(Server::MySql).await;
    let url = mysql_url();
    let parsed = MySqlConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("{MYSQL_URL_VAR} ({url}): {e}"));
    let upstream = format!("{}:{}", parsed.get_host(), parsed.get_port());
    let (port, wire) = counting_proxy(upstream, Protocol::MySql).await;
    let mut options = MySqlStore::connect_options(&url);
    options.max_connections(1);
    options.map_sqlx_mysql_opts(move |o| {
        o.host("127.0.0.1")
            .port(port)
            .database(&database)
            .ssl_mode(MySqlSslMode::Disabled)
    });
    let store = MySqlStore::new(open(options, MYSQL_URL_VAR).await).unwrap();
    rig(Stores::from_backend(store), wire, Protocol::MySql, scratch)
}

fn rig(stores: Stores, wire: Arc<Wire>, protocol: Protocol, scratch: Scratch) -> Rig {
    Rig {
        paths: HotPaths::new(stores, wire),
        protocol,
        _scratch: scratch,
    }
}

/// What one path sends: `statements` in `round_trips`, `tx_control` of them
/// transaction control, from `checkouts` pool checkouts (each one release ping, and no
/// ping on acquire: the store's connect options skip it for a busy connection).
fn counts(statements: usize, tx_control: usize, round_trips: usize, checkouts: usize) -> Counts {
    Counts {
        statements,
        tx_control,
        round_trips,
        pings: checkouts,
    }
}

/// Session authentication, as authkit-sqlx: one statement when no slide is due; when
/// one is, one on PostgreSQL (the store's slide hints remember the deadlines of the
/// sessions it has seen, and a session known to be due gets one conditional `UPDATE …
/// RETURNING`), and on MariaDB (no `UPDATE … RETURNING`) the read and then the
/// conditional `UPDATE`, on one pool checkout.
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

/// API-key verification, as authkit-sqlx: one statement for a key without a limit;
/// for a limited key, the lookup and the counting `UPDATE … RETURNING` on PostgreSQL,
/// and on MariaDB (no `UPDATE … RETURNING`) the lookup, the count read back through
/// `LAST_INSERT_ID(…)` and the window's start in a `SELECT` of its own, with no
/// transaction (three checkouts).
///
/// The buffered uses of 149 keys: on PostgreSQL one statement with no transaction, as
/// authkit-sqlx (the entries as `UNNEST` arrays, the rows locked in id order by a `FOR
/// UPDATE` CTE, then updated). On MariaDB one transaction, a `SELECT … FOR UPDATE` that
/// locks the keys in id order and one `UPDATE` of up to 200 keys (`CASE id …`), where
/// authkit-sqlx sends three `UPDATE`s (64 keys each, padded to a power of two) without
/// the locking read: there SeaORM sends one statement fewer.
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
            flush: counts(2, 2, 4, 1),
        },
    };
    assert_eq!(rig.paths.key_verification().await, expected);
}

/// Refresh rotation, as authkit-sqlx: in one transaction the locked read, then on
/// PostgreSQL the consume and the insert in one statement (a data-modifying CTE), on
/// MariaDB (no writing CTE) in two.
async fn refresh_rotation(rig: Rig) {
    let rotation = match rig.protocol {
        Protocol::Postgres => counts(2, 2, 4, 1),
        Protocol::MySql => counts(3, 2, 5, 1),
    };
    assert_eq!(rig.paths.refresh_rotation().await, rotation);
}

/// A user looked up by email (`Auth::login_password`: the lookup, then the password
/// check off the database), as authkit-sqlx: one statement, on the indexed
/// `lower(email)` on PostgreSQL and the stored `email_lower` column on MariaDB.
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
