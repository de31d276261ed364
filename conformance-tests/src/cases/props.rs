//! Property cases: random operation sequences checked step by step against a plain
//! model of the contract written in this file.
//!
//! These are sync functions, because proptest's runner is: each generated sequence gets
//! its own small tokio runtime and a fresh store set from the factory. The number of
//! sequences is [`DEFAULT_CASES`] unless `PROPTEST_CASES` says otherwise. Failures are not
//! persisted to files (the suite runs from other crates); the panic message carries the
//! minimal failing sequence.

use std::future::Future;

use authkit::{
    RefreshToken, RefreshTokenId, RotationDecision, RotationOutcome, Session, StoreError, Stores,
    Timestamp, UserId,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use time::Duration;

use crate::StoreFactory;
use crate::fixtures::{
    BASE, MICRO, create_user, fresh_hash, peek_refresh, policy, refresh, secs, session,
};

/// Sequences generated per property when `PROPTEST_CASES` is not set.
pub const DEFAULT_CASES: u32 = 48;

fn run_property<S, F, Fut>(name: &str, factory: &F, strategy: S, body: fn(Stores, S::Value) -> Fut)
where
    S: Strategy,
    F: StoreFactory,
    Fut: Future<Output = Result<(), TestCaseError>>,
{
    let defaults = Config::default();
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        defaults.cases
    } else {
        DEFAULT_CASES
    };
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 1024,
        ..defaults
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&strategy, |value| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        runtime.block_on(async {
            let stores = factory.stores().await;
            body(stores, value).await
        })
    });
    if let Err(err) = result {
        panic!("property {name} failed: {err}");
    }
}

fn store_err(err: StoreError) -> TestCaseError {
    TestCaseError::fail(format!("store error: {err:?}"))
}

/// One step of [`sessions_match_model`].
#[derive(Clone, Debug)]
pub enum SessionOp {
    /// Issue a session for user `user` (0 or 1) at the current time.
    Issue {
        /// Which of the two users.
        user: usize,
        /// Idle lifetime in seconds.
        idle: i64,
        /// Absolute lifetime in seconds.
        absolute: i64,
    },
    /// Touch the `session`-th issued session (modulo how many there are).
    Touch {
        /// Index into the issued sessions.
        session: usize,
        /// The policy's idle TTL in seconds.
        idle: i64,
        /// The policy's minimum step in seconds.
        step: i64,
    },
    /// Look a session up by id.
    ById {
        /// Index into the issued sessions.
        session: usize,
    },
    /// Revoke one session.
    Revoke {
        /// Index into the issued sessions.
        session: usize,
    },
    /// Revoke every session of a user, maybe except one.
    RevokeUser {
        /// Which of the two users.
        user: usize,
        /// Index into the issued sessions of the one to keep.
        except: Option<usize>,
    },
    /// List a user's live sessions.
    List {
        /// Which of the two users.
        user: usize,
    },
    /// Purge dead sessions in calls of `limit` until a call returns less.
    Purge {
        /// The limit per call.
        limit: u32,
    },
    /// Move the clock by whole seconds (deadlines are whole seconds too, so boundaries
    /// are hit exactly).
    Advance {
        /// Seconds to move.
        secs: i64,
    },
    /// Move the clock by one microsecond.
    AdvanceMicro,
}

fn session_op() -> impl Strategy<Value = SessionOp> {
    prop_oneof![
        3 => (0..2usize, 1..=20i64, 1..=60i64)
            .prop_map(|(user, idle, absolute)| SessionOp::Issue { user, idle, absolute }),
        4 => (any::<usize>(), 1..=30i64, 0..=5i64)
            .prop_map(|(session, idle, step)| SessionOp::Touch { session, idle, step }),
        1 => any::<usize>().prop_map(|session| SessionOp::ById { session }),
        1 => any::<usize>().prop_map(|session| SessionOp::Revoke { session }),
        1 => (0..2usize, proptest::option::of(any::<usize>()))
            .prop_map(|(user, except)| SessionOp::RevokeUser { user, except }),
        1 => (0..2usize).prop_map(|user| SessionOp::List { user }),
        1 => (1..=4u32).prop_map(|limit| SessionOp::Purge { limit }),
        3 => (0..=15i64).prop_map(|secs| SessionOp::Advance { secs }),
        1 => Just(SessionOp::AdvanceMicro),
    ]
}

