//! [`TokenStore`] faults: refresh rotation (atomicity, what the rule sees, failed
//! rotations), family revocation, purges; one-time issue and consume; OTP attempts;
//! values at the edges of their types.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use authkit::{
    FamilyId, OneTimeToken, OneTimeTokenId, OtpDecision, OtpOutcome, OtpRule, Purpose,
    RefreshToken, RefreshTokenId, RotationDecision, RotationOutcome, RotationRule, StoreError,
    Timestamp, TokenHash, TokenStore, UserId,
};
use authkit_conformance::async_trait;
use authkit_conformance::fixtures::fresh_hash;

use crate::store::{Broken, Fault, RACE_WINDOW};

/// `t` cut to whole milliseconds, as a `DATETIME(3)` column keeps it.
fn millis(t: Timestamp) -> Timestamp {
    t.replace_microsecond(t.microsecond() / 1000 * 1000)
        .expect("a whole millisecond is a valid microsecond")
}

const I32_MAX: u32 = i32::MAX as u32;

impl Broken {
    /// A refresh token as the broken store holds it.
    fn refresh_view(&self, mut token: RefreshToken) -> RefreshToken {
        if let Some(patch) = self.shadow().refresh_patches.get(&token.token_hash) {
            patch.apply(&mut token);
        }
        if self.has(Fault::RotationsAsI32) {
            token.rotations = token.rotations.min(I32_MAX);
        }
        token
    }

    fn record_refresh(&self, token: &RefreshToken) {
        self.shadow()
            .families
            .entry(token.family_id)
            .or_default()
            .push(token.token_hash);
    }

