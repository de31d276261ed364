//! The suite's self-test: stores with one deliberate bug each must fail the cases that
//! guard against that bug, and the same stores without the bug must pass them.
//!
//! Each broken store wraps a [`MemoryStore`] and delegates every method but one.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use authkit::{
    ApiKey, ApiKeyId, ApiKeyStore, ApiKeyUpdate, FamilyId, GrantKind, KeyUsage, OneTimeToken,
    OtpOutcome, OtpRule, Purpose, RbacItem, RbacStore, RefreshToken, RotationDecision,
    RotationOutcome, RotationRule, Session, SessionId, SessionStore, SlidePolicy, SlugKind,
    StoreError, Stores, Timestamp, TokenHash, TokenStore, User, UserGrants, UserId, UserStore,
};
use authkit_conformance::{StoreFactory, async_trait, cases};
use authkit_memory::MemoryStore;

/// The one bug a [`Broken`] store has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// No bug: the control.
    None,
    /// `rotate_refresh` reads the row, waits, then applies the rule's decision: a
    /// check-then-act race, so concurrent rotations of one token all rotate.
    NonAtomicRotate,
    /// `user_by_email` compares emails byte for byte instead of ignoring ASCII case.
    CaseSensitiveEmail,
    /// `touch_session` slides the idle deadline to `now + idle_ttl`, past the absolute one.
    TouchPastAbsolute,
    /// `consume_one_time` checks whether the token was used, waits, then uses it.
    NonAtomicConsume,
}

/// A memory store with one [`Fault`].
#[derive(Debug)]
struct Broken {
    inner: MemoryStore,
    fault: Fault,
    /// For [`Fault::NonAtomicConsume`]: tokens consumed so far, by hash.
    consumed: tokio::sync::Mutex<HashMap<TokenHash, OneTimeToken>>,
}

/// Long enough that every racer of a 32-task race is inside the window.
const RACE_WINDOW: StdDuration = StdDuration::from_millis(20);

#[derive(Debug)]
struct BrokenFactory(Fault);

#[async_trait]
impl StoreFactory for BrokenFactory {
    async fn stores(&self) -> Stores {
        Stores::from_backend(Broken {
            inner: MemoryStore::new(),
            fault: self.0,
            consumed: tokio::sync::Mutex::default(),
        })
    }
}

#[async_trait]
impl UserStore for Broken {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        self.inner.create_user(user).await
    }
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.inner.user_by_id(id).await
    }
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let found = self.inner.user_by_email(email).await?;
        if self.fault == Fault::CaseSensitiveEmail {
            return Ok(found.filter(|u| u.email == email));
        }
        Ok(found)
    }
    async fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner.set_password_hash(id, hash, now).await
    }
    async fn mark_email_verified(&self, id: UserId, now: Timestamp) -> Result<(), StoreError> {
        self.inner.mark_email_verified(id, now).await
    }
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        self.inner.delete_user(id).await
    }
}

#[async_trait]
impl SessionStore for Broken {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.inner.create_session(session).await
    }
    async fn touch_session(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        if self.fault != Fault::TouchPastAbsolute {
            return self.inner.touch_session(hash, now, policy).await;
        }
        // Read without writing (a policy that never moves the deadline)...
        let read_only = SlidePolicy {
            idle_ttl: time::Duration::ZERO,
            min_step: time::Duration::MAX,
        };
        let Some(stored) = self.inner.touch_session(hash, now, read_only).await? else {
            return Ok(None);
        };
        // ...then slide without the cap, by replacing the row.
        let target = now + policy.idle_ttl;
        if target - stored.idle_expires_at <= policy.min_step {
            return Ok(Some(stored));
        }
        let slid = Session {
            idle_expires_at: target,
            last_seen_at: now,
            ..stored
        };
        self.inner.revoke_session(slid.id).await?;
        self.inner.create_session(&slid).await?;
        Ok(Some(slid))
    }
    async fn session_by_id(
        &self,
        id: SessionId,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        self.inner.session_by_id(id, now).await
    }
    async fn set_session_payload(
        &self,
        id: SessionId,
        payload: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner.set_session_payload(id, payload, now).await
    }
    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
        self.inner.revoke_session(id).await
    }
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        self.inner.revoke_user_sessions(user, except).await
    }
    async fn list_user_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        self.inner.list_user_sessions(user, now).await
    }
    async fn purge_sessions(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.inner.purge_sessions(now, limit).await
    }
}

