//! A database that goes away mid-run gives errors, never panics, and the store recovers
//! when it returns: on the local PostgreSQL and MariaDB, without stopping either server.
//!
//! The store's pool reaches its server through a TCP proxy that the test cuts (every
//! forwarded connection dies and new ones are refused) and restores (it listens again on
//! the same port). Servers: `AUTHKIT_TEST_POSTGRES_URL`, `AUTHKIT_TEST_MYSQL_URL`
//! (defaults: the local ones); unreachable is a failure, never a skip. Each test works in
//! a schema (PostgreSQL) or database (MariaDB) of its own, named like the conformance
//! suite's (`akt_<unix seconds>_<pid>_…`, so its sweep drops what a killed run leaves)
//! and dropped when the test ends, passed or failed.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authkit::{
    Session, SessionId, SessionStore, SlidePolicy, StoreError, TokenHash, User, UserId, UserStore,
};
use authkit_conformance::Cleanup;
use authkit_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPoolOptions};
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection};
use authkit_sqlx::{MySqlStore, PgStore, StoreOptions};
use time::macros::datetime;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;

const PG_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
const MYSQL_VAR: &str = "AUTHKIT_TEST_MYSQL_URL";
const MYSQL_DEFAULT: &str = "mysql://root@127.0.0.1:3306/test";

/// The pool's acquire timeout: how long a call may wait for a connection during the outage.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
/// A call during the outage must have returned its error by then (not hang).
const ERROR_BUDGET: Duration = Duration::from_secs(8);
/// After the restore, the calls must succeed again within this.
const RECOVERY_BUDGET: Duration = Duration::from_secs(10);

fn url_from_env(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// `akt_<unix seconds>_<pid>_<what>`: the conformance suite's case-name shape.
fn case_name(what: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("akt_{secs}_{}_{what}", std::process::id())
}

/// Panics anywhere in the process (a driver's background task included), counted.
static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// A TCP forwarder on `127.0.0.1` between the store's pool and the real server.
struct Proxy {
    listen: SocketAddr,
    upstream: String,
    acceptor: Option<JoinHandle<()>>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let mut proxy = Proxy {
            listen: listener.local_addr().expect("the proxy's address"),
            upstream,
            acceptor: None,
            links: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn port(&self) -> u16 {
        self.listen.port()
    }

    fn serve(&mut self, listener: TcpListener) {
        let upstream = self.upstream.clone();
        let links = Arc::clone(&self.links);
        self.acceptor = Some(tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                let mut links = links.lock().unwrap_or_else(|e| e.into_inner());
                links.retain(|l| !l.is_finished());
                links.push(link);
            }
        }));
    }

    /// Stops accepting (the port then refuses connections) and kills every forwarded
    /// connection: both of its sockets are closed.
    async fn cut(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
            let _ = acceptor.await;
        }
        let links = std::mem::take(&mut *self.links.lock().unwrap_or_else(|e| e.into_inner()));
        for link in &links {
            link.abort();
        }
        for link in links {
            let _ = link.await;
        }
        let refused = TcpStream::connect(self.listen).await;
        assert!(
            refused.is_err(),
            "the cut proxy still accepts connections on {}",
            self.listen
        );
    }

    /// Listens again, on the same port.
    async fn restore(&mut self) {
        let started = Instant::now();
        let listener = loop {
            let socket = TcpSocket::new_v4().expect("a socket for the proxy");
            socket.set_reuseaddr(true).expect("SO_REUSEADDR");
            match socket.bind(self.listen).and_then(|()| socket.listen(128)) {
                Ok(listener) => break listener,
                Err(_) if started.elapsed() < Duration::from_secs(2) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(err) => panic!("listen again on {}: {err}", self.listen),
            }
        };
        self.serve(listener);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            acceptor.abort();
        }
        for link in self
            .links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            link.abort();
        }
    }
}

