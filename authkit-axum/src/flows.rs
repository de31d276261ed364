//! The router of the standard flows; see [`flows`].

use std::sync::Arc;

use authkit::{
    ApiKey, ApiKeyId, Auth, BoxError, Environment, KeyType, NewApiKey, OneTimeIssue, Secret,
    Session, SessionId, Timestamp, User, UserId,
};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Principal, Rejection, RequestAuth};

/// What the flows ask an application to deliver by email.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailKind {
    /// A link to verify the address (`POST /email/verify` with the token).
    VerifyEmail,
    /// A link to set a new password (`POST /password/reset` with the token).
    PasswordReset,
    /// A link to log in (`POST /magic-link/login` with the token).
    MagicLink,
    /// A code to log in with (`POST /otp/login`).
    LoginCode,
}

/// One message to deliver.
#[derive(Debug)]
pub struct Mail {
    /// The recipient, the user's normalized email.
    pub to: String,
    /// What the message is for.
    pub kind: MailKind,
    /// The token or code; put it in the link or the text, nowhere else.
    pub secret: Secret,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Delivers the flows' mail; the application implements it (SMTP, a mail API, an
/// outbox table).
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends `mail`; an error is logged, or answered 503 where the caller is logged in.
    async fn send(&self, mail: Mail) -> Result<(), BoxError>;
}

#[derive(Clone)]
struct Flows {
    auth: Arc<Auth>,
    mailer: Arc<dyn Mailer>,
}

/// The router of the standard flows, JSON in and out, to nest under a prefix of the
/// application's choice behind an [`AuthLayer`](crate::AuthLayer) over the same `auth`:
///
/// | route | who | does |
/// |---|---|---|
/// | `POST /register` `{email, password}` | anyone | creates the user, logs in (cookie), mails a verification link |
/// | `POST /login` `{email, password}` | anyone | a new session (cookie); the one presented, if any, ends |
/// | `POST /login/token` `{email, password}` | anyone | a token pair for a first-party programmatic client |
/// | `POST /logout` | anyone | ends the session presented, clears the cookie |
/// | `POST /refresh` `{refresh_token}` | anyone | rotates the pair |
/// | `GET /sessions` | account | the user's live sessions, the current one marked |
/// | `DELETE /sessions/{id}` | account | ends one of the user's sessions |
/// | `POST /sessions/revoke-others` | session | ends every other session of the user |
/// | `POST /email/verification` | account | mails a new verification link |
/// | `POST /email/verify` `{token}` | anyone | marks the email verified; a session presented gets a new id |
/// | `POST /password/forgot` `{email}` | anyone | mails a reset link (202 whether or not the email exists) |
/// | `POST /password/reset` `{token, password}` | anyone | sets the password; every session and refresh token of the user ends |
/// | `POST /magic-link` `{email}` | anyone | mails a login link (202 either way) |
/// | `POST /magic-link/login` `{token}` | anyone | a new session (cookie) |
/// | `POST /otp` `{email}` | anyone | mails a code (202 either way) |
/// | `POST /otp/login` `{email, code}` | anyone | a new session (cookie) |
/// | `GET /keys`, `POST /keys` `{name, scopes?}` | account | the user's API keys; a new one (its secret shown once) |
/// | `POST /keys/{id}/rotate`, `DELETE /keys/{id}` | account | a new secret for a key (the old one dies at once); revokes a key |
///
/// "Account" is a user's session or access token; an API key cannot manage keys or
/// sessions. Logging in always issues a new session id, and so does verifying the email
/// from a logged-in browser (OWASP Session Management Cheat Sheet, "Renew the Session ID
/// After Any Privilege Level Change"). Mail for the endpoints that answer 202 either way
/// is sent in the background and its failure only logged, so that neither the answer
/// nor its timing tells whether an account exists (OWASP Forgot Password Cheat Sheet).
pub fn flows(auth: Arc<Auth>, mailer: Arc<dyn Mailer>) -> Router {
    Router::new()
        .route("/register", post(register))
        .route("/login", post(login))
        .route("/login/token", post(login_token))
        .route("/logout", post(logout))
        .route("/refresh", post(refresh))
        .route("/sessions", get(sessions))
        .route("/sessions/{id}", delete(revoke_session))
        .route("/sessions/revoke-others", post(revoke_others))
        .route("/email/verification", post(request_verification))
        .route("/email/verify", post(verify_email))
        .route("/password/forgot", post(forgot_password))
        .route("/password/reset", post(reset_password))
        .route("/magic-link", post(request_magic_link))
        .route("/magic-link/login", post(magic_link_login))
        .route("/otp", post(request_otp))
        .route("/otp/login", post(otp_login))
        .route("/keys", get(list_keys).post(create_key))
        .route("/keys/{id}/rotate", post(rotate_key))
        .route("/keys/{id}", delete(revoke_key))
        .with_state(Flows { auth, mailer })
}

