//! Signing keys, key rings and the published JWKS.
//!
//! A [`KeyRing`] holds one active [`PrivateKey`], which signs every new access token, and
//! any number of [`VerifyingKey`]s that are still accepted (a retired key whose tokens
//! have not expired yet, or the next key, published before it starts signing). Every key
//! carries a `kid`; when none is given it is the key's RFC 7638 thumbprint, so two
//! instances holding the same key agree on its id without coordination.
//!
//! Verification picks the key by the token's `kid` and takes the algorithm from the key,
//! never from the token header (RFC 8725 §2.1 and §3.1): a token whose header names
//! another algorithm is refused, so an RSA or EC public key can never be used as an HMAC
//! secret, and an HMAC key never verifies an asymmetric signature.
//!
//! A ring may hold an HS256 key beside asymmetric ones, so a deployment can move from a
//! shared secret to a public key without a failed verification; each key still verifies
//! its own algorithm only. Tokens with no `kid` (signed before key rings) are verified by
//! the ring's only key, or else by its only HS256 key, or refused.
//!
//! [`Auth::jwks_json`](crate::Auth::jwks_json) publishes the public half of every
//! asymmetric key of the ring as a JWK Set (RFC 7517 §5), each with `kid`, `alg` and
//! `use: "sig"`. HMAC keys are secrets and are never published.
//!
//! # Rotating the signing key with no failed verification
//!
//! 1. Add the next key as a verifying key on every instance
//!    ([`KeyRing::with_verifying_key`]); verifiers that cache the JWKS pick it up within
//!    their cache lifetime.
//! 2. Make it the active key; keep the old one as a verifying key.
//! 3. Once the longest access-token lifetime has passed, drop the old key.
//!
//! Cryptography is `jsonwebtoken`'s (RustCrypto backend); key files are parsed by the
//! RustCrypto `p256` and `ed25519-dalek` crates, and RSA keys by `jsonwebtoken`.

mod jwk;

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::clock::Randomness;
use crate::config::SigningKey;
use crate::error::{Error, Result};

pub(crate) use jwk::{parse_jwks, public_jwk_from_json};

/// The media type of a JWK Set document (RFC 7517 §8.5.1).
pub const JWKS_CONTENT_TYPE: &str = "application/jwk-set+json";

/// A `Cache-Control` value for serving the JWKS: short enough that a new key published
/// before it signs reaches verifiers within minutes.
pub const JWKS_CACHE_CONTROL: &str = "public, max-age=300";

/// The longest `kid` accepted, in bytes; longer ones in a JWKS are ignored.
pub const MAX_KID_BYTES: usize = 256;

/// The smallest RSA modulus accepted, in bits (RFC 7518 §3.3: "A key of size 2048 bits or
/// larger MUST be used").
pub const MIN_RSA_BITS: usize = 2048;

/// A JWS algorithm (RFC 7518 §3.1, RFC 8037 §3.1). authkit signs with [`HS256`],
/// [`ES256`], [`EdDSA`] (Ed25519) and [`RS256`]; it verifies foreign issuers' tokens with
/// any of the asymmetric ones. `none` does not exist here.
///
/// [`HS256`]: JwsAlgorithm::HS256
/// [`ES256`]: JwsAlgorithm::ES256
/// [`EdDSA`]: JwsAlgorithm::EdDSA
/// [`RS256`]: JwsAlgorithm::RS256
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JwsAlgorithm {
    /// HMAC with SHA-256: a shared secret, never published.
    HS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384 (verification only).
    ES384,
    /// EdDSA with Ed25519 (RFC 8037).
    EdDSA,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (verification only).
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (verification only).
    RS512,
    /// RSASSA-PSS with SHA-256 (verification only).
    PS256,
    /// RSASSA-PSS with SHA-384 (verification only).
    PS384,
    /// RSASSA-PSS with SHA-512 (verification only).
    PS512,
}

