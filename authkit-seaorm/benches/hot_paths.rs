//! authkit-seaorm beside authkit-sqlx on the same PostgreSQL
//! (`AUTHKIT_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`), in
//! one schema created at the start and dropped at the end:
//!
//! ```text
//! cargo bench -p authkit-seaorm --all-features --bench hot_paths -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Groups (`<path>/<backend>/<tasks>`), each at 1 and 16 tasks, store calls as core makes
//! them:
//! - `session_auth`: `touch_session` over 1,024 live sessions with no slide due;
//! - `api_key_verify`: `api_key_for_request` over 1,024 keys, each limited to 10,000
//!   requests a second (never reached), so every call is the lookup and the count;
//! - `user_by_email`: over 1,024 users, looked up in upper case;
//! - `refresh_rotation`: `rotate_refresh`, each task rotating a family of its own.
//!
//! Like is compared with like: one tokio runtime (multi-thread, 2 workers); each backend
//! on a pool of its own, 16 connections opened up front, built from its store's own
//! settings; one shape for every contender (N spawned tasks each running a loop of calls,
//! all inside the timing). After criterion, a summary runs [`ROUNDS`] interleaved rounds
//! per path and task count (sqlx, then SeaORM, in turn) and prints the median time per
//! call of each and their ratio.
// Bench harness code: a failed unwrap is a failed run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authkit::{
    RateLimit, RefreshToken, RotationDecision, SlidePolicy, Stores, Timestamp, TokenHash,
};
use authkit_conformance::fixtures::{api_key, at, refresh, secs, session, successor, user};
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgConnection};
use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection};
use criterion::Criterion;
use tokio::runtime::Runtime;

const URL_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Rows of each kind the lookups cycle through.
const ROWS: usize = 1024;
/// Connections per backend.
const POOL: u32 = 16;
/// Interleaved rounds per path and task count in the summary.
const ROUNDS: usize = 5;
/// Task counts measured.
const TASKS: [usize; 2] = [1, 16];

/// The hot paths.
#[derive(Clone, Copy, Debug)]
enum Path {
    SessionAuth,
    ApiKeyVerify,
    UserByEmail,
    RefreshRotation,
}

impl Path {
    const ALL: [Path; 4] = [
        Path::SessionAuth,
        Path::ApiKeyVerify,
        Path::UserByEmail,
        Path::RefreshRotation,
    ];

    fn name(self) -> &'static str {
        match self {
            Path::SessionAuth => "session_auth",
            Path::ApiKeyVerify => "api_key_verify",
            Path::UserByEmail => "user_by_email",
            Path::RefreshRotation => "refresh_rotation",
        }
    }
}

/// One backend's store and the rows it reads (written through it).
struct Backend {
    name: &'static str,
    stores: Stores,
    sessions: Vec<TokenHash>,
    keys: Vec<TokenHash>,
    emails: Vec<String>,
    /// The current token of each task's family.
    families: Vec<Mutex<RefreshToken>>,
}

/// When every call happens: sessions stay live and no slide is due.
fn now() -> Timestamp {
    at(1)
}

impl Backend {
    /// Writes the rows the paths read through `stores`.
    async fn fill(name: &'static str, stores: Stores) -> Arc<Backend> {
        let (mut sessions, mut keys, mut emails, mut families) = (vec![], vec![], vec![], vec![]);
        for i in 0..ROWS {
            let u = user(&format!("{name}-{i}@bench.example"));
            stores.users.create_user(&u).await.unwrap();
            let s = session(u.id, at(0), secs(3600), secs(86_400));
            stores.sessions.create_session(&s).await.unwrap();
            let mut k = api_key(Some(u.id), at(0));
            k.rate_limit = Some(RateLimit::new(10_000, time::Duration::seconds(1)));
            stores.api_keys.create_api_key(&k).await.unwrap();
            if i < TASKS[1] {
                let r = refresh(u.id, at(0), secs(86_400));
                stores.tokens.create_refresh(&r).await.unwrap();
                families.push(Mutex::new(r));
            }
            sessions.push(s.token_hash);
            keys.push(k.key_hash);
            emails.push(u.email.to_uppercase());
        }
        Arc::new(Backend {
            name,
            stores,
            sessions,
            keys,
            emails,
            families,
        })
    }

    /// The `i`-th call of task `task` on `path`.
    async fn call(&self, path: Path, task: usize, i: usize) {
        let row = (task * 7919 + i) % ROWS;
        match path {
            Path::SessionAuth => {
                let policy = SlidePolicy {
                    idle_ttl: secs(3600),
                    min_step: secs(3600),
                };
                let s = self
                    .stores
                    .sessions
                    .touch_session(&self.sessions[row], now(), policy);
                assert!(s.await.unwrap().is_some());
            }
            Path::ApiKeyVerify => {
                let k = self
                    .stores
                    .api_keys
                    .api_key_for_request(&self.keys[row], now());
                assert!(k.await.unwrap().is_some());
            }
            Path::UserByEmail => {
                let u = self.stores.users.user_by_email(&self.emails[row]).await;
                assert!(u.unwrap().is_some());
            }
            Path::RefreshRotation => self.rotate(task).await,
        }
    }

