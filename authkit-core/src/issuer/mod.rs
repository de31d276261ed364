//! Verifying tokens of other issuers: identity providers, other services.
//!
//! An [`Issuer`] knows one issuer identifier and where its public keys are:
//!
//! - [`Issuer::from_keys`]: keys given in code;
//! - [`Issuer::from_jwks_url`]: a JWK Set URL (RFC 7517 §5);
//! - [`Issuer::from_openid_discovery`]: OpenID Connect Discovery 1.0, whose document at
//!   `{issuer}/.well-known/openid-configuration` names the `jwks_uri`;
//! - [`Issuer::from_oauth_metadata`]: OAuth 2.0 Authorization Server Metadata (RFC 8414),
//!   at `/.well-known/oauth-authorization-server` inserted before the issuer's path.
//!
//! With discovery, the document's `issuer` must equal the configured one exactly
//! (Discovery §4.3, RFC 8414 §3.3), or [`IssuerBuilder::build`] fails with
//! [`Error::IssuerMismatch`]: a provider cannot speak for another.
//!
//! Two calls verify a token:
//!
//! - [`Issuer::verify`] checks the signature, the issuer, and the claims with a
//!   [`Validator`] (expiry, audience, …), and returns problems that do not invalidate the
//!   token as [`ValidationWarning`]s. This is the one to authorize with.
//! - [`Issuer::dangerous_verify_signature_only`] checks the signature and the issuer only:
//!   an expired token, or one minted for another audience, passes. Never authorize with
//!   it.
//!
//! Keys are picked by `kid` and carry their algorithm (RFC 8725 §3.1); HMAC keys are never
//! accepted from an issuer, and keys whose `use` or `key_ops` are not for verifying
//! signatures are ignored. How keys are cached and refetched is described on
//! [`CachePolicy`].

mod cache;
mod claims;
mod fetch;
#[cfg(feature = "http")]
mod http;

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use serde::de::DeserializeOwned;

pub use cache::CachePolicy;
pub use claims::{HasStandardClaims, StandardClaims, ValidationWarning, Validator};
pub use fetch::{FetchResponse, Fetcher, MAX_DOCUMENT_BYTES};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use http::HttpFetcher;

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result};
use crate::keys::{JwsAlgorithm, VerifyingKey};
use cache::{KeyCache, Remote};

/// The longest token accepted by default, in bytes (ID tokens with many claims run to a
/// few KiB); longer input is refused before any decoding.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A token whose signature (and, through [`Issuer::verify`], claims) checked out.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Verified<T> {
    /// The claims, in the caller's type.
    pub claims: T,
    /// The `kid` of the key that verified the signature.
    pub kid: Arc<str>,
    /// The algorithm of that key.
    pub algorithm: JwsAlgorithm,
    /// Problems that did not make the token invalid.
    pub warnings: Vec<ValidationWarning>,
}

/// Another issuer whose tokens this application accepts. Cheap to clone (shared state);
/// safe to use from many tasks and threads at once.
#[derive(Clone)]
pub struct Issuer {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    cache: KeyCache,
    clock: Arc<dyn Clock>,
    max_token_bytes: usize,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.inner.issuer)
            .field("jwks_uri", &self.inner.cache.jwks_uri())
            .finish_non_exhaustive()
    }
}

enum Source {
    Keys(Vec<VerifyingKey>),
    JwksUrl(String),
    OpenIdDiscovery,
    OAuthMetadata,
}

/// Builds an [`Issuer`]; see [`Issuer::from_keys`] and the other constructors.
pub struct IssuerBuilder {
    issuer: String,
    source: Source,
    fetcher: Option<Arc<dyn Fetcher>>,
    clock: Arc<dyn Clock>,
    policy: CachePolicy,
    allow_loopback_http: bool,
    max_token_bytes: usize,
}