impl JwsAlgorithm {
    /// The `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            JwsAlgorithm::HS256 => "HS256",
            JwsAlgorithm::ES256 => "ES256",
            JwsAlgorithm::ES384 => "ES384",
            JwsAlgorithm::EdDSA => "EdDSA",
            JwsAlgorithm::RS256 => "RS256",
            JwsAlgorithm::RS384 => "RS384",
            JwsAlgorithm::RS512 => "RS512",
            JwsAlgorithm::PS256 => "PS256",
            JwsAlgorithm::PS384 => "PS384",
            JwsAlgorithm::PS512 => "PS512",
        }
    }

    /// Whether this is an HMAC algorithm (a shared secret).
    pub fn is_symmetric(self) -> bool {
        self == JwsAlgorithm::HS256
    }

    pub(crate) fn jwt(self) -> Algorithm {
        match self {
            JwsAlgorithm::HS256 => Algorithm::HS256,
            JwsAlgorithm::ES256 => Algorithm::ES256,
            JwsAlgorithm::ES384 => Algorithm::ES384,
            JwsAlgorithm::EdDSA => Algorithm::EdDSA,
            JwsAlgorithm::RS256 => Algorithm::RS256,
            JwsAlgorithm::RS384 => Algorithm::RS384,
            JwsAlgorithm::RS512 => Algorithm::RS512,
            JwsAlgorithm::PS256 => Algorithm::PS256,
            JwsAlgorithm::PS384 => Algorithm::PS384,
            JwsAlgorithm::PS512 => Algorithm::PS512,
        }
    }

    pub(crate) fn from_key_algorithm(alg: KeyAlgorithm) -> Option<Self> {
        Some(match alg {
            KeyAlgorithm::HS256 => JwsAlgorithm::HS256,
            KeyAlgorithm::ES256 => JwsAlgorithm::ES256,
            KeyAlgorithm::ES384 => JwsAlgorithm::ES384,
            KeyAlgorithm::EdDSA => JwsAlgorithm::EdDSA,
            KeyAlgorithm::RS256 => JwsAlgorithm::RS256,
            KeyAlgorithm::RS384 => JwsAlgorithm::RS384,
            KeyAlgorithm::RS512 => JwsAlgorithm::RS512,
            KeyAlgorithm::PS256 => JwsAlgorithm::PS256,
            KeyAlgorithm::PS384 => JwsAlgorithm::PS384,
            KeyAlgorithm::PS512 => JwsAlgorithm::PS512,
            _ => return None,
        })
    }
}

impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn invalid_key(msg: impl Into<String>) -> Error {
    Error::InvalidKey(msg.into())
}

fn check_kid(kid: &str) -> Result<()> {
    if kid.is_empty() || kid.len() > MAX_KID_BYTES {
        return Err(invalid_key(format!(
            "kid must be 1 to {MAX_KID_BYTES} bytes"
        )));
    }
    Ok(())
}

/// A key that signs access tokens: the active key of a [`KeyRing`]. `Debug` prints the
/// algorithm and `kid`, never key material.
#[derive(Clone)]
pub struct PrivateKey {
    alg: JwsAlgorithm,
    kid: String,
    encoding: EncodingKey,
    public: VerifyingKey,
}

impl PrivateKey {
    /// An HS256 key from a secret of at least [`SigningKey::MIN_BYTES`] bytes
    /// (RFC 7518 §3.2). Never published in the JWKS.
    ///
    /// Errors: [`Error::InvalidKey`] when the secret is too short.
    pub fn hs256(secret: &SigningKey) -> Result<Self> {
        let bytes = secret.as_bytes();
        if bytes.len() < SigningKey::MIN_BYTES {
            return Err(invalid_key(format!(
                "an HS256 secret must be at least {} bytes",
                SigningKey::MIN_BYTES
            )));
        }
        let public = VerifyingKey::hs256(secret)?;
        Ok(PrivateKey {
            alg: JwsAlgorithm::HS256,
            kid: public.kid.to_string(),
            encoding: EncodingKey::from_secret(bytes),
            public,
        })
    }

    /// An ES256 key from a P-256 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`),
    /// as `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256` writes it.
    pub fn es256_pkcs8_pem(pem: &str) -> Result<Self> {
        use p256::pkcs8::DecodePrivateKey;
        let key = p256::SecretKey::from_pkcs8_pem(pem)
            .map_err(|e| invalid_key(format!("not a P-256 PKCS#8 PEM key: {e}")))?;
        Self::from_p256(&key)
    }

