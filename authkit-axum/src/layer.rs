//! The layer: finds the request's credential, and authenticates it only when asked.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use authkit::{
    AccessClaims, ApiKey, Audience, Auth, Error, ErrorKind, KeyRequest, MachineClaims, Session,
    UserId,
};
use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, COOKIE, USER_AGENT};
use axum::http::{HeaderMap, Request};
use tokio::sync::OnceCell;
use tower_layer::Layer;
use tower_service::Service;

use crate::HttpConfig;
use crate::client::client_ip;
use crate::error::{Challenges, Presented, Rejection};

/// Who a request acts for, once its credential is verified.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Principal {
    /// A browser's session, from the session cookie.
    Session(Session),
    /// A user's access token (`bff` or `api` audience), from `Authorization: Bearer`.
    AccessToken(AccessClaims),
    /// A service's machine token (client credentials), from `Authorization: Bearer`.
    MachineToken(MachineClaims),
    /// An API key or service key, from the configured header (boxed: a key is several
    /// times the size of the other principals).
    ApiKey(Box<ApiKey>),
}

impl Principal {
    /// The user the request acts for: a session's or a token's user, a user key's
    /// owner. `None` for service keys and machine tokens.
    pub fn user_id(&self) -> Option<UserId> {
        match self {
            Principal::Session(s) => Some(s.user_id),
            Principal::AccessToken(c) => Some(c.user_id()),
            Principal::ApiKey(k) => k.owner,
            Principal::MachineToken(_) => None,
        }
    }
}

/// The credential a request carries, taken in this order: a bearer token, then an API
/// key, then the session cookie. Only the first one found is used. The credentials a
/// client chose to attach come before the one a browser attaches on its own, so a
/// script that calls an API with a key from a logged-in page acts as the key.
#[derive(Clone, Debug)]
enum Credential {
    Cookie(String),
    Bearer(String),
    ApiKey(String),
}

/// The layer that puts a [`RequestAuth`] on every request. It reads headers only; no
/// store is touched until an extractor or a guard asks who the request is from.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    auth: Arc<Auth>,
    config: HttpConfig,
    words: Challenges,
}

