//! [`SessionStore`] faults: the touch (liveness, the slide, its atomicity), unique
//! hashes, payloads, revocation, listing, purging, exact timestamps.

use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use authkit::{
    Session, SessionId, SessionStore, SlidePolicy, StoreError, Timestamp, TokenHash, UserId,
};
use authkit_conformance::async_trait;
use time::OffsetDateTime;

use crate::store::{Broken, BrokenFactory, Fault, RACE_WINDOW};

/// A policy that never writes: a touch with it is a plain read.
const READ_ONLY: SlidePolicy = SlidePolicy {
    idle_ttl: time::Duration::ZERO,
    min_step: time::Duration::MAX,
};

/// `t` as signed 32-bit Unix seconds (wrapping) plus its sub-second part.
fn as_i32_seconds(t: Timestamp) -> Timestamp {
    let seconds = i64::from(t.unix_timestamp() as i32);
    OffsetDateTime::from_unix_timestamp(seconds).expect("an i32 of seconds is in range")
        + time::Duration::nanoseconds(i64::from(t.nanosecond()))
}

impl Broken {
    /// For [`Fault::DeadlockReturned`]: the deadlock a deletion meets while a touch
    /// holds the row, handed to the caller.
    fn deadlock_with_touches(&self) -> Result<(), StoreError> {
        if self.has(Fault::DeadlockReturned) && self.touching.load(Ordering::SeqCst) > 0 {
            let deadlock = std::io::Error::other(
                "Deadlock found when trying to get lock; try restarting transaction",
            );
            return Err(StoreError::backend(deadlock));
        }
        Ok(())
    }

    async fn touch_broken(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        match self.fault {
            Fault::TouchCached => {
                let cached = self.shadow().touch_cache.get(hash).cloned();
                if let Some(cached) = cached
                    && cached.is_live(now)
                    && policy.next_deadline(&cached, now).is_none()
                {
                    return Ok(Some(cached));
                }
                let found = self.inner.touch_session(hash, now, policy).await?;
                if let Some(found) = &found {
                    self.shadow().touch_cache.insert(*hash, found.clone());
                }
                Ok(found)
            }
            Fault::TouchPastAbsolute => {
                let Some(stored) = self.inner.touch_session(hash, now, READ_ONLY).await? else {
                    return Ok(None);
                };
                // The slide without the cap.
                let target = now + policy.idle_ttl;
                if target - stored.idle_expires_at <= policy.min_step {
                    return Ok(Some(stored));
                }
                let slid = Session {
                    idle_expires_at: target,
                    last_seen_at: now,
                    ..stored
                };
                self.upsert_session(&slid).await?;
                Ok(Some(slid))
            }
            Fault::TouchReadThenWrite => {
                let Some(stored) = self.inner.touch_session(hash, now, READ_ONLY).await? else {
                    return Ok(None);
                };
                // An unlucky schedule, on purpose: earlier touches write last.
                let lag = 2 * u64::from(60 - now.second().min(59));
                tokio::time::sleep(RACE_WINDOW + StdDuration::from_millis(lag)).await;
                let Some(deadline) = policy.next_deadline(&stored, now) else {
                    return Ok(Some(stored));
                };
                let slid = Session {
                    idle_expires_at: deadline,
                    last_seen_at: now,
                    ..stored
                };
                self.upsert_session(&slid).await?;
                Ok(Some(slid))
            }
            Fault::TouchReturnsStale => {
                let Some(before) = self.inner.touch_session(hash, now, READ_ONLY).await? else {
                    return Ok(None);
                };
                self.inner.touch_session(hash, now, policy).await?;
                Ok(Some(before))
            }
            Fault::TouchIgnoresMinStep => {
                let policy = SlidePolicy {
                    min_step: time::Duration::ZERO,
                    ..policy
                };
                self.inner.touch_session(hash, now, policy).await
            }
            Fault::TouchAtDeadline => {
                let found = self.inner.touch_session(hash, now, policy).await?;
                if found.is_some() {
                    return Ok(found);
                }
                let stored = self.shadow().sessions.get(hash).cloned();
                Ok(stored.filter(|s| {
                    now <= s.idle_expires_at
                        && now <= s.absolute_expires_at
                        && (now == s.idle_expires_at || now == s.absolute_expires_at)
                }))
            }
            Fault::TouchChecksAbsoluteOnly => {
                let found = self.inner.touch_session(hash, now, policy).await?;
                if found.is_some() {
                    return Ok(found);
                }
                let Some(stored) = self.shadow().sessions.get(hash).cloned() else {
                    return Ok(None);
                };
                if now >= stored.absolute_expires_at {
                    return Ok(None);
                }
                let Some(deadline) = policy.next_deadline(&stored, now) else {
                    return Ok(Some(stored));
                };
                let slid = Session {
                    idle_expires_at: deadline,
                    last_seen_at: now,
                    ..stored
                };
                self.upsert_session(&slid).await?;
                Ok(Some(slid))
            }
            Fault::DeleteUserOrphansSessions | Fault::DeleteUserCascadeFirst => {
                let found = self.inner.touch_session(hash, now, policy).await?;
                if found.is_some() {
                    return Ok(found);
                }
                let orphan = self.shadow().orphan_sessions.get(hash).cloned();
                Ok(orphan.filter(|s| s.is_live(now)))
            }
            _ => self.inner.touch_session(hash, now, policy).await,
        }
    }
}

