//! API and service key flows of [`authkit::Auth`] end to end: creation, verification and
//! each of its errors, scopes, IP allow-lists, rotation, updates, usage, revocation under
//! load, and cascade on owner deletion.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use authkit::{
    ApiKey, ApiKeyId, ApiKeyStore, ApiKeyUpdate, Auth, Config, Environment, Error, IssuedApiKey,
    KeyType, KeyUsage, ManualClock, NewApiKey, RateWindow, SlugKind, StoreError, Timestamp,
    TokenHash, UserId,
};
use time::Duration;

use super::flows::{auth_over, auth_with, test_config};
use crate::StoreFactory;
use crate::fixtures::{BASE, MICRO, together};

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address")
}

/// The flow config, with `public:read` as the one public-safe scope.
fn key_config() -> Config {
    let mut config = test_config();
    config.api_keys.publishable_scopes = vec!["public:read".into()];
    config
}

/// A secret live key of `owner` with `scopes`.
fn secret_key(owner: UserId, scopes: &[&str]) -> NewApiKey {
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(owner), "test key");
    new.scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
    new
}

/// An `Auth` with [`key_config`] and a user that owns keys.
async fn keys_auth<F: StoreFactory>(factory: &F) -> (Auth, Arc<ManualClock>, UserId) {
    let (auth, clock) = auth_with(factory, key_config()).await;
    let user = auth.create_user("owner@example.com").await.expect("create");
    (auth, clock, user.id)
}

async fn create(auth: &Auth, new: NewApiKey) -> IssuedApiKey {
    auth.create_api_key(new).await.expect("create key")
}

async fn verify(auth: &Auth, key: &IssuedApiKey, scope: Option<&str>) -> authkit::Result<ApiKey> {
    auth.verify_api_key(key.secret.expose(), scope, None).await
}

/// Keys of each type carry their type and environment in the plaintext and the visible
/// prefix, and verify.
pub async fn create_key_types<F: StoreFactory>(factory: &F) {
    let (auth, _, owner) = keys_auth(factory).await;
    let kinds = [
        (KeyType::Secret, Environment::Live, "sk_live_"),
        (KeyType::Publishable, Environment::Test, "pk_test_"),
        (KeyType::Restricted, Environment::Live, "rk_live_"),
    ];
    for (key_type, env, head) in kinds {
        let issued = create(&auth, NewApiKey::new(key_type, env, Some(owner), "k")).await;
        let plain = issued.secret.expose();
        assert!(
            plain.starts_with(head),
            "create_api_key: the secret must start with its type and environment ({plain})"
        );
        assert_eq!(
            plain.len(),
            head.len() + 43 + 8,
            "create_api_key: the secret is the head, 43 base64url characters and an 8-character checksum ({plain})"
        );
        assert!(
            issued.key.prefix.starts_with(head),
            "create_api_key: the visible prefix must start with the type and environment ({})",
            issued.key.prefix
        );
        assert!(
            issued.key.prefix.len() > head.len(),
            "create_api_key: the visible prefix must show more than the head ({})",
            issued.key.prefix
        );
        assert!(
            plain.starts_with(&issued.key.prefix),
            "create_api_key: the secret must start with its visible prefix ({plain})"
        );
        let verified = verify(&auth, &issued, None).await.expect("verifies");
        assert_eq!(
            verified.id, issued.key.id,
            "verify_api_key must return the key it verified"
        );
        assert_eq!(
            (verified.key_type, verified.environment),
            (key_type, env),
            "verify_api_key must return the key's type and environment as created"
        );
    }
    assert_eq!(
        auth.list_api_keys(Some(owner)).await.expect("list").len(),
        3,
        "list_api_keys of the owner: the three keys created"
    );
    let r = auth
        .create_api_key(secret_key(UserId::new(), &["read"]))
        .await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "create_api_key: expected Error::UserNotFound, got {r:?}"
    );
}