impl AuthLayer {
    /// A layer authenticating through `auth` as `config` says.
    pub fn new(auth: Arc<Auth>, config: HttpConfig) -> Self {
        let words = Challenges {
            realm: config.realm.clone(),
            lock_retry_after: config.lock_retry_after,
        };
        AuthLayer {
            shared: Arc::new(Shared {
                auth,
                config,
                words,
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let found = RequestAuth::read(self.shared.clone(), &request);
        request.extensions_mut().insert(found);
        self.inner.call(request)
    }
}

/// A request's credential and, once asked for, its verified principal. Put on each
/// request by [`AuthLayer`]; extractors and guards read it.
#[derive(Clone, Debug)]
pub struct RequestAuth {
    inner: Arc<Found>,
}

#[derive(Debug)]
struct Found {
    shared: Arc<Shared>,
    credential: Option<Credential>,
    client_ip: Option<IpAddr>,
    /// The `User-Agent`, kept for an API key's usage record only.
    user_agent: Option<String>,
    /// The unsafe cookie request failed the cross-origin check.
    cross_origin: bool,
    principal: OnceCell<Result<Principal, Arc<Error>>>,
}

impl RequestAuth {
    fn read<B>(shared: Arc<Shared>, request: &Request<B>) -> Self {
        let headers = request.headers();
        let config = &shared.config;
        let credential = credential(&shared, headers);
        let cross_origin = matches!(credential, Some(Credential::Cookie(_)))
            && !crate::csrf::allowed(
                request.method(),
                request.uri(),
                headers,
                &config.trusted_origins,
            );
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        // Recorded with a key's use only: no copy for other requests.
        let user_agent = match credential {
            Some(Credential::ApiKey(_)) => headers
                .get(USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            _ => None,
        };
        RequestAuth {
            inner: Arc::new(Found {
                client_ip: client_ip(peer, headers, &config.trusted_proxies),
                shared,
                credential,
                user_agent,
                cross_origin,
                principal: OnceCell::new(),
            }),
        }
    }

    /// The client's address (see [`client_ip`](crate::client_ip)).
    pub fn client_ip(&self) -> Option<IpAddr> {
        self.inner.client_ip
    }

    /// Whether the request carries any credential at all.
    pub fn has_credential(&self) -> bool {
        self.inner.credential.is_some()
    }

    /// The `Auth` the layer was built with.
    pub fn auth(&self) -> &Arc<Auth> {
        &self.inner.shared.auth
    }

    /// Who the request is from, verified on the first call and remembered for the
    /// request. `Ok(None)`: no credential. A credential that does not verify, or a
    /// cookie on a cross-origin unsafe request, is the [`Rejection`] to answer with.
    pub async fn principal(&self) -> Result<Option<&Principal>, Rejection> {
        let Some(credential) = &self.inner.credential else {
            return Ok(None);
        };
        if self.inner.cross_origin {
            return Err(Rejection::cross_origin());
        }
        let verified = self
            .inner
            .principal
            .get_or_init(|| async { self.verify(credential).await.map_err(Arc::new) })
            .await;
        self.answer(verified)
    }

    /// [`principal`](Self::principal) when it can be answered without awaiting: no
    /// credential, a cross-origin cookie, a principal already verified for this request,
    /// a bearer token (verified by signature alone), or a session the core's session
    /// cache answers for ([`Auth::cached_session`]). `None`: only `principal` can tell.
    pub(crate) fn principal_now(&self) -> Option<Result<Option<&Principal>, Rejection>> {
        let Some(credential) = &self.inner.credential else {
            return Some(Ok(None));
        };
        if self.inner.cross_origin {
            return Some(Err(Rejection::cross_origin()));
        }
        let cell = &self.inner.principal;
        if cell.get().is_none() {
            let verified = match credential {
                Credential::Bearer(token) => self.verify_bearer(token).map_err(Arc::new),
                Credential::Cookie(secret) => {
                    Ok(Principal::Session(self.auth().cached_session(secret)?))
                }
                Credential::ApiKey(_) => return None,
            };
            // Set by another caller meanwhile: the same credential, verified alike.
            let _ = cell.set(verified);
        }
        cell.get().map(|verified| self.answer(verified))
    }

    /// What a verification comes to for the caller.
    fn answer<'a>(
        &self,
        verified: &'a Result<Principal, Arc<Error>>,
    ) -> Result<Option<&'a Principal>, Rejection> {
        match verified {
            Ok(principal) => Ok(Some(principal)),
            // A credential that does not even parse is an invalid one (RFC 6750 §3.1:
            // `invalid_token` covers "malformed"), not a malformed request.
            Err(error) if error.kind() == ErrorKind::InvalidInput => {
                Err(self.rejection(&Error::InvalidToken))
            }
            Err(error) => Err(self.rejection(error)),
        }
    }

    /// The response for `error` raised while serving this request, with the challenge
    /// its credential calls for.
    pub fn rejection(&self, error: &Error) -> Rejection {
        let presented = match self.inner.credential {
            Some(Credential::Bearer(_) | Credential::ApiKey(_)) => Presented::Token,
            Some(Credential::Cookie(_)) | None => Presented::NoToken,
        };
        Rejection::from_error(error, presented, &self.inner.shared.words)
    }

    /// 401 for a request with no credential where one is required.
    pub(crate) fn login_required(&self) -> Rejection {
        Rejection::login_required(&self.inner.shared.words)
    }

    async fn verify(&self, credential: &Credential) -> Result<Principal, Error> {
        let auth = &self.inner.shared.auth;
        match credential {
            Credential::Cookie(secret) => auth
                .authenticate_session(secret)
                .await
                .map(Principal::Session),
            Credential::Bearer(token) => self.verify_bearer(token),
            Credential::ApiKey(key) => {
                let mut request = KeyRequest::new();
                request.client_ip = self.inner.client_ip;
                request.user_agent = self.inner.user_agent.as_deref();
                request.environment = self.inner.shared.config.key_environment;
                let key = auth.verify_api_key_for(key, &request).await?;
                Ok(Principal::ApiKey(Box::new(key)))
            }
        }
    }

    /// A bearer token under each configured audience in turn; an `api` token that is a
    /// machine token is verified as one.
    fn verify_bearer(&self, token: &str) -> Result<Principal, Error> {
        let auth = &self.inner.shared.auth;
        let mut last = Error::WrongAudience;
        for audience in &self.inner.shared.config.bearer_audiences {
            let verified = match audience {
                Audience::Bff => auth
                    .verify_access(token, Audience::Bff)
                    .map(Principal::AccessToken),
                Audience::Api => match auth.verify_api_token(token, None) {
                    Err(Error::WrongTokenKind) => auth
                        .verify_machine_token(token, None)
                        .map(Principal::MachineToken),
                    other => other.map(Principal::AccessToken),
                },
            };
            match verified {
                Err(Error::WrongAudience) => last = Error::WrongAudience,
                done => return done,
            }
        }
        Err(last)
    }
}

/// The first credential in the documented order.
fn credential(shared: &Shared, headers: &HeaderMap) -> Option<Credential> {
    if let Some(token) = bearer(headers) {
        return Some(Credential::Bearer(token));
    }
    let key = headers.get(&shared.config.api_key_header);
    if let Some(key) = key.and_then(|v| v.to_str().ok()) {
        return Some(Credential::ApiKey(key.trim().to_owned()));
    }
    let cookie_name = &shared.auth.config().session.cookie.name;
    cookie(headers, cookie_name).map(Credential::Cookie)
}

/// The value of the cookie `name` (RFC 6265 §5.4: `name=value` pairs separated by `; `,
/// possibly in several `Cookie` headers). An empty value counts as none (a cleared
/// cookie a client kept).
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, v)| *n == name && !v.is_empty())
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme is
/// case-insensitive, RFC 9110 §11.1).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            let value = HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}"));
            map.append(*name, value);
        }
        map
    }

    #[test]
    fn the_named_cookie_is_found_among_others_and_across_headers() {
        let h = headers(&[
            ("cookie", "a=1; theme=dark"),
            ("cookie", "sid=\"abc\"; b=2"),
        ]);
        assert_eq!(cookie(&h, "sid").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        assert_eq!(cookie(&headers(&[("cookie", "sid=")]), "sid"), None);
        assert_eq!(cookie(&headers(&[("cookie", "xsid=1")]), "sid"), None);
    }

    #[test]
    fn a_bearer_token_needs_the_scheme_and_a_token() {
        assert_eq!(
            bearer(&headers(&[("authorization", "Bearer abc")])).as_deref(),
            Some("abc")
        );
        assert_eq!(
            bearer(&headers(&[("authorization", "bearer  abc ")])).as_deref(),
            Some("abc")
        );
        assert_eq!(bearer(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(bearer(&headers(&[("authorization", "Bearer ")])), None);
        assert_eq!(bearer(&headers(&[("authorization", "Bearer")])), None);
    }
}
