//! [`TokenStore`](authkit::TokenStore): refresh rotation (atomic, in families), one-time
//! tokens (single use, per purpose) and OTP attempts (counted atomically, locked at the cap).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use authkit::{
    FamilyId, OneTimeToken, OtpDecision, OtpOutcome, Purpose, RefreshToken, RotationDecision,
    RotationOutcome, StoreError, Stores, Timestamp, TokenHash, UserId,
};

use time::macros::datetime;

use crate::StoreFactory;
use crate::fixtures::{
    BASE, MICRO, at, create_user, fresh_hash, one_time, peek_refresh, refresh, secs, successor,
    together,
};

const HOUR: i64 = 3600;

/// Rotates `presented` into `next` at `now`, checking the rule ran once and the outcome.
async fn rotate_into(
    stores: &Stores,
    presented: &RefreshToken,
    next: &RefreshToken,
    now: Timestamp,
) {
    let calls = AtomicUsize::new(0);
    let rule = |_: &RefreshToken| {
        calls.fetch_add(1, Ordering::SeqCst);
        RotationDecision::Rotate(next.clone())
    };
    let outcome = stores
        .tokens
        .rotate_refresh(&presented.token_hash, now, &rule)
        .await
        .expect("rotate_refresh");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "rule calls per rotate_refresh"
    );
    match outcome {
        RotationOutcome::Decided { decision, .. } => {
            assert_eq!(
                decision,
                RotationDecision::Rotate(next.clone()),
                "rotate_refresh must report the decision the rule returned"
            )
        }
        RotationOutcome::Unknown => panic!("rotate_refresh: a stored token is Unknown"),
    }
}

/// `rotate_refresh` with `Rotate(next)`: the rule runs once on the stored row, the
/// presented token gets `consumed_at = now` and `rotations = 1`, `next` is stored as
/// given and can itself be rotated.
pub async fn refresh_rotate_applies_rotation<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let first = refresh(u.id, BASE, secs(HOUR));
    stores
        .tokens
        .create_refresh(&first)
        .await
        .expect("create_refresh");
    assert_eq!(
        peek_refresh(&stores, &first.token_hash).await.as_ref(),
        Some(&first),
        "create_refresh then rotate_refresh (read): the token reads back as given"
    );

    let next = successor(&first, at(10), secs(HOUR));
    let calls = AtomicUsize::new(0);
    let seen = Mutex::new(None);
    let rule = |row: &RefreshToken| {
        calls.fetch_add(1, Ordering::SeqCst);
        *seen.lock().unwrap() = Some(row.clone());
        RotationDecision::Rotate(next.clone())
    };
    let outcome = stores
        .tokens
        .rotate_refresh(&first.token_hash, at(10), &rule)
        .await
        .expect("rotate_refresh");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "rotate_refresh must call the rule exactly once"
    );
    assert_eq!(
        seen.lock().unwrap().as_ref(),
        Some(&first),
        "rotate_refresh must call the rule with the row as stored"
    );
    assert_eq!(
        outcome,
        RotationOutcome::Decided {
            presented: first.clone(),
            decision: RotationDecision::Rotate(next.clone()),
        },
        "rotate_refresh must report the row the rule saw and the decision it returned"
    );

    let mut consumed = first.clone();
    consumed.consumed_at = Some(at(10));
    consumed.rotations = 1;
    assert_eq!(
        peek_refresh(&stores, &first.token_hash).await.as_ref(),
        Some(&consumed),
        "rotate_refresh with Rotate must set consumed_at = now and rotations = 1 on the presented token"
    );
    assert_eq!(
        peek_refresh(&stores, &next.token_hash).await.as_ref(),
        Some(&next),
        "rotate_refresh with Rotate must store the successor as given"
    );

    let third = successor(&next, at(20), secs(HOUR));
    rotate_into(&stores, &next, &third, at(20)).await;
    assert_eq!(
        peek_refresh(&stores, &third.token_hash).await.as_ref(),
        Some(&third),
        "rotate_refresh of the successor must store its own successor"
    );
}

/// A second `Rotate` of a consumed token (a grace interval) keeps the first
/// `consumed_at` and counts `rotations = 2`.
pub async fn refresh_second_rotation_keeps_first_consumed_at<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let first = refresh(u.id, BASE, secs(HOUR));
    stores
        .tokens
        .create_refresh(&first)
        .await
        .expect("create_refresh");
    let a = successor(&first, at(10), secs(HOUR));
    let b = successor(&first, at(15), secs(HOUR));
    rotate_into(&stores, &first, &a, at(10)).await;
    rotate_into(&stores, &first, &b, at(15)).await;

    let row = peek_refresh(&stores, &first.token_hash)
        .await
        .expect("rotate_refresh (read): the token is stored");
    assert_eq!(
        row.consumed_at,
        Some(at(10)),
        "rotate_refresh: a second Rotate of a consumed token must keep the first consumed_at"
    );
    assert_eq!(
        row.rotations, 2,
        "rotate_refresh: a second Rotate of a consumed token must count rotations = 2"
    );
    assert_eq!(
        peek_refresh(&stores, &a.token_hash).await.as_ref(),
        Some(&a),
        "rotate_refresh stores the first successor as given"
    );
    assert_eq!(
        peek_refresh(&stores, &b.token_hash).await.as_ref(),
        Some(&b),
        "rotate_refresh in the grace interval stores the second successor as given"
    );
}

/// A duplicate id or hash is `Conflict`, and the losing token is not written.
pub async fn refresh_create_duplicate_conflicts<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let first = refresh(u.id, BASE, secs(HOUR));
    stores
        .tokens
        .create_refresh(&first)
        .await
        .expect("create_refresh");

    let mut same_id = refresh(u.id, BASE, secs(HOUR));
    same_id.id = first.id;
    let err = stores
        .tokens
        .create_refresh(&same_id)
        .await
        .expect_err("create_refresh (duplicate id) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "create_refresh: duplicate id: expected Conflict, got {err:?}"
    );
    assert_eq!(
        peek_refresh(&stores, &same_id.token_hash).await,
        None,
        "a create_refresh refused with Conflict (duplicate id) must write nothing"
    );

    let mut same_hash = refresh(u.id, BASE, secs(2 * HOUR));
    same_hash.token_hash = first.token_hash;
    let err = stores
        .tokens
        .create_refresh(&same_hash)
        .await
        .expect_err("create_refresh (duplicate hash) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "create_refresh: duplicate hash: expected Conflict, got {err:?}"
    );
    assert_eq!(
        peek_refresh(&stores, &first.token_hash).await.as_ref(),
        Some(&first),
        "a create_refresh refused with Conflict must not change the first token"
    );
    assert_eq!(
        stores
            .tokens
            .revoke_family(same_hash.family_id, at(1))
            .await
            .expect("revoke_family"),
        0,
        "a create_refresh refused with Conflict (duplicate hash) must write nothing (revoke_family finds no token of its family)"
    );
}