/// Keys created without scopes get their type's configured defaults.
pub async fn default_scopes_per_type<F: StoreFactory>(factory: &F) {
    let mut config = key_config();
    config.api_keys.default_publishable_scopes = vec!["public:read".into()];
    config.api_keys.default_restricted_scopes = vec!["reports:read".into()];
    let (auth, _) = auth_with(factory, config).await;
    let owner = Some(auth.create_user("pat@example.com").await.expect("user").id);
    let scopes = |k: IssuedApiKey| k.key.scopes;
    let new = |t| NewApiKey::new(t, Environment::Live, owner, "k");
    assert_eq!(
        scopes(create(&auth, new(KeyType::Secret)).await),
        ["*"],
        "create_api_key of a secret key without scopes: the default scopes of secret keys"
    );
    assert_eq!(
        scopes(create(&auth, new(KeyType::Publishable)).await),
        ["public:read"],
        "create_api_key of a publishable key without scopes: the configured default scopes"
    );
    assert_eq!(
        scopes(create(&auth, new(KeyType::Restricted)).await),
        ["reports:read"],
        "create_api_key of a restricted key without scopes: the configured default scopes"
    );
    let service = NewApiKey::new(KeyType::Secret, Environment::Live, None, "svc");
    assert!(
        scopes(create(&auth, service).await).is_empty(),
        "create_api_key of a service key without scopes: no scopes"
    );
}

/// Malformed keys (shape or checksum) are refused without a store lookup; a well-formed
/// key never issued here is looked up and unknown.
pub async fn malformed_and_unknown_keys<F: StoreFactory>(factory: &F) {
    let mut stores = factory.stores().await;
    let spy = Arc::new(SpyKeys::new(stores.api_keys.clone(), Duration::ZERO));
    stores.api_keys = spy.clone();
    let clock = Arc::new(ManualClock::new(BASE));
    let auth = auth_over(stores, key_config(), clock.clone(), 1);
    let owner = auth.create_user("quin@example.com").await.expect("user").id;
    let issued = create(&auth, secret_key(owner, &["read"])).await;
    let good = issued.secret.expose();

    let mut body_changed = good.to_owned().into_bytes();
    body_changed[18] = if body_changed[18] == b'A' { b'B' } else { b'A' };
    let mut sum_changed = good.to_owned().into_bytes();
    let last = sum_changed.len() - 1;
    sum_changed[last] = if sum_changed[last] == b'0' {
        b'1'
    } else {
        b'0'
    };
    let body_changed = String::from_utf8(body_changed).expect("ascii");
    let sum_changed = String::from_utf8(sum_changed).expect("ascii");
    let other_type = good.replacen("sk_", "pk_", 1);
    let other_env = good.replacen("_live_", "_test_", 1);
    let split_char = format!("sk_live_{}é{}", "a".repeat(42), "0".repeat(7));
    let bad = [
        "",
        "garbage",
        "sk_live_",
        &good[..good.len() - 1],
        &format!("{good}0"),
        &body_changed,
        &sum_changed,
        &other_type,
        &other_env,
        &good.replacen("sk_", "xk_", 1),
        &split_char,
        &format!("sk_live_{}", "A".repeat(51)),
        &format!("sk_live_{}é000000", "A".repeat(43)),
    ];
    for presented in bad {
        let r = auth.verify_api_key(presented, None, None).await;
        assert!(
            matches!(r, Err(Error::ApiKeyMalformed)),
            "verify_api_key({presented:?}): expected Error::ApiKeyMalformed, got {r:?}"
        );
    }
    assert_eq!(
        spy.lookups(),
        0,
        "verify_api_key of a malformed key must not reach the store"
    );

    let elsewhere = auth_over(factory.stores().await, key_config(), clock, 2);
    let stranger = elsewhere.create_user("x@example.com").await.expect("user");
    let foreign = create(&elsewhere, secret_key(stranger.id, &["read"])).await;
    let r = verify(&auth, &foreign, None).await;
    assert!(
        matches!(r, Err(Error::ApiKeyUnknown)),
        "verify: expected Error::ApiKeyUnknown, got {r:?}"
    );
    assert_eq!(
        spy.lookups(),
        1,
        "verify_api_key of a well-formed key: exactly one store lookup"
    );
    verify(&auth, &issued, None).await.expect("the real key");
}

