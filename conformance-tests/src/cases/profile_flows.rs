//! Audiences and token lifetime profiles of [`authkit::Auth`] end to end: `bff` pairs and
//! scoped `api` tokens refuse each other, and profiles set lifetimes at issue and at
//! every refresh.

use std::sync::Arc;

use authkit::config::Profile;
use authkit::{Audience, Auth, Config, Error, UserId};
use time::Duration;

use super::flows::{auth_over, auth_with, test_config};
use crate::StoreFactory;

fn scopes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// An `Auth` with `config` and a user.
async fn with_user<F: StoreFactory>(
    factory: &F,
    config: Config,
) -> (Auth, Arc<authkit::ManualClock>, UserId) {
    let (auth, clock) = auth_with(factory, config).await;
    let user = auth.create_user("pro@example.com").await.expect("create");
    (auth, clock, user.id)
}

/// A `bff` pair's access token is refused as an `api` token, and the other way round.
pub async fn audiences_refuse_each_other<F: StoreFactory>(factory: &F) {
    let (auth, _, user) = with_user(factory, test_config()).await;
    let pair = auth.issue_token_pair(user).await.expect("pair");
    let r = auth.verify_api_token(&pair.access_token, None);
    assert!(
        matches!(r, Err(Error::WrongAudience)),
        "verify_api_token: expected Error::WrongAudience, got {r:?}"
    );
    let next = auth
        .refresh(pair.refresh_token.expose())
        .await
        .expect("refresh");
    let r = auth.verify_api_token(&next.access_token, None);
    assert!(
        matches!(r, Err(Error::WrongAudience)),
        "verify_api_token of a refreshed browser access token: expected Error::WrongAudience, got {r:?}"
    );

    let api = auth
        .issue_api_token(user, &scopes(&["reports:read"]), None)
        .await
        .expect("api token");
    let r = auth.verify_access(&api.token, Audience::Bff);
    assert!(
        matches!(r, Err(Error::WrongAudience)),
        "verify_access: expected Error::WrongAudience, got {r:?}"
    );
    let claims = auth
        .verify_api_token(&api.token, None)
        .expect("api verifies");
    assert_eq!(
        claims.aud, "api",
        "issue_api_token: the token's audience is api"
    );
    assert_eq!(claims.user_id(), user, "issue_api_token: sub is the user");
    assert_eq!(
        claims.scope.as_deref(),
        Some("reports:read"),
        "issue_api_token: the token carries the scopes asked for"
    );
}

/// An `api` token covers its scopes, wildcards included, and nothing else.
pub async fn api_token_scopes<F: StoreFactory>(factory: &F) {
    let (auth, _, user) = with_user(factory, test_config()).await;
    let token = auth
        .issue_api_token(user, &scopes(&["admin:*", "billing:read"]), None)
        .await
        .expect("token")
        .token;
    for ok in ["admin:users", "admin:users:read", "billing:read"] {
        auth.verify_api_token(&token, Some(ok))
            .unwrap_or_else(|e| panic!("{ok}: {e:?}"));
    }
    for missing in ["billing:write", "admin", "billing"] {
        let r = auth.verify_api_token(&token, Some(missing));
        assert!(
            matches!(&r, Err(Error::ScopeMissing(s)) if s == missing),
            "verify_api_token({missing}): expected Error::ScopeMissing, got {r:?}"
        );
    }
    let none = auth.issue_api_token(user, &[], None).await.expect("token");
    let r = auth.verify_api_token(&none.token, Some("billing:read"));
    assert!(
        matches!(r, Err(Error::ScopeMissing(_))),
        "verify_api_token: expected Error::ScopeMissing, got {r:?}"
    );
    auth.verify_api_token(&none.token, None)
        .expect("no scope needed");
    let r = auth
        .issue_api_token(user, &scopes(&["Bad Scope"]), None)
        .await;
    assert!(
        matches!(r, Err(Error::InvalidScope(_))),
        "issue_api_token: expected Error::InvalidScope, got {r:?}"
    );
    let r = auth.issue_api_token(UserId::new(), &[], None).await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "issue_api_token: expected Error::UserNotFound, got {r:?}"
    );
}

