//! The router of standard flows, end to end through `oneshot` over the memory store, with
//! a mailer that keeps what it is asked to send.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use authkit::{Auth, BoxError, Config, SigningKey, Stores};
use authkit_axum::{AuthLayer, Guard, HttpConfig, Key, Mail, MailKind, Mailer, flows};
use authkit_memory::MemoryStore;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Default)]
struct Outbox(Mutex<Vec<Mail>>);

#[async_trait::async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: Mail) -> Result<(), BoxError> {
        self.0.lock().unwrap().push(mail);
        Ok(())
    }
}

impl Outbox {
    /// The secret of the last mail of `kind` to `to`, waiting briefly for background
    /// sends.
    async fn last(&self, to: &str, kind: MailKind) -> Option<String> {
        for _ in 0..100 {
            let found = self
                .0
                .lock()
                .unwrap()
                .iter()
                .rev()
                .find(|m| m.to == to && m.kind == kind)
                .map(|m| m.secret.expose().to_owned());
            if found.is_some() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

struct Rig {
    app: Router,
    outbox: Arc<Outbox>,
}

fn rig() -> Rig {
    let mut config = Config::new("https://app.example", SigningKey::new([7; 32]));
    config.session.cookie.secure = false;
    let auth = Arc::new(
        Auth::builder(Stores::from_backend(MemoryStore::default()), config)
            .build()
            .unwrap(),
    );
    let outbox = Arc::new(Outbox::default());
    let api = Router::new()
        .route("/api/whoami", get(|Key(k): Key| async move { k.name }))
        .route_layer(Guard::login());
    let app = Router::new()
        .nest("/auth", flows(auth.clone(), outbox.clone()))
        .merge(api)
        .layer(AuthLayer::new(auth, HttpConfig::default()));
    Rig { app, outbox }
}

/// A request as a same-origin page would send it.
fn call(method: &str, uri: &str, cookie: Option<&str>, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "app.example")
        .header("sec-fetch-site", "same-origin");
    if let Some(cookie) = cookie {
        builder = builder.header("cookie", cookie);
    }
    match body {
        Some(json) => builder
            .header("content-type", "application/json")
            .body(Body::from(json.to_string()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

async fn send(rig: &Rig, request: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let response: Response<Body> = rig.app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, cookie, body)
}

/// `name=value` of a `Set-Cookie` header.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "correct horse battery staple";

async fn register(rig: &Rig) -> String {
    let body = json!({ "email": EMAIL, "password": PASSWORD });
    let (status, cookie, _) = send(rig, call("POST", "/auth/register", None, Some(body))).await;
    assert_eq!(status, StatusCode::CREATED);
    pair(&cookie.unwrap())
}

async fn login(rig: &Rig, cookie: Option<&str>) -> String {
    let body = json!({ "email": EMAIL, "password": PASSWORD });
    let (status, set, _) = send(rig, call("POST", "/auth/login", cookie, Some(body))).await;
    assert_eq!(status, StatusCode::OK);
    pair(&set.unwrap())
}

async fn is_live(rig: &Rig, cookie: &str) -> bool {
    let (status, _, _) = send(rig, call("GET", "/auth/sessions", Some(cookie), None)).await;
    status == StatusCode::OK
}

#[tokio::test]
async fn sign_up_verify_log_out_log_in_and_revoke_another_session() {
    let rig = rig();
    let first = register(&rig).await;
    let token = rig.outbox.last(EMAIL, MailKind::VerifyEmail).await.unwrap();
    let verify = json!({ "token": token });
    let (status, set, body) = send(
        &rig,
        call("POST", "/auth/email/verify", Some(&first), Some(verify)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["email_verified"], true);
    let renewed = pair(&set.expect("verifying from a session renews its id"));
    assert_ne!(renewed, first);
    assert!(
        !is_live(&rig, &first).await,
        "the pre-verification session id still works"
    );
    assert!(is_live(&rig, &renewed).await);

    let (status, cleared, _) = send(&rig, call("POST", "/auth/logout", Some(&renewed), None)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(cleared.unwrap().contains("Max-Age=0"));
    assert!(!is_live(&rig, &renewed).await);

    let laptop = login(&rig, None).await;
    let phone = login(&rig, None).await;
    let (_, _, list) = send(&rig, call("GET", "/auth/sessions", Some(&laptop), None)).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let (status, _, body) = send(
        &rig,
        call("POST", "/auth/sessions/revoke-others", Some(&laptop), None),
    )
    .await;
    assert_eq!(
        (status, body["revoked"].as_u64()),
        (StatusCode::OK, Some(1))
    );
    assert!(!is_live(&rig, &phone).await);
    assert!(is_live(&rig, &laptop).await);
}

#[tokio::test]
async fn logging_in_over_a_session_replaces_it() {
    let rig = rig();
    let first = register(&rig).await;
    let second = login(&rig, Some(&first)).await;
    assert_ne!(first, second);
    assert!(!is_live(&rig, &first).await);
    let (_, _, list) = send(&rig, call("GET", "/auth/sessions", Some(&second), None)).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["current"], true);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_one_answer() {
    let rig = rig();
    register(&rig).await;
    let wrong = json!({ "email": EMAIL, "password": "wrong password entirely" });
    let unknown = json!({ "email": "bob@example.com", "password": PASSWORD });
    let a = send(&rig, call("POST", "/auth/login", None, Some(wrong))).await;
    let b = send(&rig, call("POST", "/auth/login", None, Some(unknown))).await;
    assert_eq!(a.0, StatusCode::UNAUTHORIZED);
    assert_eq!(a, b);
}

#[tokio::test]
async fn keys_are_created_used_rotated_and_revoked_by_their_owner_only() {
    let rig = rig();
    let owner = register(&rig).await;
    let new = json!({ "name": "ci", "scopes": ["reports:read"] });
    let (status, _, created) =
        send(&rig, call("POST", "/auth/keys", Some(&owner), Some(new))).await;
    assert_eq!(status, StatusCode::CREATED);
    let secret = created["secret"].as_str().unwrap().to_owned();
    let id = created["key"]["id"].as_str().unwrap().to_owned();
    let whoami = |key: &str| {
        Request::get("/api/whoami")
            .header("x-api-key", key)
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&rig, whoami(&secret)).await.0, StatusCode::OK);

    // A key cannot manage keys; another user cannot touch this one.
    let by_key = Request::get("/auth/keys")
        .header("x-api-key", &secret)
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&rig, by_key).await.0, StatusCode::FORBIDDEN);
    let body = json!({ "email": "eve@example.com", "password": PASSWORD });
    let (_, eve, _) = send(&rig, call("POST", "/auth/register", None, Some(body))).await;
    let eve = pair(&eve.unwrap());
    let path = format!("/auth/keys/{id}");
    assert_eq!(
        send(&rig, call("DELETE", &path, Some(&eve), None)).await.0,
        StatusCode::NOT_FOUND
    );

    let rotate = format!("/auth/keys/{id}/rotate");
    let (status, _, rotated) = send(&rig, call("POST", &rotate, Some(&owner), None)).await;
    assert_eq!(status, StatusCode::CREATED);
    let fresh = rotated["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        send(&rig, whoami(&secret)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&rig, whoami(&fresh)).await.0, StatusCode::OK);
    let fresh_id = rotated["key"]["id"].as_str().unwrap().to_owned();
    let path = format!("/auth/keys/{fresh_id}");
    assert_eq!(
        send(&rig, call("DELETE", &path, Some(&owner), None))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(send(&rig, whoami(&fresh)).await.0, StatusCode::UNAUTHORIZED);
    let (_, _, list) = send(&rig, call("GET", "/auth/keys", Some(&owner), None)).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("key_hash").is_none())
    );
}

#[tokio::test]
async fn password_reset_answers_alike_for_unknown_emails_and_ends_sessions() {
    let rig = rig();
    let session = register(&rig).await;
    rig.outbox.last(EMAIL, MailKind::VerifyEmail).await.unwrap();
    let sent_before = rig.outbox.count();
    let unknown = json!({ "email": "nobody@example.com" });
    let (status, _, _) = send(
        &rig,
        call("POST", "/auth/password/forgot", None, Some(unknown)),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let known = json!({ "email": EMAIL });
    let (status, _, _) = send(
        &rig,
        call("POST", "/auth/password/forgot", None, Some(known)),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let token = rig
        .outbox
        .last(EMAIL, MailKind::PasswordReset)
        .await
        .unwrap();
    assert_eq!(
        rig.outbox.count(),
        sent_before + 1,
        "mail to an unknown email"
    );
    let reset = json!({ "token": token, "password": "a brand new long password" });
    let (status, _, _) = send(
        &rig,
        call("POST", "/auth/password/reset", None, Some(reset)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!is_live(&rig, &session).await);
    let old = json!({ "email": EMAIL, "password": PASSWORD });
    let (status, _, _) = send(&rig, call("POST", "/auth/login", None, Some(old))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn magic_links_and_codes_log_in() {
    let rig = rig();
    register(&rig).await;
    let ask = json!({ "email": EMAIL });
    send(
        &rig,
        call("POST", "/auth/magic-link", None, Some(ask.clone())),
    )
    .await;
    let token = rig.outbox.last(EMAIL, MailKind::MagicLink).await.unwrap();
    let body = json!({ "token": token });
    let (status, set, _) = send(
        &rig,
        call("POST", "/auth/magic-link/login", None, Some(body.clone())),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(is_live(&rig, &pair(&set.unwrap())).await);
    let again = send(
        &rig,
        call("POST", "/auth/magic-link/login", None, Some(body)),
    )
    .await;
    assert_eq!(again.0, StatusCode::UNAUTHORIZED, "a link works once");

    send(&rig, call("POST", "/auth/otp", None, Some(ask))).await;
    let code = rig.outbox.last(EMAIL, MailKind::LoginCode).await.unwrap();
    let body = json!({ "email": EMAIL, "code": code });
    let (status, set, _) = send(&rig, call("POST", "/auth/otp/login", None, Some(body))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(is_live(&rig, &pair(&set.unwrap())).await);
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_gets_the_same_refusal_as_garbage() {
    let rig = rig();
    register(&rig).await;
    let creds = json!({ "email": EMAIL, "password": PASSWORD });
    let (status, _, pair) = send(&rig, call("POST", "/auth/login/token", None, Some(creds))).await;
    assert_eq!(status, StatusCode::OK);
    let first = json!({ "refresh_token": pair["refresh_token"] });
    let (status, _, next) = send(
        &rig,
        call("POST", "/auth/refresh", None, Some(first.clone())),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(next["refresh_token"], pair["refresh_token"]);
    let replayed = send(&rig, call("POST", "/auth/refresh", None, Some(first))).await;
    assert_eq!(replayed.0, StatusCode::UNAUTHORIZED);
    let unknown =
        json!({ "refresh_token": format!("{}x", &next["refresh_token"].as_str().unwrap()[..10]) });
    let garbage = send(&rig, call("POST", "/auth/refresh", None, Some(unknown))).await;
    let revoked = json!({ "refresh_token": next["refresh_token"] });
    let family_gone = send(&rig, call("POST", "/auth/refresh", None, Some(revoked))).await;
    assert_eq!(family_gone, replayed, "reuse revoked the family");
    assert!(garbage.0.is_client_error());
}

#[tokio::test]
async fn a_code_locked_after_wrong_tries_is_429_with_retry_after() {
    let rig = rig();
    register(&rig).await;
    send(
        &rig,
        call("POST", "/auth/otp", None, Some(json!({ "email": EMAIL }))),
    )
    .await;
    rig.outbox.last(EMAIL, MailKind::LoginCode).await.unwrap();
    let wrong = json!({ "email": EMAIL, "code": "000000x" });
    for _ in 0..6 {
        send(
            &rig,
            call("POST", "/auth/otp/login", None, Some(wrong.clone())),
        )
        .await;
    }
    let response = rig
        .app
        .clone()
        .oneshot(call("POST", "/auth/otp/login", None, Some(wrong)))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "60");
}

#[tokio::test]
async fn a_bad_body_is_a_400_and_changes_nothing() {
    let rig = rig();
    let bad = call(
        "POST",
        "/auth/register",
        None,
        Some(json!({ "email": EMAIL })),
    );
    let (status, _, body) = send(&rig, bad).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({ "error": "invalid_request" })
        )
    );
    let mut not_json = call("POST", "/auth/login", None, None);
    *not_json.body_mut() = Body::from("{not json");
    not_json
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    assert_eq!(send(&rig, not_json).await.0, StatusCode::BAD_REQUEST);
    let (status, _, _) = send(
        &rig,
        call(
            "POST",
            "/auth/register",
            None,
            Some(json!({ "email": "no-at-sign", "password": PASSWORD })),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(rig.outbox.count(), 0);
    register(&rig).await;
}
