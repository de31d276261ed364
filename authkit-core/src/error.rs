//! Errors: [`Error`] for callers of [`Auth`](crate::Auth), [`StoreError`] for store authors.

use std::fmt;

use crate::model::{FamilyId, GrantKind, SlugKind, UserId};

/// A boxed error that crosses crate boundaries with its source chain intact.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store reports. Backends keep their own rich error and convert it into this one.
///
/// A store never reports a miss as an error where its contract says the miss is `None`
/// or `false`; it never turns a backend failure into a miss either.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A unique constraint was violated (duplicate id, email, token hash, key hash, slug).
    #[error("conflict: the {what} already exists")]
    Conflict {
        /// The kind of row that collided: a user for a taken email, a role for a taken
        /// role slug, and so on.
        what: Entity,
    },
    /// A row the call refers to does not exist (unknown id, unknown slug).
    #[error("not found: {what}")]
    NotFound {
        /// The kind of row that was missing. Where a call names several (a grant names
        /// a role and a permission), this says which one, so core never asks again.
        what: Entity,
    },
    /// The live schema differs from the one the store expects; each entry names one problem.
    #[error("schema drift: {}", .0.join("; "))]
    SchemaDrift(Vec<String>),
    /// The database or driver failed; the source error is kept.
    #[error("store backend failed")]
    Backend(#[source] BoxError),
}

/// The kind of row a [`StoreError::NotFound`] or [`StoreError::Conflict`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Entity {
    /// A user (unknown id, or a taken id or email).
    User,
    /// A session.
    Session,
    /// A refresh token.
    RefreshToken,
    /// A one-time token or OTP code.
    OneTimeToken,
    /// An API or service key.
    ApiKey,
    /// A role.
    Role,
    /// A permission.
    Permission,
    /// An ability.
    Ability,
}

