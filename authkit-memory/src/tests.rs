//! Focused unit tests; the full contract suite lives in `authkit-conformance`.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use authkit::{
    ApiKeyStore, Entity, FamilyId, GrantKind, OneTimeToken, OneTimeTokenId, OtpDecision,
    OtpOutcome, Purpose, RbacItem, RbacItemId, RbacStore, RefreshToken, RefreshTokenId,
    RotationDecision, RotationOutcome, Session, SessionId, SessionStore, SlidePolicy, SlugKind,
    StoreError, Timestamp, TokenHash, TokenStore, User, UserId, UserStore,
};
use time::Duration;
use time::macros::datetime;

use crate::MemoryStore;

const BASE: Timestamp = datetime!(2030-01-01 00:00:00 UTC);

fn at(secs: i64) -> Timestamp {
    BASE + Duration::seconds(secs)
}

fn hash(n: u32) -> TokenHash {
    let mut h = [0u8; 32];
    h[..4].copy_from_slice(&n.to_be_bytes());
    // Spread over the shards the way SHA-256 would.
    h[0] = (n % 251) as u8;
    TokenHash(h)
}

async fn user(store: &MemoryStore, email: &str) -> User {
    let u = User {
        id: UserId::new(),
        email: email.to_owned(),
        password_hash: None,
        email_verified_at: None,
        created_at: BASE,
        updated_at: BASE,
    };
    store.create_user(&u).await.unwrap();
    u
}

fn session(user: UserId, n: u32, idle: i64, absolute: i64) -> Session {
    Session {
        id: SessionId::new(),
        user_id: user,
        token_hash: hash(n),
        created_at: BASE,
        last_seen_at: BASE,
        idle_expires_at: at(idle),
        absolute_expires_at: at(absolute),
        payload: None,
    }
}

fn refresh(user: UserId, n: u32) -> RefreshToken {
    RefreshToken {
        id: RefreshTokenId::new(),
        family_id: FamilyId::new(),
        user_id: user,
        token_hash: hash(n),
        audience: "bff".to_owned(),
        profile: None,
        chain_started_at: BASE,
        created_at: BASE,
        expires_at: at(3600),
        consumed_at: None,
        rotations: 0,
        revoked_at: None,
    }
}

fn one_time(user: UserId, purpose: Purpose, n: u32, created: i64) -> OneTimeToken {
    OneTimeToken {
        id: OneTimeTokenId::new(),
        user_id: user,
        purpose,
        token_hash: hash(n),
        created_at: at(created),
        expires_at: at(created + 600),
        consumed_at: None,
        failed_attempts: 0,
    }
}

fn policy(idle: i64) -> SlidePolicy {
    SlidePolicy {
        idle_ttl: Duration::seconds(idle),
        min_step: Duration::ZERO,
    }
}

#[tokio::test]
async fn touch_slides_but_never_past_the_absolute_cap() {
    let store = MemoryStore::new();
    let u = user(&store, "a@x.io").await;
    let s = session(u.id, 1, 60, 100);
    store.create_session(&s).await.unwrap();

    let t = store.touch_session(&s.token_hash, at(30), policy(60)).await;
    let t = t.unwrap().unwrap();
    assert_eq!((t.idle_expires_at, t.last_seen_at), (at(90), at(30)));

    let t = store.touch_session(&s.token_hash, at(70), policy(60)).await;
    let t = t.unwrap().unwrap();
    assert_eq!(
        t.idle_expires_at,
        at(100),
        "capped at the absolute deadline"
    );

    // At the cap nothing moves, so nothing is written (last_seen_at stays).
    let t = store.touch_session(&s.token_hash, at(80), policy(60)).await;
    assert_eq!(t.unwrap().unwrap().last_seen_at, at(70));

    let dead = store
        .touch_session(&s.token_hash, at(100), policy(60))
        .await;
    assert_eq!(dead.unwrap(), None, "dead at the absolute deadline");
    assert_eq!(
        store
            .session_by_id(s.id, at(99))
            .await
            .unwrap()
            .unwrap()
            .last_seen_at,
        at(70)
    );
}