/// A revoked key is refused; the first reason stays.
pub async fn revoked_key<F: StoreFactory>(factory: &F) {
    let (auth, _, owner) = keys_auth(factory).await;
    let issued = create(&auth, secret_key(owner, &["read"])).await;
    let id = issued.key.id;
    assert!(
        auth.revoke_api_key(id, "leaked").await.expect("revoke"),
        "revoke_api_key of a live key returns true"
    );
    let r = verify(&auth, &issued, Some("read")).await;
    assert!(
        matches!(r, Err(Error::ApiKeyRevoked)),
        "verify: expected Error::ApiKeyRevoked, got {r:?}"
    );
    assert!(
        !auth.revoke_api_key(id, "again").await.expect("again"),
        "a second revoke_api_key returns false"
    );
    let stored = auth.api_key(id).await.expect("read");
    assert_eq!(
        stored.revoked_reason.as_deref(),
        Some("leaked"),
        "a second revoke_api_key must keep the first reason"
    );
    assert_eq!(
        stored.revoked_at,
        Some(auth.now()),
        "revoke_api_key must record revoked_at = now"
    );
    let r = auth.revoke_api_key(ApiKeyId::new(), "nope").await;
    assert!(
        matches!(r, Err(Error::ApiKeyUnknown)),
        "revoke_api_key: expected Error::ApiKeyUnknown, got {r:?}"
    );
}

/// A key works until a microsecond before its expiry and is expired at it.
pub async fn expired_key<F: StoreFactory>(factory: &F) {
    let (auth, clock, owner) = keys_auth(factory).await;
    let mut new = secret_key(owner, &["read"]);
    let expires = auth.now() + Duration::hours(1);
    new.expires_at = Some(expires);
    let issued = create(&auth, new).await;
    clock.set(expires - MICRO);
    verify(&auth, &issued, None).await.expect("before expiry");
    clock.set(expires);
    let r = verify(&auth, &issued, None).await;
    assert!(
        matches!(r, Err(Error::ApiKeyExpired)),
        "verify: expected Error::ApiKeyExpired, got {r:?}"
    );
}

/// IPv4 and IPv6 ranges and single addresses allow exactly what they cover; a key with
/// an allow-list refuses a request with no known address.
pub async fn ip_allow_list<F: StoreFactory>(factory: &F) {
    let (auth, _, owner) = keys_auth(factory).await;
    let mut new = secret_key(owner, &["read"]);
    new.allowed_ips = vec![
        "10.1.2.3/8".into(),
        " 2001:DB8::/32 ".into(),
        "192.0.2.7".into(),
    ];
    let issued = create(&auth, new).await;
    assert_eq!(
        issued.key.allowed_ips,
        ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"],
        "create_api_key must store the IP allow-list canonical (trimmed, network address, lowercase)"
    );
    let plain = issued.secret.expose();
    for allowed in [
        "10.255.0.1",
        "2001:db8:ffff::1",
        "192.0.2.7",
        "::ffff:10.0.0.1",
    ] {
        auth.verify_api_key(plain, None, Some(ip(allowed)))
            .await
            .unwrap_or_else(|e| panic!("{allowed}: {e:?}"));
    }
    for refused in ["11.0.0.1", "192.0.2.8", "2001:db9::1", "::1"] {
        let r = auth.verify_api_key(plain, None, Some(ip(refused))).await;
        assert!(
            matches!(r, Err(Error::IpNotAllowed)),
            "verify_api_key({refused}): expected Error::IpNotAllowed, got {r:?}"
        );
    }
    let r = auth.verify_api_key(plain, None, None).await;
    assert!(
        matches!(r, Err(Error::IpNotAllowed)),
        "verify_api_key with an allow-list and no address: expected Error::IpNotAllowed, got {r:?}"
    );
}

