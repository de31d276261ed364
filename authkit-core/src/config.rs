//! Configuration, with the defaults of the design and the checks that make a bad one fail
//! at construction rather than on a request.

use std::collections::BTreeMap;
use std::fmt;

use time::Duration;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::KeyRing;

/// The HS256 key for access tokens. `Debug` never prints it.
#[derive(Clone)]
pub struct SigningKey(Zeroizing<Vec<u8>>);

impl SigningKey {
    /// The shortest key accepted: 256 bits, the size of the HS256 output
    /// (RFC 7518 §3.2: "A key of the same size as the hash output … MUST be used").
    pub const MIN_BYTES: usize = 32;

    /// Wraps key bytes; the length is checked when [`Auth`](crate::Auth) is built.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        SigningKey(Zeroizing::new(bytes.into()))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({} bytes)", self.0.len())
    }
}

/// The `SameSite` attribute of the session cookie.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SameSite {
    /// Sent on same-site requests and top-level navigations: the default.
    Lax,
    /// Sent on same-site requests only.
    Strict,
    /// Sent everywhere; browsers require `Secure` with it.
    None,
}

/// How the session cookie is written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CookieConfig {
    /// Cookie name; default `authkit_session`.
    pub name: String,
    /// `Secure` (HTTPS only); default on.
    pub secure: bool,
    /// `HttpOnly` (hidden from scripts); default on.
    pub http_only: bool,
    /// `SameSite`; default [`SameSite::Lax`].
    pub same_site: SameSite,
    /// `Path`; default `/`.
    pub path: String,
    /// `Domain`; default none (host-only cookie).
    pub domain: Option<String>,
}

impl CookieConfig {
    /// The `Set-Cookie` value for `value` living `max_age` seconds (RFC 6265 §4.1).
    pub(crate) fn render(&self, value: &str, max_age: i64) -> String {
        let mut out = format!(
            "{}={}; Path={}; Max-Age={}",
            self.name, value, self.path, max_age
        );
        if let Some(domain) = &self.domain {
            out.push_str("; Domain=");
            out.push_str(domain);
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if self.secure {
            out.push_str("; Secure");
        }
        out.push_str(match self.same_site {
            SameSite::Lax => "; SameSite=Lax",
            SameSite::Strict => "; SameSite=Strict",
            SameSite::None => "; SameSite=None",
        });
        out
    }
}

impl Default for CookieConfig {
    fn default() -> Self {
        CookieConfig {
            name: "authkit_session".into(),
            secure: true,
            http_only: true,
            same_site: SameSite::Lax,
            path: "/".into(),
            domain: None,
        }
    }
}

/// Argon2id cost parameters. The default is OWASP's first recommended configuration
/// (Password Storage Cheat Sheet, "Argon2id": m=19 MiB, t=2, p=1).
///
/// Each hash or verification in flight works in `memory_kib` KiB. Between them, an
/// [`Auth`](crate::Auth) keeps up to one zeroized buffer of that size per available CPU
/// ([`std::thread::available_parallelism`]) for reuse, so it holds at most
/// `available_parallelism × memory_kib` KiB at rest (8 × 19 MiB = 152 MiB on an 8-CPU
/// machine with the defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl PasswordParams {
    /// Memory in KiB, iterations and lanes; checked when [`Auth`](crate::Auth) is built.
    pub const fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Self {
        PasswordParams {
            memory_kib,
            iterations,
            parallelism,
        }
    }
}

impl Default for PasswordParams {
    fn default() -> Self {
        PasswordParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Password rules.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode scalar values); default 8 (OWASP Authentication
    /// Cheat Sheet; NIST SP 800-63B §3.1.1.2 sets 8 where MFA is used).
    pub min_chars: usize,
    /// Most bytes; default 1024. Longer passwords are refused, never truncated.
    pub max_bytes: usize,
    /// Argon2id cost.
    pub params: PasswordParams,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_chars: 8,
            max_bytes: 1024,
            params: PasswordParams::default(),
        }
    }
}

