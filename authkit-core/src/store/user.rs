use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{Timestamp, User, UserId};

/// Users with a unique normalized email.
///
/// Emails reach the store already normalized by core ([`normalize_email`](crate::normalize_email)),
/// and the store keeps them exactly as given. As defence in depth against a caller that
/// bypasses core, the store compares emails ignoring ASCII case, in lookups and in the
/// uniqueness check (a unique index on the lowercased column; every supported database
/// can do that portably for ASCII): `ALICE@x.io` finds and collides with `alice@x.io`.
#[async_trait]
pub trait UserStore: std::fmt::Debug + Send + Sync + 'static {
    /// Inserts `user` as given (id, timestamps and all).
    ///
    /// Atomic: of two concurrent creates with one email (ignoring ASCII case), exactly one
    /// succeeds; the other
    /// gets [`StoreError::Conflict`] and writes nothing.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;

    /// The user with this id, or `None`.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user whose email equals `email` ignoring ASCII case, or `None`.
    /// One indexed lookup.
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;

    /// Replaces the password hash (`None` removes it) and sets `updated_at = now`.
    /// Unknown id: [`StoreError::NotFound`].
    async fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Sets `email_verified_at` and `updated_at` to `now`, unless the email is already
    /// verified (then the first time stays). Unknown id: [`StoreError::NotFound`].
    async fn mark_email_verified(&self, id: UserId, now: Timestamp) -> Result<(), StoreError>;

    /// Deletes the user and, in the same step, everything that belongs to it: sessions,
    /// refresh and one-time tokens, API keys it owns or that act for it (with their role
    /// assignments), role assignments and direct grants.
    /// Returns `false` if there was no such user.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError>;
}
