//! Backend-for-frontend session flows of [`authkit::Auth`] end to end: upstream tokens
//! sealed in the session row, bound to the session, under rotating payload keys.

use std::sync::Arc;

use authkit::{
    Auth, Config, Error, IssuedSession, ManualClock, PayloadKey, SessionId, UpstreamTokens,
};

use super::flows::{auth_over, auth_with, test_config};
use crate::StoreFactory;

const ACCESS: &str = "upstream-access-token-0123456789";
const REFRESH: &str = "upstream-refresh-token-9876543210";
const DPOP: &str = "{\"kty\":\"EC\",\"d\":\"private-dpop-key\"}";

/// The flow config with payload keys of these ids (the key bytes are the id repeated).
fn bff_config(ids: &[u8]) -> Config {
    let mut config = test_config();
    config.payload_keys = ids
        .iter()
        .map(|&id| PayloadKey::new(id, &[id; 32]).expect("32 bytes"))
        .collect();
    config
}

fn upstream(access: &str) -> UpstreamTokens {
    let mut tokens = UpstreamTokens::new(access);
    tokens.refresh_token = Some(REFRESH.into());
    tokens.dpop_key_pair = Some(DPOP.into());
    tokens
}

/// The sealed payload as stored in the session row.
async fn stored_payload(auth: &Auth, id: SessionId) -> Vec<u8> {
    let session = auth.stores().sessions.session_by_id(id, auth.now()).await;
    let session = session.expect("read").expect("live session");
    session.payload.expect("a payload")
}

/// The upstream tokens of the session behind `issued`, as `auth` opens them.
async fn open(auth: &Auth, issued: &IssuedSession) -> authkit::Result<UpstreamTokens> {
    let session = auth
        .authenticate_session(issued.secret.expose())
        .await
        .expect("live session");
    auth.upstream_tokens(&session)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Upstream tokens round-trip through the session, and are never stored in plaintext.
pub async fn bff_session_round_trips<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, bff_config(&[1])).await;
    let user = auth.create_user("bo@example.com").await.expect("create");
    let issued = auth
        .issue_bff_session(user.id, &upstream(ACCESS))
        .await
        .expect("issue");
    assert_eq!(
        open(&auth, &issued).await.expect("open"),
        upstream(ACCESS),
        "issue_bff_session then the session's upstream tokens: they round-trip"
    );
    let payload = stored_payload(&auth, issued.session.id).await;
    assert_eq!(
        payload[1], 1,
        "issue_bff_session seals the payload with key 1 (its id in byte 1)"
    );
    for plain in [ACCESS, REFRESH, DPOP, "private-dpop-key"] {
        assert!(
            !contains(&payload, plain),
            "issue_bff_session must not store the upstream token {plain:?} in plaintext"
        );
    }
    let renewed = upstream("renewed-upstream-access-token");
    auth.set_upstream_tokens(issued.session.id, &renewed)
        .await
        .expect("set");
    assert_eq!(
        open(&auth, &issued).await.expect("open"),
        renewed,
        "set_upstream_tokens replaces the tokens the session opens to"
    );
    let bare = UpstreamTokens::new(ACCESS);
    auth.set_upstream_tokens(issued.session.id, &bare)
        .await
        .expect("set");
    assert_eq!(
        open(&auth, &issued).await.expect("open"),
        bare,
        "set_upstream_tokens with only an access token round-trips"
    );
}

/// A payload copied onto another session, or altered, does not decrypt.
pub async fn payload_bound_to_session<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, bff_config(&[1])).await;
    let user = auth.create_user("cy@example.com").await.expect("create");
    let a = auth
        .issue_bff_session(user.id, &upstream(ACCESS))
        .await
        .expect("a");
    let b = auth.issue_session(user.id).await.expect("b");
    let sessions = &auth.stores().sessions;
    let payload = stored_payload(&auth, a.session.id).await;
    sessions
        .set_session_payload(b.session.id, Some(&payload), auth.now())
        .await
        .expect("copy");
    let r = open(&auth, &b).await;
    assert!(
        matches!(r, Err(Error::PayloadUndecryptable)),
        "upstream_tokens of a payload copied from another session: expected Error::PayloadUndecryptable, got {r:?}"
    );

    let mut tampered = payload.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let truncated = &payload[..10];
    let bad: [&[u8]; 4] = [&tampered, truncated, &[], &[9, 1]];
    for bad in bad {
        sessions
            .set_session_payload(a.session.id, Some(bad), auth.now())
            .await
            .expect("overwrite");
        let r = open(&auth, &a).await;
        assert!(
            matches!(r, Err(Error::PayloadUndecryptable)),
            "upstream_tokens of a payload {bad:?}: expected Error::PayloadUndecryptable, got {r:?}"
        );
    }
}

