//! The issuer key cache against a loopback HTTP server (127.0.0.1 only) that serves
//! discovery and JWKS documents which rotate, fail, and carry unknown and malformed keys.
//! Every cache rule is asserted by counting the requests the server saw; time is a
//! `ManualClock`, never a sleep (the one delay below only holds a fetch open so that
//! requests pile up behind it).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // test code

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use authkit::issuer::{CachePolicy, HttpFetcher, StandardClaims};
use authkit::{Error, Issuer, ManualClock, PrivateKey, Validator};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const NOW: i64 = 1_800_000_000;

#[derive(Clone)]
struct Response {
    status: u16,
    cache_control: Option<String>,
    body: String,
    delay: std::time::Duration,
    /// When set, the response waits until the test opens the gate.
    gate: Option<Arc<tokio::sync::Notify>>,
}

fn ok(body: serde_json::Value, cache_control: Option<&str>) -> Response {
    Response {
        status: 200,
        cache_control: cache_control.map(str::to_owned),
        body: body.to_string(),
        delay: std::time::Duration::ZERO,
        gate: None,
    }
}

fn status(status: u16) -> Response {
    Response {
        status,
        cache_control: None,
        body: "{}".into(),
        delay: std::time::Duration::ZERO,
        gate: None,
    }
}

#[derive(Default)]
struct Routes {
    responses: HashMap<String, Response>,
    hits: HashMap<String, usize>,
}

/// A minimal HTTP/1.1 server on 127.0.0.1: one request per connection, answered from
/// `routes`, every request counted. It stops with the test's runtime.
struct Server {
    addr: SocketAddr,
    routes: Arc<Mutex<Routes>>,
}

impl Server {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes = Arc::new(Mutex::new(Routes::default()));
        let shared = routes.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let routes = shared.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&buf);
                    let path = request.split(' ').nth(1).unwrap_or("/").to_owned();
                    let response = {
                        let mut r = routes.lock().unwrap();
                        *r.hits.entry(path.clone()).or_default() += 1;
                        r.responses
                            .get(&path)
                            .cloned()
                            .unwrap_or_else(|| status(404))
                    };
                    if let Some(gate) = &response.gate {
                        gate.notified().await;
                    }
                    if !response.delay.is_zero() {
                        tokio::time::sleep(response.delay).await;
                    }
                    let mut head = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
                        response.status,
                        response.body.len()
                    );
                    if let Some(cc) = &response.cache_control {
                        head.push_str(&format!("Cache-Control: {cc}\r\n"));
                    }
                    head.push_str("\r\n");
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(response.body.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Server { addr, routes }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn serve(&self, path: &str, response: Response) {
        self.routes
            .lock()
            .unwrap()
            .responses
            .insert(path.into(), response);
    }

    fn hits(&self, path: &str) -> usize {
        self.routes
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}

/// A P-256 key: its public JWK (with `kid`) and an encoding key to sign tokens.
struct Key {
    jwk: serde_json::Value,
    encoding: EncodingKey,
}

fn key(seed: u8, kid: &str) -> Key {
    use p256::pkcs8::EncodePrivateKey;
    let scalar = [seed; 32];
    let public = PrivateKey::es256_from_scalar(&scalar)
        .unwrap()
        .with_kid(kid)
        .unwrap()
        .verifying_key();
    let jwk: serde_json::Value = serde_json::from_str(&public.public_jwk_json().unwrap()).unwrap();
    let der = p256::SecretKey::from_slice(&scalar)
        .unwrap()
        .to_pkcs8_der()
        .unwrap();
    Key {
        jwk,
        encoding: EncodingKey::from_ec_der(der.as_bytes()),
    }
}

fn jwks(keys: &[&Key]) -> serde_json::Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

struct Setup {
    server: Server,
    issuer: Issuer,
    clock: Arc<ManualClock>,
}

impl Setup {
    async fn with_jwks(body: serde_json::Value, cache_control: Option<&str>) -> Self {
        let server = Server::start().await;
        let issuer_url = server.issuer();
        server.serve(
            "/.well-known/openid-configuration",
            ok(
                json!({"issuer": issuer_url, "jwks_uri": server.url("/jwks")}),
                None,
            ),
        );
        server.serve("/jwks", ok(body, cache_control));
        let clock = Arc::new(ManualClock::new(
            OffsetDateTime::from_unix_timestamp(NOW).unwrap(),
        ));
        let mut policy = CachePolicy::default();
        policy.max_staleness = Duration::hours(1);
        let issuer = Issuer::from_openid_discovery(issuer_url)
            .fetcher(Arc::new(HttpFetcher::new().unwrap()))
            .allow_loopback_http()
            .clock(clock.clone())
            .cache_policy(policy)
            .build()
            .await
            .unwrap();
        Setup {
            server,
            issuer,
            clock,
        }
    }

    fn token(&self, key: &Key, kid: &str) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.into());
        let claims = json!({
            "iss": self.server.issuer(), "sub": "u", "aud": "app",
            "iat": NOW, "exp": NOW + 30 * 86_400,
        });
        jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
    }

    async fn verify(&self, token: &str) -> authkit::Result<()> {
        self.issuer
            .verify::<StandardClaims>(token, &Validator::new("app"))
            .await
            .map(|_| ())
    }

    fn advance(&self, secs: i64) {
        self.clock.advance(Duration::seconds(secs));
    }

    fn jwks_hits(&self) -> usize {
        self.server.hits("/jwks")
    }
}