/// Session lifetimes and cookie.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Idle time-to-live, slid on use; default 24 h.
    pub idle_ttl: Duration,
    /// Absolute lifetime from issue; default 30 days.
    pub absolute_ttl: Duration,
    /// The idle deadline is written only when it would move by more than this;
    /// default 60 s. A session may so end up to this much before `idle_ttl` of idleness,
    /// never after.
    pub touch_step: Duration,
    /// How long [`Auth::authenticate_session`](crate::Auth::authenticate_session) may
    /// answer from memory a session it verified in the store, at most
    /// [`SessionConfig::MAX_CACHE_TTL`]; default zero (off: every call asks the store).
    ///
    /// With it on, a session revoked through this `Auth` stops working at once, but one
    /// revoked elsewhere (another instance, the CLI, the database) keeps working here for
    /// up to this long, and the idle deadline this process writes is up to this late.
    /// Deadlines are still checked on every call. Up to 10,000 sessions are kept.
    pub cache_ttl: Duration,
    /// The cookie.
    pub cookie: CookieConfig,
}

impl SessionConfig {
    /// The longest [`SessionConfig::cache_ttl`]: what a revocation elsewhere may lag.
    pub const MAX_CACHE_TTL: Duration = Duration::seconds(60);
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_ttl: Duration::hours(24),
            absolute_ttl: Duration::days(30),
            touch_step: Duration::seconds(60),
            cache_ttl: Duration::ZERO,
            cookie: CookieConfig::default(),
        }
    }
}

/// Access and refresh token lifetimes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenConfig {
    /// `iss` of every access token, checked on verification.
    pub issuer: String,
    /// The HS256 key; empty when [`TokenConfig::key_ring`] is set.
    pub signing_key: SigningKey,
    /// The signing and verifying keys (ES256, EdDSA, RS256, HS256), replacing
    /// `signing_key`; see [`Config::with_key_ring`]. Default none: `signing_key` is the
    /// ring's only key.
    pub key_ring: Option<KeyRing>,
    /// Access-token lifetime; default 15 min.
    pub access_ttl: Duration,
    /// The most a standard access token's lifetime is shortened by, at random; default
    /// zero (no jitter).
    ///
    /// Each access token issued under the standard profile (a pair from
    /// [`Auth::issue_token_pair`](crate::Auth::issue_token_pair), its refreshes, and
    /// [`Auth::issue_api_token`](crate::Auth::issue_api_token) without a profile) lives
    /// `access_ttl` minus an amount drawn uniformly from `[0, access_ttl_jitter]`, so the
    /// tokens of clients that logged in together do not all expire, and come back to
    /// refresh, in the same second. The lifetime is only ever shortened: it stays within
    /// `access_ttl`, hence under [`TokenConfig::max_access_ttl`], and positive (the jitter
    /// must be shorter than `access_ttl`). Named profiles and machine tokens
    /// ([`ApiKeyConfig::machine_token_ttl`]) get no jitter: they live exactly what is
    /// configured.
    pub access_ttl_jitter: Duration,
    /// Refresh-token lifetime; default 30 days.
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a refresh chain (one login); default 30 days.
    pub refresh_chain_ttl: Duration,
    /// Within this long after a refresh token is first used, it may be rotated once more
    /// instead of counting as reuse (for clients that lose a response); default zero.
    /// The window is measured from the stored time of the first use: a repeat whose
    /// server read an earlier time (it waited behind the first use, or its clock is
    /// behind) is judged at that first use, so with zero every repeat is reuse.
    pub reuse_grace: Duration,
    /// Tolerated clock skew when checking an access token's `exp`, `nbf` and `iat`, and
    /// its `exp` against [`TokenConfig::max_access_ttl`]; default zero.
    pub leeway: Duration,
    /// Hard cap on any access-token lifetime; default 24 h. A promise at verification
    /// too: [`Auth::verify_access`](crate::Auth::verify_access) refuses a token whose
    /// `exp - iat` is longer, or whose `exp` is past `now + max_access_ttl + leeway`, so
    /// lowering the cap also cuts short the live tokens issued under a higher one.
    pub max_access_ttl: Duration,
    /// Whether access tokens typed `JWT` are still accepted beside `at+jwt`; default
    /// `true`.
    ///
    /// Access tokens are typed `at+jwt` (RFC 9068 §2.1, explicit typing of RFC 8725
    /// §3.11). Releases before that wrote `typ: JWT`, so during a (rolling) upgrade live
    /// tokens, and tokens minted by instances not yet upgraded, carry `JWT`. Set this to
    /// `false` once every instance writes `at+jwt` and [`TokenConfig::max_access_ttl`]
    /// has passed since; a later release will make `false` the default. A token with no
    /// `typ`, or any other `typ`, is refused either way.
    pub accept_legacy_typ: bool,
    /// Hard cap on any refresh-token or chain lifetime; default 90 days.
    pub max_refresh_ttl: Duration,
    /// Named lifetime profiles besides [`STANDARD_PROFILE`] (which is always the values
    /// above); default `short` (15 min / 1 day) and `long` (24 h / 90 days).
    pub profiles: BTreeMap<String, Profile>,
}