impl Entity {
    /// A short lowercase name: `user`, `session`, `refresh token`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::User => "user",
            Entity::Session => "session",
            Entity::RefreshToken => "refresh token",
            Entity::OneTimeToken => "one-time token",
            Entity::ApiKey => "api key",
            Entity::Role => "role",
            Entity::Permission => "permission",
            Entity::Ability => "ability",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<SlugKind> for Entity {
    fn from(kind: SlugKind) -> Self {
        match kind {
            SlugKind::Role => Entity::Role,
            SlugKind::Permission => Entity::Permission,
            SlugKind::Ability => Entity::Ability,
        }
    }
}

impl From<GrantKind> for Entity {
    fn from(kind: GrantKind) -> Self {
        kind.slug_kind().into()
    }
}

impl StoreError {
    /// Wraps any driver error as [`StoreError::Backend`].
    pub fn backend(err: impl Into<BoxError>) -> Self {
        StoreError::Backend(err.into())
    }
}

/// Everything a flow of [`Auth`](crate::Auth) can fail with. Match on the variant, not on
/// the message text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration breaks rules; raised by [`Auth`](crate::Auth) construction only.
    /// Every broken rule is listed, one entry each.
    #[error("invalid configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// The email is empty, too long, or not of the form `local@domain`.
    #[error("invalid email: {0}")]
    InvalidEmail(&'static str),
    /// Another user already holds this (normalized) email.
    #[error("email already registered")]
    EmailTaken,
    /// The password is shorter than the configured minimum (counted in characters).
    #[error("password shorter than {min} characters")]
    PasswordTooShort {
        /// The configured minimum.
        min: usize,
    },
    /// The password is longer than the maximum, in bytes; it is never truncated.
    #[error("password longer than {max} bytes")]
    PasswordTooLong {
        /// The maximum in bytes.
        max: usize,
    },
    /// Email or password wrong, or the user has no password. Deliberately one variant.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The login hook refused the attempt (rate limit, lockout, audit failure).
    #[error("login refused by hook")]
    LoginRefused(#[source] BoxError),
    /// The login hook panicked; the login is refused.
    #[error("login hook panicked")]
    LoginHookPanicked,
    /// No user has this id.
    #[error("user not found")]
    UserNotFound,
    /// The presented token is not one this library issued: wrong prefix, length or encoding
    /// (for an access token: over 8 KiB, or not a compact JWS of JSON header and payload).
    #[error("malformed token")]
    MalformedToken,
    /// The session is unknown, revoked, or past its idle or absolute deadline.
    #[error("session invalid or expired")]
    SessionInvalid,
    /// The access token is not one we issued: its signature does not verify with the key
    /// its `kid` names and that key's algorithm, its header is not ours (a `crit` member,
    /// a missing or foreign `typ`), or its `iss` is another issuer.
    #[error("invalid access token")]
    InvalidToken,
    /// The access token has expired: `now >= exp + leeway`.
    #[error("access token expired")]
    TokenExpired,
    /// The access token was minted for another audience.
    #[error("access token minted for another audience")]
    WrongAudience,
    /// No refresh token has this value.
    #[error("unknown refresh token")]
    RefreshUnknown,
    /// The access token is for another kind of subject than the call verifies: a machine
    /// token (client credentials, RFC 6749 §4.4, whose `sub` names a service key) presented
    /// where a user's token is expected, or a user's token where a machine token is
    /// expected. Refused so that a key id is never read as a user id (RFC 9068 §5).
    #[error("access token issued for another kind of subject")]
    WrongTokenKind,
    /// The refresh token had already been used: its whole family is now revoked.
    #[error("refresh token reused; family revoked")]
    RefreshReused {
        /// The revoked family.
        family: FamilyId,
        /// The user the family belonged to.
        user: UserId,
    },
    /// The refresh token is past its own expiry, or was revoked.
    #[error("refresh token expired or revoked")]
    RefreshExpired,
    /// The refresh chain (one login) is past its absolute lifetime; log in again.
    #[error("refresh chain past its absolute lifetime")]
    RefreshChainExpired,
    /// The one-time token (email verification, password reset, magic link) is unknown,
    /// used, expired, or issued for another purpose. Deliberately one variant.
    #[error("one-time token invalid or expired")]
    OneTimeTokenInvalid,
    /// The OTP code is wrong; the failure was counted.
    #[error("wrong code; {attempts_left} attempts left")]
    OtpInvalid {
        /// Attempts left before the code dies.
        attempts_left: u32,
    },
    /// The OTP code reached its failed-attempt cap and is dead; request a new one.
    #[error("too many wrong codes; request a new one")]
    OtpLocked,
    /// The API key is not of the form `sk_live_…` or its checksum is wrong (a typo).
    /// Found without touching the store.
    #[error("malformed API key")]
    ApiKeyMalformed,
    /// No API key has this value (or id).
    #[error("unknown API key")]
    ApiKeyUnknown,
    /// The API key was revoked.
    #[error("API key revoked")]
    ApiKeyRevoked,
    /// The API key has expired.
    #[error("API key expired")]
    ApiKeyExpired,
    /// The key is of another environment than the request requires (a `sk_test_` key
    /// where live keys are required). Found without touching the store.
    #[error("API key of the wrong environment")]
    ApiKeyWrongEnvironment,
    /// The key used up its rate limit for the current window; retry after
    /// `retry_after` (a `Retry-After` header, RFC 9110 §10.2.3, in whole seconds, at
    /// least 1).
    #[error("API key rate limit reached; retry in {}s", retry_after.whole_seconds())]
    RateLimited {
        /// How long until the window ends.
        retry_after: time::Duration,
    },
    /// The client address is not on the key's allow-list.
    #[error("client address not allowed for this API key")]
    IpNotAllowed,
    /// The key may not be exchanged for a machine token (client credentials, RFC 6749
    /// §4.4): it belongs to a user (only service keys, with no owner, may), or it is
    /// publishable, so not a confidential client's credential (RFC 6749 §4.4: "MUST only
    /// be used by confidential clients").
    #[error("this key may not obtain machine tokens")]
    ClientCredentialsNotAllowed,
    /// The key (or token) lacks the scope the request needs.
    #[error("missing scope {0}")]
    ScopeMissing(String),
    /// The key type may not hold this scope (publishable keys hold public-safe scopes only).
    #[error("scope {0} not allowed for this key type")]
    ScopeNotAllowed(String),
    /// A scope is not of the form `name(:name)*` with an optional final `*`.
    #[error("invalid scope {0:?}")]
    InvalidScope(String),
    /// An IP allow-list entry is neither an address nor a CIDR range.
    #[error("invalid IP address or CIDR range {0:?}")]
    InvalidIpRange(String),
    /// A slug does not match `^[a-z][a-z0-9_:-]*$` or is longer than 64 bytes.
    #[error("invalid slug {0:?}")]
    InvalidSlug(String),
    /// Slugs named by a predicate, grant or service-key scope are not registered.
    #[error("unregistered {kind}: {}", .slugs.join(", "))]
    UnknownSlug {
        /// `role`, `permission` or `ability`.
        kind: &'static str,
        /// The unregistered slugs.
        slugs: Vec<String>,
    },
    /// A registered slug already exists.
    #[error("{kind} {slug} already exists")]
    SlugTaken {
        /// `role`, `permission` or `ability`.
        kind: &'static str,
        /// The slug.
        slug: String,
    },
    /// The subject does not satisfy the authorization predicate.
    #[error("forbidden")]
    Forbidden,
    /// No token lifetime profile has this name.
    #[error("unknown token profile {0:?}")]
    UnknownProfile(String),
    /// An encrypted session payload did not decrypt: tampered, copied from another
    /// session, or sealed with a key that is no longer configured.
    #[error("session payload does not decrypt")]
    PayloadUndecryptable,
    /// The session carries no encrypted payload.
    #[error("session has no payload")]
    NoPayload,
    /// A key has the wrong length.
    #[error("key must be {expected} bytes, got {got}")]
    InvalidKeyLength {
        /// The required length.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// An input is out of bounds (empty, oversize, too many entries); the text says which.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// A signing or verifying key is unusable: malformed, too small, of an unsupported
    /// type, curve or algorithm, or of the wrong kind (an HMAC secret where a public key
    /// is needed, a JWK with private members or meant for another use than signatures).
    #[error("unusable key: {0}")]
    InvalidKey(String),
    /// The token's `nbf` (not before) is still in the future, beyond the leeway; for our
    /// own access tokens, also an `iat` (issued at) in the future beyond the leeway.
    #[error("token not yet valid")]
    TokenNotYetValid,
    /// A claim the [`Validator`](crate::issuer::Validator) requires is missing, malformed
    /// or does not match; the name says which (`sub`, `exp`, `iat`, `jti`, `auth_time`,
    /// `nonce`, `amr`, `azp`). For our own access tokens
    /// ([`Auth::verify_access`](crate::Auth::verify_access)): a claim we write (`iss`,
    /// `aud`, `sub`, `iat`, `exp`, `jti`) is missing, or a claim is not of the JSON type we
    /// write; `exp` when the lifetime is over [`max_access_ttl`]; `sub` when it is not a
    /// user id. For machine tokens
    /// ([`Auth::verify_machine_token`](crate::Auth::verify_machine_token)) also `gty`,
    /// `client_id` and `scope` when missing or not what we write, and `sub` when it is
    /// not a key id.
    ///
    /// [`max_access_ttl`]: crate::config::TokenConfig::max_access_ttl
    #[error("claim {0} missing or invalid")]
    ClaimInvalid(&'static str),
    /// A discovery or metadata document names another issuer than the one configured
    /// (OpenID Connect Discovery 1.0 §4.3, RFC 8414 §3.3): the issuer is refused.
    #[error("issuer mismatch: expected {expected:?}, the document says {found:?}")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// The issuer the document names.
        found: String,
    },
    /// A discovery, metadata or JWKS document (or its URL) is malformed or unusable.
    #[error("invalid issuer document: {0}")]
    IssuerDocumentInvalid(String),
    /// The issuer's keys could not be fetched, and no cached key may be used any more
    /// (none yet, or past the maximum staleness): verification fails closed.
    #[error("issuer keys unavailable")]
    IssuerUnavailable(#[source] BoxError),
    /// The live database schema differs from the one the store expects.
    #[error("schema drift: {}", .0.join("; "))]
    SchemaDrift(Vec<String>),
    /// A store failed.
    #[error("store failed")]
    Store(#[source] StoreError),
    /// An internal step failed (a blocking task could not run, a signer failed); the
    /// cause is kept as the source.
    #[error("internal error: {context}")]
    Internal {
        /// Which step failed, such as `"jwt signing"`.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: BoxError,
    },
}

/// What kind of failure an [`Error`] is: the one thing an HTTP layer should map.
///
/// Map kinds, never individual variants, to responses: the kinds are coarse on purpose,
/// so a response cannot tell an attacker which of several checks failed (a reused, an
/// expired and an unknown refresh token are all [`ErrorKind::Unauthenticated`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is malformed or out of bounds (HTTP 400 or 422).
    InvalidInput,
    /// No valid credential was presented, or it is expired, revoked or reused (HTTP 401).
    Unauthenticated,
    /// The credential is valid but not allowed to do this (HTTP 403).
    Forbidden,
    /// The thing to create already exists (HTTP 409).
    Conflict,
    /// The thing named does not exist (HTTP 404).
    NotFound,
    /// Too many attempts, or a lock is in force (HTTP 429).
    RateLimited,
    /// A store or dependency is down or misconfigured; retrying later may work (HTTP 503).
    Unavailable,
    /// A bug or a broken configuration on our side (HTTP 500).
    Internal,
}

impl Error {
    /// The kind of this error, for mapping to a response.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            Error::InvalidEmail(_)
            | Error::PasswordTooShort { .. }
            | Error::PasswordTooLong { .. }
            | Error::MalformedToken
            | Error::ApiKeyMalformed
            | Error::InvalidScope(_)
            | Error::InvalidIpRange(_)
            | Error::InvalidSlug(_)
            | Error::UnknownSlug { .. }
            | Error::UnknownProfile(_)
            | Error::InvalidKeyLength { .. }
            | Error::InvalidKey(_)
            | Error::InvalidInput(_) => K::InvalidInput,
            Error::InvalidCredentials
            | Error::SessionInvalid
            | Error::InvalidToken
            | Error::TokenExpired
            | Error::WrongAudience
            | Error::WrongTokenKind
            | Error::TokenNotYetValid
            | Error::ClaimInvalid(_)
            | Error::RefreshUnknown
            | Error::RefreshReused { .. }
            | Error::RefreshExpired
            | Error::RefreshChainExpired
            | Error::OneTimeTokenInvalid
            | Error::OtpInvalid { .. }
            | Error::ApiKeyUnknown
            | Error::ApiKeyRevoked
            | Error::ApiKeyExpired
            | Error::ApiKeyWrongEnvironment
            | Error::PayloadUndecryptable
            | Error::NoPayload => K::Unauthenticated,
            Error::Forbidden
            | Error::IpNotAllowed
            | Error::ClientCredentialsNotAllowed
            | Error::ScopeMissing(_)
            | Error::ScopeNotAllowed(_) => K::Forbidden,
            Error::EmailTaken | Error::SlugTaken { .. } => K::Conflict,
            Error::UserNotFound => K::NotFound,
            Error::LoginRefused(_) | Error::OtpLocked | Error::RateLimited { .. } => K::RateLimited,
            Error::SchemaDrift(_) | Error::Store(_) | Error::IssuerUnavailable(_) => K::Unavailable,
            Error::InvalidConfig(_)
            | Error::LoginHookPanicked
            | Error::IssuerMismatch { .. }
            | Error::IssuerDocumentInvalid(_)
            | Error::Internal { .. } => K::Internal,
        }
    }

    /// An [`Error::Internal`] for the step `context`, keeping `source`.
    pub(crate) fn internal(context: &'static str, source: impl Into<BoxError>) -> Self {
        Error::Internal {
            context,
            source: source.into(),
        }
    }
}

impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::SchemaDrift(problems) => Error::SchemaDrift(problems),
            other => Error::Store(other),
        }
    }
}

