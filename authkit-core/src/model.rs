//! The data model shared by core and every store: ids, hashes, and one struct per row kind.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use time::OffsetDateTime;
use uuid::Uuid;

/// A UTC instant with microsecond precision (core truncates `now` before handing it out).
pub type Timestamp = OffsetDateTime;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies a user.
    UserId
);
id_type!(
    /// Identifies a session (not its secret).
    SessionId
);
id_type!(
    /// Identifies one refresh token (not its secret).
    RefreshTokenId
);
id_type!(
    /// Identifies a refresh-token family: every token rotated from one login.
    FamilyId
);
id_type!(
    /// Identifies a one-time token (not its secret).
    OneTimeTokenId
);
id_type!(
    /// Identifies an API or service key (not its secret).
    ApiKeyId
);
id_type!(
    /// Identifies a role, permission or ability.
    RbacItemId
);

/// The SHA-256 of a secret. Stores look secrets up by this, never by the secret itself.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The raw 32 bytes, as stored in a `BINARY(32)`/`bytea` column.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    /// Shows a short fingerprint only: enough to tell two hashes apart in a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}…)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

/// A user account. `email` is always normalized (see [`normalize_email`](crate::normalize_email)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The normalized email, unique across users.
    pub email: String,
    /// An Argon2id PHC string, or `None` for a passwordless account.
    pub password_hash: Option<String>,
    /// When the email was verified, if it was.
    pub email_verified_at: Option<Timestamp>,
    /// When the user was created.
    pub created_at: Timestamp,
    /// When the row last changed.
    pub updated_at: Timestamp,
}

/// A server-side session, looked up by the hash of its secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The session's id: safe to log, and the associated data of its encrypted payload.
    pub id: SessionId,
    /// The owner.
    pub user_id: UserId,
    /// SHA-256 of the session secret.
    pub token_hash: TokenHash,
    /// When the session was issued.
    pub created_at: Timestamp,
    /// When it was last seen by a `touch` that wrote.
    pub last_seen_at: Timestamp,
    /// The sliding idle deadline: the session is dead at and after this instant.
    pub idle_expires_at: Timestamp,
    /// The absolute deadline: the idle deadline never moves past it.
    pub absolute_expires_at: Timestamp,
    /// An opaque payload, encrypted by core (backend-for-frontend upstream tokens).
    pub payload: Option<Vec<u8>>,
}

impl Session {
    /// Live at `now`: strictly before both deadlines.
    pub fn is_live(&self, now: Timestamp) -> bool {
        now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

/// A refresh token row. One login starts a family; each rotation adds a row to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    /// The token's id.
    pub id: RefreshTokenId,
    /// The family (login) it belongs to.
    pub family_id: FamilyId,
    /// The owner.
    pub user_id: UserId,
    /// SHA-256 of the token secret.
    pub token_hash: TokenHash,
    /// The audience of the access tokens this family mints (`bff`, `api`, …).
    pub audience: String,
    /// The lifetime profile named at issue, resolved again at each refresh.
    pub profile: Option<String>,
    /// When the family's first token was issued; copied forward on every rotation.
    pub chain_started_at: Timestamp,
    /// When this token was issued.
    pub created_at: Timestamp,
    /// The token is dead at and after this instant.
    pub expires_at: Timestamp,
    /// When it was first rotated, if it was.
    pub consumed_at: Option<Timestamp>,
    /// How many times it has been rotated (more than once only inside a reuse grace interval).
    pub rotations: u32,
    /// When it (and its family) was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// What the caller of [`TokenStore::rotate_refresh`](crate::TokenStore::rotate_refresh)
/// decides about the presented token, while the store holds it locked.
// One value per rotation, never stored in bulk: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotationDecision {
    /// Mark the presented token consumed (set `consumed_at` if unset, add one to
    /// `rotations`) and insert this successor, in the same atomic step.
    Rotate(RefreshToken),
    /// Revoke every token of the presented token's family.
    RevokeFamily,
    /// Change nothing.
    Reject,
}

/// What [`TokenStore::rotate_refresh`](crate::TokenStore::rotate_refresh) did.
// One value per rotation, never stored in bulk: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RotationOutcome {
    /// No token has the presented hash; the decision function was not called.
    Unknown,
    /// The decision was carried out; `presented` is the row as it was before the change.
    Decided {
        /// The presented token as read under the lock, before any change.
        presented: RefreshToken,
        /// The decision that was applied.
        decision: RotationDecision,
    },
}

