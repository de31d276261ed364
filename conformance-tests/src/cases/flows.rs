//! The flows of [`authkit::Auth`], end to end over the store under test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use authkit::config::{PasswordParams, SameSite};
use authkit::{
    Audience, Auth, BoxError, Config, Error, LoginAttempt, LoginHook, LoginOutcome, ManualClock,
    SeededRandomness, SigningKey, Stores, User,
};
use time::Duration;
use time::macros::datetime;

use crate::StoreFactory;

/// Argon2 parameters cheap enough for a test suite (the policy's default is OWASP's).
pub const FAST_PARAMS: PasswordParams = PasswordParams::new(1024, 1, 1);

/// The password the flow cases use.
pub const PASSWORD: &str = "correct horse battery staple";

/// A configuration for the flow cases: defaults, but cheap password hashing.
pub fn test_config() -> Config {
    let mut config = Config::new("https://auth.test", SigningKey::new([42u8; 32]));
    config.password.params = FAST_PARAMS;
    config
}

/// An [`Auth`] over fresh stores from `factory`, on a manual clock, with `config`.
pub async fn auth_with<F: StoreFactory>(factory: &F, config: Config) -> (Auth, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(datetime!(2030-01-01 00:00:00.123456 UTC)));
    let auth = auth_over(factory.stores().await, config, clock.clone(), 1);
    (auth, clock)
}

/// An [`Auth`] over `stores` on `clock` with `config`, its randomness seeded with `seed`.
/// Two `Auth`s sharing stores need different seeds, or they draw the same ids and secrets.
pub fn auth_over(stores: Stores, config: Config, clock: Arc<ManualClock>, seed: u64) -> Auth {
    Auth::builder(stores, config)
        .clock(clock)
        .randomness(Arc::new(SeededRandomness::new(seed)))
        .build()
        .expect("test config is valid")
}

/// A user with [`PASSWORD`].
pub async fn user_with_password(auth: &Auth, email: &str) -> User {
    let user = auth.create_user(email).await.expect("create user");
    auth.set_password(user.id, PASSWORD)
        .await
        .expect("set password");
    user
}

/// Register, set a password, log in with the email in another case.
pub async fn password_login<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = user_with_password(&auth, "  Alice@Example.COM ").await;
    assert_eq!(
        user.email, "alice@example.com",
        "create_user must store the email normalized (trimmed, lowercased)"
    );
    let logged = auth
        .login_password("ALICE@example.com", PASSWORD)
        .await
        .expect("login");
    assert_eq!(
        logged.id, user.id,
        "login_password with the email in another case logs the same user in"
    );
    let wrong = auth
        .login_password("alice@example.com", "not the password")
        .await;
    assert!(
        matches!(wrong, Err(Error::InvalidCredentials)),
        "login_password: expected Error::InvalidCredentials, got {wrong:?}"
    );
    let unknown = auth.login_password("bob@example.com", PASSWORD).await;
    assert!(
        matches!(unknown, Err(Error::InvalidCredentials)),
        "login_password: expected Error::InvalidCredentials, got {unknown:?}"
    );
    auth.create_user("nopass@example.com")
        .await
        .expect("create");
    let nopass = auth.login_password("nopass@example.com", PASSWORD).await;
    assert!(
        matches!(nopass, Err(Error::InvalidCredentials)),
        "login_password: expected Error::InvalidCredentials, got {nopass:?}"
    );
}

/// Emails differing only in case are one user, Unicode included; bad emails are refused.
pub async fn email_rules<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    auth.create_user("carol@example.com").await.expect("create");
    let taken = auth.create_user("CAROL@Example.com").await;
    assert!(
        matches!(taken, Err(Error::EmailTaken)),
        "create_user: expected Error::EmailTaken, got {taken:?}"
    );
    let user = user_with_password(&auth, "JÜRGEN@Exämple.DE").await;
    assert_eq!(
        user.email, "jürgen@exämple.de",
        "create_user must lowercase a non-ASCII email (Unicode lowercase)"
    );
    let logged = auth
        .login_password("jürgen@EXÄMPLE.de", PASSWORD)
        .await
        .expect("login");
    assert_eq!(
        logged.id, user.id,
        "login_password with a non-ASCII email in another case logs the same user in"
    );
    let nfc = user_with_password(&auth, "ren\u{e9}e@example.com").await;
    let logged = auth
        .login_password("Rene\u{301}e@example.com", PASSWORD)
        .await
        .expect("login with the NFD spelling");
    assert_eq!(
        logged.id, nfc.id,
        "login_password: an NFD spelling of an address finds the NFC account"
    );
    let twin = auth.create_user("rene\u{301}e@EXAMPLE.com").await;
    assert!(
        matches!(twin, Err(Error::EmailTaken)),
        "create_user: an NFD spelling of a registered address is taken, got {twin:?}"
    );
    let too_long = format!("{}@example.com", "a".repeat(250));
    for bad in [
        "",
        "   ",
        "no-at-sign",
        "@example.com",
        "a@",
        "a b@example.com",
        "car\u{200b}ol@example.com",
        "carol\u{202e}@example.com",
        &too_long,
    ] {
        let r = auth.create_user(bad).await;
        assert!(
            matches!(r, Err(Error::InvalidEmail(_))),
            "create_user({bad:?}): expected Error::InvalidEmail, got {r:?}"
        );
    }
}

