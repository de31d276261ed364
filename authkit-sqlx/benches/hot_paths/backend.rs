//! The bench on one database, written once and mounted under each database's module
//! (`postgres.rs`, `mysql.rs`), which supplies the types (`Db`, `Pool`, `Store`, the
//! peer's), the timestamp binding `ts`, the statement rendering `sql` (templates use `?`),
//! and the namespace's creation and removal.

use std::collections::HashMap;

use authkit::{
    Auth, Config, Environment, KeyType, NewApiKey, RateLimit, Secret, SessionStore as _,
    SigningKey, Stores, UserStore as _,
};
use authkit_sqlx::StoreOptions;
use authkit_sqlx::sqlx::{self, Row as _, SqlStr};
use criterion::Criterion;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use tokio::runtime::Runtime;
use tower_sessions_core::SessionStore as _;
use tower_sessions_core::session::{Id, Record};

use super::{
    DEFAULT_URL, Db, NAME, PeerPool, PeerPoolOptions, PeerStore, Pool, PoolOptions, Store,
    UPDATE_RETURNING, URL_VAR, drop_namespace, open, peer, sql, ts,
};
use crate::{Contender, Group, Line, run_group};

const SESSIONS: usize = 1024;
const KEYS: usize = 1000;
const HOT_KEYS: usize = 3;
const USERS: usize = 256;
const PURGED: usize = 100_000;
/// Connections of every pool, all opened up front.
const POOL: u32 = 16;
/// Bytes of payload in every session, authkit's and the peer's.
const PAYLOAD: usize = 64;
const TASKS: &[usize] = &[1, 16];
/// The bench's schema (PostgreSQL) or database (MariaDB): one fixed name, dropped and
/// made anew at the start, so a run killed before its end leaves nothing behind past the
/// next run (two runs at once are not supported).
const NS: &str = "akb_hot_paths";

/// Set up once, then leaked so that every contender's call can borrow it.
struct Bench {
    pool: Pool,
    store: Store,
    /// `session.touch_step` one hour: no slide is due during the run.
    auth: Auth,
    /// `session.touch_step` zero: every authentication writes the slid deadline.
    sliding: Auth,
    peer: PeerStore,
    peer_pool: PeerPool,
    secrets: Vec<Secret>,
    session_hashes: Vec<Vec<u8>>,
    peer_ids: Vec<Id>,
    keys: Vec<Secret>,
    limited_keys: Vec<Secret>,
    key_hashes: Vec<Vec<u8>>,
    emails: Vec<String>,
}

fn hash_of(secret: &Secret) -> Vec<u8> {
    Sha256::digest(secret.expose().as_bytes()).to_vec()
}

fn auth(store: &Store, touch_step: Duration) -> Auth {
    let mut config = Config::new("https://bench.test", SigningKey::new([9u8; 32]));
    config.session.touch_step = touch_step;
    Auth::builder(Stores::from_backend(store.clone()), config)
        .build()
        .unwrap()
}

/// Runs every group on this database, then the purge, and drops the namespace.
pub(crate) fn run(criterion: &mut Criterion, rt: &Runtime, summary: &mut Vec<Line>) {
    let url = std::env::var(URL_VAR).unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let b: &'static Bench = Box::leak(Box::new(rt.block_on(setup(&url, NS))));
    for group in [sessions(b), slides(b), api_keys(b), lookups(b)] {
        run_group(criterion, rt, NAME, group, summary);
    }
    rt.block_on(async {
        purge(b).await;
        b.pool.close().await;
        b.peer_pool.close().await;
        drop_namespace(&url, NS).await;
    });
}

