//! Machine tokens (client credentials) and access-token jitter through `Auth`, over the
//! in-memory store, on a manual clock and seeded randomness.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)] // test code

use std::sync::Arc;

use authkit::config::Profile;
use authkit::{
    Audience, Auth, Config, Environment, Error, IssuedApiKey, KeyType, ManualClock, NewApiKey,
    SeededRandomness, SigningKey, SlugKind, Stores,
};
use authkit_memory::MemoryStore;
use time::Duration;
use time::macros::datetime;

fn config() -> Config {
    let mut config = Config::new("https://auth.test", SigningKey::new([3u8; 32]));
    config.password.params = authkit::config::PasswordParams::new(1024, 1, 1);
    config
}

fn new_auth(config: Config, seed: u64) -> (Auth, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(datetime!(2030-01-01 00:00:00.5 UTC)));
    let auth = Auth::builder(Stores::from_backend(MemoryStore::new()), config)
        .clock(clock.clone())
        .randomness(Arc::new(SeededRandomness::new(seed)))
        .build()
        .expect("valid config");
    (auth, clock)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A service key holding the abilities `reports:read` and `reports:export`.
async fn service_key(auth: &Auth) -> IssuedApiKey {
    for slug in ["reports:read", "reports:export"] {
        auth.define(SlugKind::Ability, slug, slug)
            .await
            .expect("define");
    }
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, None, "billing svc");
    new.scopes = Some(strings(&["reports:read", "reports:export"]));
    auth.create_api_key(new).await.expect("service key")
}

#[tokio::test]
async fn machine_and_user_tokens_refuse_each_other() {
    let (auth, _) = new_auth(config(), 1);
    let key = service_key(&auth).await;
    let machine = auth
        .issue_machine_token(key.secret.expose(), None, None)
        .await
        .expect("exchange");
    let claims = auth
        .verify_machine_token(&machine.token, Some("reports:export"))
        .expect("verifies");
    assert_eq!(claims.client_id, key.key.id);
    assert_eq!(claims.scopes, ["reports:read", "reports:export"]);

    for r in [
        auth.verify_api_token(&machine.token, None),
        auth.verify_api_token(&machine.token, Some("reports:read")),
        auth.verify_access(&machine.token, Audience::Api),
    ] {
        assert!(matches!(r, Err(Error::WrongTokenKind)), "{r:?}");
    }
    let r = auth.verify_access(&machine.token, Audience::Bff);
    assert!(matches!(r, Err(Error::WrongAudience)), "{r:?}");

    let user = auth.create_user("u@example.com").await.unwrap();
    let api = auth
        .issue_api_token(user.id, &strings(&["reports:read"]), None)
        .await
        .unwrap();
    let r = auth.verify_machine_token(&api.token, None);
    assert!(matches!(r, Err(Error::WrongTokenKind)), "{r:?}");
    let pair = auth.issue_token_pair(user.id).await.unwrap();
    let r = auth.verify_machine_token(&pair.access_token, None);
    assert!(matches!(r, Err(Error::WrongAudience)), "{r:?}");
    assert_eq!(
        Error::WrongTokenKind.kind(),
        authkit::ErrorKind::Unauthenticated
    );
}

#[tokio::test]
async fn only_confidential_service_keys_are_exchanged() {
    let mut config = config();
    config.api_keys.publishable_scopes = strings(&["public:read"]);
    let (auth, _) = new_auth(config, 2);
    let user = auth.create_user("owner@example.com").await.unwrap();
    let owned = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user.id), "mine");
    let owned = auth.create_api_key(owned).await.unwrap();
    let r = auth
        .issue_machine_token(owned.secret.expose(), None, None)
        .await;
    assert!(
        matches!(r, Err(Error::ClientCredentialsNotAllowed)),
        "{r:?}"
    );
    auth.define(SlugKind::Ability, "public:read", "public")
        .await
        .unwrap();
    let mut public = NewApiKey::new(KeyType::Publishable, Environment::Live, None, "web");
    public.scopes = Some(strings(&["public:read"]));
    let public = auth.create_api_key(public).await.unwrap();
    let r = auth
        .issue_machine_token(public.secret.expose(), None, None)
        .await;
    assert!(
        matches!(r, Err(Error::ClientCredentialsNotAllowed)),
        "{r:?}"
    );
    assert_eq!(
        Error::ClientCredentialsNotAllowed.kind(),
        authkit::ErrorKind::Forbidden
    );
}

#[tokio::test]
async fn requested_scopes_must_be_covered() {
    let (auth, _) = new_auth(config(), 3);
    let key = service_key(&auth).await;
    let plain = key.secret.expose();
    let one = auth
        .issue_machine_token(
            plain,
            Some(&strings(&["reports:read", "reports:read"])),
            None,
        )
        .await
        .unwrap();
    let claims = auth.verify_machine_token(&one.token, None).unwrap();
    assert_eq!(claims.scopes, ["reports:read"], "asked for, once");
    let r = auth.verify_machine_token(&one.token, Some("reports:export"));
    assert!(
        matches!(&r, Err(Error::ScopeMissing(s)) if s == "reports:export"),
        "{r:?}"
    );
    let none = auth
        .issue_machine_token(plain, Some(&[]), None)
        .await
        .unwrap();
    assert!(
        auth.verify_machine_token(&none.token, None)
            .unwrap()
            .scopes
            .is_empty()
    );
    for uncovered in ["reports:delete", "reports:*", "*"] {
        let r = auth
            .issue_machine_token(plain, Some(&strings(&["reports:read", uncovered])), None)
            .await;
        assert!(
            matches!(&r, Err(Error::ScopeMissing(s)) if s == uncovered),
            "{r:?}"
        );
    }
    let r = auth
        .issue_machine_token(plain, Some(&strings(&["Bad Scope"])), None)
        .await;
    assert!(matches!(r, Err(Error::InvalidScope(_))), "{r:?}");
}