/// `register` signs up with a password in one store call: a refused password writes
/// nothing, so the same email can register right after; a taken email is refused.
pub async fn register_in_one_call<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let short = auth.register("dora@example.com", "short").await;
    assert!(
        matches!(short, Err(Error::PasswordTooShort { .. })),
        "register: expected Error::PasswordTooShort, got {short:?}"
    );
    let lookup = auth.stores().users.user_by_email("dora@example.com").await;
    assert!(
        matches!(lookup, Ok(None)),
        "register refused for its password must write nothing, found {lookup:?}"
    );
    let user = auth
        .register("Dora@Example.com", PASSWORD)
        .await
        .expect("register after a refused password");
    assert_eq!(
        user.email, "dora@example.com",
        "register normalizes the email"
    );
    assert!(user.password_hash.is_some(), "register stores the hash");
    let logged = auth
        .login_password("dora@example.com", PASSWORD)
        .await
        .expect("login after register");
    assert_eq!(logged.id, user.id, "register: the new account logs in");
    let again = auth.register("DORA@example.com", PASSWORD).await;
    assert!(
        matches!(again, Err(Error::EmailTaken)),
        "register of a registered email: expected Error::EmailTaken, got {again:?}"
    );
    let bad = auth.register("no-at-sign", PASSWORD).await;
    assert!(
        matches!(bad, Err(Error::InvalidEmail(_))),
        "register: expected Error::InvalidEmail, got {bad:?}"
    );
}

/// Password length rules, counted in characters (minimum) and bytes (maximum).
pub async fn password_policy<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("dave@example.com").await.expect("create");
    let short = auth.set_password(user.id, "seven77").await;
    assert!(
        matches!(short, Err(Error::PasswordTooShort { min: 8 })),
        "set_password: expected Error::PasswordTooShort, got {short:?}"
    );
    let long = "x".repeat(1025);
    let r = auth.set_password(user.id, &long).await;
    assert!(
        matches!(r, Err(Error::PasswordTooLong { max: 1024 })),
        "set_password: expected Error::PasswordTooLong, got {r:?}"
    );
    let r = auth.login_password("dave@example.com", &long).await;
    assert!(
        matches!(r, Err(Error::PasswordTooLong { .. })),
        "login_password: expected Error::PasswordTooLong, got {r:?}"
    );
    let emoji = "🔑🔑🔑🔑🔑🔑🔑🔑";
    auth.set_password(user.id, emoji)
        .await
        .expect("eight characters suffice");
    auth.login_password("dave@example.com", emoji)
        .await
        .expect("unicode login");
    auth.set_password(user.id, &"y".repeat(1024))
        .await
        .expect("1024 bytes fit");
    let unknown = auth.set_password(authkit::UserId::new(), PASSWORD).await;
    assert!(
        matches!(unknown, Err(Error::UserNotFound)),
        "set_password: expected Error::UserNotFound, got {unknown:?}"
    );
}

/// A hash made with older parameters is replaced on the next successful login.
pub async fn outdated_hash_upgraded<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let old = Auth::builder(stores.clone(), test_config())
        .build()
        .expect("config");
    let user = user_with_password(&old, "erin@example.com").await;
    let mut config = test_config();
    config.password.params.memory_kib = 2048;
    let new = Auth::builder(stores, config).build().expect("config");
    new.login_password("erin@example.com", PASSWORD)
        .await
        .expect("login");
    let hash = new
        .user(user.id)
        .await
        .expect("user")
        .password_hash
        .expect("hash");
    assert!(
        hash.contains("m=2048"),
        "login_password must upgrade a hash with outdated parameters: {hash}"
    );
    new.login_password("erin@example.com", PASSWORD)
        .await
        .expect("login after upgrade");
}

#[derive(Debug, Default)]
struct CountingHook {
    refuse: bool,
    panic: bool,
    successes: AtomicUsize,
    failures: AtomicUsize,
}

#[async_trait]
impl LoginHook for CountingHook {
    async fn before_login(&self, attempt: &LoginAttempt) -> Result<(), BoxError> {
        assert!(!self.panic, "hook panics on purpose for {}", attempt.email);
        if self.refuse {
            Err("rate limited".into())
        } else {
            Ok(())
        }
    }

    async fn after_login(&self, _attempt: &LoginAttempt, outcome: LoginOutcome) {
        let counter = match outcome {
            LoginOutcome::Succeeded(_) => &self.successes,
            LoginOutcome::Failed => &self.failures,
        };
        counter.fetch_add(1, Ordering::SeqCst);
    }
}

