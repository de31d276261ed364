//! [`SessionStore`](authkit::SessionStore): exclusive deadlines, sliding that never passes
//! the absolute cap, the write step, payloads, revocation, listing and purging.

use authkit::{Purpose, Session, SessionId, StoreError, TokenHash, UserId};
use time::macros::datetime;

use crate::StoreFactory;
use crate::fixtures::{
    BASE, MICRO, api_key, at, canonical, create_user, fresh_hash, one_time, policy, refresh, secs,
    session, together, unique_email, user,
};

/// A created session reads back equal by id; unknown ids are `None`.
pub async fn create_then_read<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let mut s = session(u.id, BASE, secs(60), secs(3600));
    s.payload = Some(vec![1, 2, 3]);
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");

    let found = stores
        .sessions
        .session_by_id(s.id, BASE)
        .await
        .expect("session_by_id");
    assert_eq!(found.as_ref(), Some(&s), "session_by_id");
    let unknown = stores
        .sessions
        .session_by_id(SessionId::new(), BASE)
        .await
        .expect("session_by_id");
    assert_eq!(unknown, None, "session_by_id of an unknown id");
}

/// A duplicate id or token hash is `Conflict`, and the losing session is not written.
pub async fn create_duplicate_conflicts<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let first = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&first)
        .await
        .expect("create_session");

    let mut same_id = session(u.id, BASE, secs(60), secs(3600));
    same_id.id = first.id;
    let err = stores
        .sessions
        .create_session(&same_id)
        .await
        .expect_err("create_session (duplicate id) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "create_session: duplicate id: expected Conflict, got {err:?}"
    );
    let touched = touch(&stores, &same_id.token_hash, BASE).await;
    assert_eq!(
        touched, None,
        "a create_session refused with Conflict (duplicate id) must write nothing"
    );

    let mut same_hash = session(u.id, BASE, secs(60), secs(3600));
    same_hash.token_hash = first.token_hash;
    let err = stores
        .sessions
        .create_session(&same_hash)
        .await
        .expect_err("create_session (duplicate token hash) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "create_session: duplicate token hash: expected Conflict, got {err:?}"
    );
    let by_id = stores
        .sessions
        .session_by_id(same_hash.id, BASE)
        .await
        .expect("session_by_id");
    assert_eq!(
        by_id, None,
        "a create_session refused with Conflict (duplicate hash) must write nothing"
    );

    let found = stores
        .sessions
        .session_by_id(first.id, BASE)
        .await
        .expect("session_by_id");
    assert_eq!(
        found.as_ref(),
        Some(&first),
        "a create_session refused with Conflict must not change the first session"
    );
    let listed = canonical(
        stores
            .sessions
            .list_user_sessions(u.id, BASE)
            .await
            .expect("list_user_sessions"),
    );
    assert_eq!(
        listed,
        vec![first],
        "list_user_sessions after two refused create_session calls: the first session only"
    );
}

/// A session for an unknown user is `NotFound` and is not written.
pub async fn create_unknown_user_not_found<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let s = session(UserId::new(), BASE, secs(60), secs(3600));
    let err = stores
        .sessions
        .create_session(&s)
        .await
        .expect_err("create_session (unknown user) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "create_session: unknown user: expected NotFound, got {err:?}"
    );
    let found = stores
        .sessions
        .session_by_id(s.id, BASE)
        .await
        .expect("session_by_id");
    assert_eq!(
        found, None,
        "a create_session refused with NotFound (unknown user) must write nothing"
    );
}

/// `session_by_id` returns only live sessions (exclusive deadlines) and never slides.
pub async fn session_by_id_live_only_and_does_not_slide<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");

    let just_before = stores
        .sessions
        .session_by_id(s.id, at(60) - MICRO)
        .await
        .expect("session_by_id");
    assert_eq!(
        just_before.as_ref(),
        Some(&s),
        "session_by_id one microsecond before the idle deadline: live, as stored"
    );
    let again = stores
        .sessions
        .session_by_id(s.id, at(30))
        .await
        .expect("session_by_id");
    assert_eq!(again.as_ref(), Some(&s), "session_by_id slid the session");
    let at_deadline = stores
        .sessions
        .session_by_id(s.id, at(60))
        .await
        .expect("session_by_id");
    assert_eq!(
        at_deadline, None,
        "session_by_id at the idle deadline: the session is dead (None)"
    );

    let capped = session(u.id, BASE, secs(3600), secs(60));
    stores
        .sessions
        .create_session(&capped)
        .await
        .expect("create_session");
    let at_absolute = stores
        .sessions
        .session_by_id(capped.id, at(60))
        .await
        .expect("session_by_id");
    assert_eq!(
        at_absolute, None,
        "session_by_id at the absolute deadline: the session is dead (None)"
    );
}

