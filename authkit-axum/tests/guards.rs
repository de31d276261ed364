//! Every guard, extractor and status of the layer, through `tower::ServiceExt::oneshot`
//! over the memory store.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use authkit::{
    Auth, Config, Environment, KeyType, ManualClock, NewApiKey, Predicate, RateLimit, SigningKey,
    SlugKind, Stores, UserId,
};
use authkit_axum::{
    AuthLayer, Authenticated, CurrentUser, Guard, HttpConfig, Key, MachineToken, UserSession,
    UserToken,
};
use authkit_memory::MemoryStore;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use axum::routing::{get, post};
use time::Duration;
use time::macros::datetime;
use tower::ServiceExt;

const COOKIE: &str = "authkit_session";

struct Rig {
    auth: Arc<Auth>,
    clock: Arc<ManualClock>,
    user: UserId,
}

async fn rig() -> Rig {
    rig_with_cache(Duration::ZERO).await
}

/// The rig with the core's session cache kept `cache_ttl`.
async fn rig_with_cache(cache_ttl: Duration) -> Rig {
    let clock = Arc::new(ManualClock::new(datetime!(2030-01-01 00:00 UTC)));
    let mut config = Config::new("https://app.example", SigningKey::new([7; 32]));
    config.session.touch_step = Duration::ZERO;
    config.session.cache_ttl = cache_ttl;
    let auth = Auth::builder(Stores::from_backend(MemoryStore::default()), config)
        .clock(clock.clone())
        .build()
        .unwrap();
    let user = auth.create_user("ada@example.com").await.unwrap().id;
    Rig {
        auth: Arc::new(auth),
        clock,
        user,
    }
}

async fn who(Authenticated(p): Authenticated) -> String {
    format!("{:?}", p.user_id())
}

async fn guest_page(session: Option<UserSession>) -> &'static str {
    match session {
        Some(_) => "user",
        None => "guest",
    }
}

fn app(rig: &Rig, config: HttpConfig) -> Router {
    let predicate_free = Router::new()
        .route("/login-required", get(who).post(who))
        .route_layer(Guard::login())
        .merge(
            Router::new()
                .route("/page", get(who))
                .route_layer(Guard::login_page("/login")),
        )
        .merge(
            Router::new()
                .route("/login", get(|| async { "login form" }))
                .route_layer(Guard::guest("/home")),
        )
        .merge(
            Router::new()
                .route("/service", get(|Key(k): Key| async move { k.name }))
                .route(
                    "/machine",
                    get(|MachineToken(c): MachineToken| async move { c.jti }),
                )
                .route_layer(Guard::service_key()),
        )
        .merge(
            Router::new()
                .route("/reports", get(who))
                .route_layer(Guard::scopes(["reports:read"])),
        )
        .route("/open", get(guest_page))
        .route("/unguarded", post(|| async { "ok" }))
        .route(
            "/token",
            get(|UserToken(c): UserToken| async move { c.aud }),
        )
        .route(
            "/me",
            get(|CurrentUser(u): CurrentUser| async move { u.0.to_string() }),
        );
    predicate_free.layer(AuthLayer::new(rig.auth.clone(), config))
}

async fn send(app: &Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

fn get_with(uri: &str, header: (&str, &str)) -> Request<Body> {
    Request::get(uri)
        .header(header.0, header.1)
        .body(Body::empty())
        .unwrap()
}

fn header(response: &Response<Body>, name: &str) -> Option<String> {
    let value = response.headers().get(name)?;
    Some(value.to_str().unwrap().to_owned())
}

async fn text(response: Response<Body>) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

async fn session_cookie(rig: &Rig) -> String {
    let issued = rig.auth.issue_session(rig.user).await.unwrap();
    format!("{COOKIE}={}", issued.secret.expose())
}

async fn key(rig: &Rig, owner: Option<UserId>, scopes: &[&str]) -> String {
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, owner, "k");
    new.scopes = Some(scopes.iter().map(|s| s.to_string()).collect());
    rig.auth
        .create_api_key(new)
        .await
        .unwrap()
        .secret
        .expose()
        .to_owned()
}

#[tokio::test]
async fn login_required_answers_401_with_a_bare_challenge_without_a_credential() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let response = send(
        &app,
        Request::get("/login-required").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some("Bearer")
    );
}

