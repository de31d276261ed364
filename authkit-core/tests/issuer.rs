//! Foreign issuers without a network: keys in code, discovery through an in-memory
//! fetcher, the RFC 7515 A.3 token, and every check of the `Validator`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // test code

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use authkit::issuer::{
    FetchResponse, Fetcher, HasStandardClaims, StandardClaims, ValidationWarning,
};
use authkit::{BoxError, Error, Issuer, JwsAlgorithm, ManualClock, Validator, VerifyingKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use time::{Duration, OffsetDateTime};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// RFC 7515 Appendix A.3.1.
const A3_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
const A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

#[derive(serde::Deserialize)]
struct RootClaims {
    #[serde(flatten)]
    standard: StandardClaims,
    #[serde(rename = "http://example.com/is_root")]
    is_root: bool,
}

impl HasStandardClaims for RootClaims {
    fn standard(&self) -> &StandardClaims {
        &self.standard
    }
}

fn clock_at(unix: i64) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        OffsetDateTime::from_unix_timestamp(unix).unwrap(),
    ))
}

#[tokio::test]
async fn rfc7515_a3_token_through_an_issuer() {
    let clock = clock_at(1_300_819_379);
    let key = VerifyingKey::from_jwk_json(A3_JWK).unwrap();
    let joe = Issuer::from_keys("joe", vec![key])
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    // The token has no kid: the issuer's only key verifies it.
    let verified = joe
        .dangerous_verify_signature_only::<RootClaims>(A3_JWS)
        .await
        .unwrap();
    assert!(verified.claims.is_root);
    assert_eq!(verified.claims.standard.exp, Some(1_300_819_380));
    assert_eq!(verified.algorithm, JwsAlgorithm::ES256);
    // It names no audience and no subject: the full check refuses it.
    assert!(matches!(
        joe.verify::<RootClaims>(A3_JWS, &Validator::new("api"))
            .await,
        Err(Error::WrongAudience)
    ));
    // At its `exp` it has expired (RFC 7519 §4.1.4: on or after).
    clock.advance(Duration::seconds(1));
    assert!(matches!(
        joe.verify::<RootClaims>(A3_JWS, &Validator::new("api"))
            .await,
        Err(Error::TokenExpired)
    ));
    // Another issuer name: the signature is good but the issuer is not.
    let other = Issuer::from_keys("jane", vec![VerifyingKey::from_jwk_json(A3_JWK).unwrap()])
        .build()
        .await
        .unwrap();
    assert!(matches!(
        other
            .dangerous_verify_signature_only::<StandardClaims>(A3_JWS)
            .await,
        Err(Error::InvalidToken)
    ));
}

#[tokio::test]
async fn a_token_without_kid_needs_a_single_key() {
    let a3 = VerifyingKey::from_jwk_json(A3_JWK).unwrap();
    let other = VerifyingKey::es256_public_pem(&fixture("p256_public.pem")).unwrap();
    let two = Issuer::from_keys("joe", vec![a3, other])
        .clock(clock_at(1_300_819_379))
        .build()
        .await
        .unwrap();
    assert!(matches!(
        two.dangerous_verify_signature_only::<StandardClaims>(A3_JWS)
            .await,
        Err(Error::InvalidToken)
    ));
}

/// Handlers of multi-threaded servers need `Send` futures and shareable issuers.
#[tokio::test]
async fn issuer_and_its_futures_are_send_and_sync() {
    fn send<T: Send>(_: &T) {}
    fn send_sync<T: Send + Sync + Clone + 'static>(_: &T) {}
    let issuer = Issuer::from_keys("joe", vec![VerifyingKey::from_jwk_json(A3_JWK).unwrap()])
        .build()
        .await
        .unwrap();
    send_sync(&issuer);
    let validator = Validator::new("api");
    let verify = issuer.verify::<StandardClaims>(A3_JWS, &validator);
    send(&verify);
    let _ = verify.await;
    let refresh = issuer.refresh();
    send(&refresh);
    refresh.await.unwrap();
}

