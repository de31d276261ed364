//! The key cache of an [`Issuer`](super::Issuer).
//!
//! The keys live in one immutable snapshot behind an [`ArcSwap`]: a verification with a
//! known `kid` and fresh keys loads the snapshot (no lock, no write to shared memory but
//! the snapshot's reference count) and never waits for a fetch. Every refetch runs under
//! one async mutex, so concurrent requests share it:
//!
//! - an unknown `kid` waits for the mutex; if a fetch completed meanwhile, the new
//!   snapshot answers; otherwise it fetches, at most once per
//!   [`CachePolicy::min_refetch_interval`] (a flood of forged `kid`s costs the provider
//!   one request per interval);
//! - past the snapshot's lifetime (from `Cache-Control`, clamped), the first request to
//!   see it refetches while the others keep using the known keys;
//! - when refetches fail, known keys are served until [`CachePolicy::max_staleness`]
//!   past their lifetime, then verification fails closed with
//!   [`Error::IssuerUnavailable`].
//!
//! Time comes from the injected [`Clock`], so lifetimes and staleness are tested without
//! sleeping.

use std::sync::Arc;

use arc_swap::ArcSwap;
use jsonwebtoken::{DecodingKey, Validation};
use time::{Duration, OffsetDateTime};

use super::fetch::{Fetcher, cache_lifetime, fetch_document};
use crate::clock::Clock;
use crate::error::{BoxError, Error, Result};
use crate::keys::{JwsAlgorithm, VerifyingKey, parse_jwks};

/// How long an issuer's keys are kept and how often they may be fetched.
///
/// Defaults: lifetime from `Cache-Control: max-age` clamped to 1 min – 24 h, 10 min when
/// absent or `no-cache`; refetch at most every 30 s; known keys served up to 6 h past
/// their lifetime while the provider cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CachePolicy {
    /// Lifetime when the response has no usable `max-age` (absent, `no-cache`, `no-store`).
    pub default_ttl: Duration,
    /// Shortest lifetime, whatever `max-age` says.
    pub min_ttl: Duration,
    /// Longest lifetime, whatever `max-age` says.
    pub max_ttl: Duration,
    /// Fewest time between two fetch attempts, successful or not.
    pub min_refetch_interval: Duration,
    /// How long past their lifetime known keys are still used while refetches fail.
    pub max_staleness: Duration,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            default_ttl: Duration::minutes(10),
            min_ttl: Duration::minutes(1),
            max_ttl: Duration::hours(24),
            min_refetch_interval: Duration::seconds(30),
            max_staleness: Duration::hours(6),
        }
    }
}

impl CachePolicy {
    pub(crate) fn validate(&self) -> Result<()> {
        let ok = self.min_ttl.is_positive()
            && self.min_ttl <= self.default_ttl
            && self.default_ttl <= self.max_ttl
            && self.min_refetch_interval.is_positive()
            && !self.max_staleness.is_negative();
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidConfig(vec![
                "cache policy: need 0 < min_ttl <= default_ttl <= max_ttl, \
                 min_refetch_interval > 0, max_staleness >= 0"
                    .into(),
            ]))
        }
    }
}

/// One usable key: its algorithm is the only one its validation admits.
pub(crate) struct Entry {
    pub(crate) kid: Arc<str>,
    pub(crate) alg: JwsAlgorithm,
    pub(crate) decoding: DecodingKey,
    pub(crate) validation: Validation,
}

impl Entry {
    pub(crate) fn new(key: &VerifyingKey) -> Self {
        let mut v = Validation::new(key.alg.jwt());
        // Claims are checked by the issuer and the `Validator` against the injected
        // clock; jsonwebtoken only verifies the signature with the key's algorithm.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.leeway = 0;
        v.required_spec_claims.clear();
        Entry {
            kid: key.kid.clone(),
            alg: key.alg,
            decoding: key.decoding.clone(),
            validation: v,
        }
    }
}

struct Snapshot {
    keys: Vec<Arc<Entry>>,
    fresh_until: OffsetDateTime,
    serve_until: OffsetDateTime,
    generation: u64,
}

impl Snapshot {
    /// The key named `kid`; with no `kid`, the only key when there is exactly one.
    fn find(&self, kid: Option<&str>) -> Option<&Arc<Entry>> {
        match kid {
            Some(kid) => self.keys.iter().find(|k| &*k.kid == kid),
            None => match self.keys.as_slice() {
                [only] => Some(only),
                _ => None,
            },
        }
    }
}

struct RefreshState {
    last_attempt: Option<OffsetDateTime>,
    last_error: Option<String>,
}

/// Where the keys come from.
pub(crate) struct Remote {
    pub(crate) jwks_uri: String,
    pub(crate) fetcher: Arc<dyn Fetcher>,
}

pub(crate) struct KeyCache {
    snapshot: ArcSwap<Snapshot>,
    remote: Option<Remote>,
    policy: CachePolicy,
    clock: Arc<dyn Clock>,
    refresh: tokio::sync::Mutex<RefreshState>,
}

