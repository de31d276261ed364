//! One-time tokens: email verification, password reset, magic link, email OTP.
//!
//! OWASP Forgot Password Cheat Sheet: tokens are random, long, single use, stored hashed,
//! expire, and requests for unknown accounts get the same answer as for known ones;
//! a reset ends the user's existing sessions. Each new request replaces the earlier
//! unused tokens of the same purpose. The library delivers nothing itself: each request
//! returns the secret for the application to send by email.

use super::audit::AuditEvent;
use super::{Auth, user_missing};
use crate::email::normalize_email;
use crate::error::{Error, Result};
use crate::model::{
    OneTimeToken, OneTimeTokenId, OtpDecision, OtpOutcome, Purpose, Timestamp, TokenHash, User,
    UserId,
};
use crate::secret::{Secret, TokenKind, constant_time_eq, issue_token, parse_token, sha256};

/// A one-time token just issued: deliver `secret` to `user`'s email. Shown once.
#[derive(Debug, Clone)]
pub struct OneTimeIssue {
    /// Who it is for.
    pub user: User,
    /// The token (`vfy_…`, `rst_…`, `mlk_…`) or the OTP code, to deliver by email.
    pub secret: Secret,
    /// When it stops working.
    pub expires_at: Timestamp,
}

impl Auth {
    /// Issues an email-verification token for a known user (typically right after sign-up).
    /// Unknown user: [`Error::UserNotFound`].
    pub async fn request_email_verification(&self, user: UserId) -> Result<OneTimeIssue> {
        let user = self.user(user).await?;
        self.issue_link(user, Purpose::EmailVerification).await
    }

    /// Spends an email-verification token and marks the email verified.
    /// Errors: [`Error::MalformedToken`], [`Error::OneTimeTokenInvalid`].
    pub async fn verify_email(&self, token: &str) -> Result<User> {
        let user = self.consume_link(token, Purpose::EmailVerification).await?;
        self.mark_verified(user).await
    }

    /// Issues a password-reset token. For an unknown email: `Ok(None)`, unless
    /// `one_time.reveal_unknown_email` is set ([`Error::UserNotFound`]).
    pub async fn request_password_reset(&self, email: &str) -> Result<Option<OneTimeIssue>> {
        self.request_link(email, Purpose::PasswordReset).await
    }

    /// Spends a reset token: sets the new password, then revokes every session and
    /// refresh token of the user. The password policy is checked before the token is
    /// spent, so a refused password does not burn the link.
    ///
    /// Errors: [`Error::PasswordTooShort`], [`Error::PasswordTooLong`],
    /// [`Error::MalformedToken`], [`Error::OneTimeTokenInvalid`].
    pub async fn reset_password(&self, token: &str, new_password: &str) -> Result<User> {
        self.passwords.check_policy(new_password)?;
        let hash = parse_token(TokenKind::PasswordReset, token)?;
        let phc = self.passwords.hash(new_password, self.rng.as_ref()).await?;
        let user = self.consume(&hash, Purpose::PasswordReset).await?;
        let now = self.now();
        self.stores
            .users
            .set_password_hash(user, Some(&phc), now)
            .await
            .map_err(user_missing)?;
        self.revoke_other_sessions(user, None).await?;
        self.stores.tokens.revoke_user_refresh(user, now).await?;
        self.audit(AuditEvent::PasswordReset { user });
        self.user(user).await
    }

    /// Issues a magic login link; unknown emails as in [`Auth::request_password_reset`].
    pub async fn request_magic_link(&self, email: &str) -> Result<Option<OneTimeIssue>> {
        self.request_link(email, Purpose::MagicLink).await
    }

    /// Spends a magic link and returns the user, ready for
    /// [`issue_session`](Auth::issue_session) or a token pair. Following the link proves
    /// control of the email, so it is marked verified.
    /// Errors: [`Error::MalformedToken`], [`Error::OneTimeTokenInvalid`].
    pub async fn login_magic_link(&self, token: &str) -> Result<User> {
        let user = self.consume_link(token, Purpose::MagicLink).await?;
        self.mark_verified(user).await
    }

    /// Issues a numeric email OTP code (`one_time.otp_digits` digits from the CSPRNG);
    /// unknown emails as in [`Auth::request_password_reset`].
    pub async fn request_email_otp(&self, email: &str) -> Result<Option<OneTimeIssue>> {
        let Some(user) = self.user_for_request(email).await? else {
            return Ok(None);
        };
        let now = self.now();
        let id = OneTimeTokenId(self.new_uuid(now));
        let code = self.otp_code();
        let token_hash = otp_hash(id, &code);
        let expires_at = now + self.config.one_time.otp_ttl;
        self.store_one_time(id, &user, Purpose::EmailOtp, token_hash, expires_at)
            .await?;
        Ok(Some(OneTimeIssue {
            user,
            secret: Secret::new(code),
            expires_at,
        }))
    }