/// The rows written before the outage.
fn fixtures() -> (User, Session) {
    let t = datetime!(2030-01-01 00:00:00.654321 UTC);
    let user = User {
        id: UserId::new(),
        email: "outage@example.com".into(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        email_verified_at: Some(t),
        created_at: t,
        updated_at: t,
    };
    let session = Session {
        id: SessionId::new(),
        user_id: user.id,
        token_hash: TokenHash([0x5a; 32]),
        created_at: t,
        last_seen_at: t,
        idle_expires_at: t + time::Duration::hours(1),
        absolute_expires_at: t + time::Duration::days(1),
        payload: Some(b"written before the outage".to_vec()),
    };
    (user, session)
}

/// A minute after the fixtures were written: the session is live.
const NOW: time::OffsetDateTime = datetime!(2030-01-01 00:01:00 UTC);
/// Moves the idle deadline by a minute at most, never more than a day: touches do not
/// write, so a touch returns the session exactly as it was written.
const NO_SLIDE: SlidePolicy = SlidePolicy {
    idle_ttl: time::Duration::hours(1),
    min_step: time::Duration::days(1),
};

/// Runs `call` in a task of its own, so that a panic in the store is reported as one.
async fn guarded<T, F>(what: &str, call: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: Future<Output = Result<T, StoreError>> + Send + 'static,
{
    match tokio::time::timeout(ERROR_BUDGET, tokio::spawn(call)).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) if join.is_panic() => panic!("{what} panicked: {join}"),
        Ok(Err(join)) => panic!("{what} did not finish: {join}"),
        Err(_) => panic!("{what} hung for more than {ERROR_BUDGET:?}"),
    }
}