    /// Rotates task `task`'s family one step.
    async fn rotate(&self, task: usize) {
        let current = self.families[task].lock().unwrap().clone();
        let next = successor(&current, now(), secs(86_400));
        let rule = |_: &RefreshToken| RotationDecision::Rotate(next.clone());
        let rotation = self
            .stores
            .tokens
            .rotate_refresh(&current.token_hash, now(), &rule);
        rotation.await.unwrap();
        *self.families[task].lock().unwrap() = next;
    }
}

/// `calls` calls of `path` spread over `tasks` spawned tasks; the time they took.
async fn batch(backend: &Arc<Backend>, path: Path, tasks: usize, calls: u64) -> Duration {
    let per_task = usize::try_from(calls.div_ceil(tasks as u64))
        .unwrap()
        .max(1);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let backend = backend.clone();
        set.spawn(async move {
            for i in 0..per_task {
                backend.call(path, task, i).await;
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    start.elapsed()
}

/// A fresh schema and a connection options for it; the schema is dropped by the guard.
fn schema(rt: &Runtime, url: &str) -> (String, authkit_conformance::Cleanup) {
    let name = format!("aks_bench_{}", std::process::id());
    rt.block_on(async {
        let mut conn = PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {url} ({URL_VAR}): {e}"));
        let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE; CREATE SCHEMA \"{name}\"");
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let (url, doomed) = (url.to_owned(), name.clone());
    let cleanup = authkit_conformance::Cleanup::new(async move {
        if let Ok(mut conn) = PgConnection::connect(&url).await {
            let sql = format!("DROP SCHEMA IF EXISTS \"{doomed}\" CASCADE");
            let _ = sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut conn).await;
        }
    });
    (name, cleanup)
}

/// Both backends on the same schema, each on its own pool, filled.
fn backends(rt: &Runtime, url: &str, schema: &str) -> [Arc<Backend>; 2] {
    rt.block_on(async {
        let options = PgConnectOptions::from_str(url)
            .unwrap()
            .options([("search_path", schema)]);
        let pool = authkit_sqlx::PgStore::pool_options()
            .max_connections(POOL)
            .min_connections(POOL)
            .connect_with(options)
            .await
            .unwrap();
        let sqlx = authkit_sqlx::PgStore::new(pool, authkit_sqlx::StoreOptions::default())
            .await
            .unwrap();
        let mut options = authkit_seaorm::PgStore::connect_options(url);
        let search_path = schema.to_owned();
        options
            .max_connections(POOL)
            .min_connections(POOL)
            .map_sqlx_postgres_opts(move |o| o.options([("search_path", search_path.as_str())]));
        let db = sea_orm::Database::connect(options).await.unwrap();
        let sea = authkit_seaorm::PgStore::new(db).unwrap();
        [
            Backend::fill("sqlx", Stores::from_backend(sqlx)).await,
            Backend::fill("seaorm", Stores::from_backend(sea)).await,
        ]
    })
}

/// The median of some durations.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Interleaved rounds, printed: per path and task count, each backend's median time per
/// call and SeaORM's over sqlx's.
fn summary(rt: &Runtime, backends: &[Arc<Backend>; 2]) {
    println!("\nsummary: median time per call over {ROUNDS} interleaved rounds");
    for path in Path::ALL {
        for tasks in TASKS {
            let calls = if tasks == 1 { 500 } else { 4000 };
            let mut times = [vec![], vec![]];
            for _ in 0..ROUNDS {
                for (b, backend) in backends.iter().enumerate() {
                    let took = rt.block_on(batch(backend, path, tasks, calls));
                    times[b].push(took / u32::try_from(calls).unwrap());
                }
            }
            let [sqlx, sea] = times.map(median);
            println!(
                "{:>16} {tasks:>2} tasks: sqlx {sqlx:>10.2?}  seaorm {sea:>10.2?}  ratio {:.2}",
                path.name(),
                sea.as_secs_f64() / sqlx.as_secs_f64()
            );
        }
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let url = std::env::var(URL_VAR).unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let (schema, cleanup) = schema(&rt, &url);
    let backends = backends(&rt, &url, &schema);
    let mut criterion = Criterion::default().configure_from_args().without_plots();
    for path in Path::ALL {
        let mut group = criterion.benchmark_group(path.name());
        for backend in &backends {
            for tasks in TASKS {
                let id = format!("{}/{tasks}", backend.name);
                group.bench_function(id, |b| {
                    b.to_async(&rt)
                        .iter_custom(|calls| batch(backend, path, tasks, calls))
                });
            }
        }
        group.finish();
    }
    let listing = std::env::args().any(|a| a == "--list" || a == "--test");
    if !listing {
        summary(&rt, &backends);
    }
    criterion.final_summary();
    drop(backends);
    drop(cleanup);
}