#[tokio::test]
async fn issuers_refuse_hmac_keys() {
    let hs = VerifyingKey::hs256(&authkit::SigningKey::new([1u8; 32])).unwrap();
    assert!(matches!(
        Issuer::from_keys("https://x", vec![hs]).build().await,
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        Issuer::from_keys("https://x", vec![]).build().await,
        Err(Error::InvalidConfig(_))
    ));
}

const ISS: &str = "https://id.example.com";
const NOW: i64 = 1_800_000_000;

struct Signer {
    issuer: Issuer,
    key: EncodingKey,
    clock: Arc<ManualClock>,
}

impl Signer {
    async fn new() -> Self {
        let clock = clock_at(NOW);
        let public = VerifyingKey::es256_public_pem(&fixture("p256_public.pem"))
            .unwrap()
            .with_kid("k1")
            .unwrap();
        let issuer = Issuer::from_keys(ISS, vec![public])
            .clock(clock.clone())
            .build()
            .await
            .unwrap();
        let key = EncodingKey::from_ec_pem(fixture("p256_pkcs8.pem").as_bytes()).unwrap();
        Signer { issuer, key, clock }
    }

    fn sign(&self, claims: serde_json::Value) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }

    async fn check(
        &self,
        claims: serde_json::Value,
        validator: &Validator,
    ) -> authkit::Result<Vec<ValidationWarning>> {
        let token = self.sign(claims);
        self.issuer
            .verify::<StandardClaims>(&token, validator)
            .await
            .map(|v| v.warnings)
    }
}

fn base() -> serde_json::Value {
    json!({"iss": ISS, "sub": "u1", "aud": "app", "exp": NOW + 300, "iat": NOW})
}

