//! Configuration, with the defaults of the design and the checks that make a bad one fail
//! at construction rather than on a request.

use std::fmt;

use time::Duration;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
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
pub struct SessionConfig {
    /// Idle time-to-live, slid on use; default 24 h.
    pub idle_ttl: Duration,
    /// Absolute lifetime from issue; default 30 days.
    pub absolute_ttl: Duration,
    /// The idle deadline is written only when it would move by more than this;
    /// default 60 s. A session may so end up to this much before `idle_ttl` of idleness,
    /// never after.
    pub touch_step: Duration,
    /// The cookie.
    pub cookie: CookieConfig,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            idle_ttl: Duration::hours(24),
            absolute_ttl: Duration::days(30),
            touch_step: Duration::seconds(60),
            cookie: CookieConfig::default(),
        }
    }
}

/// Access and refresh token lifetimes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenConfig {
    /// `iss` of every access token, checked on verification.
    pub issuer: String,
    /// The HS256 key.
    pub signing_key: SigningKey,
    /// Access-token lifetime; default 15 min.
    pub access_ttl: Duration,
    /// Refresh-token lifetime; default 30 days.
    pub refresh_ttl: Duration,
    /// Absolute lifetime of a refresh chain (one login); default 30 days.
    pub refresh_chain_ttl: Duration,
    /// Within this long after a refresh token is first used, it may be rotated once more
    /// instead of counting as reuse (for clients that lose a response); default zero.
    pub reuse_grace: Duration,
    /// Tolerated clock skew when checking `exp`; default zero.
    pub leeway: Duration,
    /// Hard cap on any access-token lifetime; default 24 h.
    pub max_access_ttl: Duration,
    /// Hard cap on any refresh-token or chain lifetime; default 90 days.
    pub max_refresh_ttl: Duration,
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        crate::secret::constant_time_eq(self.as_bytes(), other.as_bytes())
    }
}
impl Eq for SigningKey {}

/// Everything [`Auth`](crate::Auth) can be tuned with. [`Config::new`] fills the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Passwords.
    pub password: PasswordPolicy,
    /// Sessions.
    pub session: SessionConfig,
    /// Access and refresh tokens.
    pub tokens: TokenConfig,
    /// Rows a purge deletes per store call; default 1000.
    pub purge_batch: u32,
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
                access_ttl: Duration::minutes(15),
                refresh_ttl: Duration::days(30),
                refresh_chain_ttl: Duration::days(30),
                reuse_grace: Duration::ZERO,
                leeway: Duration::ZERO,
                max_access_ttl: Duration::hours(24),
                max_refresh_ttl: Duration::days(90),
            },
            purge_batch: 1000,
        }
    }

    /// Checks every rule; [`Error::InvalidConfig`] names the first one broken.
    pub fn validate(&self) -> Result<()> {
        let s = &self.session;
        let t = &self.tokens;
        positive("session.idle_ttl", s.idle_ttl)?;
        positive("session.absolute_ttl", s.absolute_ttl)?;
        at_most(
            "session.idle_ttl",
            s.idle_ttl,
            "session.absolute_ttl",
            s.absolute_ttl,
        )?;
        not_negative("session.touch_step", s.touch_step)?;
        at_most(
            "session.touch_step",
            s.touch_step,
            "session.idle_ttl",
            s.idle_ttl,
        )?;
        positive("tokens.access_ttl", t.access_ttl)?;
        positive("tokens.refresh_ttl", t.refresh_ttl)?;
        positive("tokens.refresh_chain_ttl", t.refresh_chain_ttl)?;
        not_negative("tokens.reuse_grace", t.reuse_grace)?;
        not_negative("tokens.leeway", t.leeway)?;
        at_most(
            "tokens.access_ttl",
            t.access_ttl,
            "tokens.max_access_ttl",
            t.max_access_ttl,
        )?;
        at_most(
            "tokens.refresh_ttl",
            t.refresh_ttl,
            "tokens.max_refresh_ttl",
            t.max_refresh_ttl,
        )?;
        at_most(
            "tokens.refresh_chain_ttl",
            t.refresh_chain_ttl,
            "tokens.max_refresh_ttl",
            t.max_refresh_ttl,
        )?;
        if t.issuer.is_empty() {
            return invalid("tokens.issuer is empty".into());
        }
        if t.signing_key.as_bytes().len() < SigningKey::MIN_BYTES {
            return invalid(format!(
                "tokens.signing_key is shorter than {} bytes",
                SigningKey::MIN_BYTES
            ));
        }
        let p = &self.password;
        if p.min_chars == 0 || p.min_chars > p.max_bytes {
            return invalid("password.min_chars must be between 1 and password.max_bytes".into());
        }
        crate::password::argon2_params(p.params)?;
        let cookie = &self.session.cookie;
        if cookie.same_site == SameSite::None && !cookie.secure {
            return invalid("session.cookie: SameSite=None requires Secure".into());
        }
        let token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if cookie.name.is_empty() || !cookie.name.chars().all(token_char) {
            return invalid("session.cookie.name is not an RFC 6265 token".into());
        }
        if self.purge_batch == 0 {
            return invalid("purge_batch is zero".into());
        }
        Ok(())
    }
}

fn invalid(msg: String) -> Result<()> {
    Err(Error::InvalidConfig(msg))
}

fn positive(name: &str, d: Duration) -> Result<()> {
    if d.is_positive() {
        Ok(())
    } else {
        invalid(format!("{name} must be positive"))
    }
}

fn not_negative(name: &str, d: Duration) -> Result<()> {
    if d.is_negative() {
        invalid(format!("{name} must not be negative"))
    } else {
        Ok(())
    }
}

fn at_most(name: &str, d: Duration, cap_name: &str, cap: Duration) -> Result<()> {
    if d <= cap {
        Ok(())
    } else {
        invalid(format!("{name} ({d}) exceeds {cap_name} ({cap})"))
    }
}
