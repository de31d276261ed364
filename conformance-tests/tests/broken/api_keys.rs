//! [`ApiKeyStore`] faults: caching, listing, updates, revocation, rotation (atomic with
//! the revocation check, nothing written on failure), usage that adds up, purging, and
//! values at the edges of their types.

use authkit::{
    ApiKey, ApiKeyId, ApiKeyStore, ApiKeyUpdate, KeyUsage, RateWindow, StoreError, Timestamp,
    TokenHash, UserId,
};
use authkit_conformance::async_trait;

use crate::store::{Broken, Fault, RACE_WINDOW};

impl Broken {
    /// The counter of the `Count*` faults, kept in the shadow state: read, wait, write
    /// (racy), never reset, or reset one instant late.
    async fn count_broken(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        let Some(limit) = self
            .inner
            .api_key_by_id(id)
            .await?
            .and_then(|k| k.rate_limit)
        else {
            return Ok(None);
        };
        let before = self.shadow().windows.get(&id).copied();
        if self.has(Fault::CountReadThenWrite) {
            tokio::time::sleep(RACE_WINDOW).await;
        }
        let reset = match before {
            None => true,
            Some(_) if self.has(Fault::CountNeverResets) => false,
            Some(w) if self.has(Fault::CountResetsLate) => w.started_at < now - limit.window,
            Some(w) => w.started_at <= now - limit.window,
        };
        let window = match before {
            Some(w) if !reset => RateWindow {
                count: w.count + 1,
                ..w
            },
            _ => RateWindow {
                count: 1,
                started_at: now,
            },
        };
        self.shadow().windows.insert(id, window);
        Ok(Some(window))
    }

    /// Replaces a key row wholesale, as one statement.
    async fn rewrite_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let _statement = self.statement.lock().await;
        self.inner.delete_api_key(key.id).await?;
        self.inner.create_api_key(key).await
    }

    /// Lowers the key's expiry to `min(its expiry, cap)`.
    async fn cap_expiry(&self, id: ApiKeyId, cap: Timestamp) -> Result<(), StoreError> {
        let Some(key) = self.inner.api_key_by_id(id).await? else {
            return Ok(());
        };
        let capped = key.expires_at.map_or(cap, |e| e.min(cap));
        let update = ApiKeyUpdate::default().expires_at(Some(capped));
        self.inner.update_api_key(id, &update).await?;
        Ok(())
    }

    async fn replace_broken(
        &self,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let unknown = StoreError::NotFound {
            what: authkit::Entity::ApiKey,
        };
        match self.fault {
            Fault::ReplaceChecksThenActs => {
                let usable = self
                    .inner
                    .api_key_by_id(old)
                    .await?
                    .is_some_and(|k| k.revoked_at.is_none());
                if !usable {
                    return Err(unknown);
                }
                tokio::time::sleep(RACE_WINDOW).await;
                self.inner.create_api_key(new).await?;
                self.cap_expiry(old, old_expires_at).await
            }
            Fault::ReplaceCapsBeforeInsert => {
                let usable = self
                    .inner
                    .api_key_by_id(old)
                    .await?
                    .is_some_and(|k| k.revoked_at.is_none());
                if usable {
                    self.cap_expiry(old, old_expires_at).await?;
                }
                self.inner.replace_api_key(old, new, old_expires_at).await
            }
            Fault::ReplaceRevivesRevoked => {
                let revoked = self
                    .inner
                    .api_key_by_id(old)
                    .await?
                    .is_some_and(|k| k.revoked_at.is_some());
                if revoked {
                    self.inner.create_api_key(new).await?;
                    return self.cap_expiry(old, old_expires_at).await;
                }
                self.inner.replace_api_key(old, new, old_expires_at).await
            }
            Fault::ReplaceOverwritesExpiry => {
                self.inner.replace_api_key(old, new, old_expires_at).await?;
                let update = ApiKeyUpdate::default().expires_at(Some(old_expires_at));
                self.inner.update_api_key(old, &update).await?;
                Ok(())
            }
            Fault::ReplaceInsertsBeforeCheck => {
                let usable = self
                    .inner
                    .api_key_by_id(old)
                    .await?
                    .is_some_and(|k| k.revoked_at.is_none());
                if !usable {
                    // The INSERT went first; the capping UPDATE then matched no row.
                    self.inner.create_api_key(new).await?;
                    return Err(unknown);
                }
                self.inner.replace_api_key(old, new, old_expires_at).await
            }
            _ => self.inner.replace_api_key(old, new, old_expires_at).await,
        }
    }
}