    /// The refresh token as the memory store holds it, without changing it.
    async fn peek_inner(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<RefreshToken>, StoreError> {
        let outcome = self
            .inner
            .rotate_refresh(hash, now, &|_| RotationDecision::Reject)
            .await?;
        Ok(match outcome {
            RotationOutcome::Decided { presented, .. } => Some(presented),
            RotationOutcome::Unknown => None,
        })
    }

    /// A one-time token as the broken store holds it.
    fn one_time_view(&self, mut token: OneTimeToken) -> OneTimeToken {
        if self.has(Fault::FailedAttemptsAsI32) {
            token.failed_attempts = token.failed_attempts.min(I32_MAX);
        }
        if self.has(Fault::OneTimeTimesInMillis) {
            token.created_at = millis(token.created_at);
            token.expires_at = millis(token.expires_at);
            token.consumed_at = token.consumed_at.map(millis);
        }
        token
    }

    /// Deletes the user's unconsumed tokens of `purpose` the only way the memory store
    /// can: by issuing a throwaway token (which replaces them) and consuming it.
    async fn delete_unconsumed(
        &self,
        user: UserId,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let throwaway = OneTimeToken {
            id: OneTimeTokenId::new(),
            user_id: user,
            purpose,
            token_hash: fresh_hash(),
            created_at: now,
            expires_at: now + time::Duration::seconds(1),
            consumed_at: None,
            failed_attempts: 0,
        };
        self.inner.issue_one_time(&throwaway).await?;
        self.inner
            .consume_one_time(&throwaway.token_hash, purpose, now)
            .await?;
        Ok(())
    }

    async fn rotate_non_atomic(
        &self,
        presented: &TokenHash,
        now: Timestamp,
        rule: RotationRule<'_>,
    ) -> Result<RotationOutcome, StoreError> {
        // Read the row (a first step that changes nothing)...
        let Some(row) = self.peek_inner(presented, now).await? else {
            return Ok(RotationOutcome::Unknown);
        };
        tokio::time::sleep(RACE_WINDOW).await;
        // ...decide on what was read, and apply it in a second step.
        let decision = rule(&row);
        let apply = decision.clone();
        self.inner
            .rotate_refresh(presented, now, &move |_| apply.clone())
            .await?;
        if let RotationDecision::Rotate(next) = &decision {
            self.record_refresh(next);
        }
        Ok(RotationOutcome::Decided {
            presented: row,
            decision,
        })
    }

    async fn otp_non_atomic(
        &self,
        user: UserId,
        purpose: Purpose,
        now: Timestamp,
        rule: OtpRule<'_>,
    ) -> Result<OtpOutcome, StoreError> {
        let read = self
            .inner
            .attempt_otp(user, purpose, now, &|_| OtpDecision::Leave)
            .await?;
        let OtpOutcome::Decided { token, .. } = read else {
            return Ok(OtpOutcome::NoCode);
        };
        tokio::time::sleep(RACE_WINDOW).await;
        let token = self.one_time_view(token);
        let decision = rule(&token);
        // `failed_attempts = failed_attempts + 1` (or `consumed_at = ?`) on the newest code.
        self.inner
            .attempt_otp(user, purpose, now, &move |_| decision)
            .await?;
        Ok(OtpOutcome::Decided { token, decision })
    }
}

#[async_trait]
impl TokenStore for Broken {
    async fn create_refresh(&self, token: &RefreshToken) -> Result<(), StoreError> {
        let mut token = token.clone();
        if self.has(Fault::EmptyProfileAsNone) && token.profile.as_deref() == Some("") {
            token.profile = None;
        }
        if self.has(Fault::RotationsAsI32) {
            token.rotations = token.rotations.min(I32_MAX);
        }
        match self.inner.create_refresh(&token).await {
            Err(StoreError::Conflict { .. }) if self.has(Fault::RefreshInsertIgnore) => Ok(()),
            Err(err) => Err(err),
            Ok(()) => {
                self.record_refresh(&token);
                Ok(())
            }
        }
    }

    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        now: Timestamp,
        rule: RotationRule<'_>,
    ) -> Result<RotationOutcome, StoreError> {
        if self.has(Fault::NonAtomicRotate) {
            return self.rotate_non_atomic(presented, now, rule).await;
        }
        if self.shadow().refresh_deleted.contains(presented) {
            return Ok(RotationOutcome::Unknown);
        }
        let hidden = AtomicBool::new(false);
        let seen: Mutex<Option<(RefreshToken, RotationDecision)>> = Mutex::new(None);
        let wrapped = |row: &RefreshToken| {
            let view = self.refresh_view(row.clone());
            let hide = (self.has(Fault::RotateHidesRevoked) && view.revoked_at.is_some())
                || (self.has(Fault::RotateHidesExpired) && view.expires_at <= now);
            if hide {
                hidden.store(true, Ordering::SeqCst);
                return RotationDecision::Reject;
            }
            if self.has(Fault::RotateCallsRuleTwice) {
                let _validated = rule(&view);
            }
            let decision = rule(&view);
            *seen.lock().unwrap() = Some((view, decision.clone()));
            decision
        };
        let result = self.inner.rotate_refresh(presented, now, &wrapped).await;
        let seen = seen.into_inner().unwrap();
        match result {
            Ok(RotationOutcome::Unknown) if self.has(Fault::RotateUnknownCallsRule) => {
                let placeholder = RefreshToken {
                    id: RefreshTokenId(authkit::uuid::Uuid::nil()),
                    family_id: FamilyId(authkit::uuid::Uuid::nil()),
                    user_id: UserId(authkit::uuid::Uuid::nil()),
                    token_hash: *presented,
                    audience: String::new(),
                    profile: None,
                    chain_started_at: now,
                    created_at: now,
                    expires_at: now,
                    consumed_at: None,
                    rotations: 0,
                    revoked_at: None,
                };
                let decision = rule(&placeholder);
                Ok(RotationOutcome::Decided {
                    presented: placeholder,
                    decision,
                })
            }
            Ok(RotationOutcome::Unknown) => Ok(RotationOutcome::Unknown),
            Ok(RotationOutcome::Decided { .. }) if hidden.load(Ordering::SeqCst) => {
                Ok(RotationOutcome::Unknown)
            }
            Ok(RotationOutcome::Decided { decision, .. }) => {
                let (view, _) = seen.expect("the rule ran");
                if let RotationDecision::Rotate(next) = &decision {
                    self.record_refresh(next);
                }
                Ok(RotationOutcome::Decided {
                    presented: view,
                    decision,
                })
            }
            Err(err) => {
                if self.has(Fault::RotateConsumesBeforeInsert)
                    && let Some((view, RotationDecision::Rotate(_))) = seen
                {
                    // The consume landed; the successor's insert failed after it.
                    let mut shadow = self.shadow();
                    let patch = shadow.refresh_patches.entry(*presented).or_default();
                    patch.consumed_at = Some(Some(view.consumed_at.unwrap_or(now)));
                    patch.extra_rotations += 1;
                }
                Err(err)
            }
        }
    }