/// A refresh token of an unknown user is `NotFound` and is not written.
pub async fn refresh_create_unknown_user_not_found<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let t = refresh(UserId::new(), BASE, secs(HOUR));
    let err = stores
        .tokens
        .create_refresh(&t)
        .await
        .expect_err("create_refresh (unknown user) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "create_refresh: unknown user: expected NotFound, got {err:?}"
    );
    assert_eq!(
        peek_refresh(&stores, &t.token_hash).await,
        None,
        "a create_refresh refused with NotFound (unknown user) must write nothing"
    );
}

/// An unknown hash is `Unknown`, and the rule is never called.
pub async fn refresh_rotate_unknown_skips_rule<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let t = refresh(u.id, BASE, secs(HOUR));
    stores
        .tokens
        .create_refresh(&t)
        .await
        .expect("create_refresh");

    let calls = AtomicUsize::new(0);
    let rule = |_: &RefreshToken| {
        calls.fetch_add(1, Ordering::SeqCst);
        RotationDecision::RevokeFamily
    };
    let outcome = stores
        .tokens
        .rotate_refresh(&fresh_hash(), at(1), &rule)
        .await
        .expect("rotate_refresh");
    assert_eq!(
        outcome,
        RotationOutcome::Unknown,
        "rotate_refresh of an unknown hash must be Unknown"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "rotate_refresh of an unknown hash must not call the rule"
    );
    assert_eq!(
        peek_refresh(&stores, &t.token_hash).await.as_ref(),
        Some(&t),
        "rotate_refresh of an unknown hash changed another token"
    );
}

/// `Reject` changes nothing.
pub async fn refresh_reject_changes_nothing<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let t = refresh(u.id, BASE, secs(HOUR));
    stores
        .tokens
        .create_refresh(&t)
        .await
        .expect("create_refresh");

    let calls = AtomicUsize::new(0);
    let rule = |_: &RefreshToken| {
        calls.fetch_add(1, Ordering::SeqCst);
        RotationDecision::Reject
    };
    let outcome = stores
        .tokens
        .rotate_refresh(&t.token_hash, at(5), &rule)
        .await
        .expect("rotate_refresh");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "rotate_refresh must call the rule exactly once"
    );
    assert_eq!(
        outcome,
        RotationOutcome::Decided {
            presented: t.clone(),
            decision: RotationDecision::Reject
        },
        "rotate_refresh with Reject reports the row as stored and the decision as given"
    );
    assert_eq!(
        peek_refresh(&stores, &t.token_hash).await.as_ref(),
        Some(&t),
        "rotate_refresh with Reject must change nothing"
    );
    // Still rotatable.
    let next = successor(&t, at(6), secs(HOUR));
    rotate_into(&stores, &t, &next, at(6)).await;
}

/// `RevokeFamily` revokes every token of the presented token's family (keeping an
/// earlier `revoked_at`), and no token of another family.
pub async fn refresh_revoke_family_decision<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let other = create_user(&stores).await;
    let a1 = refresh(u.id, BASE, secs(HOUR));
    let b1 = refresh(u.id, BASE, secs(HOUR));
    let c1 = refresh(other.id, BASE, secs(HOUR));
    for t in [&a1, &b1, &c1] {
        stores
            .tokens
            .create_refresh(t)
            .await
            .expect("create_refresh");
    }
    let a2 = successor(&a1, at(10), secs(HOUR));
    rotate_into(&stores, &a1, &a2, at(10)).await;
    let a1_consumed = peek_refresh(&stores, &a1.token_hash)
        .await
        .expect("rotate_refresh (read): the token is stored");

    let revoke = |_: &RefreshToken| RotationDecision::RevokeFamily;
    let outcome = stores
        .tokens
        .rotate_refresh(&a1.token_hash, at(30), &revoke)
        .await
        .expect("rotate_refresh");
    assert_eq!(
        outcome,
        RotationOutcome::Decided {
            presented: a1_consumed.clone(),
            decision: RotationDecision::RevokeFamily
        },
        "rotate_refresh with RevokeFamily reports the row as the rule saw it and the decision"
    );
    let mut expected_a1 = a1_consumed;
    expected_a1.revoked_at = Some(at(30));
    let mut expected_a2 = a2.clone();
    expected_a2.revoked_at = Some(at(30));
    assert_eq!(
        peek_refresh(&stores, &a1.token_hash).await,
        Some(expected_a1.clone()),
        "rotate_refresh with RevokeFamily sets revoked_at = now on the presented token"
    );
    assert_eq!(
        peek_refresh(&stores, &a2.token_hash).await,
        Some(expected_a2.clone()),
        "rotate_refresh with RevokeFamily sets revoked_at = now on every token of the family"
    );
    assert_eq!(
        peek_refresh(&stores, &b1.token_hash).await,
        Some(b1),
        "rotate_refresh with RevokeFamily must not touch another family of the user"
    );
    assert_eq!(
        peek_refresh(&stores, &c1.token_hash).await,
        Some(c1),
        "rotate_refresh with RevokeFamily must not touch another user's family"
    );

    // Revoking again keeps the first revocation time.
    stores
        .tokens
        .rotate_refresh(&a2.token_hash, at(40), &revoke)
        .await
        .expect("rotate_refresh");
    assert_eq!(
        peek_refresh(&stores, &a1.token_hash).await,
        Some(expected_a1),
        "rotate_refresh: a second RevokeFamily keeps the first revocation time of the presented token"
    );
    assert_eq!(
        peek_refresh(&stores, &a2.token_hash).await,
        Some(expected_a2),
        "rotate_refresh: a second RevokeFamily keeps the first revocation time of every token of the family"
    );
}

