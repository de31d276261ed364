use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{ApiKey, ApiKeyId, ApiKeyUpdate, KeyUsage, Timestamp, TokenHash, UserId};

/// API keys and service keys, looked up by the hash of the presented key.
///
/// Nothing here caches: once `revoke_api_key` returns, every `api_key_by_hash` that
/// starts after it sees `revoked_at`.
#[async_trait]
pub trait ApiKeyStore: std::fmt::Debug + Send + Sync + 'static {
    /// Inserts `key` as given. Duplicate id or hash: [`StoreError::Conflict`];
    /// unknown owner: [`StoreError::NotFound`].
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;

    /// The key with this hash, whatever its state (revoked and expired included), or
    /// `None`. One indexed lookup: this is the verification hot path.
    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, StoreError>;

    /// The key with this id, whatever its state, or `None`.
    async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError>;

    /// The keys owned by `owner`, or the service keys when `owner` is `None`, in any order
    /// (core sorts them).
    async fn list_api_keys(&self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError>;

    /// Applies `update` and returns the key as it is after. Unknown id:
    /// [`StoreError::NotFound`].
    async fn update_api_key(
        &self,
        id: ApiKeyId,
        update: &ApiKeyUpdate,
    ) -> Result<ApiKey, StoreError>;

    /// Sets `revoked_at = now` and the reason, unless already revoked (then `false`, and
    /// the first revocation stays). Unknown id: [`StoreError::NotFound`].
    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Rotation, atomic: inserts `new` and sets the old key's `expires_at` to
    /// `min(its expires_at, old_expires_at)`. Unknown old id, or an old key that is
    /// revoked: [`StoreError::NotFound`] and nothing is inserted. The revocation check and
    /// the change are one step, so a rotation never outlives a revocation that returned
    /// before it. Duplicate new hash: [`StoreError::Conflict`].
    async fn replace_api_key(
        &self,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Adds each entry's `uses` to the key's count, and moves `last_used_at` (with its
    /// IP) forward to the entry's if it is later. Atomic per key, so concurrent batches
    /// add up. Entries for keys that no longer exist are skipped.
    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError>;

    /// Deletes the key. `false` if there was none.
    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError>;

    /// Deletes at most `limit` keys whose `expires_at <= now`; returns how many.
    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;
}
