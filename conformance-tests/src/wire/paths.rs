//! The hot paths a store is held to on the wire. Each is set up, run to warm the
//! statement caches, then run once more with its traffic counted; a backend's test
//! compares what comes back with its own budget, per database:
//!
//! ```no_run
//! # async fn budget(stores: authkit::Stores) {
//! use authkit_conformance::wire::{Counts, HotPaths, Protocol, counting_proxy};
//!
//! let (port, wire) = counting_proxy("127.0.0.1:5432".into(), Protocol::Postgres).await;
//! // … the store's pool connects to 127.0.0.1:`port` …
//! let paths = HotPaths::new(stores, wire);
//! let one = Counts { statements: 1, round_trips: 1, ..Counts::default() };
//! assert_eq!(paths.user_lookup_by_email().await, one);
//! # }
//! ```

use std::sync::Arc;

use authkit::{
    Auth, Config, Environment, KeyType, ManualClock, NewApiKey, RateLimit, Secret, SigningKey,
    Stores,
};

use super::{Counts, Wire};
use crate::cases::flows::{FAST_PARAMS, PASSWORD};

/// Keys whose buffered uses the counted flush writes.
pub const FLUSHED_KEYS: usize = 149;

/// `Auth` on a store whose pool goes through a counting proxy, with a clock the paths
/// move.
#[derive(Debug)]
pub struct HotPaths {
    auth: Auth,
    clock: Arc<ManualClock>,
    wire: Arc<Wire>,
}

/// What session authentication sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCounts {
    /// A live session with no slide due.
    pub nothing_due: Counts,
    /// A session whose slide is due, which the store has seen before.
    pub slide_due: Counts,
}

/// What API-key verification sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyCounts {
    /// A key without a rate limit.
    pub unlimited: Counts,
    /// A rate-limited key: the lookup and the count.
    pub limited: Counts,
    /// One flush of the buffered uses of [`FLUSHED_KEYS`] keys.
    pub flush: Counts,
}

impl HotPaths {
    /// The paths over `stores`, whose traffic `wire` counts.
    ///
    /// # Panics
    /// If `Auth` cannot be built over `stores`.
    pub fn new(stores: Stores, wire: Arc<Wire>) -> Self {
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let mut config = Config::new("https://rt.test", SigningKey::new([3; 32]));
        config.password.params = FAST_PARAMS;
        let auth = Auth::builder(stores, config)
            .clock(clock.clone())
            .build()
            .expect("Auth over the store");
        HotPaths { auth, clock, wire }
    }

    /// Session authentication, with no slide due and then with one due.
    ///
    /// # Panics
    /// If a call fails, or the due slide is not stored.
    pub async fn session_authentication(&self) -> SessionCounts {
        let auth = &self.auth;
        let user = auth.create_user("rt@example.com").await.unwrap();
        let issued = auth.issue_session(user.id).await.unwrap();
        let secret = issued.secret.expose();
        // Twice, so that a store with slide hints has seen the session.
        auth.authenticate_session(secret).await.unwrap();
        auth.authenticate_session(secret).await.unwrap();
        self.wire.take().await;
        auth.authenticate_session(secret).await.unwrap();
        let nothing_due = self.wire.take().await;

        // A slide written once before, so its statement is prepared.
        self.clock.advance(time::Duration::minutes(5));
        auth.authenticate_session(secret).await.unwrap();
        self.clock.advance(time::Duration::minutes(5));
        self.wire.take().await;
        let slid = auth.authenticate_session(secret).await.unwrap();
        let slide_due = self.wire.take().await;
        let stored = auth.list_sessions(user.id).await.unwrap();
        let stored = stored.iter().find(|s| s.id == issued.session.id).unwrap();
        assert_eq!(
            stored.idle_expires_at, slid.idle_expires_at,
            "the due slide was written"
        );
        SessionCounts {
            nothing_due,
            slide_due,
        }
    }

    /// API-key verification: a key without a limit, a limited key, and a flush of the
    /// uses of [`FLUSHED_KEYS`] keys (the third flush of that size: the first ones
    /// prepare what they send).
    ///
    /// # Panics
    /// If a call fails, or the flushed uses are not stored.
    pub async fn key_verification(&self) -> KeyCounts {
        let secrets = self.keys().await;
        let (plain, limited) = (&secrets[0], &secrets[FLUSHED_KEYS + 1]);
        self.verify(plain).await;
        self.verify(limited).await;
        self.auth.flush_key_usage().await.unwrap();
        self.wire.take().await;
        self.verify(plain).await;
        let unlimited = self.wire.take().await;
        self.verify(limited).await;
        let limited = self.wire.take().await;

        let mut flush = Counts::default();
        for _ in 0..3 {
            for secret in &secrets[1..=FLUSHED_KEYS] {
                self.verify(secret).await;
            }
            self.wire.take().await;
            self.auth.flush_key_usage().await.unwrap();
            flush = self.wire.take().await;
        }
        let first = self.verify(plain).await;
        assert_eq!(first.usage_count, 2, "the flushed uses are stored");
        KeyCounts {
            unlimited,
            limited,
            flush,
        }
    }

    /// Refresh rotation, of a token rotated once before.
    ///
    /// # Panics
    /// If a call fails.
    pub async fn refresh_rotation(&self) -> Counts {
        let auth = &self.auth;
        let user = auth.create_user("rotate@example.com").await.unwrap();
        let pair = auth.issue_token_pair(user.id).await.unwrap();
        let pair = auth.refresh(pair.refresh_token.expose()).await.unwrap();
        self.wire.take().await;
        auth.refresh(pair.refresh_token.expose()).await.unwrap();
        self.wire.take().await
    }

    /// A user looked up by email, in another case than stored: a password login (the
    /// lookup, then the password's check off the database).
    ///
    /// # Panics
    /// If a call fails, or the login finds another user.
    pub async fn user_lookup_by_email(&self) -> Counts {
        let auth = &self.auth;
        let user = auth.create_user("login@example.com").await.unwrap();
        auth.set_password(user.id, PASSWORD).await.unwrap();
        auth.login_password("login@example.com", PASSWORD)
            .await
            .unwrap();
        self.wire.take().await;
        let found = auth
            .login_password("Login@Example.com", PASSWORD)
            .await
            .unwrap();
        let counts = self.wire.take().await;
        assert_eq!(found.id, user.id, "the user found is the one created");
        counts
    }

    /// One key without a limit, [`FLUSHED_KEYS`] more, then one limited key; all with
    /// the scope `read`.
    async fn keys(&self) -> Vec<Secret> {
        let user = self.auth.create_user("keys@example.com").await.unwrap();
        let mut secrets = Vec::new();
        for i in 0..=FLUSHED_KEYS + 1 {
            let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user.id), "k");
            new.scopes = Some(vec!["read".into()]);
            if i == FLUSHED_KEYS + 1 {
                new.rate_limit = Some(RateLimit::new(100, time::Duration::SECOND));
            }
            secrets.push(self.auth.create_api_key(new).await.unwrap().secret);
        }
        secrets
    }

    async fn verify(&self, secret: &Secret) -> authkit::ApiKey {
        self.auth
            .verify_api_key(secret.expose(), Some("read"), None)
            .await
            .unwrap()
    }
}
