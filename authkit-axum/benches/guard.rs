//! What the login guard adds to a request, in process: a router with the layer, a
//! trivial route behind `Guard::login()` and its unguarded twin, called with a session
//! cookie through the router as hyper would (`Service::call` on a clone), over the
//! memory store with the session cache on (as `scripts/load.sh` runs the demo).
//!
//! `cargo bench -p authkit-axum --bench guard`: criterion's time per request of each
//! route at 1 and 16 tasks; the difference is the guard's. The load run
//! (`scripts/load.sh`) prices the same guard over HTTP, where a request costs far more.
#![allow(missing_docs, clippy::unwrap_used)] // bench harness code

use std::sync::Arc;
use std::time::{Duration, Instant};

use authkit::{Auth, Config, SigningKey, Stores};
use authkit_axum::{AuthLayer, Guard, HttpConfig};
use authkit_memory::MemoryStore;
use axum::Router;
use axum::body::Body;
use axum::handler::Handler;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use criterion::Criterion;
use tokio::runtime::Runtime;
use tower::ServiceExt;

const TASKS: [usize; 2] = [1, 16];

async fn pong() -> &'static str {
    "pong"
}

fn app(auth: Arc<Auth>) -> Router {
    Router::new()
        .route("/guarded", get(pong))
        .route_layer(Guard::login())
        .route("/handler", get(pong.layer(Guard::login())))
        .route("/open", get(pong))
        .layer(AuthLayer::new(auth, HttpConfig::default()))
}

/// The app and a session cookie for it.
fn setup(rt: &Runtime) -> (Router, String) {
    let mut config = Config::new("https://bench.test", SigningKey::new([9; 32]));
    config.session.cache_ttl = time::Duration::seconds(60);
    let auth = Auth::builder(Stores::from_backend(MemoryStore::new()), config)
        .build()
        .unwrap();
    let cookie = rt.block_on(async {
        let user = auth.create_user("bench@example.com").await.unwrap();
        let issued = auth.issue_session(user.id).await.unwrap();
        format!(
            "{}={}",
            auth.config().session.cookie.name,
            issued.secret.expose()
        )
    });
    (app(Arc::new(auth)), cookie)
}

/// `calls` requests to `path` spread over `tasks` spawned tasks; the time they took.
async fn batch(
    app: &Router,
    cookie: &str,
    path: &'static str,
    tasks: usize,
    calls: u64,
) -> Duration {
    let per_task = calls.div_ceil(tasks as u64).max(1);
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..tasks {
        let (app, cookie) = (app.clone(), cookie.to_owned());
        set.spawn(async move {
            for _ in 0..per_task {
                let request = Request::get(path)
                    .header(header::COOKIE, &cookie)
                    .body(Body::empty())
                    .unwrap();
                let response = app.clone().oneshot(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::OK, "{path}");
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    start.elapsed()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, cookie) = setup(&rt);
    let mut criterion = Criterion::default().configure_from_args().without_plots();
    let mut group = criterion.benchmark_group("guard");
    for path in ["/open", "/guarded", "/handler"] {
        for tasks in TASKS {
            group.bench_function(format!("{}/{tasks}", &path[1..]), |b| {
                b.to_async(&rt)
                    .iter_custom(|calls| batch(&app, &cookie, path, tasks, calls))
            });
        }
    }
    group.finish();
    criterion.final_summary();
}