type Answer = Result<Response, Rejection>;

/// A JSON request body; one that is missing, not JSON or not of the expected shape is a
/// 400 `invalid_request`, like any other malformed input.
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(body)) => Ok(JsonBody(body)),
            Err(_) => Err(Rejection::bad_request()),
        }
    }
}

#[derive(Deserialize)]
struct Credentials {
    email: String,
    password: String,
}

#[derive(Deserialize)]
struct EmailOnly {
    email: String,
}

#[derive(Deserialize)]
struct TokenOnly {
    token: String,
}

#[derive(Deserialize)]
struct NewPassword {
    token: String,
    password: String,
}

#[derive(Deserialize)]
struct Code {
    email: String,
    code: String,
}

#[derive(Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

#[derive(Deserialize)]
struct KeyRequestBody {
    name: String,
    scopes: Option<Vec<String>>,
}

#[derive(Serialize)]
struct UserView {
    user_id: String,
    email: String,
    email_verified: bool,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        UserView {
            user_id: user.id.0.to_string(),
            email: user.email.clone(),
            email_verified: user.email_verified_at.is_some(),
        }
    }
}

/// A session as its owner may see it: no hash, no payload. Times in Unix seconds.
#[derive(Serialize)]
struct SessionView {
    id: String,
    created_at: i64,
    last_seen_at: i64,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    current: bool,
}

/// A key as its owner may see it: no hash. Times in Unix seconds.
#[derive(Serialize)]
struct KeyView {
    id: String,
    prefix: String,
    name: String,
    scopes: Vec<String>,
    created_at: i64,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    usage_count: u64,
    last_used_at: Option<i64>,
}

impl From<&ApiKey> for KeyView {
    fn from(key: &ApiKey) -> Self {
        KeyView {
            id: key.id.0.to_string(),
            prefix: key.prefix.clone(),
            name: key.name.clone(),
            scopes: key.scopes.clone(),
            created_at: key.created_at.unix_timestamp(),
            expires_at: key.expires_at.map(Timestamp::unix_timestamp),
            revoked_at: key.revoked_at.map(Timestamp::unix_timestamp),
            usage_count: key.usage_count,
            last_used_at: key.last_used_at.map(Timestamp::unix_timestamp),
        }
    }
}

/// The user of a session or access token, and the session if it is one.
async fn account(found: &RequestAuth) -> Result<(UserId, Option<SessionId>), Rejection> {
    match found.principal().await? {
        Some(Principal::Session(s)) => Ok((s.user_id, Some(s.id))),
        Some(Principal::AccessToken(c)) => Ok((c.user_id(), None)),
        Some(_) => Err(Rejection::forbidden()),
        None => Err(found.login_required()),
    }
}

/// The session presented, if it verifies; a credential of another kind or none is `None`.
async fn presented_session(found: &RequestAuth) -> Option<Session> {
    match found.principal().await {
        Ok(Some(Principal::Session(s))) => Some(s.clone()),
        _ => None,
    }
}

/// A new session for `user` as a JSON answer with its cookie; the session presented, if
/// any, ends first.
async fn log_in(flows: &Flows, found: &RequestAuth, user: &User, status: StatusCode) -> Answer {
    let refuse = |e: authkit::Error| found.rejection(&e);
    if let Some(old) = presented_session(found).await {
        flows.auth.revoke_session(old.id).await.map_err(refuse)?;
    }
    let issued = flows.auth.issue_session(user.id).await.map_err(refuse)?;
    let cookie = flows.auth.session_cookie(&issued);
    Ok(with_cookie(status, Json(UserView::from(user)), &cookie))
}