#[async_trait]
impl SessionStore for Broken {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let mut session = session.clone();
        if self.has(Fault::SessionTimesAsI32Seconds) {
            session.created_at = as_i32_seconds(session.created_at);
            session.last_seen_at = as_i32_seconds(session.last_seen_at);
            session.idle_expires_at = as_i32_seconds(session.idle_expires_at);
            session.absolute_expires_at = as_i32_seconds(session.absolute_expires_at);
        }
        if self.has(Fault::EmptyPayloadAsNone) && session.payload.as_deref() == Some(&[]) {
            session.payload = None;
        }
        if self.has(Fault::CreateSessionCheckThenInsert) {
            // SELECT by hash first; there is no unique index to stop a second insert.
            if self.shadow().sessions.contains_key(&session.token_hash) {
                return Err(StoreError::Conflict {
                    what: authkit::Entity::Session,
                });
            }
            tokio::time::sleep(RACE_WINDOW).await;
            let result = self.inner.create_session(&session).await;
            let id_taken = self.shadow().sessions.values().any(|s| s.id == session.id);
            return match result {
                // The duplicate row went in (the memory store below refused it).
                Err(StoreError::Conflict { .. }) if !id_taken => Ok(()),
                Err(err) => Err(err),
                Ok(()) => {
                    self.shadow()
                        .sessions
                        .insert(session.token_hash, session.clone());
                    Ok(())
                }
            };
        }
        match self.inner.create_session(&session).await {
            Err(StoreError::NotFound { .. }) if self.has(Fault::SessionOfUnknownUserOk) => {
                return Ok(());
            }
            result => result?,
        }
        self.shadow()
            .sessions
            .insert(session.token_hash, session.clone());
        Ok(())
    }

    async fn touch_session(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        let found = if self.has(Fault::DeadlockReturned) {
            self.touching.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(RACE_WINDOW).await;
            let found = self.inner.touch_session(hash, now, policy).await;
            self.touching.fetch_sub(1, Ordering::SeqCst);
            found?
        } else {
            self.touch_broken(hash, now, policy).await?
        };
        if let Some(found) = &found {
            self.shadow().sessions.insert(*hash, found.clone());
        }
        Ok(found)
    }

    async fn session_by_id(
        &self,
        id: SessionId,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        if self.has(Fault::SessionByIdSlides) {
            let stored = self
                .shadow()
                .sessions
                .values()
                .find(|s| s.id == id)
                .cloned();
            if let Some(stored) = stored {
                // The touch query, with the session's own idle time.
                let slide = SlidePolicy {
                    idle_ttl: stored.idle_expires_at - stored.last_seen_at,
                    min_step: time::Duration::ZERO,
                };
                return self.touch_session(&stored.token_hash, now, slide).await;
            }
        }
        self.inner.session_by_id(id, now).await
    }

    async fn set_session_payload(
        &self,
        id: SessionId,
        payload: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let payload = if self.has(Fault::EmptyPayloadAsNone) {
            payload.filter(|p| !p.is_empty())
        } else {
            payload
        };
        let result = self.inner.set_session_payload(id, payload, now).await;
        if self.has(Fault::PayloadOnDeadSession)
            && let Err(StoreError::NotFound { .. }) = result
        {
            // `UPDATE … WHERE id = ?`, whatever the deadlines: write it as of a time
            // when the memory store below still calls the session live.
            let created = self
                .shadow()
                .sessions
                .values()
                .find(|s| s.id == id)
                .map(|s| s.created_at);
            if let Some(created) = created {
                return self.inner.set_session_payload(id, payload, created).await;
            }
        }
        result
    }

    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
        self.deadlock_with_touches()?;
        let revoked = self.inner.revoke_session(id).await?;
        self.shadow().sessions.retain(|_, s| s.id != id);
        Ok(revoked)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        self.deadlock_with_touches()?;
        if self.has(Fault::RevokeAllExceptNull) && except.is_none() {
            return Ok(0);
        }
        self.inner.revoke_user_sessions(user, except).await
    }

    async fn list_user_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        if self.has(Fault::ListIncludesDead) {
            return self
                .inner
                .list_user_sessions(user, OffsetDateTime::UNIX_EPOCH)
                .await;
        }
        self.inner.list_user_sessions(user, now).await
    }

    async fn purge_sessions(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.deadlock_with_touches()?;
        match self.fault {
            Fault::PurgeSessionsStrict => {
                self.inner
                    .purge_sessions(now - time::Duration::microseconds(1), limit)
                    .await
            }
            Fault::PurgeSessionsUnlimited => self.inner.purge_sessions(now, u32::MAX).await,
            _ => self.inner.purge_sessions(now, limit).await,
        }
    }
}

