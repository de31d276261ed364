//! [`UserStore::delete_user`](authkit::UserStore::delete_user) takes everything of the
//! user with it, across every store, and nothing of anyone else.

use authkit::{
    ApiKey, GrantKind, OneTimeToken, OtpDecision, OtpOutcome, Purpose, RefreshToken,
    RotationOutcome, Session, SlugKind, StoreError, Stores, User, UserGrants,
};

use crate::StoreFactory;
use crate::fixtures::{
    BASE, api_key, at, canonical, create_user, item, one_time, peek_refresh, policy, refresh, secs,
    session, together,
};

struct Owned {
    user: User,
    session: Session,
    refresh: RefreshToken,
    link: OneTimeToken,
    otp: OneTimeToken,
    key: ApiKey,
}

async fn populate(stores: &Stores) -> Owned {
    let user = create_user(stores).await;
    let session = session(user.id, BASE, secs(600), secs(3600));
    stores
        .sessions
        .create_session(&session)
        .await
        .expect("create_session");
    let refresh = refresh(user.id, BASE, secs(3600));
    stores
        .tokens
        .create_refresh(&refresh)
        .await
        .expect("create_refresh");
    let link = one_time(user.id, Purpose::MagicLink, BASE, secs(600));
    stores
        .tokens
        .issue_one_time(&link)
        .await
        .expect("issue_one_time");
    let otp = one_time(user.id, Purpose::EmailOtp, BASE, secs(600));
    stores
        .tokens
        .issue_one_time(&otp)
        .await
        .expect("issue_one_time");
    let key = api_key(Some(user.id), BASE);
    stores
        .api_keys
        .create_api_key(&key)
        .await
        .expect("create_api_key");
    stores
        .rbac
        .assign_role(user.id, "member")
        .await
        .expect("assign_role");
    stores
        .rbac
        .grant_to_user(user.id, GrantKind::Permission, "posts.write")
        .await
        .expect("grant_to_user");
    Owned {
        user,
        session,
        refresh,
        link,
        otp,
        key,
    }
}