#[tokio::test]
async fn a_session_cookie_a_bearer_token_and_a_key_each_log_in() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let user = format!("{:?}", Some(rig.user));
    let cookie = session_cookie(&rig).await;
    let pair = rig.auth.issue_token_pair(rig.user).await.unwrap();
    let bearer = format!("Bearer {}", pair.access_token);
    let key = key(&rig, Some(rig.user), &["reports:read"]).await;
    for credential in [
        ("cookie", cookie.as_str()),
        ("authorization", &bearer),
        ("x-api-key", &key),
    ] {
        let response = send(&app, get_with("/login-required", credential)).await;
        assert_eq!(response.status(), StatusCode::OK, "{credential:?}");
        assert_eq!(text(response).await, user, "{credential:?}");
    }
    let response = send(&app, get_with("/token", ("authorization", &bearer))).await;
    assert_eq!(text(response).await, "bff");
}

/// The guard answers a session the cache holds without the store (a revocation made in
/// the store alone is seen once the entry is stale), and a revocation through `Auth`
/// at once.
#[tokio::test]
async fn a_cached_session_passes_until_stale_or_revoked() {
    let rig = rig_with_cache(Duration::seconds(30)).await;
    let app = app(&rig, HttpConfig::default());
    let status = async |cookie: &str| {
        let response = send(&app, get_with("/login-required", ("cookie", cookie))).await;
        response.status()
    };
    let behind_its_back = rig.auth.issue_session(rig.user).await.unwrap();
    let cookie = format!("{COOKIE}={}", behind_its_back.secret.expose());
    assert_eq!(status(&cookie).await, StatusCode::OK, "read and cached");
    let sessions = &rig.auth.stores().sessions;
    assert!(
        sessions
            .revoke_session(behind_its_back.session.id)
            .await
            .unwrap()
    );
    assert_eq!(
        status(&cookie).await,
        StatusCode::OK,
        "answered from the cache"
    );
    rig.clock.advance(Duration::seconds(31));
    assert_eq!(status(&cookie).await, StatusCode::UNAUTHORIZED, "stale");

    let revoked = rig.auth.issue_session(rig.user).await.unwrap();
    let cookie = format!("{COOKIE}={}", revoked.secret.expose());
    assert_eq!(status(&cookie).await, StatusCode::OK, "read and cached");
    assert!(rig.auth.revoke_session(revoked.session.id).await.unwrap());
    assert_eq!(status(&cookie).await, StatusCode::UNAUTHORIZED, "forgotten");
}

#[tokio::test]
async fn a_bearer_or_key_sent_on_purpose_wins_over_the_cookie() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let cookie = session_cookie(&rig).await;
    let key = key(&rig, Some(rig.user), &["reports:read"]).await;
    let pair = rig.auth.issue_token_pair(rig.user).await.unwrap();
    let bearer = format!("Bearer {}", pair.access_token);
    let all = Request::get("/token")
        .header("cookie", &cookie)
        .header("x-api-key", &key)
        .header("authorization", &bearer)
        .body(Body::empty())
        .unwrap();
    let response = send(&app, all).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "bff");
    let key_and_cookie = Request::get("/reports")
        .header("cookie", &cookie)
        .header("x-api-key", &key)
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, key_and_cookie).await.status(),
        StatusCode::OK,
        "a session has no scopes; the key has"
    );
}

#[tokio::test]
async fn a_bad_token_is_invalid_token_and_a_bad_cookie_is_not() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let bad_bearer = send(
        &app,
        get_with("/login-required", ("authorization", "Bearer nope")),
    )
    .await;
    assert_eq!(bad_bearer.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&bad_bearer, "www-authenticate").as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
    let cookie = session_cookie(&rig).await;
    let secret = cookie.split_once('=').unwrap().1.to_owned();
    let session = rig.auth.authenticate_session(&secret).await.unwrap();
    rig.auth.revoke_session(session.id).await.unwrap();
    let revoked = send(&app, get_with("/login-required", ("cookie", &cookie))).await;
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&revoked, "www-authenticate").as_deref(),
        Some("Bearer")
    );
    assert_eq!(text(revoked).await, r#"{"error":"unauthenticated"}"#);
}