/// Keys rotate: old keys open what they sealed, the newest seals, and a dropped key's
/// payloads no longer open.
pub async fn payload_keys_rotate<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let clock = Arc::new(ManualClock::new(crate::fixtures::BASE));
    let v1 = auth_over(stores.clone(), bff_config(&[1]), clock.clone(), 1);
    let user = v1.create_user("di@example.com").await.expect("create");
    let old = v1
        .issue_bff_session(user.id, &upstream(ACCESS))
        .await
        .expect("old");
    let resealed = v1
        .issue_bff_session(user.id, &upstream(ACCESS))
        .await
        .expect("resealed");

    let v12 = auth_over(stores.clone(), bff_config(&[1, 2]), clock.clone(), 2);
    assert_eq!(
        open(&v12, &old).await.expect("old key opens"),
        upstream(ACCESS),
        "a payload sealed with key 1 still opens once key 2 is added"
    );
    let renewed = upstream("access-after-rotation");
    v12.set_upstream_tokens(resealed.session.id, &renewed)
        .await
        .expect("reseal");
    assert_eq!(
        stored_payload(&v12, resealed.session.id).await[1],
        2,
        "set_upstream_tokens reseals with the newest key (2)"
    );
    let new = v12
        .issue_bff_session(user.id, &upstream(ACCESS))
        .await
        .expect("new");
    assert_eq!(
        stored_payload(&v12, new.session.id).await[1],
        2,
        "issue_bff_session seals with the newest key (2)"
    );

    let v2 = auth_over(stores, bff_config(&[2]), clock, 3);
    assert_eq!(
        open(&v2, &resealed).await.expect("resealed"),
        renewed,
        "a payload resealed with key 2 opens once key 1 is retired"
    );
    assert_eq!(
        open(&v2, &new).await.expect("new"),
        upstream(ACCESS),
        "a payload sealed with key 2 opens once key 1 is retired"
    );
    let r = open(&v2, &old).await;
    assert!(
        matches!(r, Err(Error::PayloadUndecryptable)),
        "upstream_tokens: expected Error::PayloadUndecryptable, got {r:?}"
    );
}

/// Wrong key lengths, missing keys and sessions without payload get their own errors.
pub async fn payload_key_errors<F: StoreFactory>(factory: &F) {
    for len in [0, 16, 31, 33, 64] {
        let r = PayloadKey::new(1, &vec![7u8; len]);
        assert!(
            matches!(r, Err(Error::InvalidKeyLength { expected: 32, got }) if got == len),
            "PayloadKey::new of {len} bytes: expected Error::InvalidKeyLength, got {r:?}"
        );
    }
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("el@example.com").await.expect("create");
    let r = auth.issue_bff_session(user.id, &upstream(ACCESS)).await;
    assert!(
        matches!(r, Err(Error::InvalidInput(_))),
        "issue_bff_session: expected Error::InvalidInput, got {r:?}"
    );
    assert!(
        auth.list_sessions(user.id).await.expect("list").is_empty(),
        "issue_bff_session refused (no payload key) must store no session"
    );
    let plain = auth.issue_session(user.id).await.expect("session");
    let r = open(&auth, &plain).await;
    assert!(
        matches!(r, Err(Error::NoPayload)),
        "upstream_tokens: expected Error::NoPayload, got {r:?}"
    );
    let r = auth
        .set_upstream_tokens(plain.session.id, &upstream(ACCESS))
        .await;
    assert!(
        matches!(r, Err(Error::InvalidInput(_))),
        "set_upstream_tokens: expected Error::InvalidInput, got {r:?}"
    );

    let (auth, _) = auth_with(factory, bff_config(&[1])).await;
    let user = auth.create_user("el@example.com").await.expect("create");
    let r = auth
        .issue_bff_session(authkit::UserId::new(), &upstream(ACCESS))
        .await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "issue_bff_session: expected Error::UserNotFound, got {r:?}"
    );
    let issued = auth
        .issue_bff_session(user.id, &upstream(ACCESS))
        .await
        .expect("issue");
    auth.revoke_session(issued.session.id)
        .await
        .expect("revoke");
    let r = auth
        .set_upstream_tokens(issued.session.id, &upstream(ACCESS))
        .await;
    assert!(
        matches!(r, Err(Error::SessionInvalid)),
        "set_upstream_tokens: expected Error::SessionInvalid, got {r:?}"
    );

    let stores = factory.stores().await;
    let r = Auth::builder(stores, bff_config(&[3, 3])).build();
    assert!(
        matches!(r, Err(Error::InvalidConfig(_))),
        "builder with two payload keys of one id: expected Error::InvalidConfig, got {r:?}"
    );
}
