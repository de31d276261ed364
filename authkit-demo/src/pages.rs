//! Server-rendered pages. Their forms are sent as JSON by `app.js` to the router of
//! flows under `/auth`; the pages themselves only read.

use std::fmt::Write as _;

use authkit::Session;
use authkit_axum::{MailKind, UserSession};
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use crate::Demo;

/// `text` safe inside HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A page the store could not serve: logged, and a 503 that shows nothing of the error.
fn store_failed(error: &authkit::Error) -> Response {
    tracing::error!(%error, "the demo's store failed");
    axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response()
}

/// The layout around `body`, with the navigation for a guest or a user.
fn page(title: &str, user: Option<&Session>, body: &str) -> Html<String> {
    let nav = match user {
        Some(_) => {
            "<a href=\"/\">Home</a> <a href=\"/sessions\">Sessions</a> \
             <a href=\"/keys\">API keys</a> <a href=\"/console\">API console</a> \
             <a href=\"/outbox\">Outbox</a> \
             <button id=\"logout\" data-endpoint=\"/auth/logout\" data-next=\"/\">Log out</button>"
        }
        None => {
            "<a href=\"/\">Home</a> <a href=\"/signup\">Sign up</a> <a href=\"/login\">Log in</a> \
             <a href=\"/console\">API console</a> <a href=\"/outbox\">Outbox</a>"
        }
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} · authkit demo</title>\
         <style>body{{font-family:sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}\
         nav a,nav button{{margin-right:.8rem}}form{{margin:1rem 0}}input{{margin:.2rem}}\
         .result{{color:#a00}}table{{border-collapse:collapse}}td,th{{padding:.3rem .6rem;\
         border-bottom:1px solid #ddd;text-align:left}}code{{word-break:break-all}}</style>\
         <script src=\"/app.js\" defer></script></head><body><nav>{nav}</nav>\
         <h1>{title}</h1>{body}</body></html>"
    ))
}

/// A form `app.js` sends as JSON to `endpoint`, then follows `next`.
fn form(id: &str, endpoint: &str, next: &str, fields: &str, button: &str) -> String {
    format!(
        "<form id=\"{id}\" data-endpoint=\"{endpoint}\" data-next=\"{next}\">{fields}\
         <button type=\"submit\">{button}</button> <span class=\"result\"></span></form>"
    )
}

const EMAIL_FIELD: &str = "<input name=\"email\" type=\"email\" placeholder=\"email\" required autocomplete=\"username\">";
const PASSWORD_FIELD: &str = "<input name=\"password\" type=\"password\" placeholder=\"password\" \
     required minlength=\"8\" autocomplete=\"current-password\">";

pub(crate) async fn home(State(demo): State<Demo>, session: Option<UserSession>) -> Response {
    let Some(UserSession(session)) = session else {
        let body = "<p>A small service built on authkit. <a href=\"/signup\">Sign up</a> or \
                    <a href=\"/login\">log in</a>.</p>";
        return page("Welcome", None, body).into_response();
    };
    let user = match demo.auth.user(session.user_id).await {
        Ok(user) => user,
        Err(e) => return store_failed(&e),
    };
    let verified = match user.email_verified_at {
        Some(_) => "<p id=\"verified\">Your email is verified.</p>".to_owned(),
        None => format!(
            "<p id=\"unverified\">Your email is not verified yet: see the <a href=\"/outbox\">outbox</a>.</p>{}",
            form(
                "resend",
                "/auth/email/verification",
                "/outbox",
                "",
                "Send the link again"
            )
        ),
    };
    let body = format!(
        "<p>Logged in as <strong id=\"email\">{}</strong>.</p>{verified}",
        escape(&user.email)
    );
    page("Home", Some(&session), &body).into_response()
}

pub(crate) async fn signup() -> Html<String> {
    let fields = format!("{EMAIL_FIELD}{PASSWORD_FIELD}");
    let body = form(
        "signup-form",
        "/auth/register",
        "/outbox",
        &fields,
        "Sign up",
    );
    page("Sign up", None, &body)
}

pub(crate) async fn login() -> Html<String> {
    let password = form(
        "login-form",
        "/auth/login",
        "/",
        &format!("{EMAIL_FIELD}{PASSWORD_FIELD}"),
        "Log in",
    );
    let magic = form(
        "magic-form",
        "/auth/magic-link",
        "/outbox",
        EMAIL_FIELD,
        "Mail me a link",
    );
    let code_request = form(
        "code-request",
        "/auth/otp",
        "/login",
        EMAIL_FIELD,
        "Mail me a code",
    );
    let code_login = form(
        "code-form",
        "/auth/otp/login",
        "/",
        &format!("{EMAIL_FIELD}<input name=\"code\" placeholder=\"code\" required>"),
        "Log in with the code",
    );
    let body = format!(
        "<h2>With a password</h2>{password}<h2>With a link</h2>{magic}\
         <h2>With a code</h2>{code_request}{code_login}\
         <p>Forgot the password? {}</p>",
        form(
            "forgot-form",
            "/auth/password/forgot",
            "/outbox",
            EMAIL_FIELD,
            "Mail me a reset link"
        )
    );
    page("Log in", None, &body)
}

pub(crate) async fn outbox(State(demo): State<Demo>, session: Option<UserSession>) -> Html<String> {
    let mut rows = String::new();
    let mails = demo.outbox.0.lock().unwrap_or_else(|e| e.into_inner());
    for mail in mails.iter().rev() {
        let secret = escape(mail.secret.expose());
        let what = match mail.kind {
            MailKind::VerifyEmail => {
                format!(
                    "<a class=\"verify-link\" href=\"/verify?token={secret}\">Verify your email</a>"
                )
            }
            MailKind::MagicLink => {
                format!("<a class=\"magic-link\" href=\"/magic?token={secret}\">Log in</a>")
            }
            MailKind::PasswordReset => {
                format!("<a href=\"/reset?token={secret}\">Reset your password</a>")
            }
            MailKind::LoginCode => format!("Your code: <code class=\"code\">{secret}</code>"),
            _ => "(another kind of mail)".to_owned(),
        };
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{what}</td></tr>",
            escape(&mail.to)
        );
    }
    drop(mails);
    let body = format!(
        "<p>Mail the service sent, newest first (a real service would send it).</p>\
         <table><tr><th>to</th><th>message</th></tr>{rows}</table>"
    );
    page("Outbox", session.as_ref().map(|s| &s.0), &body)
}

