//! Errors: [`Error`] for callers of [`Auth`](crate::Auth), [`StoreError`] for store authors.

use crate::model::{FamilyId, UserId};

/// A boxed error that crosses crate boundaries with its source chain intact.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store reports. Backends keep their own rich error and convert it into this one.
///
/// A store never reports a miss as an error where its contract says the miss is `None`
/// or `false`; it never turns a backend failure into a miss either.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint was violated (duplicate email, token hash, key hash, slug, grant).
    #[error("conflict: {what} already exists")]
    Conflict {
        /// What collided, such as `"user email"`.
        what: &'static str,
    },
    /// A row the call refers to does not exist (unknown id, unknown slug).
    #[error("not found: {what}")]
    NotFound {
        /// What was missing, such as `"user"`.
        what: &'static str,
    },
    /// The live schema differs from the one the store expects; each entry names one problem.
    #[error("schema drift: {}", .0.join("; "))]
    SchemaDrift(Vec<String>),
    /// The database or driver failed; the source error is kept.
    #[error("store backend failed")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Wraps any driver error as [`StoreError::Backend`].
    pub fn backend(err: impl Into<BoxError>) -> Self {
        StoreError::Backend(err.into())
    }
}

/// Everything a flow of [`Auth`](crate::Auth) can fail with. Match on the variant, not on
/// the message text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration breaks a rule; raised by [`Auth`](crate::Auth) construction only.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// The email is empty, too long, or not of the form `local@domain`.
    #[error("invalid email: {0}")]
    InvalidEmail(&'static str),
    /// Another user already holds this (normalized) email.
    #[error("email already registered")]
    EmailTaken,
    /// The password is shorter than the configured minimum (counted in characters).
    #[error("password shorter than {min} characters")]
    PasswordTooShort {
        /// The configured minimum.
        min: usize,
    },
    /// The password is longer than the maximum, in bytes; it is never truncated.
    #[error("password longer than {max} bytes")]
    PasswordTooLong {
        /// The maximum in bytes.
        max: usize,
    },
    /// Email or password wrong, or the user has no password. Deliberately one variant.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The login hook refused the attempt (rate limit, lockout, audit failure).
    #[error("login refused by hook")]
    LoginRefused(#[source] BoxError),
    /// The login hook panicked; the login is refused.
    #[error("login hook panicked")]
    LoginHookPanicked,
    /// No user has this id.
    #[error("user not found")]
    UserNotFound,
    /// The presented token is not one this library issued: wrong prefix, length or encoding.
    #[error("malformed token")]
    MalformedToken,
    /// The session is unknown, revoked, or past its idle or absolute deadline.
    #[error("session invalid or expired")]
    SessionInvalid,
    /// The access token's signature, algorithm or issuer does not verify.
    #[error("invalid access token")]
    InvalidToken,
    /// The access token has expired.
    #[error("access token expired")]
    TokenExpired,
    /// The access token was minted for another audience.
    #[error("access token minted for another audience")]
    WrongAudience,
    /// No refresh token has this value.
    #[error("unknown refresh token")]
    RefreshUnknown,
    /// The refresh token had already been used: its whole family is now revoked.
    #[error("refresh token reused; family revoked")]
    RefreshReused {
        /// The revoked family.
        family: FamilyId,
        /// The user the family belonged to.
        user: UserId,
    },
    /// The refresh token is past its own expiry, or was revoked.
    #[error("refresh token expired or revoked")]
    RefreshExpired,
    /// The refresh chain (one login) is past its absolute lifetime; log in again.
    #[error("refresh chain past its absolute lifetime")]
    RefreshChainExpired,
    /// A store failed.
    #[error("store failed")]
    Store(#[from] StoreError),
    /// An internal step failed (a blocking task could not run, a signer failed).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Shorthand for results of [`Auth`](crate::Auth) flows.
pub type Result<T, E = Error> = std::result::Result<T, E>;
