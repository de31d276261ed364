//! Password login through `Auth` (memory store) side by side with a bare
//! `argon2::Argon2::verify_password` of the same PHC hash, both with the OWASP default
//! parameters (Argon2id, m=19 MiB, t=2, p=1), at 1 and 2 concurrent tasks.
//!
//! Both run the same way: `tasks` tasks on a two-worker multi-thread tokio runtime, each
//! doing its share of the iterations one after the other, every Argon2 run on tokio's
//! blocking pool (`spawn_blocking` here for the bare verification, authkit's own for the
//! login). The figure is the wall time for all tasks, so the throughput is logins (or
//! verifications) per second across the tasks.
//!
//! Run: `cargo bench -p authkit --bench password -- --warm-up-time 2 --measurement-time 8`.
#![allow(missing_docs, clippy::unwrap_used)] // bench harness code

use std::sync::Arc;
use std::time::{Duration, Instant};

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use authkit::{Auth, Config, SigningKey, Stores};
use authkit_memory::MemoryStore;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "correct horse battery staple";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An `Auth` with the default (OWASP) password parameters and one registered user, and
/// that user's stored PHC string.
fn setup(rt: &Runtime) -> (Arc<Auth>, Arc<str>) {
    let config = Config::new("https://bench.test", SigningKey::new([9u8; 32]));
    let auth = Auth::builder(Stores::from_backend(MemoryStore::new()), config)
        .build()
        .unwrap();
    let user = rt.block_on(auth.register(EMAIL, PASSWORD)).unwrap();
    let phc = user.password_hash.unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    (Arc::new(auth), phc.into())
}

/// Runs `iters` jobs split over `tasks` concurrent tasks on `rt` and returns the wall time.
fn run<F, Fut>(rt: &Runtime, tasks: u64, iters: u64, job: F) -> Duration
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let share = iters / tasks + u64::from(t < iters % tasks);
                let job = job.clone();
                tokio::spawn(async move {
                    for _ in 0..share {
                        job().await;
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

fn password(c: &mut Criterion) {
    let rt = runtime();
    let (auth, phc) = setup(&rt);
    let mut group = c.benchmark_group("password_owasp");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    for tasks in [1u64, 2] {
        group.bench_function(format!("bare_verify/{tasks} task(s)"), |b| {
            b.iter_custom(|iters| {
                let phc = phc.clone();
                run(&rt, tasks, iters, move || {
                    let phc = phc.clone();
                    async move {
                        tokio::task::spawn_blocking(move || {
                            let parsed = PasswordHash::new(&phc).unwrap();
                            Argon2::default()
                                .verify_password(PASSWORD.as_bytes(), &parsed)
                                .unwrap();
                        })
                        .await
                        .unwrap();
                    }
                })
            })
        });
        group.bench_function(format!("login/{tasks} task(s)"), |b| {
            b.iter_custom(|iters| {
                let auth = auth.clone();
                run(&rt, tasks, iters, move || {
                    let auth = auth.clone();
                    async move {
                        auth.login_password(EMAIL, PASSWORD).await.unwrap();
                    }
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, password);
criterion_main!(benches);
