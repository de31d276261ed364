//! API-key verification and authorization beyond scopes: per-key rate limits that hold
//! across servers, environment restriction, the user agent of a use, roles on keys,
//! delegation of the owner's rights and impersonation behind a permission.

use std::sync::Arc;

use authkit::{
    ApiKeyUpdate, Auth, Config, Environment, Error, GrantKind, IssuedApiKey, KeyRequest, KeyType,
    ManualClock, NewApiKey, Predicate, RateLimit, SlugKind, Subject, UserId,
};
use time::Duration;

use super::audit_flows::Recorder;
use super::flows::{auth_with, test_config};
use crate::StoreFactory;
use crate::fixtures::{BASE, together};

/// The permission that lets an owner's keys act for other users, in these cases.
const IMPERSONATE: &str = "users:impersonate";

fn config() -> Config {
    let mut config = test_config();
    config.api_keys.impersonation_permission = Some(IMPERSONATE.into());
    config
}

fn live_key(owner: Option<UserId>) -> NewApiKey {
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, owner, "k");
    new.scopes = Some(Vec::new());
    new
}

fn limited(owner: UserId, requests: u32, window: Duration) -> NewApiKey {
    let mut new = live_key(Some(owner));
    new.rate_limit = Some(RateLimit::new(requests, window));
    new
}

async fn create(auth: &Auth, new: NewApiKey) -> IssuedApiKey {
    auth.create_api_key(new).await.expect("create_api_key")
}

/// N concurrent verifications of a key limited to K, split over two servers sharing the
/// database: exactly K pass, the rest are `RateLimited` with a retry within the window,
/// one `key_rate_limited` event per window; the next window lets K through again.
pub async fn rate_limit_holds_across_servers<F: StoreFactory>(factory: &F) {
    const K: u32 = 5;
    const N: usize = 24;
    let (a, b) = factory.two_handles().await;
    let clock = Arc::new(ManualClock::new(BASE));
    let names = Arc::new(Recorder::default());
    let server = |stores, seed| {
        Auth::builder(stores, config())
            .clock(clock.clone())
            .randomness(Arc::new(authkit::SeededRandomness::new(seed)))
            .audit_sink(names.clone())
            .build()
            .expect("config")
    };
    let servers = Arc::new([server(a, 1), server(b, 2)]);
    let owner = servers[0]
        .create_user("kim@example.com")
        .await
        .expect("user");
    let key = create(&servers[0], limited(owner.id, K, Duration::minutes(1))).await;

    for round in 0..2 {
        let results = together(N, |i| {
            let (servers, plain) = (servers.clone(), key.secret.expose().to_owned());
            async move { servers[i % 2].verify_api_key(&plain, None, None).await }
        })
        .await;
        let passed = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            passed, K as usize,
            "round {round}: {N} concurrent verifications over two servers of a key limited to {K}: exactly {K} pass"
        );
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            match refused {
                Error::RateLimited { retry_after } => assert!(
                    *retry_after >= Duration::SECOND && *retry_after <= Duration::minutes(1),
                    "RateLimited: retry_after within the window, got {retry_after}"
                ),
                other => panic!("round {round}: over the limit must be RateLimited, got {other:?}"),
            }
        }
        let limited = names.take_names();
        assert_eq!(
            limited.iter().filter(|n| **n == "key_rate_limited").count(),
            1,
            "key_rate_limited: one event per window over both servers, at the first refusal"
        );
        clock.advance(Duration::minutes(1));
    }
}

/// `retry_after` is the time left in the window, rounded up to whole seconds.
pub async fn rate_limit_retry_after<F: StoreFactory>(factory: &F) {
    let (auth, clock) = auth_with(factory, config()).await;
    let owner = auth.create_user("rio@example.com").await.expect("user");
    let key = create(&auth, limited(owner.id, 1, Duration::seconds(30))).await;
    let verify = || auth.verify_api_key(key.secret.expose(), None, None);
    verify().await.expect("first verification in the window");
    clock.advance(Duration::milliseconds(10_500));
    let refused = verify().await;
    assert!(
        matches!(refused, Err(Error::RateLimited { retry_after }) if retry_after == Duration::seconds(20)),
        "RateLimited 10.5 s into a 30 s window: retry after 20 s (19.5 rounded up), got {refused:?}"
    );
    assert_eq!(
        refused.map(|_| ()).unwrap_err().kind(),
        authkit::ErrorKind::RateLimited,
        "RateLimited is of kind RateLimited"
    );
    clock.advance(Duration::milliseconds(19_500));
    verify()
        .await
        .expect("a new window starts when the last one ends");
}