#[tokio::test]
async fn lifetime_is_the_setting_capped_by_the_key() {
    let mut config = config();
    // Jitter on the standard profile must not touch machine tokens.
    config.tokens.access_ttl_jitter = Duration::minutes(5);
    let (auth, clock) = new_auth(config.clone(), 4);
    let key = service_key(&auth).await;
    let now = auth.now();
    let token = auth
        .issue_machine_token(key.secret.expose(), None, None)
        .await
        .unwrap();
    assert_eq!(token.expires_at, now + Duration::hours(1), "default 1 h");
    let claims = auth.verify_machine_token(&token.token, None).unwrap();
    assert_eq!(claims.exp - claims.iat, 3600);
    clock.advance(Duration::hours(1) - Duration::seconds(1));
    auth.verify_machine_token(&token.token, None)
        .expect("still live");
    clock.advance(Duration::seconds(1));
    let r = auth.verify_machine_token(&token.token, None);
    assert!(matches!(r, Err(Error::TokenExpired)), "{r:?}");

    config.api_keys.machine_token_ttl = Duration::minutes(10);
    let (auth, key) = auth_with_key_expiring(config, Duration::minutes(3)).await;
    let now = auth.now();
    let token = auth
        .issue_machine_token(key.secret.expose(), None, None)
        .await
        .unwrap();
    assert_eq!(
        token.expires_at,
        now + Duration::minutes(3),
        "never past the key's expiry"
    );
}

/// An `Auth` with `config` and a service key expiring `after` from now.
async fn auth_with_key_expiring(config: Config, after: Duration) -> (Auth, IssuedApiKey) {
    let (auth, _) = new_auth(config, 5);
    auth.define(SlugKind::Ability, "jobs:run", "jobs")
        .await
        .unwrap();
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, None, "cron");
    new.scopes = Some(strings(&["jobs:run"]));
    new.expires_at = Some(auth.now() + after);
    let key = auth.create_api_key(new).await.unwrap();
    (auth, key)
}

#[tokio::test]
async fn a_key_within_its_last_second_gets_no_token() {
    let (auth, key) = auth_with_key_expiring(config(), Duration::milliseconds(400)).await;
    let r = auth
        .issue_machine_token(key.secret.expose(), None, None)
        .await;
    assert!(matches!(r, Err(Error::ApiKeyExpired)), "{r:?}");
}

#[tokio::test]
async fn jitter_shortens_standard_access_tokens_only() {
    let jitter = Duration::minutes(5);
    let mut config = config();
    config.tokens.access_ttl_jitter = jitter;
    config.tokens.profiles.insert(
        "fixed".into(),
        Profile::new(Duration::minutes(15), Duration::days(1), Duration::days(1)),
    );
    let (auth, _) = new_auth(config.clone(), 6);
    let user = auth.create_user("j@example.com").await.unwrap();
    let ttl = Duration::minutes(15);
    let mut lifetimes = Vec::new();
    for _ in 0..40 {
        let now = auth.now();
        let pair = auth.issue_token_pair(user.id).await.unwrap();
        let next = auth.refresh(pair.refresh_token.expose()).await.unwrap();
        let api = auth.issue_api_token(user.id, &[], None).await.unwrap();
        let standard = auth
            .issue_api_token(user.id, &[], Some("standard"))
            .await
            .unwrap();
        for at in [
            pair.access_expires_at,
            next.access_expires_at,
            api.expires_at,
            standard.expires_at,
        ] {
            let lifetime = at - now;
            assert!(
                lifetime <= ttl && lifetime >= ttl - jitter,
                "{lifetime} outside [{}, {ttl}]",
                ttl - jitter
            );
            lifetimes.push(lifetime);
        }
        let fixed = auth
            .issue_token_pair_with(user.id, Some("fixed"))
            .await
            .unwrap();
        assert_eq!(
            fixed.access_expires_at,
            now + ttl,
            "a named profile: no jitter"
        );
        let refreshed = auth.refresh(fixed.refresh_token.expose()).await.unwrap();
        assert_eq!(
            refreshed.access_expires_at,
            now + ttl,
            "nor on its refreshes"
        );
        let api = auth
            .issue_api_token(user.id, &[], Some("fixed"))
            .await
            .unwrap();
        assert_eq!(api.expires_at, now + ttl);
    }
    lifetimes.sort();
    lifetimes.dedup();
    assert!(
        lifetimes.len() > 100,
        "160 draws spread: {}",
        lifetimes.len()
    );
    assert!(
        lifetimes[0] < ttl - jitter / 2 && lifetimes[lifetimes.len() - 1] > ttl - jitter / 2,
        "draws on both halves of the range"
    );

    // Deterministic: the same seed draws the same lifetimes.
    let draw = |seed| {
        let config = config.clone();
        async move {
            let (auth, _) = new_auth(config, seed);
            let user = auth.create_user("d@example.com").await.unwrap();
            let pair = auth.issue_token_pair(user.id).await.unwrap();
            pair.access_expires_at - auth.now()
        }
    };
    assert_eq!(draw(9).await, draw(9).await);

    // Without jitter, exactly the configured lifetime.
    let (plain, _) = new_auth(self::config(), 7);
    let user = plain.create_user("p@example.com").await.unwrap();
    let now = plain.now();
    let pair = plain.issue_token_pair(user.id).await.unwrap();
    assert_eq!(pair.access_expires_at, now + ttl);
}
