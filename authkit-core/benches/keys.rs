//! ES256 and EdDSA verification through `Auth` (key ring) and through a cached `Issuer`
//! (JWKS fetched once), side by side with a bare `jsonwebtoken::decode` of the same token
//! with the same key; then throughput at 1 and 2 threads, which shows whether the hot
//! path serialises threads.
//!
//! Run: `cargo bench -p authkit --bench keys`. The 2-thread figure is the wall time
//! for each thread to do the iterations, so throughput(2) / throughput(1) =
//! 2 × time(1 thread) / time(2 threads).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // bench harness code

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use authkit::issuer::{FetchResponse, Fetcher, StandardClaims};
use authkit::{
    AccessClaims, Audience, Auth, BoxError, Config, Issuer, KeyRing, PrivateKey, SeededRandomness,
    Stores, Validator, VerifyingKey,
};
use authkit_memory::MemoryStore;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, Validation};

const ISSUER: &str = "https://bench.test";

/// Serves one JWKS document.
#[derive(Debug)]
struct Jwks(String);

#[async_trait]
impl Fetcher for Jwks {
    async fn get(&self, _url: &str) -> Result<FetchResponse, BoxError> {
        Ok(FetchResponse::new(
            200,
            Some("max-age=86400".into()),
            self.0.clone().into_bytes(),
        ))
    }
}

/// Polls a future that must complete without waiting (a cached key): no runtime in the
/// measurement.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a cached verification waited"),
    }
}

struct Case {
    name: &'static str,
    auth: Auth,
    issuer: Issuer,
    token: String,
    key: DecodingKey,
    validation: Validation,
}

fn case(name: &'static str, key: PrivateKey, rt: &tokio::runtime::Runtime) -> Case {
    let alg = match key.algorithm() {
        authkit::JwsAlgorithm::ES256 => jsonwebtoken::Algorithm::ES256,
        _ => jsonwebtoken::Algorithm::EdDSA,
    };
    let auth = Auth::builder(
        Stores::from_backend(MemoryStore::new()),
        Config::with_key_ring(ISSUER, KeyRing::new(key)),
    )
    .build()
    .unwrap();
    let token = rt.block_on(async {
        let user = auth.create_user("bench@example.com").await.unwrap();
        auth.issue_token_pair(user.id).await.unwrap().access_token
    });
    let issuer = rt.block_on(async {
        let issuer = Issuer::from_jwks_url(ISSUER, "https://bench.test/jwks")
            .fetcher(Arc::new(Jwks(auth.jwks_json().to_owned())))
            .build()
            .await
            .unwrap();
        issuer.refresh().await.unwrap();
        issuer
    });
    // The same public key, as bare jsonwebtoken would load it from the JWKS.
    let jwks: serde_json::Value = serde_json::from_str(auth.jwks_json()).unwrap();
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let key = DecodingKey::from_jwk(&jwk).unwrap();
    let _ = VerifyingKey::from_jwk_json(&jwks["keys"][0].to_string()).unwrap();
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&["bff"]);
    Case {
        name,
        auth,
        issuer,
        token,
        key,
        validation,
    }
}

fn cases() -> Vec<Case> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    vec![
        case(
            "ES256",
            PrivateKey::generate_es256(&SeededRandomness::new(1)).unwrap(),
            &rt,
        ),
        case(
            "EdDSA",
            PrivateKey::generate_ed25519(&SeededRandomness::new(2)).unwrap(),
            &rt,
        ),
    ]
}

fn side_by_side(c: &mut Criterion) {
    let validator = Validator::new("bff");
    for case in cases() {
        let mut group = c.benchmark_group(format!("verify_{}", case.name));
        group.bench_function("bare jsonwebtoken::decode", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<AccessClaims>(
                    black_box(&case.token),
                    &case.key,
                    &case.validation,
                )
                .unwrap()
            })
        });
        group.bench_function("Auth::verify_access", |b| {
            b.iter(|| {
                case.auth
                    .verify_access(black_box(&case.token), Audience::Bff)
                    .unwrap()
            })
        });
        group.bench_function("Issuer::verify (cached)", |b| {
            b.iter(|| {
                ready(
                    case.issuer
                        .verify::<StandardClaims>(black_box(&case.token), &validator),
                )
                .unwrap()
            })
        });
        group.finish();
    }
}

/// Wall time for each of `threads` threads to run `f` `iters` times.
fn parallel(threads: usize, iters: u64, f: &(dyn Fn() + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..iters {
                    f();
                }
            });
        }
    });
    start.elapsed()
}

