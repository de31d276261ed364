//! `session.cache_ttl`: authentication answered from memory for that long, never past a
//! revocation made through the same `Auth`, never past a deadline.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use authkit::{Auth, Config, Error, ManualClock, SigningKey, Stores, UserId};
use authkit_memory::MemoryStore;
use time::Duration;
use time::macros::datetime;

struct Rig {
    auth: Auth,
    stores: Stores,
    clock: Arc<ManualClock>,
    user: UserId,
}

async fn rig(cache_ttl: Duration) -> Rig {
    let clock = Arc::new(ManualClock::new(datetime!(2030-01-01 00:00 UTC)));
    let mut config = Config::new("https://auth.test", SigningKey::new([3; 32]));
    config.session.cache_ttl = cache_ttl;
    config.session.idle_ttl = Duration::minutes(10);
    // No slide is ever due: a session dies 10 minutes after issue.
    config.session.touch_step = Duration::minutes(10);
    let stores = Stores::from_backend(MemoryStore::default());
    let auth = Auth::builder(stores.clone(), config)
        .clock(clock.clone())
        .build()
        .unwrap();
    let user = auth.create_user("ada@example.com").await.unwrap().id;
    Rig {
        auth,
        stores,
        clock,
        user,
    }
}

fn invalid(result: Result<authkit::Session, Error>) -> bool {
    matches!(result, Err(Error::SessionInvalid))
}

#[tokio::test]
async fn without_a_cache_a_revocation_elsewhere_counts_at_once() {
    let rig = rig(Duration::ZERO).await;
    let issued = rig.auth.issue_session(rig.user).await.unwrap();
    let secret = issued.secret.expose();
    rig.auth.authenticate_session(secret).await.unwrap();
    // Another instance (or the CLI) revokes it in the shared store.
    rig.stores
        .sessions
        .revoke_session(issued.session.id)
        .await
        .unwrap();
    assert!(invalid(rig.auth.authenticate_session(secret).await));
}

#[tokio::test]
async fn a_revocation_elsewhere_counts_after_the_ttl() {
    let rig = rig(Duration::seconds(5)).await;
    let issued = rig.auth.issue_session(rig.user).await.unwrap();
    let secret = issued.secret.expose();
    rig.auth.authenticate_session(secret).await.unwrap();
    rig.stores
        .sessions
        .revoke_session(issued.session.id)
        .await
        .unwrap();
    rig.clock.advance(Duration::seconds(4));
    let cached = rig.auth.authenticate_session(secret).await;
    assert!(cached.is_ok(), "the cache did not answer: {cached:?}");
    rig.clock.advance(Duration::seconds(1));
    assert!(invalid(rig.auth.authenticate_session(secret).await));
}

#[tokio::test]
async fn revocations_through_auth_count_at_once() {
    let rig = rig(Duration::seconds(30)).await;
    let a = rig.auth.issue_session(rig.user).await.unwrap();
    let b = rig.auth.issue_session(rig.user).await.unwrap();
    let c = rig.auth.issue_session(rig.user).await.unwrap();
    for s in [&a, &b, &c] {
        rig.auth
            .authenticate_session(s.secret.expose())
            .await
            .unwrap();
    }
    rig.auth.revoke_session(a.session.id).await.unwrap();
    assert!(invalid(
        rig.auth.authenticate_session(a.secret.expose()).await
    ));
    rig.auth
        .revoke_other_sessions(rig.user, Some(c.session.id))
        .await
        .unwrap();
    assert!(invalid(
        rig.auth.authenticate_session(b.secret.expose()).await
    ));
    rig.auth
        .authenticate_session(c.secret.expose())
        .await
        .unwrap();
    rig.auth.delete_user(rig.user).await.unwrap();
    assert!(invalid(
        rig.auth.authenticate_session(c.secret.expose()).await
    ));
}

#[tokio::test]
async fn a_password_reset_ends_cached_sessions() {
    let rig = rig(Duration::seconds(30)).await;
    let issued = rig.auth.issue_session(rig.user).await.unwrap();
    rig.auth
        .authenticate_session(issued.secret.expose())
        .await
        .unwrap();
    let reset = rig
        .auth
        .request_password_reset("ada@example.com")
        .await
        .unwrap()
        .unwrap();
    rig.auth
        .reset_password(reset.secret.expose(), "a long new password")
        .await
        .unwrap();
    assert!(invalid(
        rig.auth.authenticate_session(issued.secret.expose()).await
    ));
}

#[tokio::test]
async fn a_cached_session_dies_at_its_deadline() {
    let rig = rig(Duration::seconds(60)).await;
    let issued = rig.auth.issue_session(rig.user).await.unwrap();
    let secret = issued.secret.expose();
    rig.clock
        .advance(Duration::minutes(9) + Duration::seconds(30));
    // Cached with its idle deadline slid to 19:30 from now's read.
    let seen = rig.auth.authenticate_session(secret).await.unwrap();
    rig.clock.set(seen.idle_expires_at);
    assert!(invalid(rig.auth.authenticate_session(secret).await));
}
