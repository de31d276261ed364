//! API keys and service keys.
//!
//! A key reads `sk_live_<43 base64url chars><8 hex chars>`: type, environment, 256 random
//! bits, and a CRC-32 of everything before it, so a mistyped or truncated key is refused
//! without a store lookup (the scheme GitHub describes for its tokens). Only the SHA-256
//! of the whole key is stored, with a visible prefix (`sk_live_AbCd1234`) for logs and
//! UIs (OWASP REST Security Cheat Sheet, "API Keys"; the secret is shown once).
//!
//! A key may carry a rate limit ([`RateLimit`]), counted in the store in the same step as
//! the lookup where the database allows, so the limit holds across every instance
//! sharing the database. Every verification that finds a limited key counts, refused or
//! not: the secret is the credential, and the allow-list and scopes restrict what it may
//! do, not who holds it. Over the limit, [`Error::RateLimited`] says when the window
//! ends (OWASP API Security Top 10 2023, API4 "Unrestricted Resource Consumption").
//!
//! A key holds the grants of its roles, and may act for a user: its owner (delegation)
//! or, when the owner holds the configured impersonation permission, another user; see
//! [`Auth::key_acts_for`] and [`Auth::key_grants`]. Both are evaluated live, so a
//! revoked user permission stops the key too.
//!
//! Usage is buffered: a verification records its use in memory, and the buffer is written
//! in one batch ([`record_key_usage`](crate::ApiKeyStore::record_key_usage), one statement per batch in the sqlx
//! store), in a background task so no verification waits for it, when a verification
//! finds `api_keys.usage_flush_uses` uses pending or the oldest pending one
//! `api_keys.usage_flush_interval` old (checked at each verification: there is no timer),
//! or when [`Auth::flush_key_usage`] is called, which waits for writes under way. At most
//! one background flush is scheduled at a time, whatever the load. Guarantee: every
//! successful verification is counted exactly once once flushed; the stored count never
//! exceeds the real uses; uses still buffered when the process dies are lost, so call
//! `flush_key_usage` on shutdown.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ipnet::IpNet;

use super::audit::AuditEvent;
use super::{Auth, user_missing};
use crate::error::{Error, Result, StoreError};
use crate::model::{
    ApiKey, ApiKeyId, ApiKeyUpdate, Environment, KeyType, KeyUsage, RateLimit, RateWindow,
    SlugKind, Timestamp, TokenHash, UserId,
};
use crate::scope::{check_scope, check_slug, scopes_cover};
use crate::secret::{SECRET_BYTES, Secret, sha256};

/// Base64url characters of the random part.
const BODY_LEN: usize = 43;
/// Hex characters of the checksum.
const CHECKSUM_LEN: usize = 8;
/// Characters of the random part shown in the visible prefix.
const VISIBLE_LEN: usize = 8;
/// Longest name, description and metadata entry accepted, in bytes.
const MAX_TEXT_BYTES: usize = 1024;
/// Most metadata entries, allow-list entries, scopes or roles on one key.
const MAX_ENTRIES: usize = 64;
/// Longest user agent recorded, in bytes; a longer one is cut at a character boundary.
const MAX_USER_AGENT_BYTES: usize = 256;

/// What to create: [`NewApiKey::new`] sets the required fields, the rest default to none
/// (set them on the value it returns).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewApiKey {
    /// Publishable, secret or restricted.
    pub key_type: KeyType,
    /// Live or test.
    pub environment: Environment,
    /// The owning user; `None` makes a service key, whose scopes must be registered
    /// RBAC abilities.
    pub owner: Option<UserId>,
    /// The application's organization id.
    pub organization_id: Option<String>,
    /// A human name.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Scopes; `None` takes the type's defaults from the configuration.
    pub scopes: Option<Vec<String>>,
    /// Addresses and CIDR ranges allowed to use the key; empty allows every address.
    pub allowed_ips: Vec<String>,
    /// Dead at and after this instant.
    pub expires_at: Option<Timestamp>,
    /// Free-form metadata.
    pub metadata: BTreeMap<String, String>,
    /// At most this many verifications per window; `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// Roles the key holds (registered role slugs).
    pub roles: Vec<String>,
    /// The user whose rights the key also holds: the owner (delegation) or, when the
    /// owner holds [`ApiKeyConfig::impersonation_permission`](crate::config::ApiKeyConfig::impersonation_permission),
    /// another user (impersonation). Service keys act for nobody.
    pub acts_for: Option<UserId>,
}

