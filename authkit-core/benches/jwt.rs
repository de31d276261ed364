//! Access-token verification through `Auth` against a bare `jsonwebtoken::decode` of the
//! same token with the same checks, side by side.
#![allow(missing_docs, clippy::unwrap_used)] // bench harness code

use std::hint::black_box;

use authkit::{AccessClaims, Audience, Auth, Config, SigningKey, Stores};
use authkit_memory::MemoryStore;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

const KEY: [u8; 32] = [9u8; 32];

fn verify(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let config = Config::new("https://bench.test", SigningKey::new(KEY));
    let auth = Auth::builder(Stores::from_backend(MemoryStore::new()), config)
        .build()
        .unwrap();
    let token = rt.block_on(async {
        let user = auth.create_user("bench@example.com").await.unwrap();
        auth.issue_token_pair(user.id).await.unwrap().access_token
    });
    let key = DecodingKey::from_secret(&KEY);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["https://bench.test"]);
    validation.set_audience(&["bff"]);

    let mut group = c.benchmark_group("verify_access");
    group.bench_function("bare jsonwebtoken::decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<AccessClaims>(black_box(&token), &key, &validation).unwrap()
        })
    });
    group.bench_function("Auth::verify_access", |b| {
        b.iter(|| {
            auth.verify_access(black_box(&token), Audience::Bff)
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