async fn touch(
    stores: &authkit::Stores,
    hash: &TokenHash,
    now: authkit::Timestamp,
) -> Option<Session> {
    stores
        .sessions
        .touch_session(hash, now, policy(60, 0))
        .await
        .expect("touch_session")
}

/// A touch slides the idle deadline to `now + idle_ttl`, stamps `last_seen_at` and
/// returns the session as stored after the step.
pub async fn touch_slides_idle_deadline<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");

    let touched = stores
        .sessions
        .touch_session(&s.token_hash, at(30), policy(60, 0))
        .await
        .expect("touch_session")
        .expect("a live session");
    let mut expected = s.clone();
    expected.idle_expires_at = at(90);
    expected.last_seen_at = at(30);
    assert_eq!(
        touched, expected,
        "touch_session must slide idle_expires_at to now + idle_ttl, stamp last_seen_at and return the session after the step"
    );
    let stored = stores
        .sessions
        .session_by_id(s.id, at(30))
        .await
        .expect("session_by_id");
    assert_eq!(
        stored.as_ref(),
        Some(&expected),
        "session_by_id after touch_session: the slide is stored"
    );

    // Alive past the original deadline, thanks to the slide.
    let later = touch(&stores, &s.token_hash, at(75)).await;
    assert!(
        later.is_some(),
        "touch_session past the original deadline: live thanks to the slide"
    );
}

/// Touching an unknown hash is `None`.
pub async fn touch_unknown_is_none<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");
    assert_eq!(
        touch(&stores, &fresh_hash(), at(1)).await,
        None,
        "touch_session of an unknown hash must be None"
    );
}

/// A touch exactly at the idle deadline is `None` and changes nothing; one microsecond
/// earlier it succeeds.
pub async fn touch_at_idle_deadline_is_none<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(3600));
    let t = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");
    stores
        .sessions
        .create_session(&t)
        .await
        .expect("create_session");

    assert_eq!(
        touch(&stores, &s.token_hash, at(60)).await,
        None,
        "touch_session at the idle deadline must be None"
    );
    let after = stores
        .sessions
        .session_by_id(s.id, at(60) - MICRO)
        .await
        .expect("session_by_id");
    assert_eq!(
        after.as_ref(),
        Some(&s),
        "touch_session at the idle deadline must not change the session"
    );
    assert_eq!(
        touch(&stores, &s.token_hash, at(61)).await,
        None,
        "touch_session past the idle deadline must be None"
    );

    let just_before = touch(&stores, &t.token_hash, at(60) - MICRO).await;
    let just_before = just_before.expect("one microsecond before the idle deadline");
    assert_eq!(
        just_before.idle_expires_at,
        at(120) - MICRO,
        "touch_session one microsecond before the idle deadline slides it to now + idle_ttl"
    );
}

/// A touch exactly at the absolute deadline is `None`, however far the idle deadline is.
pub async fn touch_at_absolute_deadline_is_none<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(100));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");

    let first = touch(&stores, &s.token_hash, at(50))
        .await
        .expect("live at 50s");
    assert_eq!(
        first.idle_expires_at,
        at(100),
        "touch_session must slide to min(now + idle_ttl, absolute deadline)"
    );
    let last = touch(&stores, &s.token_hash, at(100) - MICRO).await;
    assert!(
        last.is_some(),
        "touch_session one microsecond before the absolute deadline: live"
    );
    assert_eq!(
        touch(&stores, &s.token_hash, at(100)).await,
        None,
        "touch_session at the absolute deadline must be None"
    );

    // A session stored with an idle deadline past its absolute one still dies at the latter.
    let odd = session(u.id, BASE, secs(500), secs(100));
    stores
        .sessions
        .create_session(&odd)
        .await
        .expect("create_session");
    assert_eq!(
        touch(&stores, &odd.token_hash, at(100)).await,
        None,
        "touch_session at the absolute deadline must be None, even with the idle deadline past it"
    );
}