/// "… and slide its idle deadline to `min(now + idle_ttl, absolute_deadline)`": the
/// stored deadline never moves past `absolute_expires_at`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn touch_past_absolute_deadline_is_caught() {
    assert_caught!(Fault::TouchPastAbsolute =>
        sessions::touch_caps_at_absolute_deadline,
        sessions::touch_at_absolute_deadline_is_none,
    );
}

/// The session model property finds the uncapped slide on its own.
#[test]
fn touch_past_absolute_deadline_is_caught_by_the_session_model() {
    authkit_conformance::cases::props::sessions_match_model(&BrokenFactory(Fault::None));
    let result = std::panic::catch_unwind(|| {
        authkit_conformance::cases::props::sessions_match_model(&BrokenFactory(
            Fault::TouchPastAbsolute,
        ));
    });
    assert!(
        result.is_err(),
        "sessions_match_model passes with an uncapped slide"
    );
}

/// "A session is live at `now` when `now` is strictly before both its idle and its
/// absolute deadline"; "a session that is … not live returns `None`".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn inclusive_deadline_is_caught() {
    assert_caught!(Fault::TouchAtDeadline =>
        sessions::touch_at_idle_deadline_is_none,
        sessions::touch_at_absolute_deadline_is_none,
    );
}

/// "Apply `SlidePolicy::next_deadline` (writing … only when it returns a deadline)".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ignored_min_step_is_caught() {
    assert_caught!(Fault::TouchIgnoresMinStep => sessions::touch_min_step_skips_small_moves);
}

/// "… and return the session as it is after the step".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn touch_returning_the_row_before_the_slide_is_caught() {
    assert_caught!(Fault::TouchReturnsStale => sessions::touch_slides_idle_deadline);
}

