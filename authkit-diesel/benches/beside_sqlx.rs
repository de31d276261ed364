//! The hot paths of authkit-diesel beside authkit-sqlx's, on one PostgreSQL schema
//! (`AUTHKIT_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`),
//! created at the start and dropped at the end, at 1 and 16 tasks:
//!
//! ```text
//! cargo bench -p authkit-diesel --all-features --bench beside_sqlx -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Groups (`<group>/<crate>/<tasks>`), each call through the same `Auth` or store method
//! on both crates, over the same rows (one schema, migrated by authkit-diesel, which
//! authkit-sqlx then finds up to date):
//! - `session_auth`: `Auth::authenticate_session` with no slide due, over 1,024 sessions;
//! - `api_key_verify`: `Auth::verify_api_key` over 1,000 keys without a rate limit, the
//!   usage flush (`Auth::flush_key_usage`) closing each measured batch;
//! - `user_by_email`: `UserStore::user_by_email` over 256 users;
//! - `refresh_rotation`: `TokenStore::rotate_refresh`, each task rotating a chain of its
//!   own (one insert per task and batch starts the chain, inside the timing).
//!
//! Both pools hold 16 connections, all opened before the groups, with no ping on
//! checkout (deadpool's `Fast` recycling; sqlx's `test_before_acquire(false)`), on one
//! tokio runtime (multi-thread, 2 workers). Criterion reports time per call.

// Bench harness code: a failed unwrap is a failed run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use authkit::{
    Auth, Config, Environment, KeyType, NewApiKey, RefreshToken, RotationDecision, Secret,
    SigningKey, Stores, UserId,
};
use authkit_conformance::fixtures::{refresh, secs, successor};
use authkit_sqlx::StoreOptions;
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use criterion::{BenchmarkId, Criterion};
use diesel_async::SimpleAsyncConnection;
use tokio::runtime::Runtime;

const URL_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const POOL: usize = 16;
const SESSIONS: usize = 1024;
const KEYS: usize = 1000;
const USERS: usize = 256;
const TASKS: [usize; 2] = [1, 16];

/// One crate's side: its stores and an `Auth` over them.
struct Side {
    name: &'static str,
    stores: Stores,
    auth: Auth,
}

/// What both sides read.
struct Data {
    user: UserId,
    sessions: Vec<Secret>,
    keys: Vec<Secret>,
    emails: Vec<String>,
}

fn auth(stores: Stores) -> Auth {
    let mut config = Config::new("https://bench.test", SigningKey::new([9u8; 32]));
    config.session.touch_step = time::Duration::hours(1);
    Auth::builder(stores, config).build().unwrap()
}

async fn admin(url: &str, sql: &str) {
    use diesel_async::AsyncConnection as _;
    let mut conn = diesel_async::AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url} (set {URL_VAR}): {e}"));
    conn.batch_execute(sql).await.unwrap();
}

async fn setup(url: &str, schema: &str) -> (Vec<Side>, Data) {
    admin(url, &format!("CREATE SCHEMA \"{schema}\"")).await;
    let join = if url.contains('?') { '&' } else { '?' };
    let case_url = format!("{url}{join}options=-c%20search_path%3D{schema}");
    let pool = authkit_diesel::PgStore::build_pool(&case_url, POOL).unwrap();
    let diesel = authkit_diesel::PgStore::new(pool.clone()).await.unwrap();
    // Every connection opened up front, as sqlx's `min_connections` does.
    let held: Vec<_> = futures_all((0..POOL).map(|_| pool.get())).await;
    drop(held);

    let options = PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", schema)]);
    let sqlx_pool = PgPoolOptions::new()
        .max_connections(POOL as u32)
        .min_connections(POOL as u32)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .unwrap();
    let sqlx = authkit_sqlx::PgStore::new(sqlx_pool, StoreOptions::default())
        .await
        .unwrap();

    let sides = vec![
        Side {
            name: "diesel",
            stores: Stores::from_backend(diesel.clone()),
            auth: auth(Stores::from_backend(diesel)),
        },
        Side {
            name: "sqlx",
            stores: Stores::from_backend(sqlx.clone()),
            auth: auth(Stores::from_backend(sqlx)),
        },
    ];
    let seeding = &sides[0].auth;
    let user = seeding.create_user("bench@example.com").await.unwrap();
    let mut sessions = Vec::with_capacity(SESSIONS);
    for _ in 0..SESSIONS {
        sessions.push(seeding.issue_session(user.id).await.unwrap().secret);
    }
    let mut keys = Vec::with_capacity(KEYS);
    for _ in 0..KEYS {
        let new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user.id), "b");
        keys.push(seeding.create_api_key(new).await.unwrap().secret);
    }
    let mut emails = Vec::with_capacity(USERS);
    for i in 0..USERS {
        let email = format!("user{i}@example.com");
        seeding.create_user(&email).await.unwrap();
        emails.push(email);
    }
    let data = Data {
        user: user.id,
        sessions,
        keys,
        emails,
    };
    (sides, data)
}

