//! Key tests, with the vectors of RFC 7515 A.3, RFC 8037 A and RFC 7638 §3.1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::*;
use crate::clock::SeededRandomness;

/// RFC 7515 Appendix A.3.1: the ECDSA P-256 key.
pub(crate) const A3_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
pub(crate) const A3_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
/// RFC 7515 Appendix A.3.1: the JWS (header `{"alg":"ES256"}`, the A.1 claims).
pub(crate) const A3_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";

/// RFC 8037 Appendix A.1: the Ed25519 key.
const ED_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// RFC 8037 Appendix A.3: its thumbprint.
const ED_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
/// RFC 8037 Appendix A.4: signing input and signature of "Example of Ed25519 signing".
const ED_INPUT: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
const ED_SIG: &str =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/// RFC 7638 §3.1: the RSA key and its thumbprint.
pub(crate) const RFC7638_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn rfc7638_thumbprint_of_the_rsa_example() {
    let json = format!(r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","alg":"RS256"}}"#);
    let key = VerifyingKey::from_jwk_json(&json).unwrap();
    assert_eq!(key.thumbprint(), RFC7638_THUMBPRINT);
    assert_eq!(
        key.kid(),
        RFC7638_THUMBPRINT,
        "kid defaults to the thumbprint"
    );
    assert_eq!(key.algorithm(), JwsAlgorithm::RS256);
    // RFC 7638 §3.1 names it "2011-04-29"; a given kid is kept, the thumbprint is not.
    let json = format!(r#"{{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","kid":"2011-04-29"}}"#);
    let key = VerifyingKey::from_jwk_json(&json).unwrap();
    assert_eq!(
        (key.kid(), key.thumbprint()),
        ("2011-04-29", RFC7638_THUMBPRINT)
    );
}

#[test]
fn rfc7638_thumbprint_computed_by_hand() {
    // §3.1 step by step: the required members in lexicographic order, no whitespace.
    use sha2::{Digest, Sha256};
    let input = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{RFC7638_N}"}}"#);
    let digest = Sha256::digest(input.as_bytes());
    assert_eq!(URL_SAFE_NO_PAD.encode(digest), RFC7638_THUMBPRINT);
}

#[test]
fn rfc8037_ed25519_key_thumbprint_and_signature() {
    let key = PrivateKey::ed25519_from_seed(&URL_SAFE_NO_PAD.decode(ED_D).unwrap()).unwrap();
    assert_eq!(key.algorithm(), JwsAlgorithm::EdDSA);
    assert_eq!(key.thumbprint(), ED_THUMBPRINT);
    assert_eq!(key.kid(), ED_THUMBPRINT);
    let public: serde_json::Value =
        serde_json::from_str(&key.verifying_key().public_jwk_json().unwrap()).unwrap();
    assert_eq!(public["x"], ED_X);
    assert_eq!(public["crv"], "Ed25519");
    assert_eq!(public["kty"], "OKP");
    // Ed25519 is deterministic: the RFC's signature is reproduced exactly.
    let sig =
        jsonwebtoken::crypto::sign(ED_INPUT.as_bytes(), key.encoding(), Algorithm::EdDSA).unwrap();
    assert_eq!(sig, ED_SIG);
    let verifying =
        VerifyingKey::from_jwk_json(&format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}"}}"#))
            .unwrap();
    assert_eq!(verifying.thumbprint(), ED_THUMBPRINT);
    assert!(
        jsonwebtoken::crypto::verify(
            ED_SIG,
            ED_INPUT.as_bytes(),
            &verifying.decoding,
            Algorithm::EdDSA
        )
        .unwrap()
    );
    // The same key from its private JWK (RFC 8037 A.1).
    let from_jwk = PrivateKey::from_jwk_json(&format!(
        r#"{{"kty":"OKP","crv":"Ed25519","d":"{ED_D}","x":"{ED_X}"}}"#
    ))
    .unwrap();
    assert_eq!(from_jwk.thumbprint(), ED_THUMBPRINT);
}

#[test]
fn rfc7515_a3_es256_signature_verifies_with_its_public_key() {
    let public = VerifyingKey::from_jwk_json(&format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{A3_X}","y":"{A3_Y}"}}"#
    ))
    .unwrap();
    assert_eq!(public.algorithm(), JwsAlgorithm::ES256);
    // ECDSA signatures are randomised, so the vector is checked by verification.
    let (input, sig) = A3_JWS.rsplit_once('.').unwrap();
    assert!(
        jsonwebtoken::crypto::verify(sig, input.as_bytes(), &public.decoding, Algorithm::ES256)
            .unwrap()
    );
    // One changed character of the signing input and it does not.
    let tampered = input.replacen("eyJpc3Mi", "eyJpc3Ni", 1);
    assert!(
        !jsonwebtoken::crypto::verify(sig, tampered.as_bytes(), &public.decoding, Algorithm::ES256)
            .unwrap()
    );
}

#[test]
fn a_private_jwk_must_match_its_public_members() {
    let d = [0x42u8; 32];
    let key = PrivateKey::es256_from_scalar(&d).unwrap();
    let public: serde_json::Value =
        serde_json::from_str(&key.verifying_key().public_jwk_json().unwrap()).unwrap();
    let (x, y) = (public["x"].as_str().unwrap(), public["y"].as_str().unwrap());
    let d = URL_SAFE_NO_PAD.encode(d);
    let jwk = |x: &str, y: &str| {
        format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}","d":"{d}","kid":"k"}}"#)
    };
    let same = PrivateKey::from_jwk_json(&jwk(x, y)).unwrap();
    assert_eq!((same.kid(), same.thumbprint()), ("k", key.thumbprint()));
    assert!(matches!(
        PrivateKey::from_jwk_json(&jwk(y, x)),
        Err(Error::InvalidKey(_))
    ));
    // The RFC 7515 A.3 public key with another private scalar: refused.
    assert!(matches!(
        PrivateKey::from_jwk_json(&jwk(A3_X, A3_Y)),
        Err(Error::InvalidKey(_))
    ));
    assert!(
        PrivateKey::es256_from_scalar(&[0u8; 32]).is_err(),
        "zero is no scalar"
    );
    assert!(
        PrivateKey::es256_from_scalar(&[0xffu8; 32]).is_err(),
        "above the order"
    );
}