impl NewApiKey {
    /// A key of `key_type` in `environment` named `name`, owned by `owner`
    /// (`None`: a service key).
    pub fn new(
        key_type: KeyType,
        environment: Environment,
        owner: Option<UserId>,
        name: impl Into<String>,
    ) -> Self {
        NewApiKey {
            key_type,
            environment,
            owner,
            organization_id: None,
            name: name.into(),
            description: None,
            scopes: None,
            allowed_ips: Vec::new(),
            expires_at: None,
            metadata: BTreeMap::new(),
            rate_limit: None,
            roles: Vec::new(),
            acts_for: None,
        }
    }
}

/// What a request presenting a key needs of it, for [`Auth::verify_api_key_for`]. Start
/// from [`KeyRequest::new`] (nothing required) and set what applies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyRequest<'a> {
    /// A scope the key must cover.
    pub scope: Option<&'a str>,
    /// The client's address, checked against the key's allow-list and recorded.
    pub client_ip: Option<IpAddr>,
    /// The client's `User-Agent`, recorded with the use (cut to 256 bytes).
    pub user_agent: Option<&'a str>,
    /// The only environment accepted (`Some(Environment::Live)` in production refuses
    /// `sk_test_` keys).
    pub environment: Option<Environment>,
}

impl<'a> KeyRequest<'a> {
    /// A request needing nothing in particular.
    pub fn new() -> Self {
        KeyRequest::default()
    }

    /// Requires `scope`.
    pub fn scope(mut self, scope: &'a str) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Comes from `ip`.
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.client_ip = Some(ip);
        self
    }

    /// Comes with this `User-Agent`.
    pub fn user_agent(mut self, user_agent: &'a str) -> Self {
        self.user_agent = Some(user_agent);
        self
    }

    /// Accepts only keys of `environment`.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = Some(environment);
        self
    }
}

/// A key just created or rotated: the plaintext (shown once) and the stored row.
#[derive(Clone, Debug)]
pub struct IssuedApiKey {
    /// The plaintext key, `sk_live_…`.
    pub secret: Secret,
    /// The stored key.
    pub key: ApiKey,
}

impl Auth {
    /// Creates a key after checking every field.
    ///
    /// Errors: [`Error::InvalidScope`]; [`Error::ScopeNotAllowed`] (a publishable key with
    /// a scope off `api_keys.publishable_scopes`, or a service key with a wildcard);
    /// [`Error::InvalidSlug`] or [`Error::UnknownSlug`] (a service-key scope that is not a
    /// registered ability); [`Error::InvalidIpRange`]; [`Error::UserNotFound`] (owner,
    /// or the user it acts for); [`Error::InvalidInput`] (a rate limit out of range, a
    /// service key acting for a user, too many roles); [`Error::UnknownSlug`] (a role);
    /// [`Error::Forbidden`] (impersonation by an owner without the permission).
    pub async fn create_api_key(&self, new: NewApiKey) -> Result<IssuedApiKey> {
        let scopes = match new.scopes {
            Some(scopes) => scopes,
            None => self.default_scopes(new.key_type, new.owner.is_none()),
        };
        self.check_key_scopes(new.key_type, new.owner, &scopes)
            .await?;
        let allowed_ips = canonical_ips(&new.allowed_ips)?;
        check_text(&new.name, new.description.as_deref(), &new.metadata)?;
        check_rate_limit(new.rate_limit)?;
        if let Some(owner) = new.owner {
            self.user(owner).await?;
        }
        self.check_acts_for(new.owner, new.acts_for).await?;
        self.check_key_roles(&new.roles).await?;
        let now = self.now();
        let (secret, key_hash, prefix) = self.new_key_secret(new.key_type, new.environment);
        let key = ApiKey {
            id: ApiKeyId(self.new_uuid(now)),
            prefix,
            key_hash,
            key_type: new.key_type,
            environment: new.environment,
            owner: new.owner,
            organization_id: new.organization_id,
            name: new.name,
            description: new.description,
            scopes,
            allowed_ips,
            metadata: new.metadata,
            created_at: now,
            expires_at: new.expires_at,
            revoked_at: None,
            revoked_reason: None,
            usage_count: 0,
            last_used_at: None,
            last_used_ip: None,
            last_used_user_agent: None,
            rate_limit: new.rate_limit,
            acts_for: new.acts_for,
        };
        self.stores
            .api_keys
            .create_api_key(&key)
            .await
            .map_err(user_missing)?;
        self.assign_new_key_roles(key.id, &new.roles).await?;
        self.audit(AuditEvent::KeyCreated {
            key: key.id,
            owner: key.owner,
        });
        Ok(IssuedApiKey { secret, key })
    }

