//! authkit: authentication and authorization for Rust web services.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod clock;
pub mod config;
mod email;
pub mod error;
pub mod model;
mod password;
pub mod secret;
pub mod store;

pub use clock::{Clock, ManualClock, OsRandomness, Randomness, SeededRandomness, SystemClock};
pub use config::{Config, SigningKey};
pub use email::{MAX_EMAIL_BYTES, normalize_email};
pub use error::{BoxError, Error, Result, StoreError};
pub use model::*;
pub use secret::Secret;
pub use store::{
    ApiKeyStore, OtpMatcher, RbacStore, RotationRule, SessionStore, Stores, TokenStore, UserStore,
};
mod auth;
pub use auth::{
    AccessClaims, Audience, Auth, AuthBuilder, IssuedSession, LoginAttempt, LoginHook,
    LoginOutcome, PurgeReport, TokenPair,
};