#[test]
fn keys_load_from_pem_files() {
    let es = PrivateKey::es256_pkcs8_pem(&fixture("p256_pkcs8.pem")).unwrap();
    let es_pub = VerifyingKey::es256_public_pem(&fixture("p256_public.pem")).unwrap();
    assert_eq!(es.thumbprint(), es_pub.thumbprint());
    let ed = PrivateKey::ed25519_pkcs8_pem(&fixture("ed25519_pkcs8.pem")).unwrap();
    let ed_pub = VerifyingKey::ed25519_public_pem(&fixture("ed25519_public.pem")).unwrap();
    assert_eq!(ed.thumbprint(), ed_pub.thumbprint());
    let rs1 = PrivateKey::rs256_pem(&fixture("rsa2048_pkcs1.pem")).unwrap();
    let rs8 = PrivateKey::rs256_pem(&fixture("rsa2048_pkcs8.pem")).unwrap();
    assert_eq!(rs1.thumbprint(), rs8.thumbprint(), "one key, two encodings");
    assert_eq!(rs1.algorithm(), JwsAlgorithm::RS256);
    assert!(matches!(
        PrivateKey::rs256_pem(&fixture("rsa1024_pkcs8.pem")),
        Err(Error::InvalidKey(_))
    ));
    // The wrong loader for a key is an error, not a panic.
    assert!(PrivateKey::es256_pkcs8_pem(&fixture("ed25519_pkcs8.pem")).is_err());
    assert!(PrivateKey::ed25519_pkcs8_pem(&fixture("p256_pkcs8.pem")).is_err());
    assert!(PrivateKey::rs256_pem(&fixture("p256_pkcs8.pem")).is_err());
    assert!(PrivateKey::es256_pkcs8_pem("not a key").is_err());
}

#[test]
fn generated_keys_are_deterministic_under_seeded_randomness() {
    let a = PrivateKey::generate_es256(&SeededRandomness::new(1)).unwrap();
    let b = PrivateKey::generate_es256(&SeededRandomness::new(1)).unwrap();
    let c = PrivateKey::generate_es256(&SeededRandomness::new(2)).unwrap();
    assert_eq!(a.thumbprint(), b.thumbprint());
    assert_ne!(a.thumbprint(), c.thumbprint());
    let e = PrivateKey::generate_ed25519(&SeededRandomness::new(1)).unwrap();
    assert_eq!(e.algorithm(), JwsAlgorithm::EdDSA);
}

#[test]
fn hs256_keys_need_32_bytes_and_are_never_published() {
    assert!(matches!(
        PrivateKey::hs256(&SigningKey::new([1u8; 31])),
        Err(Error::InvalidKey(_))
    ));
    let hs = PrivateKey::hs256(&SigningKey::new([1u8; 32])).unwrap();
    assert!(hs.verifying_key().public_jwk_json().is_none());
    let es = PrivateKey::generate_es256(&SeededRandomness::new(3)).unwrap();
    let ring = KeyRing::new(hs.clone()).with_verifying_key(&es);
    let jwks: serde_json::Value = serde_json::from_str(&ring.jwks_json()).unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "only the ES256 key: {jwks}");
    assert_eq!(keys[0]["kid"], es.kid());
    assert_eq!(keys[0]["alg"], "ES256");
    assert_eq!(keys[0]["use"], "sig");
    assert!(keys[0].get("d").is_none());
    assert!(
        !ring
            .jwks_json()
            .contains(&URL_SAFE_NO_PAD.encode([1u8; 32]))
    );
    assert_eq!(
        KeyRing::new(hs).jwks_json(),
        r#"{"keys":[]}"#,
        "an HS256-only ring publishes nothing"
    );
}