    async fn revoke_family(&self, family: FamilyId, now: Timestamp) -> Result<u64, StoreError> {
        match self.fault {
            Fault::RevokeFamilySnapshot => {
                let snapshot = self
                    .shadow()
                    .families
                    .get(&family)
                    .cloned()
                    .unwrap_or_default();
                tokio::time::sleep(RACE_WINDOW).await;
                let mut changed = self.inner.revoke_family(family, now).await?;
                let members = self
                    .shadow()
                    .families
                    .get(&family)
                    .cloned()
                    .unwrap_or_default();
                for late in members.iter().filter(|h| !snapshot.contains(h)) {
                    // Not in the id list: the broken store never touched it.
                    if let Some(row) = self.peek_inner(late, now).await?
                        && row.revoked_at == Some(now)
                    {
                        let mut shadow = self.shadow();
                        shadow.refresh_patches.entry(*late).or_default().revoked_at = Some(None);
                        changed -= 1;
                    }
                }
                Ok(changed)
            }
            Fault::RevokeFamilyOverwrites => {
                self.inner.revoke_family(family, now).await?;
                let mut shadow = self.shadow();
                let members = shadow.families.get(&family).cloned().unwrap_or_default();
                for hash in &members {
                    shadow.refresh_patches.entry(*hash).or_default().revoked_at = Some(Some(now));
                }
                Ok(members.len() as u64)
            }
            _ => self.inner.revoke_family(family, now).await,
        }
    }

    async fn revoke_user_refresh(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        let mut changed = self.inner.revoke_user_refresh(user, now).await?;
        if self.has(Fault::RevokeUserSkipsConsumed) {
            let hashes: Vec<TokenHash> =
                self.shadow().families.values().flatten().copied().collect();
            for hash in hashes {
                if let Some(row) = self.peek_inner(&hash, now).await?
                    && row.user_id == user
                    && row.consumed_at.is_some()
                    && row.revoked_at == Some(now)
                {
                    // `AND consumed_at IS NULL`: the broken store left it alone.
                    let mut shadow = self.shadow();
                    shadow.refresh_patches.entry(hash).or_default().revoked_at = Some(None);
                    changed -= 1;
                }
            }
        }
        Ok(changed)
    }

    async fn purge_refresh(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        match self.fault {
            Fault::PurgeRefreshStrict => {
                self.inner
                    .purge_refresh(now - time::Duration::microseconds(1), limit)
                    .await
            }
            Fault::PurgeRefreshDeletesSpent => {
                let mut purged = self.inner.purge_refresh(now, limit).await?;
                let hashes: Vec<TokenHash> =
                    self.shadow().families.values().flatten().copied().collect();
                for hash in hashes {
                    if purged >= u64::from(limit) {
                        break;
                    }
                    if self.shadow().refresh_deleted.contains(&hash) {
                        continue;
                    }
                    let Some(row) = self.peek_inner(&hash, now).await? else {
                        continue;
                    };
                    let row = self.refresh_view(row);
                    if row.consumed_at.is_some() || row.revoked_at.is_some() {
                        self.shadow().refresh_deleted.insert(hash);
                        purged += 1;
                    }
                }
                Ok(purged)
            }
            Fault::PurgeRefreshUnlimited => self.inner.purge_refresh(now, u32::MAX).await,
            _ => self.inner.purge_refresh(now, limit).await,
        }
    }

