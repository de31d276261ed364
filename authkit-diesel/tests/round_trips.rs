//! How many statements and round trips each hot path sends, counted on the wire, beside
//! authkit-sqlx's numbers (its `tests/round_trips.rs`).
//!
//! The store's pool (the store's own `build_pool`, one connection) reaches the local
//! PostgreSQL and MariaDB through the suite's counting proxy
//! ([`authkit_conformance::wire`]), TLS off. Each path runs once to warm the statement
//! cache, then once counted ([`HotPaths`]).
//!
//! Servers: `AUTHKIT_TEST_POSTGRES_URL`, `AUTHKIT_TEST_MYSQL_URL` (defaults: the local
//! ones); unreachable is a failure, never a skip. Each test works in a schema
//! (PostgreSQL) or database (MariaDB) of its own, dropped when it ends (`support`).

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use std::sync::Arc;

use authkit::Stores;
use authkit_conformance::wire::{
    Counts, FLUSHED_KEYS, HotPaths, KeyCounts, Protocol, SessionCounts, Wire, counting_proxy,
};
use authkit_diesel::{MysqlStore, PgStore};
use support::{Cases, Server};

/// The hot paths on a store behind the proxy, and what drops its schema or database
/// when the test ends (after the store and its pool).
struct Rig {
    paths: HotPaths,
    protocol: Protocol,
    _cases: Cases,
}

/// `url` split around its `host:port`: what comes before it (scheme and user), the
/// `host:port` (with `default_port` when the URL names none) and the rest (path, query).
fn split_authority(url: &str, default_port: u16) -> (String, String, String) {
    let (scheme, rest) = url.split_once("://").expect("a URL with a scheme");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, host_port)) => (format!("{user}@"), host_port),
        None => (String::new(), authority),
    };
    // `[::1]:5432`, `[::1]`, `db:5432`, `db`.
    let has_port = match host_port.rfind(']') {
        Some(bracket) => host_port[bracket..].contains(':'),
        None => host_port.contains(':'),
    };
    let upstream = if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{default_port}")
    };
    (format!("{scheme}://{user}"), upstream, tail.to_owned())
}

/// A fresh schema or database on `server`, the proxy in front of the server, and the
/// case's URL pointed at the proxy with `extra` (connection parameters) added.
async fn through_proxy(
    server: Server,
    protocol: Protocol,
    default_port: u16,
    extra: &str,
) -> (Cases, String, Arc<Wire>) {
    let cases = Cases::default();
    // Panics naming the server's variable when it cannot be reached.
    let url = cases.fresh(server).await;
    let (head, upstream, tail) = split_authority(&url, default_port);
    let (port, wire) = counting_proxy(upstream, protocol).await;
    let join = if tail.contains('?') { '&' } else { '?' };
    let url = format!("{head}127.0.0.1:{port}{tail}{join}{extra}");
    (cases, url, wire)
}

async fn postgres_rig() -> Rig {
    // diesel-async connects with `NoTls`; `sslmode=disable` keeps it from even asking.
    let (cases, url, wire) = through_proxy(
        Server::Postgres,
        Protocol::Postgres,
        5432,
        "sslmode=disable",
    )
    .await;
    let pool = PgStore::build_pool(&url, 1).unwrap();
    let store = PgStore::new(pool)
        .await
        .unwrap_or_else(|e| panic!("migrate through the proxy ({url}): {e}"));
    rig(Stores::from_backend(store), wire, Protocol::Postgres, cases)
}

async fn mysql_rig() -> Rig {
    // mysql_async would otherwise move a connection to 127.0.0.1 onto the server's
    // Unix socket (`@@socket`), past the proxy; it uses TLS only when asked to.
    let (cases, url, wire) =
        through_proxy(Server::Mysql, Protocol::MySql, 3306, "prefer_socket=false").await;
    let pool = MysqlStore::build_pool(&url, 1).unwrap();
    let store = MysqlStore::new(pool)
        .await
        .unwrap_or_else(|e| panic!("migrate through the proxy ({url}): {e:?}"));
    rig(Stores::from_backend(store), wire, Protocol::MySql, cases)
}