    /// An ES256 key from a P-256 private key in PKCS#8 DER.
    pub fn es256_pkcs8_der(der: &[u8]) -> Result<Self> {
        use p256::pkcs8::DecodePrivateKey;
        let key = p256::SecretKey::from_pkcs8_der(der)
            .map_err(|e| invalid_key(format!("not a P-256 PKCS#8 DER key: {e}")))?;
        Self::from_p256(&key)
    }

    /// An ES256 key from the 32-byte private scalar (the JWK `d`, RFC 7518 §6.2.2.1).
    pub fn es256_from_scalar(d: &[u8]) -> Result<Self> {
        let key = p256::SecretKey::from_slice(d)
            .map_err(|_| invalid_key("not a P-256 private scalar"))?;
        Self::from_p256(&key)
    }

    /// A new random ES256 key drawn from `rng`.
    pub fn generate_es256(rng: &dyn Randomness) -> Result<Self> {
        // A random 256-bit string is a valid scalar unless it is zero or at least the
        // group order, which happens with probability below 2^-32; a few draws suffice.
        for _ in 0..8 {
            let mut d = Zeroizing::new([0u8; 32]);
            rng.fill(&mut d[..]);
            if let Ok(key) = p256::SecretKey::from_slice(&d[..]) {
                return Self::from_p256(&key);
            }
        }
        Err(Error::internal(
            "P-256 key generation",
            "no valid scalar drawn",
        ))
    }