/// Purges with `limit` until a call returns less than `limit`, as core does; every call
/// must delete at most `limit`. Returns the total.
async fn purge_all<Fut>(limit: u32, mut purge: impl FnMut() -> Fut) -> Result<u64, TestCaseError>
where
    Fut: Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    for _ in 0..1000 {
        let n = purge().await.map_err(store_err)?;
        prop_assert!(
            n <= u64::from(limit),
            "a purge with limit {} deleted {}",
            limit,
            n
        );
        total += n;
        if n < u64::from(limit) {
            return Ok(total);
        }
    }
    Err(TestCaseError::fail(
        "purge never returned less than its limit",
    ))
}

async fn sessions_body(stores: Stores, ops: Vec<SessionOp>) -> Result<(), TestCaseError> {
    let users = [create_user(&stores).await.id, create_user(&stores).await.id];
    // The model: every session issued, and whether its row still exists.
    let mut model: Vec<(Session, bool)> = Vec::new();
    let mut now: Timestamp = BASE;

    for (step, op) in ops.into_iter().enumerate() {
        let pick = |i: usize, len: usize| i % len;
        match op {
            SessionOp::Issue {
                user,
                idle,
                absolute,
            } => {
                let s = session(users[user], now, secs(idle), secs(absolute));
                stores
                    .sessions
                    .create_session(&s)
                    .await
                    .map_err(store_err)?;
                model.push((s, true));
            }
            SessionOp::Touch {
                session,
                idle,
                step: min_step,
            } if !model.is_empty() => {
                let i = pick(session, model.len());
                let slide = policy(idle, min_step);
                let (s, present) = &mut model[i];
                let expected = if *present && s.is_live(now) {
                    if let Some(deadline) = slide.next_deadline(s, now) {
                        s.idle_expires_at = deadline;
                        s.last_seen_at = now;
                    }
                    Some(s.clone())
                } else {
                    None
                };
                let got = stores
                    .sessions
                    .touch_session(&s.token_hash, now, slide)
                    .await
                    .map_err(store_err)?;
                prop_assert_eq!(got, expected, "step {}: touch", step);
            }
            SessionOp::ById { session } if !model.is_empty() => {
                let (s, present) = &model[pick(session, model.len())];
                let expected = (*present && s.is_live(now)).then(|| s.clone());
                let got = stores
                    .sessions
                    .session_by_id(s.id, now)
                    .await
                    .map_err(store_err)?;
                prop_assert_eq!(got, expected, "step {}: session_by_id", step);
            }
            SessionOp::Revoke { session } if !model.is_empty() => {
                let i = pick(session, model.len());
                let (s, present) = &mut model[i];
                let got = stores
                    .sessions
                    .revoke_session(s.id)
                    .await
                    .map_err(store_err)?;
                prop_assert_eq!(got, *present, "step {}: revoke_session", step);
                *present = false;
            }
            SessionOp::RevokeUser { user, except } => {
                let except = except
                    .filter(|_| !model.is_empty())
                    .map(|i| model[pick(i, model.len())].0.id);
                let mut expected = 0;
                for (s, present) in model.iter_mut() {
                    if *present && s.user_id == users[user] && Some(s.id) != except {
                        *present = false;
                        expected += 1;
                    }
                }
                let got = stores
                    .sessions
                    .revoke_user_sessions(users[user], except)
                    .await
                    .map_err(store_err)?;
                prop_assert_eq!(got, expected, "step {}: revoke_user_sessions", step);
            }
            SessionOp::List { user } => {
                let got = stores
                    .sessions
                    .list_user_sessions(users[user], now)
                    .await
                    .map_err(store_err)?;
                // In any order, as the trait says (core sorts).
                let mut got = got;
                got.sort_by_key(|s| (s.created_at, s.id));
                let mut expected: Vec<Session> = model
                    .iter()
                    .filter(|(s, present)| *present && s.user_id == users[user] && s.is_live(now))
                    .map(|(s, _)| s.clone())
                    .collect();
                expected.sort_by_key(|s| (s.created_at, s.id));
                prop_assert_eq!(got, expected, "step {}: list_user_sessions", step);
            }
            SessionOp::Purge { limit } => {
                let mut expected = 0;
                for (s, present) in model.iter_mut() {
                    if *present && !s.is_live(now) {
                        *present = false;
                        expected += 1;
                    }
                }
                let got = purge_all(limit, || stores.sessions.purge_sessions(now, limit)).await?;
                prop_assert_eq!(got, expected, "step {}: purge_sessions total", step);
            }
            SessionOp::Advance { secs: by } => now += Duration::seconds(by),
            SessionOp::AdvanceMicro => now += MICRO,
            SessionOp::Touch { .. } | SessionOp::ById { .. } | SessionOp::Revoke { .. } => {}
        }
    }

    for (i, (s, present)) in model.iter().enumerate() {
        let expected = (*present && s.is_live(now)).then(|| s.clone());
        let got = stores
            .sessions
            .session_by_id(s.id, now)
            .await
            .map_err(store_err)?;
        prop_assert_eq!(got, expected, "final state of session {}", i);
    }
    Ok(())
}

