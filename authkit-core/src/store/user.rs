use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{Timestamp, User, UserId};

/// Users with a unique normalized email.
///
/// Emails reach the store already normalized by core ([`normalize_email`](crate::normalize_email)):
/// the store compares them byte for byte and must not change them.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Inserts `user` as given (id, timestamps and all).
    ///
    /// Atomic: of two concurrent creates with one email, exactly one succeeds; the other
    /// gets [`StoreError::Conflict`] and writes nothing.
    async fn create_user(&self, user: &User) -> Result<(), StoreError>;

    /// The user with this id, or `None`.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user with this normalized email, or `None`. One indexed lookup.
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
    /// refresh and one-time tokens, API keys it owns, role assignments and direct grants.
    /// Returns `false` if there was no such user.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError>;
}
