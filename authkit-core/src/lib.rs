//! authkit: authentication and authorization for Rust web services.
//!
//! # Overview
//!
//! [`Auth`] runs every flow: registration and Argon2id password login, opaque server-side
//! sessions with a sliding idle deadline under an absolute cap, HS256 access tokens with
//! rotating refresh tokens (reuse detection, family revocation, chain cap), and purging.
//! It holds one store per trait ([`Stores`]): [`UserStore`], [`SessionStore`],
//! [`TokenStore`], [`ApiKeyStore`], [`RbacStore`]. Backends (`authkit-memory`, …)
//! implement the traits and nothing else: every rule about time, reuse and attempts
//! lives here, and reaches a store as a parameter or an atomic operation.
//!
//! # Example
//!
//! See [`Auth`] for a login and a session, and the repository README for a tour.
//!
//! # Errors
//!
//! Flows return [`Error`], one variant per cause a caller acts on; stores return
//! [`StoreError`]. Malformed input (tokens, emails, passwords) is refused before any
//! store is touched.
//!
//! # Secrets
//!
//! Opaque secrets are 256 random bits with a type prefix (`ses_`, `rft_`); stores keep
//! their SHA-256 only, and the plaintext ([`Secret`]) is returned once. Time and
//! randomness are injectable ([`Clock`], [`Randomness`]) for deterministic tests.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod config;
mod email;
pub mod error;
pub mod issuer;
pub mod keys;
pub mod model;
mod password;
mod scope;
pub mod secret;
pub mod store;

pub use clock::{Clock, ManualClock, OsRandomness, Randomness, SeededRandomness, SystemClock};
pub use config::{Config, PayloadKey, SigningKey};
pub use email::{MAX_EMAIL_BYTES, normalize_email};
pub use error::{BoxError, Error, Result, StoreError};
pub use issuer::{Issuer, Validator};
pub use keys::{JwsAlgorithm, KeyRing, PrivateKey, VerifyingKey};
pub use model::*;
pub use scope::{
    MAX_SCOPE_BYTES, MAX_SLUG_BYTES, check_scope, check_slug, scope_covers, scopes_cover,
};
pub use secret::Secret;
pub use store::{
    ApiKeyStore, OtpMatcher, RbacStore, RotationRule, SessionStore, Stores, TokenStore, UserStore,
};
mod auth;
pub use auth::{
    AccessClaims, AccessToken, Audience, Auth, AuthBuilder, CheckedPredicate, IssuedApiKey,
    IssuedSession, LoginAttempt, LoginHook, LoginOutcome, NewApiKey, OneTimeIssue, Predicate,
    PurgeReport, Subject, TokenPair, UpstreamTokens, parse_api_key,
};
