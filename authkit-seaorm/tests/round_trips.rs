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

use authkit::{
    Auth, Config, Environment, KeyType, ManualClock, NewApiKey, RateLimit, SigningKey, Stores,
};
use authkit_conformance::cases::flows::{FAST_PARAMS, PASSWORD};
use authkit_conformance::wire::{Counts, Protocol, Wire, counting_proxy};
use authkit_seaorm::sea_orm::sqlx::mysql::{MySqlConnectOptions, MySqlSslMode};
use authkit_seaorm::sea_orm::sqlx::postgres::{PgConnectOptions, PgSslMode};
use authkit_seaorm::sea_orm::{ConnectOptions, Database, DatabaseConnection};
use authkit_seaorm::sea_orm_migration::MigratorTrait;
use authkit_seaorm::{Migrator, MySqlStore, PgStore};

mod common;
use common::server::{MYSQL_URL_VAR, PG_URL_VAR, Scratch, Server, mysql_url, pg_url};

/// Keys whose uses one flush writes.
const FLUSHED_KEYS: usize = 150;

/// What a test runs against: `Auth` on a store behind the proxy, its clock, the counts.
/// The scratch schema or database goes last, after the store's pool.
struct Rig {
    auth: Auth,
    clock: Arc<ManualClock>,
    wire: Arc<Wire>,
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
    let user = rig.auth.create_user("rt@example.com").await.unwrap();
    let issued = rig.auth.issue_session(user.id).await.unwrap();
    let secret = issued.secret.expose();
    // Twice, so that the store has seen the session: on PostgreSQL its next due slide
    // then takes the one-statement form.
    rig.auth.authenticate_session(secret).await.unwrap();
    rig.auth.authenticate_session(secret).await.unwrap();
    rig.wire.take().await;
    rig.auth.authenticate_session(secret).await.unwrap();
    assert_eq!(
        rig.wire.take().await,
        counts(1, 0, 1, 1),
        "session auth, no slide due"
    );

    rig.clock.advance(time::Duration::minutes(5));
    rig.auth.authenticate_session(secret).await.unwrap();
    rig.clock.advance(time::Duration::minutes(5));
    rig.wire.take().await;
    let slid = rig.auth.authenticate_session(secret).await.unwrap();
    let due = match rig.protocol {
        Protocol::Postgres => counts(1, 0, 1, 1),
        Protocol::MySql => counts(2, 0, 2, 1),
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

/// API-key verification, as authkit-sqlx: one statement for a key without a limit;
/// for a limited key, the lookup and the counting `UPDATE … RETURNING` on PostgreSQL,
/// and on MariaDB (no `UPDATE … RETURNING`) the lookup, the count read back through
/// `LAST_INSERT_ID(…)` and the window's start in a `SELECT` of its own, with no
/// transaction (three checkouts).
///
/// The buffered uses of 150 keys: on PostgreSQL one statement with no transaction, as
/// authkit-sqlx (the entries as `UNNEST` arrays, the rows locked in id order by a `FOR
/// UPDATE` CTE, then updated). On MariaDB one transaction, a `SELECT … FOR UPDATE` that
/// locks the keys in id order and one `UPDATE` of up to 200 keys (`CASE id …`), where
/// authkit-sqlx sends three `UPDATE`s (64 keys each, padded to a power of two) without
/// the locking read: there SeaORM sends one statement fewer.
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
        counts(1, 0, 1, 1),
        "key without a limit"
    );
    rig.auth
        .verify_api_key(limited, Some("read"), None)
        .await
        .unwrap();
    let limited_counts = match rig.protocol {
        Protocol::Postgres => counts(2, 0, 2, 2),
        Protocol::MySql => counts(3, 0, 3, 3),
    };
    assert_eq!(rig.wire.take().await, limited_counts, "rate-limited key");

    // Twice: the first flush of this size prepares its statements.
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
    let flush = match rig.protocol {
        Protocol::Postgres => counts(1, 0, 1, 1),
        Protocol::MySql => counts(2, 2, 4, 1),
    };
    assert_eq!(
        rig.wire.take().await,
        flush,
        "flushing the uses of {FLUSHED_KEYS} keys"
    );
    let first = rig
        .auth
        .verify_api_key(plain, Some("read"), None)
        .await
        .unwrap();
    assert_eq!(first.usage_count, 2, "the flushed uses are stored");
}

/// Refresh rotation, as authkit-sqlx: in one transaction the locked read, then on
/// PostgreSQL the consume and the insert in one statement (a data-modifying CTE), on
/// MariaDB (no writing CTE) in two.
async fn refresh_rotation(rig: Rig) {
    let user = rig.auth.create_user("rotate@example.com").await.unwrap();
    let pair = rig.auth.issue_token_pair(user.id).await.unwrap();
    let pair = rig.auth.refresh(pair.refresh_token.expose()).await.unwrap();
    rig.wire.take().await;
    rig.auth.refresh(pair.refresh_token.expose()).await.unwrap();
    let rotation = match rig.protocol {
        Protocol::Postgres => counts(2, 2, 4, 1),
        Protocol::MySql => counts(3, 2, 5, 1),
    };
    assert_eq!(rig.wire.take().await, rotation, "refresh rotation");
}

/// A user looked up by email (`Auth::login_password`: the lookup, then the password
/// check off the database), as authkit-sqlx: one statement, on the indexed
/// `lower(email)` on PostgreSQL and the stored `email_lower` column on MariaDB.
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
        counts(1, 0, 1, 1),
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