/// Scopes are checked on verification; `admin:*` covers what is below `admin:`.
pub async fn scopes_and_wildcards<F: StoreFactory>(factory: &F) {
    let (auth, _, owner) = keys_auth(factory).await;
    let issued = create(&auth, secret_key(owner, &["admin:*", "billing:read"])).await;
    for ok in ["admin:users", "admin:users:read", "billing:read"] {
        verify(&auth, &issued, Some(ok))
            .await
            .unwrap_or_else(|e| panic!("{ok}: {e:?}"));
    }
    for missing in ["billing:write", "admin", "administrator:x", "billing"] {
        let r = verify(&auth, &issued, Some(missing)).await;
        assert!(
            matches!(&r, Err(Error::ScopeMissing(s)) if s == missing),
            "verify({missing}): expected Error::ScopeMissing, got {r:?}"
        );
    }
    verify(&auth, &issued, None).await.expect("no scope needed");
}

/// A publishable key holds only public-safe scopes; a refused one stores nothing.
pub async fn publishable_scopes_limited<F: StoreFactory>(factory: &F) {
    let (auth, _, owner) = keys_auth(factory).await;
    let pk = |scopes: &[&str]| {
        let mut new = secret_key(owner, scopes);
        new.key_type = KeyType::Publishable;
        new
    };
    for scopes in [
        &["admin:users"][..],
        &["*"],
        &["public:*"],
        &["public:read", "x"],
    ] {
        let r = auth.create_api_key(pk(scopes)).await;
        assert!(
            matches!(r, Err(Error::ScopeNotAllowed(_))),
            "create_api_key({scopes:?}): expected Error::ScopeNotAllowed, got {r:?}"
        );
    }
    let r = auth.create_api_key(secret_key(owner, &["Bad Scope"])).await;
    assert!(
        matches!(r, Err(Error::InvalidScope(_))),
        "create_api_key: expected Error::InvalidScope, got {r:?}"
    );
    assert!(
        auth.list_api_keys(Some(owner))
            .await
            .expect("list")
            .is_empty(),
        "create_api_key refused for its scopes must store nothing"
    );

    let issued = create(&auth, pk(&["public:read"])).await;
    verify(&auth, &issued, Some("public:read"))
        .await
        .expect("ok");
    let update = ApiKeyUpdate::default().scopes(vec!["admin:users".into()]);
    let r = auth.update_api_key(issued.key.id, update).await;
    assert!(
        matches!(r, Err(Error::ScopeNotAllowed(_))),
        "update_api_key: expected Error::ScopeNotAllowed, got {r:?}"
    );
    let stored = auth.api_key(issued.key.id).await.expect("read");
    assert_eq!(
        stored.scopes,
        ["public:read"],
        "update_api_key refused for its scopes must change nothing"
    );
}

/// A malformed address or range is refused, and nothing is stored or changed.
pub async fn malformed_cidr_stores_nothing<F: StoreFactory>(factory: &F) {
    let (auth, _, owner) = keys_auth(factory).await;
    let bad_lists: [&[&str]; 5] = [
        &["10.0.0.0/33"],
        &["not-an-ip"],
        &["10.0.0.1", "2001:db8::/129"],
        &["10.0.0.256"],
        &[""],
    ];
    for list in bad_lists {
        let mut new = secret_key(owner, &["read"]);
        new.allowed_ips = list.iter().map(|s| (*s).to_owned()).collect();
        let r = auth.create_api_key(new).await;
        assert!(
            matches!(r, Err(Error::InvalidIpRange(_))),
            "create_api_key({list:?}): expected Error::InvalidIpRange, got {r:?}"
        );
    }
    assert!(
        auth.list_api_keys(Some(owner))
            .await
            .expect("list")
            .is_empty(),
        "create_api_key refused for its IP allow-list must store nothing"
    );
    let issued = create(&auth, secret_key(owner, &["read"])).await;
    let update =
        ApiKeyUpdate::default().allowed_ips(vec!["10.0.0.0/8".into(), "10.0.0.0/99".into()]);
    let r = auth.update_api_key(issued.key.id, update).await;
    assert!(
        matches!(r, Err(Error::InvalidIpRange(_))),
        "update_api_key: expected Error::InvalidIpRange, got {r:?}"
    );
    let stored = auth.api_key(issued.key.id).await.expect("read");
    assert!(
        stored.allowed_ips.is_empty(),
        "update_api_key refused for its IP allow-list must change nothing: {:?}",
        stored.allowed_ips
    );
}