/// Random sequences of issue, touch (random idle TTL and write step), lookup, revoke,
/// revoke-all, list and purge, with random clock moves that land exactly on deadlines,
/// agree with the contract at every step.
pub fn sessions_match_model<F: StoreFactory>(factory: &F) {
    run_property(
        "sessions_match_model",
        factory,
        proptest::collection::vec(session_op(), 1..40),
        sessions_body,
    );
}

/// One step of [`refresh_families_match_model`].
#[derive(Clone, Debug)]
pub enum RefreshOp {
    /// Log in: a new family with one token for user `user` (0 or 1).
    Login {
        /// Which of the two users.
        user: usize,
        /// The token's lifetime in seconds.
        ttl: i64,
    },
    /// Present the `token`-th token ever issued (modulo how many there are), with a rule
    /// like core's: reject if revoked or expired, revoke the family if consumed (reuse),
    /// else rotate into a successor living `ttl` seconds.
    Present {
        /// Index into every token issued.
        token: usize,
        /// The successor's lifetime in seconds.
        ttl: i64,
    },
    /// Present a hash nobody issued.
    PresentUnknown,
    /// Revoke the family of a token.
    RevokeFamily {
        /// Index into every token issued.
        token: usize,
    },
    /// Revoke every token of a user.
    RevokeUser {
        /// Which of the two users.
        user: usize,
    },
    /// Purge expired tokens in calls of `limit` until a call returns less.
    Purge {
        /// The limit per call.
        limit: u32,
    },
    /// Move the clock by whole seconds.
    Advance {
        /// Seconds to move.
        secs: i64,
    },
}

fn refresh_op() -> impl Strategy<Value = RefreshOp> {
    prop_oneof![
        2 => (0..2usize, 1..=30i64).prop_map(|(user, ttl)| RefreshOp::Login { user, ttl }),
        6 => (any::<usize>(), 1..=30i64).prop_map(|(token, ttl)| RefreshOp::Present { token, ttl }),
        1 => Just(RefreshOp::PresentUnknown),
        1 => any::<usize>().prop_map(|token| RefreshOp::RevokeFamily { token }),
        1 => (0..2usize).prop_map(|user| RefreshOp::RevokeUser { user }),
        1 => (1..=4u32).prop_map(|limit| RefreshOp::Purge { limit }),
        3 => (0..=10i64).prop_map(|secs| RefreshOp::Advance { secs }),
    ]
}

/// The rule under test: what core decides for a presented token.
fn decide(row: &RefreshToken, now: Timestamp, next: &RefreshToken) -> RotationDecision {
    if row.revoked_at.is_some() || now >= row.expires_at {
        RotationDecision::Reject
    } else if row.consumed_at.is_some() {
        RotationDecision::RevokeFamily
    } else {
        // The successor is built from the row the store hands over.
        RotationDecision::Rotate(RefreshToken {
            id: next.id,
            token_hash: next.token_hash,
            created_at: now,
            expires_at: next.expires_at,
            consumed_at: None,
            rotations: 0,
            revoked_at: None,
            ..row.clone()
        })
    }
}

fn revoke_where(
    model: &mut [(RefreshToken, bool)],
    now: Timestamp,
    which: impl Fn(&RefreshToken) -> bool,
) -> u64 {
    let mut n = 0;
    for (t, present) in model.iter_mut() {
        if *present && t.revoked_at.is_none() && which(t) {
            t.revoked_at = Some(now);
            n += 1;
        }
    }
    n
}