/// The slide stops at the absolute deadline: the target is `min(now + idle_ttl, absolute)`.
pub async fn touch_caps_at_absolute_deadline<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(100));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");

    let touched = touch(&stores, &s.token_hash, at(50))
        .await
        .expect("live at 50s");
    let mut expected = s.clone();
    expected.idle_expires_at = at(100);
    expected.last_seen_at = at(50);
    assert_eq!(
        touched, expected,
        "touch_session must return the deadline capped at the absolute one"
    );
    let stored = stores
        .sessions
        .session_by_id(s.id, at(50))
        .await
        .expect("session_by_id");
    assert_eq!(
        stored.as_ref(),
        Some(&expected),
        "session_by_id after touch_session: the stored deadline is capped at the absolute one"
    );

    // Already at the cap: nothing moves, nothing is written.
    let again = touch(&stores, &s.token_hash, at(80))
        .await
        .expect("live at 80s");
    assert_eq!(
        again, expected,
        "touch_session at the cap must write nothing (the deadline cannot move)"
    );
}

/// With a `min_step`, a touch that moves the deadline by at most the step does not
/// write (`last_seen_at` and the deadline stay); one that moves it more does.
pub async fn touch_min_step_skips_small_moves<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");
    let step = policy(60, 10);

    for now in [at(5), at(10)] {
        let touched = stores
            .sessions
            .touch_session(&s.token_hash, now, step)
            .await
            .expect("touch_session");
        assert_eq!(
            touched.as_ref(),
            Some(&s),
            "touch_session at {now}, within min_step, must not write"
        );
        let stored = stores
            .sessions
            .session_by_id(s.id, now)
            .await
            .expect("session_by_id");
        assert_eq!(
            stored.as_ref(),
            Some(&s),
            "session_by_id after a touch_session within min_step: unchanged"
        );
    }

    let touched = stores
        .sessions
        .touch_session(&s.token_hash, at(10) + MICRO, step)
        .await
        .expect("touch_session");
    let mut expected = s.clone();
    expected.idle_expires_at = at(70) + MICRO;
    expected.last_seen_at = at(10) + MICRO;
    assert_eq!(
        touched.as_ref(),
        Some(&expected),
        "touch_session past min_step must slide and stamp last_seen_at"
    );
    let stored = stores
        .sessions
        .session_by_id(s.id, at(11))
        .await
        .expect("session_by_id");
    assert_eq!(
        stored.as_ref(),
        Some(&expected),
        "session_by_id after a touch_session past min_step: the slide is stored"
    );
}

/// A policy whose target is earlier than the stored deadline never moves it backwards.
pub async fn touch_never_moves_deadline_backwards<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(600), secs(3600));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");

    let touched = stores
        .sessions
        .touch_session(&s.token_hash, at(5), policy(10, 0))
        .await
        .expect("touch_session");
    assert_eq!(
        touched.as_ref(),
        Some(&s),
        "touch_session with a target before the stored deadline must not move it backwards"
    );
    let stored = stores
        .sessions
        .session_by_id(s.id, at(5))
        .await
        .expect("session_by_id");
    assert_eq!(
        stored.as_ref(),
        Some(&s),
        "session_by_id after a shorter policy: unchanged"
    );
}

/// 32 concurrent touches at different instants: the stored deadline ends at the latest
/// target, never an earlier one.
pub async fn touch_concurrent_keeps_latest_deadline<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");

    let results = together(32, |i| {
        let stores = stores.clone();
        let hash = s.token_hash;
        let now = at(1 + i as i64);
        async move {
            stores
                .sessions
                .touch_session(&hash, now, policy(60, 0))
                .await
                .expect("touch_session")
                .map(|s| (now, s))
        }
    })
    .await;
    for result in &results {
        let (now, touched) = result
            .as_ref()
            .expect("every concurrent touch sees a live session");
        assert!(
            touched.idle_expires_at >= *now + secs(60),
            "touch_session at {now} returned deadline {} before its own target",
            touched.idle_expires_at
        );
    }
    let stored = stores
        .sessions
        .session_by_id(s.id, at(32))
        .await
        .expect("session_by_id")
        .expect("session_by_id: the session is stored and live");
    assert_eq!(
        stored.idle_expires_at,
        at(92),
        "32 concurrent touch_session calls: the stored deadline ends at the latest target"
    );
    assert_eq!(
        stored.last_seen_at,
        at(32),
        "32 concurrent touch_session calls: last_seen_at ends at the latest touch"
    );
}