/// Awaits every future (for the pool warm-up).
async fn futures_all<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    let pinned: Vec<_> = futures.map(Box::pin).collect();
    for f in pinned {
        out.push(f.await);
    }
    out
}

/// Runs `call(task, i)` `iters` times in all, split over `tasks` spawned tasks, and
/// returns the time taken.
async fn drive<F, Fut>(tasks: usize, iters: u64, call: F) -> Duration
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let call = Arc::new(call);
    let per_task = iters.div_ceil(tasks as u64);
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let call = call.clone();
            tokio::spawn(async move {
                for i in 0..per_task {
                    call(task, i).await;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    started.elapsed()
}

/// A chain of refresh rotations of one task: its own first token, then each call
/// rotates the current one into its successor.
async fn rotate_chain(stores: &Stores, user: UserId, rotations: u64) {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap();
    let mut current: RefreshToken = refresh(user, now, secs(3_600));
    stores.tokens.create_refresh(&current).await.unwrap();
    for _ in 0..rotations {
        let next = successor(&current, now, secs(3_600));
        let rule = |_: &RefreshToken| RotationDecision::Rotate(next.clone());
        stores
            .tokens
            .rotate_refresh(&current.token_hash, now, &rule)
            .await
            .unwrap();
        current = next;
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var(URL_VAR).unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let schema = format!("akdb_{}", std::process::id());
    let (sides, data) = rt.block_on(setup(&url, &schema));
    let sides: &'static [Side] = Vec::leak(sides);
    let data: &'static Data = Box::leak(Box::new(data));
    let mut criterion = Criterion::default().configure_from_args();
    bench_all(&mut criterion, &rt, sides, data);
    criterion.final_summary();
    rt.block_on(admin(&url, &format!("DROP SCHEMA \"{schema}\" CASCADE")));
}

fn bench_all(c: &mut Criterion, rt: &Runtime, sides: &'static [Side], data: &'static Data) {
    for tasks in TASKS {
        let mut group = c.benchmark_group("session_auth");
        for side in sides {
            group.bench_function(BenchmarkId::new(side.name, tasks), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(drive(tasks, iters, move |task, i| async move {
                        let n = (task * 131 + i as usize) % SESSIONS;
                        let secret = data.sessions[n].expose();
                        side.auth.authenticate_session(secret).await.unwrap();
                    }))
                });
            });
        }
        group.finish();

        let mut group = c.benchmark_group("api_key_verify");
        for side in sides {
            group.bench_function(BenchmarkId::new(side.name, tasks), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let took = drive(tasks, iters, move |task, i| async move {
                            let n = (task * 131 + i as usize) % KEYS;
                            let key = data.keys[n].expose();
                            side.auth.verify_api_key(key, None, None).await.unwrap();
                        })
                        .await;
                        let started = Instant::now();
                        side.auth.flush_key_usage().await.unwrap();
                        took + started.elapsed()
                    })
                });
            });
        }
        group.finish();

        let mut group = c.benchmark_group("user_by_email");
        for side in sides {
            group.bench_function(BenchmarkId::new(side.name, tasks), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(drive(tasks, iters, move |task, i| async move {
                        let email = &data.emails[(task * 31 + i as usize) % USERS];
                        side.stores.users.user_by_email(email).await.unwrap();
                    }))
                });
            });
        }
        group.finish();

        let mut group = c.benchmark_group("refresh_rotation");
        for side in sides {
            group.bench_function(BenchmarkId::new(side.name, tasks), |b| {
                b.iter_custom(|iters| {
                    let per_task = iters.div_ceil(tasks as u64);
                    rt.block_on(async {
                        let started = Instant::now();
                        let handles: Vec<_> = (0..tasks)
                            .map(|_| tokio::spawn(rotate_chain(&side.stores, data.user, per_task)))
                            .collect();
                        for handle in handles {
                            handle.await.unwrap();
                        }
                        started.elapsed()
                    })
                });
            });
        }
        group.finish();
    }
}