/// The purpose of a one-time token. Tokens of one purpose never satisfy another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    /// Confirms that the user controls the email address.
    EmailVerification,
    /// Lets the user set a new password.
    PasswordReset,
    /// Logs the user in from a link.
    MagicLink,
    /// Logs the user in with a short numeric code.
    EmailOtp,
}

impl Purpose {
    /// Every purpose, for stores that enumerate them.
    pub const ALL: [Purpose; 4] = [
        Purpose::EmailVerification,
        Purpose::PasswordReset,
        Purpose::MagicLink,
        Purpose::EmailOtp,
    ];

    /// The stable name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::EmailVerification => "email_verification",
            Purpose::PasswordReset => "password_reset",
            Purpose::MagicLink => "magic_link",
            Purpose::EmailOtp => "email_otp",
        }
    }

    /// Parses a stored name; `None` for anything else.
    pub fn parse(name: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// A single-use token: email verification, password reset, magic link or OTP code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OneTimeToken {
    /// The token's id.
    pub id: OneTimeTokenId,
    /// The user it is bound to.
    pub user_id: UserId,
    /// What it may be used for.
    pub purpose: Purpose,
    /// SHA-256 of the secret (or of the OTP code with its salt).
    pub token_hash: TokenHash,
    /// When it was issued.
    pub created_at: Timestamp,
    /// Dead at and after this instant.
    pub expires_at: Timestamp,
    /// When it was used, if it was.
    pub consumed_at: Option<Timestamp>,
    /// Failed attempts so far (OTP codes only).
    pub failed_attempts: u32,
}

/// What [`TokenStore::attempt_otp`](crate::TokenStore::attempt_otp) does with the code it
/// locked, as core's rule decides it. Core computes the cap, the lock-out and the
/// attempts left; the store only applies this.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtpDecision {
    /// The code matched: set `consumed_at = now`.
    Consume,
    /// The code did not match: add one to `failed_attempts`.
    CountFailure,
    /// Change nothing (the code is locked out).
    Leave,
}

/// What [`TokenStore::attempt_otp`](crate::TokenStore::attempt_otp) did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OtpOutcome {
    /// The user has no live, unconsumed code of this purpose; the rule was not called.
    NoCode,
    /// The rule was called once and its decision applied.
    Decided {
        /// The code as the rule saw it, locked, before the change.
        token: OneTimeToken,
        /// The decision that was applied.
        decision: OtpDecision,
    },
}

/// Publishable, secret or restricted: what a key may be trusted with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// `pk`: safe to embed in a browser or app; only public-safe scopes.
    Publishable,
    /// `sk`: full server-side key.
    Secret,
    /// `rk`: server-side key limited to the scopes it names.
    Restricted,
}

impl KeyType {
    /// The two-letter prefix: `pk`, `sk` or `rk`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Publishable => "pk",
            KeyType::Secret => "sk",
            KeyType::Restricted => "rk",
        }
    }

    /// Parses a prefix; `None` for anything else.
    pub fn parse(s: &str) -> Option<KeyType> {
        [KeyType::Publishable, KeyType::Secret, KeyType::Restricted]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// Live or test data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Environment {
    /// Production data.
    Live,
    /// Test data.
    Test,
}

impl Environment {
    /// `live` or `test`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Test => "test",
        }
    }

    /// Parses `live` or `test`.
    pub fn parse(s: &str) -> Option<Environment> {
        match s {
            "live" => Some(Environment::Live),
            "test" => Some(Environment::Test),
            _ => None,
        }
    }
}