/// Payloads are set, replaced (empty and 64 KiB included) and cleared on live sessions;
/// unknown or dead sessions are `NotFound`.
pub async fn payload_set_get_clear<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");

    let big: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    for payload in [Some(vec![0u8, 255, 7]), Some(Vec::new()), Some(big), None] {
        stores
            .sessions
            .set_session_payload(s.id, payload.as_deref(), at(1))
            .await
            .expect("set_session_payload");
        let mut expected = s.clone();
        expected.payload = payload.clone();
        let stored = stores
            .sessions
            .session_by_id(s.id, at(1))
            .await
            .expect("session_by_id");
        assert_eq!(
            stored.as_ref(),
            Some(&expected),
            "set_session_payload must replace the payload exactly ({:?} bytes)",
            payload.as_ref().map(Vec::len)
        );
        let touched = stores
            .sessions
            .touch_session(&s.token_hash, at(1), policy(60, 3600))
            .await
            .expect("touch_session");
        assert_eq!(
            touched.as_ref(),
            Some(&expected),
            "touch_session must return the payload as stored"
        );
    }

    let err = stores
        .sessions
        .set_session_payload(SessionId::new(), Some(b"x"), at(1))
        .await
        .expect_err("set_session_payload (unknown session) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "set_session_payload: unknown session: expected NotFound, got {err:?}"
    );
    let err = stores
        .sessions
        .set_session_payload(s.id, Some(b"x"), at(60))
        .await
        .expect_err("set_session_payload (dead session) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "set_session_payload: dead session: expected NotFound, got {err:?}"
    );
    let stored = stores
        .sessions
        .session_by_id(s.id, at(59))
        .await
        .expect("session_by_id");
    assert_eq!(
        stored.as_ref(),
        Some(&s),
        "a failed set_session_payload wrote"
    );
}

/// `revoke_session` deletes one session (`true`), after which no touch returns it;
/// `false` the second time and for unknown ids.
pub async fn revoke_session<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let s = session(u.id, BASE, secs(60), secs(3600));
    let keep = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");
    stores
        .sessions
        .create_session(&keep)
        .await
        .expect("create_session");

    assert!(
        stores
            .sessions
            .revoke_session(s.id)
            .await
            .expect("revoke_session"),
        "revoke_session of a live session returns true"
    );
    assert_eq!(
        touch(&stores, &s.token_hash, at(1)).await,
        None,
        "touch_session after revoke_session must be None"
    );
    assert_eq!(
        stores
            .sessions
            .session_by_id(s.id, at(1))
            .await
            .expect("session_by_id"),
        None,
        "session_by_id after revoke_session must be None"
    );
    assert!(
        !stores
            .sessions
            .revoke_session(s.id)
            .await
            .expect("revoke_session"),
        "a second revoke_session of one id returns false"
    );
    assert!(
        !stores
            .sessions
            .revoke_session(SessionId::new())
            .await
            .expect("revoke_session"),
        "revoke_session of an unknown id returns false"
    );
    assert!(
        touch(&stores, &keep.token_hash, at(1)).await.is_some(),
        "revoke_session must not touch another session"
    );
}

/// `revoke_user_sessions` revokes every session of the user but the one excepted, and
/// counts them; other users are untouched.
pub async fn revoke_user_sessions_except_one<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let other = create_user(&stores).await;
    let mine: Vec<_> = (0..3)
        .map(|_| session(u.id, BASE, secs(60), secs(3600)))
        .collect();
    let theirs = session(other.id, BASE, secs(60), secs(3600));
    for s in mine.iter().chain([&theirs]) {
        stores
            .sessions
            .create_session(s)
            .await
            .expect("create_session");
    }

    let n = stores
        .sessions
        .revoke_user_sessions(u.id, Some(mine[1].id))
        .await
        .expect("revoke_user_sessions");
    assert_eq!(
        n, 2,
        "revoke_user_sessions(user, Some(kept)) counts every session but the kept one"
    );
    assert_eq!(
        touch(&stores, &mine[0].token_hash, at(1)).await,
        None,
        "touch_session of a session revoked by revoke_user_sessions must be None"
    );
    assert_eq!(
        touch(&stores, &mine[2].token_hash, at(1)).await,
        None,
        "touch_session of a session revoked by revoke_user_sessions must be None"
    );
    assert!(
        touch(&stores, &mine[1].token_hash, at(1)).await.is_some(),
        "revoke_user_sessions must keep the excepted session"
    );
    assert!(
        touch(&stores, &theirs.token_hash, at(1)).await.is_some(),
        "revoke_user_sessions must not touch another user's session"
    );

    let n = stores
        .sessions
        .revoke_user_sessions(u.id, None)
        .await
        .expect("revoke_user_sessions");
    assert_eq!(
        n, 1,
        "revoke_user_sessions(user, None) revokes and counts the last one"
    );
    assert_eq!(
        touch(&stores, &mine[1].token_hash, at(1)).await,
        None,
        "touch_session after revoke_user_sessions with no exception must be None"
    );
    let n = stores
        .sessions
        .revoke_user_sessions(u.id, None)
        .await
        .expect("revoke_user_sessions");
    assert_eq!(n, 0, "revoke_user_sessions with nothing left counts 0");
    let n = stores
        .sessions
        .revoke_user_sessions(UserId::new(), None)
        .await
        .expect("revoke_user_sessions");
    assert_eq!(n, 0, "revoke_user_sessions of an unknown user counts 0");
    assert!(
        touch(&stores, &theirs.token_hash, at(1)).await.is_some(),
        "revoke_user_sessions of another user must not touch this session"
    );
}