fn with(mut claims: serde_json::Value, extra: serde_json::Value) -> serde_json::Value {
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

#[tokio::test]
async fn validator_hard_errors() {
    let s = Signer::new().await;
    let v = Validator::new("app");
    assert_eq!(s.check(base(), &v).await.unwrap(), vec![]);

    let err = |r: authkit::Result<Vec<ValidationWarning>>| r.unwrap_err();
    assert!(matches!(
        err(s.check(with(base(), json!({"exp": NOW})), &v).await),
        Error::TokenExpired
    ));
    assert!(matches!(
        err(s.check(with(base(), json!({"exp": null})), &v).await),
        Error::ClaimInvalid("exp")
    ));
    assert!(matches!(
        err(s.check(with(base(), json!({"nbf": NOW + 10})), &v).await),
        Error::TokenNotYetValid
    ));
    s.check(
        with(base(), json!({"nbf": NOW + 10})),
        &Validator::new("app").leeway(Duration::seconds(10)),
    )
    .await
    .unwrap();
    assert!(matches!(
        err(s.check(with(base(), json!({"aud": "other"})), &v).await),
        Error::WrongAudience
    ));
    assert!(matches!(
        err(s.check(with(base(), json!({"aud": null})), &v).await),
        Error::WrongAudience
    ));
    s.check(
        with(base(), json!({"aud": ["other", "app"], "azp": "app"})),
        &v,
    )
    .await
    .unwrap();
    s.check(
        with(base(), json!({"aud": "other"})),
        &Validator::new("app").also_audience("other"),
    )
    .await
    .unwrap();
    assert!(matches!(
        err(s.check(with(base(), json!({"sub": null})), &v).await),
        Error::ClaimInvalid("sub")
    ));
    assert!(matches!(
        err(s.check(base(), &Validator::new("app").subject("u2")).await),
        Error::ClaimInvalid("sub")
    ));
    assert!(matches!(
        err(s
            .check(with(base(), json!({"iss": "https://evil"})), &v)
            .await),
        Error::InvalidToken
    ));
    let aged = Validator::new("app").max_token_age(Duration::seconds(60));
    s.check(base(), &aged).await.unwrap();
    assert!(matches!(
        err(s.check(with(base(), json!({"iat": NOW - 61})), &aged).await),
        Error::ClaimInvalid("iat")
    ));
    assert!(matches!(
        err(s.check(with(base(), json!({"iat": null})), &aged).await),
        Error::ClaimInvalid("iat")
    ));
    let jti = Validator::new("app").require_jwt_id();
    assert!(matches!(
        err(s.check(base(), &jti).await),
        Error::ClaimInvalid("jti")
    ));
    s.check(with(base(), json!({"jti": "x"})), &jti)
        .await
        .unwrap();
    let max_age = Validator::new("app").max_auth_age(Duration::minutes(5));
    assert!(matches!(
        err(s.check(base(), &max_age).await),
        Error::ClaimInvalid("auth_time")
    ));
    assert!(matches!(
        err(s
            .check(with(base(), json!({"auth_time": NOW - 301})), &max_age)
            .await),
        Error::ClaimInvalid("auth_time")
    ));
    s.check(with(base(), json!({"auth_time": NOW - 300})), &max_age)
        .await
        .unwrap();
    let nonce = Validator::new("app").nonce("n-0S6_WzA2Mj");
    s.check(with(base(), json!({"nonce": "n-0S6_WzA2Mj"})), &nonce)
        .await
        .unwrap();
    assert!(matches!(
        err(s
            .check(with(base(), json!({"nonce": "n-other"})), &nonce)
            .await),
        Error::ClaimInvalid("nonce")
    ));
    assert!(matches!(
        err(s.check(base(), &nonce).await),
        Error::ClaimInvalid("nonce")
    ));
    let mfa = Validator::new("app").require_amr("mfa").require_amr("hwk");
    s.check(with(base(), json!({"amr": ["pwd", "hwk", "mfa"]})), &mfa)
        .await
        .unwrap();
    assert!(matches!(
        err(s
            .check(with(base(), json!({"amr": ["pwd", "mfa"]})), &mfa)
            .await),
        Error::ClaimInvalid("amr")
    ));
    let azp = Validator::new("app").authorized_party("client-1");
    s.check(with(base(), json!({"azp": "client-1"})), &azp)
        .await
        .unwrap();
    assert!(matches!(
        err(s
            .check(with(base(), json!({"azp": "client-2"})), &azp)
            .await),
        Error::ClaimInvalid("azp")
    ));
    // Claims that do not fit the caller's type are a malformed token.
    assert!(matches!(
        err(s.check(with(base(), json!({"exp": "soon"})), &v).await),
        Error::MalformedToken
    ));
}

#[tokio::test]
async fn validator_soft_problems_are_warnings() {
    let s = Signer::new().await;
    let v = Validator::new("app");
    assert_eq!(
        s.check(with(base(), json!({"iat": NOW + 60})), &v)
            .await
            .unwrap(),
        vec![ValidationWarning::IssuedInFuture]
    );
    assert_eq!(
        s.check(with(base(), json!({"iat": null})), &v)
            .await
            .unwrap(),
        vec![ValidationWarning::MissingIssuedAt]
    );
    assert_eq!(
        s.check(with(base(), json!({"auth_time": NOW + 60})), &v)
            .await
            .unwrap(),
        vec![ValidationWarning::AuthTimeInFuture]
    );
    assert_eq!(
        s.check(with(base(), json!({"aud": ["app", "b"]})), &v)
            .await
            .unwrap(),
        vec![ValidationWarning::MultipleAudiencesWithoutAzp]
    );
    assert_eq!(
        s.check(base(), &Validator::new("app").authorized_party("c"))
            .await
            .unwrap(),
        vec![ValidationWarning::MissingAuthorizedParty]
    );
    // Fractional NumericDates are read (RFC 7519 §2).
    s.check(with(base(), json!({"exp": (NOW + 300) as f64 + 0.5})), &v)
        .await
        .unwrap();
    s.clock.advance(Duration::seconds(300));
    assert!(matches!(
        s.check(base(), &v).await,
        Err(Error::TokenExpired)
    ));
}

#[tokio::test]
async fn malformed_and_hostile_tokens() {
    let s = Signer::new().await;
    let v = Validator::new("app");
    for junk in ["", "a.b", "a.b.c", "...", "eyJhbGciOiJub25lIn0.e30."] {
        assert!(
            s.issuer.verify::<StandardClaims>(junk, &v).await.is_err(),
            "{junk:?}"
        );
    }
    let huge = "a".repeat(authkit::issuer::DEFAULT_MAX_TOKEN_BYTES + 1);
    assert!(matches!(
        s.issuer.verify::<StandardClaims>(&huge, &v).await,
        Err(Error::MalformedToken)
    ));
    // The right kid but the header's algorithm is not the key's.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let pem = fixture("p256_public.pem");
    let forged =
        jsonwebtoken::encode(&header, &base(), &EncodingKey::from_secret(pem.as_bytes())).unwrap();
    assert!(matches!(
        s.issuer.verify::<StandardClaims>(&forged, &v).await,
        Err(Error::InvalidToken)
    ));
    // An unknown kid with fixed keys: refused at once, nothing to fetch.
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("k2".into());
    let token = jsonwebtoken::encode(&header, &base(), &s.key).unwrap();
    assert!(matches!(
        s.issuer.verify::<StandardClaims>(&token, &v).await,
        Err(Error::InvalidToken)
    ));
}

/// Serves fixed documents by URL and counts requests.
#[derive(Debug, Default)]
struct MapFetcher {
    docs: Mutex<HashMap<String, (u16, String)>>,
    hits: Mutex<Vec<String>>,
}

impl MapFetcher {
    fn serve(&self, url: &str, status: u16, body: serde_json::Value) {
        self.docs
            .lock()
            .unwrap()
            .insert(url.into(), (status, body.to_string()));
    }
}

#[async_trait]
impl Fetcher for MapFetcher {
    async fn get(&self, url: &str) -> Result<FetchResponse, BoxError> {
        self.hits.lock().unwrap().push(url.into());
        let docs = self.docs.lock().unwrap();
        let (status, body) = docs.get(url).cloned().unwrap_or((404, String::new()));
        Ok(FetchResponse::new(status, None, body.into_bytes()))
    }
}

fn a3_jwks() -> serde_json::Value {
    let mut jwk: serde_json::Value = serde_json::from_str(A3_JWK).unwrap();
    jwk["kid"] = json!("a3");
    json!({ "keys": [jwk] })
}

#[tokio::test]
async fn openid_discovery_and_rfc8414_metadata() {
    let f = Arc::new(MapFetcher::default());
    f.serve(
        "https://op.example.com/t1/.well-known/openid-configuration",
        200,
        json!({"issuer": "https://op.example.com/t1", "jwks_uri": "https://op.example.com/t1/jwks"}),
    );
    f.serve("https://op.example.com/t1/jwks", 200, a3_jwks());
    let op = Issuer::from_openid_discovery("https://op.example.com/t1")
        .fetcher(f.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(op.jwks_uri(), Some("https://op.example.com/t1/jwks"));
    op.refresh().await.unwrap();

    f.serve(
        "https://as.example.com/.well-known/oauth-authorization-server/t1",
        200,
        json!({"issuer": "https://as.example.com/t1", "jwks_uri": "https://as.example.com/keys"}),
    );
    let asm = Issuer::from_oauth_metadata("https://as.example.com/t1")
        .fetcher(f.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(asm.jwks_uri(), Some("https://as.example.com/keys"));

    // A document that speaks for another issuer is refused, even by one character.
    f.serve(
        "https://op.example.com/.well-known/openid-configuration",
        200,
        json!({"issuer": "https://op.example.com/", "jwks_uri": "https://op.example.com/jwks"}),
    );
    assert!(matches!(
        Issuer::from_openid_discovery("https://op.example.com")
            .fetcher(f.clone())
            .build()
            .await,
        Err(Error::IssuerMismatch { .. })
    ));
    // No document: unavailable. Not https: refused before any fetch.
    assert!(matches!(
        Issuer::from_openid_discovery("https://none.example.com")
            .fetcher(f.clone())
            .build()
            .await,
        Err(Error::IssuerUnavailable(_))
    ));
    let before = f.hits.lock().unwrap().len();
    assert!(matches!(
        Issuer::from_openid_discovery("http://op.example.com")
            .fetcher(f.clone())
            .build()
            .await,
        Err(Error::IssuerDocumentInvalid(_))
    ));
    assert!(matches!(
        Issuer::from_jwks_url("x", "http://op.example.com/jwks")
            .fetcher(f.clone())
            .build()
            .await,
        Err(Error::IssuerDocumentInvalid(_))
    ));
    assert_eq!(f.hits.lock().unwrap().len(), before);
}