/// A service key's scopes must be registered abilities; a refused one stores nothing.
pub async fn service_key_abilities<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, key_config()).await;
    let service = |scopes: &[&str]| {
        let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, None, "svc");
        new.scopes = Some(scopes.iter().map(|s| (*s).to_owned()).collect());
        new
    };
    let r = auth.create_api_key(service(&["reports:export"])).await;
    assert!(
        matches!(&r, Err(Error::UnknownSlug { kind: "ability", slugs }) if slugs == &["reports:export"]),
        "create_api_key: expected Error::UnknownSlug, got {r:?}"
    );
    let r = auth.create_api_key(service(&["reports:*"])).await;
    assert!(
        matches!(r, Err(Error::ScopeNotAllowed(_))),
        "create_api_key: expected Error::ScopeNotAllowed, got {r:?}"
    );
    assert!(
        auth.list_api_keys(None).await.expect("list").is_empty(),
        "create_api_key of service keys refused for their scopes must store nothing"
    );

    auth.define(SlugKind::Ability, "reports:export", "Export reports")
        .await
        .expect("define");
    let issued = create(&auth, service(&["reports:export"])).await;
    assert_eq!(
        issued.key.owner, None,
        "create_api_key of a service key: no owner"
    );
    verify(&auth, &issued, Some("reports:export"))
        .await
        .expect("verifies");
    let r = verify(&auth, &issued, Some("reports:read")).await;
    assert!(
        matches!(r, Err(Error::ScopeMissing(_))),
        "verify: expected Error::ScopeMissing, got {r:?}"
    );
    let update = ApiKeyUpdate::default().scopes(vec!["reports:delete".into()]);
    let r = auth.update_api_key(issued.key.id, update).await;
    assert!(
        matches!(r, Err(Error::UnknownSlug { .. })),
        "update_api_key: expected Error::UnknownSlug, got {r:?}"
    );
    assert_eq!(
        auth.list_api_keys(None).await.expect("list").len(),
        1,
        "update_api_key refused for an unknown ability must change nothing"
    );
}

/// Rotation without grace: the new key works, the old one is expired at once.
pub async fn rotation_without_grace<F: StoreFactory>(factory: &F) {
    let (auth, _, owner) = keys_auth(factory).await;
    let old = create(&auth, secret_key(owner, &["read"])).await;
    let new = auth
        .rotate_api_key(old.key.id, Duration::ZERO)
        .await
        .expect("rotate");
    assert_ne!(
        new.key.id, old.key.id,
        "rotate_api_key must give the new key a new id"
    );
    assert_ne!(
        new.secret, old.secret,
        "rotate_api_key must give the new key a new secret"
    );
    assert_eq!(
        (&new.key.name, &new.key.scopes),
        (&old.key.name, &old.key.scopes),
        "rotate_api_key must carry the name and scopes forward"
    );
    assert_eq!(
        new.key.owner,
        Some(owner),
        "rotate_api_key must carry the owner forward"
    );
    verify(&auth, &new, Some("read")).await.expect("new key");
    let r = verify(&auth, &old, Some("read")).await;
    assert!(
        matches!(r, Err(Error::ApiKeyExpired)),
        "verify: expected Error::ApiKeyExpired, got {r:?}"
    );
    let r = auth.rotate_api_key(ApiKeyId::new(), Duration::ZERO).await;
    assert!(
        matches!(r, Err(Error::ApiKeyUnknown)),
        "rotate_api_key: expected Error::ApiKeyUnknown, got {r:?}"
    );
    auth.revoke_api_key(new.key.id, "done")
        .await
        .expect("revoke");
    let r = auth.rotate_api_key(new.key.id, Duration::ZERO).await;
    assert!(
        matches!(r, Err(Error::ApiKeyRevoked)),
        "rotate_api_key: expected Error::ApiKeyRevoked, got {r:?}"
    );
}