async fn refresh_body(stores: Stores, ops: Vec<RefreshOp>) -> Result<(), TestCaseError> {
    let users = [create_user(&stores).await.id, create_user(&stores).await.id];
    let mut model: Vec<(RefreshToken, bool)> = Vec::new();
    let mut now: Timestamp = BASE;

    for (step, op) in ops.into_iter().enumerate() {
        match op {
            RefreshOp::Login { user, ttl } => {
                let t = refresh(users[user], now, secs(ttl));
                stores.tokens.create_refresh(&t).await.map_err(store_err)?;
                model.push((t, true));
            }
            RefreshOp::Present { token, ttl } if !model.is_empty() => {
                let i = token % model.len();
                let (row, present) = model[i].clone();
                let next = RefreshToken {
                    id: RefreshTokenId::new(),
                    token_hash: fresh_hash(),
                    expires_at: now + secs(ttl),
                    ..row.clone()
                };
                let rule = |stored: &RefreshToken| decide(stored, now, &next);
                let got = stores
                    .tokens
                    .rotate_refresh(&row.token_hash, now, &rule)
                    .await
                    .map_err(store_err)?;
                if !present {
                    prop_assert_eq!(got, RotationOutcome::Unknown, "step {}: purged token", step);
                    continue;
                }
                let decision = decide(&row, now, &next);
                let expected = RotationOutcome::Decided {
                    presented: row.clone(),
                    decision: decision.clone(),
                };
                prop_assert_eq!(got, expected, "step {}: rotate_refresh", step);
                match decision {
                    RotationDecision::Rotate(successor) => {
                        let stored = &mut model[i].0;
                        stored.consumed_at.get_or_insert(now);
                        stored.rotations += 1;
                        model.push((successor, true));
                    }
                    RotationDecision::RevokeFamily => {
                        revoke_where(&mut model, now, |t| t.family_id == row.family_id);
                    }
                    RotationDecision::Reject => {}
                }
            }
            RefreshOp::PresentUnknown => {
                let got = stores
                    .tokens
                    .rotate_refresh(&fresh_hash(), now, &|_| RotationDecision::RevokeFamily)
                    .await
                    .map_err(store_err)?;
                prop_assert_eq!(got, RotationOutcome::Unknown, "step {}: unknown hash", step);
            }
            RefreshOp::RevokeFamily { token } if !model.is_empty() => {
                let family = model[token % model.len()].0.family_id;
                let expected = revoke_where(&mut model, now, |t| t.family_id == family);
                let got = stores
                    .tokens
                    .revoke_family(family, now)
                    .await
                    .map_err(store_err)?;
                prop_assert_eq!(got, expected, "step {}: revoke_family", step);
            }
            RefreshOp::RevokeUser { user } => {
                let user: UserId = users[user];
                let expected = revoke_where(&mut model, now, |t| t.user_id == user);
                let got = stores
                    .tokens
                    .revoke_user_refresh(user, now)
                    .await
                    .map_err(store_err)?;
                prop_assert_eq!(got, expected, "step {}: revoke_user_refresh", step);
            }
            RefreshOp::Purge { limit } => {
                let mut expected = 0;
                for (t, present) in model.iter_mut() {
                    if *present && t.expires_at <= now {
                        *present = false;
                        expected += 1;
                    }
                }
                let got = purge_all(limit, || stores.tokens.purge_refresh(now, limit)).await?;
                prop_assert_eq!(got, expected, "step {}: purge_refresh total", step);
            }
            RefreshOp::Advance { secs: by } => now += Duration::seconds(by),
            RefreshOp::Present { .. } | RefreshOp::RevokeFamily { .. } => {}
        }
    }

    for (i, (t, present)) in model.iter().enumerate() {
        let got = peek_refresh(&stores, &t.token_hash).await;
        prop_assert_eq!(
            got,
            present.then(|| t.clone()),
            "final state of token {}",
            i
        );
    }
    Ok(())
}

/// Random sequences of logins, presentations (rotation, reuse of consumed tokens,
/// revoked and expired tokens), family and user revocation and purges agree with the
/// contract at every step, and the stored rows match the model at the end.
pub fn refresh_families_match_model<F: StoreFactory>(factory: &F) {
    run_property(
        "refresh_families_match_model",
        factory,
        proptest::collection::vec(refresh_op(), 1..40),
        refresh_body,
    );
}