fn with_cookie(status: StatusCode, body: impl IntoResponse, cookie: &str) -> Response {
    let mut response = (status, body).into_response();
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// Sends `issue` as `kind`, now, failing the request if delivery fails.
async fn mail_now(flows: &Flows, issue: OneTimeIssue, kind: MailKind) -> Result<(), Rejection> {
    let mail = Mail {
        to: issue.user.email,
        kind,
        secret: issue.secret,
        expires_at: issue.expires_at,
    };
    flows.mailer.send(mail).await.map_err(|error| {
        tracing::error!(%error, "could not send authkit mail");
        Rejection::unavailable()
    })
}

/// Sends `issue` as `kind` in the background, answering 202 (for the endpoints that
/// answer so whether or not the email exists).
fn mail_later(flows: &Flows, issue: Option<OneTimeIssue>, kind: MailKind) -> Response {
    if let Some(issue) = issue {
        let flows = flows.clone();
        tokio::spawn(async move {
            let _ = mail_now(&flows, issue, kind).await;
        });
    }
    StatusCode::ACCEPTED.into_response()
}

/// Registers and logs in; the verification mail goes in the background (the account
/// exists either way, and `POST /email/verification` sends another).
async fn register(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<Credentials>,
) -> Answer {
    let refuse = |e: authkit::Error| found.rejection(&e);
    let user = f
        .auth
        .register(&b.email, &b.password)
        .await
        .map_err(refuse)?;
    let issue = f
        .auth
        .request_email_verification(user.id)
        .await
        .map_err(refuse)?;
    let logged_in = log_in(&f, &found, &user, StatusCode::CREATED).await?;
    mail_later(&f, Some(issue), MailKind::VerifyEmail);
    Ok(logged_in)
}

async fn login(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<Credentials>,
) -> Answer {
    let user = f
        .auth
        .login_password_from(&b.email, &b.password, found.client_ip())
        .await
        .map_err(|e| found.rejection(&e))?;
    log_in(&f, &found, &user, StatusCode::OK).await
}

#[derive(Serialize)]
struct PairView {
    access_token: String,
    access_expires_at: i64,
    refresh_token: String,
    refresh_expires_at: i64,
}

impl From<authkit::TokenPair> for PairView {
    fn from(pair: authkit::TokenPair) -> Self {
        PairView {
            access_token: pair.access_token,
            access_expires_at: pair.access_expires_at.unix_timestamp(),
            refresh_token: pair.refresh_token.expose().to_owned(),
            refresh_expires_at: pair.refresh_expires_at.unix_timestamp(),
        }
    }
}

async fn login_token(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<Credentials>,
) -> Answer {
    let refuse = |e: authkit::Error| found.rejection(&e);
    let user = f
        .auth
        .login_password_from(&b.email, &b.password, found.client_ip())
        .await
        .map_err(refuse)?;
    let pair = f.auth.issue_token_pair(user.id).await.map_err(refuse)?;
    Ok(Json(PairView::from(pair)).into_response())
}

async fn logout(State(f): State<Flows>, found: RequestAuth) -> Answer {
    if let Some(session) = presented_session(&found).await {
        f.auth
            .revoke_session(session.id)
            .await
            .map_err(|e| found.rejection(&e))?;
    }
    let cleared = f.auth.clear_session_cookie();
    Ok(with_cookie(StatusCode::NO_CONTENT, (), &cleared))
}

async fn refresh(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<RefreshRequest>,
) -> Answer {
    let pair = f
        .auth
        .refresh(&b.refresh_token)
        .await
        .map_err(|e| found.rejection(&e))?;
    Ok(Json(PairView::from(pair)).into_response())
}

async fn sessions(State(f): State<Flows>, found: RequestAuth) -> Answer {
    let (user, current) = account(&found).await?;
    let list = f
        .auth
        .list_sessions(user)
        .await
        .map_err(|e| found.rejection(&e))?;
    let views: Vec<SessionView> = list
        .iter()
        .map(|s| SessionView {
            id: s.id.0.to_string(),
            created_at: s.created_at.unix_timestamp(),
            last_seen_at: s.last_seen_at.unix_timestamp(),
            idle_expires_at: s.idle_expires_at.unix_timestamp(),
            absolute_expires_at: s.absolute_expires_at.unix_timestamp(),
            current: Some(s.id) == current,
        })
        .collect();
    Ok(Json(views).into_response())
}

async fn revoke_session(
    State(f): State<Flows>,
    found: RequestAuth,
    Path(id): Path<authkit::uuid::Uuid>,
) -> Answer {
    let (user, _) = account(&found).await?;
    let refuse = |e: authkit::Error| found.rejection(&e);
    let owned = f.auth.list_sessions(user).await.map_err(refuse)?;
    let Some(session) = owned.iter().find(|s| s.id.0 == id) else {
        return Err(Rejection::not_found());
    };
    f.auth.revoke_session(session.id).await.map_err(refuse)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Serialize)]
struct Revoked {
    revoked: u64,
}

async fn revoke_others(State(f): State<Flows>, found: RequestAuth) -> Answer {
    let Some(session) = presented_session(&found).await else {
        return Err(found.login_required());
    };
    let revoked = f
        .auth
        .revoke_other_sessions(session.user_id, Some(session.id))
        .await
        .map_err(|e| found.rejection(&e))?;
    Ok(Json(Revoked { revoked }).into_response())
}

