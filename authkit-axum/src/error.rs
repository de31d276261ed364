//! authkit's errors as HTTP responses.
//!
//! The status comes from [`Error::kind`] alone, and the body names the kind, never the
//! variant: a client learns that a refresh or a login failed, not which check refused
//! it. Challenges follow RFC 6750 §3: every 401 carries `WWW-Authenticate: Bearer`, with
//! `error="invalid_token"` only when a token (a bearer or an API key) was sent (§3.1: a
//! request without one gets no error code); a missing scope is 403
//! `error="insufficient_scope"` naming the scope. Refusals for rate limits and locks are
//! 429 with `Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3).

use std::time::Duration;

use authkit::{Error, ErrorKind};
use axum::Json;
use axum::http::header::{LOCATION, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request was refused, ready to become a response.
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    code: &'static str,
    challenge: Option<String>,
    retry_after: Option<Duration>,
    location: Option<String>,
}

/// What a request presented, as far as a challenge cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Presented {
    /// No credential, or the session cookie (a browser's, not a token).
    NoToken,
    /// A bearer token or an API key.
    Token,
}

/// How the layer words its challenges.
#[derive(Clone, Debug, Default)]
pub(crate) struct Challenges {
    pub(crate) realm: Option<String>,
    pub(crate) lock_retry_after: Duration,
}

impl Rejection {
    /// The response for `error`, from its kind.
    pub(crate) fn from_error(error: &Error, presented: Presented, words: &Challenges) -> Self {
        let mut r = Rejection::of_kind(error.kind());
        match (error.kind(), error) {
            (ErrorKind::Unauthenticated, _) => {
                let invalid = presented == Presented::Token;
                r.challenge = Some(words.bearer(invalid.then_some("invalid_token"), None));
            }
            (_, Error::ScopeMissing(scope)) => {
                r.code = "insufficient_scope";
                r.challenge = Some(words.bearer(Some("insufficient_scope"), Some(scope)));
            }
            (_, Error::RateLimited { retry_after }) => {
                let secs = retry_after.whole_seconds().max(1).unsigned_abs();
                r.retry_after = Some(Duration::from_secs(secs));
            }
            (ErrorKind::RateLimited, _) => r.retry_after = Some(words.lock_retry_after),
            _ => {}
        }
        r
    }

    /// 401 for a request that presented nothing, where something is required.
    pub(crate) fn login_required(words: &Challenges) -> Self {
        let mut r = Rejection::of_kind(ErrorKind::Unauthenticated);
        r.challenge = Some(words.bearer(None, None));
        r
    }

    /// 403 for a principal of the wrong sort (a user where a service key is required).
    pub(crate) fn forbidden() -> Self {
        Rejection::of_kind(ErrorKind::Forbidden)
    }

    /// 400 for a request body that is not what the route takes.
    pub(crate) fn bad_request() -> Self {
        Rejection::of_kind(ErrorKind::InvalidInput)
    }

    /// 404 for an id the caller may not see (another user's session or key).
    pub(crate) fn not_found() -> Self {
        Rejection::of_kind(ErrorKind::NotFound)
    }

    /// 503 for a dependency of the application that failed (the mailer).
    pub(crate) fn unavailable() -> Self {
        Rejection::of_kind(ErrorKind::Unavailable)
    }

    /// 403 for a cookie-authenticated unsafe request from another origin.
    pub(crate) fn cross_origin() -> Self {
        let mut r = Rejection::of_kind(ErrorKind::Forbidden);
        r.code = "cross_origin_request";
        r
    }

    /// 303 to `location` (a page, not an API: login forms, the guest-only pages).
    pub(crate) fn redirect(location: String) -> Self {
        Rejection {
            status: StatusCode::SEE_OTHER,
            code: "redirect",
            challenge: None,
            retry_after: None,
            location: Some(location),
        }
    }

    /// The status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    fn of_kind(kind: ErrorKind) -> Self {
        let (status, code) = match kind {
            ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, "invalid_request"),
            ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            ErrorKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            // `Internal`, and any kind a later core adds.
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Rejection {
            status,
            code,
            challenge: None,
            retry_after: None,
            location: None,
        }
    }
}

