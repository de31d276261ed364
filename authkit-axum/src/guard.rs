//! Guards: values built from runtime configuration and put on routes as layers
//! (`Router::route_layer(Guard::login())`). Each runs behind [`AuthLayer`](crate::AuthLayer)
//! and refuses with the layer's responses.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use authkit::{CheckedPredicate, Subject, scopes_cover};
use axum::extract::Request;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
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
            tracing::error!("authkit guard used on a route without AuthLayer");
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        };
        if let Rule::Guest { home } = &*self.rule {
            return match found.principal().await {
                Ok(Some(_)) => Err(Rejection::redirect(home.clone()).into_response()),
                Ok(None) => Ok(()),
                Err(r) if r.status() == StatusCode::UNAUTHORIZED => Ok(()),
                Err(r) => Err(r.into_response()),
            };
        }
        let principal = match found.principal().await {
            Ok(Some(principal)) => principal,
            Ok(None) => return Err(self.absent(found, uri)),
            Err(r) => return Err(self.refused(r, uri)),
        };
        self.holds(found, principal)
            .await
            .map_err(IntoResponse::into_response)
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

    async fn holds(&self, found: &RequestAuth, principal: &Principal) -> Result<(), Rejection> {
        match &*self.rule {
            Rule::Login { .. } | Rule::Guest { .. } => Ok(()),
            Rule::ServiceKey => match principal {
                Principal::MachineToken(_) => Ok(()),
                Principal::ApiKey(key) if key.owner.is_none() => Ok(()),
                _ => Err(Rejection::forbidden()),
            },
            Rule::Scopes(scopes) => match scopes.iter().find(|s| !has_scope(principal, s)) {
                None => Ok(()),
                Some(missing) => {
                    Err(found.rejection(&authkit::Error::ScopeMissing(missing.clone())))
                }
            },
            Rule::Allowed(predicate) => allowed(found, principal, predicate).await,
        }
    }
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
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
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