/// 32 concurrent rotations of one token with the rule "rotate if unconsumed, else revoke
/// the family": exactly one rotates, every other call sees the token consumed, and the
/// family ends revoked. Losers' successors are never stored.
pub async fn refresh_concurrent_rotation_rotates_once<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let t = refresh(u.id, BASE, secs(HOUR));
    stores
        .tokens
        .create_refresh(&t)
        .await
        .expect("create_refresh");
    let nexts: Vec<_> = (0..32).map(|_| successor(&t, at(10), secs(HOUR))).collect();

    let outcomes = together(nexts.len(), |i| {
        let stores = stores.clone();
        let hash = t.token_hash;
        let next = nexts[i].clone();
        async move {
            let rule = move |row: &RefreshToken| {
                if row.consumed_at.is_none() {
                    RotationDecision::Rotate(next.clone())
                } else {
                    RotationDecision::RevokeFamily
                }
            };
            stores
                .tokens
                .rotate_refresh(&hash, at(10), &rule)
                .await
                .expect("rotate_refresh")
        }
    })
    .await;

    let mut winners = Vec::new();
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            RotationOutcome::Decided {
                presented,
                decision: RotationDecision::Rotate(_),
            } => {
                assert_eq!(
                    presented.consumed_at, None,
                    "rotate_refresh: the winner of a race must have seen the token unconsumed"
                );
                winners.push(i);
            }
            RotationOutcome::Decided {
                presented,
                decision: RotationDecision::RevokeFamily,
            } => assert!(
                presented.consumed_at.is_some(),
                "rotate_refresh: call {i} revoked the family after seeing an unconsumed token"
            ),
            other => panic!("call {i}: unexpected outcome {other:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "rotate_refresh: exactly one of 32 concurrent rotations of one token rotates, got {winners:?}"
    );
    let winner = winners[0];

    let row = peek_refresh(&stores, &t.token_hash)
        .await
        .expect("rotate_refresh (read): the token is stored");
    assert_eq!(
        row.rotations, 1,
        "rotate_refresh: the presented token of a race was rotated more than once"
    );
    assert_eq!(
        row.consumed_at,
        Some(at(10)),
        "rotate_refresh keeps the first consumed_at of the presented token"
    );
    assert_eq!(
        row.revoked_at,
        Some(at(10)),
        "rotate_refresh: the reuse in the race must revoke the family (the presented token)"
    );
    let stored_next = peek_refresh(&stores, &nexts[winner].token_hash)
        .await
        .expect("rotate_refresh (read): the token is stored");
    assert_eq!(
        stored_next.revoked_at,
        Some(at(10)),
        "rotate_refresh: the reuse in the race must revoke the winner's successor"
    );
    for (i, next) in nexts.iter().enumerate() {
        if i != winner {
            assert_eq!(
                peek_refresh(&stores, &next.token_hash).await,
                None,
                "rotate_refresh: loser {i}'s successor must not be stored"
            );
        }
    }
}

/// `revoke_family` revokes the family's unrevoked tokens and counts them; an earlier
/// revocation time stays; other families and unknown families are untouched.
pub async fn refresh_revoke_family_counts<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let t1 = refresh(u.id, BASE, secs(HOUR));
    let other = refresh(u.id, BASE, secs(HOUR));
    stores
        .tokens
        .create_refresh(&t1)
        .await
        .expect("create_refresh");
    stores
        .tokens
        .create_refresh(&other)
        .await
        .expect("create_refresh");
    let t2 = successor(&t1, at(1), secs(HOUR));
    let t3 = successor(&t2, at(2), secs(HOUR));
    rotate_into(&stores, &t1, &t2, at(1)).await;
    rotate_into(&stores, &t2, &t3, at(2)).await;

    let n = stores
        .tokens
        .revoke_family(t1.family_id, at(30))
        .await
        .expect("revoke_family");
    assert_eq!(
        n, 3,
        "revoke_family counts the unrevoked tokens of the family"
    );
    for t in [&t1, &t2, &t3] {
        let row = peek_refresh(&stores, &t.token_hash)
            .await
            .expect("rotate_refresh (read): the token is stored");
        assert_eq!(
            row.revoked_at,
            Some(at(30)),
            "revoke_family must set revoked_at = now on every token of the family"
        );
    }
    let n = stores
        .tokens
        .revoke_family(t1.family_id, at(40))
        .await
        .expect("revoke_family");
    assert_eq!(n, 0, "second revoke_family");
    let row = peek_refresh(&stores, &t3.token_hash)
        .await
        .expect("rotate_refresh (read): the token is stored");
    assert_eq!(
        row.revoked_at,
        Some(at(30)),
        "a second revoke_family must keep the first revocation time"
    );
    assert_eq!(
        peek_refresh(&stores, &other.token_hash).await,
        Some(other),
        "revoke_family must not touch another family"
    );
    let n = stores
        .tokens
        .revoke_family(FamilyId::new(), at(40))
        .await
        .expect("revoke_family");
    assert_eq!(n, 0, "revoke_family of an unknown family counts 0");
}

/// `revoke_user_refresh` revokes every unrevoked token of the user, across families,
/// and counts them; other users are untouched.
pub async fn refresh_revoke_user_counts<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let someone = create_user(&stores).await;
    let a1 = refresh(u.id, BASE, secs(HOUR));
    let b1 = refresh(u.id, BASE, secs(HOUR));
    let c1 = refresh(someone.id, BASE, secs(HOUR));
    for t in [&a1, &b1, &c1] {
        stores
            .tokens
            .create_refresh(t)
            .await
            .expect("create_refresh");
    }
    let a2 = successor(&a1, at(1), secs(HOUR));
    rotate_into(&stores, &a1, &a2, at(1)).await;
    stores
        .tokens
        .revoke_family(b1.family_id, at(2))
        .await
        .expect("revoke_family");
    let b2_unrevoked = refresh(u.id, at(3), secs(HOUR));
    stores
        .tokens
        .create_refresh(&b2_unrevoked)
        .await
        .expect("create_refresh");

    let n = stores
        .tokens
        .revoke_user_refresh(u.id, at(30))
        .await
        .expect("revoke_user_refresh");
    assert_eq!(
        n, 3,
        "revoke_user_refresh counts the user's unrevoked tokens, across families"
    );
    for (t, when) in [
        (&a1, at(30)),
        (&a2, at(30)),
        (&b1, at(2)),
        (&b2_unrevoked, at(30)),
    ] {
        let row = peek_refresh(&stores, &t.token_hash)
            .await
            .expect("rotate_refresh (read): the token is stored");
        assert_eq!(
            row.revoked_at,
            Some(when),
            "revoke_user_refresh must set revoked_at = now on unrevoked tokens and keep earlier revocation times"
        );
    }
    assert_eq!(
        peek_refresh(&stores, &c1.token_hash).await,
        Some(c1),
        "revoke_user_refresh must not touch another user's token"
    );
    let n = stores
        .tokens
        .revoke_user_refresh(u.id, at(40))
        .await
        .expect("revoke_user_refresh");
    assert_eq!(n, 0, "second revoke_user_refresh");
    let n = stores
        .tokens
        .revoke_user_refresh(UserId::new(), at(40))
        .await
        .expect("revoke_user_refresh");
    assert_eq!(n, 0, "revoke_user_refresh of an unknown user counts 0");
}