/// `list_user_sessions` lists the user's live sessions only, in any order.
pub async fn list_live_only<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let other = create_user(&stores).await;
    // Ids are generated newest-created first, and inserted out of order, so neither id
    // order nor insertion order equals creation order.
    let newest = session(u.id, at(20), secs(600), secs(3600));
    let oldest = session(u.id, at(0), secs(600), secs(3600));
    let middle = session(u.id, at(10), secs(600), secs(3600));
    let idle_dead = session(u.id, at(5), secs(25), secs(3600));
    let absolute_dead = session(u.id, at(1), secs(600), secs(29));
    let theirs = session(other.id, at(3), secs(600), secs(3600));
    for s in [
        &middle,
        &newest,
        &idle_dead,
        &oldest,
        &theirs,
        &absolute_dead,
    ] {
        stores
            .sessions
            .create_session(s)
            .await
            .expect("create_session");
    }

    let listed = canonical(
        stores
            .sessions
            .list_user_sessions(u.id, at(30))
            .await
            .expect("list_user_sessions"),
    );
    assert_eq!(
        listed,
        vec![oldest, middle, newest],
        "list_user_sessions: the user's live sessions only (dead and other users' left out)"
    );
    let none = canonical(
        stores
            .sessions
            .list_user_sessions(UserId::new(), at(30))
            .await
            .expect("list_user_sessions"),
    );
    assert!(
        none.is_empty(),
        "list_user_sessions of an unknown user is empty"
    );
}

/// `purge_sessions` deletes the sessions that are dead at `now` (deadline `<= now`),
/// counts them, and keeps live ones.
pub async fn purge_removes_only_dead<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let idle_dead = session(u.id, BASE, secs(10), secs(3600));
    let idle_at_now = session(u.id, BASE, secs(30), secs(3600));
    let absolute_at_now = session(u.id, BASE, secs(600), secs(30));
    let live = session(u.id, BASE, secs(30) + MICRO, secs(3600));
    for s in [&idle_dead, &idle_at_now, &absolute_at_now, &live] {
        stores
            .sessions
            .create_session(s)
            .await
            .expect("create_session");
    }

    let n = stores
        .sessions
        .purge_sessions(at(30), 100)
        .await
        .expect("purge_sessions");
    assert_eq!(
        n, 3,
        "purge_sessions counts the sessions dead at now (deadline <= now)"
    );
    for dead in [&idle_dead, &idle_at_now, &absolute_at_now] {
        assert!(
            !stores
                .sessions
                .revoke_session(dead.id)
                .await
                .expect("revoke_session"),
            "purge_sessions must delete every session dead at now"
        );
    }
    let kept = stores
        .sessions
        .session_by_id(live.id, at(30))
        .await
        .expect("session_by_id");
    assert_eq!(
        kept.as_ref(),
        Some(&live),
        "purge_sessions must keep a live session"
    );
    let n = stores
        .sessions
        .purge_sessions(at(30), 100)
        .await
        .expect("purge_sessions");
    assert_eq!(n, 0, "a second purge_sessions finds nothing");
}