async fn with_hook<F: StoreFactory>(factory: &F, hook: Arc<CountingHook>) -> Auth {
    Auth::builder(factory.stores().await, test_config())
        .login_hook(hook)
        .build()
        .expect("config")
}

/// The login hook sees outcomes, can refuse, and its panic refuses without spreading.
pub async fn login_hook<F: StoreFactory>(factory: &F) {
    let hook = Arc::new(CountingHook::default());
    let auth = with_hook(factory, hook.clone()).await;
    user_with_password(&auth, "frank@example.com").await;
    auth.login_password("frank@example.com", PASSWORD)
        .await
        .expect("login");
    let _ = auth
        .login_password("frank@example.com", "wrong password")
        .await;
    assert_eq!(
        hook.successes.load(Ordering::SeqCst),
        1,
        "the login hook sees exactly one success"
    );
    assert_eq!(
        hook.failures.load(Ordering::SeqCst),
        1,
        "the login hook sees exactly one failure"
    );

    let refusing = Arc::new(CountingHook {
        refuse: true,
        ..CountingHook::default()
    });
    let auth = with_hook(factory, refusing).await;
    user_with_password(&auth, "frank@example.com").await;
    let r = auth.login_password("frank@example.com", PASSWORD).await;
    assert!(
        matches!(r, Err(Error::LoginRefused(_))),
        "login_password: expected Error::LoginRefused, got {r:?}"
    );

    let panicking = Arc::new(CountingHook {
        panic: true,
        ..CountingHook::default()
    });
    let auth = with_hook(factory, panicking).await;
    user_with_password(&auth, "frank@example.com").await;
    let r = auth.login_password("frank@example.com", PASSWORD).await;
    assert!(
        matches!(r, Err(Error::LoginHookPanicked)),
        "login_password: expected Error::LoginHookPanicked, got {r:?}"
    );
}

/// A session authenticates, slides its idle deadline, and dies when idle too long.
pub async fn session_slides_and_idles_out<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    config.session.idle_ttl = Duration::hours(1);
    config.session.touch_step = Duration::ZERO;
    let (auth, clock) = auth_with(factory, config).await;
    let user = auth.create_user("gina@example.com").await.expect("create");
    let issued = auth.issue_session(user.id).await.expect("issue");
    let secret = issued.secret.expose();
    assert_eq!(
        auth.authenticate_session(secret).await.expect("fresh").id,
        issued.session.id,
        "authenticate_session of a fresh session returns it"
    );
    for _ in 0..3 {
        clock.advance(Duration::minutes(59));
        auth.authenticate_session(secret).await.expect("slid");
    }
    clock.advance(Duration::hours(1));
    let r = auth.authenticate_session(secret).await;
    assert!(
        matches!(r, Err(Error::SessionInvalid)),
        "authenticate_session: expected Error::SessionInvalid, got {r:?}"
    );
}

/// Sliding never carries a session past its absolute deadline, even with a touch step.
pub async fn session_absolute_cap<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    config.session.idle_ttl = Duration::hours(1);
    config.session.absolute_ttl = Duration::hours(3);
    let (auth, clock) = auth_with(factory, config).await;
    let user = auth.create_user("hank@example.com").await.expect("create");
    let issued = auth.issue_session(user.id).await.expect("issue");
    let deadline = issued.session.absolute_expires_at;
    while auth.now() + Duration::minutes(50) < deadline {
        clock.advance(Duration::minutes(50));
        let s = auth
            .authenticate_session(issued.secret.expose())
            .await
            .expect("live");
        assert!(
            s.idle_expires_at <= deadline,
            "authenticate_session must never slide past the absolute deadline"
        );
    }
    clock.set(deadline);
    let r = auth.authenticate_session(issued.secret.expose()).await;
    assert!(
        matches!(r, Err(Error::SessionInvalid)),
        "authenticate_session: expected Error::SessionInvalid, got {r:?}"
    );
}

/// Malformed session secrets never reach the store; unknown ones are invalid.
pub async fn session_bad_input<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("ivy@example.com").await.expect("create");
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    let oversize = format!("ses_{}", "A".repeat(10_000));
    for bad in [
        "",
        "ses_",
        "ses_short",
        pair.refresh_token.expose(),
        &oversize,
    ] {
        let r = auth.authenticate_session(bad).await;
        assert!(
            matches!(r, Err(Error::MalformedToken)),
            "authenticate_session({bad:?}): expected Error::MalformedToken, got {r:?}"
        );
    }
    let unknown = format!("ses_{}", "A".repeat(43));
    let r = auth.authenticate_session(&unknown).await;
    assert!(
        matches!(r, Err(Error::SessionInvalid)),
        "authenticate_session: expected Error::SessionInvalid, got {r:?}"
    );
    let r = auth.issue_session(authkit::UserId::new()).await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "issue_session: expected Error::UserNotFound, got {r:?}"
    );
}