#[tokio::test]
async fn sessions_across_shards_list_revoke_and_purge() {
    let store = MemoryStore::new();
    let u = user(&store, "a@x.io").await;
    let other = user(&store, "b@x.io").await;
    let mut ids = Vec::new();
    for n in 0..100 {
        let mut s = session(u.id, n, if n % 2 == 0 { 10 } else { 600 }, 3600);
        s.created_at = at(-i64::from(n));
        store.create_session(&s).await.unwrap();
        ids.push(s.id);
    }
    let keep = session(other.id, 1000, 600, 3600);
    store.create_session(&keep).await.unwrap();

    let live = store.list_user_sessions(u.id, at(20)).await.unwrap();
    assert_eq!(live.len(), 50);
    assert!(
        live.windows(2).all(|w| w[0].created_at <= w[1].created_at),
        "oldest first"
    );

    let mut purged = Vec::new();
    loop {
        let n = store.purge_sessions(at(20), 7).await.unwrap();
        purged.push(n);
        if n < 7 {
            break;
        }
    }
    assert_eq!(purged.iter().sum::<u64>(), 50);
    assert!(purged.iter().all(|&n| n <= 7));

    let except = ids[1];
    assert_eq!(
        store
            .revoke_user_sessions(u.id, Some(except))
            .await
            .unwrap(),
        49
    );
    let left = store.list_user_sessions(u.id, at(20)).await.unwrap();
    assert_eq!(left.iter().map(|s| s.id).collect::<Vec<_>>(), vec![except]);
    assert!(
        store
            .session_by_id(keep.id, at(20))
            .await
            .unwrap()
            .is_some()
    );
}