    fn from_p256(key: &p256::SecretKey) -> Result<Self> {
        use p256::elliptic_curve::sec1::{Coordinates, ToEncodedPoint};
        use p256::pkcs8::EncodePrivateKey;
        let der = key
            .to_pkcs8_der()
            .map_err(|e| Error::internal("P-256 key encoding", e.to_string()))?;
        let point = key.public_key().to_encoded_point(false);
        let (x, y) = match point.coordinates() {
            Coordinates::Uncompressed { x, y } => (x.to_vec(), y.to_vec()),
            _ => return Err(invalid_key("P-256 public key is not a curve point")),
        };
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            }),
        };
        Self::asymmetric(
            JwsAlgorithm::ES256,
            EncodingKey::from_ec_der(der.as_bytes()),
            jwk,
        )
    }

    /// An EdDSA (Ed25519) key from a private key in PKCS#8 PEM, as
    /// `openssl genpkey -algorithm ed25519` writes it.
    pub fn ed25519_pkcs8_pem(pem: &str) -> Result<Self> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem)
            .map_err(|e| invalid_key(format!("not an Ed25519 PKCS#8 PEM key: {e}")))?;
        Self::from_ed25519(&key)
    }

    /// An EdDSA (Ed25519) key from a private key in PKCS#8 DER.
    pub fn ed25519_pkcs8_der(der: &[u8]) -> Result<Self> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let key = ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map_err(|e| invalid_key(format!("not an Ed25519 PKCS#8 DER key: {e}")))?;
        Self::from_ed25519(&key)
    }

    /// An EdDSA (Ed25519) key from its 32-byte seed (the JWK `d`, RFC 8037 §2).
    pub fn ed25519_from_seed(seed: &[u8]) -> Result<Self> {
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| invalid_key("an Ed25519 seed is 32 bytes"))?;
        Self::from_ed25519(&ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// A new random EdDSA (Ed25519) key drawn from `rng`.
    pub fn generate_ed25519(rng: &dyn Randomness) -> Result<Self> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill(&mut seed[..]);
        Self::from_ed25519(&ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    fn from_ed25519(key: &ed25519_dalek::SigningKey) -> Result<Self> {
        use ed25519_dalek::pkcs8::{EncodePrivateKey, KeypairBytes};
        // jsonwebtoken reads the 48-byte PKCS#8 v1 form (no public key inside).
        let bytes = KeypairBytes {
            secret_key: key.to_bytes(),
            public_key: None,
        };
        let der = bytes
            .to_pkcs8_der()
            .map_err(|e| Error::internal("Ed25519 key encoding", e.to_string()))?;
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
            }),
        };
        Self::asymmetric(
            JwsAlgorithm::EdDSA,
            EncodingKey::from_ed_der(der.as_bytes()),
            jwk,
        )
    }

    /// An RS256 key from an RSA private key in PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8
    /// `PRIVATE KEY`) of at least [`MIN_RSA_BITS`] bits.
    pub fn rs256_pem(pem: &str) -> Result<Self> {
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| invalid_key(format!("not an RSA PEM private key: {e}")))?;
        let jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256)
            .map_err(|e| invalid_key(format!("not an RSA private key: {e}")))?;
        Self::asymmetric(JwsAlgorithm::RS256, encoding, strip_common(jwk))
    }

    /// A key from a private JWK (RFC 7517): `EC` on `P-256` or `OKP` on `Ed25519` with
    /// its `d`, or `oct` with `alg: "HS256"`. The `kid` is kept when present. The public
    /// members must match the private one.
    pub fn from_jwk_json(json: &str) -> Result<Self> {
        #[derive(serde::Deserialize)]
        struct PrivateJwk {
            kty: String,
            crv: Option<String>,
            alg: Option<String>,
            kid: Option<String>,
            d: Option<String>,
            k: Option<String>,
            x: Option<String>,
            y: Option<String>,
        }
        let mut raw: PrivateJwk =
            serde_json::from_str(json).map_err(|e| invalid_key(format!("not a JWK: {e}")))?;
        // The private members are wiped when dropped.
        let d = raw.d.take().map(Zeroizing::new);
        let k = raw.k.take().map(Zeroizing::new);
        let b64 = |v: &str| {
            URL_SAFE_NO_PAD
                .decode(v)
                .map(Zeroizing::new)
                .map_err(|_| invalid_key("JWK member is not base64url"))
        };
        let key = match (raw.kty.as_str(), raw.crv.as_deref(), &d, &k) {
            ("EC", Some("P-256"), Some(d), _) => Self::es256_from_scalar(&b64(d)?)?,
            ("OKP", Some("Ed25519"), Some(d), _) => Self::ed25519_from_seed(&b64(d)?)?,
            ("oct", _, _, Some(k)) if raw.alg.as_deref() == Some("HS256") => {
                Self::hs256(&SigningKey::new(b64(k)?.to_vec()))?
            }
            _ => {
                return Err(invalid_key(
                    "a private JWK must be EC P-256 or OKP Ed25519 with d, or oct HS256",
                ));
            }
        };
        if let Some(alg) = raw.alg.as_deref()
            && alg != key.alg.as_str()
        {
            return Err(invalid_key(format!("JWK alg {alg} does not fit the key")));
        }
        if let Some(expected) = key.public.public_jwk.as_ref() {
            let (px, py) = match &expected.algorithm {
                AlgorithmParameters::EllipticCurve(p) => (Some(&p.x), Some(&p.y)),
                AlgorithmParameters::OctetKeyPair(p) => (Some(&p.x), None),
                _ => (None, None),
            };
            if raw.x.is_some() && raw.x.as_ref() != px || raw.y.is_some() && raw.y.as_ref() != py {
                return Err(invalid_key(
                    "JWK public members do not match its private key",
                ));
            }
        }
        match raw.kid {
            Some(kid) => key.with_kid(kid),
            None => Ok(key),
        }
    }

    fn asymmetric(alg: JwsAlgorithm, encoding: EncodingKey, jwk: Jwk) -> Result<Self> {
        // Prove the signer accepts the key now, not on the first token.
        jsonwebtoken::crypto::sign(b"authkit key check", &encoding, alg.jwt())
            .map_err(|e| invalid_key(format!("{alg} signer refused the key: {e}")))?;
        let public = VerifyingKey::from_public_jwk(alg, jwk)?;
        Ok(PrivateKey {
            alg,
            kid: public.kid.to_string(),
            encoding,
            public,
        })
    }

    /// Replaces the `kid` (default: the RFC 7638 thumbprint). 1 to [`MAX_KID_BYTES`] bytes.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Result<Self> {
        let kid = kid.into();
        check_kid(&kid)?;
        self.public = self.public.with_kid(kid.clone())?;
        self.kid = kid;
        Ok(self)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The RFC 7638 thumbprint (SHA-256) of the key.
    pub fn thumbprint(&self) -> &str {
        &self.public.thumbprint
    }

    /// The verifying half: the public key, or for HS256 the same secret.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.public.clone()
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl From<&PrivateKey> for VerifyingKey {
    fn from(key: &PrivateKey) -> Self {
        key.verifying_key()
    }
}

