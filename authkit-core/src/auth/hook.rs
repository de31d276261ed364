//! The optional login hook: rate limiting, lockout, audit.

use std::fmt;
use std::net::IpAddr;

use async_trait::async_trait;

use crate::error::BoxError;
use crate::model::{Timestamp, UserId};

/// One password login attempt, as the hook sees it. Never carries the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginAttempt {
    /// The normalized email presented.
    pub email: String,
    /// The client's address, when the caller passed it.
    pub client_ip: Option<IpAddr>,
    /// When the attempt started.
    pub at: Timestamp,
}

/// How a login attempt ended, as told to [`LoginHook::after_login`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginOutcome {
    /// The password matched.
    Succeeded(UserId),
    /// Unknown email, no password, or wrong password.
    Failed,
}

/// Runs around every password login.
///
/// `before_login` runs first, before any lookup or hashing: an `Err` refuses the login
/// with [`Error::LoginRefused`](crate::Error::LoginRefused) (rate limiting, lockout); a
/// panic refuses it with [`Error::LoginHookPanicked`](crate::Error::LoginHookPanicked) and
/// never takes the caller down. `after_login` is told the outcome; its panics are logged.
#[async_trait]
pub trait LoginHook: Send + Sync + fmt::Debug + 'static {
    /// Decides whether the attempt may proceed.
    async fn before_login(&self, attempt: &LoginAttempt) -> Result<(), BoxError>;

    /// Learns how the attempt ended. Does nothing by default.
    async fn after_login(&self, _attempt: &LoginAttempt, _outcome: LoginOutcome) {}
}