    /// Checks an email OTP code. Every wrong code counts; at `one_time.otp_max_attempts`
    /// the code dies. Returns the user, ready for a session or a token pair, and marks the
    /// email verified.
    ///
    /// Errors: [`Error::OtpInvalid`] (wrong code, with attempts left),
    /// [`Error::OtpLocked`], [`Error::OneTimeTokenInvalid`] (no live code for this email,
    /// or an unknown email: the two answers are the same).
    pub async fn login_email_otp(&self, email: &str, code: &str) -> Result<User> {
        let email = normalize_email(email)?;
        let user = self.stores.users.user_by_email(&email).await?;
        let Some(user) = user else {
            return Err(Error::OneTimeTokenInvalid);
        };
        let max = self.config.one_time.otp_max_attempts;
        let rule = |t: &OneTimeToken| otp_decision(t, code, max);
        let now = self.now();
        let outcome = self
            .stores
            .tokens
            .attempt_otp(user.id, Purpose::EmailOtp, now, &rule)
            .await?;
        let OtpOutcome::Decided { token, decision } = outcome else {
            return Err(Error::OneTimeTokenInvalid);
        };
        match decision {
            OtpDecision::Consume => self.mark_verified(user.id).await,
            OtpDecision::CountFailure => Err(Error::OtpInvalid {
                attempts_left: max.saturating_sub(token.failed_attempts + 1),
            }),
            OtpDecision::Leave => Err(Error::OtpLocked),
        }
    }

    /// Marks the email verified (proved by a link or code) and returns the user.
    async fn mark_verified(&self, user: UserId) -> Result<User> {
        let now = self.now();
        self.stores
            .users
            .mark_email_verified(user, now)
            .await
            .map_err(user_missing)?;
        self.user(user).await
    }

    /// A link for the user a public request names; `None` for an unknown email.
    async fn request_link(&self, email: &str, purpose: Purpose) -> Result<Option<OneTimeIssue>> {
        match self.user_for_request(email).await? {
            Some(user) => self.issue_link(user, purpose).await.map(Some),
            None => Ok(None),
        }
    }

    /// The user a public request names, or `None` when unknown and not to be revealed.
    async fn user_for_request(&self, email: &str) -> Result<Option<User>> {
        let email = normalize_email(email)?;
        match self.stores.users.user_by_email(&email).await? {
            Some(user) => Ok(Some(user)),
            None if self.config.one_time.reveal_unknown_email => Err(Error::UserNotFound),
            None => Ok(None),
        }
    }

    async fn issue_link(&self, user: User, purpose: Purpose) -> Result<OneTimeIssue> {
        let (kind, ttl) = self.link_kind(purpose);
        let now = self.now();
        let (secret, token_hash) = issue_token(kind, self.rng.as_ref());
        let id = OneTimeTokenId(self.new_uuid(now));
        let expires_at = now + ttl;
        self.store_one_time(id, &user, purpose, token_hash, expires_at)
            .await?;
        Ok(OneTimeIssue {
            user,
            secret,
            expires_at,
        })
    }

    async fn store_one_time(
        &self,
        id: OneTimeTokenId,
        user: &User,
        purpose: Purpose,
        token_hash: TokenHash,
        expires_at: Timestamp,
    ) -> Result<()> {
        let token = OneTimeToken {
            id,
            user_id: user.id,
            purpose,
            token_hash,
            created_at: self.now(),
            expires_at,
            consumed_at: None,
            failed_attempts: 0,
        };
        self.stores
            .tokens
            .issue_one_time(&token)
            .await
            .map_err(user_missing)
    }

    async fn consume_link(&self, token: &str, purpose: Purpose) -> Result<UserId> {
        let (kind, _) = self.link_kind(purpose);
        let hash = parse_token(kind, token)?;
        self.consume(&hash, purpose).await
    }

    async fn consume(&self, hash: &TokenHash, purpose: Purpose) -> Result<UserId> {
        let token = self
            .stores
            .tokens
            .consume_one_time(hash, purpose, self.now())
            .await?;
        token.map(|t| t.user_id).ok_or(Error::OneTimeTokenInvalid)
    }

    fn link_kind(&self, purpose: Purpose) -> (TokenKind, time::Duration) {
        let c = &self.config.one_time;
        match purpose {
            Purpose::EmailVerification => (TokenKind::EmailVerification, c.email_verification_ttl),
            Purpose::PasswordReset => (TokenKind::PasswordReset, c.password_reset_ttl),
            // OTP codes are not links and never come here; a magic link is the nearest.
            Purpose::MagicLink | Purpose::EmailOtp => (TokenKind::MagicLink, c.magic_link_ttl),
        }
    }

    /// A uniformly random code of `otp_digits` digits (rejection sampling, no modulo bias).
    fn otp_code(&self) -> String {
        let digits = self.config.one_time.otp_digits;
        let modulus = 10u64.pow(digits);
        let limit = u64::MAX - u64::MAX % modulus;
        loop {
            let mut bytes = [0u8; 8];
            self.rng.fill(&mut bytes);
            let n = u64::from_le_bytes(bytes);
            if n < limit {
                return format!("{:0width$}", n % modulus, width = digits as usize);
            }
        }
    }
}

/// The stored hash of an OTP code: SHA-256 of the token id and the code, so equal codes
/// of different users hash apart and the unique hash index never collides.
fn otp_hash(id: OneTimeTokenId, code: &str) -> TokenHash {
    let mut input = id.0.as_bytes().to_vec();
    input.extend_from_slice(code.as_bytes());
    sha256(&input)
}

/// What one attempt with `code` does to the stored OTP token `t`, under a cap of `max`
/// failed attempts: a locked code is left as it is (and the code is not even compared),
/// a matching one is consumed, anything else counts as a failure. The comparison is
/// constant-time. OWASP Authentication Cheat Sheet: limit guesses per code.
fn otp_decision(t: &OneTimeToken, code: &str, max: u32) -> OtpDecision {
    if t.failed_attempts >= max {
        OtpDecision::Leave
    } else if constant_time_eq(&otp_hash(t.id, code).0, &t.token_hash.0) {
        OtpDecision::Consume
    } else {
        OtpDecision::CountFailure
    }
}