/// `purge_refresh` deletes tokens with `expires_at <= now` and keeps consumed or revoked
/// tokens that have not expired (they detect reuse).
pub async fn refresh_purge_keeps_unexpired<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let expired = refresh(u.id, BASE, secs(10));
    let expires_now = refresh(u.id, BASE, secs(30));
    let consumed = refresh(u.id, BASE, secs(30) + MICRO);
    let revoked = refresh(u.id, BASE, secs(HOUR));
    let live = refresh(u.id, BASE, secs(HOUR));
    for t in [&expired, &expires_now, &consumed, &revoked, &live] {
        stores
            .tokens
            .create_refresh(t)
            .await
            .expect("create_refresh");
    }
    let consumed_next = successor(&consumed, at(5), secs(HOUR));
    rotate_into(&stores, &consumed, &consumed_next, at(5)).await;
    stores
        .tokens
        .revoke_family(revoked.family_id, at(6))
        .await
        .expect("revoke_family");

    let n = stores
        .tokens
        .purge_refresh(at(30), 100)
        .await
        .expect("purge_refresh");
    assert_eq!(
        n, 2,
        "purge_refresh counts the tokens with expires_at <= now"
    );
    assert_eq!(
        peek_refresh(&stores, &expired.token_hash).await,
        None,
        "purge_refresh deletes a token whose expires_at is before now"
    );
    assert_eq!(
        peek_refresh(&stores, &expires_now.token_hash).await,
        None,
        "purge_refresh must delete a token with expires_at == now"
    );
    for kept in [&consumed, &consumed_next, &revoked, &live] {
        assert!(
            peek_refresh(&stores, &kept.token_hash).await.is_some(),
            "purge_refresh must keep consumed, revoked and live tokens that have not expired"
        );
    }
    assert_eq!(
        stores
            .tokens
            .purge_refresh(at(30), 100)
            .await
            .expect("purge_refresh"),
        0,
        "a second purge_refresh finds nothing"
    );
}

/// `purge_refresh` deletes at most `limit` per call.
pub async fn refresh_purge_respects_limit<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    for _ in 0..5 {
        let t = refresh(u.id, BASE, secs(10));
        stores
            .tokens
            .create_refresh(&t)
            .await
            .expect("create_refresh");
    }
    let live = refresh(u.id, BASE, secs(HOUR));
    stores
        .tokens
        .create_refresh(&live)
        .await
        .expect("create_refresh");
    let mut counts = Vec::new();
    for _ in 0..4 {
        counts.push(
            stores
                .tokens
                .purge_refresh(at(20), 2)
                .await
                .expect("purge_refresh"),
        );
    }
    assert_eq!(
        counts,
        vec![2, 2, 1, 0],
        "purge_refresh deletes at most limit per call: counts with limit 2"
    );
    assert!(
        peek_refresh(&stores, &live.token_hash).await.is_some(),
        "purge_refresh must keep a live token"
    );
}

async fn consume(stores: &Stores, t: &OneTimeToken, now: Timestamp) -> Option<OneTimeToken> {
    stores
        .tokens
        .consume_one_time(&t.token_hash, t.purpose, now)
        .await
        .expect("consume_one_time")
}

/// An issued token is consumed once: the result carries `consumed_at = now`, a second
/// consume is `None`; unknown hashes are `None`.
pub async fn one_time_issue_then_consume<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let t = one_time(u.id, Purpose::PasswordReset, BASE, secs(HOUR));
    stores
        .tokens
        .issue_one_time(&t)
        .await
        .expect("issue_one_time");

    let got = consume(&stores, &t, at(10)).await;
    let mut expected = t.clone();
    expected.consumed_at = Some(at(10));
    assert_eq!(
        got,
        Some(expected),
        "consume_one_time must return the token with consumed_at = now"
    );
    assert_eq!(
        consume(&stores, &t, at(11)).await,
        None,
        "a second consume_one_time of one token must be None"
    );
    let unknown = stores
        .tokens
        .consume_one_time(&fresh_hash(), Purpose::PasswordReset, at(11))
        .await
        .expect("consume_one_time");
    assert_eq!(
        unknown, None,
        "consume_one_time of an unknown hash must be None"
    );
}

/// A duplicate hash is `Conflict`, and the failed issue changes nothing: not even the
/// invalidation of the user's earlier token.
pub async fn one_time_issue_duplicate_hash_conflicts<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let a = create_user(&stores).await;
    let b = create_user(&stores).await;
    let earlier = one_time(a.id, Purpose::MagicLink, BASE, secs(HOUR));
    let taken = one_time(b.id, Purpose::MagicLink, BASE, secs(HOUR));
    stores
        .tokens
        .issue_one_time(&earlier)
        .await
        .expect("issue_one_time");
    stores
        .tokens
        .issue_one_time(&taken)
        .await
        .expect("issue_one_time");

    let mut clash = one_time(a.id, Purpose::MagicLink, at(1), secs(HOUR));
    clash.token_hash = taken.token_hash;
    let err = stores
        .tokens
        .issue_one_time(&clash)
        .await
        .expect_err("issue_one_time (duplicate hash) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "issue_one_time: duplicate hash: expected Conflict, got {err:?}"
    );
    let got = consume(&stores, &earlier, at(2)).await;
    assert!(
        got.is_some(),
        "an issue_one_time refused with Conflict must not invalidate the user's earlier token"
    );
    let got = consume(&stores, &taken, at(2)).await;
    assert_eq!(
        got.map(|t| t.id),
        Some(taken.id),
        "an issue_one_time refused with Conflict must leave the hash to the first token"
    );
}

/// A one-time token of an unknown user is `NotFound` and is not written.
pub async fn one_time_issue_unknown_user_not_found<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let t = one_time(UserId::new(), Purpose::EmailVerification, BASE, secs(HOUR));
    let err = stores
        .tokens
        .issue_one_time(&t)
        .await
        .expect_err("issue_one_time (unknown user) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "issue_one_time: unknown user: expected NotFound, got {err:?}"
    );
    assert_eq!(
        consume(&stores, &t, at(1)).await,
        None,
        "an issue_one_time refused with NotFound (unknown user) must write nothing"
    );
}

/// Issuing invalidates the user's earlier unconsumed tokens of the same purpose, and no
/// token of another purpose or another user.
pub async fn one_time_issue_invalidates_earlier<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let a = create_user(&stores).await;
    let b = create_user(&stores).await;
    let earlier = one_time(a.id, Purpose::PasswordReset, BASE, secs(HOUR));
    let earlier2 = one_time(a.id, Purpose::PasswordReset, at(1), secs(HOUR));
    let other_purpose = one_time(a.id, Purpose::EmailVerification, BASE, secs(HOUR));
    let other_user = one_time(b.id, Purpose::PasswordReset, BASE, secs(HOUR));
    for t in [&earlier, &other_purpose, &other_user] {
        stores
            .tokens
            .issue_one_time(t)
            .await
            .expect("issue_one_time");
    }
    stores
        .tokens
        .issue_one_time(&earlier2)
        .await
        .expect("issue_one_time");
    assert_eq!(
        consume(&stores, &earlier, at(2)).await,
        None,
        "issue_one_time must invalidate the earlier unconsumed token of the user and purpose"
    );
    let newest = one_time(a.id, Purpose::PasswordReset, at(3), secs(HOUR));
    stores
        .tokens
        .issue_one_time(&newest)
        .await
        .expect("issue_one_time");

    assert_eq!(
        consume(&stores, &earlier2, at(4)).await,
        None,
        "issue_one_time must invalidate every earlier unconsumed token of the user and purpose"
    );
    assert!(
        consume(&stores, &newest, at(4)).await.is_some(),
        "consume_one_time of the newest token after issue_one_time"
    );
    assert!(
        consume(&stores, &other_purpose, at(4)).await.is_some(),
        "issue_one_time must not invalidate a token of another purpose"
    );
    assert!(
        consume(&stores, &other_user, at(4)).await.is_some(),
        "issue_one_time must not invalidate another user's token"
    );
}