#[async_trait]
impl ApiKeyStore for Broken {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let mut key = key.clone();
        if self.has(Fault::EmptyKeyStringsAsNone) {
            for field in [
                &mut key.description,
                &mut key.organization_id,
                &mut key.revoked_reason,
            ] {
                if field.as_deref() == Some("") {
                    *field = None;
                }
            }
        }
        if self.has(Fault::UsageCountAsDouble) {
            key.usage_count = key.usage_count as f64 as u64;
        }
        match self.inner.create_api_key(&key).await {
            Err(StoreError::Conflict { .. }) if self.has(Fault::KeyInsertIgnore) => Ok(()),
            Err(StoreError::NotFound { .. })
                if self.has(Fault::ActsForUnchecked) && key.acts_for.is_some() =>
            {
                // Stored without the reference the store could not check.
                key.acts_for = None;
                self.inner.create_api_key(&key).await
            }
            Err(err) => Err(err),
            Ok(()) => {
                self.shadow().key_ids.push(key.id);
                Ok(())
            }
        }
    }

    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, StoreError> {
        if self.has(Fault::KeyLookupCached) {
            if let Some(cached) = self.shadow().key_cache.get(hash) {
                return Ok(Some(cached.clone()));
            }
            let found = self.inner.api_key_by_hash(hash).await?;
            if let Some(found) = &found {
                self.shadow().key_cache.insert(*hash, found.clone());
            }
            return Ok(found);
        }
        let found = self.inner.api_key_by_hash(hash).await?;
        if found.is_none() && self.has(Fault::DeleteUserOrphansKeys) {
            return Ok(self.shadow().orphan_keys.get(hash).cloned());
        }
        Ok(found)
    }

    async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.inner.api_key_by_id(id).await
    }

    async fn list_api_keys(&self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        if self.has(Fault::ServiceKeysOwnerEqualsNull) && owner.is_none() {
            return Ok(Vec::new());
        }
        self.inner.list_api_keys(owner).await
    }

    async fn update_api_key(
        &self,
        id: ApiKeyId,
        update: &ApiKeyUpdate,
    ) -> Result<ApiKey, StoreError> {
        if self.has(Fault::UpdateIgnoresRateLimit) {
            let mut update = update.clone();
            update.rate_limit = None;
            return self.inner.update_api_key(id, &update).await;
        }
        if self.has(Fault::UpdateClearsUnnamedFields) {
            let mut every_column = ApiKeyUpdate::default()
                .description(update.description.clone().flatten())
                .scopes(update.scopes.clone().unwrap_or_default())
                .expires_at(update.expires_at.flatten())
                .allowed_ips(update.allowed_ips.clone().unwrap_or_default())
                .metadata(update.metadata.clone().unwrap_or_default());
            every_column.name = update.name.clone();
            return self.inner.update_api_key(id, &every_column).await;
        }
        self.inner.update_api_key(id, update).await
    }

    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let revoked = match self.inner.revoke_api_key(id, reason, now).await {
            Err(StoreError::NotFound { .. }) if self.has(Fault::RevokeUnknownKeyFalse) => {
                return Ok(false);
            }
            result => result?,
        };
        if self.has(Fault::RevokeKeyCountsMatched) {
            return Ok(true);
        }
        if self.has(Fault::EmptyKeyStringsAsNone)
            && revoked
            && reason.is_empty()
            && let Some(mut key) = self.inner.api_key_by_id(id).await?
        {
            key.revoked_reason = None;
            self.rewrite_key(&key).await?;
        }
        Ok(revoked)
    }

    async fn replace_api_key(
        &self,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.replace_broken(old, new, old_expires_at).await?;
        self.shadow().key_ids.push(new.id);
        Ok(())
    }

    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        match self.fault {
            Fault::UsageLostUpdate => {
                for entry in usage {
                    // Read the count, add in code, write it back.
                    let Some(before) = self.inner.api_key_by_id(entry.key_id).await? else {
                        continue;
                    };
                    tokio::time::sleep(RACE_WINDOW).await;
                    let Some(current) = self.inner.api_key_by_id(entry.key_id).await? else {
                        continue;
                    };
                    let written = before.usage_count + entry.uses;
                    let entry = KeyUsage {
                        uses: written.saturating_sub(current.usage_count),
                        ..entry.clone()
                    };
                    self.inner.record_key_usage(&[entry]).await?;
                }
                Ok(())
            }
            Fault::UserAgentMovesBack => {
                self.inner.record_key_usage(usage).await?;
                for entry in usage {
                    if let Some(mut key) = self.inner.api_key_by_id(entry.key_id).await?
                        && key.last_used_user_agent != entry.last_used_user_agent
                    {
                        key.last_used_user_agent = entry.last_used_user_agent.clone();
                        self.rewrite_key(&key).await?;
                    }
                }
                Ok(())
            }
            Fault::LastUsedMovesBack => {
                self.inner.record_key_usage(usage).await?;
                for entry in usage {
                    if let Some(mut key) = self.inner.api_key_by_id(entry.key_id).await?
                        && key.last_used_at != Some(entry.last_used_at)
                    {
                        key.last_used_at = Some(entry.last_used_at);
                        key.last_used_ip = entry.last_used_ip;
                        self.rewrite_key(&key).await?;
                    }
                }
                Ok(())
            }
            Fault::UsageOfDeletedKeyFails => {
                for entry in usage {
                    if self.inner.api_key_by_id(entry.key_id).await?.is_none() {
                        return Err(StoreError::NotFound {
                            what: authkit::Entity::ApiKey,
                        });
                    }
                    self.inner
                        .record_key_usage(std::slice::from_ref(entry))
                        .await?;
                }
                Ok(())
            }
            Fault::UsageBatchTruncated => {
                let kept = usage.len().min(64);
                self.inner.record_key_usage(&usage[..kept]).await
            }
            _ => self.inner.record_key_usage(usage).await,
        }
    }

    async fn count_api_key_request(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        match self.fault {
            Fault::CountReadThenWrite | Fault::CountNeverResets | Fault::CountResetsLate => {
                self.count_broken(id, now).await
            }
            Fault::CountsUnlimitedKeys => {
                let key = self.inner.api_key_by_id(id).await?;
                match key {
                    Some(key) if key.rate_limit.is_none() => Ok(Some(RateWindow {
                        count: 1,
                        started_at: now,
                    })),
                    _ => self.inner.count_api_key_request(id, now).await,
                }
            }
            _ => self.inner.count_api_key_request(id, now).await,
        }
    }

    async fn api_key_for_request(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<(ApiKey, Option<RateWindow>)>, StoreError> {
        if self.has(Fault::ForRequestSkipsCount) {
            let key = self.api_key_by_hash(hash).await?;
            return Ok(key.map(|k| (k, None)));
        }
        let Some(key) = self.api_key_by_hash(hash).await? else {
            return Ok(None);
        };
        let window = match key.rate_limit {
            Some(_) => self.count_api_key_request(key.id, now).await?,
            None => None,
        };
        Ok(Some((key, window)))
    }

    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        let deleted = self.inner.delete_api_key(id).await?;
        Ok(deleted || self.has(Fault::DeleteKeyAlwaysTrue))
    }

    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let limit = if self.has(Fault::PurgeKeysUnlimited) {
            u32::MAX
        } else {
            limit
        };
        let mut purged = self.inner.purge_api_keys(now, limit).await?;
        if self.has(Fault::PurgeKeysDeletesRevoked) {
            let ids = self.shadow().key_ids.clone();
            for id in ids {
                if purged >= u64::from(limit) {
                    break;
                }
                if let Some(key) = self.inner.api_key_by_id(id).await?
                    && key.revoked_at.is_some()
                    && self.inner.delete_api_key(id).await?
                {
                    purged += 1;
                }
            }
        }
        Ok(purged)
    }
}