impl KeyCache {
    /// A cache of fixed keys: never fetches, never expires.
    pub(crate) fn fixed(keys: &[VerifyingKey], clock: Arc<dyn Clock>) -> Self {
        let snapshot = Snapshot {
            keys: keys.iter().map(|k| Arc::new(Entry::new(k))).collect(),
            fresh_until: OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT),
            serve_until: OffsetDateTime::new_utc(time::Date::MAX, time::Time::MIDNIGHT),
            generation: 1,
        };
        Self::with(snapshot, None, CachePolicy::default(), clock)
    }

    /// A cache of the JWKS at `remote`, empty until the first fetch.
    pub(crate) fn remote(remote: Remote, policy: CachePolicy, clock: Arc<dyn Clock>) -> Self {
        let snapshot = Snapshot {
            keys: Vec::new(),
            fresh_until: OffsetDateTime::UNIX_EPOCH,
            serve_until: OffsetDateTime::UNIX_EPOCH,
            generation: 0,
        };
        Self::with(snapshot, Some(remote), policy, clock)
    }

    fn with(
        snapshot: Snapshot,
        remote: Option<Remote>,
        policy: CachePolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        KeyCache {
            snapshot: ArcSwap::from_pointee(snapshot),
            remote,
            policy,
            clock,
            refresh: tokio::sync::Mutex::new(RefreshState {
                last_attempt: None,
                last_error: None,
            }),
        }
    }

    pub(crate) fn jwks_uri(&self) -> Option<&str> {
        self.remote.as_ref().map(|r| r.jwks_uri.as_str())
    }

    /// The key for a token whose header names `kid`.
    ///
    /// Errors: [`Error::InvalidToken`] when no key has this `kid` (after the refetch it
    /// is allowed), [`Error::IssuerUnavailable`] when no key may be served.
    pub(crate) async fn key_for(&self, kid: Option<&str>) -> Result<Arc<Entry>> {
        let now = self.clock.now();
        let (generation, stale) = {
            let snap = self.snapshot.load();
            match snap.find(kid) {
                // The hot path: a known key, fresh.
                Some(key) if now < snap.fresh_until => return Ok(Arc::clone(key)),
                Some(key) if now < snap.serve_until => (snap.generation, Some(Arc::clone(key))),
                _ => (snap.generation, None),
            }
        };
        if self.remote.is_none() {
            return Err(Error::InvalidToken);
        }
        let mut state = match stale {
            // Past its lifetime: the first request to notice refreshes; the others go on
            // with the key they know rather than wait.
            Some(key) => match self.refresh.try_lock() {
                Ok(state) => state,
                Err(_) => return Ok(key),
            },
            // Unknown `kid`: wait for the refetch in progress, or make one.
            None => self.refresh.lock().await,
        };
        if self.snapshot.load().generation == generation {
            self.refresh_locked(&mut state).await;
        }
        let now = self.clock.now();
        let snap = self.snapshot.load();
        match snap.find(kid) {
            Some(key) if now < snap.serve_until => Ok(Arc::clone(key)),
            _ if now >= snap.serve_until => Err(unavailable(&state)),
            _ => Err(Error::InvalidToken),
        }
    }

    /// Fetches the keys now unless an attempt was made within the minimum interval.
    pub(crate) async fn refresh(&self) -> Result<()> {
        if self.remote.is_none() {
            return Ok(());
        }
        let mut state = self.refresh.lock().await;
        self.refresh_locked(&mut state).await;
        match &state.last_error {
            None => Ok(()),
            Some(_) => Err(unavailable(&state)),
        }
    }

    async fn refresh_locked(&self, state: &mut RefreshState) {
        let Some(remote) = &self.remote else { return };
        let now = self.clock.now();
        if let Some(last) = state.last_attempt
            && now < last + self.policy.min_refetch_interval
        {
            return;
        }
        state.last_attempt = Some(now);
        match self.fetch(remote).await {
            Ok((keys, lifetime)) => {
                let now = self.clock.now();
                let previous = self.snapshot.load();
                let changed = previous.keys.len() != keys.len()
                    || keys
                        .iter()
                        .any(|k| previous.keys.iter().all(|p| p.kid != k.kid));
                if changed {
                    tracing::info!(jwks_uri = %remote.jwks_uri, keys = keys.len(), "issuer keys changed");
                }
                self.snapshot.store(Arc::new(Snapshot {
                    keys,
                    fresh_until: now + lifetime,
                    serve_until: now + lifetime + self.policy.max_staleness,
                    generation: previous.generation + 1,
                }));
                state.last_error = None;
            }
            Err(e) => {
                tracing::warn!(jwks_uri = %remote.jwks_uri, error = %e, "issuer keys fetch failed");
                state.last_error = Some(e.to_string());
            }
        }
    }

    async fn fetch(
        &self,
        remote: &Remote,
    ) -> std::result::Result<(Vec<Arc<Entry>>, Duration), BoxError> {
        let response = fetch_document(remote.fetcher.as_ref(), &remote.jwks_uri).await?;
        let keys = parse_jwks(&response.body)?;
        if keys.is_empty() {
            return Err(format!("{}: no usable signature key", remote.jwks_uri).into());
        }
        let p = &self.policy;
        let lifetime = cache_lifetime(
            response.cache_control.as_deref(),
            p.default_ttl,
            p.min_ttl,
            p.max_ttl,
        );
        Ok((
            keys.iter().map(|k| Arc::new(Entry::new(k))).collect(),
            lifetime,
        ))
    }
}

fn unavailable(state: &RefreshState) -> Error {
    let why = state
        .last_error
        .clone()
        .unwrap_or_else(|| "no keys fetched yet, or kept past their maximum staleness".into());
    Error::IssuerUnavailable(why.into())
}