/// Logout, logout everywhere else, and the list of live sessions.
pub async fn session_revocation<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("jack@example.com").await.expect("create");
    let a = auth.issue_session(user.id).await.expect("a");
    let b = auth.issue_session(user.id).await.expect("b");
    let c = auth.issue_session(user.id).await.expect("c");
    assert_eq!(
        auth.list_sessions(user.id).await.expect("list").len(),
        3,
        "list_sessions: the three sessions issued"
    );
    assert!(
        auth.revoke_session(a.session.id).await.expect("revoke"),
        "revoke_session of a live session returns true"
    );
    assert!(
        !auth.revoke_session(a.session.id).await.expect("again"),
        "a second revoke_session returns false"
    );
    let r = auth.authenticate_session(a.secret.expose()).await;
    assert!(
        matches!(r, Err(Error::SessionInvalid)),
        "authenticate_session: expected Error::SessionInvalid, got {r:?}"
    );
    assert_eq!(
        auth.revoke_other_sessions(user.id, Some(c.session.id))
            .await
            .expect("others"),
        1,
        "revoke_other_sessions keeps the one named and counts the other live one"
    );
    assert!(
        auth.authenticate_session(b.secret.expose()).await.is_err(),
        "authenticate_session of a session ended by revoke_other_sessions must fail"
    );
    auth.authenticate_session(c.secret.expose())
        .await
        .expect("kept");
    let live: Vec<_> = auth
        .list_sessions(user.id)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        live,
        vec![c.session.id],
        "list_sessions after revoke_other_sessions: the kept session only"
    );
}

/// The cookie carries the configured attributes.
pub async fn session_cookie<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    let (auth, _) = auth_with(factory, config.clone()).await;
    let user = auth.create_user("kim@example.com").await.expect("create");
    let issued = auth.issue_session(user.id).await.expect("issue");
    let cookie = auth.session_cookie(&issued);
    let expected = format!(
        "authkit_session={}; Path=/; Max-Age=2592000; HttpOnly; Secure; SameSite=Lax",
        issued.secret.expose()
    );
    assert_eq!(
        cookie, expected,
        "session_cookie must carry the configured attributes"
    );
    config.session.cookie.same_site = SameSite::Strict;
    config.session.cookie.http_only = false;
    config.session.cookie.domain = Some("example.com".into());
    let (auth, _) = auth_with(factory, config).await;
    assert_eq!(
        auth.clear_session_cookie(),
        "authkit_session=; Path=/; Max-Age=0; Domain=example.com; Secure; SameSite=Strict",
        "clear_session_cookie must carry the configured attributes and Max-Age=0"
    );
}

/// Access tokens verify for their audience only, and die at `exp`.
pub async fn access_token_checks<F: StoreFactory>(factory: &F) {
    let (auth, clock) = auth_with(factory, test_config()).await;
    let user = auth.create_user("lee@example.com").await.expect("create");
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    let claims = auth
        .verify_access(&pair.access_token, Audience::Bff)
        .expect("verifies");
    assert_eq!(claims.user_id(), user.id, "verify_access: sub is the user");
    assert_eq!(
        claims.iss, "https://auth.test",
        "verify_access: iss is the configured issuer"
    );
    let r = auth.verify_access(&pair.access_token, Audience::Api);
    assert!(
        matches!(r, Err(Error::WrongAudience)),
        "verify_access: expected Error::WrongAudience, got {r:?}"
    );
    let oversize = format!("{}.{}", pair.access_token, "A".repeat(10_000));
    let r = auth.verify_access(&oversize, Audience::Bff);
    assert!(
        matches!(r, Err(Error::MalformedToken)),
        "verify_access of an oversize token: expected Error::MalformedToken, got {r:?}"
    );
    for bad in ["", "not.a.jwt", "a.b", pair.refresh_token.expose()] {
        assert!(
            auth.verify_access(bad, Audience::Bff).is_err(),
            "verify_access of {bad:?} must fail"
        );
    }
    let mut other = test_config();
    other.tokens.signing_key = SigningKey::new([7u8; 32]);
    let (foreign, _) = auth_with(factory, other.clone()).await;
    let r = foreign.verify_access(&pair.access_token, Audience::Bff);
    assert!(
        matches!(r, Err(Error::InvalidToken)),
        "verify_access of a token signed with another key: expected Error::InvalidToken, got {r:?}"
    );
    other.tokens.signing_key = SigningKey::new([42u8; 32]);
    other.tokens.issuer = "https://elsewhere.test".into();
    let (foreign, _) = auth_with(factory, other).await;
    let r = foreign.verify_access(&pair.access_token, Audience::Bff);
    assert!(
        matches!(r, Err(Error::InvalidToken)),
        "verify_access of a token from another issuer: expected Error::InvalidToken, got {r:?}"
    );
    clock.set(pair.access_expires_at - Duration::seconds(1));
    auth.verify_access(&pair.access_token, Audience::Bff)
        .expect("still valid");
    clock.set(pair.access_expires_at);
    let r = auth.verify_access(&pair.access_token, Audience::Bff);
    assert!(
        matches!(r, Err(Error::TokenExpired)),
        "verify_access: expected Error::TokenExpired, got {r:?}"
    );
}

