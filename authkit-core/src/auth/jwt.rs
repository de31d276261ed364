//! JWT access tokens, signed by the active key of the [`KeyRing`] (HS256, ES256, EdDSA or
//! RS256) and verified by the key the token's `kid` names, with that key's algorithm.
//!
//! A token signed with our own key is still refused when it is not one we would issue
//! (RFC 8725, RFC 7519): the algorithm is pinned to the key (RFC 8725 §3.1), a `crit`
//! header is refused (RFC 7515 §4.1.11), the type is explicit (`typ: at+jwt`, RFC 8725
//! §3.11, RFC 9068 §2.1), every claim we write must be there with the type we write it
//! with, `iss` and `aud` must match (RFC 7519 §4.1.1, §4.1.3), the token must be live
//! (`exp`, `nbf`, `iat`; RFC 7519 §4.1.4, §4.1.5), its lifetime within the configured cap,
//! and `sub` a user id. Every check on the claims runs after the signature, so a forged
//! token learns nothing about them.
//!
//! Two kinds of subject share the format: users, and service keys holding machine tokens
//! (client credentials; see [`Auth::issue_machine_token`]). A machine token carries
//! `client_id` and `gty`, which a user's never does; each verification accepts one kind
//! only and refuses the other with [`Error::WrongTokenKind`], so a key id is never read
//! as a user id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::Auth;
use super::machine::MachineClaims;
use crate::config::{STANDARD_PROFILE, TokenConfig};
use crate::error::{Error, Result};
use crate::keys::{JwsAlgorithm, KeyRing, PrivateKey};
use crate::model::{ApiKeyId, Timestamp, UserId};

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

/// The claims of an access token, as [`Auth::verify_access`] returns them: every one
/// checked, so they are always usable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// The user id; a UUID string in the token.
    #[serde(
        serialize_with = "user_id_to_str",
        deserialize_with = "user_id_from_str"
    )]
    pub sub: UserId,
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
    /// The user id in `sub`.
    pub fn user_id(&self) -> UserId {
        self.sub
    }
}

fn user_id_to_str<S: Serializer>(id: &UserId, s: S) -> std::result::Result<S::Ok, S::Error> {
    id.0.serialize(s)
}

fn user_id_from_str<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<UserId, D::Error> {
    Uuid::deserialize(d).map(UserId)
}

/// The `typ` of the access tokens we write (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// One claim as the token carries it: absent, present with another JSON type than the one
/// we write (a malformed claim), or a value. Never fails to deserialize, so that missing
/// and malformed claims are both reported as [`Error::ClaimInvalid`] naming the claim.
#[derive(Default)]
enum Claim<T> {
    #[default]
    Missing,
    Malformed,
    Present(T),
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Claim<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        Ok(serde_json::from_value(value).map_or(Claim::Malformed, Claim::Present))
    }
}

impl<T> Claim<T> {
    fn required(self, name: &'static str) -> Result<T> {
        match self {
            Claim::Present(v) => Ok(v),
            Claim::Missing | Claim::Malformed => Err(Error::ClaimInvalid(name)),
        }
    }

    fn optional(self, name: &'static str) -> Result<Option<T>> {
        match self {
            Claim::Present(v) => Ok(Some(v)),
            Claim::Missing => Ok(None),
            Claim::Malformed => Err(Error::ClaimInvalid(name)),
        }
    }
}

/// The payload as found in a token whose signature verified, before any check.
#[derive(Deserialize)]
struct WireClaims {
    #[serde(default)]
    sub: Claim<String>,
    #[serde(default)]
    iat: Claim<i64>,
    #[serde(default)]
    exp: Claim<i64>,
    #[serde(default)]
    nbf: Claim<i64>,
    #[serde(default)]
    iss: Claim<String>,
    #[serde(default)]
    aud: Claim<String>,
    #[serde(default)]
    jti: Claim<String>,
    #[serde(default)]
    scope: Claim<String>,
    #[serde(default)]
    client_id: Claim<String>,
    #[serde(default)]
    gty: Claim<String>,
}

/// The `gty` (grant type) claim of machine tokens: the `grant_type` of RFC 6749 §4.4.2.
pub const CLIENT_CREDENTIALS_GTY: &str = "client_credentials";

/// Which kind of subject a verification accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SubjectKind {
    /// `sub` is a user id; no `client_id` nor `gty`.
    User,
    /// `sub` and `client_id` are a service key's id; `gty` is `client_credentials`.
    Machine,
}

