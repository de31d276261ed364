use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{Session, SessionId, SlidePolicy, Timestamp, TokenHash, UserId};

/// Opaque server-side sessions, looked up by the SHA-256 of their secret.
///
/// A session is live at `now` when `now` is strictly before both its idle and its absolute
/// deadline ([`Session::is_live`]). Methods that return sessions return live ones only.
#[async_trait]
pub trait SessionStore: std::fmt::Debug + Send + Sync + 'static {
    /// Inserts `session` as given. A duplicate id or token hash is
    /// [`StoreError::Conflict`]; an unknown user (in a store that holds the users) is
    /// [`StoreError::NotFound`]. Under concurrent calls with one hash, exactly one
    /// succeeds.
    async fn create_session(&self, session: &Session) -> Result<(), StoreError>;

    /// The authentication step, atomic: if the session with this hash is live at `now`,
    /// apply [`SlidePolicy::next_deadline`] (writing `idle_expires_at` and
    /// `last_seen_at = now` only when it returns a deadline) and return the session as it
    /// is after the step. A session that is unknown, revoked or not live returns `None`
    /// and is not changed.
    ///
    /// Concurrent touches may each write; the stored deadline never moves backwards and
    /// never past `absolute_expires_at`.
    async fn touch_session(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError>;

    /// The live session with this id, or `None`. Does not slide it.
    async fn session_by_id(
        &self,
        id: SessionId,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError>;

    /// Replaces the opaque (already encrypted) payload of a live session.
    /// Unknown or dead session: [`StoreError::NotFound`].
    async fn set_session_payload(
        &self,
        id: SessionId,
        payload: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// Revokes (deletes) one session. `false` if there was none.
    /// Once this returns, no `touch_session` returns the session.
    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError>;

    /// Revokes every session of `user` except `except`, returning how many went.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<u64, StoreError>;

    /// The user's live sessions at `now`, in any order (core sorts them).
    async fn list_user_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError>;

    /// Deletes at most `limit` sessions that are not live at `now`; returns how many.
    async fn purge_sessions(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;
}