/// An API key, or a service key when `owner` is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id.
    pub id: ApiKeyId,
    /// The visible start of the key (`sk_live_AbCd1234`), for logs and UIs.
    pub prefix: String,
    /// SHA-256 of the whole plaintext key.
    pub key_hash: TokenHash,
    /// Publishable, secret or restricted.
    pub key_type: KeyType,
    /// Live or test.
    pub environment: Environment,
    /// The owning user; `None` for a service key.
    pub owner: Option<UserId>,
    /// An organization id of the application's, if any.
    pub organization_id: Option<String>,
    /// A human name.
    pub name: String,
    /// A longer description.
    pub description: Option<String>,
    /// Granted scopes; `admin:*` covers every `admin:` scope.
    pub scopes: Vec<String>,
    /// Addresses and CIDR ranges allowed to use the key, in text form; empty allows all.
    pub allowed_ips: Vec<String>,
    /// Free-form string metadata of the application's.
    pub metadata: BTreeMap<String, String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Dead at and after this instant, if set.
    pub expires_at: Option<Timestamp>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// Verified uses recorded so far.
    pub usage_count: u64,
    /// When it was last used, as recorded.
    pub last_used_at: Option<Timestamp>,
    /// From where it was last used, as recorded.
    pub last_used_ip: Option<IpAddr>,
    /// The `User-Agent` of the last use, as recorded (at most 256 bytes).
    pub last_used_user_agent: Option<String>,
    /// At most this many verifications per window; `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// The user whose rights the key holds besides its own roles: its owner (delegation)
    /// or another user (impersonation). See [`Auth::key_acts_for`](crate::Auth::key_acts_for).
    pub acts_for: Option<UserId>,
}

/// A per-key rate limit: at most `requests` verifications in a fixed window of `window`
/// that starts with the first verification after the previous window ended.
///
/// The counter lives in the store (one atomic step per verification, see
/// [`ApiKeyStore::count_api_key_request`](crate::ApiKeyStore::count_api_key_request)),
/// so the limit holds across every application instance sharing the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Verifications allowed per window, 1 to [`RateLimit::MAX_REQUESTS`].
    pub requests: u32,
    /// The window, whole seconds from 1 s to [`RateLimit::MAX_WINDOW`].
    pub window: time::Duration,
}

impl RateLimit {
    /// The most requests a window may allow.
    pub const MAX_REQUESTS: u32 = 10_000;
    /// The longest window.
    pub const MAX_WINDOW: time::Duration = time::Duration::days(1);

    /// `requests` per `window`.
    pub const fn new(requests: u32, window: time::Duration) -> Self {
        RateLimit { requests, window }
    }

    /// The limit a store reads back from its `rate_limit` and `rate_window_seconds`
    /// columns: `None` when `requests` is 0 (no limit) or either is out of range.
    pub fn from_stored(requests: i64, window_seconds: i64) -> Option<Self> {
        let requests = u32::try_from(requests).ok().filter(|r| *r > 0)?;
        (window_seconds > 0)
            .then(|| RateLimit::new(requests, time::Duration::seconds(window_seconds)))
    }

    /// The window in whole seconds, as stores keep it.
    pub fn window_seconds(&self) -> i64 {
        self.window.whole_seconds()
    }
}

/// A key's rate-limit window after one verification was counted in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateWindow {
    /// Verifications counted in the window, this one included.
    pub count: u64,
    /// When the window started.
    pub started_at: Timestamp,
}

/// Changes to an API key's descriptive fields; `None` leaves a field as it is. Start from
/// `ApiKeyUpdate::default()` and set what changes:
///
/// ```
/// let update = authkit::ApiKeyUpdate::default()
///     .name("deploy key".to_owned())
///     .expires_at(None);
/// assert_eq!(update.description, None, "left as it is");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiKeyUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New scopes.
    pub scopes: Option<Vec<String>>,
    /// A new expiry (`Some(None)` clears it).
    pub expires_at: Option<Option<Timestamp>>,
    /// A new IP allow-list.
    pub allowed_ips: Option<Vec<String>>,
    /// New metadata.
    pub metadata: Option<BTreeMap<String, String>>,
    /// A new rate limit (`Some(None)` removes it).
    pub rate_limit: Option<Option<RateLimit>>,
}

impl ApiKeyUpdate {
    /// Renames the key.
    pub fn name(mut self, name: String) -> Self {
        self.name = Some(name);
        self
    }

    /// Sets (`Some`) or clears (`None`) the description.
    pub fn description(mut self, description: Option<String>) -> Self {
        self.description = Some(description);
        self
    }

    /// Replaces the scopes.
    pub fn scopes(mut self, scopes: Vec<String>) -> Self {
        self.scopes = Some(scopes);
        self
    }

    /// Sets (`Some`) or clears (`None`) the expiry.
    pub fn expires_at(mut self, expires_at: Option<Timestamp>) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Replaces the IP allow-list (empty allows every address).
    pub fn allowed_ips(mut self, allowed_ips: Vec<String>) -> Self {
        self.allowed_ips = Some(allowed_ips);
        self
    }