    /// Verifies a presented key for a request needing `required_scope` from `client_ip`:
    /// [`Auth::verify_api_key_for`] with those two set.
    pub async fn verify_api_key(
        &self,
        presented: &str,
        required_scope: Option<&str>,
        client_ip: Option<IpAddr>,
    ) -> Result<ApiKey> {
        let request = KeyRequest {
            scope: required_scope,
            client_ip,
            ..KeyRequest::default()
        };
        self.verify_api_key_for(presented, &request).await
    }

    /// Verifies a presented key for `request`, counts it against the key's rate limit and
    /// records the use. One store round trip where the database allows (two for a
    /// rate-limited key otherwise); a malformed key or one of the wrong environment none.
    ///
    /// Errors, each its own variant, in this order: [`Error::ApiKeyMalformed`],
    /// [`Error::ApiKeyWrongEnvironment`], [`Error::ApiKeyUnknown`],
    /// [`Error::ApiKeyRevoked`], [`Error::ApiKeyExpired`], [`Error::IpNotAllowed`] (also
    /// when the key has an allow-list and no address is given), [`Error::ScopeMissing`],
    /// [`Error::RateLimited`].
    pub async fn verify_api_key_for(
        &self,
        presented: &str,
        request: &KeyRequest<'_>,
    ) -> Result<ApiKey> {
        let (hash, environment) = parse_key(presented)?;
        if request
            .environment
            .is_some_and(|required| required != environment)
        {
            return Err(Error::ApiKeyWrongEnvironment);
        }
        let now = self.now();
        let (key, window) = self
            .stores
            .api_keys
            .api_key_for_request(&hash, now)
            .await?
            .ok_or(Error::ApiKeyUnknown)?;
        if key.revoked_at.is_some() {
            return Err(Error::ApiKeyRevoked);
        }
        if key.expires_at.is_some_and(|at| now >= at) {
            return Err(Error::ApiKeyExpired);
        }
        if !ip_allowed(&key.allowed_ips, request.client_ip) {
            return Err(Error::IpNotAllowed);
        }
        if let Some(scope) = request.scope
            && !scopes_cover(&key.scopes, scope)
        {
            return Err(Error::ScopeMissing(scope.to_owned()));
        }
        self.check_rate(&key, window, now)?;
        self.record_use(key.id, now, request);
        Ok(key)
    }

