//! How many statements and round trips each hot path sends, counted on the wire, beside
//! authkit-sqlx's numbers (its `tests/round_trips.rs`).
//!
//! The store's pool (the store's own `build_pool`, one connection) reaches the local
//! PostgreSQL and MariaDB through the suite's counting proxy
//! ([`authkit_conformance::wire`]), TLS off. Each path runs once to warm the statement
//! cache, then once counted.
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

use authkit::{
    Auth, Config, Environment, KeyType, ManualClock, NewApiKey, RateLimit, SigningKey, Stores,
};
use authkit_conformance::cases::flows::{FAST_PARAMS, PASSWORD};
use authkit_conformance::wire::{Counts, Protocol, Wire, counting_proxy};
use authkit_diesel::{MysqlStore, PgStore};
use support::{Cases, Server};

/// Keys whose uses one flush writes.
const FLUSHED_KEYS: usize = 150;

/// What a test runs against: `Auth` on a store behind the proxy, its clock, the counts.
struct Rig {
    auth: Auth,
    clock: Arc<ManualClock>,
    wire: Arc<Wire>,
    protocol: Protocol,
    /// Drops the schema or database when the test ends (after `auth` and its pool).
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
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let mut config = Config::new("https://rt.test", SigningKey::new([3; 32]));
    config.password.params = FAST_PARAMS;
    let auth = Auth::builder(stores, config)
        .clock(clock.clone())
        .build()
        .unwrap();
    Rig {
        auth,
        clock,
        wire,
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
/// Slide due: sqlx sends one statement on PostgreSQL (a conditional `UPDATE …
/// RETURNING`, which it picks from an in-memory hint of the session's deadlines,
/// `authkit-sqlx/src/hints.rs`; sqlx: 1, 0, 1, 1 ping) and two on MariaDB (2, 0, 2, 1
/// ping). Diesel always sends the `SELECT`, then the conditional `UPDATE`
/// (`touch_session` in `store/sessions.rs`): two statements on both databases, as sqlx
/// on MariaDB, one more than sqlx on PostgreSQL. (Diesel caches no `UPDATE`'s prepared
/// statement on its own, `UpdateStatement::walk_ast` marks every update unsafe to
/// cache; the store wraps its fixed-text updates in `conn::Cached`, so none is prepared
/// twice.)
async fn session_authentication(rig: Rig) {
    let user = rig.auth.create_user("rt@example.com").await.unwrap();
    let issued = rig.auth.issue_session(user.id).await.unwrap();
    let secret = issued.secret.expose();
    // Twice, as sqlx's test does (there, so that its store has seen the session).
    rig.auth.authenticate_session(secret).await.unwrap();
    rig.auth.authenticate_session(secret).await.unwrap();
    rig.wire.take().await;
    rig.auth.authenticate_session(secret).await.unwrap();
    assert_eq!(
        rig.wire.take().await,
        counts(1, 0, 1),
        "session auth, no slide due"
    );

    rig.clock.advance(time::Duration::minutes(5));
    rig.auth.authenticate_session(secret).await.unwrap();
    rig.clock.advance(time::Duration::minutes(5));
    rig.wire.take().await;
    let slid = rig.auth.authenticate_session(secret).await.unwrap();
    let due = match rig.protocol {
        // SELECT; the conditional UPDATE (prepared once, on the warm-up's slide).
        Protocol::Postgres | Protocol::MySql => counts(2, 0, 2),
    };
    assert_eq!(rig.wire.take().await, due, "session auth, slide due");
    let stored = rig
        .auth
        .list_sessions(user.id)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.id == issued.session.id)
        .unwrap();
    assert_eq!(
        stored.idle_expires_at, slid.idle_expires_at,
        "the due slide was written"
    );
}

/// API-key verification.
///
/// A key without a limit: one `SELECT` by the key's hash, as sqlx (sqlx: 1, 0, 1, 1
/// ping).
///
/// A rate-limited key: the lookup, then the count, from two checkouts, as sqlx. On
/// PostgreSQL the count is one `UPDATE … RETURNING`, as sqlx's (sqlx: 2, 0, 2, 2
/// pings). On MariaDB sqlx counts without a transaction
/// (`LAST_INSERT_ID(…)`, then a `SELECT` of the window's start; sqlx: 3, 0, 3, 3
/// pings); Diesel runs a transaction, `BEGIN`, `SELECT … FOR UPDATE`, the `UPDATE`,
/// `COMMIT` (`store/count_locked.rs`): two round trips more.
///
/// A flush of 149 keys' uses: on PostgreSQL one `UNNEST` statement, as sqlx, but in a
/// transaction (`record_key_usage` wraps every database's batch in one; sqlx sends the
/// one statement alone: 1, 0, 1, 1 ping). On MariaDB sqlx sends three multi-row
/// statements (64 keys each) in a transaction (3, 2, 5, 1 ping); Diesel sends two
/// `UPDATE`s per key (`usage_per_key` in `store/api_keys.rs`).
async fn key_verification(rig: Rig) {
    let user = rig.auth.create_user("keys@example.com").await.unwrap();
    let mut secrets = Vec::new();
    for i in 0..=FLUSHED_KEYS {
        let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user.id), "k");
        new.scopes = Some(vec!["read".into()]);
        if i == FLUSHED_KEYS {
            new.rate_limit = Some(RateLimit::new(100, time::Duration::SECOND));
        }
        secrets.push(rig.auth.create_api_key(new).await.unwrap().secret);
    }
    let (plain, limited) = (secrets[0].expose(), secrets[FLUSHED_KEYS].expose());
    rig.auth
        .verify_api_key(plain, Some("read"), None)
        .await
        .unwrap();
    rig.auth
        .verify_api_key(limited, Some("read"), None)
        .await
        .unwrap();
    rig.auth.flush_key_usage().await.unwrap();
    rig.wire.take().await;

    rig.auth
        .verify_api_key(plain, Some("read"), None)
        .await
        .unwrap();
    assert_eq!(
        rig.wire.take().await,
        counts(1, 0, 1),
        "key without a limit"
    );
    rig.auth
        .verify_api_key(limited, Some("read"), None)
        .await
        .unwrap();
    let limited_counts = match rig.protocol {
        // SELECT; UPDATE … RETURNING.
        Protocol::Postgres => counts(2, 0, 2),
        // SELECT; BEGIN, SELECT … FOR UPDATE, UPDATE, COMMIT.
        Protocol::MySql => counts(3, 2, 5),
    };
    assert_eq!(rig.wire.take().await, limited_counts, "rate-limited key");

    // Twice, as sqlx's test does (there, the first flush of this size prepares).
    for _ in 0..2 {
        for secret in &secrets[1..FLUSHED_KEYS] {
            rig.auth
                .verify_api_key(secret.expose(), Some("read"), None)
                .await
                .unwrap();
        }
        rig.wire.take().await;
        rig.auth.flush_key_usage().await.unwrap();
    }
    for secret in &secrets[1..FLUSHED_KEYS] {
        rig.auth
            .verify_api_key(secret.expose(), Some("read"), None)
            .await
            .unwrap();
    }
    rig.wire.take().await;
    rig.auth.flush_key_usage().await.unwrap();
    let keys = FLUSHED_KEYS - 1;
    let flush = match rig.protocol {
        // BEGIN, the UNNEST statement, COMMIT.
        Protocol::Postgres => counts(1, 2, 3),
        // BEGIN, two UPDATEs per key, COMMIT.
        Protocol::MySql => counts(2 * keys, 2, 2 * keys + 2),
    };
    assert_eq!(
        rig.wire.take().await,
        flush,
        "flushing the uses of {keys} keys"
    );
    let first = rig
        .auth
        .verify_api_key(plain, Some("read"), None)
        .await
        .unwrap();
    assert_eq!(first.usage_count, 2, "the flushed uses are stored");
}

