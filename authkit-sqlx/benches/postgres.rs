//! authkit-sqlx on the local PostgreSQL (`AUTHKIT_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), in a schema of its own that is dropped at
//! the end:
//!
//! ```text
//! cargo bench -p authkit-sqlx --bench postgres -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! - session authentication through `Auth` next to a bare sqlx `SELECT … WHERE
//!   token_hash = $1` on the same table, at 1 and 16 concurrent tasks;
//! - API-key verification through `Auth` (a key without a limit, and a rate-limited key)
//!   next to a bare sqlx `SELECT` of the same key row by hash, at 1 and 16 tasks;
//! - user lookup by email (a store call);
//! - purging 100,000 expired sessions through `Auth::purge_expired` (printed once).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // bench harness code

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authkit::{
    Auth, Config, Environment, KeyType, NewApiKey, RateLimit, Secret, SigningKey, Stores,
    TokenHash, UserStore,
};
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use authkit_sqlx::sqlx::{self, AssertSqlSafe};
use authkit_sqlx::{PgStore, StoreOptions};
use criterion::{Criterion, Throughput};
use tokio::runtime::Runtime;

const SESSIONS: usize = 1024;
const KEYS: usize = 1000;
const USERS: usize = 256;
const PURGED: i64 = 100_000;

struct Bench {
    rt: Runtime,
    pool: PgPool,
    store: PgStore,
    auth: Arc<Auth>,
    secrets: Arc<Vec<Secret>>,
    hashes: Arc<Vec<TokenHash>>,
    /// Keys without a limit, and keys limited to 10,000 a second (never reached here).
    keys: Arc<Vec<Secret>>,
    limited_keys: Arc<Vec<Secret>>,
    emails: Arc<Vec<String>>,
    schema: String,
    url: String,
}

fn url() -> String {
    std::env::var("AUTHKIT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn hash_of(secret: &Secret) -> TokenHash {
    use sha2::{Digest, Sha256};
    TokenHash(Sha256::digest(secret.expose().as_bytes()).into())
}

fn setup() -> Bench {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = url();
    let schema = format!("akb_{}", std::process::id());
    let (pool, store, auth, secrets, keys, limited_keys, emails) = rt.block_on(async {
        let admin = PgPool::connect(&url)
            .await
            .expect("PostgreSQL at AUTHKIT_TEST_POSTGRES_URL");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        )))
        .execute(&admin)
        .await
        .unwrap();
        admin.close().await;
        let options = PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(16)
            .connect_with(options)
            .await
            .unwrap();
        let store = PgStore::new(pool.clone(), StoreOptions::default())
            .await
            .unwrap();
        let config = Config::new("https://bench.test", SigningKey::new([9u8; 32]));
        let auth = Auth::builder(Stores::from_backend(store.clone()), config)
            .build()
            .unwrap();
        let user = auth.create_user("bench@example.com").await.unwrap();
        let mut secrets = Vec::with_capacity(SESSIONS);
        for _ in 0..SESSIONS {
            secrets.push(auth.issue_session(user.id).await.unwrap().secret);
        }
        let mut emails = Vec::with_capacity(USERS);
        for i in 0..USERS {
            let email = format!("user{i}@example.com");
            auth.create_user(&email).await.unwrap();
            emails.push(email);
        }
        let mut keys = Vec::with_capacity(KEYS);
        let mut limited_keys = Vec::with_capacity(KEYS);
        for i in 0..2 * KEYS {
            let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user.id), "b");
            new.scopes = Some(vec!["read".into()]);
            if i % 2 == 1 {
                new.rate_limit = Some(RateLimit::new(10_000, time::Duration::SECOND));
            }
            let secret = auth.create_api_key(new).await.unwrap().secret;
            if i % 2 == 1 {
                limited_keys.push(secret)
            } else {
                keys.push(secret)
            }
        }
        (pool, store, auth, secrets, keys, limited_keys, emails)
    });
    let hashes = secrets.iter().map(hash_of).collect();
    Bench {
        rt,
        pool,
        store,
        auth: Arc::new(auth),
        secrets: Arc::new(secrets),
        hashes: Arc::new(hashes),
        keys: Arc::new(keys),
        limited_keys: Arc::new(limited_keys),
        emails: Arc::new(emails),
        schema,
        url,
    }
}

/// Runs `iters` calls of `op(i)` spread over `tasks` concurrent tasks; the wall time.
fn concurrent<F, Fut>(rt: &Runtime, tasks: usize, iters: u64, op: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let per_task = (iters as usize).div_ceil(tasks);
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let op = op.clone();
                tokio::spawn(async move {
                    for i in 0..per_task {
                        op(i * tasks + t).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.unwrap();
        }
        start.elapsed()
    })
}