async fn setup(url: &str, ns: &str) -> Bench {
    // Every contender's pool: the same size, no test before each acquire.
    let options = PoolOptions::new()
        .max_connections(POOL)
        .min_connections(POOL)
        .test_before_acquire(false);
    let peer_options = PeerPoolOptions::new()
        .max_connections(POOL)
        .min_connections(POOL)
        .test_before_acquire(false);
    let started = std::time::Instant::now();
    let pool = open(url, ns, options).await;
    let store = Store::new(pool.clone(), StoreOptions::default())
        .await
        .unwrap();
    let (auth, sliding) = (
        auth(&store, Duration::hours(1)),
        auth(&store, Duration::ZERO),
    );
    let (peer, peer_pool) = peer(url, ns, peer_options).await;

    let user = auth.create_user("bench@example.com").await.unwrap();
    let payload = [7u8; PAYLOAD];
    let mut secrets = Vec::with_capacity(SESSIONS);
    let mut peer_ids = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        let issued = auth.issue_session(user.id).await.unwrap();
        let now = issued.session.created_at;
        store
            .set_session_payload(issued.session.id, Some(&payload), now)
            .await
            .unwrap();
        secrets.push(issued.secret);
        // The peer's record: the user and the same payload (as text: its data is JSON).
        let data = HashMap::from([
            ("user_id".to_owned(), user.id.0.to_string().into()),
            ("payload".to_owned(), "7".repeat(PAYLOAD).into()),
        ]);
        let record = Record {
            id: Id::default(),
            data,
            expiry_date: now + Duration::days(1),
        };
        peer.save(&record).await.unwrap();
        peer_ids.push(record.id);
    }
    let peer_blob: Vec<u8> = sqlx::query("SELECT data FROM session")
        .fetch_one(&pool)
        .await
        .unwrap()
        .get(0);

    let mut emails = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let email = format!("user{i}@example.com");
        auth.create_user(&email).await.unwrap();
        emails.push(email);
    }
    let (mut keys, mut limited_keys) = (Vec::new(), Vec::new());
    for i in 0..2 * KEYS {
        let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user.id), "b");
        new.scopes = Some(vec!["read".into()]);
        let limited = i % 2 == 1;
        if limited {
            new.rate_limit = Some(RateLimit::new(10_000, time::Duration::SECOND));
        }
        let secret = auth.create_api_key(new).await.unwrap().secret;
        if limited {
            &mut limited_keys
        } else {
            &mut keys
        }
        .push(secret);
    }
    println!(
        "{NAME}: seeded in {:.1?}: {SESSIONS} sessions on each side (authkit: {PAYLOAD}-byte \
         payload beside its 96 bytes of ids, hash and times; the peer: a {}-byte \
         MessagePack record), {USERS} users, {KEYS} keys and {KEYS} rate-limited keys",
        started.elapsed(),
        peer_blob.len(),
    );
    Bench {
        session_hashes: secrets.iter().map(hash_of).collect(),
        key_hashes: keys.iter().map(hash_of).collect(),
        pool,
        store,
        auth,
        sliding,
        peer,
        peer_pool,
        secrets,
        peer_ids,
        keys,
        limited_keys,
        emails,
    }
}

const SESSION_COLS: &str = "id, user_id, token_hash, created_at, last_seen_at, \
                            idle_expires_at, absolute_expires_at, payload";

/// A bare `SELECT` of the live session by hash, binds `hash, now, now`.
fn select_live_by_hash() -> SqlStr {
    sql(&format!(
        "SELECT {SESSION_COLS} FROM authkit_sessions \
         WHERE token_hash = ? AND idle_expires_at > ? AND absolute_expires_at > ?"
    ))
}

fn sessions(b: &'static Bench) -> Group {
    const FLOOR: &str = "bare sqlx SELECT";
    let select = select_live_by_hash();
    // The peer's pool is not in the bench's namespace, and sqlx 0.8 takes a `&str`.
    let on_peer_pool = select
        .as_str()
        .replace("authkit_sessions", &format!("{NS}.authkit_sessions"));
    let select_on_peer_pool: &'static str = Box::leak(on_peer_pool.into_boxed_str());
    let contenders = vec![
        Contender::new("Auth::authenticate_session", move |i| async move {
            let secret = b.secrets[i % SESSIONS].expose();
            b.auth.authenticate_session(secret).await.unwrap();
        })
        .against(FLOOR),
        Contender::new(FLOOR, move |i| {
            let select = select.clone();
            async move {
                let now = ts(OffsetDateTime::now_utc());
                let row = sqlx::query::<Db>(select)
                    .bind(&b.session_hashes[i % SESSIONS][..])
                    .bind(now)
                    .bind(now)
                    .fetch_optional(&b.pool)
                    .await
                    .unwrap();
                assert!(row.is_some());
            }
        }),
        Contender::new("the same SELECT on sqlx 0.8", move |i| async move {
            let now = ts(OffsetDateTime::now_utc());
            let row = tower_sessions_sqlx_store::sqlx::query(select_on_peer_pool)
                .bind(&b.session_hashes[i % SESSIONS][..])
                .bind(now)
                .bind(now)
                .fetch_optional(&b.peer_pool)
                .await
                .unwrap();
            assert!(row.is_some());
        })
        .against(FLOOR),
        Contender::new("tower-sessions sqlx store load", move |i| async move {
            let record = b.peer.load(&b.peer_ids[i % SESSIONS]).await.unwrap();
            assert!(record.is_some());
        })
        .against(FLOOR),
    ];
    Group {
        name: "session_auth",
        tasks: TASKS,
        contenders,
    }
}