/// Each profile gives its lifetimes, for pairs and for `api` tokens.
pub async fn profiles_set_lifetimes<F: StoreFactory>(factory: &F) {
    let (auth, clock, user) = with_user(factory, test_config()).await;
    let now = auth.now();
    let expected = [
        (None, Duration::minutes(15), Duration::days(30)),
        (Some("standard"), Duration::minutes(15), Duration::days(30)),
        (Some("short"), Duration::minutes(15), Duration::days(1)),
        (Some("long"), Duration::hours(24), Duration::days(90)),
    ];
    for (profile, access, refresh) in expected {
        let pair = auth
            .issue_token_pair_with(user, profile)
            .await
            .expect("pair");
        assert_eq!(
            pair.access_expires_at,
            now + access,
            "issue_token_pair_with {profile:?}: access lifetime from the profile"
        );
        assert_eq!(
            pair.refresh_expires_at,
            now + refresh,
            "issue_token_pair_with {profile:?}: refresh lifetime from the profile"
        );
        let api = auth.issue_api_token(user, &[], profile).await.expect("api");
        assert_eq!(
            api.expires_at,
            now + access,
            "issue_api_token with {profile:?}: lifetime from the profile"
        );
    }
    let long = auth
        .issue_token_pair_with(user, Some("long"))
        .await
        .expect("long");
    clock.advance(Duration::days(1));
    let next = auth
        .refresh(long.refresh_token.expose())
        .await
        .expect("refresh");
    assert_eq!(
        next.access_expires_at,
        auth.now() + Duration::hours(24),
        "refresh of a token issued with a profile: access lifetime from that profile"
    );
    assert_eq!(
        next.refresh_expires_at,
        now + Duration::days(90),
        "refresh: the successor's expiry is capped by the long profile's chain"
    );
}

/// An unknown profile is an error, and nothing is stored.
pub async fn unknown_profile_stores_nothing<F: StoreFactory>(factory: &F) {
    let (auth, _, user) = with_user(factory, test_config()).await;
    let r = auth.issue_token_pair_with(user, Some("forever")).await;
    assert!(
        matches!(&r, Err(Error::UnknownProfile(name)) if name == "forever"),
        "issue_token_pair_with: expected Error::UnknownProfile, got {r:?}"
    );
    let r = auth.issue_api_token(user, &[], Some("forever")).await;
    assert!(
        matches!(r, Err(Error::UnknownProfile(_))),
        "issue_api_token: expected Error::UnknownProfile, got {r:?}"
    );
    assert_eq!(
        auth.revoke_user_refresh(user).await.expect("revoke"),
        0,
        "no refresh token was stored"
    );
}

/// A profile changed after issue: the next refresh uses its new lifetimes.
pub async fn changed_profile_applies_on_refresh<F: StoreFactory>(factory: &F) {
    let (auth, clock, user) = with_user(factory, test_config()).await;
    let pair = auth
        .issue_token_pair_with(user, Some("short"))
        .await
        .expect("pair");
    let mut config = test_config();
    config.tokens.profiles.insert(
        "short".into(),
        Profile::new(Duration::minutes(5), Duration::days(2), Duration::days(3)),
    );
    let changed = auth_over(auth.stores().clone(), config, clock.clone(), 2);
    clock.advance(Duration::hours(1));
    let next = changed
        .refresh(pair.refresh_token.expose())
        .await
        .expect("refresh");
    assert_eq!(
        next.access_expires_at,
        changed.now() + Duration::minutes(5),
        "refresh after a profile changed: access lifetime from the new profile"
    );
    assert_eq!(
        next.refresh_expires_at,
        changed.now() + Duration::days(2),
        "refresh after a profile changed: refresh lifetime from the new profile"
    );
}

