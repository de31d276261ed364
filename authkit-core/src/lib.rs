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
//! store is touched. An HTTP layer maps [`Error::kind`] ([`ErrorKind`]: invalid input,
//! unauthenticated, forbidden, conflict, not found, rate limited, unavailable,
//! internal), never individual variants, so a response cannot tell an attacker which of
//! several checks failed.
//!
//! # Design rules
//!
//! - **Rules live here, stores translate.** Where a store would have to decide (is this
//!   refresh token reused? is this OTP code locked?), core hands it a pure rule that runs
//!   once on the row the store has locked ([`RotationRule`], [`OtpRule`]); the store
//!   only locks, applies what the rule returned, and reports it.
//! - **Core owns time, ids and order.** A store never reads a clock (every call that
//!   depends on time takes `now`, truncated to microseconds), never makes an id (every
//!   id, RBAC items included, is a UUIDv7 drawn here), and may list in any order (core
//!   sorts and removes duplicates).
//! - **A store may hold only some traits.** [`Stores`] can mix backends; core checks
//!   that a user exists before it issues a credential or a grant, and deletes a user's
//!   credentials and grants through each store, so no store needs to know another's
//!   rows.
//! - **Errors say what with types.** [`StoreError::NotFound`] and
//!   [`StoreError::Conflict`] name an [`Entity`], so core never asks a store again why a
//!   call failed.
//! - **Config fails early.** [`Config::validate`] (run by [`Auth::builder`]) lists every
//!   broken rule at once; config and option structs are `#[non_exhaustive]`, so a new
//!   field is not a breaking change.
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
pub use error::{BoxError, Entity, Error, ErrorKind, Result, StoreError};
pub use issuer::{Issuer, Validator};
pub use keys::{JwsAlgorithm, KeyRing, PrivateKey, VerifyingKey};
pub use model::*;
pub use scope::{
    MAX_SCOPE_BYTES, MAX_SLUG_BYTES, check_scope, check_slug, scope_covers, scopes_cover,
};
pub use secret::Secret;
pub use store::{
    ApiKeyStore, OtpRule, RbacStore, RotationRule, SessionStore, SlideHints, Stores, TokenStore,
    UserStore,
};
/// The `uuid` crate, whose `Uuid` every id type wraps.
pub use uuid;
mod auth;
pub use auth::{
    ACCESS_TOKEN_TYP, AccessClaims, AccessToken, Audience, AuditEvent, AuditSink, Auth,
    AuthBuilder, CLIENT_CREDENTIALS_GTY, CheckedPredicate, IssuedApiKey, IssuedSession, KeyRequest,
    LoginAttempt, LoginHook, LoginOutcome, MachineClaims, NewApiKey, OneTimeIssue, Predicate,
    PurgeReport, Subject, TokenPair, UpstreamTokens, parse_api_key,
};