/// Limits outside 1..=10,000 requests per 1 s..=1 day of whole seconds are refused and
/// store nothing; `update_api_key` sets, checks and removes a limit.
pub async fn rate_limit_bounds<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, config()).await;
    let owner = auth.create_user("ray@example.com").await.expect("user");
    let bad = [
        (0, Duration::minutes(1)),
        (10_001, Duration::minutes(1)),
        (10, Duration::ZERO),
        (10, Duration::milliseconds(1500)),
        (10, Duration::days(1) + Duration::SECOND),
    ];
    for (requests, window) in bad {
        let refused = auth
            .create_api_key(limited(owner.id, requests, window))
            .await;
        assert!(
            matches!(refused, Err(Error::InvalidInput(_))),
            "create_api_key with {requests} per {window}: InvalidInput, got {refused:?}"
        );
    }
    let keys = auth.list_api_keys(Some(owner.id)).await.expect("list");
    assert!(keys.is_empty(), "a refused key stores nothing: {keys:?}");

    let key = create(&auth, limited(owner.id, 10_000, Duration::days(1))).await;
    let refused = auth
        .update_api_key(
            key.key.id,
            ApiKeyUpdate::default().rate_limit(Some(RateLimit::new(0, Duration::SECOND))),
        )
        .await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "update_api_key with a limit of 0: InvalidInput, got {refused:?}"
    );
    let lifted = auth
        .update_api_key(key.key.id, ApiKeyUpdate::default().rate_limit(None))
        .await
        .expect("remove the limit");
    assert_eq!(lifted.rate_limit, None, "update_api_key removes the limit");
    for _ in 0..3 {
        auth.verify_api_key(key.secret.expose(), None, None)
            .await
            .expect("a key without a limit is never rate limited");
    }
}

/// A request may require an environment: a key of the other one is refused with
/// `ApiKeyWrongEnvironment` before any store lookup; without the requirement both pass.
pub async fn environment_restriction<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, config()).await;
    let owner = auth.create_user("eve@example.com").await.expect("user");
    let live = create(&auth, live_key(Some(owner.id))).await;
    let mut test = live_key(Some(owner.id));
    test.environment = Environment::Test;
    let test = create(&auth, test).await;

    let live_only = KeyRequest::new().environment(Environment::Live);
    let refused = auth
        .verify_api_key_for(test.secret.expose(), &live_only)
        .await;
    assert!(
        matches!(refused, Err(Error::ApiKeyWrongEnvironment)),
        "a sk_test_ key where live keys are required: ApiKeyWrongEnvironment, got {refused:?}"
    );
    auth.verify_api_key_for(live.secret.expose(), &live_only)
        .await
        .expect("a live key where live keys are required");
    let test_only = KeyRequest::new().environment(Environment::Test);
    let refused = auth
        .verify_api_key_for(live.secret.expose(), &test_only)
        .await;
    assert!(
        matches!(refused, Err(Error::ApiKeyWrongEnvironment)),
        "a live key where test keys are required: ApiKeyWrongEnvironment, got {refused:?}"
    );
    for key in [&live, &test] {
        auth.verify_api_key_for(key.secret.expose(), &KeyRequest::new())
            .await
            .expect("no environment required: any key");
    }
}

/// The user agent of a verification is recorded with the use, cut to 256 bytes at a
/// character boundary.
pub async fn user_agent_recorded<F: StoreFactory>(factory: &F) {
    let (auth, clock) = auth_with(factory, config()).await;
    let owner = auth.create_user("uma@example.com").await.expect("user");
    let key = create(&auth, live_key(Some(owner.id))).await;
    let long = "é".repeat(200);
    for agent in ["curl/8.5.0", long.as_str()] {
        let request = KeyRequest::new().user_agent(agent);
        auth.verify_api_key_for(key.secret.expose(), &request)
            .await
            .expect("verify");
        auth.flush_key_usage().await.expect("flush");
        let stored = auth.api_key(key.key.id).await.expect("read");
        let expected = if agent.len() > 256 {
            &agent[..256]
        } else {
            agent
        };
        assert_eq!(
            stored.last_used_user_agent.as_deref(),
            Some(expected),
            "verify_api_key_for records the user agent (at most 256 bytes)"
        );
        clock.advance(Duration::SECOND);
    }
}

/// Defines `viewer` (grants `docs:read`), the permissions `docs:read`, `docs:write`
/// and [`IMPERSONATE`].
async fn define(auth: &Auth) {
    auth.define(SlugKind::Role, "viewer", "Viewer")
        .await
        .expect("define");
    for slug in ["docs:read", "docs:write", IMPERSONATE] {
        auth.define(SlugKind::Permission, slug, slug)
            .await
            .expect("define");
    }
    auth.grant_to_role("viewer", GrantKind::Permission, "docs:read")
        .await
        .expect("grant");
}

