//! Machine tokens (client credentials, RFC 6749 §4.4) end to end: a service key stored
//! in the store under test is exchanged for an `api` access token and verified; user
//! keys, revoked and expired keys, uncovered scopes and disallowed addresses are refused;
//! machine and user tokens never pass for each other.

use std::net::IpAddr;

use authkit::{
    Audience, Auth, Config, Environment, Error, IssuedApiKey, KeyType, NewApiKey, SlugKind,
};
use time::Duration;

use super::flows::{auth_with, test_config};
use crate::StoreFactory;
use crate::fixtures::MICRO;

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address")
}

/// Registers the abilities a service key of these cases holds.
async fn define_abilities(auth: &Auth) {
    for slug in ["reports:read", "reports:export"] {
        auth.define(SlugKind::Ability, slug, slug)
            .await
            .expect("define ability");
    }
}

/// A secret live service key holding `reports:read` and `reports:export`, adjusted by
/// `edit` before it is created.
async fn service_key(auth: &Auth, edit: impl FnOnce(&mut NewApiKey)) -> IssuedApiKey {
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, None, "billing service");
    new.scopes = Some(strings(&["reports:read", "reports:export"]));
    edit(&mut new);
    auth.create_api_key(new).await.expect("create service key")
}

async fn keys_auth<F: StoreFactory>(
    factory: &F,
    config: Config,
) -> (Auth, std::sync::Arc<authkit::ManualClock>) {
    let (auth, clock) = auth_with(factory, config).await;
    define_abilities(&auth).await;
    (auth, clock)
}

/// A service key is exchanged for a token that verifies as a machine token, carries the
/// key's id and scopes, counts as a use of the key, and is refused by the user verify
/// calls; a user's token is refused as a machine token.
pub async fn service_key_exchanged_and_verified<F: StoreFactory>(factory: &F) {
    let (auth, _) = keys_auth(factory, test_config()).await;
    let key = service_key(&auth, |_| {}).await;
    let token = auth
        .issue_machine_token(key.secret.expose(), None, None)
        .await
        .expect("issue_machine_token of a service key");
    let claims = auth
        .verify_machine_token(&token.token, Some("reports:export"))
        .expect("verify_machine_token of a token just issued");
    assert_eq!(
        claims.client_id, key.key.id,
        "issue_machine_token: client_id (and sub) is the key's id"
    );
    assert_eq!(
        claims.scopes,
        ["reports:read", "reports:export"],
        "issue_machine_token without scopes: every scope of the key"
    );
    assert_eq!(claims.iss, "https://auth.test", "machine token: iss");
    let r = auth.verify_machine_token(&token.token, Some("billing:read"));
    assert!(
        matches!(&r, Err(Error::ScopeMissing(s)) if s == "billing:read"),
        "verify_machine_token with a scope the token lacks: expected Error::ScopeMissing, got {r:?}"
    );
    for (call, r) in [
        (
            "verify_api_token",
            auth.verify_api_token(&token.token, None),
        ),
        (
            "verify_access(Api)",
            auth.verify_access(&token.token, Audience::Api),
        ),
    ] {
        assert!(
            matches!(r, Err(Error::WrongTokenKind)),
            "{call} of a machine token: expected Error::WrongTokenKind, got {r:?}"
        );
    }

    let user = auth.create_user("human@example.com").await.expect("user");
    let api = auth
        .issue_api_token(user.id, &strings(&["reports:read"]), None)
        .await
        .expect("api token");
    let r = auth.verify_machine_token(&api.token, None);
    assert!(
        matches!(r, Err(Error::WrongTokenKind)),
        "verify_machine_token of a user's api token: expected Error::WrongTokenKind, got {r:?}"
    );

    auth.flush_key_usage().await.expect("flush");
    let stored = auth.api_key(key.key.id).await.expect("read key");
    assert_eq!(
        stored.usage_count, 1,
        "issue_machine_token verifies the key through verify_api_key: one use recorded"
    );
}

