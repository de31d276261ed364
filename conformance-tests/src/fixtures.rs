//! Small builders the cases share: rows with sensible defaults, fixed times, fresh hashes.
//!
//! Every builder returns a plain model value that the case may adjust before writing it.
//! Times are offsets from [`BASE`], a fixed instant with non-zero microseconds, so a
//! store that drops sub-second precision fails the first comparison it meets.

use std::collections::BTreeMap;
use std::future::Future;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::Mutex;

use authkit::{
    ApiKey, ApiKeyId, Environment, FamilyId, KeyType, OneTimeToken, OneTimeTokenId, OsRandomness,
    Purpose, Randomness, RateLimit, RbacItem, RbacItemId, RefreshToken, RefreshTokenId,
    RotationDecision, RotationOutcome, Session, SessionId, SlidePolicy, SlugKind, Stores,
    Timestamp, TokenHash, User, UserGrants, UserId,
};
use time::Duration;
use time::macros::datetime;

/// The instant every case starts from: 2030-01-01 00:00:00.123456 UTC (micros set on purpose).
pub const BASE: Timestamp = datetime!(2030-01-01 00:00:00.123456 UTC);

/// `BASE` plus `secs` seconds.
pub fn at(secs: i64) -> Timestamp {
    BASE + Duration::seconds(secs)
}

/// `secs` seconds as a [`Duration`].
pub fn secs(secs: i64) -> Duration {
    Duration::seconds(secs)
}

/// One microsecond: the smallest step a store keeps.
pub const MICRO: Duration = Duration::microseconds(1);

/// A fresh random hash, unique for all practical purposes.
pub fn fresh_hash() -> TokenHash {
    let mut bytes = [0u8; 32];
    OsRandomness.fill(&mut bytes);
    TokenHash(bytes)
}

/// An email no other call returns: `user-<uuid>@example.test`.
pub fn unique_email() -> String {
    format!("user-{}@example.test", UserId::new())
}

/// A user with this email, created at [`BASE`], no password, not verified.
pub fn user(email: &str) -> User {
    User {
        id: UserId::new(),
        email: email.to_owned(),
        password_hash: None,
        email_verified_at: None,
        created_at: BASE,
        updated_at: BASE,
    }
}

/// Creates a user with a [`unique_email`] and returns it.
pub async fn create_user(stores: &Stores) -> User {
    let user = user(&unique_email());
    stores.users.create_user(&user).await.expect("create_user");
    user
}

/// A session of `user` issued at `now`, idle for `idle` and at most `absolute` long.
pub fn session(user: UserId, now: Timestamp, idle: Duration, absolute: Duration) -> Session {
    Session {
        id: SessionId::new(),
        user_id: user,
        token_hash: fresh_hash(),
        created_at: now,
        last_seen_at: now,
        idle_expires_at: now + idle,
        absolute_expires_at: now + absolute,
        payload: None,
    }
}

/// A slide policy of `idle` seconds with a write step of `min_step` seconds.
pub fn policy(idle: i64, min_step: i64) -> SlidePolicy {
    SlidePolicy {
        idle_ttl: secs(idle),
        min_step: secs(min_step),
    }
}

/// The first refresh token of a new family of `user`, issued at `now`, living `ttl`.
pub fn refresh(user: UserId, now: Timestamp, ttl: Duration) -> RefreshToken {
    RefreshToken {
        id: RefreshTokenId::new(),
        family_id: FamilyId::new(),
        user_id: user,
        token_hash: fresh_hash(),
        audience: "api".to_owned(),
        profile: Some("default".to_owned()),
        chain_started_at: now,
        created_at: now,
        expires_at: now + ttl,
        consumed_at: None,
        rotations: 0,
        revoked_at: None,
    }
}

/// The successor of `presented` issued at `now`, living `ttl`: same family, user,
/// audience, profile and chain start, a new id and hash.
pub fn successor(presented: &RefreshToken, now: Timestamp, ttl: Duration) -> RefreshToken {
    RefreshToken {
        id: RefreshTokenId::new(),
        token_hash: fresh_hash(),
        created_at: now,
        expires_at: now + ttl,
        consumed_at: None,
        rotations: 0,
        revoked_at: None,
        ..presented.clone()
    }
}