/// A key holds its roles' grants; a delegating key also holds its owner's rights,
/// evaluated live; roles survive rotation; predicates see all of it.
pub async fn key_roles_and_delegation<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, config()).await;
    define(&auth).await;
    let owner = auth.create_user("del@example.com").await.expect("user");
    let read = auth
        .check_predicate(Predicate::has_permission("docs:read"))
        .await
        .expect("predicate");
    let write = auth
        .check_predicate(Predicate::has_permission("docs:write"))
        .await
        .expect("predicate");

    let mut with_role = live_key(Some(owner.id));
    with_role.roles = vec!["viewer".into()];
    let with_role = create(&auth, with_role).await;
    let allowed = |key, p| {
        let auth = &auth;
        async move {
            auth.is_allowed(Subject::Key(key), p)
                .await
                .expect("is_allowed")
        }
    };
    assert!(
        allowed(&with_role.key, &read).await,
        "a key holds its role's permission"
    );
    assert!(!allowed(&with_role.key, &write).await, "and nothing else");

    let mut unknown_role = live_key(Some(owner.id));
    unknown_role.roles = vec!["ghost".into()];
    let refused = auth.create_api_key(unknown_role).await;
    assert!(
        matches!(refused, Err(Error::UnknownSlug { .. })),
        "create_api_key with an unknown role: UnknownSlug, got {refused:?}"
    );

    let mut delegating = live_key(Some(owner.id));
    delegating.acts_for = Some(owner.id);
    let delegating = create(&auth, delegating).await;
    assert_eq!(
        auth.key_acts_for(&delegating.key).await.expect("acts_for"),
        Some(owner.id),
        "a delegating key acts for its owner"
    );
    assert!(
        !allowed(&delegating.key, &write).await,
        "the owner holds nothing yet"
    );
    auth.grant_to_user(owner.id, GrantKind::Permission, "docs:write")
        .await
        .expect("grant");
    assert!(
        allowed(&delegating.key, &write).await,
        "a delegating key holds what its owner holds now"
    );
    assert!(
        !allowed(&with_role.key, &write).await,
        "a key that does not delegate holds none of its owner's rights"
    );
    auth.revoke_from_user(owner.id, GrantKind::Permission, "docs:write")
        .await
        .expect("revoke");
    assert!(
        !allowed(&delegating.key, &write).await,
        "a permission taken from the owner is gone from the delegating key at once"
    );

    let rotated = auth
        .rotate_api_key(with_role.key.id, Duration::ZERO)
        .await
        .expect("rotate");
    assert!(
        allowed(&rotated.key, &read).await,
        "a rotated key keeps its roles"
    );
    assert!(
        auth.unassign_key_role(rotated.key.id, "viewer")
            .await
            .expect("unassign"),
        "unassign_key_role: the role was assigned"
    );
    assert!(
        !allowed(&rotated.key, &read).await,
        "a role taken from a key is gone"
    );
}

/// A key may act for another user only when its owner holds the impersonation
/// permission, at creation and at every evaluation; service keys act for nobody.
pub async fn impersonation_needs_the_permission<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, config()).await;
    define(&auth).await;
    let support = auth.create_user("sup@example.com").await.expect("user");
    let customer = auth.create_user("cus@example.com").await.expect("user");
    auth.grant_to_user(customer.id, GrantKind::Permission, "docs:write")
        .await
        .expect("grant");
    let write = auth
        .check_predicate(Predicate::has_permission("docs:write"))
        .await
        .expect("predicate");
    let mut acting = live_key(Some(support.id));
    acting.acts_for = Some(customer.id);

    let refused = auth.create_api_key(acting.clone()).await;
    assert!(
        matches!(refused, Err(Error::Forbidden)),
        "impersonation by an owner without {IMPERSONATE}: Forbidden, got {refused:?}"
    );
    let keys = auth.list_api_keys(Some(support.id)).await.expect("list");
    assert!(keys.is_empty(), "a refused key stores nothing");

    auth.grant_to_user(support.id, GrantKind::Permission, IMPERSONATE)
        .await
        .expect("grant");
    let key = create(&auth, acting).await;
    assert_eq!(
        auth.key_acts_for(&key.key).await.expect("acts_for"),
        Some(customer.id),
        "an impersonating key acts for the named user"
    );
    let holds = auth
        .is_allowed(Subject::Key(&key.key), &write)
        .await
        .expect("is_allowed");
    assert!(holds, "an impersonating key holds the named user's rights");

    auth.revoke_from_user(support.id, GrantKind::Permission, IMPERSONATE)
        .await
        .expect("revoke");
    let withdrawn = auth.key_acts_for(&key.key).await;
    assert!(
        matches!(withdrawn, Err(Error::Forbidden)),
        "once the owner lost {IMPERSONATE}, key_acts_for is Forbidden, got {withdrawn:?}"
    );
    let holds = auth
        .is_allowed(Subject::Key(&key.key), &write)
        .await
        .expect("is_allowed");
    assert!(!holds, "and the key holds none of the named user's rights");

    let mut service = live_key(None);
    service.acts_for = Some(customer.id);
    let refused = auth.create_api_key(service).await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "a service key acting for a user: InvalidInput, got {refused:?}"
    );
    let mut nobody = live_key(Some(support.id));
    nobody.acts_for = Some(UserId::new());
    let refused = auth.create_api_key(nobody).await;
    assert!(
        matches!(refused, Err(Error::UserNotFound)),
        "a key acting for an unknown user: UserNotFound, got {refused:?}"
    );
}