impl TokenConfig {
    /// The profile named `name` (`None`: standard). Unknown: [`Error::UnknownProfile`],
    /// never a fall-back to another lifetime.
    pub fn profile(&self, name: Option<&str>) -> Result<Profile> {
        match name {
            None | Some(STANDARD_PROFILE) => Ok(Profile {
                access_ttl: self.access_ttl,
                refresh_ttl: self.refresh_ttl,
                chain_ttl: self.refresh_chain_ttl,
            }),
            Some(name) => self
                .profiles
                .get(name)
                .copied()
                .ok_or_else(|| Error::UnknownProfile(name.into())),
        }
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        crate::secret::constant_time_eq(self.as_bytes(), other.as_bytes())
    }
}
impl Eq for SigningKey {}

/// Lifetimes and rules of one-time tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OneTimeConfig {
    /// Email-verification link lifetime; default 48 h.
    pub email_verification_ttl: Duration,
    /// Password-reset link lifetime; default 1 h (OWASP Forgot Password Cheat Sheet:
    /// tokens expire after an appropriate period).
    pub password_reset_ttl: Duration,
    /// Magic-link lifetime; default 15 min.
    pub magic_link_ttl: Duration,
    /// Email OTP lifetime; default 10 min.
    pub otp_ttl: Duration,
    /// Digits in an OTP code, 6 to 10; default 6.
    pub otp_digits: u32,
    /// Failed attempts after which an OTP code is dead; default 5.
    pub otp_max_attempts: u32,
    /// When `false` (the default), a request for an unknown email succeeds silently, so
    /// responses do not reveal which accounts exist (OWASP Forgot Password Cheat Sheet:
    /// "Return a consistent message for both existent and non-existent accounts").
    /// When `true`, it fails with [`Error::UserNotFound`].
    pub reveal_unknown_email: bool,
}

impl Default for OneTimeConfig {
    fn default() -> Self {
        OneTimeConfig {
            email_verification_ttl: Duration::hours(48),
            password_reset_ttl: Duration::hours(1),
            magic_link_ttl: Duration::minutes(15),
            otp_ttl: Duration::minutes(10),
            otp_digits: 6,
            otp_max_attempts: 5,
            reveal_unknown_email: false,
        }
    }
}

