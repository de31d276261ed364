//! [`TokenStore`]: refresh tokens (rotating, in families) and one-time tokens, each table
//! behind its own mutex so that every credential-spending step is one critical section.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use authkit::{
    Entity, FamilyId, OneTimeToken, OneTimeTokenId, OtpDecision, OtpOutcome, OtpRule, Purpose,
    RefreshToken, RefreshTokenId, RotationDecision, RotationOutcome, RotationRule, StoreError,
    Timestamp, TokenHash, TokenStore, UserId,
};

use crate::MemoryStore;
use crate::sync::{lock, read, take_limit};

/// The refresh-token table.
#[derive(Default)]
pub(crate) struct RefreshTokens {
    by_hash: HashMap<TokenHash, RefreshToken>,
    /// Token id → hash: the unique index on ids.
    ids: HashMap<RefreshTokenId, TokenHash>,
}

impl fmt::Debug for RefreshTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshTokens")
            .field("rows", &self.by_hash.len())
            .finish()
    }
}

impl RefreshTokens {
    fn check_unique(&self, token: &RefreshToken) -> Result<(), StoreError> {
        if self.ids.contains_key(&token.id) {
            return Err(StoreError::Conflict {
                what: Entity::RefreshToken,
            });
        }
        if self.by_hash.contains_key(&token.token_hash) {
            return Err(StoreError::Conflict {
                what: Entity::RefreshToken,
            });
        }
        Ok(())
    }

    /// Inserts after the caller checked uniqueness.
    fn insert_unchecked(&mut self, token: &RefreshToken) {
        self.ids.insert(token.id, token.token_hash);
        self.by_hash.insert(token.token_hash, token.clone());
    }

    /// Sets `revoked_at = now` on every unrevoked token matching `which`.
    fn revoke_where(&mut self, now: Timestamp, which: impl Fn(&RefreshToken) -> bool) -> u64 {
        let mut changed = 0;
        for token in self.by_hash.values_mut() {
            if token.revoked_at.is_none() && which(token) {
                token.revoked_at = Some(now);
                changed += 1;
            }
        }
        changed
    }

    /// The cascade of `delete_user`.
    pub(crate) fn remove_user(&mut self, user: UserId) {
        let ids = &mut self.ids;
        self.by_hash.retain(|_, t| {
            let keep = t.user_id != user;
            if !keep {
                ids.remove(&t.id);
            }
            keep
        });
    }

    fn rotate(
        &mut self,
        presented: &TokenHash,
        now: Timestamp,
        rule: RotationRule<'_>,
        user_exists: impl FnOnce(UserId) -> bool,
    ) -> Result<RotationOutcome, StoreError> {
        let Some(row) = self.by_hash.get(presented) else {
            return Ok(RotationOutcome::Unknown);
        };
        let before = row.clone();
        let decision = rule(&before);
        match &decision {
            RotationDecision::Rotate(next) => {
                self.check_unique(next)?;
                if !user_exists(next.user_id) {
                    return Err(StoreError::NotFound { what: Entity::User });
                }
                if let Some(row) = self.by_hash.get_mut(presented) {
                    row.consumed_at.get_or_insert(now);
                    row.rotations = row.rotations.saturating_add(1);
                }
                self.insert_unchecked(next);
            }
            RotationDecision::RevokeFamily => {
                let family = before.family_id;
                self.revoke_where(now, |t| t.family_id == family);
            }
            RotationDecision::Reject => {}
        }
        Ok(RotationOutcome::Decided {
            presented: before,
            decision,
        })
    }

    fn purge(&mut self, now: Timestamp, limit: u32) -> u64 {
        let doomed: Vec<TokenHash> = take_limit(
            self.by_hash
                .iter()
                .filter(|(_, t)| t.expires_at <= now)
                .map(|(hash, _)| *hash),
            limit,
        )
        .collect();
        for hash in &doomed {
            if let Some(t) = self.by_hash.remove(hash) {
                self.ids.remove(&t.id);
            }
        }
        doomed.len() as u64
    }
}

/// The one-time-token table.
#[derive(Default)]
pub(crate) struct OneTimeTokens {
    by_hash: HashMap<TokenHash, OneTimeToken>,
    /// Token id → hash: the unique index on ids.
    ids: HashMap<OneTimeTokenId, TokenHash>,
}

impl fmt::Debug for OneTimeTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OneTimeTokens")
            .field("rows", &self.by_hash.len())
            .finish()
    }
}

impl OneTimeTokens {
    /// The cascade of `delete_user`.
    pub(crate) fn remove_user(&mut self, user: UserId) {
        let ids = &mut self.ids;
        self.by_hash.retain(|_, t| {
            let keep = t.user_id != user;
            if !keep {
                ids.remove(&t.id);
            }
            keep
        });
    }