    /// Replaces the metadata.
    pub fn metadata(mut self, metadata: BTreeMap<String, String>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// Sets (`Some`) or removes (`None`) the rate limit.
    pub fn rate_limit(mut self, rate_limit: Option<RateLimit>) -> Self {
        self.rate_limit = Some(rate_limit);
        self
    }

    /// Applies the update to `key`: each `Some` field replaces the key's.
    pub fn apply_to(&self, key: &mut ApiKey) {
        let ApiKeyUpdate {
            name,
            description,
            scopes,
            expires_at,
            allowed_ips,
            metadata,
            rate_limit,
        } = self;
        if let Some(rate_limit) = rate_limit {
            key.rate_limit = *rate_limit;
        }
        if let Some(name) = name {
            key.name.clone_from(name);
        }
        if let Some(description) = description {
            key.description.clone_from(description);
        }
        if let Some(scopes) = scopes {
            key.scopes.clone_from(scopes);
        }
        if let Some(expires_at) = expires_at {
            key.expires_at = *expires_at;
        }
        if let Some(allowed_ips) = allowed_ips {
            key.allowed_ips.clone_from(allowed_ips);
        }
        if let Some(metadata) = metadata {
            key.metadata.clone_from(metadata);
        }
    }
}

/// Usage of one key accumulated by core since its last flush.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUsage {
    /// The key.
    pub key_id: ApiKeyId,
    /// Uses to add to the stored count.
    pub uses: u64,
    /// The latest use; the stored value only moves forward.
    pub last_used_at: Timestamp,
    /// The address of the latest use, if known.
    pub last_used_ip: Option<IpAddr>,
    /// The `User-Agent` of the latest use, if known (at most 256 bytes).
    pub last_used_user_agent: Option<String>,
}

impl KeyUsage {
    /// Folds `other`, a use of the same key, into this entry: the uses add up, and the
    /// time, IP and user agent are those of the later entry (this one's when equal).
    pub fn absorb(&mut self, other: KeyUsage) {
        self.uses = self.uses.saturating_add(other.uses);
        if other.last_used_at > self.last_used_at {
            self.last_used_at = other.last_used_at;
            self.last_used_ip = other.last_used_ip;
            self.last_used_user_agent = other.last_used_user_agent;
        }
    }

    /// One entry per key, each [`absorb`](Self::absorb)ing the others of its key, sorted
    /// by key id (a batch that locks rows in one order cannot deadlock with another).
    /// What a store writing a batch in one statement needs, since such a statement
    /// updates each row once.
    pub fn merge(batch: &[KeyUsage]) -> Vec<KeyUsage> {
        let mut by_key: std::collections::BTreeMap<ApiKeyId, KeyUsage> = Default::default();
        for usage in batch {
            match by_key.entry(usage.key_id) {
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    e.get_mut().absorb(usage.clone())
                }
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(usage.clone());
                }
            }
        }
        by_key.into_values().collect()
    }
}

/// The three kinds of RBAC slug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SlugKind {
    /// A role: a named bundle of permissions and abilities.
    Role,
    /// A permission held by users.
    Permission,
    /// An ability: a permission-like grant, the scopes of service keys.
    Ability,
}

impl SlugKind {
    /// `role`, `permission` or `ability`.
    pub fn as_str(self) -> &'static str {
        match self {
            SlugKind::Role => "role",
            SlugKind::Permission => "permission",
            SlugKind::Ability => "ability",
        }
    }
}

/// What a grant can name: a permission or an ability, never a role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantKind {
    /// A permission.
    Permission,
    /// An ability.
    Ability,
}

impl GrantKind {
    /// The slug kind of the items this grant names.
    pub fn slug_kind(self) -> SlugKind {
        match self {
            GrantKind::Permission => SlugKind::Permission,
            GrantKind::Ability => SlugKind::Ability,
        }
    }

    /// `permission` or `ability`.
    pub fn as_str(self) -> &'static str {
        self.slug_kind().as_str()
    }
}

impl SlugKind {
    /// The grant kind of a permission or ability; `None` for a role, which is never
    /// granted (it is assigned).
    pub fn grant_kind(self) -> Option<GrantKind> {
        match self {
            SlugKind::Role => None,
            SlugKind::Permission => Some(GrantKind::Permission),
            SlugKind::Ability => Some(GrantKind::Ability),
        }
    }
}