/// Consuming with the wrong purpose is `None` and leaves the token usable for its own.
pub async fn one_time_wrong_purpose_is_none<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let t = one_time(u.id, Purpose::MagicLink, BASE, secs(HOUR));
    stores
        .tokens
        .issue_one_time(&t)
        .await
        .expect("issue_one_time");

    for wrong in Purpose::ALL.into_iter().filter(|p| *p != t.purpose) {
        let got = stores
            .tokens
            .consume_one_time(&t.token_hash, wrong, at(1))
            .await
            .expect("consume_one_time");
        assert_eq!(
            got, None,
            "consume_one_time with the wrong purpose ({wrong:?}) must be None"
        );
    }
    let got = consume(&stores, &t, at(2)).await;
    let mut expected = t.clone();
    expected.consumed_at = Some(at(2));
    assert_eq!(
        got,
        Some(expected),
        "consume_one_time with the right purpose after wrong ones: the token stays usable for its own"
    );
}

/// A token is dead at its expiry: consuming at `expires_at` is `None`, one
/// microsecond earlier succeeds.
pub async fn one_time_expiry_boundary<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let a = create_user(&stores).await;
    let b = create_user(&stores).await;
    let t = one_time(a.id, Purpose::EmailVerification, BASE, secs(60));
    let s = one_time(b.id, Purpose::EmailVerification, BASE, secs(60));
    stores
        .tokens
        .issue_one_time(&t)
        .await
        .expect("issue_one_time");
    stores
        .tokens
        .issue_one_time(&s)
        .await
        .expect("issue_one_time");

    assert_eq!(
        consume(&stores, &t, at(60)).await,
        None,
        "consume_one_time at expires_at must be None"
    );
    assert_eq!(
        consume(&stores, &t, at(61)).await,
        None,
        "consume_one_time after expires_at must be None"
    );
    let got = consume(&stores, &s, at(60) - MICRO).await;
    assert_eq!(
        got.and_then(|t| t.consumed_at),
        Some(at(60) - MICRO),
        "consume_one_time one microsecond before expires_at must succeed with consumed_at = now"
    );
}

/// 32 concurrent consumes of one token: exactly one gets it.
pub async fn one_time_concurrent_consume_once<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let t = one_time(u.id, Purpose::MagicLink, BASE, secs(HOUR));
    stores
        .tokens
        .issue_one_time(&t)
        .await
        .expect("issue_one_time");

    let results = together(32, |_| {
        let stores = stores.clone();
        let hash = t.token_hash;
        async move {
            stores
                .tokens
                .consume_one_time(&hash, Purpose::MagicLink, at(1))
                .await
                .expect("consume_one_time")
        }
    })
    .await;
    let winners = results.iter().filter(|r| r.is_some()).count();
    assert_eq!(
        winners, 1,
        "consume_one_time: exactly one of 32 concurrent consumes of one token succeeds"
    );
}

/// `purge_one_time` deletes consumed tokens and tokens with `expires_at <= now`, counts
/// them, and keeps live ones.
pub async fn one_time_purge<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let mut users = Vec::new();
    for _ in 0..4 {
        users.push(create_user(&stores).await);
    }
    let purpose = Purpose::EmailVerification;
    let consumed = one_time(users[0].id, purpose, BASE, secs(HOUR));
    let expired = one_time(users[1].id, purpose, BASE, secs(10));
    let expires_now = one_time(users[2].id, purpose, BASE, secs(30));
    let live = one_time(users[3].id, purpose, BASE, secs(30) + MICRO);
    for t in [&consumed, &expired, &expires_now, &live] {
        stores
            .tokens
            .issue_one_time(t)
            .await
            .expect("issue_one_time");
    }
    assert!(
        consume(&stores, &consumed, at(1)).await.is_some(),
        "consume_one_time of a live token (setup of the purge)"
    );

    let n = stores
        .tokens
        .purge_one_time(at(30), 100)
        .await
        .expect("purge_one_time");
    assert_eq!(
        n, 3,
        "purge_one_time counts consumed tokens and tokens with expires_at <= now"
    );
    assert_eq!(
        stores
            .tokens
            .purge_one_time(at(30), 100)
            .await
            .expect("purge_one_time"),
        0,
        "a second purge_one_time finds nothing"
    );
    assert!(
        consume(&stores, &live, at(30)).await.is_some(),
        "purge_one_time must keep a live token"
    );
}

/// `purge_one_time` deletes at most `limit` per call.
pub async fn one_time_purge_respects_limit<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    for _ in 0..5 {
        let u = create_user(&stores).await;
        let t = one_time(u.id, Purpose::MagicLink, BASE, secs(10));
        stores
            .tokens
            .issue_one_time(&t)
            .await
            .expect("issue_one_time");
    }
    let u = create_user(&stores).await;
    let live = one_time(u.id, Purpose::MagicLink, BASE, secs(HOUR));
    stores
        .tokens
        .issue_one_time(&live)
        .await
        .expect("issue_one_time");
    let mut counts = Vec::new();
    for _ in 0..4 {
        counts.push(
            stores
                .tokens
                .purge_one_time(at(20), 2)
                .await
                .expect("purge_one_time"),
        );
    }
    assert_eq!(
        counts,
        vec![2, 2, 1, 0],
        "purge_one_time deletes at most limit per call: counts with limit 2"
    );
    assert!(
        consume(&stores, &live, at(20)).await.is_some(),
        "purge_one_time must keep a live token"
    );
}

/// One `attempt_otp` on the user's email OTP code at `now` with `rule`.
async fn attempt(
    stores: &Stores,
    user: UserId,
    now: Timestamp,
    rule: &(dyn Fn(&OneTimeToken) -> OtpDecision + Send + Sync),
) -> OtpOutcome {
    stores
        .tokens
        .attempt_otp(user, Purpose::EmailOtp, now, rule)
        .await
        .expect("attempt_otp")
}

