//! Access tokens through key rings: ES256, EdDSA and RS256 signing, rotation with no
//! failed verification, kid-less tokens from before key rings, the published JWKS and
//! discovery document, and the attacks that pick the algorithm from the header.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)] // test code

use std::sync::Arc;

use authkit::issuer::StandardClaims;
use authkit::{
    AccessClaims, Audience, Auth, Config, Error, Issuer, KeyRing, ManualClock, PrivateKey,
    SeededRandomness, SigningKey, Stores, Validator, VerifyingKey,
};
use authkit_memory::MemoryStore;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use time::OffsetDateTime;

const ISSUER: &str = "https://auth.test";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn auth(config: Config) -> Auth {
    Auth::builder(Stores::from_backend(MemoryStore::new()), config)
        .build()
        .unwrap()
}

async fn token(auth: &Auth) -> String {
    let user = auth.create_user("ring@example.com").await.unwrap();
    auth.issue_token_pair(user.id).await.unwrap().access_token
}

fn es256(seed: u64) -> PrivateKey {
    PrivateKey::generate_es256(&SeededRandomness::new(seed)).unwrap()
}

fn ed25519(seed: u64) -> PrivateKey {
    PrivateKey::generate_ed25519(&SeededRandomness::new(seed)).unwrap()
}

fn rs256() -> PrivateKey {
    PrivateKey::rs256_pem(&fixture("rsa2048_pkcs1.pem")).unwrap()
}

/// The claims `auth` would put in an access token, for crafting tokens by hand.
fn claims_now(audience: &str) -> AccessClaims {
    let now = OffsetDateTime::now_utc().unix_timestamp();
    AccessClaims {
        sub: authkit::UserId::new(),
        iat: now,
        exp: now + 600,
        iss: ISSUER.into(),
        aud: audience.into(),
        jti: "j".into(),
        scope: None,
    }
}

fn b64_json(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn config_new_keeps_hs256_and_publishes_no_key() {
    let auth = auth(Config::new(ISSUER, SigningKey::new([7u8; 32])));
    let token = token(&auth).await;
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::HS256);
    let expected = PrivateKey::hs256(&SigningKey::new([7u8; 32])).unwrap();
    assert_eq!(header.kid.as_deref(), Some(expected.kid()));
    auth.verify_access(&token, Audience::Bff).unwrap();
    assert_eq!(auth.jwks_json(), r#"{"keys":[]}"#);
}

#[tokio::test]
async fn kidless_hs256_tokens_from_before_key_rings_still_verify() {
    let key = [7u8; 32];
    let auth = auth(Config::new(ISSUER, SigningKey::new(key)));
    let legacy = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims_now("bff"),
        &EncodingKey::from_secret(&key),
    )
    .unwrap();
    auth.verify_access(&legacy, Audience::Bff).unwrap();
    // And after moving to ES256 with the old secret kept for verification.
    let ring = KeyRing::new(es256(1))
        .with_verifying_key(PrivateKey::hs256(&SigningKey::new(key)).unwrap());
    let migrated = self::auth(Config::with_key_ring(ISSUER, ring));
    migrated.verify_access(&legacy, Audience::Bff).unwrap();
    let fresh = token(&migrated).await;
    assert_eq!(
        jsonwebtoken::decode_header(&fresh).unwrap().alg,
        Algorithm::ES256
    );
    migrated.verify_access(&fresh, Audience::Bff).unwrap();
}

#[tokio::test]
async fn es256_eddsa_rs256_sign_verify_and_publish() {
    for (key, alg) in [
        (es256(2), Algorithm::ES256),
        (ed25519(2), Algorithm::EdDSA),
        (rs256(), Algorithm::RS256),
    ] {
        let kid = key.kid().to_owned();
        let auth = auth(Config::with_key_ring(ISSUER, KeyRing::new(key)));
        let token = token(&auth).await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(
            (header.alg, header.kid.as_deref()),
            (alg, Some(kid.as_str()))
        );
        let claims = auth.verify_access(&token, Audience::Bff).unwrap();
        assert!(matches!(
            auth.verify_access(&token, Audience::Api),
            Err(Error::WrongAudience)
        ));

        // Another service verifies with the published JWKS alone.
        let jwks: serde_json::Value = serde_json::from_str(auth.jwks_json()).unwrap();
        let keys: Vec<VerifyingKey> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| VerifyingKey::from_jwk_json(&k.to_string()).unwrap())
            .collect();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid(), kid);
        let issuer = Issuer::from_keys(ISSUER, keys).build().await.unwrap();
        let verified = issuer
            .verify::<StandardClaims>(&token, &Validator::new("bff"))
            .await
            .unwrap();
        assert_eq!(
            verified.claims.sub.as_deref(),
            Some(claims.sub.to_string().as_str())
        );
        assert_eq!(&*verified.kid, kid);
        assert!(verified.warnings.is_empty(), "{:?}", verified.warnings);
    }
}

