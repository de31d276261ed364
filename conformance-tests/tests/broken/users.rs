//! [`UserStore`] faults: email comparison, uniqueness, failed writes, exact timestamps,
//! the cascade.

use authkit::{ApiKeyStore, StoreError, Timestamp, TokenHash, User, UserId, UserStore};
use authkit_conformance::async_trait;
use time::OffsetDateTime;

use crate::store::{Broken, Fault, RACE_WINDOW, like};

impl Broken {
    /// A user as the broken store holds it.
    fn user_view(&self, user: Option<User>) -> Option<User> {
        let mut user = user?;
        if let Some(at) = self.shadow().verified_overwrite.get(&user.id) {
            user.email_verified_at = Some(*at);
            user.updated_at = *at;
        }
        Some(user)
    }
}

#[async_trait]
impl UserStore for Broken {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let mut user = user.clone();
        if self.has(Fault::UserTimesClampedAtEpoch) {
            let clamp = |t: Timestamp| t.max(OffsetDateTime::UNIX_EPOCH);
            user.created_at = clamp(user.created_at);
            user.updated_at = clamp(user.updated_at);
            user.email_verified_at = user.email_verified_at.map(clamp);
        }
        if self.has(Fault::EmailStoredLowercased) {
            user.email = user.email.to_lowercase();
        }
        if self.has(Fault::CreateUserOverwritesOnConflict)
            && self.inner.user_by_id(user.id).await?.is_some()
        {
            // The UPDATE half of the upsert lands before the INSERT half fails.
            self.inner
                .set_password_hash(user.id, user.password_hash.as_deref(), user.updated_at)
                .await?;
        }
        match self.inner.create_user(&user).await {
            Ok(()) => {
                self.shadow().users.push(user);
                Ok(())
            }
            Err(StoreError::Conflict { .. }) if self.has(Fault::InsertIgnoreUser) => Ok(()),
            Err(err) => Err(err),
        }
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(self.user_view(self.inner.user_by_id(id).await?))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let found = if self.has(Fault::EmailLike) {
            // `lower(email) LIKE lower(?)`: the first row in table order that matches.
            let first = self
                .shadow()
                .users
                .iter()
                .find(|u| like(email, &u.email, true))
                .map(|u| u.id);
            match first {
                Some(id) => self.inner.user_by_id(id).await?,
                None => None,
            }
        } else {
            self.inner.user_by_email(email).await?
        };
        let found = if self.has(Fault::CaseSensitiveEmail) {
            found.filter(|u| u.email == email)
        } else {
            found
        };
        Ok(self.user_view(found))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if self.has(Fault::ClearPasswordKeepsHash) && hash.is_none() {
            let kept = self
                .inner
                .user_by_id(id)
                .await?
                .and_then(|u| u.password_hash);
            return self.inner.set_password_hash(id, kept.as_deref(), now).await;
        }
        match self.inner.set_password_hash(id, hash, now).await {
            Err(StoreError::NotFound { .. }) if self.has(Fault::PasswordOfUnknownUserOk) => Ok(()),
            result => result,
        }
    }

    async fn mark_email_verified(&self, id: UserId, now: Timestamp) -> Result<(), StoreError> {
        if self.has(Fault::VerifyOverwritesFirstTime)
            && let Some(user) = self.inner.user_by_id(id).await?
            && user.email_verified_at.is_some()
        {
            self.shadow().verified_overwrite.insert(id, now);
            return Ok(());
        }
        self.inner.mark_email_verified(id, now).await
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        if self.has(Fault::DeleteUserOrphansSessions) {
            let mut shadow = self.shadow();
            let orphans: Vec<_> = shadow
                .sessions
                .values()
                .filter(|s| s.user_id == id)
                .cloned()
                .collect();
            for session in orphans {
                shadow.orphan_sessions.insert(session.token_hash, session);
            }
        }
        if self.has(Fault::DeleteUserCascadeFirst) {
            // The sessions go first...
            let before: Vec<TokenHash> = self
                .shadow()
                .sessions
                .values()
                .filter(|s| s.user_id == id)
                .map(|s| s.token_hash)
                .collect();
            tokio::time::sleep(RACE_WINDOW).await;
            // ...then the user; the memory store below cascades again, but the broken
            // store would have left whatever was created in between.
            let deleted = self.inner.delete_user(id).await?;
            let mut shadow = self.shadow();
            let late: Vec<_> = shadow
                .sessions
                .values()
                .filter(|s| s.user_id == id && !before.contains(&s.token_hash))
                .cloned()
                .collect();
            for session in late {
                shadow.orphan_sessions.insert(session.token_hash, session);
            }
            shadow.users.retain(|u| u.id != id);
            return Ok(deleted);
        }
        if self.has(Fault::DeleteUserOrphansKeys) {
            let keys = self.inner.list_api_keys(Some(id)).await?;
            let mut shadow = self.shadow();
            for key in keys {
                shadow.orphan_keys.insert(key.key_hash, key);
            }
        }
        let deleted = self.inner.delete_user(id).await?;
        self.shadow().users.retain(|u| u.id != id);
        Ok(deleted || self.has(Fault::DeleteUserAlwaysTrue))
    }
}