/// The decision the outcome reports, or a panic naming `what` when there was no code.
fn decided(outcome: OtpOutcome, what: &str) -> (OneTimeToken, OtpDecision) {
    match outcome {
        OtpOutcome::Decided { token, decision } => (token, decision),
        OtpOutcome::NoCode => panic!("attempt_otp: {what}: expected a decided attempt, got NoCode"),
    }
}

/// No live unconsumed code of the purpose (none, expired at the boundary, consumed,
/// another purpose, another user's): `NoCode`, and the rule is not called.
pub async fn otp_no_code<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let other = create_user(&stores).await;
    let calls = AtomicUsize::new(0);
    let rule = |_: &OneTimeToken| {
        calls.fetch_add(1, Ordering::SeqCst);
        OtpDecision::Consume
    };

    assert_eq!(
        attempt(&stores, u.id, at(1), &rule).await,
        OtpOutcome::NoCode,
        "attempt_otp: a user with no code"
    );

    let expiring = one_time(u.id, Purpose::EmailOtp, BASE, secs(60));
    stores
        .tokens
        .issue_one_time(&expiring)
        .await
        .expect("issue_one_time");
    let got = attempt(&stores, u.id, at(60), &rule).await;
    assert_eq!(
        got,
        OtpOutcome::NoCode,
        "attempt_otp: a code at its expiry is dead"
    );

    let used = one_time(u.id, Purpose::EmailOtp, at(61), secs(600));
    stores
        .tokens
        .issue_one_time(&used)
        .await
        .expect("issue_one_time");
    assert!(
        consume(&stores, &used, at(62)).await.is_some(),
        "consume_one_time of a live code (setup: a consumed code)"
    );
    let got = attempt(&stores, u.id, at(63), &rule).await;
    assert_eq!(
        got,
        OtpOutcome::NoCode,
        "attempt_otp: a consumed code is dead"
    );

    let link = one_time(u.id, Purpose::MagicLink, at(64), secs(600));
    stores
        .tokens
        .issue_one_time(&link)
        .await
        .expect("issue_one_time");
    let theirs = one_time(other.id, Purpose::EmailOtp, at(64), secs(600));
    stores
        .tokens
        .issue_one_time(&theirs)
        .await
        .expect("issue_one_time");
    let got = attempt(&stores, u.id, at(65), &rule).await;
    assert_eq!(
        got,
        OtpOutcome::NoCode,
        "attempt_otp: another purpose's and another user's codes are not this user's"
    );

    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "attempt_otp called the rule without a live code"
    );
}

/// `CountFailure` adds exactly one to `failed_attempts`, `Leave` changes nothing, the rule
/// is called once per attempt with the stored row, and the outcome reports that row and
/// the decision as given.
pub async fn otp_decisions_applied<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let code = one_time(u.id, Purpose::EmailOtp, BASE, secs(600));
    stores
        .tokens
        .issue_one_time(&code)
        .await
        .expect("issue_one_time");
    let calls = AtomicUsize::new(0);
    let fail = |_: &OneTimeToken| {
        calls.fetch_add(1, Ordering::SeqCst);
        OtpDecision::CountFailure
    };
    for before in 0..3 {
        let (seen, decision) = decided(attempt(&stores, u.id, at(1), &fail).await, "failure");
        assert_eq!(
            (seen.failed_attempts, decision),
            (before, OtpDecision::CountFailure),
            "attempt_otp: the rule sees every earlier failure counted once"
        );
        let mut expected = code.clone();
        expected.failed_attempts = before;
        assert_eq!(
            seen, expected,
            "attempt_otp: the row as stored, before the change"
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "attempt_otp: one rule call per attempt"
    );
    let leave = |_: &OneTimeToken| OtpDecision::Leave;
    for _ in 0..2 {
        let (seen, decision) = decided(attempt(&stores, u.id, at(2), &leave).await, "leave");
        assert_eq!(
            (seen.failed_attempts, seen.consumed_at, decision),
            (3, None, OtpDecision::Leave),
            "attempt_otp: Leave changes nothing"
        );
    }
}

/// `Consume` sets `consumed_at = now`: the code is then gone for OTP attempts and for
/// `consume_one_time`.
pub async fn otp_accepted_consumes<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let code = one_time(u.id, Purpose::EmailOtp, BASE, secs(600));
    stores
        .tokens
        .issue_one_time(&code)
        .await
        .expect("issue_one_time");
    let expected_hash: TokenHash = code.token_hash;

    let seen = Mutex::new(None);
    let rule = |t: &OneTimeToken| {
        *seen.lock().unwrap() = Some(t.clone());
        if t.token_hash == expected_hash {
            OtpDecision::Consume
        } else {
            OtpDecision::CountFailure
        }
    };
    let (token, decision) = decided(attempt(&stores, u.id, at(2), &rule).await, "accept");
    assert_eq!(
        decision,
        OtpDecision::Consume,
        "attempt_otp: decision reported as given"
    );
    assert_eq!(
        seen.lock().unwrap().as_ref(),
        Some(&code),
        "attempt_otp must call the rule with the code as stored"
    );
    assert_eq!(
        token, code,
        "attempt_otp: Decided.token is the row before the change"
    );

    let got = attempt(&stores, u.id, at(3), &|_| OtpDecision::Consume).await;
    assert_eq!(
        got,
        OtpOutcome::NoCode,
        "attempt_otp: a consumed code is gone"
    );
    assert_eq!(
        consume(&stores, &code, at(3)).await,
        None,
        "consume_one_time after an accepted OTP attempt"
    );
}

/// 32 concurrent failed attempts are each counted once: the rule sees `failed_attempts`
/// 0 to 31, each once, and the next attempt sees 32.
pub async fn otp_concurrent_failures_counted<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let code = one_time(u.id, Purpose::EmailOtp, BASE, secs(600));
    stores
        .tokens
        .issue_one_time(&code)
        .await
        .expect("issue_one_time");

    let results = together(32, |_| {
        let stores = stores.clone();
        let user = u.id;
        async move { attempt(&stores, user, at(1), &|_| OtpDecision::CountFailure).await }
    })
    .await;
    let mut seen = BTreeSet::new();
    for result in results {
        let (token, _) = decided(result, "concurrent failure");
        assert!(
            seen.insert(token.failed_attempts),
            "attempt_otp: two concurrent attempts saw failed_attempts {}",
            token.failed_attempts
        );
    }
    assert_eq!(
        seen,
        (0..32).collect::<BTreeSet<u32>>(),
        "attempt_otp: failed_attempts seen by 32 concurrent failures"
    );
    let (next, _) = decided(
        attempt(&stores, u.id, at(2), &|_| OtpDecision::Leave).await,
        "after",
    );
    assert_eq!(
        next.failed_attempts, 32,
        "attempt_otp: after 32 concurrent failures"
    );
}