/// Refresh rotation.
///
/// sqlx: on PostgreSQL the locked read and one consume-and-insert statement (a writing
/// CTE) between `BEGIN` and `COMMIT` (2, 2, 4, 1 ping); on MariaDB the consume and the
/// insert apart (3, 2, 5, 1 ping).
///
/// Diesel: the locked read, then the consume (`UPDATE`) and the successor's `INSERT`,
/// between `BEGIN` and `COMMIT` (`rotate_refresh` in `store/tokens.rs`): three
/// statements on both databases, one more than sqlx on PostgreSQL. On PostgreSQL the
/// two writes are pipelined (`execute_both!`), so the rotation waits on four exchanges
/// as sqlx's does (`BEGIN`, the read, the two writes overlapping, `COMMIT`), though the
/// proxy counts five requests.
async fn refresh_rotation(rig: Rig) {
    let user = rig.auth.create_user("rotate@example.com").await.unwrap();
    let pair = rig.auth.issue_token_pair(user.id).await.unwrap();
    let pair = rig.auth.refresh(pair.refresh_token.expose()).await.unwrap();
    rig.wire.take().await;
    rig.auth.refresh(pair.refresh_token.expose()).await.unwrap();
    let rotation = match rig.protocol {
        // BEGIN, SELECT … FOR UPDATE, UPDATE, INSERT, COMMIT.
        Protocol::Postgres | Protocol::MySql => counts(3, 2, 5),
    };
    assert_eq!(rig.wire.take().await, rotation, "refresh rotation");
}

/// A user looked up by email: a password login (`Auth::login_password`: the lookup,
/// then the password's check off the database). One cached `SELECT`, on the indexed
/// `lower(email)` on PostgreSQL and the stored `email_lower` column on MariaDB, as sqlx
/// (sqlx: 1, 0, 1, 1 ping).
async fn user_lookup_by_email(rig: Rig) {
    let user = rig.auth.create_user("login@example.com").await.unwrap();
    rig.auth.set_password(user.id, PASSWORD).await.unwrap();
    rig.auth
        .login_password("login@example.com", PASSWORD)
        .await
        .unwrap();
    rig.wire.take().await;
    let found = rig
        .auth
        .login_password("Login@Example.com", PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        rig.wire.take().await,
        counts(1, 0, 1),
        "user lookup by email"
    );
    assert_eq!(found.id, user.id, "the user found is the one created");
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