/// A token signed with another algorithm, even with the right key, is refused.
pub async fn access_token_algorithm_pinned<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("max@example.com").await.expect("create");
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    let claims = auth
        .verify_access(&pair.access_token, Audience::Bff)
        .expect("verifies");
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512);
    let key = jsonwebtoken::EncodingKey::from_secret(&[42u8; 32]);
    let hs512 = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
    let r = auth.verify_access(&hs512, Audience::Bff);
    assert!(
        matches!(r, Err(Error::InvalidToken)),
        "verify_access: expected Error::InvalidToken, got {r:?}"
    );
    let unsigned = format!(
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.",
        pair.access_token.split('.').nth(1).expect("payload")
    );
    assert!(
        auth.verify_access(&unsigned, Audience::Bff).is_err(),
        "verify_access must refuse an unsigned (alg none) token"
    );
}

/// A token signed with our own key is still refused when it is not one `Auth` would
/// issue: a `crit` header, a missing or foreign `typ`, a missing claim, `nbf` or `iat` in
/// the future, a lifetime over `tokens.max_access_ttl` (also for live tokens after the cap
/// is lowered), a `sub` that is not a user id.
pub async fn access_token_refuses_what_we_would_not_issue<F: StoreFactory>(factory: &F) {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Value, json};

    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("quinn@example.com").await.expect("create");
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    let claims = auth
        .verify_access(&pair.access_token, Audience::Bff)
        .expect("verifies");
    let ours = jsonwebtoken::decode_header(&pair.access_token).expect("header");
    assert_eq!(
        ours.typ.as_deref(),
        Some(authkit::ACCESS_TOKEN_TYP),
        "access tokens must be typed at+jwt (RFC 9068)"
    );
    let now = claims.iat;
    let base = serde_json::to_value(&claims).expect("claims as JSON");
    let key = EncodingKey::from_secret(&[42u8; 32]);
    let sign = |typ: Option<&str>, payload: &Value| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = ours.kid.clone();
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, payload, &key).expect("sign")
    };
    let with = |name: &str, value: Value| {
        let mut payload = base.clone();
        payload[name] = value;
        payload
    };
    let without = |name: &str| {
        let mut payload = base.clone();
        payload.as_object_mut().expect("object").remove(name);
        payload
    };
    let check = |what: &str, token: &str, ok: fn(&Error) -> bool| {
        let r = auth.verify_access(token, Audience::Bff);
        assert!(
            r.as_ref().is_err_and(ok),
            "verify_access of a token {what}: got {r:?}"
        );
    };

    auth.verify_access(&sign(Some("at+jwt"), &base), Audience::Bff)
        .expect("a token crafted as we issue them verifies");
    auth.verify_access(&sign(Some("JWT"), &base), Audience::Bff)
        .expect("typ JWT (tokens issued before at+jwt) verifies while accept_legacy_typ is set");
    check("with no typ", &sign(None, &base), |e| {
        matches!(e, Error::InvalidToken)
    });
    check("typed JOSE", &sign(Some("JOSE"), &base), |e| {
        matches!(e, Error::InvalidToken)
    });
    // {"alg":"HS256","typ":"at+jwt","crit":["exp"]}, signed with our key.
    let crit_header = "eyJhbGciOiJIUzI1NiIsInR5cCI6ImF0K2p3dCIsImNyaXQiOlsiZXhwIl19";
    let payload = pair.access_token.split('.').nth(1).expect("payload");
    let message = format!("{crit_header}.{payload}");
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256).expect("sign");
    check(
        "with a crit header",
        &format!("{message}.{signature}"),
        |e| matches!(e, Error::InvalidToken),
    );
    for name in ["sub", "iat", "exp", "jti"] {
        let r = auth.verify_access(&sign(Some("at+jwt"), &without(name)), Audience::Bff);
        assert!(
            matches!(r, Err(Error::ClaimInvalid(n)) if n == name),
            "verify_access of a token without {name}: expected Error::ClaimInvalid({name:?}), got {r:?}"
        );
    }
    check(
        "with nbf in the future",
        &sign(Some("at+jwt"), &with("nbf", json!(now + 60))),
        |e| matches!(e, Error::TokenNotYetValid),
    );
    let mut future = with("iat", json!(now + 60));
    future["exp"] = json!(now + 120);
    check(
        "with iat in the future",
        &sign(Some("at+jwt"), &future),
        |e| matches!(e, Error::TokenNotYetValid),
    );
    let over_cap = now + Duration::hours(24).whole_seconds() + 1;
    check(
        "living longer than max_access_ttl",
        &sign(Some("at+jwt"), &with("exp", json!(over_cap))),
        |e| matches!(e, Error::ClaimInvalid("exp")),
    );
    for sub in ["alice", "00000000-0000-0000-0000-000000000000"] {
        check(
            "whose sub is not a user id",
            &sign(Some("at+jwt"), &with("sub", json!(sub))),
            |e| matches!(e, Error::ClaimInvalid("sub")),
        );
    }

    // The cap is a promise at verification: lowering it cuts live tokens short.
    let mut lowered = test_config();
    lowered.tokens.access_ttl = Duration::minutes(5);
    lowered.tokens.max_access_ttl = Duration::minutes(10);
    lowered.tokens.profiles.clear();
    lowered.api_keys.machine_token_ttl = Duration::minutes(10);
    let (capped, _) = auth_with(factory, lowered).await;
    let r = capped.verify_access(&pair.access_token, Audience::Bff);
    assert!(
        matches!(r, Err(Error::ClaimInvalid("exp"))),
        "verify_access of a 15 min token under a 10 min cap: expected Error::ClaimInvalid(\"exp\"), got {r:?}"
    );
    // Once every instance writes at+jwt, the legacy typ can be refused.
    let mut strict = test_config();
    strict.tokens.accept_legacy_typ = false;
    let (strict, _) = auth_with(factory, strict).await;
    strict
        .verify_access(&pair.access_token, Audience::Bff)
        .expect("at+jwt verifies without the legacy typ");
    let r = strict.verify_access(&sign(Some("JWT"), &base), Audience::Bff);
    assert!(
        matches!(r, Err(Error::InvalidToken)),
        "verify_access of typ JWT with accept_legacy_typ off: expected Error::InvalidToken, got {r:?}"
    );
}