/// `purge_sessions` deletes at most `limit` per call.
pub async fn purge_respects_limit<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    for _ in 0..5 {
        let s = session(u.id, BASE, secs(10), secs(3600));
        stores
            .sessions
            .create_session(&s)
            .await
            .expect("create_session");
    }
    let live = session(u.id, BASE, secs(600), secs(3600));
    stores
        .sessions
        .create_session(&live)
        .await
        .expect("create_session");

    let mut counts = Vec::new();
    for _ in 0..4 {
        counts.push(
            stores
                .sessions
                .purge_sessions(at(20), 2)
                .await
                .expect("purge_sessions"),
        );
    }
    assert_eq!(
        counts,
        vec![2, 2, 1, 0],
        "purge_sessions deletes at most limit per call: counts with limit 2"
    );
    assert!(
        touch(&stores, &live.token_hash, at(20)).await.is_some(),
        "purge_sessions must keep a live session"
    );
}

/// 32 concurrent `create_session` calls with one token hash (and 32 ids): exactly one
/// succeeds, the others get `Conflict` and write nothing, and the hash authenticates the
/// winner.
pub async fn concurrent_creates_one_hash_one_wins<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let hash = fresh_hash();
    let candidates: Vec<Session> = (0..32)
        .map(|_| Session {
            token_hash: hash,
            ..session(u.id, BASE, secs(60), secs(3600))
        })
        .collect();
    let results = together(candidates.len(), |i| {
        let stores = stores.clone();
        let candidate = candidates[i].clone();
        async move { stores.sessions.create_session(&candidate).await }
    })
    .await;

    let winners: Vec<usize> = (0..results.len()).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(
        winners.len(),
        1,
        "create_session: exactly one of 32 concurrent creates with one hash succeeds, got \
         {winners:?}"
    );
    for (i, result) in results.iter().enumerate() {
        if let Err(err) = result {
            assert!(
                matches!(err, StoreError::Conflict { .. }),
                "create_session: loser {i} of a race on one hash: expected Conflict, got {err:?}"
            );
        }
    }
    let winner = &candidates[winners[0]];
    for (i, candidate) in candidates.iter().enumerate() {
        let row = stores
            .sessions
            .session_by_id(candidate.id, at(1))
            .await
            .expect("session_by_id");
        if i == winners[0] {
            assert_eq!(
                row.as_ref(),
                Some(winner),
                "create_session: the winner's row"
            );
        } else {
            assert_eq!(
                row, None,
                "create_session: loser {i} of a race on one hash left a row"
            );
        }
    }
    let touched = stores
        .sessions
        .touch_session(&hash, at(1), policy(60, 3600))
        .await
        .expect("touch_session");
    assert_eq!(
        touched.as_ref(),
        Some(winner),
        "touch_session of the raced hash must return the winner"
    );
    let listed = canonical(
        stores
            .sessions
            .list_user_sessions(u.id, at(1))
            .await
            .expect("list_user_sessions"),
    );
    assert_eq!(
        listed,
        vec![winner.clone()],
        "list_user_sessions after a race on one hash: the winner only"
    );
}

/// Once `revoke_session` returns, no `touch_session` returns the session: not from a
/// cache warmed before (with a policy that writes and one that does not), and not from
/// a touch that read the row before the revocation and slides it after. 32 sliding
/// touches race one revocation; the revoker's own touch right after it, and every touch
/// once the race is over, find nothing.
pub async fn revoke_races_touch<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;

    let warm = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&warm)
        .await
        .expect("create_session");
    for (now, step) in [(at(1), policy(60, 0)), (at(2), policy(60, 3600))] {
        let touched = stores
            .sessions
            .touch_session(&warm.token_hash, now, step)
            .await
            .expect("touch_session");
        assert!(
            touched.is_some(),
            "touch_session of a live session at {now}"
        );
    }
    let revoked = stores
        .sessions
        .revoke_session(warm.id)
        .await
        .expect("revoke_session");
    assert!(revoked, "revoke_session of a live session returns true");
    for step in [policy(60, 0), policy(60, 3600)] {
        let touched = stores
            .sessions
            .touch_session(&warm.token_hash, at(3), step)
            .await
            .expect("touch_session");
        assert_eq!(
            touched, None,
            "touch_session after revoke_session returned (policy {step:?}) must not return \
             the session"
        );
    }

    let raced = session(u.id, BASE, secs(60), secs(3600));
    stores
        .sessions
        .create_session(&raced)
        .await
        .expect("create_session");
    let outcomes = together(33, |i| {
        let stores = stores.clone();
        let (id, hash) = (raced.id, raced.token_hash);
        async move {
            if i == 0 {
                // Let the touches start, then revoke in the middle of them.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                let revoked = stores
                    .sessions
                    .revoke_session(id)
                    .await
                    .expect("revoke_session");
                let after = stores
                    .sessions
                    .touch_session(&hash, at(40), policy(60, 0))
                    .await
                    .expect("touch_session");
                (Some(revoked), after)
            } else {
                let touched = stores
                    .sessions
                    .touch_session(&hash, at(i as i64), policy(60, 0))
                    .await
                    .expect("touch_session");
                (None, touched)
            }
        }
    })
    .await;
    let (revoked, after) = &outcomes[0];
    assert_eq!(
        *revoked,
        Some(true),
        "revoke_session of a session being touched returns true"
    );
    assert_eq!(
        *after, None,
        "touch_session right after revoke_session returned must not return the session"
    );
    let touched = stores
        .sessions
        .touch_session(&raced.token_hash, at(41), policy(60, 0))
        .await
        .expect("touch_session");
    assert_eq!(
        touched, None,
        "a touch_session that raced revoke_session brought the session back"
    );
    let by_id = stores
        .sessions
        .session_by_id(raced.id, at(41))
        .await
        .expect("session_by_id");
    assert_eq!(
        by_id, None,
        "session_by_id after the race: the revoked session is back"
    );
}