async fn request_verification(State(f): State<Flows>, found: RequestAuth) -> Answer {
    let (user, _) = account(&found).await?;
    let issue = f
        .auth
        .request_email_verification(user)
        .await
        .map_err(|e| found.rejection(&e))?;
    mail_now(&f, issue, MailKind::VerifyEmail).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

async fn verify_email(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<TokenOnly>,
) -> Answer {
    let user = f
        .auth
        .verify_email(&b.token)
        .await
        .map_err(|e| found.rejection(&e))?;
    match presented_session(&found).await {
        Some(session) if session.user_id == user.id => {
            log_in(&f, &found, &user, StatusCode::OK).await
        }
        _ => Ok(Json(UserView::from(&user)).into_response()),
    }
}

async fn forgot_password(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<EmailOnly>,
) -> Answer {
    let issue = f
        .auth
        .request_password_reset(&b.email)
        .await
        .map_err(|e| found.rejection(&e))?;
    Ok(mail_later(&f, issue, MailKind::PasswordReset))
}

async fn reset_password(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<NewPassword>,
) -> Answer {
    let user = f
        .auth
        .reset_password(&b.token, &b.password)
        .await
        .map_err(|e| found.rejection(&e))?;
    let cleared = f.auth.clear_session_cookie();
    Ok(with_cookie(
        StatusCode::OK,
        Json(UserView::from(&user)),
        &cleared,
    ))
}

async fn request_magic_link(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<EmailOnly>,
) -> Answer {
    let issue = f
        .auth
        .request_magic_link(&b.email)
        .await
        .map_err(|e| found.rejection(&e))?;
    Ok(mail_later(&f, issue, MailKind::MagicLink))
}

async fn magic_link_login(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<TokenOnly>,
) -> Answer {
    let user = f
        .auth
        .login_magic_link(&b.token)
        .await
        .map_err(|e| found.rejection(&e))?;
    log_in(&f, &found, &user, StatusCode::OK).await
}

async fn request_otp(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<EmailOnly>,
) -> Answer {
    let issue = f
        .auth
        .request_email_otp(&b.email)
        .await
        .map_err(|e| found.rejection(&e))?;
    Ok(mail_later(&f, issue, MailKind::LoginCode))
}

async fn otp_login(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<Code>,
) -> Answer {
    let user = f
        .auth
        .login_email_otp(&b.email, &b.code)
        .await
        .map_err(|e| found.rejection(&e))?;
    log_in(&f, &found, &user, StatusCode::OK).await
}

async fn list_keys(State(f): State<Flows>, found: RequestAuth) -> Answer {
    let (user, _) = account(&found).await?;
    let keys = f
        .auth
        .list_api_keys(Some(user))
        .await
        .map_err(|e| found.rejection(&e))?;
    let views: Vec<KeyView> = keys.iter().map(KeyView::from).collect();
    Ok(Json(views).into_response())
}

#[derive(Serialize)]
struct NewKeyView {
    /// The key itself, shown this once.
    secret: String,
    key: KeyView,
}

fn new_key_answer(issued: authkit::IssuedApiKey) -> Response {
    let body = NewKeyView {
        secret: issued.secret.expose().to_owned(),
        key: KeyView::from(&issued.key),
    };
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn create_key(
    State(f): State<Flows>,
    found: RequestAuth,
    JsonBody(b): JsonBody<KeyRequestBody>,
) -> Answer {
    let (user, _) = account(&found).await?;
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user), b.name);
    new.scopes = b.scopes;
    let issued = f
        .auth
        .create_api_key(new)
        .await
        .map_err(|e| found.rejection(&e))?;
    Ok(new_key_answer(issued))
}

/// The key `id` if `user` owns it; any other key is not found (its existence is not
/// revealed).
async fn owned_key(
    f: &Flows,
    found: &RequestAuth,
    user: UserId,
    id: authkit::uuid::Uuid,
) -> Result<ApiKey, Rejection> {
    match f.auth.api_key(ApiKeyId(id)).await {
        Ok(key) if key.owner == Some(user) => Ok(key),
        Ok(_) | Err(authkit::Error::ApiKeyUnknown) => Err(Rejection::not_found()),
        Err(e) => Err(found.rejection(&e)),
    }
}

async fn rotate_key(
    State(f): State<Flows>,
    found: RequestAuth,
    Path(id): Path<authkit::uuid::Uuid>,
) -> Answer {
    let (user, _) = account(&found).await?;
    let key = owned_key(&f, &found, user, id).await?;
    let issued = f
        .auth
        .rotate_api_key(key.id, time::Duration::ZERO)
        .await
        .map_err(|e| found.rejection(&e))?;
    Ok(new_key_answer(issued))
}

async fn revoke_key(
    State(f): State<Flows>,
    found: RequestAuth,
    Path(id): Path<authkit::uuid::Uuid>,
) -> Answer {
    let (user, _) = account(&found).await?;
    let key = owned_key(&f, &found, user, id).await?;
    f.auth
        .revoke_api_key(key.id, "revoked by its owner")
        .await
        .map_err(|e| found.rejection(&e))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