/// Refresh rotates; presenting a used token revokes the family.
pub async fn refresh_rotation_and_reuse<F: StoreFactory>(factory: &F) {
    let (auth, clock) = auth_with(factory, test_config()).await;
    let user = auth.create_user("nina@example.com").await.expect("create");
    let first = auth.issue_token_pair(user.id).await.expect("pair");
    let other = auth.issue_token_pair(user.id).await.expect("other family");
    clock.advance(Duration::minutes(1));
    let second = auth
        .refresh(first.refresh_token.expose())
        .await
        .expect("rotates");
    assert_eq!(
        second.family_id, first.family_id,
        "refresh must keep the family"
    );
    assert_ne!(
        second.refresh_token, first.refresh_token,
        "refresh must issue a new refresh token"
    );
    auth.verify_access(&second.access_token, Audience::Bff)
        .expect("new access verifies");
    let reused = auth.refresh(first.refresh_token.expose()).await;
    assert!(
        matches!(reused, Err(Error::RefreshReused { family, user: u }) if family == first.family_id && u == user.id),
        "refresh: expected Error::RefreshReused, got {reused:?}"
    );
    let r = auth.refresh(second.refresh_token.expose()).await;
    assert!(
        matches!(r, Err(Error::RefreshExpired)),
        "refresh of the successor of a reused token (family revoked): expected Error::RefreshExpired, got {r:?}"
    );
    auth.refresh(other.refresh_token.expose())
        .await
        .expect("other family untouched");
}

/// Malformed and unknown refresh tokens.
pub async fn refresh_bad_input<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("oscar@example.com").await.expect("create");
    let session = auth.issue_session(user.id).await.expect("session");
    for bad in ["", "rft_", "rft_x", session.secret.expose()] {
        let r = auth.refresh(bad).await;
        assert!(
            matches!(r, Err(Error::MalformedToken)),
            "refresh({bad:?}): expected Error::MalformedToken, got {r:?}"
        );
    }
    let r = auth.refresh(&format!("rft_{}", "A".repeat(43))).await;
    assert!(
        matches!(r, Err(Error::RefreshUnknown)),
        "refresh: expected Error::RefreshUnknown, got {r:?}"
    );
    let r = auth.issue_token_pair(authkit::UserId::new()).await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "issue_token_pair: expected Error::UserNotFound, got {r:?}"
    );
}

/// A refresh token dies at its expiry; a chain dies at its absolute deadline.
pub async fn refresh_expiry_and_chain_cap<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    config.tokens.refresh_ttl = Duration::days(10);
    config.tokens.refresh_chain_ttl = Duration::days(15);
    let (auth, clock) = auth_with(factory, config).await;
    let user = auth.create_user("pia@example.com").await.expect("create");
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    clock.advance(Duration::days(10));
    let r = auth.refresh(pair.refresh_token.expose()).await;
    assert!(
        matches!(r, Err(Error::RefreshExpired)),
        "refresh at the token's expiry: expected Error::RefreshExpired, got {r:?}"
    );

    let start = auth.now();
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    clock.advance(Duration::days(9));
    let next = auth
        .refresh(pair.refresh_token.expose())
        .await
        .expect("day 9");
    assert_eq!(
        next.refresh_expires_at,
        start + Duration::days(15),
        "refresh: the successor's expiry is capped by the chain deadline"
    );
    clock.set(start + Duration::days(15));
    let r = auth.refresh(next.refresh_token.expose()).await;
    assert!(
        matches!(r, Err(Error::RefreshChainExpired)),
        "refresh at the chain deadline: expected Error::RefreshChainExpired, got {r:?}"
    );
}