#[tokio::test]
async fn rotation_never_fails_a_verification() {
    let (old, new) = (es256(10), ed25519(11));
    // 1. Every instance learns the next key before it signs.
    let before = auth(Config::with_key_ring(
        ISSUER,
        KeyRing::new(old.clone()).with_verifying_key(&new),
    ));
    // 2. The next key signs; the old one still verifies.
    let during = auth(Config::with_key_ring(
        ISSUER,
        KeyRing::new(new.clone()).with_verifying_key(&old),
    ));
    // 3. The old key is gone.
    let after = auth(Config::with_key_ring(ISSUER, KeyRing::new(new)));

    let t_before = token(&before).await;
    let t_during = token(&during).await;
    for auth in [&before, &during] {
        auth.verify_access(&t_before, Audience::Bff).unwrap();
        auth.verify_access(&t_during, Audience::Bff).unwrap();
    }
    after.verify_access(&t_during, Audience::Bff).unwrap();
    assert!(matches!(
        after.verify_access(&t_before, Audience::Bff),
        Err(Error::InvalidToken)
    ));
    // Both keys are published during the overlap.
    let jwks: serde_json::Value = serde_json::from_str(during.jwks_json()).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_header_never_chooses_the_algorithm() {
    let key = es256(20);
    let kid = key.kid().to_owned();
    let auth = auth(Config::with_key_ring(ISSUER, KeyRing::new(key)));
    let jwk: serde_json::Value = serde_json::from_str(auth.jwks_json()).unwrap();
    let jwk = &jwk["keys"][0];

    // HS256 "signed" with the public key as the secret, in several encodings (the
    // classic algorithm-confusion attack): refused.
    let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
    let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&x);
    sec1.extend_from_slice(&y);
    for secret in [
        sec1,
        jwk.to_string().into_bytes(),
        fixture("p256_public.pem").into_bytes(),
    ] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        let forged = jsonwebtoken::encode(
            &header,
            &claims_now("bff"),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert!(matches!(
            auth.verify_access(&forged, Audience::Bff),
            Err(Error::InvalidToken)
        ));
    }

    // `alg: none` with an empty signature: refused.
    let none_header = serde_json::json!({"alg": "none", "kid": kid});
    let body = serde_json::to_value(claims_now("bff")).unwrap();
    let unsigned = format!("{}.{}.", b64_json(&none_header), b64_json(&body));
    assert!(auth.verify_access(&unsigned, Audience::Bff).is_err());

    // A real token whose header is rewritten to another algorithm: refused.
    let token = token(&auth).await;
    let (_, rest) = token.split_once('.').unwrap();
    let es384 = serde_json::json!({"alg": "ES384", "kid": kid, "typ": "JWT"});
    let relabelled = format!("{}.{rest}", b64_json(&es384));
    assert!(matches!(
        auth.verify_access(&relabelled, Audience::Bff),
        Err(Error::InvalidToken)
    ));

    // A `crit` header naming an extension nobody understands: refused (RFC 7515 §4.1.11).
    let crit = serde_json::json!({"alg": "ES256", "kid": kid, "crit": ["exp"], "exp": 1});
    let critical = format!("{}.{rest}", b64_json(&crit));
    assert!(matches!(
        auth.verify_access(&critical, Audience::Bff),
        Err(Error::InvalidToken)
    ));

    // An unknown kid: refused.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("nobody".into());
    let unknown = jsonwebtoken::encode(
        &header,
        &claims_now("bff"),
        &EncodingKey::from_secret(&[1; 32]),
    )
    .unwrap();
    assert!(matches!(
        auth.verify_access(&unknown, Audience::Bff),
        Err(Error::InvalidToken)
    ));
}

#[tokio::test]
async fn hs256_key_never_verifies_an_asymmetric_kid() {
    // An HS256 ring whose secret equals the bytes of a public key still verifies HS256
    // only: an ES256 token under that kid is refused.
    let es = es256(30);
    let secret = SigningKey::new(vec![9u8; 65]);
    let hs = PrivateKey::hs256(&secret)
        .unwrap()
        .with_kid(es.kid())
        .unwrap();
    let hs_auth = auth(Config::with_key_ring(ISSUER, KeyRing::new(hs)));
    let es_auth = auth(Config::with_key_ring(ISSUER, KeyRing::new(es)));
    let es_token = token(&es_auth).await;
    assert!(matches!(
        hs_auth.verify_access(&es_token, Audience::Bff),
        Err(Error::InvalidToken)
    ));
}

#[test]
fn ring_configuration_errors_fail_construction() {
    let mut config = Config::with_key_ring(ISSUER, KeyRing::new(es256(40)));
    config.tokens.signing_key = SigningKey::new([1u8; 32]);
    let built = Auth::builder(Stores::from_backend(MemoryStore::new()), config).build();
    assert!(matches!(built, Err(Error::InvalidConfig(_))));

    let key = es256(41);
    let config = Config::with_key_ring(ISSUER, KeyRing::new(key.clone()).with_verifying_key(&key));
    let built = Auth::builder(Stores::from_backend(MemoryStore::new()), config).build();
    assert!(matches!(built, Err(Error::InvalidConfig(_))));

    let config = Config::new(ISSUER, SigningKey::new([1u8; 31]));
    let built = Auth::builder(Stores::from_backend(MemoryStore::new()), config).build();
    assert!(matches!(built, Err(Error::InvalidConfig(_))));
}

#[tokio::test]
async fn discovery_document_names_issuer_jwks_and_algorithms() {
    let ring = KeyRing::new(ed25519(50)).with_verifying_key(es256(51));
    let auth = auth(Config::with_key_ring(ISSUER, ring));
    let doc: serde_json::Value =
        serde_json::from_str(&auth.openid_configuration_json("https://auth.test/jwks")).unwrap();
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(doc["jwks_uri"], "https://auth.test/jwks");
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["EdDSA", "ES256"])
    );
}

#[tokio::test]
async fn expiry_is_checked_against_the_injected_clock() {
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let auth = Auth::builder(
        Stores::from_backend(MemoryStore::new()),
        Config::with_key_ring(ISSUER, KeyRing::new(ed25519(60))),
    )
    .clock(clock.clone())
    .build()
    .unwrap();
    let token = token(&auth).await;
    auth.verify_access(&token, Audience::Bff).unwrap();
    clock.advance(time::Duration::minutes(15));
    assert!(matches!(
        auth.verify_access(&token, Audience::Bff),
        Err(Error::TokenExpired)
    ));
}