/// Rules for API and service keys.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiKeyConfig {
    /// The only scopes a publishable (`pk`) key may hold, since it is visible to anyone;
    /// default none, so publishable keys hold no scope until the application names the
    /// public-safe ones.
    pub publishable_scopes: Vec<String>,
    /// Scopes a new publishable key gets when the caller names none; default none.
    pub default_publishable_scopes: Vec<String>,
    /// Scopes a new secret (`sk`) key gets when the caller names none; default `*`.
    pub default_secret_scopes: Vec<String>,
    /// Scopes a new restricted (`rk`) key gets when the caller names none; default none.
    pub default_restricted_scopes: Vec<String>,
    /// Recorded uses are written to the store in the background once this many are
    /// pending; default 10,000. A flush writes one row per key used since the last one,
    /// so a row write covers about this many uses over the keys in use: at 1,000, a
    /// working set of 1,000 keys had nearly every verification write its key's row. It
    /// bounds what a crash loses, as the interval does; under heavy load the interval
    /// alone would let far more pile up.
    pub usage_flush_uses: u64,
    /// … or once the oldest pending use is this old; default 10 s.
    pub usage_flush_interval: Duration,
    /// The permission a key's owner must hold for the key to act for another user
    /// (impersonation), checked when the key is created and each time its grants are
    /// evaluated; default `None`: no key may impersonate. Delegation (a key acting for
    /// its own owner) needs no permission.
    pub impersonation_permission: Option<String>,
    /// Lifetime of a machine token, the access token a service key is exchanged for
    /// ([`Auth::issue_machine_token`](crate::Auth::issue_machine_token)); default 1 h.
    /// At most [`TokenConfig::max_access_ttl`]; independent of the user token profiles,
    /// and never jittered. A token never outlives the key it was obtained with.
    pub machine_token_ttl: Duration,
}

impl Default for ApiKeyConfig {
    fn default() -> Self {
        ApiKeyConfig {
            publishable_scopes: Vec::new(),
            default_publishable_scopes: Vec::new(),
            default_secret_scopes: vec!["*".into()],
            default_restricted_scopes: Vec::new(),
            usage_flush_uses: 10_000,
            usage_flush_interval: Duration::seconds(10),
            impersonation_permission: None,
            machine_token_ttl: Duration::hours(1),
        }
    }
}

/// A named set of token lifetimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Profile {
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a refresh chain issued under this profile.
    pub chain_ttl: Duration,
}

impl Profile {
    /// Access, refresh and chain lifetimes; checked against the caps when
    /// [`Auth`](crate::Auth) is built.
    pub const fn new(access_ttl: Duration, refresh_ttl: Duration, chain_ttl: Duration) -> Self {
        Profile {
            access_ttl,
            refresh_ttl,
            chain_ttl,
        }
    }
}

/// The name of the profile that is the configured defaults.
pub const STANDARD_PROFILE: &str = "standard";

/// A key that seals session payloads (AES-256-GCM), with the id stored beside each
/// payload so older keys still open what they sealed. `Debug` never prints the key.
#[derive(Clone)]
pub struct PayloadKey {
    id: u8,
    key: Zeroizing<[u8; 32]>,
}

impl PayloadKey {
    /// A key with id `id` from exactly 32 bytes; any other length is
    /// [`Error::InvalidKeyLength`].
    pub fn new(id: u8, key: &[u8]) -> Result<Self> {
        let key: [u8; 32] = key.try_into().map_err(|_| Error::InvalidKeyLength {
            expected: 32,
            got: key.len(),
        })?;
        Ok(PayloadKey {
            id,
            key: Zeroizing::new(key),
        })
    }

    /// The key id.
    pub fn id(&self) -> u8 {
        self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for PayloadKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayloadKey(id {})", self.id)
    }
}

impl PartialEq for PayloadKey {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id && crate::secret::constant_time_eq(&self.key[..], &other.key[..])
    }
}
impl Eq for PayloadKey {}

/// Everything [`Auth`](crate::Auth) can be tuned with. [`Config::new`] fills the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// Passwords.
    pub password: PasswordPolicy,
    /// Sessions.
    pub session: SessionConfig,
    /// Access and refresh tokens.
    pub tokens: TokenConfig,
    /// Rows a purge deletes per store call; default 1000.
    pub purge_batch: u32,
    /// One-time tokens.
    pub one_time: OneTimeConfig,
    /// API and service keys.
    pub api_keys: ApiKeyConfig,
    /// Keys sealing backend-for-frontend session payloads; the last one seals, every one
    /// opens. Empty: such sessions are unavailable.
    pub payload_keys: Vec<PayloadKey>,
}