#[tokio::test]
async fn a_page_sends_guests_to_login_with_the_path_and_login_sends_users_home() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let response = send(
        &app,
        Request::get("/page?tab=2").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header(&response, "location").as_deref(),
        Some("/login?next=/page%3Ftab%3D2")
    );
    let cookie = session_cookie(&rig).await;
    let response = send(&app, get_with("/login", ("cookie", &cookie))).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&response, "location").as_deref(), Some("/home"));
    let stale = send(
        &app,
        get_with("/login", ("cookie", "authkit_session=ses_stale")),
    )
    .await;
    assert_eq!(stale.status(), StatusCode::OK, "a stale cookie is a guest");
}

#[tokio::test]
async fn optional_extractors_see_guests_and_stale_credentials_as_none() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let cookie = session_cookie(&rig).await;
    let none = send(&app, Request::get("/open").body(Body::empty()).unwrap()).await;
    assert_eq!(text(none).await, "guest");
    let stale = send(
        &app,
        get_with("/open", ("cookie", "authkit_session=ses_stale")),
    )
    .await;
    assert_eq!(text(stale).await, "guest");
    let user = send(&app, get_with("/open", ("cookie", &cookie))).await;
    assert_eq!(text(user).await, "user");
}

#[tokio::test]
async fn service_routes_take_service_keys_only() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let user_key = key(&rig, Some(rig.user), &["reports:read"]).await;
    let refused = send(&app, get_with("/service", ("x-api-key", &user_key))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // A service key's scopes are abilities, registered first.
    rig.auth
        .define(SlugKind::Ability, "reports:read", "Read reports")
        .await
        .unwrap();
    let service_key = key(&rig, None, &["reports:read"]).await;
    let served = send(&app, get_with("/service", ("x-api-key", &service_key))).await;
    assert_eq!(served.status(), StatusCode::OK);
    let machine = rig
        .auth
        .issue_machine_token(&service_key, None, None)
        .await
        .unwrap();
    let bearer = format!("Bearer {}", machine.token);
    let served = send(&app, get_with("/machine", ("authorization", &bearer))).await;
    assert_eq!(served.status(), StatusCode::OK);
    let pair = rig.auth.issue_token_pair(rig.user).await.unwrap();
    let user_bearer = format!("Bearer {}", pair.access_token);
    let refused = send(&app, get_with("/machine", ("authorization", &user_bearer))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_predicate_guard_lets_through_whom_it_holds_for() {
    let rig = rig().await;
    rig.auth
        .define(SlugKind::Role, "admin", "Administrators")
        .await
        .unwrap();
    let admins = rig
        .auth
        .check_predicate(Predicate::has_role("admin"))
        .await
        .unwrap();
    let app = Router::new()
        .route("/admin", get(|| async { "in" }))
        .route_layer(Guard::allowed(admins))
        .layer(AuthLayer::new(rig.auth.clone(), HttpConfig::default()));
    let cookie = session_cookie(&rig).await;
    let refused = send(&app, get_with("/admin", ("cookie", &cookie))).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    rig.auth.assign_role(rig.user, "admin").await.unwrap();
    let served = send(&app, get_with("/admin", ("cookie", &cookie))).await;
    assert_eq!(served.status(), StatusCode::OK);
    let guest = send(&app, Request::get("/admin").body(Body::empty()).unwrap()).await;
    assert_eq!(guest.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_missing_scope_is_403_insufficient_scope_naming_it() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let narrow = key(&rig, Some(rig.user), &["billing:read"]).await;
    let response = send(&app, get_with("/reports", ("x-api-key", &narrow))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        header(&response, "www-authenticate").as_deref(),
        Some("Bearer error=\"insufficient_scope\", scope=\"reports:read\"")
    );
    let wide = key(&rig, Some(rig.user), &["reports:*"]).await;
    let response = send(&app, get_with("/reports", ("x-api-key", &wide))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = session_cookie(&rig).await;
    let response = send(&app, get_with("/reports", ("cookie", &cookie))).await;
    assert_eq!(
        response.status(),
        StatusCode::FORBIDDEN,
        "a session has no scopes"
    );
}

#[tokio::test]
async fn a_rate_limited_key_is_429_with_retry_after() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(rig.user), "k");
    new.rate_limit = Some(RateLimit {
        requests: 1,
        window: Duration::seconds(30),
    });
    let key = rig.auth.create_api_key(new).await.unwrap().secret;
    let first = send(
        &app,
        get_with("/login-required", ("x-api-key", key.expose())),
    )
    .await;
    assert_eq!(first.status(), StatusCode::OK);
    rig.clock.advance(Duration::seconds(10));
    let second = send(
        &app,
        get_with("/login-required", ("x-api-key", key.expose())),
    )
    .await;
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(header(&second, "retry-after").as_deref(), Some("20"));
}

fn post_with(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut builder = Request::post(uri).header("host", "app.example");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn cookie_requests_from_other_origins_are_refused_and_token_requests_are_not() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let cookie = session_cookie(&rig).await;
    let cross = [
        ("cookie", cookie.as_str()),
        ("sec-fetch-site", "cross-site"),
    ];
    let refused = send(&app, post_with("/login-required", &cross)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(text(refused).await, r#"{"error":"cross_origin_request"}"#);
    let evil_origin = [
        ("cookie", cookie.as_str()),
        ("origin", "https://evil.example"),
    ];
    let refused = send(&app, post_with("/login-required", &evil_origin)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let same = [
        ("cookie", cookie.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    assert_eq!(
        send(&app, post_with("/login-required", &same))
            .await
            .status(),
        StatusCode::OK
    );
    let own_origin = [
        ("cookie", cookie.as_str()),
        ("origin", "http://app.example"),
    ];
    assert_eq!(
        send(&app, post_with("/login-required", &own_origin))
            .await
            .status(),
        StatusCode::OK
    );
    let key = key(&rig, Some(rig.user), &["reports:read"]).await;
    let keyed = [
        ("x-api-key", key.as_str()),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(
        send(&app, post_with("/login-required", &keyed))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn nothing_is_verified_until_a_handler_or_guard_asks() {
    let rig = rig().await;
    let app = app(&rig, HttpConfig::default());
    let cookie = session_cookie(&rig).await;
    let secret = cookie.split_once('=').unwrap().1.to_owned();
    let before = rig.auth.authenticate_session(&secret).await.unwrap();
    rig.clock.advance(Duration::minutes(10));
    // Cross-site and unverified: the route asks nothing, so nothing is refused or slid.
    let cross = [
        ("cookie", cookie.as_str()),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(
        send(&app, post_with("/unguarded", &cross)).await.status(),
        StatusCode::OK
    );
    let sessions = rig.auth.list_sessions(rig.user).await.unwrap();
    assert_eq!(
        sessions[0].last_seen_at, before.last_seen_at,
        "the store was touched"
    );
    send(&app, get_with("/login-required", ("cookie", &cookie))).await;
    let sessions = rig.auth.list_sessions(rig.user).await.unwrap();
    assert!(
        sessions[0].last_seen_at > before.last_seen_at,
        "the guard verified"
    );
}

fn from_peer(mut request: Request<Body>, peer: &str) -> Request<Body> {
    let addr: SocketAddr = peer.parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

#[tokio::test]
async fn allow_lists_see_the_forwarded_client_only_behind_trusted_proxies() {
    let rig = rig().await;
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(rig.user), "k");
    new.allowed_ips = vec!["198.51.100.0/24".into()];
    let key = rig.auth.create_api_key(new).await.unwrap().secret;
    let request = || {
        let r = Request::get("/me")
            .header("x-api-key", key.expose())
            .header("x-forwarded-for", "198.51.100.7")
            .body(Body::empty())
            .unwrap();
        from_peer(r, "10.0.0.1:40000")
    };
    let untrusting = app(&rig, HttpConfig::default());
    assert_eq!(
        send(&untrusting, request()).await.status(),
        StatusCode::FORBIDDEN
    );
    let config = HttpConfig {
        trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
        ..HttpConfig::default()
    };
    let trusting = app(&rig, config);
    let response = send(&trusting, request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, rig.user.0.to_string());
}

#[tokio::test]
async fn a_route_without_the_layer_is_a_500_not_a_pass() {
    let app: Router = Router::new()
        .route(
            "/me",
            get(|CurrentUser(u): CurrentUser| async move { u.0.to_string() }),
        )
        .merge(
            Router::new()
                .route("/guarded", get(|| async { "in" }))
                .route_layer(Guard::login()),
        );
    let me = send(&app, Request::get("/me").body(Body::empty()).unwrap()).await;
    assert_eq!(me.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let guarded = send(&app, Request::get("/guarded").body(Body::empty()).unwrap()).await;
    assert_eq!(guarded.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