    async fn issue_one_time(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let token = self.one_time_view(token.clone());
        if self.has(Fault::IssueIgnoresPurpose) {
            for purpose in Purpose::ALL.into_iter().filter(|p| *p != token.purpose) {
                self.delete_unconsumed(token.user_id, purpose, token.created_at)
                    .await?;
            }
        }
        let earlier: Vec<OneTimeToken> = self
            .shadow()
            .one_time
            .values()
            .filter(|t| {
                t.user_id == token.user_id && t.purpose == token.purpose && t.consumed_at.is_none()
            })
            .cloned()
            .collect();
        match self.inner.issue_one_time(&token).await {
            Ok(()) => {
                let mut shadow = self.shadow();
                shadow.one_time.insert(token.token_hash, token.clone());
                if self.has(Fault::IssueKeepsEarlier) {
                    for t in earlier {
                        shadow.one_time_ghosts.insert(t.token_hash, t);
                    }
                }
                Ok(())
            }
            Err(StoreError::Conflict { what }) if self.has(Fault::IssueDeletesBeforeConflict) => {
                // The DELETE ran before the INSERT failed.
                self.delete_unconsumed(token.user_id, token.purpose, token.created_at)
                    .await?;
                Err(StoreError::Conflict { what })
            }
            Err(StoreError::NotFound { .. }) if self.has(Fault::IssueForUnknownUserOk) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn consume_one_time(
        &self,
        hash: &TokenHash,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        if self.has(Fault::NonAtomicConsume) {
            // Check: has anyone used it yet?
            if self.consumed.lock().await.contains_key(hash) {
                return Ok(None);
            }
            tokio::time::sleep(RACE_WINDOW).await;
            // Use: whoever passed the check believes the token is theirs.
            let mut consumed = self.consumed.lock().await;
            return match self.inner.consume_one_time(hash, purpose, now).await? {
                Some(token) => {
                    consumed.insert(*hash, token.clone());
                    Ok(Some(token))
                }
                None => Ok(consumed.get(hash).cloned()),
            };
        }
        let now = if self.has(Fault::OneTimeTimesInMillis) {
            millis(now)
        } else {
            now
        };
        if let Some(token) = self.inner.consume_one_time(hash, purpose, now).await? {
            self.shadow().one_time.insert(*hash, token.clone());
            return Ok(Some(self.one_time_view(token)));
        }
        let others = Purpose::ALL.into_iter().filter(|p| *p != purpose);
        match self.fault {
            Fault::ConsumeIgnoresPurpose => {
                for other in others {
                    if let Some(token) = self.inner.consume_one_time(hash, other, now).await? {
                        return Ok(Some(token));
                    }
                }
            }
            Fault::ConsumeWrongPurposeBurns => {
                for other in others {
                    self.inner.consume_one_time(hash, other, now).await?;
                }
            }
            Fault::ConsumeIgnoresExpiry => {
                let issued = self.shadow().one_time.get(hash).cloned();
                if let Some(issued) = issued
                    && issued.purpose == purpose
                    && now >= issued.expires_at
                    && let Some(mut token) = self
                        .inner
                        .consume_one_time(hash, purpose, issued.created_at)
                        .await?
                {
                    token.consumed_at = Some(now);
                    return Ok(Some(token));
                }
            }
            Fault::IssueKeepsEarlier => {
                let mut shadow = self.shadow();
                if let Some(ghost) = shadow.one_time_ghosts.get_mut(hash)
                    && ghost.purpose == purpose
                    && ghost.consumed_at.is_none()
                    && now < ghost.expires_at
                {
                    ghost.consumed_at = Some(now);
                    return Ok(Some(ghost.clone()));
                }
            }
            _ => {}
        }
        Ok(None)
    }

    async fn attempt_otp(
        &self,
        user: UserId,
        purpose: Purpose,
        now: Timestamp,
        rule: OtpRule<'_>,
    ) -> Result<OtpOutcome, StoreError> {
        if self.has(Fault::NonAtomicOtp) {
            return self.otp_non_atomic(user, purpose, now, rule).await;
        }
        let seen: Mutex<Option<(OneTimeToken, OtpDecision)>> = Mutex::new(None);
        let wrapped = |token: &OneTimeToken| {
            let view = self.one_time_view(token.clone());
            let decision = rule(&view);
            *seen.lock().unwrap() = Some((view, decision));
            if self.has(Fault::OtpLeaveCountsFailure) && decision == OtpDecision::Leave {
                OtpDecision::CountFailure
            } else {
                decision
            }
        };
        let mut outcome = self.inner.attempt_otp(user, purpose, now, &wrapped).await?;
        if outcome == OtpOutcome::NoCode && self.has(Fault::OtpIgnoresPurpose) {
            for other in Purpose::ALL.into_iter().filter(|p| *p != purpose) {
                outcome = self.inner.attempt_otp(user, other, now, &wrapped).await?;
                if outcome != OtpOutcome::NoCode {
                    break;
                }
            }
        }
        if outcome == OtpOutcome::NoCode && self.has(Fault::OtpIgnoresExpiry) {
            let expired = self
                .shadow()
                .one_time
                .values()
                .filter(|t| {
                    t.user_id == user
                        && t.purpose == purpose
                        && t.consumed_at.is_none()
                        && now >= t.expires_at
                })
                .max_by_key(|t| (t.created_at, t.id))
                .cloned();
            if let Some(token) = expired {
                let token = self.one_time_view(token);
                let decision = rule(&token);
                return Ok(OtpOutcome::Decided { token, decision });
            }
        }
        match outcome {
            OtpOutcome::NoCode => Ok(OtpOutcome::NoCode),
            OtpOutcome::Decided { .. } => {
                let (token, decision) = seen.into_inner().unwrap().expect("the rule ran");
                if decision == OtpDecision::Consume {
                    let mut consumed = token.clone();
                    consumed.consumed_at = Some(now);
                    self.shadow().one_time.insert(token.token_hash, consumed);
                }
                Ok(OtpOutcome::Decided { token, decision })
            }
        }
    }

    async fn purge_one_time(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        if self.has(Fault::PurgeOneTimeUnlimited) {
            return self.inner.purge_one_time(now, u32::MAX).await;
        }
        self.inner.purge_one_time(now, limit).await
    }
}

/// "Under N concurrent calls with one hash, `rule` sees each call's predecessor's
/// effect: … exactly one call rotates."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn non_atomic_rotation_is_caught() {
    assert_caught!(Fault::NonAtomicRotate => tokens::refresh_concurrent_rotation_rotates_once);
}

/// "No such token: return `RotationOutcome::Unknown` without calling `rule`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rule_called_for_an_unknown_token_is_caught() {
    assert_caught!(Fault::RotateUnknownCallsRule => tokens::refresh_rotate_unknown_skips_rule);
}