/// Reads the refresh token with this hash without changing it: a `rotate_refresh` whose
/// rule returns [`RotationDecision::Reject`]. `None` when the store does not know it.
pub async fn peek_refresh(stores: &Stores, hash: &TokenHash) -> Option<RefreshToken> {
    let seen = Mutex::new(None);
    let rule = |row: &RefreshToken| {
        *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(row.clone());
        RotationDecision::Reject
    };
    let outcome = stores
        .tokens
        .rotate_refresh(hash, BASE, &rule)
        .await
        .expect("rotate_refresh (peek)");
    let seen = seen.into_inner().unwrap_or_else(|e| e.into_inner());
    match outcome {
        RotationOutcome::Unknown => {
            assert_eq!(
                seen, None,
                "rotate_refresh called the rule for an unknown token"
            );
            None
        }
        RotationOutcome::Decided {
            presented,
            decision,
        } => {
            assert_eq!(
                decision,
                RotationDecision::Reject,
                "decision not reported as given"
            );
            assert_eq!(
                seen.as_ref(),
                Some(&presented),
                "Decided.presented differs from the row the rule saw"
            );
            Some(presented)
        }
    }
}

/// A one-time token of `user` for `purpose`, issued at `now`, living `ttl`.
pub fn one_time(user: UserId, purpose: Purpose, now: Timestamp, ttl: Duration) -> OneTimeToken {
    OneTimeToken {
        id: OneTimeTokenId::new(),
        user_id: user,
        purpose,
        token_hash: fresh_hash(),
        created_at: now,
        expires_at: now + ttl,
        consumed_at: None,
        failed_attempts: 0,
    }
}

/// A secret live API key of `owner` (a service key when `None`), created at `now`,
/// with every optional field filled so a round trip checks them all.
pub fn api_key(owner: Option<UserId>, now: Timestamp) -> ApiKey {
    let id = ApiKeyId::new();
    ApiKey {
        id,
        prefix: format!("sk_live_{}", &id.0.simple().to_string()[24..]),
        key_hash: fresh_hash(),
        key_type: KeyType::Secret,
        environment: Environment::Live,
        owner,
        organization_id: Some("org_42".to_owned()),
        name: "deploy key".to_owned(),
        description: Some("used by CI".to_owned()),
        scopes: vec!["admin:*".to_owned(), "billing:read".to_owned()],
        allowed_ips: vec!["10.0.0.0/8".to_owned(), "2001:db8::1".to_owned()],
        metadata: BTreeMap::from([
            ("team".to_owned(), "platform".to_owned()),
            ("ticket".to_owned(), "OPS-1".to_owned()),
        ]),
        created_at: now,
        expires_at: None,
        revoked_at: None,
        revoked_reason: None,
        usage_count: 0,
        last_used_at: None,
        last_used_ip: None,
        last_used_user_agent: None,
        rate_limit: Some(RateLimit::new(100, time::Duration::minutes(1))),
        acts_for: owner,
    }
}

/// An RBAC item of `kind` with `slug` and the label `Label of <slug>`. Its id is derived
/// from the kind and slug, so two calls with the same arguments give equal items.
pub fn item(kind: SlugKind, slug: &str) -> RbacItem {
    let mut high = DefaultHasher::new();
    (kind, slug, "high").hash(&mut high);
    let mut low = DefaultHasher::new();
    (kind, slug, "low").hash(&mut low);
    let bits = (u128::from(high.finish()) << 64) | u128::from(low.finish());
    RbacItem {
        id: RbacItemId(authkit::uuid::Uuid::from_u128(bits)),
        kind,
        slug: slug.to_owned(),
        label: format!("Label of {slug}"),
    }
}

/// Runs `n` copies of `task` (given their index) on the runtime's worker threads, all
/// released together by a barrier, and returns their results in index order. A panic in
/// any task is resumed here, so it fails the case.
pub async fn together<T, F, Fut>(n: usize, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let fut = task(i);
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut results = Vec::with_capacity(n);
    for handle in handles {
        match handle.await {
            Ok(value) => results.push(value),
            Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
            Err(err) => panic!("a concurrent task was cancelled: {err}"),
        }
    }
    results
}

/// A listing in the order core puts it in: stores may list in any order (core sorts),
/// so cases compare listings through this.
pub trait Canonical {
    /// The value sorted the way core sorts it (duplicates kept, so a store that returns
    /// one twice still fails the comparison).
    fn canonical(self) -> Self;
}

/// [`Canonical::canonical`] as a function.
pub fn canonical<T: Canonical>(value: T) -> T {
    value.canonical()
}

impl Canonical for Vec<RbacItem> {
    fn canonical(mut self) -> Self {
        self.sort_by(|a, b| (a.kind, &a.slug).cmp(&(b.kind, &b.slug)));
        self
    }
}

impl Canonical for UserGrants {
    fn canonical(mut self) -> Self {
        self.roles.sort();
        self.permissions.sort();
        self.abilities.sort();
        self
    }
}

impl Canonical for Vec<Session> {
    fn canonical(mut self) -> Self {
        self.sort_by_key(|s| (s.created_at, s.id));
        self
    }
}

impl Canonical for Vec<ApiKey> {
    fn canonical(mut self) -> Self {
        self.sort_by_key(|k| (k.created_at, k.id));
        self
    }
}