    /// Deletes the unconsumed tokens of the user and purpose, then inserts `token`, as
    /// one transaction would: uniqueness is checked against the rows that survive the
    /// delete, and on a conflict nothing is deleted.
    fn issue(&mut self, token: &OneTimeToken) -> Result<(), StoreError> {
        let replaced = |t: &OneTimeToken| {
            t.user_id == token.user_id && t.purpose == token.purpose && t.consumed_at.is_none()
        };
        if let Some(existing) = self.by_hash.get(&token.token_hash)
            && !replaced(existing)
        {
            return Err(StoreError::Conflict {
                what: Entity::OneTimeToken,
            });
        }
        if let Some(existing) = self.ids.get(&token.id).and_then(|h| self.by_hash.get(h))
            && !replaced(existing)
        {
            return Err(StoreError::Conflict {
                what: Entity::OneTimeToken,
            });
        }
        let ids = &mut self.ids;
        self.by_hash.retain(|_, t| {
            let keep = !replaced(t);
            if !keep {
                ids.remove(&t.id);
            }
            keep
        });
        self.ids.insert(token.id, token.token_hash);
        self.by_hash.insert(token.token_hash, token.clone());
        Ok(())
    }

    fn consume(
        &mut self,
        hash: &TokenHash,
        purpose: Purpose,
        now: Timestamp,
    ) -> Option<OneTimeToken> {
        let token = self.by_hash.get_mut(hash)?;
        if token.purpose != purpose || token.consumed_at.is_some() || now >= token.expires_at {
            return None;
        }
        token.consumed_at = Some(now);
        Some(token.clone())
    }

    fn attempt_otp(
        &mut self,
        user: UserId,
        purpose: Purpose,
        now: Timestamp,
        rule: OtpRule<'_>,
    ) -> OtpOutcome {
        // The newest live unconsumed token: latest `created_at`, ties broken by the
        // (time-ordered) id.
        let newest = self
            .by_hash
            .values_mut()
            .filter(|t| {
                t.user_id == user
                    && t.purpose == purpose
                    && t.consumed_at.is_none()
                    && now < t.expires_at
            })
            .max_by_key(|t| (t.created_at, t.id));
        let Some(token) = newest else {
            return OtpOutcome::NoCode;
        };
        let seen = token.clone();
        let decision = rule(&seen);
        match decision {
            OtpDecision::Consume => token.consumed_at = Some(now),
            OtpDecision::CountFailure => {
                token.failed_attempts = token.failed_attempts.saturating_add(1);
            }
            OtpDecision::Leave => {}
        }
        OtpOutcome::Decided {
            token: seen,
            decision,
        }
    }

    fn purge(&mut self, now: Timestamp, limit: u32) -> u64 {
        let doomed: Vec<TokenHash> = take_limit(
            self.by_hash
                .iter()
                .filter(|(_, t)| t.consumed_at.is_some() || t.expires_at <= now)
                .map(|(hash, _)| *hash),
            limit,
        )
        .collect();
        for hash in &doomed {
            if let Some(t) = self.by_hash.remove(hash) {
                self.ids.remove(&t.id);
            }
        }
        doomed.len() as u64
    }
}

#[async_trait]
impl TokenStore for MemoryStore {
    async fn create_refresh(&self, token: &RefreshToken) -> Result<(), StoreError> {
        let users = read(&self.users);
        users.require(token.user_id)?;
        let mut refresh = lock(&self.refresh);
        refresh.check_unique(token)?;
        refresh.insert_unchecked(token);
        Ok(())
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        now: Timestamp,
        rule: RotationRule<'_>,
    ) -> Result<RotationOutcome, StoreError> {
        // The users lock comes first in the lock order. Core's successor always has the
        // presented token's owner, but a successor naming a deleted or unknown user must
        // fail like a foreign key would, and holding the read side keeps the answer true
        // until the insert is done.
        let users = read(&self.users);
        lock(&self.refresh).rotate(presented, now, rule, |id| users.contains(id))
    }

    async fn revoke_family(&self, family: FamilyId, now: Timestamp) -> Result<u64, StoreError> {
        Ok(lock(&self.refresh).revoke_where(now, |t| t.family_id == family))
    }

    async fn revoke_user_refresh(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        Ok(lock(&self.refresh).revoke_where(now, |t| t.user_id == user))
    }

    async fn purge_refresh(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        Ok(lock(&self.refresh).purge(now, limit))
    }

    async fn issue_one_time(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let users = read(&self.users);
        users.require(token.user_id)?;
        lock(&self.one_time).issue(token)
    }

    async fn consume_one_time(
        &self,
        hash: &TokenHash,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        Ok(lock(&self.one_time).consume(hash, purpose, now))
    }

    async fn attempt_otp(
        &self,
        user: UserId,
        purpose: Purpose,
        now: Timestamp,
        rule: OtpRule<'_>,
    ) -> Result<OtpOutcome, StoreError> {
        Ok(lock(&self.one_time).attempt_otp(user, purpose, now, rule))
    }

    async fn purge_one_time(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        Ok(lock(&self.one_time).purge(now, limit))
    }
}