/// A profile removed from the configuration: refresh fails rather than fall back, and
/// the token is not spent.
pub async fn removed_profile_refuses_refresh<F: StoreFactory>(factory: &F) {
    let (auth, clock, user) = with_user(factory, test_config()).await;
    let pair = auth
        .issue_token_pair_with(user, Some("long"))
        .await
        .expect("pair");
    let mut config = test_config();
    config.tokens.profiles.remove("long");
    let without = auth_over(auth.stores().clone(), config, clock, 2);
    let r = without.refresh(pair.refresh_token.expose()).await;
    assert!(
        matches!(&r, Err(Error::UnknownProfile(name)) if name == "long"),
        "refresh: expected Error::UnknownProfile, got {r:?}"
    );
    auth.refresh(pair.refresh_token.expose())
        .await
        .expect("not spent by the refused refresh");
}

/// A profile over a cap (or otherwise broken) fails `Auth` construction.
pub async fn profile_over_cap_refused<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let profile = Profile::new;
    let (h, d) = (Duration::hours, Duration::days);
    let broken = [
        ("x", profile(h(25), d(1), d(1))),
        ("x", profile(h(1), d(91), d(1))),
        ("x", profile(h(1), d(1), d(91))),
        ("x", profile(Duration::ZERO, d(1), d(1))),
        ("x", profile(h(1), d(-1), d(1))),
        ("standard", profile(h(1), d(1), d(1))),
    ];
    for (name, p) in broken {
        let mut config = test_config();
        config.tokens.profiles.insert(name.into(), p);
        let r = Auth::builder(stores.clone(), config).build();
        assert!(
            matches!(r, Err(Error::InvalidConfig(_))),
            "builder({name} {p:?}): expected Error::InvalidConfig, got {r:?}"
        );
    }
    let mut config = test_config();
    config.tokens.max_access_ttl = h(12);
    let r = Auth::builder(stores.clone(), config).build();
    assert!(
        matches!(r, Err(Error::InvalidConfig(_))),
        "the default long profile breaks a lowered cap: {r:?}"
    );
    let mut config = test_config();
    config
        .tokens
        .profiles
        .insert("x".into(), profile(h(24), d(90), d(90)));
    Auth::builder(stores, config)
        .build()
        .expect("exactly at the caps");
}

/// With `tokens.access_ttl_jitter` set, every standard access token (pairs, their
/// refreshes, `api` tokens) lives between `access_ttl - jitter` and `access_ttl`, and the
/// lifetimes spread; a named profile's live exactly their configured lifetime.
pub async fn standard_access_tokens_jittered<F: StoreFactory>(factory: &F) {
    let jitter = Duration::minutes(5);
    let ttl = Duration::minutes(15);
    let mut config = test_config();
    config.tokens.access_ttl_jitter = jitter;
    let (auth, _, user) = with_user(factory, config).await;
    let now = auth.now();
    let mut seen = Vec::new();
    for _ in 0..8 {
        let pair = auth.issue_token_pair(user).await.expect("pair");
        let next = auth
            .refresh(pair.refresh_token.expose())
            .await
            .expect("refresh");
        let api = auth.issue_api_token(user, &[], None).await.expect("api");
        for (what, at) in [
            ("issue_token_pair", pair.access_expires_at),
            ("refresh", next.access_expires_at),
            ("issue_api_token", api.expires_at),
        ] {
            let lifetime = at - now;
            assert!(
                lifetime <= ttl && lifetime >= ttl - jitter,
                "{what} with a jitter of {jitter}: access lifetime {lifetime} outside [{}, {ttl}]",
                ttl - jitter
            );
            seen.push(lifetime);
        }
        let short = auth
            .issue_token_pair_with(user, Some("short"))
            .await
            .expect("short");
        assert_eq!(
            short.access_expires_at,
            now + ttl,
            "issue_token_pair_with a named profile: no jitter"
        );
        let long = auth
            .issue_api_token(user, &[], Some("long"))
            .await
            .expect("long");
        assert_eq!(
            long.expires_at,
            now + Duration::hours(24),
            "issue_api_token with a named profile: no jitter"
        );
    }
    seen.sort();
    seen.dedup();
    assert!(
        seen.len() > 1,
        "access_ttl_jitter: 24 standard lifetimes drawn, all equal: {seen:?}"
    );
}