#[test]
fn concurrent_rotations_have_exactly_one_winner() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    rt.block_on(async {
        let store = Arc::new(MemoryStore::new());
        let u = user(&store, "a@x.io").await;
        let first = refresh(u.id, 1);
        store.create_refresh(&first).await.unwrap();

        let tasks: Vec<_> = (0..32u32)
            .map(|i| {
                let store = store.clone();
                let presented = first.token_hash;
                tokio::spawn(async move {
                    let rule = |t: &RefreshToken| {
                        if t.consumed_at.is_some() {
                            return RotationDecision::Reject;
                        }
                        let mut next = t.clone();
                        next.id = RefreshTokenId::new();
                        next.token_hash = hash(100 + i);
                        next.consumed_at = None;
                        next.rotations = 0;
                        RotationDecision::Rotate(next)
                    };
                    store
                        .rotate_refresh(&presented, at(1), &rule)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            match task.await.unwrap() {
                RotationOutcome::Decided {
                    presented,
                    decision: RotationDecision::Rotate(_),
                } => {
                    assert_eq!(presented, first, "the winner saw the row before the change");
                    winners += 1;
                }
                RotationOutcome::Decided {
                    presented,
                    decision: RotationDecision::Reject,
                } => assert_eq!(presented.consumed_at, Some(at(1))),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(winners, 1);
    });
}

#[tokio::test]
async fn rotate_with_duplicate_successor_changes_nothing_and_reuse_revokes_family() {
    let store = MemoryStore::new();
    let u = user(&store, "a@x.io").await;
    let first = refresh(u.id, 1);
    let other = refresh(u.id, 2);
    store.create_refresh(&first).await.unwrap();
    store.create_refresh(&other).await.unwrap();

    let clash = |t: &RefreshToken| {
        let mut next = t.clone();
        next.id = RefreshTokenId::new();
        next.token_hash = hash(2);
        RotationDecision::Rotate(next)
    };
    let err = store.rotate_refresh(&first.token_hash, at(1), &clash).await;
    assert!(matches!(err, Err(StoreError::Conflict { .. })), "{err:?}");

    let revoke = |_: &RefreshToken| RotationDecision::RevokeFamily;
    let out = store
        .rotate_refresh(&first.token_hash, at(2), &revoke)
        .await
        .unwrap();
    let RotationOutcome::Decided { presented, .. } = out else {
        panic!("decided")
    };
    assert_eq!(presented, first, "the failed rotation changed the row");
    assert_eq!(
        store.revoke_family(first.family_id, at(3)).await.unwrap(),
        0
    );
    assert_eq!(
        store.revoke_family(other.family_id, at(3)).await.unwrap(),
        1
    );

    let unknown = store
        .rotate_refresh(&hash(9), at(1), &revoke)
        .await
        .unwrap();
    assert_eq!(unknown, RotationOutcome::Unknown);
}

#[tokio::test]
async fn one_time_issue_replaces_and_consumes_once() {
    let store = MemoryStore::new();
    let u = user(&store, "a@x.io").await;
    let old = one_time(u.id, Purpose::PasswordReset, 1, 0);
    let magic = one_time(u.id, Purpose::MagicLink, 2, 0);
    store.issue_one_time(&old).await.unwrap();
    store.issue_one_time(&magic).await.unwrap();
    let new = one_time(u.id, Purpose::PasswordReset, 3, 1);
    store.issue_one_time(&new).await.unwrap();

    let gone = store
        .consume_one_time(&old.token_hash, Purpose::PasswordReset, at(2))
        .await;
    assert_eq!(gone.unwrap(), None, "replaced by the new request");
    let wrong = store
        .consume_one_time(&magic.token_hash, Purpose::PasswordReset, at(2))
        .await;
    assert_eq!(wrong.unwrap(), None, "another purpose");
    let used = store
        .consume_one_time(&new.token_hash, Purpose::PasswordReset, at(2))
        .await;
    assert_eq!(used.unwrap().unwrap().consumed_at, Some(at(2)));
    let again = store
        .consume_one_time(&new.token_hash, Purpose::PasswordReset, at(2))
        .await;
    assert_eq!(again.unwrap(), None, "single use");
    let magic_ok = store
        .consume_one_time(&magic.token_hash, Purpose::MagicLink, at(2))
        .await;
    assert!(magic_ok.unwrap().is_some());

    let unknown = one_time(UserId::new(), Purpose::MagicLink, 4, 0);
    let err = store.issue_one_time(&unknown).await;
    assert!(
        matches!(err, Err(StoreError::NotFound { what: Entity::User })),
        "{err:?}"
    );
}

#[tokio::test]
async fn otp_applies_the_rules_decision() {
    let store = MemoryStore::new();
    let u = user(&store, "a@x.io").await;
    let code = one_time(u.id, Purpose::EmailOtp, 1, 0);
    store.issue_one_time(&code).await.unwrap();
    let fail = |_: &OneTimeToken| OtpDecision::CountFailure;
    for seen in [0, 1, 2] {
        let r = store
            .attempt_otp(u.id, Purpose::EmailOtp, at(1), &fail)
            .await;
        match r.unwrap() {
            OtpOutcome::Decided { token, decision } => {
                assert_eq!(
                    (token.failed_attempts, decision),
                    (seen, OtpDecision::CountFailure)
                );
            }
            other => panic!("{other:?}"),
        }
    }
    let consume = |_: &OneTimeToken| OtpDecision::Consume;
    let r = store
        .attempt_otp(u.id, Purpose::MagicLink, at(1), &consume)
        .await;
    assert_eq!(r.unwrap(), OtpOutcome::NoCode);
    let r = store
        .attempt_otp(u.id, Purpose::EmailOtp, at(600), &consume)
        .await;
    assert_eq!(r.unwrap(), OtpOutcome::NoCode, "expired");
}

#[tokio::test]
async fn delete_user_cascades() {
    let store = MemoryStore::new();
    let u = user(&store, "a@x.io").await;
    let s = session(u.id, 1, 60, 3600);
    store.create_session(&s).await.unwrap();
    let r = refresh(u.id, 2);
    store.create_refresh(&r).await.unwrap();
    let o = one_time(u.id, Purpose::MagicLink, 3, 0);
    store.issue_one_time(&o).await.unwrap();
    let role = RbacItem {
        id: RbacItemId::new(),
        kind: SlugKind::Role,
        slug: "admin".to_owned(),
        label: "Admin".to_owned(),
    };
    store.define_item(&role).await.unwrap();
    store.assign_role(u.id, "admin").await.unwrap();

    assert!(store.delete_user(u.id).await.unwrap());
    assert_eq!(
        store
            .touch_session(&s.token_hash, at(1), policy(60))
            .await
            .unwrap(),
        None
    );
    let revoke = |_: &RefreshToken| RotationDecision::RevokeFamily;
    let out = store
        .rotate_refresh(&r.token_hash, at(1), &revoke)
        .await
        .unwrap();
    assert_eq!(out, RotationOutcome::Unknown);
    let c = store
        .consume_one_time(&o.token_hash, Purpose::MagicLink, at(1))
        .await;
    assert_eq!(c.unwrap(), None);
    assert!(store.user_grants(u.id).await.unwrap().roles.is_empty());
    assert!(store.list_api_keys(Some(u.id)).await.unwrap().is_empty());

    // The same rows can be written again for a new user: the indexes were cleaned too.
    let v = user(&store, "A@X.IO").await;
    let mut s2 = session(v.id, 1, 60, 3600);
    s2.id = s.id;
    store.create_session(&s2).await.unwrap();
}

#[tokio::test]
async fn rbac_unions_and_refuses_role_grants() {
    let store = MemoryStore::new();
    let u = user(&store, "a@x.io").await;
    let item = |kind, slug: &str| RbacItem {
        id: RbacItemId::new(),
        kind,
        slug: slug.to_owned(),
        label: slug.to_uppercase(),
    };
    for it in [
        item(SlugKind::Role, "editor"),
        item(SlugKind::Permission, "posts.write"),
        item(SlugKind::Permission, "posts.read"),
        item(SlugKind::Ability, "export"),
    ] {
        store.define_item(&it).await.unwrap();
    }
    assert!(
        store
            .grant_to_role("editor", GrantKind::Permission, "posts.write")
            .await
            .unwrap()
    );
    assert!(
        store
            .grant_to_role("editor", GrantKind::Permission, "posts.read")
            .await
            .unwrap()
    );
    assert!(
        !store
            .grant_to_role("editor", GrantKind::Permission, "posts.read")
            .await
            .unwrap()
    );
    assert!(store.assign_role(u.id, "editor").await.unwrap());
    assert!(
        store
            .grant_to_user(u.id, GrantKind::Permission, "posts.read")
            .await
            .unwrap()
    );
    assert!(
        store
            .grant_to_user(u.id, GrantKind::Ability, "export")
            .await
            .unwrap()
    );

    let g = store.user_grants(u.id).await.unwrap();
    assert_eq!(g.roles, vec!["editor"]);
    assert_eq!(g.permissions, vec!["posts.read", "posts.write"]);
    assert_eq!(g.abilities, vec!["export"]);

    let wanted = ["zeta", "posts.read", "alpha"].map(str::to_owned);
    let missing = store
        .missing_items(SlugKind::Permission, &wanted)
        .await
        .unwrap();
    assert_eq!(missing, vec!["zeta", "alpha"], "in the order given");

    assert!(
        store
            .remove_item(SlugKind::Permission, "posts.read")
            .await
            .unwrap()
    );
    let g = store.user_grants(u.id).await.unwrap();
    assert_eq!(g.permissions, vec!["posts.write"]);
    assert!(store.remove_item(SlugKind::Role, "editor").await.unwrap());
    assert!(store.user_grants(u.id).await.unwrap().roles.is_empty());
    let err = store.role_grants("editor").await;
    assert!(
        matches!(err, Err(StoreError::NotFound { what: Entity::Role })),
        "{err:?}"
    );
}

#[test]
fn creates_racing_delete_user_leave_no_orphans() {
    let store = Arc::new(MemoryStore::new());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let u = rt.block_on(user(&store, "a@x.io"));
    std::thread::scope(|scope| {
        for t in 0..3u32 {
            let store = store.clone();
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    for i in 0..300 {
                        let s = session(u.id, t * 1000 + i, 60, 3600);
                        match store.create_session(&s).await {
                            Ok(()) | Err(StoreError::NotFound { what: Entity::User }) => {}
                            Err(e) => panic!("{e:?}"),
                        }
                        let r = refresh(u.id, 10_000 + t * 1000 + i);
                        match store.create_refresh(&r).await {
                            Ok(()) | Err(StoreError::NotFound { what: Entity::User }) => {}
                            Err(e) => panic!("{e:?}"),
                        }
                        store
                            .touch_session(&s.token_hash, at(1), policy(60))
                            .await
                            .unwrap();
                    }
                });
            });
        }
        let store = store.clone();
        scope.spawn(move || {
            std::thread::yield_now();
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            assert!(rt.block_on(store.delete_user(u.id)).unwrap());
        });
    });
    rt.block_on(async {
        assert_eq!(
            store.revoke_user_sessions(u.id, None).await.unwrap(),
            0,
            "orphan sessions"
        );
        assert_eq!(
            store.revoke_user_refresh(u.id, at(2)).await.unwrap(),
            0,
            "orphan tokens"
        );
    });
}
