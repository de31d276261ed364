//! [`ApiKeyStore`]: API and service keys keyed by id, with a unique index on the key hash.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use authkit::{
    ApiKey, ApiKeyId, ApiKeyStore, ApiKeyUpdate, Entity, KeyUsage, RateWindow, StoreError,
    Timestamp, TokenHash, UserId,
};

use crate::MemoryStore;
use crate::sync::{read, take_limit, write};
use crate::users::Users;

/// The API-key table.
#[derive(Default)]
pub(crate) struct ApiKeys {
    by_id: HashMap<ApiKeyId, ApiKey>,
    /// Key hash → id: the unique index on hashes, and the verification lookup.
    by_hash: HashMap<TokenHash, ApiKeyId>,
    /// The current rate-limit window of each limited key that was counted.
    windows: HashMap<ApiKeyId, RateWindow>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("rows", &self.by_id.len())
            .finish()
    }
}

const UNKNOWN_KEY: StoreError = StoreError::NotFound {
    what: Entity::ApiKey,
};

impl ApiKeys {
    /// `NotFound` unless the key exists here (any key does beside a detached user store).
    pub(crate) fn require(&self, users: &Users, id: ApiKeyId) -> Result<(), StoreError> {
        if users.detached || self.by_id.contains_key(&id) {
            Ok(())
        } else {
            Err(UNKNOWN_KEY)
        }
    }

    /// The checks of an insert: the owner (unless a service key) and the user it acts for
    /// exist, id and hash are new.
    fn check_insert(&self, users: &Users, key: &ApiKey) -> Result<(), StoreError> {
        for user in key.owner.iter().chain(&key.acts_for) {
            users.require(*user)?;
        }
        if self.by_id.contains_key(&key.id) {
            return Err(StoreError::Conflict {
                what: Entity::ApiKey,
            });
        }
        if self.by_hash.contains_key(&key.key_hash) {
            return Err(StoreError::Conflict {
                what: Entity::ApiKey,
            });
        }
        Ok(())
    }

    fn insert_unchecked(&mut self, key: &ApiKey) {
        self.by_hash.insert(key.key_hash, key.id);
        self.by_id.insert(key.id, key.clone());
    }

    fn remove(&mut self, id: ApiKeyId) -> bool {
        self.windows.remove(&id);
        match self.by_id.remove(&id) {
            Some(key) => {
                self.by_hash.remove(&key.key_hash);
                true
            }
            None => false,
        }
    }

    /// The cascade of `delete_user`: the keys the user owns or that act for the user
    /// (other service keys stay). Returns their ids, for the RBAC cascade.
    pub(crate) fn remove_user(&mut self, user: UserId) -> Vec<ApiKeyId> {
        let doomed: Vec<ApiKeyId> = self
            .by_id
            .values()
            .filter(|k| k.owner == Some(user) || k.acts_for == Some(user))
            .map(|k| k.id)
            .collect();
        for id in &doomed {
            self.remove(*id);
        }
        doomed
    }

    fn count_request(&mut self, id: ApiKeyId, now: Timestamp) -> Option<RateWindow> {
        let limit = self.by_id.get(&id)?.rate_limit?;
        let window = match self.windows.get(&id) {
            Some(w) if w.started_at > now - limit.window => RateWindow {
                count: w.count + 1,
                ..*w
            },
            _ => RateWindow {
                count: 1,
                started_at: now,
            },
        };
        self.windows.insert(id, window);
        Some(window)
    }

    fn update(&mut self, id: ApiKeyId, update: &ApiKeyUpdate) -> Result<ApiKey, StoreError> {
        let key = self.by_id.get_mut(&id).ok_or(UNKNOWN_KEY)?;
        update.apply_to(key);
        Ok(key.clone())
    }

    fn revoke(&mut self, id: ApiKeyId, reason: &str, now: Timestamp) -> Result<bool, StoreError> {
        let key = self.by_id.get_mut(&id).ok_or(UNKNOWN_KEY)?;
        if key.revoked_at.is_some() {
            return Ok(false);
        }
        key.revoked_at = Some(now);
        key.revoked_reason = Some(reason.to_owned());
        Ok(true)
    }

    fn replace(
        &mut self,
        users: &Users,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        if self
            .by_id
            .get(&old)
            .is_none_or(|key| key.revoked_at.is_some())
        {
            return Err(UNKNOWN_KEY);
        }
        self.check_insert(users, new)?;
        if let Some(key) = self.by_id.get_mut(&old) {
            key.expires_at = Some(match key.expires_at {
                Some(current) => current.min(old_expires_at),
                None => old_expires_at,
            });
        }
        self.insert_unchecked(new);
        Ok(())
    }

    fn record_usage(&mut self, usage: &[KeyUsage]) {
        for entry in usage {
            let Some(key) = self.by_id.get_mut(&entry.key_id) else {
                continue;
            };
            key.usage_count = key.usage_count.saturating_add(entry.uses);
            if key.last_used_at.is_none_or(|t| entry.last_used_at > t) {
                key.last_used_at = Some(entry.last_used_at);
                key.last_used_ip = entry.last_used_ip;
                key.last_used_user_agent
                    .clone_from(&entry.last_used_user_agent);
            }
        }
    }

    fn list(&self, owner: Option<UserId>) -> Vec<ApiKey> {
        let mut keys: Vec<ApiKey> = self
            .by_id
            .values()
            .filter(|k| k.owner == owner)
            .cloned()
            .collect();
        keys.sort_by_key(|k| (k.created_at, k.id));
        keys
    }

    fn purge(&mut self, now: Timestamp, limit: u32) -> Vec<ApiKeyId> {
        let doomed: Vec<ApiKeyId> = take_limit(
            self.by_id
                .values()
                .filter(|k| k.expires_at.is_some_and(|e| e <= now))
                .map(|k| k.id),
            limit,
        )
        .collect();
        for id in &doomed {
            self.remove(*id);
        }
        doomed
    }
}

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let users = read(&self.users);
        let mut keys = write(&self.api_keys);
        keys.check_insert(&users, key)?;
        keys.insert_unchecked(key);
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, StoreError> {
        let keys = read(&self.api_keys);
        Ok(keys
            .by_hash
            .get(hash)
            .and_then(|id| keys.by_id.get(id))
            .cloned())
    }

    async fn count_api_key_request(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        Ok(write(&self.api_keys).count_request(id, now))
    }

    async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        Ok(read(&self.api_keys).by_id.get(&id).cloned())
    }

    async fn list_api_keys(&self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        Ok(read(&self.api_keys).list(owner))
    }

    async fn update_api_key(
        &self,
        id: ApiKeyId,
        update: &ApiKeyUpdate,
    ) -> Result<ApiKey, StoreError> {
        write(&self.api_keys).update(id, update)
    }

    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        write(&self.api_keys).revoke(id, reason, now)
    }

    async fn replace_api_key(
        &self,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let users = read(&self.users);
        write(&self.api_keys).replace(&users, old, new, old_expires_at)
    }

    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        write(&self.api_keys).record_usage(usage);
        Ok(())
    }

    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        let mut keys = write(&self.api_keys);
        let mut rbac = write(&self.rbac);
        rbac.remove_keys(&[id]);
        Ok(keys.remove(id))
    }

    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let mut keys = write(&self.api_keys);
        let mut rbac = write(&self.rbac);
        let doomed = keys.purge(now, limit);
        rbac.remove_keys(&doomed);
        Ok(doomed.len() as u64)
    }
}