#[tokio::test]
async fn discovery_once_and_keys_cached_by_kid() {
    let a = key(1, "a");
    let s = Setup::with_jwks(jwks(&[&a]), Some("public, max-age=600")).await;
    assert_eq!(s.server.hits("/.well-known/openid-configuration"), 1);
    assert_eq!(s.jwks_hits(), 0, "keys are fetched on first use");
    let token = s.token(&a, "a");
    for _ in 0..20 {
        s.verify(&token).await.unwrap();
    }
    assert_eq!(s.jwks_hits(), 1);
    s.advance(599);
    s.verify(&token).await.unwrap();
    assert_eq!(s.jwks_hits(), 1, "still within max-age");
    s.advance(1);
    s.verify(&token).await.unwrap();
    assert_eq!(s.jwks_hits(), 2, "max-age elapsed: refetched");
}

#[tokio::test]
async fn rotation_and_a_flood_of_forged_kids() {
    let (a, b) = (key(1, "a"), key(2, "b"));
    let s = Setup::with_jwks(jwks(&[&a]), Some("max-age=3600")).await;
    s.verify(&s.token(&a, "a")).await.unwrap();
    assert_eq!(s.jwks_hits(), 1);

    // The provider rotates: b appears. Within the minimum interval of the last fetch an
    // unknown kid fetches nothing and is refused.
    s.server
        .serve("/jwks", ok(jwks(&[&a, &b]), Some("max-age=3600")));
    let token_b = s.token(&b, "b");
    assert!(matches!(s.verify(&token_b).await, Err(Error::InvalidToken)));
    assert_eq!(s.jwks_hits(), 1);
    // After it, the unknown kid triggers one refetch and verifies.
    s.advance(30);
    s.verify(&token_b).await.unwrap();
    assert_eq!(s.jwks_hits(), 2);
    s.verify(&token_b).await.unwrap();
    s.verify(&s.token(&a, "a")).await.unwrap();
    assert_eq!(s.jwks_hits(), 2);

    // A flood of forged kids costs the provider at most one request per interval.
    for i in 0..200 {
        let forged = s.token(&b, &format!("forged-{i}"));
        assert!(matches!(s.verify(&forged).await, Err(Error::InvalidToken)));
        if i % 50 == 49 {
            s.advance(10);
        }
    }
    // 40 s passed in the flood: one more fetch at most (at the 30 s mark).
    assert_eq!(s.jwks_hits(), 3);
    // Known keys never waited for any of it.
    s.verify(&token_b).await.unwrap();

    // The provider drops a: once the cache learns it, a's tokens are refused.
    s.server
        .serve("/jwks", ok(jwks(&[&b]), Some("max-age=3600")));
    s.advance(3600);
    assert!(matches!(
        s.verify(&s.token(&a, "a")).await,
        Err(Error::InvalidToken)
    ));
    assert_eq!(s.jwks_hits(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_kids_share_one_refetch() {
    let (a, b) = (key(1, "a"), key(2, "b"));
    let s = Arc::new(Setup::with_jwks(jwks(&[&a]), Some("max-age=3600")).await);
    s.verify(&s.token(&a, "a")).await.unwrap();
    let mut slow = ok(jwks(&[&a, &b]), Some("max-age=3600"));
    slow.delay = std::time::Duration::from_millis(200);
    s.server.serve("/jwks", slow);
    s.advance(60);
    let token_b = s.token(&b, "b");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (s, token) = (s.clone(), token_b.clone());
        tasks.spawn(async move { s.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(s.jwks_hits(), 2, "32 waiting requests, one refetch");
}

/// While a refetch hangs (the server holds it at a gate), verifications with a known
/// `kid` go on: fresh keys never touch the refetch lock, and stale ones are served by
/// every request but the one refreshing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_kids_never_wait_for_a_refetch_in_flight() {
    let hang_guard = std::time::Duration::from_secs(20); // a deadlock fails, never a race
    let (a, b) = (key(1, "a"), key(2, "b"));
    let s = Arc::new(Setup::with_jwks(jwks(&[&a]), Some("max-age=600")).await);
    let token_a = s.token(&a, "a");
    s.verify(&token_a).await.unwrap();

    let gate = Arc::new(tokio::sync::Notify::new());
    let mut held = ok(jwks(&[&a, &b]), Some("max-age=600"));
    held.gate = Some(gate.clone());
    s.server.serve("/jwks", held);
    s.advance(60);
    // An unknown kid starts a refetch, which the server holds.
    let pending = {
        let (s, token) = (s.clone(), s.token(&b, "b"));
        tokio::spawn(async move { s.verify(&token).await })
    };
    while s.jwks_hits() < 2 {
        tokio::task::yield_now().await;
    }
    // Known and fresh: answered while the refetch is held.
    tokio::time::timeout(hang_guard, s.verify(&token_a))
        .await
        .expect("a fresh known kid waited for the refetch")
        .unwrap();
    gate.notify_one();
    pending.await.unwrap().unwrap();
    assert_eq!(s.jwks_hits(), 2);

    // Past the lifetime: the first request refreshes (held again), the others are served
    // the known key at once.
    let gate = Arc::new(tokio::sync::Notify::new());
    let mut held = ok(jwks(&[&a, &b]), Some("max-age=600"));
    held.gate = Some(gate.clone());
    s.server.serve("/jwks", held);
    s.advance(600);
    let refreshing = {
        let (s, token) = (s.clone(), token_a.clone());
        tokio::spawn(async move { s.verify(&token).await })
    };
    while s.jwks_hits() < 3 {
        tokio::task::yield_now().await;
    }
    tokio::time::timeout(hang_guard, s.verify(&token_a))
        .await
        .expect("a stale known kid waited for the refetch")
        .unwrap();
    gate.notify_one();
    refreshing.await.unwrap().unwrap();
    assert_eq!(s.jwks_hits(), 3);
}

#[tokio::test]
async fn lifetime_comes_from_cache_control_clamped() {
    let a = key(1, "a");
    let token = |s: &Setup| s.token(&a, "a");
    // (Cache-Control, lifetime in seconds it must yield)
    let cases = [
        (Some("max-age=120"), 120),
        (Some("max-age=5"), 60),               // clamped up to min_ttl
        (Some("max-age=9999999"), 86_400),     // clamped down to max_ttl
        (None, 600),                           // default
        (Some("no-cache, max-age=9999"), 600), // no-cache: default
    ];
    for (cache_control, lifetime) in cases {
        let s = Setup::with_jwks(jwks(&[&a]), cache_control).await;
        s.verify(&token(&s)).await.unwrap();
        s.advance(lifetime - 1);
        s.verify(&token(&s)).await.unwrap();
        assert_eq!(
            s.jwks_hits(),
            1,
            "{cache_control:?}: fresh at {}",
            lifetime - 1
        );
        s.advance(1);
        s.verify(&token(&s)).await.unwrap();
        assert_eq!(s.jwks_hits(), 2, "{cache_control:?}: stale at {lifetime}");
    }
}

#[tokio::test]
async fn failed_refetches_serve_known_keys_until_max_staleness_then_fail_closed() {
    let a = key(1, "a");
    let s = Setup::with_jwks(jwks(&[&a]), Some("max-age=600")).await;
    let token = s.token(&a, "a");
    s.verify(&token).await.unwrap();

    s.server.serve("/jwks", status(503));
    s.advance(600);
    s.verify(&token).await.unwrap(); // stale: refetch fails, the known key serves
    assert_eq!(s.jwks_hits(), 2);
    s.advance(10);
    s.verify(&token).await.unwrap(); // within the interval: no new attempt
    assert_eq!(s.jwks_hits(), 2);
    // Malformed and keyless documents count as failures too.
    s.server.serve("/jwks", ok(json!("not a jwks"), None));
    s.advance(30);
    s.verify(&token).await.unwrap();
    s.server.serve("/jwks", ok(json!({"keys": []}), None));
    s.advance(30);
    s.verify(&token).await.unwrap();
    assert_eq!(s.jwks_hits(), 4);

    // max_staleness (1 h) past the lifetime: fail closed.
    s.server.serve("/jwks", status(500));
    s.advance(3600 - 70);
    assert!(matches!(
        s.verify(&token).await,
        Err(Error::IssuerUnavailable(_))
    ));
    // The provider is back: the next attempt (after the interval) recovers.
    s.server
        .serve("/jwks", ok(jwks(&[&a]), Some("max-age=600")));
    assert!(s.verify(&token).await.is_err(), "throttled: no attempt yet");
    s.advance(30);
    s.verify(&token).await.unwrap();
}

#[tokio::test]
async fn unknown_malformed_and_other_use_keys_are_ignored() {
    let (a, enc, ops) = (key(1, "a"), key(3, "enc"), key(4, "ops"));
    let mut enc_jwk = enc.jwk.clone();
    enc_jwk["use"] = json!("enc");
    let mut ops_jwk = ops.jwk.clone();
    ops_jwk.as_object_mut().unwrap().remove("use");
    ops_jwk["key_ops"] = json!(["encrypt"]);
    let doc = json!({"keys": [
        {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA", "kid": "bad"},
        {"kty": "AKP", "alg": "ML-DSA-44", "pub": "AAAA", "kid": "pq"},
        "junk",
        enc_jwk,
        ops_jwk,
        a.jwk,
    ]});
    let s = Setup::with_jwks(doc, Some("max-age=600")).await;
    s.verify(&s.token(&a, "a")).await.unwrap();
    s.advance(30);
    assert!(matches!(
        s.verify(&s.token(&enc, "enc")).await,
        Err(Error::InvalidToken)
    ));
    s.advance(30);
    assert!(matches!(
        s.verify(&s.token(&ops, "ops")).await,
        Err(Error::InvalidToken)
    ));
    // An HS256 token under the oct key's kid, signed with its `k`: refused.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hmac".into());
    let claims = json!({"iss": s.server.issuer(), "sub": "u", "aud": "app", "exp": NOW + 60});
    let hs = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(b"secret")).unwrap();
    s.advance(30);
    assert!(matches!(s.verify(&hs).await, Err(Error::InvalidToken)));
}

#[tokio::test]
async fn discovery_over_http_checks_the_issuer_and_the_body_size() {
    let server = Server::start().await;
    // The document names the issuer with a trailing slash: not ours.
    server.serve(
        "/.well-known/openid-configuration",
        ok(
            json!({"issuer": format!("{}/", server.issuer()), "jwks_uri": server.url("/jwks")}),
            None,
        ),
    );
    let built = Issuer::from_openid_discovery(server.issuer())
        .fetcher(Arc::new(HttpFetcher::new().unwrap()))
        .allow_loopback_http()
        .build()
        .await;
    assert!(
        matches!(built, Err(Error::IssuerMismatch { .. })),
        "{built:?}"
    );
    // Without allow_loopback_http, plain http is refused before any request.
    let before = server.hits("/.well-known/openid-configuration");
    let built = Issuer::from_openid_discovery(server.issuer())
        .fetcher(Arc::new(HttpFetcher::new().unwrap()))
        .build()
        .await;
    assert!(matches!(built, Err(Error::IssuerDocumentInvalid(_))));
    assert_eq!(server.hits("/.well-known/openid-configuration"), before);
    // A body over the limit is refused.
    let big = "x".repeat(authkit::issuer::MAX_DOCUMENT_BYTES + 1);
    server.serve("/big", ok(json!({ "keys": [], "pad": big }), None));
    let issuer = Issuer::from_jwks_url(server.issuer(), server.url("/big"))
        .fetcher(Arc::new(HttpFetcher::new().unwrap()))
        .allow_loopback_http()
        .build()
        .await
        .unwrap();
    assert!(matches!(
        issuer.refresh().await,
        Err(Error::IssuerUnavailable(_))
    ));
    // RFC 8414 metadata over HTTP.
    server.serve(
        "/.well-known/oauth-authorization-server/tenant",
        ok(
            json!({"issuer": format!("{}/tenant", server.issuer()), "jwks_uri": server.url("/jwks")}),
            None,
        ),
    );
    // (With the `http` feature and no fetcher given, the default HttpFetcher is used.)
    let issuer = Issuer::from_oauth_metadata(format!("{}/tenant", server.issuer()))
        .allow_loopback_http()
        .build()
        .await
        .unwrap();
    assert_eq!(issuer.jwks_uri(), Some(server.url("/jwks").as_str()));
}