/// Rotation with a grace period: both keys work until the grace ends.
pub async fn rotation_with_grace<F: StoreFactory>(factory: &F) {
    let (auth, clock, owner) = keys_auth(factory).await;
    let old = create(&auth, secret_key(owner, &["read"])).await;
    let rotated_at = auth.now();
    let new = auth
        .rotate_api_key(old.key.id, Duration::hours(1))
        .await
        .expect("rotate");
    clock.set(rotated_at + Duration::hours(1) - MICRO);
    verify(&auth, &old, None).await.expect("old inside grace");
    verify(&auth, &new, None).await.expect("new inside grace");
    clock.set(rotated_at + Duration::hours(1));
    let r = verify(&auth, &old, None).await;
    assert!(
        matches!(r, Err(Error::ApiKeyExpired)),
        "verify: expected Error::ApiKeyExpired, got {r:?}"
    );
    verify(&auth, &new, None).await.expect("new after grace");
}

/// Name, scopes and expiry updates take effect on the next verification.
pub async fn update_fields<F: StoreFactory>(factory: &F) {
    let (auth, clock, owner) = keys_auth(factory).await;
    let issued = create(&auth, secret_key(owner, &["admin:*"])).await;
    let expires = auth.now() + Duration::days(1);
    let update = ApiKeyUpdate::default()
        .name("renamed".into())
        .scopes(vec!["reports:read".into()])
        .expires_at(Some(expires));
    let updated = auth
        .update_api_key(issued.key.id, update)
        .await
        .expect("update");
    assert_eq!(updated.name, "renamed", "update_api_key must set the name");
    assert_eq!(
        updated.scopes,
        ["reports:read"],
        "update_api_key must set the scopes"
    );
    assert_eq!(
        updated.expires_at,
        Some(expires),
        "update_api_key must set the expiry"
    );
    verify(&auth, &issued, Some("reports:read"))
        .await
        .expect("new scope");
    let r = verify(&auth, &issued, Some("admin:users")).await;
    assert!(
        matches!(r, Err(Error::ScopeMissing(_))),
        "verify: expected Error::ScopeMissing, got {r:?}"
    );
    clock.set(expires);
    let r = verify(&auth, &issued, None).await;
    assert!(
        matches!(r, Err(Error::ApiKeyExpired)),
        "verify: expected Error::ApiKeyExpired, got {r:?}"
    );
    let clear = ApiKeyUpdate::default().expires_at(None);
    auth.update_api_key(issued.key.id, clear)
        .await
        .expect("clear");
    verify(&auth, &issued, None)
        .await
        .expect("no expiry any more");
    let blank = ApiKeyUpdate::default().name(" ".into());
    let r = auth.update_api_key(issued.key.id, blank).await;
    assert!(
        matches!(r, Err(Error::InvalidInput(_))),
        "update_api_key: expected Error::InvalidInput, got {r:?}"
    );
    let r = auth
        .update_api_key(ApiKeyId::new(), ApiKeyUpdate::default())
        .await;
    assert!(
        matches!(r, Err(Error::ApiKeyUnknown)),
        "update_api_key: expected Error::ApiKeyUnknown, got {r:?}"
    );
}

/// 32 concurrent verifications are all counted once flushed, with the last address.
pub async fn usage_counts_every_verification<F: StoreFactory>(factory: &F) {
    let (auth, clock, owner) = keys_auth(factory).await;
    let auth = Arc::new(auth);
    let issued = create(&auth, secret_key(owner, &["read"])).await;
    let from = ip("203.0.113.9");
    let results = together(32, |_| {
        let (auth, plain) = (auth.clone(), issued.secret.expose().to_owned());
        async move { auth.verify_api_key(&plain, Some("read"), Some(from)).await }
    })
    .await;
    assert!(
        results.iter().all(Result::is_ok),
        "verify_api_key of a live key, 32 concurrent calls: all verify: {results:?}"
    );
    auth.flush_key_usage().await.expect("flush");
    let stored = auth.api_key(issued.key.id).await.expect("read");
    assert_eq!(
        stored.usage_count, 32,
        "flush_key_usage after 32 concurrent verifications: usage_count 32"
    );
    assert_eq!(
        stored.last_used_at,
        Some(auth.now()),
        "flush_key_usage: last_used_at is the time of the last verification"
    );
    assert_eq!(
        stored.last_used_ip,
        Some(from),
        "flush_key_usage: last_used_ip is the address of the last verification"
    );

    clock.advance(Duration::minutes(1));
    let later = ip("2001:db8::9");
    auth.verify_api_key(issued.secret.expose(), None, Some(later))
        .await
        .expect("verify");
    auth.flush_key_usage().await.expect("flush");
    let stored = auth.api_key(issued.key.id).await.expect("read");
    assert_eq!(
        stored.usage_count, 33,
        "flush_key_usage after one more verification: usage_count 33"
    );
    assert_eq!(
        stored.last_used_at,
        Some(auth.now()),
        "flush_key_usage: last_used_at moves to the later verification"
    );
    assert_eq!(
        stored.last_used_ip,
        Some(later),
        "flush_key_usage: last_used_ip moves with the later verification"
    );
}