fn threads(c: &mut Criterion) {
    let validator = Validator::new("bff");
    for case in cases() {
        let mut group = c.benchmark_group(format!("threads_{}", case.name));
        for n in [1usize, 2] {
            // The reference: bare decode shares nothing between threads, so its scaling is
            // what the machine allows.
            group.bench_function(format!("bare decode x{n}"), |b| {
                b.iter_custom(|iters| {
                    parallel(n, iters, &|| {
                        jsonwebtoken::decode::<AccessClaims>(
                            black_box(&case.token),
                            &case.key,
                            &case.validation,
                        )
                        .unwrap();
                    })
                })
            });
            group.bench_function(format!("Auth::verify_access x{n}"), |b| {
                b.iter_custom(|iters| {
                    parallel(n, iters, &|| {
                        case.auth
                            .verify_access(black_box(&case.token), Audience::Bff)
                            .unwrap();
                    })
                })
            });
            group.bench_function(format!("Issuer::verify x{n}"), |b| {
                b.iter_custom(|iters| {
                    parallel(n, iters, &|| {
                        ready(
                            case.issuer
                                .verify::<StandardClaims>(black_box(&case.token), &validator),
                        )
                        .unwrap();
                    })
                })
            });
        }
        group.finish();
    }
}

/// The machine is shared, so load drifts during a run. This measures the ratios that
/// matter in alternating short batches (bare, `Auth`, `Issuer`, bare, …) and prints the
/// median of the per-batch ratios, which drift affects far less than separate runs.
fn paired(_c: &mut Criterion) {
    const BATCH: u32 = 50;
    const ROUNDS: usize = 101;
    let validator = Validator::new("bff");
    for case in cases() {
        let time = |f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..BATCH {
                f();
            }
            start.elapsed().as_secs_f64() / f64::from(BATCH)
        };
        let bare = || {
            jsonwebtoken::decode::<AccessClaims>(
                black_box(&case.token),
                &case.key,
                &case.validation,
            )
            .unwrap();
        };
        let auth = || {
            case.auth
                .verify_access(black_box(&case.token), Audience::Bff)
                .unwrap();
        };
        let issuer = || {
            ready(
                case.issuer
                    .verify::<StandardClaims>(black_box(&case.token), &validator),
            )
            .unwrap();
        };
        let (mut r_auth, mut r_issuer, mut t_bare) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            let b = time(&bare);
            let a = time(&auth);
            let i = time(&issuer);
            let b2 = time(&bare);
            let b = (b + b2) / 2.0;
            t_bare.push(b);
            r_auth.push(a / b);
            r_issuer.push(i / b);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "paired {}: bare decode median {:.1} µs; Auth/bare {:.3}; Issuer/bare {:.3}",
            case.name,
            median(&mut t_bare) * 1e6,
            median(&mut r_auth),
            median(&mut r_issuer),
        );
    }
}

/// Throughput at 2 threads over 1, in alternating short rounds (bare x1, `Auth` x1,
/// `Issuer` x1, then the same at x2), so each round compares like with like under the
/// same outside load. Prints the median scaling of each over all rounds, and over the
/// rounds in which the machine had two free cores (bare decode, which shares nothing,
/// scaled at least 1.8x).
fn paired_threads(_c: &mut Criterion) {
    const ROUNDS: usize = 61;
    let validator = Validator::new("bff");
    for case in cases() {
        let iters = if case.name == "ES256" { 40 } else { 300 };
        let bare = || {
            jsonwebtoken::decode::<AccessClaims>(
                black_box(&case.token),
                &case.key,
                &case.validation,
            )
            .unwrap();
        };
        let auth = || {
            case.auth
                .verify_access(black_box(&case.token), Audience::Bff)
                .unwrap();
        };
        let issuer = || {
            ready(
                case.issuer
                    .verify::<StandardClaims>(black_box(&case.token), &validator),
            )
            .unwrap();
        };
        let fs: [&(dyn Fn() + Sync); 3] = [&bare, &auth, &issuer];
        let mut scaling: [Vec<f64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        for _ in 0..ROUNDS {
            let one: Vec<f64> = fs
                .iter()
                .map(|f| parallel(1, iters, *f).as_secs_f64())
                .collect();
            let two: Vec<f64> = fs
                .iter()
                .map(|f| parallel(2, iters, *f).as_secs_f64())
                .collect();
            for k in 0..3 {
                scaling[k].push(2.0 * one[k] / two[k]);
            }
        }
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        let quiet: Vec<usize> = (0..ROUNDS).filter(|&r| scaling[0][r] >= 1.8).collect();
        let pick = |k: usize| quiet.iter().map(|&r| scaling[k][r]).collect::<Vec<_>>();
        println!(
            "threads {}: x2/x1 throughput, all {ROUNDS} rounds: bare {:.2}, Auth {:.2}, Issuer {:.2}; \
             {} quiet rounds: bare {:.2}, Auth {:.2}, Issuer {:.2}",
            case.name,
            median(&scaling[0]),
            median(&scaling[1]),
            median(&scaling[2]),
            quiet.len(),
            median(&pick(0)),
            median(&pick(1)),
            median(&pick(2)),
        );
    }
}

criterion_group!(benches, paired, paired_threads, side_by_side, threads);
criterion_main!(benches);
