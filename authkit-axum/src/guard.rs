//! Guards: values built from runtime configuration and put on routes as layers
//! (`Router::route_layer(Guard::login())` for a group of routes, or
//! `get(handler.layer(Guard::login()))` for one). Each runs behind
//! [`AuthLayer`](crate::AuthLayer) and refuses with the layer's responses.
//!
//! A guard decides without awaiting whenever it can: no credential, a bearer token, a
//! principal already verified for the request, or a session the core's session cache
//! holds. Only an API key, a session the store must be asked about, or a predicate
//! makes it await (and box) its check. `route_layer` wraps the guarded routes in one more
//! boxed service of axum's own; on a single route `Handler::layer` avoids it (about
//! 0.5 µs a request in the demo's load run, where a trivial route costs 8 µs).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use authkit::{CheckedPredicate, Subject, scopes_cover};
use axum::extract::Request;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::{Principal, Rejection, RequestAuth};

/// What a route requires of its caller.
#[derive(Clone, Debug)]
pub struct Guard {
    rule: Arc<Rule>,
}

#[derive(Debug)]
enum Rule {
    /// Any verified principal; without one, 401 or (for pages) a redirect.
    Login { page: Option<String> },
    /// No principal; a logged-in caller is sent to `home`.
    Guest { home: String },
    /// A service key or a machine token: no user behind it.
    ServiceKey,
    /// A token or key whose scopes cover every one of these.
    Scopes(Vec<String>),
    /// A user or key for which the predicate holds.
    Allowed(CheckedPredicate),
}

impl Guard {
    /// Requires a verified principal; without one: 401 with a `Bearer` challenge.
    pub fn login() -> Self {
        Guard::of(Rule::Login { page: None })
    }

    /// Requires a verified principal; without one, a page's request is sent (303) to
    /// `login_url` with the original path and query in `next`. The login page must accept
    /// only a local path there (starting with one `/`), or it becomes an open redirect.
    pub fn login_page(login_url: impl Into<String>) -> Self {
        Guard::of(Rule::Login {
            page: Some(login_url.into()),
        })
    }

    /// Requires no principal (sign-up and login pages); a logged-in caller is sent (303)
    /// to `home`. A credential that no longer verifies counts as none.
    pub fn guest(home: impl Into<String>) -> Self {
        Guard::of(Rule::Guest { home: home.into() })
    }

    /// Requires a service key, or a machine token obtained with one; a user's credential
    /// is 403.
    pub fn service_key() -> Self {
        Guard::of(Rule::ServiceKey)
    }

    /// Requires a bearer token or key whose scopes cover each of `scopes`; otherwise 403
    /// `insufficient_scope` naming the first one missing. A session has no scopes.
    pub fn scopes<I, T>(scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Guard::of(Rule::Scopes(scopes.into_iter().map(Into::into).collect()))
    }

    /// Requires that `predicate` holds for the caller: the user of a session or token,
    /// or the key (see [`Auth::is_allowed`](authkit::Auth::is_allowed)); otherwise 403.
    pub fn allowed(predicate: CheckedPredicate) -> Self {
        Guard::of(Rule::Allowed(predicate))
    }

    fn of(rule: Rule) -> Self {
        Guard {
            rule: Arc::new(rule),
        }
    }

    /// `Ok(())` to let the request through; otherwise the response to answer with.
    async fn check(&self, found: Option<RequestAuth>, uri: &Uri) -> Result<(), Response> {
        let Some(found) = &found else {
            return Err(missing_layer());
        };
        match self.judge(found, found.principal().await, uri) {
            Verdict::Pass => Ok(()),
            Verdict::Refuse(response) => Err(response),
            Verdict::Ask(principal, predicate) => allowed(found, principal, predicate)
                .await
                .map_err(IntoResponse::into_response),
        }
    }

    /// [`check`](Self::check) when it needs no waiting: the caller's principal is known
    /// now ([`RequestAuth::principal_now`]) and the rule needs no store. `None`: only
    /// `check` can tell.
    fn check_now(&self, found: Option<&RequestAuth>, uri: &Uri) -> Option<Result<(), Response>> {
        let Some(found) = found else {
            return Some(Err(missing_layer()));
        };
        match self.judge(found, found.principal_now()?, uri) {
            Verdict::Pass => Some(Ok(())),
            Verdict::Refuse(response) => Some(Err(response)),
            Verdict::Ask(..) => None,
        }
    }