/// The token lives `api_keys.machine_token_ttl`, 1 h by default: valid a second before,
/// expired at it; a configured lifetime is honoured, and never past the key's expiry.
pub async fn lifetime_defaults_to_one_hour<F: StoreFactory>(factory: &F) {
    let (auth, clock) = keys_auth(factory, test_config()).await;
    let key = service_key(&auth, |_| {}).await;
    let issued_at = auth.now();
    let token = auth
        .issue_machine_token(key.secret.expose(), None, None)
        .await
        .expect("issue");
    assert_eq!(
        token.expires_at,
        issued_at + Duration::hours(1),
        "issue_machine_token: 1 h by default"
    );
    let claims = auth.verify_machine_token(&token.token, None).expect("live");
    assert_eq!(claims.exp - claims.iat, 3600, "machine token: exp - iat");
    clock.advance(Duration::hours(1) - Duration::seconds(1));
    auth.verify_machine_token(&token.token, None)
        .expect("a second before expiry");
    clock.advance(Duration::seconds(1));
    let r = auth.verify_machine_token(&token.token, None);
    assert!(
        matches!(r, Err(Error::TokenExpired)),
        "verify_machine_token at expiry: expected Error::TokenExpired, got {r:?}"
    );

    let mut config = test_config();
    config.api_keys.machine_token_ttl = Duration::minutes(5);
    config.tokens.access_ttl_jitter = Duration::minutes(3);
    let (auth, _) = keys_auth(factory, config).await;
    let key = service_key(&auth, |_| {}).await;
    let issued_at = auth.now();
    let token = auth
        .issue_machine_token(key.secret.expose(), None, None)
        .await
        .expect("issue");
    assert_eq!(
        token.expires_at,
        issued_at + Duration::minutes(5),
        "issue_machine_token: the configured lifetime, without jitter"
    );
    let expiring = service_key(&auth, |new| {
        new.expires_at = Some(issued_at + Duration::minutes(2));
    })
    .await;
    let token = auth
        .issue_machine_token(expiring.secret.expose(), None, None)
        .await
        .expect("issue");
    assert_eq!(
        token.expires_at,
        issued_at + Duration::minutes(2),
        "issue_machine_token: a token never outlives its key"
    );
}

/// A key owned by a user is not a client's credential: refused, and so is a publishable
/// service key (not confidential).
pub async fn user_keys_refused<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    config.api_keys.publishable_scopes = strings(&["reports:read"]);
    let (auth, _) = keys_auth(factory, config).await;
    let user = auth.create_user("owner@example.com").await.expect("user");
    let mut owned = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user.id), "mine");
    owned.scopes = Some(strings(&["reports:read"]));
    let owned = auth.create_api_key(owned).await.expect("user key");
    let r = auth
        .issue_machine_token(owned.secret.expose(), None, None)
        .await;
    assert!(
        matches!(r, Err(Error::ClientCredentialsNotAllowed)),
        "issue_machine_token of a user's key: expected Error::ClientCredentialsNotAllowed, got {r:?}"
    );
    let public = service_key(&auth, |new| {
        new.key_type = KeyType::Publishable;
        new.scopes = Some(strings(&["reports:read"]));
    })
    .await;
    let r = auth
        .issue_machine_token(public.secret.expose(), None, None)
        .await;
    assert!(
        matches!(r, Err(Error::ClientCredentialsNotAllowed)),
        "issue_machine_token of a publishable service key: expected Error::ClientCredentialsNotAllowed, got {r:?}"
    );
}

/// Revoked and expired keys get no token; one issued before the revocation lives out its
/// (short) lifetime, since verification looks nothing up.
pub async fn revoked_and_expired_keys_refused<F: StoreFactory>(factory: &F) {
    let (auth, clock) = keys_auth(factory, test_config()).await;
    let key = service_key(&auth, |_| {}).await;
    let before = auth
        .issue_machine_token(key.secret.expose(), None, None)
        .await
        .expect("issue");
    auth.revoke_api_key(key.key.id, "leaked")
        .await
        .expect("revoke");
    let r = auth
        .issue_machine_token(key.secret.expose(), None, None)
        .await;
    assert!(
        matches!(r, Err(Error::ApiKeyRevoked)),
        "issue_machine_token of a revoked key: expected Error::ApiKeyRevoked, got {r:?}"
    );
    auth.verify_machine_token(&before.token, None)
        .expect("a token issued before the revocation is self-contained");

    let expires = auth.now() + Duration::minutes(30);
    let expiring = service_key(&auth, |new| new.expires_at = Some(expires)).await;
    clock.set(expires - MICRO);
    let r = auth
        .issue_machine_token(expiring.secret.expose(), None, None)
        .await;
    assert!(
        matches!(r, Err(Error::ApiKeyExpired)),
        "issue_machine_token a microsecond before the key expires: no whole second left, \
         expected Error::ApiKeyExpired, got {r:?}"
    );
    clock.set(expires - Duration::seconds(2));
    let last = auth
        .issue_machine_token(expiring.secret.expose(), None, None)
        .await
        .expect("two seconds before the key expires");
    assert_eq!(
        last.expires_at, expires,
        "issue_machine_token: capped by the key's expiry"
    );
    clock.set(expires);
    let r = auth
        .issue_machine_token(expiring.secret.expose(), None, None)
        .await;
    assert!(
        matches!(r, Err(Error::ApiKeyExpired)),
        "issue_machine_token of an expired key: expected Error::ApiKeyExpired, got {r:?}"
    );
    let r = auth
        .issue_machine_token("sk_live_not-a-key", None, None)
        .await;
    assert!(
        matches!(r, Err(Error::ApiKeyMalformed)),
        "issue_machine_token of a malformed key: expected Error::ApiKeyMalformed, got {r:?}"
    );
}