impl fmt::Debug for IssuerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerBuilder")
            .field("issuer", &self.issuer)
            .field("fetcher", &self.fetcher)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    fn builder(issuer: impl Into<String>, source: Source) -> IssuerBuilder {
        IssuerBuilder {
            issuer: issuer.into(),
            source,
            fetcher: None,
            clock: Arc::new(SystemClock),
            policy: CachePolicy::default(),
            allow_loopback_http: false,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
        }
    }

    /// An issuer `issuer` whose tokens are signed by `keys` (asymmetric only; never
    /// fetched). Tokens with no `kid` are accepted only when there is exactly one key.
    pub fn from_keys(issuer: impl Into<String>, keys: Vec<VerifyingKey>) -> IssuerBuilder {
        Self::builder(issuer, Source::Keys(keys))
    }

    /// An issuer `issuer` whose keys are the JWK Set at `jwks_url` (`https`).
    pub fn from_jwks_url(issuer: impl Into<String>, jwks_url: impl Into<String>) -> IssuerBuilder {
        Self::builder(issuer, Source::JwksUrl(jwks_url.into()))
    }

    /// An OpenID Provider: `jwks_uri` is read, when building, from
    /// `{issuer}/.well-known/openid-configuration`, whose `issuer` must equal `issuer`.
    pub fn from_openid_discovery(issuer: impl Into<String>) -> IssuerBuilder {
        Self::builder(issuer, Source::OpenIdDiscovery)
    }

    /// An OAuth 2.0 authorization server: `jwks_uri` is read, when building, from its
    /// RFC 8414 metadata, whose `issuer` must equal `issuer`.
    pub fn from_oauth_metadata(issuer: impl Into<String>) -> IssuerBuilder {
        Self::builder(issuer, Source::OAuthMetadata)
    }

    /// The issuer identifier tokens must carry in `iss`.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The JWK Set URL, when keys are fetched.
    pub fn jwks_uri(&self) -> Option<&str> {
        self.inner.cache.jwks_uri()
    }

    /// Fetches the keys now (to warm the cache at start-up), unless a fetch was attempted
    /// within the minimum refetch interval.
    ///
    /// Errors: [`Error::IssuerUnavailable`] when the last fetch failed.
    pub async fn refresh(&self) -> Result<()> {
        self.inner.cache.refresh().await
    }

    /// Verifies `token`'s signature and issuer, then its claims with `validator`.
    ///
    /// Errors: [`Error::MalformedToken`] (not a JWS, oversize, claims not of type `T`),
    /// [`Error::InvalidToken`] (unknown `kid`, a header algorithm other than the key's,
    /// a `crit` header, bad signature, `iss` missing or not this issuer),
    /// [`Error::IssuerUnavailable`] (no key may be served), [`Error::TokenExpired`],
    /// [`Error::TokenNotYetValid`], [`Error::WrongAudience`], [`Error::ClaimInvalid`].
    pub async fn verify<T>(&self, token: &str, validator: &Validator) -> Result<Verified<T>>
    where
        T: DeserializeOwned + HasStandardClaims,
    {
        let mut verified = self.dangerous_verify_signature_only::<T>(token).await?;
        let now = self.inner.clock.now().unix_timestamp();
        verified.warnings = validator.check(verified.claims.standard(), now)?;
        Ok(verified)
    }

    /// **Not for authorization.** Verifies the signature and the issuer only: expiry,
    /// audience and every other claim go unchecked, so an expired token or one minted
    /// for another service passes. For reading claims of a token that is known good for
    /// other reasons (logging, a token-exchange step that validates separately).
    ///
    /// Errors: those of [`Issuer::verify`] up to the issuer check.
    pub async fn dangerous_verify_signature_only<T>(&self, token: &str) -> Result<Verified<T>>
    where
        T: DeserializeOwned + HasStandardClaims,
    {
        let inner = &self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(Error::MalformedToken);
        }
        let header = crate::keys::peek_header(token)?;
        if header.crit {
            // RFC 7515 §4.1.11: no extension is understood, so none may be critical.
            return Err(Error::InvalidToken);
        }
        let key = inner.cache.key_for(header.kid.as_deref()).await?;
        if header.alg != Some(key.alg) {
            return Err(Error::InvalidToken);
        }
        let claims = jsonwebtoken::decode::<T>(token, &key.decoding, &key.validation)
            .map_err(|e| map_decode_error(e.kind()))?
            .claims;
        if claims.standard().iss.as_deref() != Some(inner.issuer.as_str()) {
            return Err(Error::InvalidToken);
        }
        Ok(Verified {
            claims,
            kid: Arc::clone(&key.kid),
            algorithm: key.alg,
            warnings: Vec::new(),
        })
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

