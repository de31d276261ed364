use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{
    ApiKey, ApiKeyId, ApiKeyUpdate, KeyUsage, RateWindow, Timestamp, TokenHash, UserId,
};

/// API keys and service keys, looked up by the hash of the presented key.
///
/// Nothing here caches: once `revoke_api_key` returns, every `api_key_by_hash` that
/// starts after it sees `revoked_at`.
#[async_trait]
pub trait ApiKeyStore: std::fmt::Debug + Send + Sync + 'static {
    /// Inserts `key` as given. Duplicate id or hash: [`StoreError::Conflict`];
    /// unknown owner or `acts_for` user: [`StoreError::NotFound`].
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;

    /// The key with this hash, whatever its state (revoked and expired included), or
    /// `None`. One indexed lookup: this is the verification hot path.
    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, StoreError>;

    /// Counts one verification of the key against its rate limit, as one atomic step
    /// (never a read and then a write), and returns the window after it:
    /// - a key with no rate limit, or no key with this id: `None`, and nothing changes;
    /// - when the key's window never started, or started at or before
    ///   `now - window`, a new window starts at `now` with a count of 1;
    /// - otherwise the window's count goes up by one.
    ///
    /// N concurrent calls in one window return N distinct counts, so with a limit of K
    /// exactly K of them are within it, across every process sharing the store.
    async fn count_api_key_request(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError>;

    /// The verification hot path: [`api_key_by_hash`](Self::api_key_by_hash) and, for a
    /// key found with a rate limit, [`count_api_key_request`](Self::count_api_key_request)
    /// at `now`, the key as it was before the count. The default makes the two calls; a
    /// store overrides it to make them one statement where its database allows.
    async fn api_key_for_request(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<(ApiKey, Option<RateWindow>)>, StoreError> {
        let Some(key) = self.api_key_by_hash(hash).await? else {
            return Ok(None);
        };
        let window = match key.rate_limit {
            Some(_) => self.count_api_key_request(key.id, now).await?,
            None => None,
        };
        Ok(Some((key, window)))
    }

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
    /// IP and user agent) forward to the entry's if it is later. Atomic per key, so
    /// concurrent batches add up. Entries for keys that no longer exist are skipped.
    ///
    /// All or nothing: an error means no entry was applied, because core puts a failed
    /// batch back and writes it again later (a partial write would count twice). Core
    /// passes each key at most once per call, with any number of entries; this is a
    /// batch write, so a store should make it one statement (or one per few hundred
    /// keys, in one transaction), not one per key.
    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError>;

    /// Deletes the key. `false` if there was none.
    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError>;

    /// Deletes at most `limit` keys whose `expires_at <= now`; returns how many.
    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;
}