/// After `delete_user`, none of the user's sessions, refresh tokens, one-time tokens,
/// OTP codes, API keys, role assignments or direct grants is found by any method, and
/// another user's identical set, the service keys and the RBAC items are untouched.
pub async fn delete_user_removes_everything<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    stores
        .rbac
        .define_item(&item(SlugKind::Role, "member"))
        .await
        .expect("define_item");
    stores
        .rbac
        .define_item(&item(SlugKind::Permission, "posts.write"))
        .await
        .expect("define_item");
    stores
        .rbac
        .grant_to_role("member", GrantKind::Permission, "posts.write")
        .await
        .expect("grant_to_role");
    let service = api_key(None, BASE);
    stores
        .api_keys
        .create_api_key(&service)
        .await
        .expect("create_api_key");
    let gone = populate(&stores).await;
    let kept = populate(&stores).await;
    let kept_refresh = peek_refresh(&stores, &kept.refresh.token_hash).await;

    assert!(
        stores
            .users
            .delete_user(gone.user.id)
            .await
            .expect("delete_user"),
        "delete_user"
    );
    let now = at(1);
    let id = gone.user.id;

    assert_eq!(
        stores.users.user_by_id(id).await.expect("user_by_id"),
        None,
        "delete_user must remove the user: user_by_id"
    );
    let touched = stores
        .sessions
        .touch_session(&gone.session.token_hash, now, policy(600, 0))
        .await
        .expect("touch_session");
    assert_eq!(
        touched, None,
        "delete_user must remove the user's sessions: touch_session"
    );
    assert_eq!(
        stores
            .sessions
            .session_by_id(gone.session.id, now)
            .await
            .expect("session_by_id"),
        None,
        "delete_user must remove the user's sessions: session_by_id"
    );
    assert!(
        canonical(
            stores
                .sessions
                .list_user_sessions(id, now)
                .await
                .expect("list_user_sessions")
        )
        .is_empty(),
        "delete_user must remove the user's sessions: list_user_sessions"
    );
    assert_eq!(
        stores
            .sessions
            .revoke_user_sessions(id, None)
            .await
            .expect("revoke_user_sessions"),
        0,
        "delete_user must remove the user's sessions: revoke_user_sessions finds none"
    );

    let rotated = stores
        .tokens
        .rotate_refresh(&gone.refresh.token_hash, now, &|_| {
            panic!("rule called for a deleted user's token")
        })
        .await
        .expect("rotate_refresh");
    assert_eq!(
        rotated,
        RotationOutcome::Unknown,
        "delete_user must remove the user's refresh tokens: rotate_refresh is Unknown"
    );
    assert_eq!(
        stores
            .tokens
            .revoke_user_refresh(id, now)
            .await
            .expect("revoke_user_refresh"),
        0,
        "delete_user must remove the user's refresh tokens: revoke_user_refresh finds none"
    );
    assert_eq!(
        stores
            .tokens
            .revoke_family(gone.refresh.family_id, now)
            .await
            .expect("revoke_family"),
        0,
        "delete_user must remove the user's refresh tokens: revoke_family finds none"
    );
    let consumed = stores
        .tokens
        .consume_one_time(&gone.link.token_hash, Purpose::MagicLink, now)
        .await
        .expect("consume_one_time");
    assert_eq!(
        consumed, None,
        "delete_user must remove the user's one-time tokens: consume_one_time"
    );
    let consumed = stores
        .tokens
        .consume_one_time(&gone.otp.token_hash, Purpose::EmailOtp, now)
        .await
        .expect("consume_one_time");
    assert_eq!(
        consumed, None,
        "delete_user must remove the user's OTP codes: consume_one_time"
    );
    let otp = stores
        .tokens
        .attempt_otp(id, Purpose::EmailOtp, now, &|_| OtpDecision::Consume)
        .await
        .expect("attempt_otp");
    assert_eq!(
        otp,
        OtpOutcome::NoCode,
        "delete_user must remove the user's OTP codes: attempt_otp is NoCode"
    );

    assert_eq!(
        stores
            .api_keys
            .api_key_by_hash(&gone.key.key_hash)
            .await
            .expect("api_key_by_hash"),
        None,
        "delete_user must remove the user's API keys: api_key_by_hash"
    );
    assert_eq!(
        stores
            .api_keys
            .api_key_by_id(gone.key.id)
            .await
            .expect("api_key_by_id"),
        None,
        "delete_user must remove the user's API keys: api_key_by_id"
    );
    assert!(
        canonical(
            stores
                .api_keys
                .list_api_keys(Some(id))
                .await
                .expect("list_api_keys")
        )
        .is_empty(),
        "delete_user must remove the user's API keys: list_api_keys"
    );

    assert_eq!(
        canonical(stores.rbac.user_grants(id).await.expect("user_grants")),
        UserGrants::default(),
        "delete_user must remove the user's role assignments and grants: user_grants"
    );
    assert!(
        !stores
            .rbac
            .unassign_role(id, "member")
            .await
            .expect("unassign_role"),
        "delete_user must remove the user's role assignments: unassign_role finds none"
    );
    assert!(
        !stores
            .rbac
            .revoke_from_user(id, GrantKind::Permission, "posts.write")
            .await
            .expect("revoke_from_user"),
        "delete_user must remove the user's direct grants: revoke_from_user finds none"
    );

    // Everything else is untouched.
    assert_eq!(
        stores
            .users
            .user_by_id(kept.user.id)
            .await
            .expect("user_by_id"),
        Some(kept.user.clone()),
        "delete_user must not touch another user"
    );
    let s = stores
        .sessions
        .session_by_id(kept.session.id, now)
        .await
        .expect("session_by_id");
    assert_eq!(
        s,
        Some(kept.session.clone()),
        "delete_user must not touch another user's session"
    );
    assert_eq!(
        peek_refresh(&stores, &kept.refresh.token_hash).await,
        kept_refresh,
        "delete_user must not touch another user's refresh token"
    );
    assert_eq!(
        stores
            .api_keys
            .api_key_by_id(kept.key.id)
            .await
            .expect("api_key_by_id"),
        Some(kept.key.clone()),
        "delete_user must not touch another user's API key"
    );
    assert_eq!(
        stores
            .api_keys
            .api_key_by_id(service.id)
            .await
            .expect("api_key_by_id"),
        Some(service),
        "delete_user must not touch service keys"
    );
    let grants = canonical(
        stores
            .rbac
            .user_grants(kept.user.id)
            .await
            .expect("user_grants"),
    );
    assert_eq!(
        grants.roles,
        vec!["member".to_owned()],
        "delete_user must not touch another user's role assignment"
    );
    assert_eq!(
        grants.permissions,
        vec!["posts.write".to_owned()],
        "delete_user must not touch another user's permissions through the role"
    );
    assert_eq!(
        canonical(
            stores
                .rbac
                .role_grants("member")
                .await
                .expect("role_grants")
        ),
        vec![item(SlugKind::Permission, "posts.write")],
        "delete_user must not touch the role itself"
    );
    let consumed = stores
        .tokens
        .consume_one_time(&kept.link.token_hash, Purpose::MagicLink, now)
        .await
        .expect("consume_one_time");
    assert!(
        consumed.is_some(),
        "delete_user must not touch another user's one-time token"
    );
    let otp = stores
        .tokens
        .attempt_otp(kept.user.id, Purpose::EmailOtp, now, &|_| {
            OtpDecision::Consume
        })
        .await
        .expect("attempt_otp");
    assert!(
        matches!(&otp, OtpOutcome::Decided { token, .. } if token.id == kept.otp.id),
        "delete_user must not touch another user's OTP code: {otp:?}"
    );
}