fn rig(stores: Stores, wire: Arc<Wire>, protocol: Protocol, cases: Cases) -> Rig {
    Rig {
        paths: HotPaths::new(stores, wire),
        protocol,
        _cases: cases,
    }
}

/// What one path sends: `statements` (transaction control aside) and `tx_control`
/// statements, in `round_trips` exchanges as the proxy counts them.
///
/// PostgreSQL: the proxy counts a round trip per `Sync` that ends extended-protocol
/// messages, and tokio-postgres ends each of its requests so: a preparation
/// (`Parse`/`Describe`/`Sync`: a round trip, no statement), an execution
/// (`Bind`/`Execute`/`Sync`: one statement, one round trip) and, when Diesel did not
/// cache the statement, the `Close`/`Sync` it sends as the statement is dropped (a
/// round trip the caller does not wait on, answered before the next request).
/// `BEGIN`/`COMMIT` go as simple queries. Two requests that diesel-async pipelines are
/// still two round trips here. MySQL: each `COM_STMT_PREPARE` is a round trip with no
/// statement; `COM_STMT_CLOSE` gets no answer and is not counted.
///
/// No pings: sqlx's pool pings each connection it takes back (one per checkout, after
/// the caller has its answer; sqlx's `pings` column), deadpool none. The store's pool
/// recycles with `RecyclingMethod::Fast`, so a checkout sends nothing (diesel-async's
/// default, `Verified`, would add a `SELECT 1`, one statement and one round trip, before
/// every step).
fn counts(statements: usize, tx_control: usize, round_trips: usize) -> Counts {
    Counts {
        statements,
        tx_control,
        round_trips,
        pings: 0,
    }
}

/// Session authentication.
///
/// No slide due: one `SELECT` by the token's hash, as sqlx (sqlx: 1, 0, 1, 1 ping).
///
/// Slide due: on PostgreSQL one statement, the conditional `UPDATE … RETURNING`
/// (`authkit_schema::statements::SLIDE_SESSION_RETURNING`), which the store picks from
/// its in-memory hint of the session's deadlines (`authkit::SlideHints`), as sqlx (sqlx:
/// 1, 0, 1, 1 ping). On MariaDB, which has no `UPDATE … RETURNING`, the `SELECT`, then
/// the conditional `UPDATE` on the same connection, as sqlx (2, 0, 2, 1 ping).
/// (`touch_session` in `store/sessions.rs`. Diesel caches no `UPDATE`'s or
/// `sql_query`'s prepared statement on its own; the store wraps its fixed-text ones in
/// `conn::Cached`, so none is prepared twice.)
async fn session_authentication(rig: Rig) {
    let slide_due = match rig.protocol {
        // UPDATE … RETURNING (prepared once, on the warm-up's slide).
        Protocol::Postgres => counts(1, 0, 1),
        // SELECT; the conditional UPDATE (prepared once, on the warm-up's slide).
        Protocol::MySql => counts(2, 0, 2),
    };
    let expected = SessionCounts {
        nothing_due: counts(1, 0, 1),
        slide_due,
    };
    assert_eq!(rig.paths.session_authentication().await, expected);
}