/// A cap reached under contention: 32 concurrent wrong codes against core's rule with a
/// cap of 5 count exactly 5 failures; the other 27 find the code locked.
pub async fn otp_cap_under_contention<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let code = one_time(u.id, Purpose::EmailOtp, BASE, secs(600));
    stores
        .tokens
        .issue_one_time(&code)
        .await
        .expect("issue_one_time");
    let capped = |t: &OneTimeToken| {
        if t.failed_attempts >= 5 {
            OtpDecision::Leave
        } else {
            OtpDecision::CountFailure
        }
    };
    let results = together(32, |_| {
        let stores = stores.clone();
        let user = u.id;
        async move { attempt(&stores, user, at(1), &capped).await }
    })
    .await;
    let counted = results
        .into_iter()
        .map(|r| decided(r, "capped attempt").1)
        .filter(|d| *d == OtpDecision::CountFailure)
        .count();
    assert_eq!(
        counted, 5,
        "attempt_otp: failures counted under a cap of 5 with 32 racers"
    );
    let (after, _) = decided(attempt(&stores, u.id, at(2), &capped).await, "after");
    assert_eq!(
        after.failed_attempts, 5,
        "attempt_otp: the cap holds under contention"
    );
}

/// 32 concurrent attempts with the right code: exactly one consumes it, the rest see no
/// code.
pub async fn otp_concurrent_accept_once<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let code = one_time(u.id, Purpose::EmailOtp, BASE, secs(600));
    stores
        .tokens
        .issue_one_time(&code)
        .await
        .expect("issue_one_time");

    let results = together(32, |_| {
        let stores = stores.clone();
        let user = u.id;
        async move { attempt(&stores, user, at(1), &|_| OtpDecision::Consume).await }
    })
    .await;
    let consumed = results
        .iter()
        .filter(|r| matches!(r, OtpOutcome::Decided { .. }))
        .count();
    assert_eq!(
        consumed, 1,
        "attempt_otp: concurrent right codes that consumed the code"
    );
}

/// `rotate_refresh` calls the rule once with every stored row, whatever its state: a
/// consumed token, a revoked one, and an expired one (at and after `expires_at`) are
/// `Decided` with the row as stored, never `Unknown`. Judging them is core's job.
pub async fn refresh_rotate_sees_every_stored_row<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let consumed = refresh(u.id, BASE, secs(HOUR));
    let revoked = refresh(u.id, BASE, secs(HOUR));
    let expired = refresh(u.id, BASE, secs(10));
    for t in [&consumed, &revoked, &expired] {
        stores
            .tokens
            .create_refresh(t)
            .await
            .expect("create_refresh");
    }
    let next = successor(&consumed, at(1), secs(HOUR));
    rotate_into(&stores, &consumed, &next, at(1)).await;
    stores
        .tokens
        .revoke_family(revoked.family_id, at(2))
        .await
        .expect("revoke_family");

    let consumed_row = RefreshToken {
        consumed_at: Some(at(1)),
        rotations: 1,
        ..consumed.clone()
    };
    let revoked_row = RefreshToken {
        revoked_at: Some(at(2)),
        ..revoked.clone()
    };
    for (row, now, what) in [
        (&consumed_row, at(3), "consumed"),
        (&revoked_row, at(3), "revoked"),
        (&expired, at(10), "expiring now"),
        (&expired, at(11), "expired"),
    ] {
        let calls = AtomicUsize::new(0);
        let rule = |_: &RefreshToken| {
            calls.fetch_add(1, Ordering::SeqCst);
            RotationDecision::Reject
        };
        let outcome = stores
            .tokens
            .rotate_refresh(&row.token_hash, now, &rule)
            .await
            .expect("rotate_refresh");
        assert_eq!(
            outcome,
            RotationOutcome::Decided {
                presented: row.clone(),
                decision: RotationDecision::Reject,
            },
            "rotate_refresh of a {what} token must call the rule with the row as stored, \
             not report it Unknown"
        );
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "rotate_refresh of a {what} token: rule calls"
        );
    }
}

/// A `Rotate` whose successor cannot be stored changes nothing: a successor with a
/// taken hash or a taken id is `Conflict`, and each time the presented token stays
/// unconsumed (`consumed_at` and `rotations` as before), no successor is stored, and the
/// token can still rotate.
pub async fn refresh_rotate_conflict_changes_nothing<F: StoreFactory>(factory: &F) {
    rotate_into_unstorable(factory, false).await;
}

/// In a store that holds the users too, a successor naming an unknown user is
/// `NotFound`, with the same guarantees as a conflicting one: nothing changes.
pub async fn refresh_rotate_unknown_user_changes_nothing<F: StoreFactory>(factory: &F) {
    rotate_into_unstorable(factory, true).await;
}

/// The successors that cannot be stored: a taken hash and a taken id, and with
/// `unknown_user` one naming an unknown user.
async fn rotate_into_unstorable<F: StoreFactory>(factory: &F, unknown_user: bool) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let other = refresh(u.id, BASE, secs(HOUR));
    let t = refresh(u.id, BASE, secs(HOUR));
    for token in [&other, &t] {
        stores
            .tokens
            .create_refresh(token)
            .await
            .expect("create_refresh");
    }
    let taken_hash = RefreshToken {
        token_hash: other.token_hash,
        ..successor(&t, at(1), secs(HOUR))
    };
    let taken_id = RefreshToken {
        id: other.id,
        ..successor(&t, at(1), secs(HOUR))
    };
    let of_unknown_user = RefreshToken {
        user_id: UserId::new(),
        ..successor(&t, at(1), secs(HOUR))
    };
    let mut unstorable = vec![(&taken_hash, "a taken hash"), (&taken_id, "a taken id")];
    if unknown_user {
        unstorable.push((&of_unknown_user, "an unknown user"));
    }
    for (next, what) in unstorable {
        let rule = |_: &RefreshToken| RotationDecision::Rotate(next.clone());
        let err = stores
            .tokens
            .rotate_refresh(&t.token_hash, at(1), &rule)
            .await
            .expect_err("rotate_refresh into an unstorable successor must fail");
        if what == "an unknown user" {
            assert!(
                matches!(err, StoreError::NotFound { .. }),
                "rotate_refresh into a successor of {what}: expected NotFound, got {err:?}"
            );
        } else {
            assert!(
                matches!(err, StoreError::Conflict { .. }),
                "rotate_refresh into a successor with {what}: expected Conflict, got {err:?}"
            );
        }
        assert_eq!(
            peek_refresh(&stores, &t.token_hash).await.as_ref(),
            Some(&t),
            "rotate_refresh into a successor with {what} failed: the presented token must \
             stay unconsumed"
        );
        assert_eq!(
            peek_refresh(&stores, &other.token_hash).await.as_ref(),
            Some(&other),
            "rotate_refresh into a successor with {what} changed the token it collided with"
        );
        if next.token_hash != other.token_hash {
            assert_eq!(
                peek_refresh(&stores, &next.token_hash).await,
                None,
                "rotate_refresh into a successor with {what} failed but stored it"
            );
        }
    }

    let next = successor(&t, at(2), secs(HOUR));
    rotate_into(&stores, &t, &next, at(2)).await;
    let revoked = stores
        .tokens
        .revoke_family(t.family_id, at(3))
        .await
        .expect("revoke_family");
    assert_eq!(
        revoked, 2,
        "revoke_family after failed rotate_refresh calls and one good one: the token and its successor only"
    );
}