#[test]
fn ring_kids_must_be_unique() {
    let es = PrivateKey::generate_es256(&SeededRandomness::new(4)).unwrap();
    let ring = KeyRing::new(es.clone()).with_verifying_key(&es);
    assert!(matches!(ring.validate(), Err(Error::InvalidConfig(_))));
    let other = PrivateKey::generate_ed25519(&SeededRandomness::new(4))
        .unwrap()
        .with_kid(es.kid())
        .unwrap();
    let ring = KeyRing::new(es).with_verifying_key(other);
    assert!(ring.validate().is_err());
    assert!(
        PrivateKey::generate_ed25519(&SeededRandomness::new(5))
            .unwrap()
            .with_kid("")
            .is_err()
    );
}

#[test]
fn jwks_keys_for_other_uses_or_of_other_kinds_are_refused() {
    let ec =
        |extra: &str| format!(r#"{{"kty":"EC","crv":"P-256","x":"{A3_X}","y":"{A3_Y}"{extra}}}"#);
    let ok = |json: &str| VerifyingKey::from_jwk_json(json).is_ok();
    assert!(ok(&ec("")));
    assert!(ok(&ec(r#","use":"sig""#)));
    assert!(ok(&ec(r#","key_ops":["verify"]"#)));
    assert!(ok(&ec(r#","alg":"ES256""#)));
    assert!(!ok(&ec(r#","use":"enc""#)), "use other than sig");
    assert!(
        !ok(&ec(r#","key_ops":["encrypt"]"#)),
        "key_ops without verify"
    );
    assert!(
        !ok(&ec(r#","alg":"RS256""#)),
        "an algorithm the key does not fit"
    );
    assert!(!ok(&ec(r#","alg":"HS256""#)), "HS256 on a public key");
    assert!(!ok(&ec(r#","alg":"none""#)), "none");
    assert!(!ok(&ec(r#","d":"AAAA""#)), "a private key");
    assert!(!ok(&ec(r#","kid":"""#)), "an empty kid");
    assert!(!ok(
        r#"{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI","alg":"HS256"}"#
    ));
    // Malformed members fail when the key is read, never later and never with a panic.
    assert!(!ok(r#"{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}"#));
    assert!(
        !ok(&format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{A3_X}","y":"{A3_X}"}}"#
        )),
        "not on the curve"
    );
    assert!(!ok(r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#));
    assert!(!ok(
        r#"{"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
    ));
    assert!(
        !ok(r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#),
        "a tiny modulus"
    );
    assert!(!ok(r#"{"kty":"AKP","alg":"ML-DSA-44","pub":"AAAA"}"#));
    assert!(!ok("[]"));
    assert!(!ok("{"));
}

#[test]
fn a_jwks_keeps_its_usable_keys() {
    let doc = format!(
        r#"{{"keys":[
            {{"kty":"EC","crv":"P-256","x":"{A3_X}","y":"{A3_Y}","kid":"a"}},
            {{"kty":"EC","crv":"P-256","x":"{A3_X}","y":"{A3_Y}","kid":"b","use":"enc"}},
            {{"kty":"oct","k":"AAAA","kid":"c"}},
            {{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"a"}},
            {{"kty":"OKP","crv":"Ed25519","x":"{ED_X}"}},
            {{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","kid":5}},
            "junk",
            {{"kty":"RSA","n":"{RFC7638_N}","e":"AQAB","kid":"r","alg":"PS256"}}
        ]}}"#
    );
    let keys = parse_jwks(doc.as_bytes()).unwrap();
    let got: Vec<(&str, JwsAlgorithm)> = keys.iter().map(|k| (k.kid(), k.alg)).collect();
    assert_eq!(
        got,
        vec![
            ("a", JwsAlgorithm::ES256),
            (ED_THUMBPRINT, JwsAlgorithm::EdDSA),
            ("r", JwsAlgorithm::PS256),
        ]
    );
    assert!(parse_jwks(b"{}").is_err());
    assert!(parse_jwks(b"not json").is_err());
    assert!(parse_jwks(br#"{"keys":[]}"#).unwrap().is_empty());
}