/// "Otherwise call `rule` exactly once with the row": a revoked token is a row.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoked_token_read_as_unknown_is_caught() {
    assert_caught!(Fault::RotateHidesRevoked =>
        tokens::refresh_revoke_family_decision,
        tokens::refresh_rotate_sees_every_stored_row,
    );
}

/// "Otherwise call `rule` exactly once with the row": an expired token is a row, and
/// the expiry is core's to judge.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expired_token_read_as_unknown_is_caught() {
    assert_caught!(Fault::RotateHidesExpired => tokens::refresh_rotate_sees_every_stored_row);
}

/// "Call `rule` exactly once".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rule_called_twice_is_caught() {
    assert_caught!(Fault::RotateCallsRuleTwice => tokens::refresh_rotate_applies_rotation);
}

/// "A successor whose id or hash is taken is `Conflict`, one naming an unknown user
/// `NotFound`; either way nothing changes (the presented token stays unconsumed)."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_that_consumes_before_a_failed_insert_is_caught() {
    assert_caught!(Fault::RotateConsumesBeforeInsert =>
        tokens::refresh_rotate_conflict_changes_nothing,
    );
}

/// "`rotate_refresh` … one atomic step"; "`revoke_family`: revokes every unrevoked token
/// of the family": a revocation racing a rotation leaves no live successor.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn family_revocation_from_a_snapshot_is_caught() {
    assert_caught!(Fault::RevokeFamilySnapshot => tokens::refresh_revoke_family_races_rotation);
}

/// "Revokes every unrevoked token of the family; returns how many changed."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn family_revocation_that_overwrites_is_caught() {
    assert_caught!(Fault::RevokeFamilyOverwrites => tokens::refresh_revoke_family_counts);
}

/// "Deletes … refresh tokens whose `expires_at <= now`".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strict_refresh_purge_is_caught() {
    assert_caught!(Fault::PurgeRefreshStrict => tokens::refresh_purge_keeps_unexpired);
}

/// "Consumed or revoked tokens that have not expired are kept: they detect reuse."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn purge_of_spent_tokens_is_caught() {
    assert_caught!(Fault::PurgeRefreshDeletesSpent => tokens::refresh_purge_keeps_unexpired);
}

/// "Inserts a refresh token" as given: an empty profile name is not an absent one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn empty_profile_as_none_is_caught() {
    assert_caught!(Fault::EmptyProfileAsNone => tokens::refresh_edge_values_round_trip);
}

/// "Add one to its `rotations`", for counts past `i32::MAX`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotations_as_i32_are_caught() {
    assert_caught!(Fault::RotationsAsI32 => tokens::refresh_edge_values_round_trip);
}

/// "Duplicate id or hash: `Conflict`" (`create_refresh`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_insert_ignore_is_caught() {
    assert_caught!(Fault::RefreshInsertIgnore => tokens::refresh_create_duplicate_conflicts);
}