impl Config {
    /// The defaults, with the two values that have none: the token issuer and key.
    pub fn new(issuer: impl Into<String>, signing_key: SigningKey) -> Self {
        Config {
            password: PasswordPolicy::default(),
            session: SessionConfig::default(),
            tokens: TokenConfig {
                issuer: issuer.into(),
                signing_key,
                key_ring: None,
                access_ttl: Duration::minutes(15),
                access_ttl_jitter: Duration::ZERO,
                refresh_ttl: Duration::days(30),
                refresh_chain_ttl: Duration::days(30),
                reuse_grace: Duration::ZERO,
                leeway: Duration::ZERO,
                max_access_ttl: Duration::hours(24),
                accept_legacy_typ: true,
                max_refresh_ttl: Duration::days(90),
                profiles: BTreeMap::from([
                    (
                        "short".into(),
                        Profile {
                            access_ttl: Duration::minutes(15),
                            refresh_ttl: Duration::days(1),
                            chain_ttl: Duration::days(1),
                        },
                    ),
                    (
                        "long".into(),
                        Profile {
                            access_ttl: Duration::hours(24),
                            refresh_ttl: Duration::days(90),
                            chain_ttl: Duration::days(90),
                        },
                    ),
                ]),
            },
            one_time: OneTimeConfig::default(),
            api_keys: ApiKeyConfig::default(),
            payload_keys: Vec::new(),
            purge_batch: 1000,
        }
    }

    /// The defaults, with access tokens signed and verified by `key_ring` (its active key
    /// signs; every key verifies) instead of one HS256 secret.
    pub fn with_key_ring(issuer: impl Into<String>, key_ring: KeyRing) -> Self {
        let mut config = Config::new(issuer, SigningKey::new(Vec::new()));
        config.tokens.key_ring = Some(key_ring);
        config
    }

    /// Checks every rule; [`Error::InvalidConfig`] lists every one broken, not only the
    /// first, so one start-up shows everything to fix.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Problems::default();
        self.check_sessions(&mut problems);
        self.check_tokens(&mut problems);
        self.check_one_time(&mut problems);
        self.check_api_keys(&mut problems);
        self.check_password(&mut problems);
        let mut ids: Vec<u8> = self.payload_keys.iter().map(PayloadKey::id).collect();
        ids.sort_unstable();
        problems.check(ids.windows(2).all(|w| w[0] != w[1]), || {
            "payload_keys: two keys share an id".into()
        });
        problems.check(self.purge_batch > 0, || "purge_batch is zero".into());
        problems.into_result()
    }
}

impl Config {
    fn check_sessions(&self, p: &mut Problems) {
        let s = &self.session;
        p.positive("session.idle_ttl", s.idle_ttl);
        p.positive("session.absolute_ttl", s.absolute_ttl);
        p.at_most(
            "session.idle_ttl",
            s.idle_ttl,
            "session.absolute_ttl",
            s.absolute_ttl,
        );
        p.not_negative("session.touch_step", s.touch_step);
        p.at_most(
            "session.touch_step",
            s.touch_step,
            "session.idle_ttl",
            s.idle_ttl,
        );
        p.not_negative("session.cache_ttl", s.cache_ttl);
        p.check(s.cache_ttl <= SessionConfig::MAX_CACHE_TTL, || {
            "session.cache_ttl is over 60 s".into()
        });
        let cookie = &s.cookie;
        p.check(cookie.same_site != SameSite::None || cookie.secure, || {
            "session.cookie: SameSite=None requires Secure".into()
        });
        // RFC 6265bis §4.1.3: browsers refuse such cookies otherwise.
        p.check(
            !cookie.name.starts_with("__Secure-") || cookie.secure,
            || "session.cookie: the __Secure- prefix requires Secure".into(),
        );
        p.check(
            !cookie.name.starts_with("__Host-")
                || (cookie.secure && cookie.path == "/" && cookie.domain.is_none()),
            || "session.cookie: the __Host- prefix requires Secure, Path=/ and no Domain".into(),
        );
        let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        p.check(
            !cookie.name.is_empty() && cookie.name.chars().all(token_char),
            || "session.cookie.name is not an RFC 6265 token".into(),
        );
    }

