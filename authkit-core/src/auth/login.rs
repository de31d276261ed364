//! Users and password login.

use std::net::IpAddr;
use std::sync::Arc;

use super::audit::AuditEvent;
use super::hook::{LoginAttempt, LoginHook, LoginOutcome};
use super::{Auth, user_missing};
use crate::email::normalize_email;
use crate::error::{Error, Result, StoreError};
use crate::model::{User, UserId};

impl Auth {
    /// Signs a user up with a password, in one store call. The email and the password
    /// policy are checked and the hash computed (off the executor) before anything is
    /// written, so a refused password never leaves a password-less account behind that
    /// would block a retry.
    ///
    /// Errors: [`Error::InvalidEmail`], [`Error::PasswordTooShort`],
    /// [`Error::PasswordTooLong`], [`Error::EmailTaken`].
    pub async fn register(&self, email: &str, password: &str) -> Result<User> {
        let email = normalize_email(email)?;
        self.passwords.check_policy(password)?;
        let hash = self.passwords.hash(password, self.rng.as_ref()).await?;
        self.insert_user(email, Some(hash)).await
    }

    /// Registers a user by email, with no password and the email unverified (invitations,
    /// passwordless sign-up); see [`Auth::register`] for sign-up with a password.
    ///
    /// Errors: [`Error::InvalidEmail`] (empty, oversize, malformed),
    /// [`Error::EmailTaken`] when the normalized email is registered.
    pub async fn create_user(&self, email: &str) -> Result<User> {
        let email = normalize_email(email)?;
        self.insert_user(email, None).await
    }

    /// Inserts a user with a normalized email and an optional password hash.
    async fn insert_user(&self, email: String, password_hash: Option<String>) -> Result<User> {
        let now = self.now();
        let user = User {
            id: UserId(self.new_uuid(now)),
            email,
            password_hash,
            email_verified_at: None,
            created_at: now,
            updated_at: now,
        };
        match self.stores.users.create_user(&user).await {
            Ok(()) => {
                self.audit(AuditEvent::SignUp {
                    user: user.id,
                    email: user.email.clone(),
                });
                Ok(user)
            }
            Err(StoreError::Conflict { .. }) => Err(Error::EmailTaken),
            Err(e) => Err(e.into()),
        }
    }

    /// The user with this id. Unknown: [`Error::UserNotFound`].
    pub async fn user(&self, id: UserId) -> Result<User> {
        self.stores
            .users
            .user_by_id(id)
            .await?
            .ok_or(Error::UserNotFound)
    }

    /// Deletes a user and everything it owns. Sessions and refresh tokens are revoked,
    /// API keys deleted and roles and grants taken through their own stores first, so a
    /// mixed set of stores (sessions in a key-value store, say) leaves no live credential
    /// or grant behind; the user store then cascades to the rest.
    /// Unknown: [`Error::UserNotFound`].
    pub async fn delete_user(&self, id: UserId) -> Result<()> {
        let now = self.now();
        self.revoke_other_sessions(id, None).await?;
        self.stores.tokens.revoke_user_refresh(id, now).await?;
        for key in self.stores.api_keys.list_api_keys(Some(id)).await? {
            self.stores.api_keys.delete_api_key(key.id).await?;
        }
        self.drop_grants(id).await?;
        if self.stores.users.delete_user(id).await? {
            Ok(())
        } else {
            Err(Error::UserNotFound)
        }
    }

    /// Sets (or replaces) a user's password after checking the policy. Existing sessions
    /// and tokens are left alone; a password reset revokes them.
    ///
    /// Errors: [`Error::PasswordTooShort`], [`Error::PasswordTooLong`],
    /// [`Error::UserNotFound`].
    pub async fn set_password(&self, user: UserId, password: &str) -> Result<()> {
        self.passwords.check_policy(password)?;
        let hash = self.passwords.hash(password, self.rng.as_ref()).await?;
        self.stores
            .users
            .set_password_hash(user, Some(&hash), self.now())
            .await
            .map_err(user_missing)
    }