/// "Revokes every unrevoked refresh token of the user": consumed ones included.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_revocation_that_skips_consumed_tokens_is_caught() {
    assert_caught!(Fault::RevokeUserSkipsConsumed => tokens::refresh_revoke_user_counts);
}

/// "Deletes at most `limit` refresh tokens".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unlimited_refresh_purge_is_caught() {
    assert_caught!(Fault::PurgeRefreshUnlimited => tokens::refresh_purge_respects_limit);
}

/// "Unknown user: `NotFound`" (`issue_one_time`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_time_token_of_an_unknown_user_is_caught() {
    assert_caught!(Fault::IssueForUnknownUserOk => tokens::one_time_issue_unknown_user_not_found);
}

/// "Under N concurrent calls with one hash, exactly one gets `Some`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn non_atomic_one_time_consume_is_caught() {
    assert_caught!(Fault::NonAtomicConsume =>
        tokens::one_time_concurrent_consume_once,
        one_time_flows::magic_link_concurrent_once,
    );
}

/// "Atomically deletes every unconsumed token of the same user and purpose, then
/// inserts `token`: a new request invalidates the earlier ones."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_that_keeps_earlier_tokens_is_caught() {
    assert_caught!(Fault::IssueKeepsEarlier => tokens::one_time_issue_invalidates_earlier);
}

/// "Duplicate hash: `Conflict`" with "the call that fails leaves nothing written": the
/// earlier tokens survive a failed issue.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_that_deletes_before_a_conflict_is_caught() {
    assert_caught!(Fault::IssueDeletesBeforeConflict =>
        tokens::one_time_issue_duplicate_hash_conflicts,
    );
}

/// "… every unconsumed token of the same user and purpose": not of every purpose.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_across_purposes_is_caught() {
    assert_caught!(Fault::IssueIgnoresPurpose => tokens::one_time_issue_invalidates_earlier);
}

/// "If the token with this hash has this `purpose` …. Otherwise `None`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consume_of_any_purpose_is_caught() {
    assert_caught!(Fault::ConsumeIgnoresPurpose => tokens::one_time_wrong_purpose_is_none);
}

/// "Otherwise `None`, and nothing changes (a token of another purpose stays usable for
/// its own)."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_purpose_that_burns_the_token_is_caught() {
    assert_caught!(Fault::ConsumeWrongPurposeBurns => tokens::one_time_wrong_purpose_is_none);
}

/// "… and `now < expires_at`".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consume_after_expiry_is_caught() {
    assert_caught!(Fault::ConsumeIgnoresExpiry => tokens::one_time_expiry_boundary);
}

/// "Timestamps are UTC with microsecond precision: a value written is the value read
/// back."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_time_times_in_milliseconds_are_caught() {
    assert_caught!(Fault::OneTimeTimesInMillis =>
        tokens::one_time_issue_then_consume,
        tokens::one_time_edge_values_round_trip,
    );
}

/// "`CountFailure` adds one to `failed_attempts`", for counts past `i32::MAX`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_attempts_as_i32_are_caught() {
    assert_caught!(Fault::FailedAttemptsAsI32 => tokens::one_time_edge_values_round_trip);
}

/// "Deletes at most `limit` one-time tokens".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unlimited_one_time_purge_is_caught() {
    assert_caught!(Fault::PurgeOneTimeUnlimited => tokens::one_time_purge_respects_limit);
}

/// "Under N concurrent attempts, `rule` sees each earlier attempt's effect: every
/// failure is counted exactly once, and a code is consumed at most once" — a cap
/// reached by 32 racers, not only a sum.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn non_atomic_otp_attempt_is_caught() {
    assert_caught!(Fault::NonAtomicOtp =>
        tokens::otp_concurrent_failures_counted,
        tokens::otp_cap_under_contention,
        tokens::otp_concurrent_accept_once,
    );
}

/// "`OtpDecision::Leave` changes nothing."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leave_that_counts_a_failure_is_caught() {
    assert_caught!(Fault::OtpLeaveCountsFailure => tokens::otp_decisions_applied);
}

/// "Take the user's newest … unconsumed token of `purpose`".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn otp_of_any_purpose_is_caught() {
    assert_caught!(Fault::OtpIgnoresPurpose => tokens::otp_no_code);
}

/// "… with `now < expires_at`; none: `NoCode` without calling `rule`".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn otp_after_expiry_is_caught() {
    assert_caught!(Fault::OtpIgnoresExpiry => tokens::otp_no_code);
}