impl Challenges {
    /// A `Bearer` challenge (RFC 6750 §3) with the realm, the error code and the scope.
    fn bearer(&self, error: Option<&str>, scope: Option<&str>) -> String {
        let params: Vec<String> = [
            ("realm", self.realm.as_deref()),
            ("error", error),
            ("scope", scope),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some(format!("{name}=\"{}\"", quoted(value?))))
        .collect();
        if params.is_empty() {
            "Bearer".to_owned()
        } else {
            format!("Bearer {}", params.join(", "))
        }
    }
}

/// `value` as the inside of a quoted-string (RFC 9110 §5.6.4).
fn quoted(value: &str) -> String {
    value
        .chars()
        .filter(|c| *c == '\t' || (' '..='~').contains(c))
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            _ => vec![c],
        })
        .collect()
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.code }))).into_response();
        let headers = response.headers_mut();
        let mut set = |name, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        if let Some(challenge) = self.challenge {
            set(WWW_AUTHENTICATE, challenge);
        }
        if let Some(after) = self.retry_after {
            set(RETRY_AFTER, after.as_secs().to_string());
        }
        if let Some(location) = self.location {
            set(LOCATION, location);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use authkit::uuid::Uuid;
    use authkit::{FamilyId, UserId};

    use super::*;

    fn words() -> Challenges {
        Challenges {
            realm: Some("app".into()),
            lock_retry_after: Duration::from_secs(60),
        }
    }

    fn header(r: Rejection, name: &str) -> Option<String> {
        let response = r.into_response();
        let value = response.headers().get(name)?;
        Some(value.to_str().unwrap_or_else(|e| panic!("{e}")).to_owned())
    }

    #[test]
    fn unauthenticated_names_invalid_token_only_when_a_token_was_sent() {
        let sent = Rejection::from_error(&Error::InvalidToken, Presented::Token, &words());
        assert_eq!(sent.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header(sent, "www-authenticate").as_deref(),
            Some("Bearer realm=\"app\", error=\"invalid_token\"")
        );
        let cookie = Rejection::from_error(&Error::SessionInvalid, Presented::NoToken, &words());
        assert_eq!(
            header(cookie, "www-authenticate").as_deref(),
            Some("Bearer realm=\"app\"")
        );
        let nothing = Rejection::login_required(&Challenges::default());
        assert_eq!(
            header(nothing, "www-authenticate").as_deref(),
            Some("Bearer")
        );
    }

    #[test]
    fn a_missing_scope_is_403_insufficient_scope_naming_it() {
        let r = Rejection::from_error(
            &Error::ScopeMissing("reports:export".into()),
            Presented::Token,
            &words(),
        );
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            header(r, "www-authenticate").as_deref(),
            Some("Bearer realm=\"app\", error=\"insufficient_scope\", scope=\"reports:export\"")
        );
    }

    #[test]
    fn limits_and_locks_are_429_with_retry_after() {
        let limited = Error::RateLimited {
            retry_after: time::Duration::seconds(17),
        };
        let r = Rejection::from_error(&limited, Presented::Token, &words());
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(r, "retry-after").as_deref(), Some("17"));
        let locked = Rejection::from_error(&Error::OtpLocked, Presented::NoToken, &words());
        assert_eq!(header(locked, "retry-after").as_deref(), Some("60"));
    }

    #[tokio::test]
    async fn refresh_failures_give_one_response() {
        let family = FamilyId(Uuid::nil());
        let failures = [
            Error::RefreshUnknown,
            Error::RefreshReused {
                family,
                user: UserId(Uuid::nil()),
            },
            Error::RefreshExpired,
            Error::RefreshChainExpired,
        ];
        let mut seen = Vec::new();
        for error in &failures {
            let response = Rejection::from_error(error, Presented::Token, &words()).into_response();
            let status = response.status();
            let challenge = response.headers().get(WWW_AUTHENTICATE).cloned();
            let body = axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            seen.push((status, challenge, body));
        }
        assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    }

    #[test]
    fn quoted_strings_escape_and_drop_controls() {
        assert_eq!(quoted("a\"b\\c\r\nd"), "a\\\"b\\\\cd");
    }
}