/// Inside the reuse grace a just-used token rotates once more; then reuse is reuse.
pub async fn refresh_reuse_grace<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    config.tokens.reuse_grace = Duration::seconds(10);
    let (auth, clock) = auth_with(factory, config).await;
    let user = auth.create_user("quinn@example.com").await.expect("create");
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    auth.refresh(pair.refresh_token.expose())
        .await
        .expect("first use");
    clock.advance(Duration::seconds(5));
    auth.refresh(pair.refresh_token.expose())
        .await
        .expect("retry inside grace");
    let r = auth.refresh(pair.refresh_token.expose()).await;
    assert!(
        matches!(r, Err(Error::RefreshReused { .. })),
        "refresh used a third time inside the grace: expected Error::RefreshReused, got {r:?}"
    );

    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    auth.refresh(pair.refresh_token.expose())
        .await
        .expect("first use");
    clock.advance(Duration::seconds(10));
    let r = auth.refresh(pair.refresh_token.expose()).await;
    assert!(
        matches!(r, Err(Error::RefreshReused { .. })),
        "refresh used again after the grace: expected Error::RefreshReused, got {r:?}"
    );
}

/// 32 concurrent refreshes of one token through `Auth`: one rotates, the rest see reuse.
pub async fn refresh_concurrent<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let auth = Arc::new(auth);
    let user = auth.create_user("rosa@example.com").await.expect("create");
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    let barrier = Arc::new(tokio::sync::Barrier::new(32));
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (auth, barrier) = (auth.clone(), barrier.clone());
            let token = pair.refresh_token.expose().to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                auth.refresh(&token).await
            })
        })
        .collect();
    let mut rotated = Vec::new();
    let mut reused = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(next) => rotated.push(next),
            Err(Error::RefreshReused { .. }) => reused += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(
        (rotated.len(), reused),
        (1, 31),
        "refresh raced 32 times on one token: one rotates, 31 see reuse"
    );
    let r = auth.refresh(rotated[0].refresh_token.expose()).await;
    assert!(
        r.is_err(),
        "refresh of the winner's token after the reuse revoked the family must fail: {r:?}"
    );
}

/// Revoking a family or all of a user's refresh tokens ends them.
pub async fn refresh_revocation<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("sam@example.com").await.expect("create");
    let a = auth.issue_token_pair(user.id).await.expect("a");
    let b = auth.issue_token_pair(user.id).await.expect("b");
    let c = auth.issue_token_pair(user.id).await.expect("c");
    assert_eq!(
        auth.revoke_family(a.family_id).await.expect("revoke"),
        1,
        "revoke_family counts the family's one unrevoked token"
    );
    assert!(
        matches!(
            auth.refresh(a.refresh_token.expose()).await,
            Err(Error::RefreshExpired)
        ),
        "refresh of a token of a revoked family: expected Error::RefreshExpired"
    );
    let b2 = auth
        .refresh(b.refresh_token.expose())
        .await
        .expect("b rotates");
    assert_eq!(
        auth.revoke_user_refresh(user.id).await.expect("all"),
        3,
        "revoke_user_refresh counts the user's unrevoked tokens: b (consumed), b2 and c"
    );
    assert!(
        auth.refresh(b2.refresh_token.expose()).await.is_err(),
        "refresh after revoke_user_refresh must fail (the rotated token)"
    );
    assert!(
        auth.refresh(c.refresh_token.expose()).await.is_err(),
        "refresh after revoke_user_refresh must fail (another family)"
    );
}

/// Deleting a user ends its sessions, refresh tokens and logins.
pub async fn delete_user_ends_everything<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = user_with_password(&auth, "tess@example.com").await;
    let session = auth.issue_session(user.id).await.expect("session");
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    auth.delete_user(user.id).await.expect("delete");
    assert!(
        auth.authenticate_session(session.secret.expose())
            .await
            .is_err(),
        "authenticate_session after delete_user must fail"
    );
    assert!(
        auth.refresh(pair.refresh_token.expose()).await.is_err(),
        "refresh after delete_user must fail"
    );
    let r = auth.login_password("tess@example.com", PASSWORD).await;
    assert!(
        matches!(r, Err(Error::InvalidCredentials)),
        "login_password: expected Error::InvalidCredentials, got {r:?}"
    );
    assert!(
        matches!(auth.delete_user(user.id).await, Err(Error::UserNotFound)),
        "a second delete_user: expected Error::UserNotFound"
    );
    assert!(
        matches!(auth.user(user.id).await, Err(Error::UserNotFound)),
        "user after delete_user: expected Error::UserNotFound"
    );
}

