//! Reading public JWKs and JWK Sets from untrusted documents (RFC 7517).
//!
//! Every key is checked on its own; one unusable key never spoils the set. A key is
//! refused when it is symmetric (`oct`: a JWKS never carries an HMAC secret we would
//! trust), carries private members, is meant for another use than signatures (`use`
//! other than `sig`, or `key_ops` without `verify`, RFC 7517 §4.2–4.3), has an unknown
//! type, curve or algorithm, an algorithm its type does not fit (RFC 8725 §3.1: the
//! algorithm is bound to the key), malformed members, or an RSA modulus under 2048 bits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use serde_json::Value;

use super::{JwsAlgorithm, MAX_KID_BYTES, MIN_RSA_BITS, VerifyingKey};
use crate::error::{Error, Result};

/// Most keys read from one JWKS; the rest are ignored.
pub(crate) const MAX_JWKS_KEYS: usize = 64;

/// Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

fn refuse(msg: impl Into<String>) -> Error {
    Error::InvalidKey(msg.into())
}

/// A public key from one JWK given as JSON text.
pub(crate) fn public_jwk_from_json(json: &str) -> Result<VerifyingKey> {
    let value: Value = serde_json::from_str(json).map_err(|e| refuse(format!("not a JWK: {e}")))?;
    public_jwk_from_value(value)
}

/// A public key from one JWK as a JSON value.
pub(crate) fn public_jwk_from_value(value: Value) -> Result<VerifyingKey> {
    let Value::Object(map) = &value else {
        return Err(refuse("a JWK is a JSON object"));
    };
    if map.get("kty").and_then(Value::as_str) == Some("oct") {
        return Err(refuse("symmetric (oct) keys are never taken from a JWK"));
    }
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| map.contains_key(**m)) {
        return Err(refuse(format!(
            "the JWK carries the private member {member:?}"
        )));
    }
    match map.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(_) => return Err(refuse("the JWK's use is not sig")),
    }
    match map.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|o| o.as_str() == Some("verify")) => {}
        Some(_) => return Err(refuse("the JWK's key_ops lack verify")),
    }
    let kid = match map.get("kid") {
        None => None,
        Some(Value::String(kid)) if !kid.is_empty() && kid.len() <= MAX_KID_BYTES => {
            Some(kid.clone())
        }
        Some(_) => {
            return Err(refuse(format!(
                "the JWK's kid is not a string of 1 to {MAX_KID_BYTES} bytes"
            )));
        }
    };
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| refuse(format!("not a JWK: {e}")))?;
    let alg = match jwk.common.key_algorithm {
        Some(alg) => JwsAlgorithm::from_key_algorithm(alg)
            .filter(|a| !a.is_symmetric())
            .ok_or_else(|| refuse(format!("unsupported JWK alg {alg}")))?,
        None => implied_algorithm(&jwk)?,
    };
    let key = VerifyingKey::from_public_jwk(alg, jwk)?;
    match kid {
        Some(kid) => key.with_kid(kid),
        None => Ok(key),
    }
}

/// The algorithm a JWK with no `alg` is used with: the one its curve implies; RS256 for
/// RSA (the default of OpenID Connect Core §3.1.3.7 and Discovery §3).
fn implied_algorithm(jwk: &Jwk) -> Result<JwsAlgorithm> {
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => Ok(JwsAlgorithm::ES256),
            EllipticCurve::P384 => Ok(JwsAlgorithm::ES384),
            _ => Err(refuse("unsupported EC curve")),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Ok(JwsAlgorithm::EdDSA)
        }
        AlgorithmParameters::RSA(_) => Ok(JwsAlgorithm::RS256),
        _ => Err(refuse("unsupported key type or curve")),
    }
}

fn decoded_len(b64: &str) -> Option<usize> {
    URL_SAFE_NO_PAD.decode(b64).ok().map(|v| v.len())
}

/// Checks that `jwk` is a well-formed public key of the kind `alg` needs.
pub(crate) fn check_fits(alg: JwsAlgorithm, jwk: &Jwk) -> Result<()> {
    let fits = match (alg, &jwk.algorithm) {
        (JwsAlgorithm::ES256, AlgorithmParameters::EllipticCurve(p)) => {
            p.curve == EllipticCurve::P256
                && decoded_len(&p.x) == Some(32)
                && decoded_len(&p.y) == Some(32)
        }
        (JwsAlgorithm::ES384, AlgorithmParameters::EllipticCurve(p)) => {
            p.curve == EllipticCurve::P384
                && decoded_len(&p.x) == Some(48)
                && decoded_len(&p.y) == Some(48)
        }
        (JwsAlgorithm::EdDSA, AlgorithmParameters::OctetKeyPair(p)) => {
            p.curve == EllipticCurve::Ed25519 && decoded_len(&p.x) == Some(32)
        }
        (
            JwsAlgorithm::RS256
            | JwsAlgorithm::RS384
            | JwsAlgorithm::RS512
            | JwsAlgorithm::PS256
            | JwsAlgorithm::PS384
            | JwsAlgorithm::PS512,
            AlgorithmParameters::RSA(p),
        ) => {
            let Ok(n) = URL_SAFE_NO_PAD.decode(&p.n) else {
                return Err(refuse("RSA modulus is not base64url"));
            };
            let bits = n
                .iter()
                .position(|b| *b != 0)
                .map(|i| (n.len() - i) * 8 - n[i].leading_zeros() as usize)
                .unwrap_or(0);
            if bits < MIN_RSA_BITS {
                return Err(refuse(format!(
                    "RSA modulus of {bits} bits; at least {MIN_RSA_BITS} required"
                )));
            }
            decoded_len(&p.e).is_some_and(|l| (1..=8).contains(&l))
        }
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        Err(refuse(format!(
            "the JWK is not a well-formed {alg} public key"
        )))
    }
}

/// The usable signature keys of a JWK Set document. Keys that fail the checks of this
/// module, and keys past the first [`MAX_JWKS_KEYS`], are skipped (and logged at debug
/// level); a repeated `kid` keeps its first key. A document that is not a JSON object
/// with a `keys` array is an error.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<VerifyingKey>> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| Error::IssuerDocumentInvalid(format!("JWKS is not JSON: {e}")))?;
    let Some(Value::Array(entries)) = doc.get("keys") else {
        return Err(Error::IssuerDocumentInvalid(
            "JWKS has no keys array".into(),
        ));
    };
    let mut keys: Vec<VerifyingKey> = Vec::new();
    for entry in entries.iter().take(MAX_JWKS_KEYS) {
        match public_jwk_from_value(entry.clone()) {
            Ok(key) if keys.iter().any(|k| k.kid == key.kid) => {
                tracing::debug!(kid = %key.kid, "JWKS repeats a kid; the first key is kept");
            }
            Ok(key) => keys.push(key),
            Err(e) => tracing::debug!(error = %e, "JWKS key skipped"),
        }
    }
    Ok(keys)
}