/// "The store compares emails ignoring ASCII case, in lookups": `user_by_email`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn case_sensitive_email_lookup_is_caught() {
    assert_caught!(Fault::CaseSensitiveEmail =>
        users::email_lookup_ignores_ascii_case,
        users::unicode_email_round_trips,
        users::longest_email_round_trips,
    );
}

/// "The user whose email equals `email` ignoring ASCII case": equality, not a pattern.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn email_lookup_as_like_pattern_is_caught() {
    assert_caught!(Fault::EmailLike => users::email_lookup_is_not_a_pattern);
}

/// "Of two concurrent creates with one email, exactly one succeeds; the other gets
/// `Conflict`": a swallowed duplicate is not a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn insert_ignore_is_caught() {
    assert_caught!(Fault::InsertIgnoreUser =>
        users::duplicate_email_conflicts_ignoring_case,
        users::duplicate_id_conflicts,
        users::concurrent_creates_one_wins,
    );
}

/// "… gets `Conflict` and writes nothing" (and the shared rule: the call that fails
/// leaves nothing written).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_user_conflict_that_writes_is_caught() {
    assert_caught!(Fault::CreateUserOverwritesOnConflict => users::duplicate_id_conflicts);
}

/// "Replaces the password hash (`None` removes it)".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clear_password_that_keeps_the_hash_is_caught() {
    assert_caught!(Fault::ClearPasswordKeepsHash => users::password_hash_set_and_cleared);
}

/// "… unless the email is already verified (then the first time stays)".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verification_that_overwrites_is_caught() {
    assert_caught!(Fault::VerifyOverwritesFirstTime => users::mark_email_verified_keeps_first_time);
}

/// "Timestamps are UTC with microsecond precision: a value written is the value read
/// back", for instants before 1970.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn user_times_clamped_at_the_epoch_are_caught() {
    assert_caught!(Fault::UserTimesClampedAtEpoch => users::extreme_timestamps_round_trip);
}

/// "Deletes the user and, in the same step, everything that belongs to it: sessions, …".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_user_that_orphans_sessions_is_caught() {
    assert_caught!(Fault::DeleteUserOrphansSessions => cascade::delete_user_removes_everything);
}

/// "Deletes the user and, in the same step, everything that belongs to it": no session
/// created while it runs outlives the user.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_user_in_two_steps_is_caught() {
    assert_caught!(Fault::DeleteUserCascadeFirst => cascade::delete_user_races_creates);
}

/// "… everything that belongs to it: …, API keys it owns, …".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_user_that_orphans_keys_is_caught() {
    assert_caught!(Fault::DeleteUserOrphansKeys => cascade::delete_user_removes_everything);
}

/// "The store keeps them exactly as given".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn email_stored_lowercased_is_caught() {
    assert_caught!(Fault::EmailStoredLowercased => users::email_lookup_ignores_ascii_case);
}

/// "Unknown id: `NotFound`" (`set_password_hash`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_of_an_unknown_user_is_caught() {
    assert_caught!(Fault::PasswordOfUnknownUserOk => users::password_hash_set_and_cleared);
}

/// "Returns `false` if there was no such user."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_user_always_true_is_caught() {
    assert_caught!(Fault::DeleteUserAlwaysTrue => users::delete_user);
}