#[async_trait]
impl TokenStore for Broken {
    async fn create_refresh(&self, token: &RefreshToken) -> Result<(), StoreError> {
        self.inner.create_refresh(token).await
    }
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        now: Timestamp,
        rule: RotationRule<'_>,
    ) -> Result<RotationOutcome, StoreError> {
        if self.fault != Fault::NonAtomicRotate {
            return self.inner.rotate_refresh(presented, now, rule).await;
        }
        // Read the row (a first step that changes nothing)...
        let read = self
            .inner
            .rotate_refresh(presented, now, &|_| RotationDecision::Reject)
            .await?;
        let RotationOutcome::Decided { presented: row, .. } = read else {
            return Ok(RotationOutcome::Unknown);
        };
        tokio::time::sleep(RACE_WINDOW).await;
        // ...decide on what was read, and apply it in a second step.
        let decision = rule(&row);
        let apply = decision.clone();
        self.inner
            .rotate_refresh(presented, now, &move |_| apply.clone())
            .await?;
        Ok(RotationOutcome::Decided {
            presented: row,
            decision,
        })
    }
    async fn revoke_family(&self, family: FamilyId, now: Timestamp) -> Result<u64, StoreError> {
        self.inner.revoke_family(family, now).await
    }
    async fn revoke_user_refresh(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        self.inner.revoke_user_refresh(user, now).await
    }
    async fn purge_refresh(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.inner.purge_refresh(now, limit).await
    }
    async fn issue_one_time(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        self.inner.issue_one_time(token).await
    }
    async fn consume_one_time(
        &self,
        hash: &TokenHash,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        if self.fault != Fault::NonAtomicConsume {
            return self.inner.consume_one_time(hash, purpose, now).await;
        }
        // Check: has anyone used it yet?
        if self.consumed.lock().await.contains_key(hash) {
            return Ok(None);
        }
        tokio::time::sleep(RACE_WINDOW).await;
        // Use: whoever passed the check believes the token is theirs.
        let mut consumed = self.consumed.lock().await;
        match self.inner.consume_one_time(hash, purpose, now).await? {
            Some(token) => {
                consumed.insert(*hash, token.clone());
                Ok(Some(token))
            }
            None => Ok(consumed.get(hash).cloned()),
        }
    }
    async fn attempt_otp(
        &self,
        user: UserId,
        purpose: Purpose,
        now: Timestamp,
        rule: OtpRule<'_>,
    ) -> Result<OtpOutcome, StoreError> {
        self.inner.attempt_otp(user, purpose, now, rule).await
    }
    async fn purge_one_time(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.inner.purge_one_time(now, limit).await
    }
}

#[async_trait]
impl ApiKeyStore for Broken {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.inner.create_api_key(key).await
    }
    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, StoreError> {
        self.inner.api_key_by_hash(hash).await
    }
    async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.inner.api_key_by_id(id).await
    }
    async fn list_api_keys(&self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        self.inner.list_api_keys(owner).await
    }
    async fn update_api_key(
        &self,
        id: ApiKeyId,
        update: &ApiKeyUpdate,
    ) -> Result<ApiKey, StoreError> {
        self.inner.update_api_key(id, update).await
    }
    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.revoke_api_key(id, reason, now).await
    }
    async fn replace_api_key(
        &self,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner.replace_api_key(old, new, old_expires_at).await
    }
    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        self.inner.record_key_usage(usage).await
    }
    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        self.inner.delete_api_key(id).await
    }
    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.inner.purge_api_keys(now, limit).await
    }
}