/// `revoke_family` racing a chain of rotations of the family: once both are done, every
/// token of the family is revoked, and `revoke_family` counted them all. A rotation is
/// one atomic step, so it lands either before the revocation (and its successor is
/// revoked with the family) or after it (and its rule sees the presented token revoked,
/// so the chain stops).
pub async fn refresh_revoke_family_races_rotation<F: StoreFactory>(factory: &F) {
    const ROUNDS: usize = 100;
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let first = refresh(u.id, BASE, secs(HOUR));
    stores
        .tokens
        .create_refresh(&first)
        .await
        .expect("create_refresh");

    let rotator = {
        let stores = stores.clone();
        let first = first.clone();
        tokio::spawn(async move {
            let mut chain = vec![first];
            for _ in 0..ROUNDS {
                let current = chain[chain.len() - 1].clone();
                let next = successor(&current, at(1), secs(HOUR));
                let candidate = next.clone();
                let rule = move |row: &RefreshToken| {
                    if row.consumed_at.is_none() && row.revoked_at.is_none() {
                        RotationDecision::Rotate(candidate.clone())
                    } else {
                        RotationDecision::Reject
                    }
                };
                let outcome = stores
                    .tokens
                    .rotate_refresh(&current.token_hash, at(1), &rule)
                    .await
                    .expect("rotate_refresh");
                match outcome {
                    RotationOutcome::Decided {
                        decision: RotationDecision::Rotate(_),
                        ..
                    } => chain.push(next),
                    _ => break,
                }
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
            chain
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    let revoked = stores
        .tokens
        .revoke_family(first.family_id, at(2))
        .await
        .expect("revoke_family");
    let chain = rotator.await.expect("the rotating task");

    for (i, token) in chain.iter().enumerate() {
        let row = peek_refresh(&stores, &token.token_hash)
            .await
            .expect("a token of the chain is stored");
        assert!(
            row.revoked_at.is_some(),
            "revoke_family raced rotate_refresh: token {i} of the {} of the family is \
             unrevoked after both returned",
            chain.len()
        );
    }
    assert_eq!(
        revoked,
        chain.len() as u64,
        "revoke_family raced rotate_refresh: it must count every token of the family, \
         which were all unrevoked before it"
    );
}

/// A refresh token with an empty audience, an empty profile name (`Some("")`, not
/// `None`), `rotations` one short of `u32::MAX` and times in years 1000 and 9999 reads
/// back exactly; a rotation counts up to `u32::MAX` and copies the values forward.
pub async fn refresh_edge_values_round_trip<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let earliest = datetime!(1000-01-01 00:00:00.000001 UTC);
    let latest = datetime!(9999-12-31 23:59:59.999999 UTC);
    let t = RefreshToken {
        audience: String::new(),
        profile: Some(String::new()),
        chain_started_at: earliest,
        created_at: earliest,
        expires_at: latest,
        consumed_at: Some(earliest),
        rotations: u32::MAX - 1,
        ..refresh(u.id, BASE, secs(HOUR))
    };
    let no_profile = RefreshToken {
        profile: None,
        ..refresh(u.id, BASE, secs(HOUR))
    };
    for token in [&t, &no_profile] {
        stores
            .tokens
            .create_refresh(token)
            .await
            .expect("create_refresh");
        assert_eq!(
            peek_refresh(&stores, &token.token_hash).await.as_ref(),
            Some(token),
            "create_refresh then rotate_refresh (read): an empty audience, an empty or \
             absent profile, rotations near u32::MAX and times in years 1000 and 9999 must \
             read back exactly"
        );
    }

    let next = successor(&t, BASE, secs(HOUR));
    rotate_into(&stores, &t, &next, BASE).await;
    let rotated = RefreshToken {
        rotations: u32::MAX,
        ..t.clone()
    };
    assert_eq!(
        peek_refresh(&stores, &t.token_hash).await.as_ref(),
        Some(&rotated),
        "rotate_refresh adds one to rotations up to u32::MAX and keeps the first consumed_at"
    );
    assert_eq!(
        peek_refresh(&stores, &next.token_hash).await.as_ref(),
        Some(&next),
        "rotate_refresh stores the successor as given (empty profile, chain started in \
         year 1000)"
    );
}

/// A one-time token with `failed_attempts` one short of `u32::MAX`, created in year
/// 1000 and expiring at the end of year 9999, reads back exactly and is live: a failure
/// counts up to `u32::MAX`, and `consume_one_time` one microsecond before the expiry
/// succeeds.
pub async fn one_time_edge_values_round_trip<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let earliest = datetime!(1000-01-01 00:00:00.000001 UTC);
    let latest = datetime!(9999-12-31 23:59:59.999999 UTC);
    let code = OneTimeToken {
        created_at: earliest,
        expires_at: latest,
        failed_attempts: u32::MAX - 1,
        ..one_time(u.id, Purpose::EmailOtp, BASE, secs(HOUR))
    };
    let link = OneTimeToken {
        created_at: earliest,
        expires_at: latest,
        ..one_time(u.id, Purpose::MagicLink, BASE, secs(HOUR))
    };
    for t in [&code, &link] {
        stores
            .tokens
            .issue_one_time(t)
            .await
            .expect("issue_one_time");
    }

    let (seen, _) = decided(
        attempt(&stores, u.id, BASE, &|_| OtpDecision::CountFailure).await,
        "a code that lives until year 9999",
    );
    assert_eq!(
        seen, code,
        "issue_one_time then attempt_otp: failed_attempts near u32::MAX and times in years \
         1000 and 9999 must read back exactly"
    );
    let (seen, _) = decided(
        attempt(&stores, u.id, BASE, &|_| OtpDecision::Leave).await,
        "after one more failure",
    );
    assert_eq!(
        seen.failed_attempts,
        u32::MAX,
        "attempt_otp: CountFailure adds one to failed_attempts up to u32::MAX"
    );

    let got = consume(&stores, &link, latest - MICRO).await;
    let expected = OneTimeToken {
        consumed_at: Some(latest - MICRO),
        ..link.clone()
    };
    assert_eq!(
        got,
        Some(expected),
        "consume_one_time one microsecond before an expiry at the end of year 9999"
    );
}