/// Purge removes expired rows in batches and counts them.
pub async fn purge_counts<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    config.purge_batch = 2;
    let (auth, clock) = auth_with(factory, config).await;
    let user = auth.create_user("uma@example.com").await.expect("create");
    for _ in 0..5 {
        auth.issue_session(user.id).await.expect("session");
        auth.issue_token_pair(user.id).await.expect("pair");
    }
    assert_eq!(
        auth.purge_expired().await.expect("purge").total(),
        0,
        "purge_expired with nothing expired purges nothing"
    );
    clock.advance(Duration::days(31));
    let live = auth.issue_session(user.id).await.expect("live session");
    let report = auth.purge_expired().await.expect("purge");
    assert_eq!(
        (report.sessions, report.refresh_tokens),
        (5, 5),
        "purge_expired after 31 days: every session and refresh token, in batches of 2"
    );
    auth.authenticate_session(live.secret.expose())
        .await
        .expect("live one kept");
}

/// A named change that breaks a valid configuration.
type Breaker = (&'static str, fn(&mut Config));

/// Invalid configuration fails construction with a clear error.
pub async fn invalid_config_refused<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let breakers: Vec<Breaker> = vec![
        ("idle over absolute", |c| {
            c.session.idle_ttl = Duration::days(31)
        }),
        ("short key", |c| {
            c.tokens.signing_key = SigningKey::new([1u8; 31])
        }),
        ("access over cap", |c| {
            c.tokens.access_ttl = Duration::hours(25)
        }),
        ("refresh over cap", |c| {
            c.tokens.refresh_ttl = Duration::days(91)
        }),
        ("zero access", |c| c.tokens.access_ttl = Duration::ZERO),
        ("negative grace", |c| {
            c.tokens.reuse_grace = Duration::seconds(-1)
        }),
        ("empty issuer", |c| c.tokens.issuer.clear()),
        ("zero min password", |c| c.password.min_chars = 0),
        ("argon2 memory", |c| c.password.params.memory_kib = 1),
        ("SameSite=None without Secure", |c| {
            c.session.cookie.same_site = SameSite::None;
            c.session.cookie.secure = false;
        }),
        ("cookie name", |c| c.session.cookie.name = "a b".into()),
        ("purge batch", |c| c.purge_batch = 0),
    ];
    for (what, breaker) in breakers {
        let mut config = test_config();
        breaker(&mut config);
        let r = Auth::builder(stores.clone(), config).build();
        assert!(
            matches!(r, Err(Error::InvalidConfig(_))),
            "builder({what}): expected Error::InvalidConfig, got {r:?}"
        );
    }
}

/// Every token the issuer makes verifies, and every single-byte change to one is refused:
/// access tokens, session secrets and refresh tokens alike. Sync: proptest drives it.
pub fn issued_tokens_resist_tampering<F: StoreFactory>(factory: &F) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config as RunnerConfig, TestRunner};

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (auth, user) = rt.block_on(async {
        let (auth, _) = auth_with(factory, test_config()).await;
        let user = auth.create_user("vera@example.com").await.expect("create");
        (auth, user)
    });
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 48,
        ..RunnerConfig::default()
    });
    let strategy = (any::<prop::sample::Index>(), 1u8..=255);
    runner
        .run(&strategy, |(index, flip)| {
            rt.block_on(async {
                let pair = auth.issue_token_pair(user.id).await.expect("pair");
                let session = auth.issue_session(user.id).await.expect("session");
                auth.verify_access(&pair.access_token, Audience::Bff)
                    .expect("fresh token verifies");
                auth.authenticate_session(session.secret.expose())
                    .await
                    .expect("fresh session");

                let access = mutate(&pair.access_token, &index, flip);
                prop_assert!(
                    auth.verify_access(&access, Audience::Bff).is_err(),
                    "{access}"
                );
                let secret = mutate(session.secret.expose(), &index, flip);
                prop_assert!(
                    auth.authenticate_session(&secret).await.is_err(),
                    "{secret}"
                );
                let refresh = mutate(pair.refresh_token.expose(), &index, flip);
                prop_assert!(auth.refresh(&refresh).await.is_err(), "{refresh}");
                auth.refresh(pair.refresh_token.expose())
                    .await
                    .expect("the original still rotates");
                Ok(())
            })
        })
        .expect("no tampered token accepted");
}

/// Changes one byte of `text` (by XOR with a non-zero `flip`), keeping it a `String` by
/// replacing invalid UTF-8 lossily: still a different token.
fn mutate(text: &str, index: &proptest::sample::Index, flip: u8) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let i = index.index(bytes.len());
    bytes[i] ^= flip;
    String::from_utf8_lossy(&bytes).into_owned()
}