impl From<PrivateKey> for VerifyingKey {
    fn from(key: PrivateKey) -> Self {
        key.public
    }
}

/// The JWK without `kid`, `alg`, `use` (the public parameters only).
fn strip_common(jwk: Jwk) -> Jwk {
    Jwk {
        common: CommonParameters::default(),
        algorithm: jwk.algorithm,
    }
}

/// A key that verifies tokens, with its algorithm and `kid`. For asymmetric keys it is
/// the public key (and can be published); an HS256 verifying key is the secret itself.
#[derive(Clone)]
pub struct VerifyingKey {
    pub(crate) alg: JwsAlgorithm,
    pub(crate) kid: Arc<str>,
    pub(crate) thumbprint: String,
    pub(crate) decoding: DecodingKey,
    /// The public JWK (no `kid`/`alg`/`use`); `None` for HS256.
    public_jwk: Option<Jwk>,
}

impl VerifyingKey {
    /// An HS256 verifying key (the shared secret). Usable in a [`KeyRing`] only: an
    /// [`Issuer`](crate::issuer::Issuer) verifies asymmetric keys only.
    pub fn hs256(secret: &SigningKey) -> Result<Self> {
        let bytes = secret.as_bytes();
        if bytes.len() < SigningKey::MIN_BYTES {
            return Err(invalid_key(format!(
                "an HS256 secret must be at least {} bytes",
                SigningKey::MIN_BYTES
            )));
        }
        // RFC 7638 §3.2 defines the thumbprint of an `oct` key over `k` and `kty`: a
        // SHA-256 of the secret, which reveals nothing a signed token does not.
        let oct = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::OctetKey(jsonwebtoken::jwk::OctetKeyParameters {
                key_type: jsonwebtoken::jwk::OctetKeyType::Octet,
                value: URL_SAFE_NO_PAD.encode(bytes),
            }),
        };
        let thumbprint = thumbprint(&oct)?;
        Ok(VerifyingKey {
            alg: JwsAlgorithm::HS256,
            kid: Arc::from(thumbprint.as_str()),
            thumbprint,
            decoding: DecodingKey::from_secret(bytes),
            public_jwk: None,
        })
    }

    /// A public key from a JWK (RFC 7517 §4) such as one entry of a JWKS: `EC` (P-256,
    /// P-384), `OKP` (Ed25519) or `RSA` (at least [`MIN_RSA_BITS`]). The algorithm is the
    /// JWK's `alg`, or the one its curve implies; an RSA key with no `alg` is RS256.
    /// The `kid` is kept, or the thumbprint when absent.
    ///
    /// Errors: [`Error::InvalidKey`] for a symmetric (`oct`) key, a key with private
    /// members, a `use` other than `sig` or `key_ops` without `verify`, an unknown type,
    /// curve or algorithm, a malformed or too small key.
    pub fn from_jwk_json(json: &str) -> Result<Self> {
        public_jwk_from_json(json)
    }

    /// An ES256 public key in SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn es256_public_pem(pem: &str) -> Result<Self> {
        use p256::elliptic_curve::sec1::{Coordinates, ToEncodedPoint};
        use p256::pkcs8::DecodePublicKey;
        let key = p256::PublicKey::from_public_key_pem(pem)
            .map_err(|e| invalid_key(format!("not a P-256 public key PEM: {e}")))?;
        let point = key.to_encoded_point(false);
        let Coordinates::Uncompressed { x, y } = point.coordinates() else {
            return Err(invalid_key("P-256 public key is not a curve point"));
        };
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: URL_SAFE_NO_PAD.encode(x),
                y: URL_SAFE_NO_PAD.encode(y),
            }),
        };
        Self::from_public_jwk(JwsAlgorithm::ES256, jwk)
    }

    /// An EdDSA (Ed25519) public key in SPKI PEM.
    pub fn ed25519_public_pem(pem: &str) -> Result<Self> {
        use ed25519_dalek::pkcs8::DecodePublicKey;
        let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem)
            .map_err(|e| invalid_key(format!("not an Ed25519 public key PEM: {e}")))?;
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            }),
        };
        Self::from_public_jwk(JwsAlgorithm::EdDSA, jwk)
    }

    /// A public key of algorithm `alg` from the public members of `jwk`; checks that the
    /// key fits the algorithm and that the verifier accepts it.
    pub(crate) fn from_public_jwk(alg: JwsAlgorithm, jwk: Jwk) -> Result<Self> {
        jwk::check_fits(alg, &jwk)?;
        let decoding = DecodingKey::from_jwk(&jwk)
            .map_err(|e| invalid_key(format!("unusable {alg} key: {e}")))?;
        // Building the verifier parses the key (curve point, modulus): a malformed key
        // fails here, once, instead of on every token.
        jsonwebtoken::crypto::verify("", b"", &decoding, alg.jwt())
            .map_err(|e| invalid_key(format!("unusable {alg} key: {e}")))?;
        let jwk = strip_common(jwk);
        let thumbprint = thumbprint(&jwk)?;
        Ok(VerifyingKey {
            alg,
            kid: Arc::from(thumbprint.as_str()),
            thumbprint,
            decoding,
            public_jwk: Some(jwk),
        })
    }

    /// Replaces the `kid` (default: the RFC 7638 thumbprint). 1 to [`MAX_KID_BYTES`] bytes.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Result<Self> {
        let kid = kid.into();
        check_kid(&kid)?;
        self.kid = Arc::from(kid);
        Ok(self)
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm tokens verified with this key must use.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The RFC 7638 thumbprint (SHA-256) of the key.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The public JWK with `kid`, `alg` and `use: "sig"`, as published; `None` for HS256.
    pub fn public_jwk_json(&self) -> Option<String> {
        self.published_jwk()
            .and_then(|j| serde_json::to_string(&j).ok())
    }

    fn published_jwk(&self) -> Option<Jwk> {
        let jwk = self.public_jwk.as_ref()?;
        Some(Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(self.alg.jwt().into()),
                key_id: Some(self.kid.to_string()),
                ..CommonParameters::default()
            },
            algorithm: jwk.algorithm.clone(),
        })
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Equal when algorithm, `kid` and key (by thumbprint) are.
impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.alg == other.alg
            && self.kid == other.kid
            && crate::secret::constant_time_eq(
                self.thumbprint.as_bytes(),
                other.thumbprint.as_bytes(),
            )
    }
}
impl Eq for VerifyingKey {}