    /// The rule applied to `principal`, the request's as `found` verified it.
    fn judge<'a>(
        &'a self,
        found: &RequestAuth,
        principal: Result<Option<&'a Principal>, Rejection>,
        uri: &Uri,
    ) -> Verdict<'a> {
        let principal = match (&*self.rule, principal) {
            (Rule::Guest { home }, Ok(Some(_))) => {
                return Verdict::Refuse(Rejection::redirect(home.clone()).into_response());
            }
            (Rule::Guest { .. }, Ok(None)) => return Verdict::Pass,
            (Rule::Guest { .. }, Err(r)) if r.status() == StatusCode::UNAUTHORIZED => {
                return Verdict::Pass;
            }
            (_, Ok(Some(principal))) => principal,
            (_, Ok(None)) => return Verdict::Refuse(self.absent(found, uri)),
            (_, Err(r)) => return Verdict::Refuse(self.refused(r, uri)),
        };
        let refusal = match &*self.rule {
            Rule::Login { .. } | Rule::Guest { .. } => return Verdict::Pass,
            Rule::Allowed(predicate) => return Verdict::Ask(principal, predicate),
            Rule::ServiceKey => match principal {
                Principal::MachineToken(_) => return Verdict::Pass,
                Principal::ApiKey(key) if key.owner.is_none() => return Verdict::Pass,
                _ => Rejection::forbidden(),
            },
            Rule::Scopes(scopes) => match scopes.iter().find(|s| !has_scope(principal, s)) {
                None => return Verdict::Pass,
                Some(missing) => found.rejection(&authkit::Error::ScopeMissing(missing.clone())),
            },
        };
        Verdict::Refuse(refusal.into_response())
    }

    /// The answer to a request without a credential.
    fn absent(&self, found: &RequestAuth, uri: &Uri) -> Response {
        match &*self.rule {
            Rule::Login { page: Some(url) } => Rejection::redirect(with_next(url, uri)),
            _ => found.login_required(),
        }
        .into_response()
    }

    /// The answer to a credential that did not verify: a login page is shown again,
    /// anything else gets the refusal.
    fn refused(&self, refusal: Rejection, uri: &Uri) -> Response {
        match &*self.rule {
            Rule::Login { page: Some(url) } if refusal.status() == StatusCode::UNAUTHORIZED => {
                Rejection::redirect(with_next(url, uri)).into_response()
            }
            _ => refusal.into_response(),
        }
    }
}

/// What a guard's rule makes of the caller.
enum Verdict<'a> {
    /// The request goes through.
    Pass,
    /// The request is answered with this.
    Refuse(Response),
    /// Only the store can tell: whether the predicate holds for the principal.
    Ask(&'a Principal, &'a CheckedPredicate),
}

fn has_scope(principal: &Principal, scope: &str) -> bool {
    match principal {
        Principal::ApiKey(key) => scopes_cover(&key.scopes, scope),
        Principal::MachineToken(claims) => claims.covers(scope),
        Principal::AccessToken(claims) => {
            let granted: Vec<String> = claims
                .scope
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            scopes_cover(&granted, scope)
        }
        Principal::Session(_) => false,
    }
}

async fn allowed(
    found: &RequestAuth,
    principal: &Principal,
    predicate: &CheckedPredicate,
) -> Result<(), Rejection> {
    let auth = found.auth();
    let key;
    let subject = match principal {
        Principal::Session(s) => Subject::User(s.user_id),
        Principal::AccessToken(c) => Subject::User(c.user_id()),
        Principal::ApiKey(k) => Subject::Key(k),
        Principal::MachineToken(c) => {
            key = auth
                .api_key(c.client_id)
                .await
                .map_err(|e| found.rejection(&e))?;
            Subject::Key(&key)
        }
    };
    auth.authorize(subject, predicate)
        .await
        .map_err(|e| found.rejection(&e))
}

/// A guard on a route the [`AuthLayer`](crate::AuthLayer) does not cover: a server error,
/// logged.
fn missing_layer() -> Response {
    tracing::error!("authkit guard used on a route without AuthLayer");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// `url` with `next` set to the request's path and query, percent-encoded.
fn with_next(url: &str, uri: &Uri) -> String {
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}next={}", encode(target))
}

/// Percent-encodes everything but RFC 3986's unreserved characters and `/`.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl<S> Layer<S> for Guard {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GuardService {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service of a [`Guard`].
#[derive(Clone, Debug)]
pub struct GuardService<S> {
    inner: S,
    guard: Guard,
}

impl<S> Service<Request> for GuardService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    /// Decides at once when it can (the guard's `check_now`): the request then goes to the
    /// inner service as it is, or is answered. Otherwise the check is awaited first.
    fn call(&mut self, request: Request) -> Self::Future {
        let found = request.extensions().get::<RequestAuth>();
        let kind = match self.guard.check_now(found, request.uri()) {
            Some(Ok(())) => Kind::Serving {
                future: self.inner.call(request),
            },
            Some(Err(refusal)) => Kind::Refused {
                response: Some(refusal),
            },
            None => Kind::Checking {
                future: self.checked(request),
            },
        };
        GuardFuture { kind }
    }
}

impl<S> GuardService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    /// The inner service's answer once the guard's check has passed, or the refusal.
    fn checked(&mut self, request: Request) -> BoxFuture {
        // The service polled ready is the one that must serve; a fresh clone stays.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let found = request.extensions().get::<RequestAuth>().cloned();
            match guard.check(found, request.uri()).await {
                Ok(()) => inner.call(request).await,
                Err(refusal) => Ok(refusal),
            }
        })
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

pin_project! {
    /// The future of a [`GuardService`]: the inner service's, the refusal, or the check
    /// still to be awaited before either.
    pub struct GuardFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Serving { #[pin] future: F },
        Refused { response: Option<Response> },
        Checking { future: BoxFuture },
    }
}

impl<F> Future for GuardFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Serving { future } => future.poll(cx),
            KindProj::Refused { response } => Poll::Ready(Ok(response
                .take()
                .expect("a guard's refusal is polled once"))),
            KindProj::Checking { future } => future.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_the_encoded_path_and_query() {
        let uri = Uri::from_static("/keys/new?tab=a%20b&x=1");
        assert_eq!(
            with_next("/login", &uri),
            "/login?next=/keys/new%3Ftab%3Da%2520b%26x%3D1"
        );
        assert_eq!(
            with_next("/login?lang=en", &uri),
            "/login?lang=en&next=/keys/new%3Ftab%3Da%2520b%26x%3D1"
        );
    }
}