    fn check_tokens(&self, p: &mut Problems) {
        let t = &self.tokens;
        p.positive("tokens.access_ttl", t.access_ttl);
        p.positive("tokens.refresh_ttl", t.refresh_ttl);
        p.positive("tokens.refresh_chain_ttl", t.refresh_chain_ttl);
        p.not_negative("tokens.reuse_grace", t.reuse_grace);
        p.not_negative("tokens.leeway", t.leeway);
        p.not_negative("tokens.access_ttl_jitter", t.access_ttl_jitter);
        p.check(t.access_ttl_jitter < t.access_ttl, || {
            format!(
                "tokens.access_ttl_jitter ({}) must be shorter than tokens.access_ttl ({})",
                t.access_ttl_jitter, t.access_ttl
            )
        });
        p.at_most(
            "tokens.access_ttl",
            t.access_ttl,
            "tokens.max_access_ttl",
            t.max_access_ttl,
        );
        p.at_most(
            "tokens.refresh_ttl",
            t.refresh_ttl,
            "tokens.max_refresh_ttl",
            t.max_refresh_ttl,
        );
        p.at_most(
            "tokens.refresh_chain_ttl",
            t.refresh_chain_ttl,
            "tokens.max_refresh_ttl",
            t.max_refresh_ttl,
        );
        for (name, profile) in &t.profiles {
            self.check_profile(name, profile, p);
        }
        p.check(!t.issuer.is_empty(), || "tokens.issuer is empty".into());
        match &t.key_ring {
            None => p.check(
                t.signing_key.as_bytes().len() >= SigningKey::MIN_BYTES,
                || {
                    format!(
                        "tokens.signing_key is shorter than {} bytes",
                        SigningKey::MIN_BYTES
                    )
                },
            ),
            Some(_) if !t.signing_key.as_bytes().is_empty() => p.push(
                "tokens.signing_key and tokens.key_ring are both set; put the HS256 key in the ring"
                    .into(),
            ),
            Some(ring) => match ring.validate() {
                Ok(()) => {}
                Err(Error::InvalidConfig(problems)) => problems.into_iter().for_each(|e| p.push(e)),
                Err(other) => p.push(other.to_string()),
            },
        }
    }

    fn check_profile(&self, name: &str, profile: &Profile, p: &mut Problems) {
        let t = &self.tokens;
        if name == STANDARD_PROFILE {
            p.push(format!(
                "profile {name:?} is the defaults; set tokens.access_ttl etc."
            ));
            return;
        }
        let field = |f: &str| format!("profile {name:?} {f}");
        p.positive(&field("access_ttl"), profile.access_ttl);
        p.positive(&field("refresh_ttl"), profile.refresh_ttl);
        p.positive(&field("chain_ttl"), profile.chain_ttl);
        p.at_most(
            &field("access_ttl"),
            profile.access_ttl,
            "tokens.max_access_ttl",
            t.max_access_ttl,
        );
        p.at_most(
            &field("refresh_ttl"),
            profile.refresh_ttl,
            "tokens.max_refresh_ttl",
            t.max_refresh_ttl,
        );
        p.at_most(
            &field("chain_ttl"),
            profile.chain_ttl,
            "tokens.max_refresh_ttl",
            t.max_refresh_ttl,
        );
    }

    fn check_one_time(&self, p: &mut Problems) {
        let o = &self.one_time;
        p.positive("one_time.email_verification_ttl", o.email_verification_ttl);
        p.positive("one_time.password_reset_ttl", o.password_reset_ttl);
        p.positive("one_time.magic_link_ttl", o.magic_link_ttl);
        p.positive("one_time.otp_ttl", o.otp_ttl);
        p.check((6..=10).contains(&o.otp_digits), || {
            "one_time.otp_digits must be between 6 and 10".into()
        });
        p.check(o.otp_max_attempts > 0, || {
            "one_time.otp_max_attempts is zero".into()
        });
    }