#[async_trait]
impl RbacStore for Broken {
    async fn define_item(&self, item: &RbacItem) -> Result<(), StoreError> {
        self.inner.define_item(item).await
    }
    async fn remove_item(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError> {
        self.inner.remove_item(kind, slug).await
    }
    async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>, StoreError> {
        self.inner.list_items(kind).await
    }
    async fn missing_items(
        &self,
        kind: SlugKind,
        slugs: &[String],
    ) -> Result<Vec<String>, StoreError> {
        self.inner.missing_items(kind, slugs).await
    }
    async fn grant_to_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        self.inner.grant_to_role(role, kind, slug).await
    }
    async fn revoke_from_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        self.inner.revoke_from_role(role, kind, slug).await
    }
    async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError> {
        self.inner.role_grants(role).await
    }
    async fn assign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        self.inner.assign_role(user, role).await
    }
    async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        self.inner.unassign_role(user, role).await
    }
    async fn grant_to_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        self.inner.grant_to_user(user, kind, slug).await
    }
    async fn revoke_from_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        self.inner.revoke_from_user(user, kind, slug).await
    }
    async fn user_grants(&self, user: UserId) -> Result<UserGrants, StoreError> {
        self.inner.user_grants(user).await
    }
}

/// Runs one async case on a store with `fault`, in its own task; `true` if it failed.
macro_rules! case_fails {
    ($fault:expr, $module:ident :: $case:ident) => {{
        let fault: Fault = $fault;
        match tokio::spawn(async move { cases::$module::$case(&BrokenFactory(fault)).await }).await
        {
            Ok(()) => false,
            Err(err) if err.is_panic() => true,
            Err(err) => panic!("{} was cancelled: {err}", stringify!($case)),
        }
    }};
}

/// Asserts that each case passes on the control store and fails with `fault`.
macro_rules! assert_caught {
    ($fault:expr => $($module:ident :: $case:ident),+ $(,)?) => {{
        $(
            assert!(
                !case_fails!(Fault::None, $module::$case),
                "control: {}::{} fails on a correct store",
                stringify!($module),
                stringify!($case)
            );
            assert!(
                case_fails!($fault, $module::$case),
                "{}::{} passes on a store with {:?}",
                stringify!($module),
                stringify!($case),
                $fault
            );
        )+
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn non_atomic_rotation_is_caught() {
    assert_caught!(Fault::NonAtomicRotate => tokens::refresh_concurrent_rotation_rotates_once);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn case_sensitive_email_lookup_is_caught() {
    assert_caught!(Fault::CaseSensitiveEmail =>
        users::email_lookup_ignores_ascii_case,
        users::unicode_email_round_trips,
        users::longest_email_round_trips,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn touch_past_absolute_deadline_is_caught() {
    assert_caught!(Fault::TouchPastAbsolute =>
        sessions::touch_caps_at_absolute_deadline,
        sessions::touch_at_absolute_deadline_is_none,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn non_atomic_one_time_consume_is_caught() {
    assert_caught!(Fault::NonAtomicConsume =>
        tokens::one_time_concurrent_consume_once,
        one_time_flows::magic_link_concurrent_once,
    );
}

/// The session model property finds the uncapped slide on its own.
#[test]
fn touch_past_absolute_deadline_is_caught_by_the_session_model() {
    cases::props::sessions_match_model(&BrokenFactory(Fault::None));
    let result = std::panic::catch_unwind(|| {
        cases::props::sessions_match_model(&BrokenFactory(Fault::TouchPastAbsolute));
    });
    assert!(
        result.is_err(),
        "sessions_match_model passes with an uncapped slide"
    );
}

/// Each fault stays in its method: a broken store still passes cases that do not
/// exercise its bug, so each failure above is the bug's and not the wrapper's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_stay_local() {
    for fault in [
        Fault::NonAtomicRotate,
        Fault::CaseSensitiveEmail,
        Fault::TouchPastAbsolute,
        Fault::NonAtomicConsume,
    ] {
        assert!(!case_fails!(fault, users::create_then_read), "{fault:?}");
        assert!(
            !case_fails!(fault, tokens::refresh_rotate_applies_rotation),
            "{fault:?}"
        );
        assert!(
            !case_fails!(fault, tokens::one_time_issue_then_consume),
            "{fault:?}"
        );
        assert!(
            !case_fails!(fault, sessions::touch_slides_idle_deadline),
            "{fault:?}"
        );
    }
}