/// What every access token yields once its claims are checked, before it is read as a
/// user's or a machine's.
struct Checked {
    sub: Uuid,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    jti: String,
    scope: Option<String>,
}

/// The longest access token accepted, in bytes: ours are a few hundred, and refusing
/// larger input up front keeps a hostile header from costing a large decode.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// One verifying key of the ring, with a validation pinned to its algorithm.
struct OwnKey {
    kid: std::sync::Arc<str>,
    alg: JwsAlgorithm,
    decoding: DecodingKey,
    validation: Validation,
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
    /// `tokens.max_access_ttl` in whole seconds, rounded up.
    max_ttl: i64,
    accept_legacy_typ: bool,
    issuer: String,
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
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        let keys: Vec<OwnKey> = ring
            .verifying_keys()
            .map(|k| OwnKey {
                kid: k.kid.clone(),
                alg: k.alg,
                decoding: k.decoding.clone(),
                validation: validation(k.alg),
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
            max_ttl: ceil_seconds(cfg.max_access_ttl),
            accept_legacy_typ: cfg.accept_legacy_typ,
            issuer: cfg.issuer.clone(),
            jwks: ring.jwks_json(),
            public_algorithms: ring.public_algorithms(),
        })
    }

    pub(super) fn sign<T: Serialize>(&self, claims: &T) -> Result<String> {
        jsonwebtoken::encode(&self.header, claims, &self.encoding)
            .map_err(|e| Error::internal("jwt signing", e))
    }

    /// Verifies a user's access token for `audience` at `now`.
    pub(super) fn verify(
        &self,
        token: &str,
        audience: Audience,
        now: Timestamp,
    ) -> Result<AccessClaims> {
        let claims = self.decode(token)?;
        let c = self.check(claims, audience, SubjectKind::User, now.unix_timestamp())?;
        Ok(AccessClaims {
            sub: UserId(c.sub),
            iat: c.iat,
            exp: c.exp,
            iss: c.iss,
            aud: c.aud,
            jti: c.jti,
            scope: c.scope,
        })
    }

    /// Verifies a machine token (audience `api`) at `now`.
    pub(super) fn verify_machine(&self, token: &str, now: Timestamp) -> Result<MachineClaims> {
        let claims = self.decode(token)?;
        let c = self.check(
            claims,
            Audience::Api,
            SubjectKind::Machine,
            now.unix_timestamp(),
        )?;
        let scope = c.scope.unwrap_or_default();
        Ok(MachineClaims {
            client_id: ApiKeyId(c.sub),
            scopes: scope
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            iat: c.iat,
            exp: c.exp,
            iss: c.iss,
            jti: c.jti,
        })
    }

    /// The payload of a token whose header is ours and whose signature verifies.
    fn decode(&self, token: &str) -> Result<WireClaims> {
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
        // is refused by `decode` (RFC 8725 §3.1). It checks the signature and nothing else.
        let data = jsonwebtoken::decode::<WireClaims>(token, &key.decoding, &key.validation)
            .map_err(|e| map_decode_error(e.kind()))?;
        if !self.typ_accepted(data.header.typ.as_deref()) {
            return Err(Error::InvalidToken);
        }
        Ok(data.claims)
    }

    /// Explicit typing (RFC 8725 §3.11): `at+jwt`, or `application/at+jwt` (RFC 7515
    /// §4.1.9: the prefix may be left out, and media types compare case-insensitively);
    /// `JWT` only while [`TokenConfig::accept_legacy_typ`] is set.
    fn typ_accepted(&self, typ: Option<&str>) -> bool {
        typ.is_some_and(|t| {
            t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP)
                || t.eq_ignore_ascii_case("application/at+jwt")
                || (self.accept_legacy_typ && t.eq_ignore_ascii_case("JWT"))
        })
    }

    /// The checks on the claims of a token whose signature and header passed, at `now`
    /// (Unix seconds), in the order [`Auth::verify_access`] and
    /// [`Auth::verify_machine_token`] document.
    fn check(
        &self,
        c: WireClaims,
        audience: Audience,
        kind: SubjectKind,
        now: i64,
    ) -> Result<Checked> {
        let iss = c.iss.required("iss")?;
        let aud = c.aud.required("aud")?;
        let sub = c.sub.required("sub")?;
        let iat = c.iat.required("iat")?;
        let exp = c.exp.required("exp")?;
        let jti = c.jti.required("jti")?;
        if jti.is_empty() {
            return Err(Error::ClaimInvalid("jti"));
        }
        let nbf = c.nbf.optional("nbf")?;
        let scope = c.scope.optional("scope")?;
        let client_id = c.client_id.optional("client_id")?;
        let gty = c.gty.optional("gty")?;
        if iss != self.issuer {
            return Err(Error::InvalidToken);
        }
        if aud != audience.as_str() {
            return Err(Error::WrongAudience);
        }
        // Either mark makes a machine token: a user's token carries neither.
        let machine = client_id.is_some() || gty.is_some();
        match kind {
            SubjectKind::User if machine => return Err(Error::WrongTokenKind),
            SubjectKind::Machine if !machine => return Err(Error::WrongTokenKind),
            SubjectKind::User => {}
            SubjectKind::Machine => {
                if gty.as_deref() != Some(CLIENT_CREDENTIALS_GTY) {
                    return Err(Error::ClaimInvalid("gty"));
                }
                if client_id.as_deref() != Some(sub.as_str()) {
                    return Err(Error::ClaimInvalid("client_id"));
                }
                if scope.is_none() {
                    return Err(Error::ClaimInvalid("scope"));
                }
            }
        }
        let skewed = now.saturating_add(self.leeway);
        if now >= exp.saturating_add(self.leeway) {
            return Err(Error::TokenExpired);
        }
        if iat > skewed || nbf.is_some_and(|nbf| nbf > skewed) {
            return Err(Error::TokenNotYetValid);
        }
        // With `iat <= now + leeway` above, this also keeps `exp <= now + cap + leeway`.
        if exp <= iat || exp - iat > self.max_ttl {
            return Err(Error::ClaimInvalid("exp"));
        }
        // The hyphenated form we write (36 characters), not the other forms `Uuid` parses.
        let sub = Uuid::parse_str(&sub)
            .ok()
            .filter(|id| sub.len() == 36 && !id.is_nil())
            .ok_or(Error::ClaimInvalid("sub"))?;
        Ok(Checked {
            sub,
            iat,
            exp,
            iss,
            aud,
            jti,
            scope,
        })
    }
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwt").finish_non_exhaustive()
    }
}