    fn check_api_keys(&self, p: &mut Problems) {
        let k = &self.api_keys;
        let all = [
            &k.publishable_scopes,
            &k.default_publishable_scopes,
            &k.default_secret_scopes,
            &k.default_restricted_scopes,
        ];
        for scope in all.into_iter().flatten() {
            p.check(crate::scope::check_scope(scope).is_ok(), || {
                format!("api_keys: invalid scope {scope:?}")
            });
        }
        for s in &k.default_publishable_scopes {
            p.check(k.publishable_scopes.contains(s), || {
                format!("api_keys.default_publishable_scopes: {s:?} is not public-safe")
            });
        }
        p.check(k.usage_flush_uses > 0, || {
            "api_keys.usage_flush_uses is zero".into()
        });
        p.positive("api_keys.usage_flush_interval", k.usage_flush_interval);
        if let Some(slug) = &k.impersonation_permission {
            p.check(crate::scope::check_slug(slug).is_ok(), || {
                format!("api_keys.impersonation_permission: invalid slug {slug:?}")
            });
        }
        p.positive("api_keys.machine_token_ttl", k.machine_token_ttl);
        p.at_most(
            "api_keys.machine_token_ttl",
            k.machine_token_ttl,
            "tokens.max_access_ttl",
            self.tokens.max_access_ttl,
        );
    }

    fn check_password(&self, p: &mut Problems) {
        let policy = &self.password;
        p.check(
            policy.min_chars > 0 && policy.min_chars <= policy.max_bytes,
            || "password.min_chars must be between 1 and password.max_bytes".into(),
        );
        if let Err(e) = crate::password::argon2_params(policy.params) {
            p.push(format!("password.params: {e}"));
        }
    }
}