/// A due slide through `Auth` beside the least the database allows for it: on
/// PostgreSQL one `UPDATE … RETURNING`; on MariaDB, which has no `UPDATE … RETURNING`,
/// a `SELECT` of the session then an `UPDATE` of its deadline by id on the same
/// connection, and beside that floor the `UPDATE` alone (which reads nothing back), to
/// show what the second statement costs.
fn slides(b: &'static Bench) -> Group {
    const FLOOR: &str = if UPDATE_RETURNING {
        "bare sqlx UPDATE RETURNING"
    } else {
        "bare sqlx SELECT, UPDATE by id"
    };
    let idle_ttl = b.sliding.config().session.idle_ttl;
    let mut contenders = vec![
        Contender::new("Auth::authenticate_session", move |i| async move {
            let secret = b.secrets[i % SESSIONS].expose();
            b.sliding.authenticate_session(secret).await.unwrap();
        })
        .against(FLOOR),
    ];
    let returning = if UPDATE_RETURNING {
        format!(" RETURNING {SESSION_COLS}")
    } else {
        String::new()
    };
    let by_hash = sql(&format!(
        "UPDATE authkit_sessions SET idle_expires_at = ?, last_seen_at = ? \
         WHERE token_hash = ? AND idle_expires_at > ? AND absolute_expires_at > ?{returning}"
    ));
    let update_by_hash = Contender::new(
        if UPDATE_RETURNING {
            FLOOR
        } else {
            "bare sqlx UPDATE (no RETURNING)"
        },
        move |i| {
            let by_hash = by_hash.clone();
            async move {
                let now = OffsetDateTime::now_utc();
                let query = sqlx::query::<Db>(by_hash)
                    .bind(ts(now + idle_ttl))
                    .bind(ts(now))
                    .bind(&b.session_hashes[i % SESSIONS][..])
                    .bind(ts(now))
                    .bind(ts(now));
                let found = if UPDATE_RETURNING {
                    query.fetch_optional(&b.pool).await.unwrap().is_some()
                } else {
                    query.execute(&b.pool).await.unwrap().rows_affected() == 1
                };
                assert!(found);
            }
        },
    );
    if UPDATE_RETURNING {
        contenders.push(update_by_hash);
    } else {
        contenders.push(update_by_hash.against(FLOOR));
        contenders.push(read_then_slide(b, FLOOR, idle_ttl));
    }
    Group {
        name: "session_slide_due",
        tasks: TASKS,
        contenders,
    }
}

/// A bare `SELECT` of the live session by hash, then the `UPDATE` of its deadline by
/// id, on one connection: a due slide where there is no `UPDATE … RETURNING`.
fn read_then_slide(b: &'static Bench, name: &'static str, idle_ttl: Duration) -> Contender {
    let select = select_live_by_hash();
    let update =
        sql("UPDATE authkit_sessions SET idle_expires_at = ?, last_seen_at = ? WHERE id = ?");
    Contender::new(name, move |i| {
        let (select, update) = (select.clone(), update.clone());
        async move {
            let now = OffsetDateTime::now_utc();
            let mut conn = b.pool.acquire().await.unwrap();
            let row = sqlx::query::<Db>(select)
                .bind(&b.session_hashes[i % SESSIONS][..])
                .bind(ts(now))
                .bind(ts(now))
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            let id: Vec<u8> = row.try_get("id").unwrap();
            let done = sqlx::query::<Db>(update)
                .bind(ts(now + idle_ttl))
                .bind(ts(now))
                .bind(id)
                .execute(&mut *conn)
                .await
                .unwrap();
            assert_eq!(done.rows_affected(), 1);
        }
    })
}