/// Checks the signature with `alg` only; `Jwt::check` checks every claim.
fn validation(alg: JwsAlgorithm) -> Validation {
    let mut v = Validation::new(alg.jwt());
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.leeway = 0;
    v.required_spec_claims.clear();
    v
}

/// A duration in whole seconds, rounded up: a lifetime of at most `d` spans at most this
/// many seconds between the whole-second `iat` and `exp` we write.
fn ceil_seconds(d: time::Duration) -> i64 {
    let whole = d.whole_seconds();
    if d.subsec_nanoseconds() > 0 {
        whole.saturating_add(1)
    } else {
        whole
    }
}

fn map_decode_error(kind: &ErrorKind) -> Error {
    match kind {
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

    /// Verifies an access token for `audience` against the clock, and returns its claims.
    /// A token is accepted only if it is one this `Auth` would issue; the returned claims
    /// are therefore always usable (`sub` is a [`UserId`]).
    ///
    /// Refused, in this order, with:
    /// - [`Error::MalformedToken`]: longer than 8 KiB, or not a compact JWS with a JSON
    ///   header and a JSON object as payload.
    /// - [`Error::InvalidToken`]: the header is not ours or the signature does not verify:
    ///   a `crit` header (we implement no extension, RFC 7515 §4.1.11); an unknown `kid`
    ///   (or none, unless the ring has a key for kid-less tokens); an `alg` other than the
    ///   key's (the key pins the algorithm, never the header, RFC 8725 §3.1); a bad
    ///   signature; a `typ` other than `at+jwt` (RFC 9068 §2.1; `application/at+jwt` and
    ///   any letter case allowed, RFC 7515 §4.1.9), or a missing `typ`. The `typ: JWT` of
    ///   tokens issued before access tokens were typed is accepted while
    ///   [`TokenConfig::accept_legacy_typ`] is set (the default, for upgrades with live
    ///   tokens).
    /// - [`Error::ClaimInvalid`] naming the claim: one of the claims we write (`iss`,
    ///   `aud`, `sub`, `iat`, `exp` as integers, a non-empty `jti`) is missing, or any of
    ///   them, `nbf`, `scope`, `client_id` or `gty`, is not of the JSON type we write it
    ///   with. A missing claim is always this variant, whichever claim it is.
    /// - [`Error::InvalidToken`]: `iss` is not the configured issuer.
    /// - [`Error::WrongAudience`]: `aud` is not `audience`.
    /// - [`Error::WrongTokenKind`]: a machine token (it carries `client_id` or `gty`; see
    ///   [`Auth::issue_machine_token`]): its `sub` is a service key's id, never a user's.
    /// - [`Error::TokenExpired`]: `now >= exp + leeway` (RFC 7519 §4.1.4).
    /// - [`Error::TokenNotYetValid`]: `iat` or `nbf` later than `now + leeway` (RFC 7519
    ///   §4.1.5; we write no `nbf`, a past one is accepted).
    /// - [`Error::ClaimInvalid`]`("exp")`: a lifetime `exp - iat` that is not positive or
    ///   longer than [`TokenConfig::max_access_ttl`]. With the `iat` check above, no `exp`
    ///   past `now + max_access_ttl + leeway` is ever accepted. The cap is enforced at
    ///   verification too, so lowering it cuts short live tokens issued under a higher one.
    /// - [`Error::ClaimInvalid`]`("sub")`: `sub` is not a UUID in the hyphenated form we
    ///   write, or is the nil UUID.
    ///
    /// Every check on the claims runs after the signature verified. `leeway` is
    /// [`TokenConfig::leeway`].
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
        let claims = AccessClaims {
            sub: user,
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            iss: self.config.tokens.issuer.clone(),
            aud: audience.as_str().to_owned(),
            jti: self.new_jti(),
            scope,
        };
        Ok((self.jwt.sign(&claims)?, expires_at))
    }

    /// A fresh `jti`: 128 random bits, base64url.
    pub(super) fn new_jti(&self) -> String {
        let mut jti = [0u8; 16];
        self.rng.fill(&mut jti);
        URL_SAFE_NO_PAD.encode(jti)
    }

    /// The access lifetime of a user's token under `profile` (`None`: standard), whose
    /// configured access lifetime is `ttl`: the standard profile's is shortened by a random
    /// amount in `[0, tokens.access_ttl_jitter]`; a named profile's is `ttl` exactly.
    pub(super) fn access_lifetime(
        &self,
        profile: Option<&str>,
        ttl: time::Duration,
    ) -> time::Duration {
        let jitter = self.config.tokens.access_ttl_jitter;
        let standard = profile.is_none_or(|p| p == STANDARD_PROFILE);
        if !standard || !jitter.is_positive() {
            // No draw: the randomness is consumed only when jitter is configured.
            return ttl;
        }
        let mut raw = [0u8; 8];
        self.rng.fill(&mut raw);
        ttl - jitter_draw(u64::from_le_bytes(raw), jitter)
    }
}