    /// Password login; see [`Auth::login_password_from`].
    pub async fn login_password(&self, email: &str, password: &str) -> Result<User> {
        self.login_password_from(email, password, None).await
    }

    /// Password login from a known client address (passed to the login hook).
    ///
    /// An unknown email, a user without a password and a wrong password all return
    /// [`Error::InvalidCredentials`] after one Argon2 verification each, so the answer and
    /// its timing do not reveal which accounts exist (OWASP Authentication Cheat Sheet,
    /// "Authentication Responses"). A hash made with other parameters than the configured
    /// ones is replaced after a successful login. The password policy's minimum is not
    /// applied (older passwords may predate it); its maximum is, before any hashing.
    ///
    /// Errors: [`Error::InvalidEmail`], [`Error::PasswordTooLong`],
    /// [`Error::InvalidCredentials`], [`Error::LoginRefused`], [`Error::LoginHookPanicked`].
    pub async fn login_password_from(
        &self,
        email: &str,
        password: &str,
        client_ip: Option<IpAddr>,
    ) -> Result<User> {
        let email = normalize_email(email)?;
        let max = self.config.password.max_bytes;
        if password.len() > max {
            return Err(Error::PasswordTooLong { max });
        }
        let attempt = LoginAttempt {
            email,
            client_ip,
            at: self.now(),
        };
        if let Some(hook) = &self.hook {
            run_before_hook(hook.clone(), attempt.clone()).await?;
        }
        let result = self.check_password(&attempt.email, password).await;
        match &result {
            Ok(user) => self.audit(AuditEvent::LoginSucceeded {
                user: user.id,
                email: attempt.email.clone(),
                client_ip: attempt.client_ip,
            }),
            Err(Error::InvalidCredentials) => self.audit(AuditEvent::LoginFailed {
                email: attempt.email.clone(),
                client_ip: attempt.client_ip,
            }),
            Err(_) => {}
        }
        if let Some(hook) = &self.hook {
            let outcome = match &result {
                Ok(user) => LoginOutcome::Succeeded(user.id),
                Err(_) => LoginOutcome::Failed,
            };
            run_after_hook(hook.clone(), attempt, outcome).await;
        }
        result
    }

    async fn check_password(&self, email: &str, password: &str) -> Result<User> {
        let user = self.stores.users.user_by_email(email).await?;
        let Some((user, hash)) = user.and_then(|u| u.password_hash.clone().map(|h| (u, h))) else {
            self.passwords.verify_dummy(password).await?;
            return Err(Error::InvalidCredentials);
        };
        let verified = self.passwords.verify(password, &hash).await?;
        if !verified.ok {
            return Err(Error::InvalidCredentials);
        }
        if verified.outdated {
            self.upgrade_hash(&user, password).await;
        }
        Ok(user)
    }

    /// Re-hashes with the configured parameters. A failure here must not fail a login
    /// whose password was right: it is logged, and the next login tries again.
    async fn upgrade_hash(&self, user: &User, password: &str) {
        let result = async {
            let hash = self.passwords.hash(password, self.rng.as_ref()).await?;
            self.stores
                .users
                .set_password_hash(user.id, Some(&hash), self.now())
                .await?;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(error) = result {
            tracing::warn!(user = %user.id, %error, "could not upgrade an outdated password hash");
        }
    }
}

/// Runs the hook on its own task so that a panic in it is caught, not propagated.
async fn run_before_hook(hook: Arc<dyn LoginHook>, attempt: LoginAttempt) -> Result<()> {
    match tokio::spawn(async move { hook.before_login(&attempt).await }).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::LoginRefused(e)),
        Err(_) => Err(Error::LoginHookPanicked),
    }
}

async fn run_after_hook(hook: Arc<dyn LoginHook>, attempt: LoginAttempt, outcome: LoginOutcome) {
    if tokio::spawn(async move { hook.after_login(&attempt, outcome).await })
        .await
        .is_err()
    {
        tracing::error!("login hook panicked in after_login");
    }
}