/// The broken rules found so far.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, problem: String) {
        self.0.push(problem);
    }

    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            self.0.push(problem());
        }
    }

    fn positive(&mut self, name: &str, d: Duration) {
        self.check(d.is_positive(), || format!("{name} must be positive"));
    }

    fn not_negative(&mut self, name: &str, d: Duration) {
        self.check(!d.is_negative(), || format!("{name} must not be negative"));
    }

    fn at_most(&mut self, name: &str, d: Duration, cap_name: &str, cap: Duration) {
        self.check(d <= cap, || {
            format!("{name} ({d}) exceeds {cap_name} ({cap})")
        });
    }

    fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidConfig(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::new("https://auth.test", SigningKey::new([1u8; 32]))
    }

    #[test]
    fn defaults_are_valid() {
        assert!(config().validate().is_ok());
    }

    #[test]
    fn every_broken_rule_is_reported_at_once() {
        let mut c = config();
        c.session.idle_ttl = Duration::ZERO;
        c.tokens.reuse_grace = Duration::seconds(-1);
        c.tokens.signing_key = SigningKey::new([1u8; 8]);
        c.one_time.otp_digits = 4;
        c.purge_batch = 0;
        let Err(Error::InvalidConfig(problems)) = c.validate() else {
            panic!("a broken config validated");
        };
        let expected = [
            "session.idle_ttl must be positive",
            "tokens.reuse_grace must not be negative",
            "tokens.signing_key is shorter than 32 bytes",
            "one_time.otp_digits must be between 6 and 10",
            "purge_batch is zero",
        ];
        for text in expected {
            assert!(
                problems.iter().any(|p| p == text),
                "{text:?} in {problems:?}"
            );
        }
    }

    #[test]
    fn profile_over_a_cap_is_named() {
        let mut c = config();
        let over = Profile::new(Duration::days(2), Duration::days(1), Duration::days(1));
        c.tokens.profiles.insert("wide".into(), over);
        let Err(Error::InvalidConfig(problems)) = c.validate() else {
            panic!("a profile over the access cap validated");
        };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("profile \"wide\" access_ttl"),
            "{problems:?}"
        );
    }

    /// Every problem `c` has, or a panic if it validates.
    fn problems(c: &Config) -> Vec<String> {
        match c.validate() {
            Err(Error::InvalidConfig(problems)) => problems,
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    }

    #[test]
    fn machine_token_ttl_is_positive_and_under_the_access_cap() {
        assert_eq!(config().api_keys.machine_token_ttl, Duration::hours(1));
        let mut c = config();
        c.api_keys.machine_token_ttl = c.tokens.max_access_ttl;
        c.validate().expect("exactly the cap");
        c.api_keys.machine_token_ttl += Duration::seconds(1);
        assert_eq!(
            problems(&c),
            ["api_keys.machine_token_ttl (1d1s) exceeds tokens.max_access_ttl (1d)"]
        );
        // A lowered cap: the default 1 h fits under 2 h, 2 h 1 s does not.
        c.tokens.max_access_ttl = Duration::hours(2);
        c.tokens.profiles.clear();
        c.api_keys.machine_token_ttl = Duration::hours(1);
        c.validate().expect("the default under a lowered cap");
        c.api_keys.machine_token_ttl = Duration::hours(2) + Duration::seconds(1);
        assert_eq!(
            problems(&c),
            ["api_keys.machine_token_ttl (2h1s) exceeds tokens.max_access_ttl (2h)"]
        );
        for bad in [Duration::ZERO, Duration::seconds(-1)] {
            c.api_keys.machine_token_ttl = bad;
            assert_eq!(
                problems(&c),
                ["api_keys.machine_token_ttl must be positive"]
            );
        }
        // Listed with the other problems, not instead of them.
        c.purge_batch = 0;
        assert_eq!(problems(&c).len(), 2);
    }

    #[test]
    fn access_ttl_jitter_is_shorter_than_the_access_ttl() {
        let mut c = config();
        assert_eq!(c.tokens.access_ttl_jitter, Duration::ZERO);
        c.tokens.access_ttl_jitter = c.tokens.access_ttl - Duration::microseconds(1);
        c.validate().expect("just under the access ttl");
        c.tokens.access_ttl_jitter = c.tokens.access_ttl;
        assert_eq!(
            problems(&c),
            ["tokens.access_ttl_jitter (15m) must be shorter than tokens.access_ttl (15m)"]
        );
        c.tokens.access_ttl_jitter = Duration::seconds(-1);
        assert_eq!(
            problems(&c),
            ["tokens.access_ttl_jitter must not be negative"]
        );
    }

    #[test]
    fn cookie_prefixes_need_the_attributes_browsers_demand() {
        let mut c = config();
        c.session.cookie.name = "__Host-sid".into();
        c.validate().expect("the defaults suit __Host-");
        c.session.cookie.path = "/app".into();
        c.session.cookie.domain = Some("example.com".into());
        assert_eq!(
            problems(&c),
            ["session.cookie: the __Host- prefix requires Secure, Path=/ and no Domain"]
        );
        let mut c = config();
        c.session.cookie.name = "__Secure-sid".into();
        c.session.cookie.domain = Some("example.com".into());
        c.validate().expect("__Secure- allows a domain");
        c.session.cookie.secure = false;
        assert_eq!(
            problems(&c),
            ["session.cookie: the __Secure- prefix requires Secure"]
        );
    }

    #[test]
    fn session_cache_ttl_is_between_zero_and_a_minute() {
        let mut c = config();
        assert_eq!(c.session.cache_ttl, Duration::ZERO);
        c.session.cache_ttl = SessionConfig::MAX_CACHE_TTL;
        c.validate().expect("the cap");
        c.session.cache_ttl += Duration::microseconds(1);
        assert_eq!(problems(&c), ["session.cache_ttl is over 60 s"]);
        c.session.cache_ttl = Duration::seconds(-1);
        assert_eq!(problems(&c), ["session.cache_ttl must not be negative"]);
    }

    #[test]
    fn cookie_renders_every_attribute() {
        let mut cookie = CookieConfig::default();
        assert_eq!(
            cookie.render("abc", 60),
            "authkit_session=abc; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax"
        );
        cookie.domain = Some("example.com".into());
        cookie.http_only = false;
        cookie.same_site = SameSite::Strict;
        assert_eq!(
            cookie.render("", 0),
            "authkit_session=; Path=/; Max-Age=0; Domain=example.com; Secure; SameSite=Strict"
        );
    }
}