/// "The authentication step, atomic"; "concurrent touches may each write; the stored
/// deadline never moves backwards"; "once `revoke_session` returns, no `touch_session`
/// returns the session".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn touch_that_reads_then_writes_is_caught() {
    assert_caught!(Fault::TouchReadThenWrite =>
        sessions::touch_concurrent_keeps_latest_deadline,
        sessions::revoke_races_touch,
    );
}

/// "Once this returns, no `touch_session` returns the session": no cache outlives a
/// revocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn touch_cache_that_outlives_revocation_is_caught() {
    assert_caught!(Fault::TouchCached => sessions::revoke_races_touch);
}

/// "Concurrent calls on the same rows all succeed": a deadlock the database reports is
/// the store's to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deadlock_handed_to_the_caller_is_caught() {
    assert_caught!(Fault::DeadlockReturned =>
        sessions::contended_writes_all_succeed,
        sessions::revoke_races_touch,
    );
}

/// "Under concurrent calls with one hash, exactly one succeeds."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn create_session_check_then_insert_is_caught() {
    assert_caught!(Fault::CreateSessionCheckThenInsert =>
        sessions::concurrent_creates_one_hash_one_wins,
    );
}

/// "Inserts `session` as given"; "a value written is the value read back", for
/// deadlines after 2038.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_times_as_i32_seconds_are_caught() {
    assert_caught!(Fault::SessionTimesAsI32Seconds => sessions::edge_values_round_trip);
}

/// "Inserts `session` as given"; "replaces the opaque payload": an empty payload is
/// not an absent one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn empty_payload_as_none_is_caught() {
    assert_caught!(Fault::EmptyPayloadAsNone =>
        sessions::payload_set_get_clear,
        sessions::edge_values_round_trip,
    );
}

/// "A session that is unknown, revoked or not live returns `None` and is not changed":
/// the idle deadline counts as much as the absolute one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn touch_that_checks_only_the_absolute_deadline_is_caught() {
    assert_caught!(Fault::TouchChecksAbsoluteOnly => sessions::touch_at_idle_deadline_is_none);
}

/// "The live session with this id, or `None`. Does not slide it."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_by_id_that_slides_is_caught() {
    assert_caught!(Fault::SessionByIdSlides => sessions::session_by_id_live_only_and_does_not_slide);
}

/// "An unknown user (in a store that holds the users) is `NotFound`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn session_of_an_unknown_user_is_caught() {
    assert_caught!(Fault::SessionOfUnknownUserOk => sessions::create_unknown_user_not_found);
}

/// "Every trait requires `Debug`: … must never print secrets, hashes or payloads there."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn debug_that_prints_rows_is_caught() {
    assert_caught!(Fault::DebugPrintsRows => sessions::debug_shows_no_secrets);
}

/// "Replaces the … payload of a live session. Unknown or dead session: `NotFound`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn payload_on_a_dead_session_is_caught() {
    assert_caught!(Fault::PayloadOnDeadSession => sessions::payload_set_get_clear);
}

/// "Revokes every session of `user` except `except`", with no exception.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoke_all_with_null_exception_is_caught() {
    assert_caught!(Fault::RevokeAllExceptNull => sessions::revoke_user_sessions_except_one);
}

/// "The user's live sessions at `now`"; "methods that return sessions return live ones
/// only".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn listing_dead_sessions_is_caught() {
    assert_caught!(Fault::ListIncludesDead => sessions::list_live_only);
}

/// "Deletes … sessions that are not live at `now`": a deadline equal to `now` is dead.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn strict_session_purge_is_caught() {
    assert_caught!(Fault::PurgeSessionsStrict => sessions::purge_removes_only_dead);
}

/// "Deletes at most `limit` sessions".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unlimited_session_purge_is_caught() {
    assert_caught!(Fault::PurgeSessionsUnlimited => sessions::purge_respects_limit);
}