/// Maps a uniform 64-bit draw onto `[0, max]` in whole microseconds (Lemire's
/// multiply-shift: `r * (n + 1) / 2^64`), so `0` gives zero and `u64::MAX` gives `max`.
/// Uniform up to a bias of `(n + 1) / 2^64`, below 2^-27 for any jitter under a day.
fn jitter_draw(r: u64, max: time::Duration) -> time::Duration {
    let micros = u64::try_from(max.whole_microseconds()).unwrap_or(0);
    let span = u128::from(micros) + 1;
    let drawn = (u128::from(r) * span) >> 64;
    time::Duration::microseconds(i64::try_from(drawn).unwrap_or(i64::MAX))
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
    /// access lifetime of `profile` (`None`: standard, shortened by the configured
    /// [`TokenConfig::access_ttl_jitter`]). A browser (`bff`) verifier refuses it.
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
        let ttl = self.access_lifetime(profile, lifetimes.access_ttl);
        let (token, expires_at) = self.mint_access(user, Audience::Api, scope, self.now(), ttl)?;
        Ok(AccessToken { token, expires_at })
    }

    /// Verifies a user's `api` access token and, when given, that its scopes cover
    /// `required_scope`. Errors: those of [`Auth::verify_access`] (a machine token is
    /// [`Error::WrongTokenKind`]: verify it with [`Auth::verify_machine_token`]), and
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // test code

    use jsonwebtoken::Algorithm;
    use serde_json::{Value, json};
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::config::{Config, SigningKey};

    const ISSUER: &str = "https://auth.test";
    const SECRET: [u8; 32] = [9u8; 32];
    const NOW: Timestamp = datetime!(2030-01-01 00:00:00.25 UTC);
    const SUB: &str = "0190b3a4-7c2e-7d4f-8a1b-2c3d4e5f6a7b";

    fn config() -> TokenConfig {
        Config::new(ISSUER, SigningKey::new(SECRET)).tokens
    }

    fn jwt(cfg: &TokenConfig) -> Jwt {
        Jwt::new(cfg).unwrap()
    }

    fn now() -> i64 {
        NOW.unix_timestamp()
    }

    /// The claims we would write at `NOW`, for `bff`, with the default 15 min lifetime.
    fn claims() -> Value {
        json!({
            "sub": SUB, "iat": now(), "exp": now() + 900, "iss": ISSUER, "aud": "bff", "jti": "abc",
        })
    }

    /// The header we would write: our algorithm, kid and typ.
    fn header() -> Value {
        let key = PrivateKey::hs256(&SigningKey::new(SECRET)).unwrap();
        json!({ "alg": "HS256", "typ": "at+jwt", "kid": key.kid() })
    }

    /// A token with exactly this header and payload, signed with our own key.
    fn signed(header: &Value, payload: &Value) -> String {
        let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        let message = format!("{}.{}", b64(header), b64(payload));
        let key = EncodingKey::from_secret(&SECRET);
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).unwrap();
        format!("{message}.{signature}")
    }

    fn with(mut value: Value, key: &str, v: Value) -> Value {
        value[key] = v;
        value
    }

    fn without(mut value: Value, key: &str) -> Value {
        value.as_object_mut().unwrap().remove(key);
        value
    }

    fn verify(jwt: &Jwt, header: &Value, payload: &Value) -> Result<AccessClaims> {
        jwt.verify(&signed(header, payload), Audience::Bff, NOW)
    }

    #[test]
    fn our_tokens_are_typed_and_verify_into_usable_claims() {
        let jwt = jwt(&config());
        let claims = verify(&jwt, &header(), &claims()).unwrap();
        assert_eq!(claims.user_id(), UserId(Uuid::parse_str(SUB).unwrap()));
        let ours = AccessClaims {
            sub: UserId::new(),
            iat: now(),
            exp: now() + 60,
            iss: ISSUER.into(),
            aud: "api".into(),
            jti: "j".into(),
            scope: Some("read".into()),
        };
        let token = jwt.sign(&ours).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.typ.as_deref(), Some(ACCESS_TOKEN_TYP));
        assert_eq!(jwt.verify(&token, Audience::Api, NOW).unwrap(), ours);
    }

    #[test]
    fn a_crit_header_is_refused() {
        let jwt = jwt(&config());
        for crit in [json!(["exp"]), json!(["b64"]), json!([])] {
            let r = verify(&jwt, &with(header(), "crit", crit), &claims());
            assert!(matches!(r, Err(Error::InvalidToken)), "{r:?}");
        }
    }

    #[test]
    fn typ_must_be_at_jwt_or_the_legacy_jwt_while_allowed() {
        let mut cfg = config();
        let lenient = jwt(&cfg);
        cfg.accept_legacy_typ = false;
        let strict = jwt(&cfg);
        for typ in [
            "at+jwt",
            "application/at+jwt",
            "AT+JWT",
            "Application/At+Jwt",
        ] {
            let h = with(header(), "typ", json!(typ));
            verify(&lenient, &h, &claims()).unwrap();
            verify(&strict, &h, &claims()).unwrap();
        }
        for typ in ["JWT", "jwt"] {
            let h = with(header(), "typ", json!(typ));
            verify(&lenient, &h, &claims()).unwrap();
            let r = verify(&strict, &h, &claims());
            assert!(matches!(r, Err(Error::InvalidToken)), "{typ}: {r:?}");
        }
        for typ in [
            "",
            "JOSE",
            "application/jwt",
            "dpop+jwt",
            "secevent+jwt",
            "at+jwt ",
        ] {
            let h = with(header(), "typ", json!(typ));
            for jwt in [&lenient, &strict] {
                let r = verify(jwt, &h, &claims());
                assert!(matches!(r, Err(Error::InvalidToken)), "{typ:?}: {r:?}");
            }
        }
        for jwt in [&lenient, &strict] {
            let r = verify(jwt, &without(header(), "typ"), &claims());
            assert!(matches!(r, Err(Error::InvalidToken)), "no typ: {r:?}");
        }
    }

    #[test]
    fn every_claim_we_write_is_required_and_named_when_missing() {
        let jwt = jwt(&config());
        for name in ["iss", "aud", "sub", "iat", "exp", "jti"] {
            let r = verify(&jwt, &header(), &without(claims(), name));
            assert!(
                matches!(r, Err(Error::ClaimInvalid(n)) if n == name),
                "{name}: {r:?}"
            );
        }
        // `scope` and `nbf` are optional.
        verify(
            &jwt,
            &header(),
            &with(claims(), "scope", json!("read write")),
        )
        .unwrap();
        verify(&jwt, &header(), &with(claims(), "nbf", json!(now() - 5))).unwrap();
    }

    #[test]
    fn a_claim_of_another_type_is_named() {
        let jwt = jwt(&config());
        let cases = [
            ("iss", json!(["https://auth.test"])),
            ("aud", json!(["bff"])),
            ("sub", json!(42)),
            ("iat", json!(now().to_string())),
            ("exp", json!(now() as f64 + 900.5)),
            ("exp", Value::Null),
            ("jti", json!(7)),
            ("jti", json!("")),
            ("nbf", json!("soon")),
            ("scope", json!(["read"])),
        ];
        for (name, value) in cases {
            let r = verify(&jwt, &header(), &with(claims(), name, value.clone()));
            assert!(
                matches!(r, Err(Error::ClaimInvalid(n)) if n == name),
                "{name} = {value}: {r:?}"
            );
        }
    }

    #[test]
    fn issuer_audience_and_expiry() {
        let jwt = jwt(&config());
        let r = verify(
            &jwt,
            &header(),
            &with(claims(), "iss", json!("https://x.test")),
        );
        assert!(matches!(r, Err(Error::InvalidToken)), "{r:?}");
        let r = verify(&jwt, &header(), &with(claims(), "aud", json!("api")));
        assert!(matches!(r, Err(Error::WrongAudience)), "{r:?}");
        let at = |exp: i64| with(with(claims(), "iat", json!(now() - 60)), "exp", json!(exp));
        verify(&jwt, &header(), &at(now() + 1)).unwrap();
        let r = verify(&jwt, &header(), &at(now()));
        assert!(matches!(r, Err(Error::TokenExpired)), "{r:?}");
    }

    #[test]
    fn nbf_and_iat_in_the_future_beyond_the_leeway_are_refused() {
        let mut cfg = config();
        let strict = jwt(&cfg);
        for claim in ["nbf", "iat"] {
            let r = verify(&strict, &header(), &with(claims(), claim, json!(now() + 1)));
            assert!(matches!(r, Err(Error::TokenNotYetValid)), "{claim}: {r:?}");
        }
        cfg.leeway = Duration::seconds(30);
        let skewed = jwt(&cfg);
        for claim in ["nbf", "iat"] {
            verify(
                &skewed,
                &header(),
                &with(claims(), claim, json!(now() + 30)),
            )
            .unwrap();
            let r = verify(
                &skewed,
                &header(),
                &with(claims(), claim, json!(now() + 31)),
            );
            assert!(matches!(r, Err(Error::TokenNotYetValid)), "{claim}: {r:?}");
        }
    }

    #[test]
    fn the_lifetime_cap_holds_at_verification() {
        let mut cfg = config();
        cfg.max_access_ttl = Duration::hours(1);
        let capped = jwt(&cfg);
        let lifetime =
            |iat: i64, exp: i64| with(with(claims(), "iat", json!(iat)), "exp", json!(exp));
        // Exactly the cap, issued a while ago: fine.
        verify(
            &capped,
            &header(),
            &lifetime(now() - 600, now() - 600 + 3600),
        )
        .unwrap();
        // One second over the cap, whether issued now or a while ago.
        for iat in [now(), now() - 600] {
            let r = verify(&capped, &header(), &lifetime(iat, iat + 3601));
            assert!(matches!(r, Err(Error::ClaimInvalid("exp"))), "{r:?}");
        }
        // `exp` past `now + cap`: refused whatever `iat` claims.
        for iat in [now() - 600, now(), now() + 1] {
            let r = verify(&capped, &header(), &lifetime(iat, now() + 3601));
            assert!(
                matches!(r, Err(Error::ClaimInvalid("exp") | Error::TokenNotYetValid)),
                "iat {iat}: {r:?}"
            );
        }
        // Not positive: `exp` at or before `iat` (within the leeway, so not expired).
        cfg.leeway = Duration::seconds(60);
        let skewed = jwt(&cfg);
        for exp in [now() + 30, now() + 20] {
            let r = verify(&skewed, &header(), &lifetime(now() + 30, exp));
            assert!(matches!(r, Err(Error::ClaimInvalid("exp"))), "{r:?}");
        }
        // A fractional cap is rounded up: a 90.5 s lifetime spans 91 whole seconds.
        cfg.leeway = Duration::ZERO;
        cfg.max_access_ttl = Duration::milliseconds(90_500);
        let fractional = jwt(&cfg);
        verify(&fractional, &header(), &lifetime(now(), now() + 91)).unwrap();
        let r = verify(&fractional, &header(), &lifetime(now(), now() + 92));
        assert!(matches!(r, Err(Error::ClaimInvalid("exp"))), "{r:?}");
    }

    #[test]
    fn sub_must_be_a_user_id() {
        let jwt = jwt(&config());
        let simple = SUB.replace('-', "");
        let braced = format!("{{{SUB}}}");
        let urn = format!("urn:uuid:{SUB}");
        let nil = Uuid::nil().to_string();
        let short = &SUB[..23];
        for sub in ["", "alice", short, &simple, &braced, &urn, &nil] {
            let r = verify(&jwt, &header(), &with(claims(), "sub", json!(sub)));
            assert!(
                matches!(r, Err(Error::ClaimInvalid("sub"))),
                "{sub:?}: {r:?}"
            );
        }
        let upper = SUB.to_uppercase();
        let claims = verify(&jwt, &header(), &with(claims(), "sub", json!(upper))).unwrap();
        assert_eq!(claims.sub.to_string(), SUB);
    }

    /// The claims of a machine token we would write at `NOW`: `sub` and `client_id` the
    /// key id, `gty` client credentials, audience `api`, lifetime 1 h.
    fn machine_claims() -> Value {
        json!({
            "sub": SUB, "client_id": SUB, "gty": "client_credentials", "iat": now(),
            "exp": now() + 3600, "iss": ISSUER, "aud": "api", "jti": "m", "scope": "a:b c",
        })
    }

    fn verify_machine(jwt: &Jwt, payload: &Value) -> Result<MachineClaims> {
        jwt.verify_machine(&signed(&header(), payload), NOW)
    }

    #[test]
    fn a_machine_token_is_never_a_users() {
        let jwt = jwt(&config());
        let machine = verify_machine(&jwt, &machine_claims()).unwrap();
        assert_eq!(machine.client_id.0, Uuid::parse_str(SUB).unwrap());
        assert_eq!(machine.scopes, ["a:b", "c"]);
        // Either mark alone makes it a machine token that user verification refuses,
        // whatever its value.
        let marked = [
            machine_claims(),
            without(machine_claims(), "gty"),
            without(machine_claims(), "client_id"),
            with(claims(), "client_id", json!(SUB)),
            with(claims(), "gty", json!("password")),
            with(claims(), "client_id", json!("")),
        ];
        for payload in &marked {
            let api = with(payload.clone(), "aud", json!("api"));
            let r = jwt.verify(&signed(&header(), &api), Audience::Api, NOW);
            assert!(matches!(r, Err(Error::WrongTokenKind)), "{payload}: {r:?}");
        }
        // Judged after the audience, so a `bff` verifier says the audience is wrong.
        let r = jwt.verify(&signed(&header(), &machine_claims()), Audience::Bff, NOW);
        assert!(matches!(r, Err(Error::WrongAudience)), "{r:?}");
        // A mark of the wrong JSON type is malformed, not a user's token either.
        let r = verify(&jwt, &header(), &with(claims(), "client_id", json!(7)));
        assert!(matches!(r, Err(Error::ClaimInvalid("client_id"))), "{r:?}");
    }

    #[test]
    fn a_users_token_is_never_a_machines() {
        let jwt = jwt(&config());
        for scope in [None, Some("a:b")] {
            let mut user = with(claims(), "aud", json!("api"));
            if let Some(scope) = scope {
                user = with(user, "scope", json!(scope));
            }
            let r = verify_machine(&jwt, &user);
            assert!(matches!(r, Err(Error::WrongTokenKind)), "{r:?}");
        }
        let r = verify_machine(&jwt, &with(machine_claims(), "aud", json!("bff")));
        assert!(matches!(r, Err(Error::WrongAudience)), "{r:?}");
    }

    #[test]
    fn a_machine_token_must_be_whole() {
        let jwt = jwt(&config());
        let other = "0190b3a4-7c2e-7d4f-8a1b-2c3d4e5f6a7c";
        let cases = [
            (without(machine_claims(), "gty"), "gty"),
            (with(machine_claims(), "gty", json!("password")), "gty"),
            (without(machine_claims(), "client_id"), "client_id"),
            (
                with(machine_claims(), "client_id", json!(other)),
                "client_id",
            ),
            (with(machine_claims(), "client_id", json!(7)), "client_id"),
            (without(machine_claims(), "scope"), "scope"),
            (without(machine_claims(), "jti"), "jti"),
        ];
        for (payload, name) in cases {
            let r = verify_machine(&jwt, &payload);
            assert!(
                matches!(r, Err(Error::ClaimInvalid(n)) if n == name),
                "{payload}: {r:?}"
            );
        }
        let both = |v: &str| {
            with(
                with(machine_claims(), "sub", json!(v)),
                "client_id",
                json!(v),
            )
        };
        let r = verify_machine(&jwt, &both("service-a"));
        assert!(matches!(r, Err(Error::ClaimInvalid("sub"))), "{r:?}");
        // The lifetime cap and the clock hold for machine tokens too.
        let long = with(machine_claims(), "exp", json!(now() + 86_401));
        let r = verify_machine(&jwt, &long);
        assert!(matches!(r, Err(Error::ClaimInvalid("exp"))), "{r:?}");
        let past = with(
            with(machine_claims(), "iat", json!(now() - 60)),
            "exp",
            json!(now()),
        );
        let r = verify_machine(&jwt, &past);
        assert!(matches!(r, Err(Error::TokenExpired)), "{r:?}");
        let empty = verify_machine(&jwt, &with(machine_claims(), "scope", json!(""))).unwrap();
        assert!(empty.scopes.is_empty());
    }

    #[test]
    fn jitter_draws_span_zero_to_the_maximum() {
        let max = Duration::seconds(90);
        assert_eq!(jitter_draw(0, max), Duration::ZERO);
        assert_eq!(jitter_draw(u64::MAX, max), max);
        assert_eq!(
            jitter_draw(u64::MAX / 2, max),
            Duration::microseconds(45_000_000)
        );
        assert_eq!(jitter_draw(u64::MAX, Duration::ZERO), Duration::ZERO);
        assert_eq!(jitter_draw(12345, Duration::seconds(-5)), Duration::ZERO);
        // Monotonic in the draw, and every draw within [0, max].
        let mut last = Duration::ZERO;
        for step in 0..=64u32 {
            let r = u64::MAX.checked_shr(64 - step).unwrap_or(0);
            let d = jitter_draw(r, max);
            assert!(d >= last && d <= max, "{r}: {d}");
            last = d;
        }
    }

    #[test]
    fn claims_are_judged_only_after_the_signature() {
        let jwt = jwt(&config());
        let token = signed(&header(), &without(claims(), "sub"));
        let (message, _) = token.rsplit_once('.').unwrap();
        let other = EncodingKey::from_secret(&[8u8; 32]);
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &other, Algorithm::HS256).unwrap();
        let r = jwt.verify(&format!("{message}.{signature}"), Audience::Bff, NOW);
        assert!(matches!(r, Err(Error::InvalidToken)), "{r:?}");
    }

    #[test]
    fn every_refusal_is_unauthenticated_but_malformed_input() {
        use crate::error::ErrorKind as K;
        let jwt = jwt(&config());
        let refusals = [
            verify(&jwt, &with(header(), "crit", json!(["exp"])), &claims()),
            verify(&jwt, &without(header(), "typ"), &claims()),
            verify(&jwt, &header(), &without(claims(), "jti")),
            verify(&jwt, &header(), &with(claims(), "iat", json!(now() + 5))),
            verify(
                &jwt,
                &header(),
                &with(claims(), "exp", json!(now() + 90_000)),
            ),
            verify(&jwt, &header(), &with(claims(), "sub", json!("alice"))),
        ];
        for r in refusals {
            assert_eq!(r.unwrap_err().kind(), K::Unauthenticated);
        }
        let r = jwt.verify("e30.e30.", Audience::Bff, NOW);
        assert_eq!(r.unwrap_err().kind(), K::InvalidInput);
    }
}
