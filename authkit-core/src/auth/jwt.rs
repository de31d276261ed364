//! JWT access tokens, signed by the active key of the [`KeyRing`] (HS256, ES256, EdDSA or
//! RS256) and verified by the key the token's `kid` names, with that key's algorithm.
//!
//! RFC 8725 (JWT Best Current Practices) §3.1 and §3.9: verification pins the algorithm
//! and checks the audience; RFC 7519 §4.1.4: a token is refused on or after `exp`. The
//! expiry is checked against the injected clock, after the signature, so a forged token
//! learns nothing about time.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Auth;
use crate::config::TokenConfig;
use crate::error::{Error, Result};
use crate::keys::{JwsAlgorithm, KeyRing, PrivateKey};
use crate::model::{Timestamp, UserId};

/// Who an access token is for. A token minted for one audience is refused by the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Browser clients behind a backend-for-frontend: `bff`.
    Bff,
    /// Programmatic clients: `api`.
    Api,
}

impl Audience {
    /// The `aud` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Bff => "bff",
            Audience::Api => "api",
        }
    }

    /// Parses an `aud` value.
    pub fn parse(s: &str) -> Option<Audience> {
        match s {
            "bff" => Some(Audience::Bff),
            "api" => Some(Audience::Api),
            _ => None,
        }
    }
}

/// The claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id.
    pub sub: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds: refused on or after it.
    pub exp: i64,
    /// The issuer.
    pub iss: String,
    /// The audience.
    pub aud: String,
    /// A unique id for this token.
    pub jti: String,
    /// Space-separated scopes (RFC 8693 §4.2), for programmatic tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl AccessClaims {
    /// The user id in `sub`. Verified tokens always carry a valid one.
    pub fn user_id(&self) -> Result<UserId> {
        Uuid::from_str(&self.sub)
            .map(UserId)
            .map_err(|_| Error::InvalidToken)
    }
}

/// The longest access token accepted, in bytes: ours are a few hundred, and refusing
/// larger input up front keeps a hostile header from costing a large decode.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// One verifying key of the ring, with a validation per audience pinned to its algorithm.
struct OwnKey {
    kid: std::sync::Arc<str>,
    alg: JwsAlgorithm,
    decoding: DecodingKey,
    bff: Validation,
    api: Validation,
}

/// Signing and verification state, built once from the key ring. Immutable: the hot path
/// takes no lock.
pub(super) struct Jwt {
    encoding: EncodingKey,
    header: Header,
    keys: Vec<OwnKey>,
    /// The key for tokens with no `kid` (signed before key rings): the ring's only key, or
    /// else its only HS256 key.
    kidless: Option<usize>,
    leeway: i64,
    jwks: String,
    public_algorithms: Vec<JwsAlgorithm>,
}

impl Jwt {
    pub(super) fn new(cfg: &TokenConfig) -> Result<Self> {
        let ring = match &cfg.key_ring {
            Some(ring) => ring.clone(),
            None => KeyRing::new(PrivateKey::hs256(&cfg.signing_key)?),
        };
        ring.validate()?;
        let active = ring.active();
        let mut header = Header::new(active.algorithm().jwt());
        header.kid = Some(active.kid().to_owned());
        let keys: Vec<OwnKey> = ring
            .verifying_keys()
            .map(|k| OwnKey {
                kid: k.kid.clone(),
                alg: k.alg,
                decoding: k.decoding.clone(),
                bff: validation(&cfg.issuer, Audience::Bff, k.alg),
                api: validation(&cfg.issuer, Audience::Api, k.alg),
            })
            .collect();
        let hs: Vec<usize> = ring
            .verifying_keys()
            .enumerate()
            .filter(|(_, k)| k.alg.is_symmetric())
            .map(|(i, _)| i)
            .collect();
        let kidless = match (keys.len(), hs.as_slice()) {
            (1, _) => Some(0),
            (_, [only]) => Some(*only),
            _ => None,
        };
        Ok(Jwt {
            encoding: active.encoding().clone(),
            header,
            keys,
            kidless,
            leeway: cfg.leeway.whole_seconds(),
            jwks: ring.jwks_json(),
            public_algorithms: ring.public_algorithms(),
        })
    }

    pub(super) fn sign(&self, claims: &AccessClaims) -> Result<String> {
        jsonwebtoken::encode(&self.header, claims, &self.encoding)
            .map_err(|e| Error::internal("jwt signing", e))
    }

    pub(super) fn verify(
        &self,
        token: &str,
        audience: Audience,
        now: Timestamp,
    ) -> Result<AccessClaims> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Error::MalformedToken);
        }
        let header = crate::keys::peek_header(token)?;
        if header.crit {
            // RFC 7515 §4.1.11: we understand no extension, so none may be critical.
            return Err(Error::InvalidToken);
        }
        let key = match header.kid.as_deref() {
            Some(kid) => self.keys.iter().find(|k| &*k.kid == kid),
            None => self.kidless.and_then(|i| self.keys.get(i)),
        }
        .ok_or(Error::InvalidToken)?;
        if header.alg != Some(key.alg) {
            return Err(Error::InvalidToken);
        }
        // The key's validation admits its own algorithm only: a header naming another one
        // is refused by `decode` (RFC 8725 §3.1).
        let validation = match audience {
            Audience::Bff => &key.bff,
            Audience::Api => &key.api,
        };
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, validation)
            .map_err(|e| map_decode_error(e.kind()))?
            .claims;
        if now.unix_timestamp() >= claims.exp.saturating_add(self.leeway) {
            return Err(Error::TokenExpired);
        }
        Ok(claims)
    }
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt").finish_non_exhaustive()
    }
}