/// The RFC 7638 thumbprint with SHA-256, base64url.
pub(crate) fn thumbprint(jwk: &Jwk) -> Result<String> {
    jwk.thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| invalid_key(format!("no thumbprint for this key: {e}")))
}

/// The keys of [`Auth`](crate::Auth)'s access tokens: one active [`PrivateKey`] that
/// signs, and the [`VerifyingKey`]s still accepted. Each `kid` appears once.
#[derive(Clone)]
pub struct KeyRing {
    active: PrivateKey,
    verifying: Vec<VerifyingKey>,
}

impl KeyRing {
    /// A ring whose only key is `active`.
    pub fn new(active: PrivateKey) -> Self {
        KeyRing {
            active,
            verifying: Vec::new(),
        }
    }

    /// Also accepts tokens signed by `key` (a retired key, or the next one). A key with
    /// the active key's `kid`, or one already in the ring, makes
    /// [`Auth`](crate::Auth) construction fail with [`Error::InvalidConfig`].
    pub fn with_verifying_key(mut self, key: impl Into<VerifyingKey>) -> Self {
        self.verifying.push(key.into());
        self
    }

    /// The key that signs.
    pub fn active(&self) -> &PrivateKey {
        &self.active
    }

    /// Every key that verifies: the active key's verifying half first.
    pub fn verifying_keys(&self) -> impl Iterator<Item = &VerifyingKey> {
        std::iter::once(&self.active.public).chain(self.verifying.iter())
    }