    /// Refuses a verification over the key's rate limit. A limited key whose count the
    /// store did not return (deleted between the lookup and the count) is unknown:
    /// never let a limited key through uncounted.
    fn check_rate(&self, key: &ApiKey, window: Option<RateWindow>, now: Timestamp) -> Result<()> {
        let Some(limit) = key.rate_limit else {
            return Ok(());
        };
        let window = window.ok_or(Error::ApiKeyUnknown)?;
        let allowed = u64::from(limit.requests);
        if window.count <= allowed {
            return Ok(());
        }
        if window.count == allowed + 1 {
            self.audit(AuditEvent::KeyRateLimited {
                key: key.id,
                limit: limit.requests,
                window_seconds: limit.window_seconds(),
            });
        }
        let left = (window.started_at + limit.window - now).whole_microseconds();
        let seconds = (left + 999_999).div_euclid(1_000_000).max(1);
        let retry_after = time::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX));
        Err(Error::RateLimited { retry_after })
    }

    /// The key with this id, in whatever state. Unknown: [`Error::ApiKeyUnknown`].
    pub async fn api_key(&self, id: ApiKeyId) -> Result<ApiKey> {
        self.stores
            .api_keys
            .api_key_by_id(id)
            .await?
            .ok_or(Error::ApiKeyUnknown)
    }

    /// The keys of `owner`, or the service keys when `None`, oldest first.
    pub async fn list_api_keys(&self, owner: Option<UserId>) -> Result<Vec<ApiKey>> {
        let mut keys = self.stores.api_keys.list_api_keys(owner).await?;
        keys.sort_unstable_by_key(|k| (k.created_at, k.id));
        Ok(keys)
    }

    /// Changes a key's name, description, scopes, expiry, allow-list or metadata, with the
    /// checks of [`Auth::create_api_key`]. Unknown: [`Error::ApiKeyUnknown`].
    pub async fn update_api_key(&self, id: ApiKeyId, mut update: ApiKeyUpdate) -> Result<ApiKey> {
        let key = self.api_key(id).await?;
        if let Some(scopes) = &update.scopes {
            self.check_key_scopes(key.key_type, key.owner, scopes)
                .await?;
        }
        if let Some(ips) = &update.allowed_ips {
            update.allowed_ips = Some(canonical_ips(ips)?);
        }
        if let Some(limit) = update.rate_limit {
            check_rate_limit(limit)?;
        }
        let name = update.name.as_deref().unwrap_or(&key.name);
        let description = update
            .description
            .clone()
            .unwrap_or(key.description.clone());
        check_text(
            name,
            description.as_deref(),
            update.metadata.as_ref().unwrap_or(&key.metadata),
        )?;
        self.stores
            .api_keys
            .update_api_key(id, &update)
            .await
            .map_err(key_missing)
    }

    /// Revokes a key with a reason; `false` if it was already revoked (the first reason
    /// stays). Every verification that starts after this returns is refused.
    /// Unknown: [`Error::ApiKeyUnknown`].
    pub async fn revoke_api_key(&self, id: ApiKeyId, reason: &str) -> Result<bool> {
        check_text(reason, None, &BTreeMap::new())?;
        let revoked = self
            .stores
            .api_keys
            .revoke_api_key(id, reason, self.now())
            .await
            .map_err(key_missing)?;
        if revoked {
            let reason = reason.to_owned();
            self.audit(AuditEvent::KeyRevoked { key: id, reason });
        }
        Ok(revoked)
    }

    /// Rotates a key: a new secret with the same attributes (expiry, rate limit, roles
    /// and the user it acts for included; the rate-limit window starts afresh), and the
    /// old one dies after `grace` (zero: at once). Errors: [`Error::ApiKeyUnknown`],
    /// [`Error::ApiKeyRevoked`], [`Error::ApiKeyExpired`].
    pub async fn rotate_api_key(
        &self,
        id: ApiKeyId,
        grace: time::Duration,
    ) -> Result<IssuedApiKey> {
        let old = self.api_key(id).await?;
        let now = self.now();
        if old.revoked_at.is_some() {
            return Err(Error::ApiKeyRevoked);
        }
        if old.expires_at.is_some_and(|at| now >= at) {
            return Err(Error::ApiKeyExpired);
        }
        let roles = self.stores.rbac.key_grants(id).await?.roles;
        let (secret, key_hash, prefix) = self.new_key_secret(old.key_type, old.environment);
        let key = ApiKey {
            id: ApiKeyId(self.new_uuid(now)),
            prefix,
            key_hash,
            created_at: now,
            usage_count: 0,
            last_used_at: None,
            last_used_ip: None,
            last_used_user_agent: None,
            ..old
        };
        let old_dies = now + grace.max(time::Duration::ZERO);
        match self
            .stores
            .api_keys
            .replace_api_key(id, &key, old_dies)
            .await
        {
            // Revoked (or deleted) since it was read: the revocation wins.
            Err(StoreError::NotFound { .. }) => {
                let now_revoked = self.api_key(id).await?.revoked_at.is_some();
                return Err(if now_revoked {
                    Error::ApiKeyRevoked
                } else {
                    Error::ApiKeyUnknown
                });
            }
            other => other?,
        }
        self.copy_key_roles(key.id, &roles).await?;
        self.audit(AuditEvent::KeyRotated {
            key: id,
            new_key: key.id,
        });
        Ok(IssuedApiKey { secret, key })
    }

    /// Deletes a key and its role assignments; `false` if there was none.
    pub async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool> {
        // Stores that share a database cascade; separate ones need the roles taken.
        let rbac = &self.stores.rbac;
        for role in rbac.key_grants(id).await?.roles {
            rbac.unassign_key_role(id, &role).await?;
        }
        Ok(self.stores.api_keys.delete_api_key(id).await?)
    }

    /// Writes every buffered key use to the store now. Call it on shutdown.
    pub async fn flush_key_usage(&self) -> Result<()> {
        Ok(self.usage.flush(self.stores.api_keys.as_ref()).await?)
    }

    fn record_use(&self, key: ApiKeyId, now: Timestamp, request: &KeyRequest<'_>) {
        let cfg = &self.config.api_keys;
        let usage = KeyUsage {
            key_id: key,
            uses: 1,
            last_used_at: now,
            last_used_ip: request.client_ip,
            last_used_user_agent: request.user_agent.map(cut_user_agent),
        };
        if self
            .usage
            .record(usage, cfg.usage_flush_uses, cfg.usage_flush_interval)
        {
            let usage = Arc::clone(&self.usage);
            let store = Arc::clone(&self.stores.api_keys);
            tokio::spawn(async move { usage.background_flush(store.as_ref()).await });
        }
    }

    fn default_scopes(&self, key_type: KeyType, service: bool) -> Vec<String> {
        let cfg = &self.config.api_keys;
        match key_type {
            _ if service => Vec::new(),
            KeyType::Publishable => cfg.default_publishable_scopes.clone(),
            KeyType::Secret => cfg.default_secret_scopes.clone(),
            KeyType::Restricted => cfg.default_restricted_scopes.clone(),
        }
    }

    async fn check_key_scopes(
        &self,
        key_type: KeyType,
        owner: Option<UserId>,
        scopes: &[String],
    ) -> Result<()> {
        if scopes.len() > MAX_ENTRIES {
            return Err(Error::InvalidScope(format!(
                "more than {MAX_ENTRIES} scopes"
            )));
        }
        for scope in scopes {
            check_scope(scope)?;
            let public = &self.config.api_keys.publishable_scopes;
            if key_type == KeyType::Publishable && !public.contains(scope) {
                return Err(Error::ScopeNotAllowed(scope.clone()));
            }
        }
        if owner.is_none() {
            self.check_service_scopes(scopes).await?;
        }
        Ok(())
    }

    /// A service key's scopes are abilities: each must be a registered ability slug.
    async fn check_service_scopes(&self, scopes: &[String]) -> Result<()> {
        for scope in scopes {
            if scope.ends_with('*') {
                return Err(Error::ScopeNotAllowed(scope.clone()));
            }
            check_slug(scope)?;
        }
        self.require_items(SlugKind::Ability, scopes).await
    }

    /// A new plaintext key, its hash and its visible prefix.
    fn new_key_secret(&self, key_type: KeyType, env: Environment) -> (Secret, TokenHash, String) {
        let mut raw = zeroize::Zeroizing::new([0u8; SECRET_BYTES]);
        self.rng.fill(raw.as_mut());
        let mut text = format!("{}_{}_", key_type.as_str(), env.as_str());
        URL_SAFE_NO_PAD.encode_string(raw.as_ref(), &mut text);
        let checksum = crc32fast::hash(text.as_bytes());
        text.push_str(&format!("{checksum:08x}"));
        let head = key_type.as_str().len() + env.as_str().len() + 2;
        let prefix = text[..head + VISIBLE_LEN].to_owned();
        let hash = sha256(text.as_bytes());
        (Secret::new(text), hash, prefix)
    }
}