/// Shorthand for results of [`Auth`](crate::Auth) flows.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_failures_share_one_kind() {
        let family = FamilyId(uuid::Uuid::nil());
        let user = UserId(uuid::Uuid::nil());
        let failures = [
            Error::RefreshUnknown,
            Error::RefreshReused { family, user },
            Error::RefreshExpired,
            Error::RefreshChainExpired,
        ];
        for err in failures {
            assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err:?}");
        }
    }

    #[test]
    fn kinds_of_representative_errors() {
        assert_eq!(Error::EmailTaken.kind(), ErrorKind::Conflict);
        assert_eq!(Error::OtpLocked.kind(), ErrorKind::RateLimited);
        assert_eq!(Error::Forbidden.kind(), ErrorKind::Forbidden);
        assert_eq!(Error::MalformedToken.kind(), ErrorKind::InvalidInput);
        assert_eq!(Error::UserNotFound.kind(), ErrorKind::NotFound);
        let down = Error::Store(StoreError::backend("connection refused"));
        assert_eq!(down.kind(), ErrorKind::Unavailable);
        let bug = Error::internal("jwt signing", "no key");
        assert_eq!(bug.kind(), ErrorKind::Internal);
        assert!(
            std::error::Error::source(&bug).is_some(),
            "the source is kept"
        );
    }
}