fn validation(issuer: &str, audience: Audience, alg: JwsAlgorithm) -> Validation {
    let mut v = Validation::new(alg.jwt());
    v.validate_exp = false; // checked against the injected clock in `Jwt::verify`
    v.leeway = 0;
    v.set_issuer(&[issuer]);
    v.set_audience(&[audience.as_str()]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    v
}

fn map_decode_error(kind: &ErrorKind) -> Error {
    match kind {
        ErrorKind::InvalidAudience => Error::WrongAudience,
        ErrorKind::ExpiredSignature => Error::TokenExpired,
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_) => Error::MalformedToken,
        _ => Error::InvalidToken,
    }
}

impl Auth {
    /// The JWK Set of the key ring's public keys (RFC 7517 §5), ready to serve at the
    /// issuer's `jwks_uri` with [`JWKS_CONTENT_TYPE`](crate::keys::JWKS_CONTENT_TYPE) and
    /// [`JWKS_CACHE_CONTROL`](crate::keys::JWKS_CACHE_CONTROL). HS256 keys are never in
    /// it: a ring of HS256 keys only publishes `{"keys":[]}`.
    pub fn jwks_json(&self) -> &str {
        &self.jwt.jwks
    }

    /// A minimal OpenID Connect Discovery document for the configured issuer (`issuer`,
    /// `jwks_uri`, `subject_types_supported`, `id_token_signing_alg_values_supported`),
    /// to serve at `{issuer}/.well-known/openid-configuration` (Discovery §4). It lets
    /// verifiers such as [`Issuer::from_openid_discovery`](crate::Issuer::from_openid_discovery)
    /// find the keys; authkit is not a full OpenID Provider, so it names no endpoints.
    pub fn openid_configuration_json(&self, jwks_uri: &str) -> String {
        crate::keys::discovery_json(
            &self.config.tokens.issuer,
            jwks_uri,
            &self.jwt.public_algorithms,
        )
    }

    /// Verifies an access token for `audience`: signature with the key named by `kid` and
    /// that key's algorithm only (never the header's), `iss`, `aud`,
    /// and `exp` against the clock (with the configured leeway).
    ///
    /// Errors: [`Error::MalformedToken`] (not a JWT), [`Error::InvalidToken`] (signature,
    /// unknown `kid`, algorithm, issuer, missing claim, a `crit` header), [`Error::WrongAudience`], [`Error::TokenExpired`].
    pub fn verify_access(&self, token: &str, audience: Audience) -> Result<AccessClaims> {
        self.jwt.verify(token, audience, self.now())
    }

    /// Signs an access token for `user`.
    pub(super) fn mint_access(
        &self,
        user: UserId,
        audience: Audience,
        scope: Option<String>,
        now: Timestamp,
        ttl: time::Duration,
    ) -> Result<(String, Timestamp)> {
        let expires_at = now + ttl;
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti);
        let claims = AccessClaims {
            sub: user.0.to_string(),
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            iss: self.config.tokens.issuer.clone(),
            aud: audience.as_str().to_owned(),
            jti: URL_SAFE_NO_PAD.encode(jti),
            scope,
        };
        Ok((self.jwt.sign(&claims)?, expires_at))
    }
}

/// A signed access token with no refresh token: for programmatic clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessToken {
    /// The signed JWT.
    pub token: String,
    /// When it expires.
    pub expires_at: Timestamp,
}

impl Auth {
    /// Issues a scoped access token for programmatic clients (audience `api`), with the
    /// access lifetime of `profile` (`None`: standard). A browser (`bff`) verifier refuses it.
    ///
    /// Errors: [`Error::InvalidScope`], [`Error::UnknownProfile`], [`Error::UserNotFound`].
    pub async fn issue_api_token(
        &self,
        user: UserId,
        scopes: &[String],
        profile: Option<&str>,
    ) -> Result<AccessToken> {
        scopes
            .iter()
            .try_for_each(|s| crate::scope::check_scope(s))?;
        let lifetimes = self.config.tokens.profile(profile)?;
        self.user(user).await?;
        let scope = Some(scopes.join(" "));
        let (token, expires_at) =
            self.mint_access(user, Audience::Api, scope, self.now(), lifetimes.access_ttl)?;
        Ok(AccessToken { token, expires_at })
    }

    /// Verifies an `api` access token and, when given, that its scopes cover
    /// `required_scope`. Errors: those of [`Auth::verify_access`], and
    /// [`Error::ScopeMissing`].
    pub fn verify_api_token(
        &self,
        token: &str,
        required_scope: Option<&str>,
    ) -> Result<AccessClaims> {
        let claims = self.verify_access(token, Audience::Api)?;
        if let Some(required) = required_scope {
            let granted = claims.scope.as_deref().unwrap_or("");
            let covered = granted
                .split(' ')
                .any(|g| crate::scope::scope_covers(g, required));
            if !covered {
                return Err(Error::ScopeMissing(required.to_owned()));
            }
        }
        Ok(claims)
    }
}