/// When `flush_key_usage` returns, every use verified before it is in the store, even
/// one a background flush had already taken and was still writing (as on shutdown).
pub async fn usage_flush_waits_for_background_writes<F: StoreFactory>(factory: &F) {
    let mut stores = factory.stores().await;
    let slow = Arc::new(SpyKeys::new(
        stores.api_keys.clone(),
        Duration::milliseconds(300),
    ));
    stores.api_keys = slow;
    let mut config = key_config();
    config.api_keys.usage_flush_uses = 1;
    let auth = auth_over(stores, config, Arc::new(ManualClock::new(BASE)), 1);
    let owner = auth.create_user("ria@example.com").await.expect("user").id;
    let issued = create(&auth, secret_key(owner, &["read"])).await;
    verify(&auth, &issued, None).await.expect("verify");
    // Let the background flush take the use and start writing it.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    auth.flush_key_usage().await.expect("flush");
    let stored = auth.api_key(issued.key.id).await.expect("read");
    assert_eq!(
        stored.usage_count, 1,
        "flush_key_usage returned before the background write of a use finished"
    );
}

/// A busy buffer schedules one background flush at a time: while a slow write runs,
/// further due verifications start no other write and leave no task behind each (the
/// runtime's live tasks grow by a handful at most, not by one per verification), and
/// every use still lands exactly once.
pub async fn one_background_flush_at_a_time<F: StoreFactory>(factory: &F) {
    const USES: u64 = 50;
    let mut stores = factory.stores().await;
    let slow = Arc::new(SpyKeys::new(
        stores.api_keys.clone(),
        Duration::milliseconds(600),
    ));
    stores.api_keys = slow.clone();
    let mut config = key_config();
    config.api_keys.usage_flush_uses = 1;
    let auth = auth_over(stores, config, Arc::new(ManualClock::new(BASE)), 1);
    let owner = auth.create_user("ola@example.com").await.expect("user").id;
    let issued = create(&auth, secret_key(owner, &["read"])).await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    for _ in 0..USES {
        verify(&auth, &issued, None).await.expect("verify");
        tokio::task::yield_now().await;
    }
    let alive = metrics.num_alive_tasks();
    assert!(
        alive <= before + 8,
        "{USES} due verifications during one slow usage write left {} tasks alive",
        alive.saturating_sub(before)
    );
    // Let the background write start (it sleeps 600 ms once it has).
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        slow.usage_writes.load(Ordering::SeqCst),
        1,
        "{USES} due verifications during one slow usage write started other writes"
    );
    auth.flush_key_usage().await.expect("flush");
    let stored = auth.api_key(issued.key.id).await.expect("read");
    assert_eq!(stored.usage_count, USES, "every use lands exactly once");
}