#[derive(Deserialize)]
pub(crate) struct TokenParam {
    token: String,
}

fn token_page(
    title: &str,
    id: &str,
    endpoint: &str,
    token: &str,
    extra: &str,
    button: &str,
) -> Html<String> {
    let fields = format!(
        "<input type=\"hidden\" name=\"token\" value=\"{}\">{extra}",
        escape(token)
    );
    page(title, None, &form(id, endpoint, "/", &fields, button))
}

pub(crate) async fn verify(Query(q): Query<TokenParam>) -> Html<String> {
    token_page(
        "Verify your email",
        "verify-form",
        "/auth/email/verify",
        &q.token,
        "",
        "Verify",
    )
}

pub(crate) async fn magic(Query(q): Query<TokenParam>) -> Html<String> {
    token_page(
        "Log in with a link",
        "magic-login",
        "/auth/magic-link/login",
        &q.token,
        "",
        "Log in",
    )
}

pub(crate) async fn reset(Query(q): Query<TokenParam>) -> Html<String> {
    let field = "<input name=\"password\" type=\"password\" placeholder=\"new password\" required \
                 minlength=\"8\" autocomplete=\"new-password\">";
    token_page(
        "New password",
        "reset-form",
        "/auth/password/reset",
        &q.token,
        field,
        "Set it",
    )
}

fn when(t: authkit::Timestamp) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

pub(crate) async fn sessions(State(demo): State<Demo>, UserSession(me): UserSession) -> Response {
    let list = match demo.auth.list_sessions(me.user_id).await {
        Ok(list) => list,
        Err(e) => return store_failed(&e),
    };
    let mut rows = String::new();
    for s in &list {
        let action = if s.id == me.id {
            "<em class=\"current\">this browser</em>".to_owned()
        } else {
            format!(
                "<button class=\"revoke-session\" data-method=\"DELETE\" \
                 data-endpoint=\"/auth/sessions/{}\">Revoke</button>",
                s.id.0
            )
        };
        let _ = write!(
            rows,
            "<tr class=\"session\"><td>{}</td><td>{}</td><td>{action}</td></tr>",
            when(s.created_at),
            when(s.last_seen_at)
        );
    }
    let body = format!(
        "<table><tr><th>started</th><th>last seen</th><th></th></tr>{rows}</table>\
         <p><button id=\"revoke-others\" data-endpoint=\"/auth/sessions/revoke-others\">\
         Log out everywhere else</button></p>"
    );
    page("Your sessions", Some(&me), &body).into_response()
}