    /// Checks that every `kid` is unique.
    pub fn validate(&self) -> Result<()> {
        let mut kids: Vec<&str> = self.verifying_keys().map(|k| k.kid()).collect();
        kids.sort_unstable();
        if let Some(w) = kids.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::InvalidConfig(vec![format!(
                "tokens.key_ring: two keys share the kid {:?}",
                w[0]
            )]));
        }
        Ok(())
    }

    /// The JWK Set of the ring's asymmetric keys (RFC 7517 §5), HMAC keys left out.
    pub fn jwks_json(&self) -> String {
        #[derive(Serialize)]
        struct Set {
            keys: Vec<Jwk>,
        }
        let keys = self
            .verifying_keys()
            .filter_map(VerifyingKey::published_jwk)
            .collect();
        serde_json::to_string(&Set { keys }).unwrap_or_else(|_| r#"{"keys":[]}"#.to_owned())
    }

    /// The algorithms of the ring's asymmetric keys, each once.
    pub fn public_algorithms(&self) -> Vec<JwsAlgorithm> {
        let mut algs: Vec<JwsAlgorithm> = Vec::new();
        for alg in self.verifying_keys().map(|k| k.alg) {
            if !alg.is_symmetric() && !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        algs
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active)
            .field("verifying", &self.verifying)
            .finish()
    }
}

impl PartialEq for KeyRing {
    fn eq(&self, other: &Self) -> bool {
        self.active.public == other.active.public && self.verifying == other.verifying
    }
}
impl Eq for KeyRing {}

/// What key selection needs from a JWS header: `alg` (`None` when not one of ours), `kid`,
/// and whether `crit` is present. Read without the full header type, on the hot path;
/// `jsonwebtoken::decode` parses the header again and checks `alg` against the key's
/// algorithm, so nothing here decides whether a token is valid.
pub(crate) struct PeekedHeader {
    pub(crate) alg: Option<JwsAlgorithm>,
    pub(crate) kid: Option<String>,
    pub(crate) crit: bool,
}

/// Reads the protected header of a compact JWS. Errors: [`Error::MalformedToken`].
pub(crate) fn peek_header(token: &str) -> Result<PeekedHeader> {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(borrow)]
        alg: std::borrow::Cow<'a, str>,
        #[serde(borrow, default)]
        kid: Option<std::borrow::Cow<'a, str>>,
        #[serde(default)]
        crit: Option<serde::de::IgnoredAny>,
    }
    let encoded = token.split('.').next().unwrap_or("");
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| Error::MalformedToken)?;
    let raw: Raw<'_> = serde_json::from_slice(&json).map_err(|_| Error::MalformedToken)?;
    let alg = match &*raw.alg {
        "HS256" => Some(JwsAlgorithm::HS256),
        "ES256" => Some(JwsAlgorithm::ES256),
        "ES384" => Some(JwsAlgorithm::ES384),
        "EdDSA" => Some(JwsAlgorithm::EdDSA),
        "RS256" => Some(JwsAlgorithm::RS256),
        "RS384" => Some(JwsAlgorithm::RS384),
        "RS512" => Some(JwsAlgorithm::RS512),
        "PS256" => Some(JwsAlgorithm::PS256),
        "PS384" => Some(JwsAlgorithm::PS384),
        "PS512" => Some(JwsAlgorithm::PS512),
        _ => None,
    };
    Ok(PeekedHeader {
        alg,
        kid: raw.kid.map(std::borrow::Cow::into_owned),
        crit: raw.crit.is_some(),
    })
}

/// A minimal OpenID Connect Discovery 1.0 document (§3) for `issuer`: `issuer`,
/// `jwks_uri`, `subject_types_supported` and `id_token_signing_alg_values_supported`.
/// Enough for verifiers that discover the keys (such as
/// [`Issuer::from_openid_discovery`](crate::issuer::Issuer::from_openid_discovery));
/// authkit runs no authorization endpoint, so the document names none.
pub(crate) fn discovery_json(issuer: &str, jwks_uri: &str, algs: &[JwsAlgorithm]) -> String {
    #[derive(Serialize)]
    struct Discovery<'a> {
        issuer: &'a str,
        jwks_uri: &'a str,
        subject_types_supported: [&'static str; 1],
        id_token_signing_alg_values_supported: Vec<&'static str>,
    }
    serde_json::to_string(&Discovery {
        issuer,
        jwks_uri,
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: algs.iter().map(|a| a.as_str()).collect(),
    })
    .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests;
