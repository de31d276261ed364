//! Session authentication on the memory store at 1 and 2 threads: if the store
//! serialized on one lock, two threads would not beat one.
#![allow(missing_docs, clippy::unwrap_used)] // bench harness code

use std::sync::Arc;
use std::time::{Duration, Instant};

use authkit::{Auth, Config, Secret, SigningKey, Stores};
use authkit_memory::MemoryStore;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SESSIONS: usize = 1024;

fn setup() -> (Arc<Auth>, Arc<Vec<Secret>>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = Config::new("https://bench.test", SigningKey::new([9u8; 32]));
    let auth = Auth::builder(Stores::from_backend(MemoryStore::new()), config)
        .build()
        .unwrap();
    let secrets = rt.block_on(async {
        let user = auth.create_user("bench@example.com").await.unwrap();
        let mut secrets = Vec::with_capacity(SESSIONS);
        for _ in 0..SESSIONS {
            secrets.push(auth.issue_session(user.id).await.unwrap().secret);
        }
        secrets
    });
    (Arc::new(auth), Arc::new(secrets))
}

/// Runs `iters` authentications split over `threads` OS threads, each with its own
/// current-thread runtime, and returns the wall time.
fn run(auth: &Arc<Auth>, secrets: &Arc<Vec<Secret>>, threads: usize, iters: u64) -> Duration {
    let per_thread = iters / threads as u64;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads {
            let (auth, secrets) = (auth.clone(), secrets.clone());
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    for i in 0..per_thread as usize {
                        let secret = &secrets[(i * threads + t) % SESSIONS];
                        auth.authenticate_session(secret.expose()).await.unwrap();
                    }
                })
            });
        }
    });
    start.elapsed()
}

fn authenticate(c: &mut Criterion) {
    let (auth, secrets) = setup();
    let mut group = c.benchmark_group("authenticate_session_memory");
    group.throughput(Throughput::Elements(1));
    for threads in [1, 2] {
        group.bench_function(format!("{threads} thread(s)"), |b| {
            b.iter_custom(|iters| run(&auth, &secrets, threads, iters.max(threads as u64)))
        });
    }
    group.finish();
}

criterion_group!(benches, authenticate);
criterion_main!(benches);