/// Checks the shape and checksum of a presented key and returns the hash to look up.
/// Anything else is [`Error::ApiKeyMalformed`].
pub fn parse_api_key(presented: &str) -> Result<TokenHash> {
    parse_key(presented).map(|(hash, _)| hash)
}

/// [`parse_api_key`], and the environment the key names.
fn parse_key(presented: &str) -> Result<(TokenHash, Environment)> {
    let mut parts = presented.splitn(3, '_');
    let (Some(kind), Some(env), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::ApiKeyMalformed);
    };
    let (Some(_), Some(environment)) = (KeyType::parse(kind), Environment::parse(env)) else {
        return Err(Error::ApiKeyMalformed);
    };
    if rest.len() != BODY_LEN + CHECKSUM_LEN || !rest.is_char_boundary(BODY_LEN) {
        return Err(Error::ApiKeyMalformed);
    }
    let (body, checksum) = rest.split_at(BODY_LEN);
    let signed = &presented[..presented.len() - CHECKSUM_LEN];
    let expected = format!("{:08x}", crc32fast::hash(signed.as_bytes()));
    let mut raw = zeroize::Zeroizing::new([0u8; SECRET_BYTES]);
    let decodes = matches!(
        URL_SAFE_NO_PAD.decode_slice(body, raw.as_mut()),
        Ok(SECRET_BYTES)
    );
    if !decodes || checksum != expected {
        return Err(Error::ApiKeyMalformed);
    }
    Ok((sha256(presented.as_bytes()), environment))
}