/// A registered role, permission or ability.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RbacItem {
    /// The item's id, assigned by core.
    pub id: RbacItemId,
    /// Which kind.
    pub kind: SlugKind,
    /// The validated slug.
    pub slug: String,
    /// A human label.
    pub label: String,
}

/// Everything a user holds, through roles and directly: one store call for a predicate.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserGrants {
    /// Slugs of the roles assigned to the user.
    pub roles: Vec<String>,
    /// Union of permissions granted directly and through roles, sorted, no duplicates.
    pub permissions: Vec<String>,
    /// Union of abilities granted directly and through roles, sorted, no duplicates.
    pub abilities: Vec<String>,
}

/// How a session's idle deadline slides on each authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlidePolicy {
    /// The idle time-to-live: the deadline target is `min(now + idle_ttl, absolute)`.
    pub idle_ttl: time::Duration,
    /// Write only when the target moves the stored deadline by more than this.
    /// Zero (or a negative value, read as zero) writes on every touch that moves the
    /// deadline forward at all.
    pub min_step: time::Duration,
}

impl SlidePolicy {
    /// The idle deadline `session` should have after a touch at `now`, or `None`
    /// when the stored one is close enough (within `min_step`) to leave as it is.
    ///
    /// The new deadline is never past the absolute deadline and never earlier than the
    /// stored one, so skipping a write only makes the session end earlier, never later.
    pub fn next_deadline(&self, session: &Session, now: Timestamp) -> Option<Timestamp> {
        self.next_deadline_of(session.idle_expires_at, session.absolute_expires_at, now)
    }

    /// [`next_deadline`](Self::next_deadline) for a session whose deadlines are
    /// `idle_expires_at` and `absolute_expires_at`. Since a stored idle deadline only
    /// moves forward, `None` for a deadline seen earlier means `None` for the stored one.
    pub fn next_deadline_of(
        &self,
        idle_expires_at: Timestamp,
        absolute_expires_at: Timestamp,
        now: Timestamp,
    ) -> Option<Timestamp> {
        let target = (now + self.idle_ttl).min(absolute_expires_at);
        let step = self.min_step.max(time::Duration::ZERO);
        (target - idle_expires_at > step).then_some(target)
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    const T0: Timestamp = datetime!(2030-01-01 00:00:00 UTC);

    fn session(idle_at: Timestamp, absolute_at: Timestamp) -> Session {
        Session {
            id: SessionId(Uuid::nil()),
            user_id: UserId(Uuid::nil()),
            token_hash: TokenHash([0; 32]),
            created_at: T0,
            last_seen_at: T0,
            idle_expires_at: idle_at,
            absolute_expires_at: absolute_at,
            payload: None,
        }
    }

    fn policy(idle: i64, step: i64) -> SlidePolicy {
        SlidePolicy {
            idle_ttl: Duration::seconds(idle),
            min_step: Duration::seconds(step),
        }
    }

    #[test]
    fn slides_to_now_plus_idle() {
        let s = session(T0 + Duration::seconds(100), T0 + Duration::days(1));
        let next = policy(100, 10).next_deadline(&s, T0 + Duration::seconds(50));
        assert_eq!(next, Some(T0 + Duration::seconds(150)));
    }

    #[test]
    fn small_moves_are_skipped() {
        let s = session(T0 + Duration::seconds(100), T0 + Duration::days(1));
        assert_eq!(
            policy(100, 10).next_deadline(&s, T0 + Duration::seconds(10)),
            None
        );
        assert_eq!(
            policy(100, 10).next_deadline(&s, T0 + Duration::seconds(11)),
            Some(T0 + Duration::seconds(111))
        );
    }

    #[test]
    fn never_past_the_absolute_deadline_nor_backwards() {
        let s = session(T0 + Duration::seconds(100), T0 + Duration::seconds(120));
        assert_eq!(
            policy(100, 0).next_deadline(&s, T0 + Duration::seconds(60)),
            Some(T0 + Duration::seconds(120))
        );
        let s = session(T0 + Duration::seconds(120), T0 + Duration::seconds(120));
        assert_eq!(
            policy(100, 0).next_deadline(&s, T0 + Duration::seconds(60)),
            None
        );
        assert_eq!(policy(100, -5).next_deadline(&s, T0), None, "an older now");
    }
}