/// Verification through `Auth` (usage flushed at the end of every batch, inside the
/// timing) beside a bare `SELECT` of the same rows; the limited keys' floor is the
/// unlimited keys' (the same rows but for the limit's columns).
fn api_keys(b: &'static Bench) -> Group {
    const FLOOR_ALL: &str = "bare sqlx SELECT 1000 keys";
    const FLOOR_HOT: &str = "bare sqlx SELECT 3 hot keys";
    let select = sql(
        "SELECT id, prefix, key_hash, key_type, environment, owner_id, organization_id, \
         name, description, scopes, allowed_ips, metadata, created_at, expires_at, \
         revoked_at, revoked_reason, usage_count, last_used_at, last_used_ip, \
         last_used_user_agent, rate_limit, rate_window_seconds, acts_for_user_id \
         FROM authkit_api_keys WHERE key_hash = ?",
    );
    let verify = |name: &str, keys: &'static [Secret], n: usize, floor: &'static str| {
        Contender::new(name, move |i| async move {
            let key = keys[i % n].expose();
            b.auth
                .verify_api_key(key, Some("read"), None)
                .await
                .unwrap();
        })
        .finishing(move |_| async move { b.auth.flush_key_usage().await.unwrap() })
        .against(floor)
    };
    let bare = |name: &str, n: usize| {
        let select: SqlStr = select.clone();
        Contender::new(name, move |i| {
            let select = select.clone();
            async move {
                let row = sqlx::query::<Db>(select)
                    .bind(&b.key_hashes[i % n][..])
                    .fetch_optional(&b.pool)
                    .await
                    .unwrap();
                assert!(row.is_some());
            }
        })
    };
    let contenders = vec![
        verify("Auth::verify_api_key 1000 keys", &b.keys, KEYS, FLOOR_ALL),
        bare(FLOOR_ALL, KEYS),
        verify(
            "Auth::verify_api_key 1000 rate-limited",
            &b.limited_keys,
            KEYS,
            FLOOR_ALL,
        ),
        verify(
            "Auth::verify_api_key 3 hot keys",
            &b.keys,
            HOT_KEYS,
            FLOOR_HOT,
        ),
        bare(FLOOR_HOT, HOT_KEYS),
    ];
    Group {
        name: "api_key_verify",
        tasks: TASKS,
        contenders,
    }
}

fn lookups(b: &'static Bench) -> Group {
    let contenders = vec![Contender::new("user_by_email", move |i| async move {
        let email = &b.emails[i % USERS];
        b.store.user_by_email(email).await.unwrap().unwrap();
    })];
    Group {
        name: "lookups",
        tasks: &[1],
        contenders,
    }
}

/// Inserts 100,000 sessions that expired a day ago (1,000 rows a statement), then times
/// `Auth::purge_expired` (batches of `Config::purge_batch`, 1000 by default).
async fn purge(b: &Bench) {
    const ROWS: usize = 1000;
    let user = b.auth.create_user("purge@example.com").await.unwrap();
    let past = ts(OffsetDateTime::now_utc() - Duration::days(1));
    let insert = sql(&format!(
        "INSERT INTO authkit_sessions (id, user_id, token_hash, created_at, last_seen_at, \
         idle_expires_at, absolute_expires_at) VALUES {}",
        vec!["(?, ?, ?, ?, ?, ?, ?)"; ROWS].join(", ")
    ));
    let inserting = std::time::Instant::now();
    for chunk in 0..PURGED / ROWS {
        let mut query = sqlx::query::<Db>(insert.clone());
        for row in 0..ROWS {
            let hash = Sha256::digest(format!("purge {chunk} {row}")).to_vec();
            query = query
                .bind(uuid::Uuid::now_v7())
                .bind(user.id.0)
                .bind(hash)
                .bind(past)
                .bind(past)
                .bind(past)
                .bind(past);
        }
        query.execute(&b.pool).await.unwrap();
    }
    let inserted = inserting.elapsed();
    let start = std::time::Instant::now();
    let report = b.auth.purge_expired().await.unwrap();
    let took = start.elapsed();
    assert_eq!(report.sessions, PURGED as u64);
    let batch = b.auth.config().purge_batch;
    println!(
        "{NAME} purge: {PURGED} expired sessions deleted in {took:.2?} ({:.0} rows/s, \
         {} batches of {batch}; inserting them took {inserted:.2?})",
        PURGED as f64 / took.as_secs_f64(),
        PURGED as u64 / u64::from(batch),
    );
}