/// The error and its sources on one line.
fn chain(err: &StoreError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn expect_backend<T: std::fmt::Debug>(db: &str, what: &str, result: Result<T, StoreError>) {
    match result {
        Err(err @ StoreError::Backend(_)) => {
            eprintln!("{db}: {what} during the outage: {}", chain(&err));
        }
        other => panic!("{db}: {what} during the outage: expected Err(Backend), got {other:?}"),
    }
}

/// The scenario, on any store: write, cut, expect errors, restore, expect the data back.
/// `open` counts the pool's open connections.
async fn outage_and_recovery<S>(db: &str, store: S, open: impl Fn() -> u32, proxy: &mut Proxy)
where
    S: UserStore + SessionStore + Clone,
{
    count_panics();
    let panics_before = PANICS.load(Ordering::SeqCst);
    let (user, session) = fixtures();
    store.create_user(&user).await.expect("create the user");
    store
        .create_session(&session)
        .await
        .expect("create the session");
    let hash = session.token_hash;
    assert_eq!(
        store.touch_session(&hash, NOW, NO_SLIDE).await.unwrap(),
        Some(session.clone())
    );

    assert!(open() > 0, "{db}: the pool holds no connection to cut");
    proxy.cut().await;
    // First with the pool's connections dead, then with the pool empty.
    for _ in 0..2 {
        let started = Instant::now();
        let s = store.clone();
        let by_email = guarded("user_by_email", async move {
            s.user_by_email("outage@example.com").await
        })
        .await;
        expect_backend(db, "user_by_email", by_email);
        let s = store.clone();
        let touched = guarded("touch_session", async move {
            s.touch_session(&hash, NOW, NO_SLIDE).await
        })
        .await;
        expect_backend(db, "touch_session", touched);
        eprintln!("{db}: both errors after {:?}", started.elapsed());
    }

    proxy.restore().await;
    let restored = Instant::now();
    loop {
        let s = store.clone();
        let by_email = guarded("user_by_email", async move {
            s.user_by_email("outage@example.com").await
        })
        .await;
        let s = store.clone();
        let touched = guarded("touch_session", async move {
            s.touch_session(&hash, NOW, NO_SLIDE).await
        })
        .await;
        match (by_email, touched) {
            (Ok(found), Ok(touched)) => {
                assert_eq!(
                    found.as_ref(),
                    Some(&user),
                    "{db}: the user after the restore"
                );
                assert_eq!(
                    touched.as_ref(),
                    Some(&session),
                    "{db}: the session after the restore"
                );
                break;
            }
            (Err(err), _) | (_, Err(err)) => {
                assert!(
                    matches!(err, StoreError::Backend(_)),
                    "{db}: after the restore, expected success or Backend, got {err:?}"
                );
                assert!(
                    restored.elapsed() < RECOVERY_BUDGET,
                    "{db}: no recovery within {RECOVERY_BUDGET:?} of the restore; last error: {}",
                    chain(&err)
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("{db}: recovered {:?} after the restore", restored.elapsed());

    // Writes go through again too.
    let mut second = session.clone();
    second.id = SessionId::new();
    second.token_hash = TokenHash([0xa5; 32]);
    store
        .create_session(&second)
        .await
        .expect("a write after the restore");
    assert_eq!(
        store
            .touch_session(&second.token_hash, NOW, NO_SLIDE)
            .await
            .unwrap(),
        Some(second)
    );

    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        panics_before,
        "{db}: something panicked during the outage (see the output above)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_and_recovery() {
    let url = url_from_env(PG_VAR, PG_DEFAULT);
    let mut admin = PgConnection::connect(&url).await.unwrap_or_else(|err| {
        panic!(
            "cannot reach PostgreSQL at {url}: {err}. \
             Set {PG_VAR} to a server the test may create schemas on."
        )
    });
    let schema = case_name("outage");
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut admin)
        .await
        .expect("create the test's schema");
    let _ = admin.close().await;
    let _cleanup = Cleanup::new({
        let (url, schema) = (url.clone(), schema.clone());
        async move {
            if let Ok(mut conn) = PgConnection::connect(&url).await {
                let _ = sqlx::query(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&mut conn)
                .await;
                let _ = conn.close().await;
            }
        }
    });

    let options = PgConnectOptions::from_str(&url).expect("parse the PostgreSQL URL");
    let mut proxy = Proxy::start(format!("{}:{}", options.get_host(), options.get_port())).await;
    let options = options
        .host("127.0.0.1")
        .port(proxy.port())
        .options([("search_path", schema.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .unwrap_or_else(|err| panic!("connect to {url} ({PG_VAR}) through the proxy: {err}"));
    let store = PgStore::new(pool.clone(), StoreOptions::default())
        .await
        .expect("migrate and verify the test's schema");

    let open = {
        let pool = pool.clone();
        move || pool.size()
    };
    outage_and_recovery("PostgreSQL", store, open, &mut proxy).await;
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_outage_and_recovery() {
    let url = url_from_env(MYSQL_VAR, MYSQL_DEFAULT);
    let mut admin = MySqlConnection::connect(&url).await.unwrap_or_else(|err| {
        panic!(
            "cannot reach MySQL/MariaDB at {url}: {err}. \
             Set {MYSQL_VAR} to a server the test may create databases on."
        )
    });
    let database = case_name("outage");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
        .execute(&mut admin)
        .await
        .expect("create the test's database");
    let _ = admin.close().await;
    let _cleanup = Cleanup::new({
        let (url, database) = (url.clone(), database.clone());
        async move {
            if let Ok(mut conn) = MySqlConnection::connect(&url).await {
                let _ = sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS `{database}`"
                )))
                .execute(&mut conn)
                .await;
                let _ = conn.close().await;
            }
        }
    });

    let options = MySqlConnectOptions::from_str(&url).expect("parse the MySQL URL");
    let mut proxy = Proxy::start(format!("{}:{}", options.get_host(), options.get_port())).await;
    let options = options
        .host("127.0.0.1")
        .port(proxy.port())
        .database(&database);
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .unwrap_or_else(|err| panic!("connect to {url} ({MYSQL_VAR}) through the proxy: {err}"));
    let store = MySqlStore::new(pool.clone(), StoreOptions::default())
        .await
        .expect("migrate and verify the test's database");

    let open = {
        let pool = pool.clone();
        move || pool.size()
    };
    outage_and_recovery("MariaDB", store, open, &mut proxy).await;
    pool.close().await;
}