/// API-key verification.
///
/// A key without a limit: one `SELECT` by the key's hash, as sqlx (sqlx: 1, 0, 1, 1
/// ping).
///
/// A rate-limited key: the lookup, then the count, from two checkouts, as sqlx. On
/// PostgreSQL the count is one `UPDATE … RETURNING`, as sqlx's (sqlx: 2, 0, 2, 2
/// pings). On MariaDB no transaction, as sqlx: one `UPDATE` hands the count to
/// `LAST_INSERT_ID(…)`, then a `SELECT` on the same connection reads it and the
/// window's start (`store/count_last_insert_id.rs`; sqlx, whose driver returns the OK
/// packet's last-insert-id, reads only the start: 3, 0, 3, 3 pings).
///
/// A flush of [`FLUSHED_KEYS`] (149) keys' uses: on PostgreSQL one `UNNEST` statement alone, which locks
/// the keys' rows in id order and updates them, as sqlx (1, 0, 1, 1 ping). On MariaDB
/// three multi-row `UPDATE … WHERE id IN (…)` statements (64 keys each, the last padded
/// to 32 with the nil id; `authkit_schema::statements::usage_chunk`) between `BEGIN`
/// and `COMMIT`, as sqlx (3, 2, 5, 1 ping). (`record_key_usage` in
/// `store/api_keys.rs`.)
async fn key_verification(rig: Rig) {
    let chunks = FLUSHED_KEYS.div_ceil(64);
    let expected = match rig.protocol {
        Protocol::Postgres => KeyCounts {
            unlimited: counts(1, 0, 1),
            // SELECT; UPDATE … RETURNING.
            limited: counts(2, 0, 2),
            // The UNNEST statement.
            flush: counts(1, 0, 1),
        },
        Protocol::MySql => KeyCounts {
            unlimited: counts(1, 0, 1),
            // SELECT; UPDATE … LAST_INSERT_ID(…), SELECT LAST_INSERT_ID(), the start.
            limited: counts(3, 0, 3),
            // BEGIN, three UPDATEs (64 + 64 + 21 keys), COMMIT.
            flush: counts(chunks, 2, chunks + 2),
        },
    };
    assert_eq!(rig.paths.key_verification().await, expected);
}

/// Refresh rotation.
///
/// On PostgreSQL the locked read and one consume-and-insert statement (a writing CTE,
/// `authkit_schema::statements::ROTATE_REFRESH`) between `BEGIN` and `COMMIT`, as sqlx
/// (2, 2, 4, 1 ping). On MariaDB the locked read, then the consume (`UPDATE`) and the
/// successor's `INSERT` apart, as sqlx (3, 2, 5, 1 ping). (`rotate_refresh` in
/// `store/tokens.rs`.)
async fn refresh_rotation(rig: Rig) {
    let rotation = match rig.protocol {
        // BEGIN, SELECT … FOR UPDATE, WITH … UPDATE … INSERT, COMMIT.
        Protocol::Postgres => counts(2, 2, 4),
        // BEGIN, SELECT … FOR UPDATE, UPDATE, INSERT, COMMIT.
        Protocol::MySql => counts(3, 2, 5),
    };
    assert_eq!(rig.paths.refresh_rotation().await, rotation);
}

/// A user looked up by email: a password login (`Auth::login_password`: the lookup,
/// then the password's check off the database). One cached `SELECT`, on the indexed
/// `lower(email)` on PostgreSQL and the stored `email_lower` column on MariaDB, as sqlx
/// (sqlx: 1, 0, 1, 1 ping).
async fn user_lookup_by_email(rig: Rig) {
    assert_eq!(rig.paths.user_lookup_by_email().await, counts(1, 0, 1));
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

#[test]
fn authorities_split() {
    let split = |url| split_authority(url, 5432);
    assert_eq!(
        split("postgres://u:p@db:6000/test?x=1"),
        (
            "postgres://u:p@".into(),
            "db:6000".into(),
            "/test?x=1".into()
        )
    );
    assert_eq!(
        split("postgres://db/test"),
        ("postgres://".into(), "db:5432".into(), "/test".into())
    );
    assert_eq!(
        split("postgres://u@[::1]/t"),
        ("postgres://u@".into(), "[::1]:5432".into(), "/t".into())
    );
    assert_eq!(
        split("postgres://[::1]:7/t"),
        ("postgres://".into(), "[::1]:7".into(), "/t".into())
    );
}