/// "Inserts `key` as given": an empty description, organization or revocation reason
/// is not an absent one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn empty_key_strings_as_none_are_caught() {
    assert_caught!(Fault::EmptyKeyStringsAsNone => api_keys::edge_values_round_trip);
}

/// "Inserts `key` as given": a usage count past 2^53 keeps every bit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usage_count_as_double_is_caught() {
    assert_caught!(Fault::UsageCountAsDouble => api_keys::edge_values_round_trip);
}

/// "Nothing here caches: once `revoke_api_key` returns, every `api_key_by_hash` that
/// starts after it sees `revoked_at`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cached_key_lookup_is_caught() {
    assert_caught!(Fault::KeyLookupCached => api_keys::revocation_visible_to_next_lookup);
}

/// "The keys owned by `owner`, or the service keys when `owner` is `None`".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn service_keys_matched_with_equals_null_are_caught() {
    assert_caught!(Fault::ServiceKeysOwnerEqualsNull => api_keys::list_by_owner_and_service_keys);
}

/// "Applies `update`" (where `None` leaves a field as it is).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_that_clears_unnamed_fields_is_caught() {
    assert_caught!(Fault::UpdateClearsUnnamedFields => api_keys::update_fields);
}

/// "… unless already revoked (then `false`, and the first revocation stays)".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_that_counts_matched_rows_is_caught() {
    assert_caught!(Fault::RevokeKeyCountsMatched => api_keys::revoke_keeps_first_reason);
}

/// "The revocation check and the change are one step, so a rotation never outlives a
/// revocation that returned before it."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replace_that_checks_then_acts_is_caught() {
    assert_caught!(Fault::ReplaceChecksThenActs => api_keys::revoke_races_replace);
}