/// A key revoked while verifications run is refused by every verification that starts
/// after the revocation returns.
pub async fn revoked_while_verifying<F: StoreFactory>(factory: &F) {
    let (auth, _, owner) = keys_auth(factory).await;
    let auth = Arc::new(auth);
    let issued = create(&auth, secret_key(owner, &["read"])).await;
    let revoked = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (auth, revoked, accepted) = (auth.clone(), revoked.clone(), accepted.clone());
            let plain = issued.secret.expose().to_owned();
            tokio::spawn(async move {
                let mut refused_after = 0;
                while refused_after < 20 {
                    let after = revoked.load(Ordering::SeqCst);
                    let r = auth.verify_api_key(&plain, Some("read"), None).await;
                    match r {
                        Err(Error::ApiKeyRevoked) if after => refused_after += 1,
                        Ok(_) if !after => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                        }
                        // Started before the revocation returned: either answer is right.
                        Err(Error::ApiKeyRevoked) if !after => {}
                        other => panic!("started after revocation: {other:?}"),
                    }
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    // Revoke only once verifications are demonstrably running and succeeding.
    while accepted.load(Ordering::SeqCst) < 64 {
        tokio::task::yield_now().await;
    }
    assert!(
        auth.revoke_api_key(issued.key.id, "leaked")
            .await
            .expect("revoke"),
        "revoke_api_key of a key being verified returns true"
    );
    revoked.store(true, Ordering::SeqCst);
    for task in tasks {
        task.await.expect("verification task");
    }
}

/// Deleting the owner deletes its keys; service keys stay.
pub async fn owner_deletion_deletes_keys<F: StoreFactory>(factory: &F) {
    let (auth, _, owner) = keys_auth(factory).await;
    let issued = create(&auth, secret_key(owner, &["read"])).await;
    auth.define(SlugKind::Ability, "jobs:run", "Run jobs")
        .await
        .expect("define");
    let mut service = NewApiKey::new(KeyType::Secret, Environment::Live, None, "svc");
    service.scopes = Some(vec!["jobs:run".into()]);
    let service = create(&auth, service).await;
    auth.delete_user(owner).await.expect("delete");
    let r = verify(&auth, &issued, None).await;
    assert!(
        matches!(r, Err(Error::ApiKeyUnknown)),
        "verify: expected Error::ApiKeyUnknown, got {r:?}"
    );
    let r = auth.api_key(issued.key.id).await;
    assert!(
        matches!(r, Err(Error::ApiKeyUnknown)),
        "api_key: expected Error::ApiKeyUnknown, got {r:?}"
    );
    assert!(
        auth.list_api_keys(Some(owner))
            .await
            .expect("list")
            .is_empty(),
        "delete_user must delete the owner's keys: list_api_keys is empty"
    );
    verify(&auth, &service, Some("jobs:run"))
        .await
        .expect("service key untouched");
}

/// An [`ApiKeyStore`] in front of another: counts hash lookups, and delays usage writes
/// by `usage_delay` so a case can catch one in flight.
#[derive(Debug)]
struct SpyKeys {
    inner: Arc<dyn ApiKeyStore>,
    lookups: AtomicUsize,
    usage_delay: Duration,
    /// `record_key_usage` calls started.
    usage_writes: AtomicUsize,
}

impl SpyKeys {
    fn new(inner: Arc<dyn ApiKeyStore>, usage_delay: Duration) -> Self {
        SpyKeys {
            inner,
            lookups: AtomicUsize::new(0),
            usage_delay,
            usage_writes: AtomicUsize::new(0),
        }
    }

    fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl ApiKeyStore for SpyKeys {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        self.inner.create_api_key(key).await
    }

    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.api_key_by_hash(hash).await
    }

    async fn count_api_key_request(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        self.inner.count_api_key_request(id, now).await
    }

    async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.inner.api_key_by_id(id).await
    }

    async fn list_api_keys(&self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        self.inner.list_api_keys(owner).await
    }

    async fn update_api_key(
        &self,
        id: ApiKeyId,
        update: &ApiKeyUpdate,
    ) -> Result<ApiKey, StoreError> {
        self.inner.update_api_key(id, update).await
    }

    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.revoke_api_key(id, reason, now).await
    }

    async fn replace_api_key(
        &self,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner.replace_api_key(old, new, old_expires_at).await
    }

    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        self.usage_writes.fetch_add(1, Ordering::SeqCst);
        if self.usage_delay.is_positive() {
            tokio::time::sleep(self.usage_delay.unsigned_abs()).await;
        }
        self.inner.record_key_usage(usage).await
    }

    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        self.inner.delete_api_key(id).await
    }

    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.inner.purge_api_keys(now, limit).await
    }
}