/// Rounds of one user's sessions written from every side at once: touches that slide
/// each session, `revoke_session` of one, `revoke_user_sessions` of all but one, and
/// `purge_sessions` of the dead ones, all released together. Every call succeeds ("concurrent
/// calls on the same rows all succeed": on InnoDB these statements lock the same rows
/// through different indexes, and the database answers some of them with a deadlock the
/// store must retry), and each round ends with only the kept session live.
pub async fn contended_writes_all_succeed<F: StoreFactory>(factory: &F) {
    const ROUNDS: i64 = 24;
    const LIVE: usize = 2;
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    for round in 0..ROUNDS {
        let start = at(round * 100);
        let live: Vec<Session> = (0..LIVE)
            .map(|_| session(u.id, start, secs(60), secs(3600)))
            .collect();
        let dead = session(u.id, start - secs(3600), secs(60), secs(7200));
        for s in live.iter().chain([&dead]) {
            stores
                .sessions
                .create_session(s)
                .await
                .expect("create_session");
        }
        let (kept, revoked) = (live[0].id, live[1].id);
        let hashes: Vec<TokenHash> = live.iter().map(|s| s.token_hash).collect();
        let now = start + secs(1);
        together(33, |i| {
            let (stores, hashes) = (stores.clone(), hashes.clone());
            async move {
                let sessions = &stores.sessions;
                if i < 3 {
                    // Let the touches start first, by a different lead each round.
                    let lead = std::time::Duration::from_micros(750 * (round % 8) as u64);
                    tokio::time::sleep(lead).await;
                }
                match i {
                    0 => sessions
                        .revoke_user_sessions(u.id, Some(kept))
                        .await
                        .map(drop),
                    1 => sessions.revoke_session(revoked).await.map(drop),
                    2 => sessions.purge_sessions(now, 100).await.map(drop),
                    _ => {
                        let when = now + secs(i as i64);
                        let touched = sessions
                            .touch_session(&hashes[usize::from(i % 8 != 0)], when, policy(60, 0))
                            .await;
                        touched.map(drop)
                    }
                }
                .map_err(|err| format!("call {i} of round {round}: {err:?}"))
                .expect("a contended session write failed")
            }
        })
        .await;
        let left = stores
            .sessions
            .list_user_sessions(u.id, now)
            .await
            .expect("list_user_sessions");
        let left: Vec<SessionId> = left.iter().map(|s| s.id).collect();
        assert_eq!(
            left,
            vec![kept],
            "round {round}: after revoke_user_sessions(except one) only that one is live"
        );
        stores
            .sessions
            .revoke_session(kept)
            .await
            .expect("revoke_session");
    }
}