/// "Rotation, atomic … Duplicate new hash: `Conflict`" with "the call that fails leaves
/// nothing written": the old key's expiry stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replace_that_caps_before_a_failed_insert_is_caught() {
    assert_caught!(Fault::ReplaceCapsBeforeInsert =>
        api_keys::replace_api_key,
        api_keys::replace_conflict_changes_nothing,
    );
}

/// "An old key that is revoked: `NotFound` and nothing is inserted."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replace_of_a_revoked_key_is_caught() {
    assert_caught!(Fault::ReplaceRevivesRevoked => api_keys::replace_api_key);
}

/// "… sets the old key's `expires_at` to `min(its expires_at, old_expires_at)`".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replace_that_raises_the_expiry_is_caught() {
    assert_caught!(Fault::ReplaceOverwritesExpiry => api_keys::replace_api_key);
}

/// "Atomic per key, so concurrent batches add up."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usage_lost_update_is_caught() {
    assert_caught!(Fault::UsageLostUpdate => api_keys::record_usage_adds_up);
}

/// "… moves `last_used_at` (with its IP) forward to the entry's if it is later".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn last_used_moving_back_is_caught() {
    assert_caught!(Fault::LastUsedMovesBack => api_keys::record_usage_last_used_moves_forward);
}

/// "Adds each entry's `uses` to the key's count": every entry of a batch, however large.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn truncated_usage_batch_is_caught() {
    assert_caught!(Fault::UsageBatchTruncated => api_keys::record_usage_large_batch);
}

/// "Duplicate id or hash: `Conflict`" (`create_api_key`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_insert_ignore_is_caught() {
    assert_caught!(Fault::KeyInsertIgnore => api_keys::create_duplicate_conflicts);
}

/// "Unknown id: `NotFound`" (`revoke_api_key`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_of_an_unknown_key_answering_false_is_caught() {
    assert_caught!(Fault::RevokeUnknownKeyFalse => api_keys::revoke_keeps_first_reason);
}

/// "Unknown old id, or an old key that is revoked: `NotFound` and nothing is inserted."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replace_that_inserts_before_the_check_is_caught() {
    assert_caught!(Fault::ReplaceInsertsBeforeCheck => api_keys::replace_api_key);
}

/// "Entries for keys that no longer exist are skipped."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn usage_of_a_deleted_key_failing_is_caught() {
    assert_caught!(Fault::UsageOfDeletedKeyFails => api_keys::record_usage_adds_up);
}

/// "Deletes the key. `false` if there was none."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_key_always_true_is_caught() {
    assert_caught!(Fault::DeleteKeyAlwaysTrue => api_keys::delete_api_key);
}

/// "Deletes at most `limit` keys".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unlimited_key_purge_is_caught() {
    assert_caught!(Fault::PurgeKeysUnlimited => api_keys::purge_api_keys);
}

/// "Deletes at most `limit` keys whose `expires_at <= now`": not revoked ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purge_of_revoked_keys_is_caught() {
    assert_caught!(Fault::PurgeKeysDeletesRevoked => api_keys::purge_api_keys);
}

/// "The first count starts a window at `now` with a count of 1; … N concurrent calls in
/// one window return N distinct counts."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racy_rate_counter_is_caught() {
    assert_caught!(Fault::CountReadThenWrite => key_limits::count_request_concurrent_distinct);
}

/// "When the key's window … started at or before `now - window`, a new window starts."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_window_that_never_resets_is_caught() {
    assert_caught!(Fault::CountNeverResets => key_limits::count_request_windows, key_access::rate_limit_retry_after);
}

/// "… started at or before `now - window`": the boundary itself starts a new window.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_window_reset_one_instant_late_is_caught() {
    assert_caught!(Fault::CountResetsLate => key_limits::count_request_windows);
}

/// "A key with no rate limit …: `None`, and nothing changes."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counting_unlimited_keys_is_caught() {
    assert_caught!(Fault::CountsUnlimitedKeys => key_limits::count_request_windows);
}

/// "`api_key_for_request`: … for a key found with a rate limit, `count_api_key_request`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lookup_that_skips_the_count_is_caught() {
    assert_caught!(Fault::ForRequestSkipsCount => key_limits::api_key_for_request_counts_limited_keys, key_access::rate_limit_holds_across_servers);
}

/// "`record_key_usage` moves `last_used_at` (with its IP and user agent) forward."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_agent_moving_back_is_caught() {
    assert_caught!(Fault::UserAgentMovesBack => key_limits::record_usage_user_agent);
}

/// "`update_api_key` applies `update`": the rate limit included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn update_that_drops_the_rate_limit_is_caught() {
    assert_caught!(Fault::UpdateIgnoresRateLimit => key_limits::update_rate_limit);
}

/// "Unknown owner or `acts_for` user: `NotFound`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unchecked_acts_for_is_caught() {
    assert_caught!(Fault::ActsForUnchecked => key_limits::key_roles_follow_the_key);
}