impl IssuerBuilder {
    /// Fetches documents with `fetcher` (default: [`HttpFetcher`] with the `http`
    /// feature; without it, URL sources need one).
    pub fn fetcher(mut self, fetcher: Arc<dyn Fetcher>) -> Self {
        self.fetcher = Some(fetcher);
        self
    }

    /// Reads time from `clock` (default: the system clock) for claims and key lifetimes.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the key cache policy.
    pub fn cache_policy(mut self, policy: CachePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Allows `http://` URLs on loopback hosts (`127.0.0.1`, `[::1]`, `localhost`), for
    /// tests and local development. Every other URL must be `https`.
    pub fn allow_loopback_http(mut self) -> Self {
        self.allow_loopback_http = true;
        self
    }

    /// The longest token accepted, in bytes; default [`DEFAULT_MAX_TOKEN_BYTES`].
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Checks the configuration and, for discovery, fetches the metadata document and
    /// checks its issuer. JWK Sets are fetched on first use (or by [`Issuer::refresh`]).
    ///
    /// Errors: [`Error::InvalidConfig`] (empty issuer, no keys, no fetcher, a bad cache
    /// policy), [`Error::InvalidKey`] (an HS256 key given), [`Error::IssuerDocumentInvalid`]
    /// (a URL that is not `https`, a malformed document), [`Error::IssuerMismatch`],
    /// [`Error::IssuerUnavailable`] (the metadata could not be fetched).
    pub async fn build(self) -> Result<Issuer> {
        if self.issuer.is_empty() {
            return Err(Error::InvalidConfig(vec!["issuer is empty".into()]));
        }
        self.policy.validate()?;
        let allow = self.allow_loopback_http;
        let cache = match self.source {
            Source::Keys(keys) => {
                if keys.is_empty() {
                    return Err(Error::InvalidConfig(vec!["an issuer needs a key".into()]));
                }
                if keys.iter().any(|k| k.alg.is_symmetric()) {
                    return Err(Error::InvalidKey(
                        "an issuer verifies asymmetric keys only, never an HMAC secret".into(),
                    ));
                }
                let mut kids: Vec<&str> = keys.iter().map(|k| k.kid()).collect();
                kids.sort_unstable();
                if kids.windows(2).any(|w| w[0] == w[1]) {
                    return Err(Error::InvalidConfig(vec![
                        "two issuer keys share a kid".into(),
                    ]));
                }
                KeyCache::fixed(&keys, self.clock.clone())
            }
            source => {
                let fetcher = match self.fetcher {
                    Some(f) => f,
                    None => default_fetcher()?,
                };
                let jwks_uri = match source {
                    Source::JwksUrl(url) => {
                        fetch::check_url(&url, allow)?;
                        url
                    }
                    Source::OpenIdDiscovery | Source::OAuthMetadata => {
                        fetch::check_issuer_url(&self.issuer, allow)?;
                        let url = match source {
                            Source::OpenIdDiscovery => {
                                fetch::openid_configuration_url(&self.issuer)
                            }
                            _ => fetch::oauth_metadata_url(&self.issuer),
                        };
                        let doc = fetch::fetch_document(fetcher.as_ref(), &url)
                            .await
                            .map_err(Error::IssuerUnavailable)?;
                        fetch::jwks_uri_from_metadata(&doc.body, &self.issuer, allow)?
                    }
                    Source::Keys(_) => unreachable_source()?,
                };
                KeyCache::remote(
                    Remote { jwks_uri, fetcher },
                    self.policy,
                    self.clock.clone(),
                )
            }
        };
        Ok(Issuer {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                cache,
                clock: self.clock,
                max_token_bytes: self.max_token_bytes,
            }),
        })
    }
}

fn unreachable_source() -> Result<String> {
    Err(Error::internal("issuer source", "handled above"))
}

#[cfg(feature = "http")]
fn default_fetcher() -> Result<Arc<dyn Fetcher>> {
    Ok(Arc::new(HttpFetcher::new()?))
}

#[cfg(not(feature = "http"))]
fn default_fetcher() -> Result<Arc<dyn Fetcher>> {
    Err(Error::InvalidConfig(vec![
        "fetching keys needs a Fetcher: pass one, or enable the http feature".into(),
    ]))
}