/// `user_agent` cut to [`MAX_USER_AGENT_BYTES`] at a character boundary.
fn cut_user_agent(user_agent: &str) -> String {
    let mut end = user_agent.len().min(MAX_USER_AGENT_BYTES);
    while !user_agent.is_char_boundary(end) {
        end -= 1;
    }
    user_agent[..end].to_owned()
}

/// A rate limit within its bounds: 1 to 10,000 requests per whole-second window of 1 s
/// to a day.
fn check_rate_limit(limit: Option<RateLimit>) -> Result<()> {
    let Some(limit) = limit else { return Ok(()) };
    let requests = (1..=RateLimit::MAX_REQUESTS).contains(&limit.requests);
    let window = limit.window >= time::Duration::SECOND
        && limit.window <= RateLimit::MAX_WINDOW
        && limit.window.subsec_nanoseconds() == 0;
    if requests && window {
        Ok(())
    } else {
        Err(Error::InvalidInput(
            "rate limit: 1 to 10000 requests per window of whole seconds, 1 s to 1 day",
        ))
    }
}

/// Parses each allow-list entry as an address or a CIDR range and returns the canonical
/// text (`10.0.0.0/8`, `2001:db8::1`).
fn canonical_ips(entries: &[String]) -> Result<Vec<String>> {
    if entries.len() > MAX_ENTRIES {
        return Err(Error::InvalidIpRange(format!(
            "more than {MAX_ENTRIES} entries"
        )));
    }
    entries
        .iter()
        .map(|e| {
            let e = e.trim();
            if let Ok(net) = e.parse::<IpNet>() {
                Ok(net.trunc().to_string())
            } else if let Ok(addr) = e.parse::<IpAddr>() {
                Ok(addr.to_string())
            } else {
                Err(Error::InvalidIpRange(e.chars().take(80).collect()))
            }
        })
        .collect()
}

/// Whether `ip` is on the allow-list (an empty list allows all, even an unknown address).
fn ip_allowed(allowed: &[String], ip: Option<IpAddr>) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(ip) = ip else { return false };
    let ip = ip.to_canonical();
    allowed.iter().any(|entry| match entry.parse::<IpNet>() {
        Ok(net) => net.contains(&ip),
        Err(_) => entry
            .parse::<IpAddr>()
            .is_ok_and(|a| a.to_canonical() == ip),
    })
}

fn check_text(
    name: &str,
    description: Option<&str>,
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    let too_long = |s: &str| s.len() > MAX_TEXT_BYTES;
    if name.trim().is_empty() || too_long(name) || description.is_some_and(too_long) {
        return Err(Error::InvalidInput(
            "API key name must be 1 to 1024 bytes, description at most 1024",
        ));
    }
    if metadata.len() > MAX_ENTRIES || metadata.iter().any(|(k, v)| too_long(k) || too_long(v)) {
        return Err(Error::InvalidInput(
            "API key metadata: at most 64 entries of 1024 bytes",
        ));
    }
    Ok(())
}

fn key_missing(err: StoreError) -> Error {
    match err {
        StoreError::NotFound { .. } => Error::ApiKeyUnknown,
        other => other.into(),
    }
}