/// `delete_user` racing 32 `create_session` calls for the same user (spread over the
/// deletion): the user and everything of it go in one step, so once all are done no
/// session of the user is left. Each create either failed with `NotFound` or its session
/// went with the user.
pub async fn delete_user_races_creates<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let user = create_user(&stores).await;
    let sessions: Vec<Session> = (0..32)
        .map(|_| session(user.id, BASE, secs(600), secs(3600)))
        .collect();
    let outcomes = together(sessions.len() + 1, |i| {
        let stores = stores.clone();
        let sessions = sessions.clone();
        async move {
            if i == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                let deleted = stores
                    .users
                    .delete_user(user.id)
                    .await
                    .expect("delete_user");
                (Some(deleted), None)
            } else {
                tokio::time::sleep(std::time::Duration::from_millis(i as u64)).await;
                let created = stores.sessions.create_session(&sessions[i - 1]).await;
                (None, Some(created))
            }
        }
    })
    .await;

    assert_eq!(
        outcomes[0].0,
        Some(true),
        "delete_user of a user being given sessions returns true"
    );
    for (i, (_, created)) in outcomes.iter().enumerate().skip(1) {
        match created.as_ref().expect("a create's outcome") {
            Ok(()) | Err(StoreError::NotFound { .. }) => {}
            Err(err) => panic!("create_session {i} racing delete_user: unexpected {err:?}"),
        }
        let touched = stores
            .sessions
            .touch_session(&sessions[i - 1].token_hash, at(1), policy(600, 0))
            .await
            .expect("touch_session");
        assert_eq!(
            touched, None,
            "create_session {i} raced delete_user and its session outlived the user: the \
             cascade and the deletion must be one step"
        );
    }
    let listed = canonical(
        stores
            .sessions
            .list_user_sessions(user.id, at(1))
            .await
            .expect("list_user_sessions"),
    );
    assert!(
        listed.is_empty(),
        "list_user_sessions after delete_user raced create_session: {} sessions left",
        listed.len()
    );
}