/// Requested scopes must each be covered by the key's; duplicates are granted once;
/// an empty request gets a token with no scope.
pub async fn uncovered_scopes_refused<F: StoreFactory>(factory: &F) {
    let (auth, _) = keys_auth(factory, test_config()).await;
    let key = service_key(&auth, |_| {}).await;
    let plain = key.secret.expose();
    for uncovered in ["reports:delete", "reports:*", "*", "billing:read"] {
        let asked = strings(&["reports:read", uncovered]);
        let r = auth.issue_machine_token(plain, Some(&asked), None).await;
        assert!(
            matches!(&r, Err(Error::ScopeMissing(s)) if s == uncovered),
            "issue_machine_token asking for {uncovered}: expected Error::ScopeMissing, got {r:?}"
        );
    }
    let asked = strings(&["reports:export", "reports:export"]);
    let token = auth
        .issue_machine_token(plain, Some(&asked), None)
        .await
        .expect("a covered scope");
    let claims = auth.verify_machine_token(&token.token, None).expect("ok");
    assert_eq!(
        claims.scopes,
        ["reports:export"],
        "issue_machine_token: the scopes asked for, once each"
    );
    let r = auth.verify_machine_token(&token.token, Some("reports:read"));
    assert!(
        matches!(r, Err(Error::ScopeMissing(_))),
        "a narrowed token does not cover the key's other scopes: got {r:?}"
    );
    let token = auth
        .issue_machine_token(plain, Some(&[]), None)
        .await
        .expect("no scope asked");
    let claims = auth.verify_machine_token(&token.token, None).expect("ok");
    assert!(
        claims.scopes.is_empty(),
        "issue_machine_token with an empty list: no scope"
    );
    let r = auth
        .issue_machine_token(plain, Some(&strings(&["Not A Scope"])), None)
        .await;
    assert!(
        matches!(r, Err(Error::InvalidScope(_))),
        "issue_machine_token of a malformed scope: expected Error::InvalidScope, got {r:?}"
    );
}

/// The key's IP allow-list holds for the exchange: an address off it, or none, is refused.
pub async fn disallowed_ips_refused<F: StoreFactory>(factory: &F) {
    let (auth, _) = keys_auth(factory, test_config()).await;
    let key = service_key(&auth, |new| {
        new.allowed_ips = strings(&["10.0.0.0/8", "2001:db8::1"]);
    })
    .await;
    let plain = key.secret.expose();
    for allowed in ["10.2.3.4", "2001:db8::1"] {
        auth.issue_machine_token(plain, None, Some(ip(allowed)))
            .await
            .unwrap_or_else(|e| panic!("issue_machine_token from {allowed}: {e:?}"));
    }
    for refused in ["11.0.0.1", "2001:db8::2"] {
        let r = auth
            .issue_machine_token(plain, None, Some(ip(refused)))
            .await;
        assert!(
            matches!(r, Err(Error::IpNotAllowed)),
            "issue_machine_token from {refused}: expected Error::IpNotAllowed, got {r:?}"
        );
    }
    let r = auth.issue_machine_token(plain, None, None).await;
    assert!(
        matches!(r, Err(Error::IpNotAllowed)),
        "issue_machine_token with an allow-list and no address: expected Error::IpNotAllowed, got {r:?}"
    );
}