fn sessions(c: &mut Criterion, b: &Bench) {
    let bare_sql = "SELECT id, user_id, token_hash, created_at, last_seen_at, idle_expires_at, \
                    absolute_expires_at, payload FROM authkit_sessions WHERE token_hash = $1";
    let mut group = c.benchmark_group("session_auth");
    group.throughput(Throughput::Elements(1));
    for tasks in [1, 16] {
        group.bench_function(format!("Auth::authenticate_session/{tasks}"), |bench| {
            bench.iter_custom(|iters| {
                let (auth, secrets) = (b.auth.clone(), b.secrets.clone());
                concurrent(&b.rt, tasks, iters, move |i| {
                    let (auth, secrets) = (auth.clone(), secrets.clone());
                    async move {
                        let secret = &secrets[i % SESSIONS];
                        auth.authenticate_session(secret.expose()).await.unwrap();
                    }
                })
            })
        });
        group.bench_function(format!("bare sqlx SELECT/{tasks}"), |bench| {
            bench.iter_custom(|iters| {
                let (pool, hashes) = (b.pool.clone(), b.hashes.clone());
                concurrent(&b.rt, tasks, iters, move |i| {
                    let (pool, hashes) = (pool.clone(), hashes.clone());
                    async move {
                        let row = sqlx::query(bare_sql)
                            .bind(&hashes[i % SESSIONS].0[..])
                            .fetch_optional(&pool)
                            .await
                            .unwrap();
                        assert!(row.is_some());
                    }
                })
            })
        });
    }
    group.finish();
}

/// API-key verification through `Auth`, for keys without and with a rate limit, next to
/// a bare `SELECT` of the key row by hash: all three in the same task layout.
fn api_keys(c: &mut Criterion, b: &Bench) {
    let bare_sql = "SELECT id, prefix, key_hash, key_type, environment, owner_id, \
                    organization_id, name, description, scopes, allowed_ips, metadata, \
                    created_at, expires_at, revoked_at, revoked_reason, usage_count, \
                    last_used_at, last_used_ip, rate_limit, rate_window_seconds, \
                    acts_for_user_id, last_used_user_agent \
                    FROM authkit_api_keys WHERE key_hash = $1";
    let hashes: Arc<Vec<TokenHash>> = Arc::new(b.keys.iter().map(hash_of).collect());
    let mut group = c.benchmark_group("api_key_verify");
    group.throughput(Throughput::Elements(1));
    for tasks in [1, 16] {
        for (name, keys) in [("no limit", &b.keys), ("rate limited", &b.limited_keys)] {
            group.bench_function(format!("Auth::verify_api_key {name}/{tasks}"), |bench| {
                bench.iter_custom(|iters| {
                    let (auth, keys) = (b.auth.clone(), keys.clone());
                    concurrent(&b.rt, tasks, iters, move |i| {
                        let (auth, keys) = (auth.clone(), keys.clone());
                        async move {
                            let key = keys[i % KEYS].expose();
                            auth.verify_api_key(key, Some("read"), None).await.unwrap();
                        }
                    })
                })
            });
        }
        group.bench_function(format!("bare sqlx SELECT/{tasks}"), |bench| {
            bench.iter_custom(|iters| {
                let (pool, hashes) = (b.pool.clone(), hashes.clone());
                concurrent(&b.rt, tasks, iters, move |i| {
                    let (pool, hashes) = (pool.clone(), hashes.clone());
                    async move {
                        let row = sqlx::query(bare_sql)
                            .bind(&hashes[i % KEYS].0[..])
                            .fetch_optional(&pool)
                            .await
                            .unwrap();
                        assert!(row.is_some());
                    }
                })
            })
        });
    }
    group.finish();
}

fn lookups(c: &mut Criterion, b: &Bench) {
    let mut group = c.benchmark_group("lookups");
    group.throughput(Throughput::Elements(1));
    group.bench_function("user_by_email", |bench| {
        let mut i = 0;
        bench.iter(|| {
            i += 1;
            let email = &b.emails[i % USERS];
            b.rt.block_on(b.store.user_by_email(email))
                .unwrap()
                .unwrap()
        })
    });
    group.finish();
}

/// Inserts 100,000 sessions that expired a day ago, then times `Auth::purge_expired`
/// (batches of `Config::purge_batch`, 1000 by default).
fn purge(b: &Bench) {
    b.rt.block_on(async {
        let user = b.auth.create_user("purge@example.com").await.unwrap();
        let insert = Instant::now();
        sqlx::query(
            "INSERT INTO authkit_sessions (id, user_id, token_hash, created_at, last_seen_at, \
             idle_expires_at, absolute_expires_at) \
             SELECT gen_random_uuid(), $1, sha256(('purge' || i)::bytea), \
             now() - interval '2 days', now() - interval '2 days', \
             now() - interval '1 day', now() - interval '1 day' \
             FROM generate_series(1, $2) AS i",
        )
        .bind(user.id.0)
        .bind(PURGED)
        .execute(&b.pool)
        .await
        .unwrap();
        let inserted = insert.elapsed();
        let start = Instant::now();
        let report = b.auth.purge_expired().await.unwrap();
        let took = start.elapsed();
        assert_eq!(report.sessions, PURGED as u64);
        println!(
            "purge: {PURGED} expired sessions deleted in {took:.2?} \
             ({:.0} rows/s, {} batches of {}; inserting them took {inserted:.2?})",
            PURGED as f64 / took.as_secs_f64(),
            PURGED as u64 / u64::from(b.auth.config().purge_batch),
            b.auth.config().purge_batch,
        );
    });
}

fn main() {
    let bench = setup();
    let mut criterion = Criterion::default().configure_from_args();
    sessions(&mut criterion, &bench);
    api_keys(&mut criterion, &bench);
    lookups(&mut criterion, &bench);
    purge(&bench);
    criterion.final_summary();
    let Bench {
        rt,
        pool,
        schema,
        url,
        ..
    } = bench;
    rt.block_on(async {
        pool.close().await;
        if let Ok(admin) = PgPool::connect(&url).await {
            let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&admin)
                .await;
        }
    });
}
