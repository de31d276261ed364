//! Extractors for the principal. Each fails with the response the layer words (401 with
//! a challenge when nothing or the wrong kind of credential was sent); each also works
//! as `Option<…>` for routes open to guests, where a missing, expired or revoked
//! credential is `None` and only other failures (a store that is down, a cross-origin
//! cookie request) are refused.

use authkit::{AccessClaims, ApiKey, MachineClaims, Session, UserId};
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::{Principal, Rejection, RequestAuth};

/// Any verified principal.
#[derive(Clone, Debug)]
pub struct Authenticated(pub Principal);

/// The session of a browser logged in with the session cookie.
#[derive(Clone, Debug)]
pub struct UserSession(pub Session);

/// A user's verified access token.
#[derive(Clone, Debug)]
pub struct UserToken(pub AccessClaims);

/// A service's verified machine token.
#[derive(Clone, Debug)]
pub struct MachineToken(pub MachineClaims);

/// A verified API key or service key.
#[derive(Clone, Debug)]
pub struct Key(pub ApiKey);

/// The user a request acts for, whatever the credential: session, user token or a user's
/// key (not a service key or machine token).
#[derive(Clone, Copy, Debug)]
pub struct CurrentUser(pub UserId);

/// Why an extractor refused: the layer's [`Rejection`], or the layer is missing.
#[derive(Debug)]
pub enum ExtractRejection {
    /// The credential was missing, of the wrong kind, or refused.
    Refused(Rejection),
    /// No [`AuthLayer`](crate::AuthLayer) runs in front of this route: a wiring bug.
    NoLayer,
}

impl IntoResponse for ExtractRejection {
    fn into_response(self) -> Response {
        match self {
            ExtractRejection::Refused(r) => r.into_response(),
            ExtractRejection::NoLayer => {
                tracing::error!("authkit extractor used on a route without AuthLayer");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// The principal, if the credential verified; `Ok(None)` for no credential.
async fn principal(parts: &Parts) -> Result<(RequestAuth, Option<Principal>), ExtractRejection> {
    let found = parts
        .extensions
        .get::<RequestAuth>()
        .cloned()
        .ok_or(ExtractRejection::NoLayer)?;
    let principal = found
        .principal()
        .await
        .map_err(ExtractRejection::Refused)?
        .cloned();
    Ok((found, principal))
}

/// Picks one kind of principal out of any.
trait Pick: Sized {
    fn pick(principal: Principal) -> Option<Self>;
}

async fn required<T: Pick>(parts: &Parts) -> Result<T, ExtractRejection> {
    let (found, principal) = principal(parts).await?;
    principal
        .and_then(T::pick)
        .ok_or_else(|| ExtractRejection::Refused(found.login_required()))
}

async fn optional<T: Pick>(parts: &Parts) -> Result<Option<T>, ExtractRejection> {
    match principal(parts).await {
        Ok((_, principal)) => Ok(principal.and_then(T::pick)),
        Err(ExtractRejection::Refused(r)) if r.status() == StatusCode::UNAUTHORIZED => Ok(None),
        Err(other) => Err(other),
    }
}

macro_rules! extractor {
    ($name:ident, |$p:ident| $pick:expr) => {
        impl Pick for $name {
            fn pick($p: Principal) -> Option<Self> {
                $pick
            }
        }

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ExtractRejection;

            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
                required(parts).await
            }
        }

        impl<S: Send + Sync> OptionalFromRequestParts<S> for $name {
            type Rejection = ExtractRejection;

            async fn from_request_parts(
                parts: &mut Parts,
                _: &S,
            ) -> Result<Option<Self>, Self::Rejection> {
                optional(parts).await
            }
        }
    };
}

extractor!(Authenticated, |p| Some(Authenticated(p)));
extractor!(UserSession, |p| match p {
    Principal::Session(s) => Some(UserSession(s)),
    _ => None,
});
extractor!(UserToken, |p| match p {
    Principal::AccessToken(c) => Some(UserToken(c)),
    _ => None,
});
extractor!(MachineToken, |p| match p {
    Principal::MachineToken(c) => Some(MachineToken(c)),
    _ => None,
});
extractor!(Key, |p| match p {
    Principal::ApiKey(k) => Some(Key(*k)),
    _ => None,
});
extractor!(CurrentUser, |p| p.user_id().map(CurrentUser));

impl<S: Send + Sync> FromRequestParts<S> for RequestAuth {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<RequestAuth>()
            .cloned()
            .ok_or(ExtractRejection::NoLayer)
    }
}