/// A session created in year 1000 with deadlines at the end of year 9999 and an empty
/// payload (`Some(vec![])`, not `None`) reads back exactly (by id, by touch, in the
/// listing) and is live; one whose deadlines passed in year 1000 is dead and purged.
pub async fn edge_values_round_trip<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let earliest = datetime!(1000-01-01 00:00:00.000001 UTC);
    let latest = datetime!(9999-12-31 23:59:59.999999 UTC);
    let s = Session {
        id: SessionId::new(),
        user_id: u.id,
        token_hash: fresh_hash(),
        created_at: earliest,
        last_seen_at: earliest,
        idle_expires_at: latest,
        absolute_expires_at: latest,
        payload: Some(Vec::new()),
    };
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");
    let found = stores
        .sessions
        .session_by_id(s.id, BASE)
        .await
        .expect("session_by_id");
    assert_eq!(
        found.as_ref(),
        Some(&s),
        "create_session then session_by_id: an empty payload and times in years 1000 and \
         9999 must read back exactly"
    );
    // The deadline is already past any target: nothing is written.
    let touched = stores
        .sessions
        .touch_session(&s.token_hash, BASE, policy(60, 0))
        .await
        .expect("touch_session");
    assert_eq!(
        touched.as_ref(),
        Some(&s),
        "touch_session of a session that lives until year 9999"
    );
    let listed = canonical(
        stores
            .sessions
            .list_user_sessions(u.id, BASE)
            .await
            .expect("list_user_sessions"),
    );
    assert_eq!(
        listed,
        vec![s.clone()],
        "list_user_sessions: the session that lives until year 9999"
    );

    let ancient = Session {
        id: SessionId::new(),
        token_hash: fresh_hash(),
        idle_expires_at: earliest + secs(1),
        absolute_expires_at: earliest + secs(2),
        payload: None,
        ..s.clone()
    };
    stores
        .sessions
        .create_session(&ancient)
        .await
        .expect("create_session");
    let found = stores
        .sessions
        .session_by_id(ancient.id, BASE)
        .await
        .expect("session_by_id");
    assert_eq!(
        found, None,
        "session_by_id: a session that died in year 1000"
    );
    let purged = stores
        .sessions
        .purge_sessions(BASE, 10)
        .await
        .expect("purge_sessions");
    assert_eq!(
        purged, 1,
        "purge_sessions: the session that died in year 1000 goes, the one that lives until \
         9999 stays"
    );
    let found = stores
        .sessions
        .session_by_id(s.id, BASE)
        .await
        .expect("session_by_id");
    assert_eq!(
        found.as_ref(),
        Some(&s),
        "purge_sessions must keep the session that lives until year 9999"
    );
}

/// No store handle prints secrets, hashes or payloads in its `Debug` output, with rows
/// of every kind stored: not a session, refresh, one-time or key hash (as hex, as the
/// first four bytes in hex, or as a list of bytes), not a session payload, and not a
/// password hash.
pub async fn debug_shows_no_secrets<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let mut u = user(&unique_email());
    u.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$ZGVidWctc2FsdA$ZGVidWctaGFzaA".into());
    stores.users.create_user(&u).await.expect("create_user");
    let payload = b"payload-secret-0123".to_vec();
    let s = Session {
        payload: Some(payload.clone()),
        ..session(u.id, BASE, secs(60), secs(3600))
    };
    stores
        .sessions
        .create_session(&s)
        .await
        .expect("create_session");
    let r = refresh(u.id, BASE, secs(3600));
    stores
        .tokens
        .create_refresh(&r)
        .await
        .expect("create_refresh");
    let o = one_time(u.id, Purpose::MagicLink, BASE, secs(3600));
    stores
        .tokens
        .issue_one_time(&o)
        .await
        .expect("issue_one_time");
    let k = api_key(Some(u.id), BASE);
    stores
        .api_keys
        .create_api_key(&k)
        .await
        .expect("create_api_key");

    let bytes = |b: &[u8]| b.iter().map(u8::to_string).collect::<Vec<_>>().join(", ");
    let mut secrets = vec![
        "payload-secret".to_owned(),
        bytes(&payload[..8]),
        "argon2id".to_owned(),
        "ZGVidWctc2FsdA".to_owned(),
    ];
    for hash in [s.token_hash, r.token_hash, o.token_hash, k.key_hash] {
        let hex: String = hash.0.iter().map(|b| format!("{b:02x}")).collect();
        secrets.push(hex[..8].to_owned());
        secrets.push(hex[..8].to_ascii_uppercase());
        secrets.push(bytes(&hash.0[..4]));
    }
    let printed = [
        ("users", format!("{:?}", stores.users)),
        ("sessions", format!("{:?}", stores.sessions)),
        ("tokens", format!("{:?}", stores.tokens)),
        ("api_keys", format!("{:?}", stores.api_keys)),
        ("rbac", format!("{:?}", stores.rbac)),
        ("stores", format!("{stores:?}")),
    ];
    for (which, text) in &printed {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "the Debug output of the {which} store must never print secrets, hashes or \
                 payloads; it contains {secret:?}"
            );
        }
    }
}
