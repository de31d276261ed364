//! JWT access tokens (HS256).
//!
//! RFC 8725 (JWT Best Current Practices) §3.1 and §3.9: verification pins the algorithm
//! and checks the audience; RFC 7519 §4.1.4: a token is refused on or after `exp`. The
//! expiry is checked against the injected clock, after the signature, so a forged token
//! learns nothing about time.

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Auth;
use crate::config::TokenConfig;
use crate::error::{Error, Result};
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

/// Signing and verification state, built once.
pub(super) struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    header: Header,
    bff: Validation,
    api: Validation,
    leeway: i64,
}

impl Jwt {
    pub(super) fn new(cfg: &TokenConfig) -> Self {
        let key = cfg.signing_key.as_bytes();
        Jwt {
            encoding: EncodingKey::from_secret(key),
            decoding: DecodingKey::from_secret(key),
            header: Header::new(Algorithm::HS256),
            bff: validation(&cfg.issuer, Audience::Bff),
            api: validation(&cfg.issuer, Audience::Api),
            leeway: cfg.leeway.whole_seconds(),
        }
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
        let validation = match audience {
            Audience::Bff => &self.bff,
            Audience::Api => &self.api,
        };
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, validation)
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

fn validation(issuer: &str, audience: Audience) -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
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
    /// Verifies an access token for `audience`: signature with HS256 only, `iss`, `aud`,
    /// and `exp` against the clock (with the configured leeway).
    ///
    /// Errors: [`Error::MalformedToken`] (not a JWT), [`Error::InvalidToken`] (signature,
    /// algorithm, issuer, missing claim), [`Error::WrongAudience`], [`Error::TokenExpired`].
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
