//! [`Auth`]: every flow, over the store traits.

mod api_keys;
mod audit;
mod bff;
mod hook;
mod jwt;
mod login;
mod machine;
mod one_time;
mod purge;
mod rbac;
mod refresh;
mod session_cache;
mod sessions;
mod usage;

use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

pub use api_keys::{IssuedApiKey, KeyRequest, NewApiKey, parse_api_key};
pub use audit::{AuditEvent, AuditSink};
pub use bff::UpstreamTokens;
pub use hook::{LoginAttempt, LoginHook, LoginOutcome};
pub use jwt::{ACCESS_TOKEN_TYP, AccessClaims, AccessToken, Audience, CLIENT_CREDENTIALS_GTY};
pub use machine::MachineClaims;
pub use one_time::OneTimeIssue;
pub use purge::PurgeReport;
pub use rbac::{CheckedPredicate, Predicate, Subject};
pub use refresh::TokenPair;
pub use sessions::IssuedSession;

use crate::clock::{Clock, OsRandomness, Randomness, SystemClock, truncate_to_micros};
use crate::config::Config;
use crate::error::{Error, Result, StoreError};
use crate::model::Timestamp;
use crate::password::Passwords;
use crate::store::Stores;

/// The entry point: holds the stores, the configuration, the clock and the randomness,
/// and runs every flow. Cheap to share behind an `Arc`; all methods take `&self`.
///
/// ```
/// # async fn demo(stores: authkit::Stores) -> authkit::Result<()> {
/// use authkit::{Auth, Config, SigningKey};
///
/// let config = Config::new("https://auth.example.com", SigningKey::new([7u8; 32]));
/// let auth = Auth::builder(stores, config).build()?;
/// let user = auth.create_user("Alice@Example.com").await?;
/// auth.set_password(user.id, "correct horse battery staple").await?;
/// let user = auth.login_password("alice@example.com", "correct horse battery staple").await?;
/// let issued = auth.issue_session(user.id).await?;
/// let session = auth.authenticate_session(issued.secret.expose()).await?;
/// assert_eq!(session.user_id, user.id);
/// # Ok(()) }
/// ```
pub struct Auth {
    stores: Stores,
    config: Config,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Randomness>,
    passwords: Passwords,
    jwt: jwt::Jwt,
    hook: Option<Arc<dyn LoginHook>>,
    audit: Option<Arc<dyn AuditSink>>,
    usage: Arc<usage::UsageBuffer>,
    session_cache: session_cache::SessionCache,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("rng", &self.rng)
            .field("hook", &self.hook)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Auth`]; [`AuthBuilder::build`] validates the configuration.
#[derive(Debug)]
pub struct AuthBuilder {
    stores: Stores,
    config: Config,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn Randomness>,
    hook: Option<Arc<dyn LoginHook>>,
    audit: Option<Arc<dyn AuditSink>>,
}

impl AuthBuilder {
    /// Replaces the system clock (tests use [`ManualClock`](crate::ManualClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Replaces the OS CSPRNG (tests use [`SeededRandomness`](crate::SeededRandomness)).
    pub fn randomness(mut self, rng: Arc<dyn Randomness>) -> Self {
        self.rng = rng;
        self
    }

    /// Hands every audit event to `sink` (they are `tracing` events in any case).
    pub fn audit_sink(mut self, sink: Arc<dyn AuditSink>) -> Self {
        self.audit = Some(sink);
        self
    }

    /// Runs `hook` around every password login.
    pub fn login_hook(mut self, hook: Arc<dyn LoginHook>) -> Self {
        self.hook = Some(hook);
        self
    }

    /// Checks the configuration and builds. A broken rule is [`Error::InvalidConfig`].
    pub fn build(self) -> Result<Auth> {
        self.config.validate()?;
        Ok(Auth {
            passwords: Passwords::new(self.config.password.clone(), self.rng.as_ref())?,
            jwt: jwt::Jwt::new(&self.config.tokens)?,
            stores: self.stores,
            config: self.config,
            clock: self.clock,
            rng: self.rng,
            hook: self.hook,
            audit: self.audit,
            usage: Arc::default(),
            session_cache: Default::default(),
        })
    }
}

impl Auth {
    /// Starts building an `Auth` over `stores` with `config`, the system clock and the
    /// OS random generator.
    pub fn builder(stores: Stores, config: Config) -> AuthBuilder {
        AuthBuilder {
            stores,
            config,
            clock: Arc::new(SystemClock),
            rng: Arc::new(OsRandomness),
            hook: None,
            audit: None,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The stores, for what no flow covers (listing, administration).
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The current time, truncated to microseconds.
    pub fn now(&self) -> Timestamp {
        truncate_to_micros(self.clock.now())
    }

    /// A new time-ordered (v7) UUID from the injected clock and randomness.
    fn new_uuid(&self, now: Timestamp) -> Uuid {
        let mut random = [0u8; 10];
        self.rng.fill(&mut random);
        let millis = (now.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }
}

/// Maps a store's `NotFound` for a user to [`Error::UserNotFound`]; the rest as is.
fn user_missing(err: StoreError) -> Error {
    match err {
        StoreError::NotFound { .. } => Error::UserNotFound,
        other => Error::Store(other),
    }
}