pub(crate) async fn keys(State(demo): State<Demo>, UserSession(me): UserSession) -> Response {
    let list = match demo.auth.list_api_keys(Some(me.user_id)).await {
        Ok(list) => list,
        Err(e) => return store_failed(&e),
    };
    let mut rows = String::new();
    for k in &list {
        let state = match k.revoked_at {
            Some(_) => "revoked".to_owned(),
            None => format!(
                "<button class=\"revoke-key\" data-method=\"DELETE\" \
                 data-endpoint=\"/auth/keys/{}\">Revoke</button>",
                k.id.0
            ),
        };
        let _ = write!(
            rows,
            "<tr class=\"key\"><td>{}</td><td><code>{}…</code></td><td>{}</td><td>{}</td><td>{state}</td></tr>",
            escape(&k.name),
            escape(&k.prefix),
            escape(&k.scopes.join(" ")),
            k.usage_count
        );
    }
    let fields = "<input name=\"name\" placeholder=\"name\" required>\
                  <input name=\"scopes\" placeholder=\"scopes (space-separated, optional)\">";
    let create = format!(
        "<form id=\"key-form\" data-endpoint=\"/auth/keys\" data-show=\"secret\">{fields}\
         <button type=\"submit\">Create a key</button></form>\
         <p>New key, shown once: <code id=\"new-key\"></code> <span class=\"result\"></span></p>"
    );
    let body = format!(
        "{create}<table><tr><th>name</th><th>key</th><th>scopes</th><th>uses</th><th></th></tr>{rows}</table>"
    );
    page("Your API keys", Some(&me), &body).into_response()
}

pub(crate) async fn console(session: Option<UserSession>) -> Html<String> {
    let body = "<p>Calls <code>GET /api/hello</code> with the key below in <code>x-api-key</code>, \
                without cookies.</p>\
                <form id=\"console-form\" data-call=\"/api/hello\">\
                <input name=\"key\" placeholder=\"sk_live_…\" size=\"60\" required>\
                <button type=\"submit\">Call</button></form>\
                <pre id=\"api-result\"></pre>";
    page("API console", session.as_ref().map(|s| &s.0), body)
}

pub(crate) async fn script() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT)
}

/// Sends forms as JSON to their `data-endpoint` and follows `data-next`; buttons with a
/// `data-endpoint` likewise; the console form calls the API with a key, cookies left out.
const SCRIPT: &str = r#"
async function send(method, url, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  let data = null;
  try { data = await response.json(); } catch (e) {}
  return { ok: response.ok, status: response.status, data };
}

function refusal(r) {
  return "Refused (" + r.status + ")" + (r.data && r.data.error ? ": " + r.data.error : "");
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.dataset.call) {
    event.preventDefault();
    const key = new FormData(form).get("key");
    const response = await fetch(form.dataset.call, { headers: { "x-api-key": key }, credentials: "omit" });
    document.getElementById("api-result").textContent = response.status + " " + await response.text();
    return;
  }
  if (!form.dataset.endpoint) return;
  event.preventDefault();
  const body = Object.fromEntries(new FormData(form));
  if (typeof body.scopes === "string") {
    const scopes = body.scopes.split(/[\s,]+/).filter(Boolean);
    if (scopes.length) body.scopes = scopes; else delete body.scopes;
  }
  const r = await send(form.dataset.method || "POST", form.dataset.endpoint, body);
  const out = form.querySelector(".result") || document.querySelector(".result");
  if (!r.ok) { out.textContent = refusal(r); return; }
  if (form.dataset.show) {
    document.getElementById("new-key").textContent = r.data[form.dataset.show];
    return;
  }
  location.href = form.dataset.next || location.href;
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-endpoint]");
  if (!button) return;
  event.preventDefault();
  const r = await send(button.dataset.method || "POST", button.dataset.endpoint);
  if (!r.ok) { alert(refusal(r)); return; }
  location.href = button.dataset.next || location.href;
});
"#;
