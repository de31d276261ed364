//! Standard claims of a foreign token and the [`Validator`] that checks them.

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use time::Duration;

use crate::error::{Error, Result};

/// The registered claims of RFC 7519 §4.1 and the ID-token claims of OpenID Connect Core
/// §2 that a [`Validator`] checks. Every member is optional here: the validator decides
/// which are required.
///
/// An application deserializes its own claims type holding these with
/// `#[serde(flatten)]` and implements [`HasStandardClaims`]:
///
/// ```
/// use authkit::issuer::{HasStandardClaims, StandardClaims};
///
/// #[derive(serde::Deserialize)]
/// struct MyClaims {
///     #[serde(flatten)]
///     standard: StandardClaims,
///     email: Option<String>,
/// }
///
/// impl HasStandardClaims for MyClaims {
///     fn standard(&self) -> &StandardClaims {
///         &self.standard
///     }
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StandardClaims {
    /// `iss`: the issuer.
    #[serde(default)]
    pub iss: Option<String>,
    /// `sub`: the subject.
    #[serde(default)]
    pub sub: Option<String>,
    /// `aud`: the audiences (a single string in the token is one audience).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
    /// `exp`: expires at, Unix seconds (a fractional NumericDate is rounded down).
    #[serde(default, deserialize_with = "numeric_date")]
    pub exp: Option<i64>,
    /// `nbf`: not before, Unix seconds.
    #[serde(default, deserialize_with = "numeric_date")]
    pub nbf: Option<i64>,
    /// `iat`: issued at, Unix seconds.
    #[serde(default, deserialize_with = "numeric_date")]
    pub iat: Option<i64>,
    /// `jti`: the JWT id.
    #[serde(default)]
    pub jti: Option<String>,
    /// `auth_time`: when the user authenticated, Unix seconds.
    #[serde(default, deserialize_with = "numeric_date")]
    pub auth_time: Option<i64>,
    /// `nonce`: the value the client sent in its authentication request.
    #[serde(default)]
    pub nonce: Option<String>,
    /// `amr`: authentication methods references (RFC 8176).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// `azp`: the authorized party, the client the token was issued to.
    #[serde(default)]
    pub azp: Option<String>,
}

/// A claims type that holds the [`StandardClaims`]. Implemented by `StandardClaims`
/// itself, for callers that need nothing else.
pub trait HasStandardClaims {
    /// The standard claims inside.
    fn standard(&self) -> &StandardClaims;
}

impl HasStandardClaims for StandardClaims {
    fn standard(&self) -> &StandardClaims {
        self
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// A NumericDate (RFC 7519 §2): seconds, possibly fractional; rounded down.
fn numeric_date<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    match n.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 1e15 => Ok(Some(f.floor() as i64)),
        _ => Err(de::Error::custom("NumericDate out of range")),
    }
}

/// A problem that does not make a token invalid but that a careful caller may want to
/// log or act on. Hard failures are errors instead.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationWarning {
    /// `iat` is later than now plus the leeway (the issuer's clock is ahead, or the token
    /// was made for later).
    IssuedInFuture,
    /// The token carries no `iat`.
    MissingIssuedAt,
    /// `auth_time` is later than now plus the leeway.
    AuthTimeInFuture,
    /// The token has several audiences but no `azp` (OpenID Connect Core §3.1.3.7 item 4
    /// says the client SHOULD check that one is present).
    MultipleAudiencesWithoutAzp,
    /// An authorized party is expected but the token carries no `azp`.
    MissingAuthorizedParty,
}

/// What a token from another issuer must satisfy besides its signature and issuer,
/// which [`Issuer::verify`](super::Issuer::verify) always checks.
///
/// Always checked: `exp` is present and not past (with the leeway; RFC 7519 §4.1.4),
/// `nbf` when present is not in the future, `aud` holds one of the accepted audiences
/// (RFC 7519 §4.1.3), `sub` is present. Optionally: an exact `sub`, a maximum token age
/// from `iat`, a `jti`, `auth_time` within a maximum age (OpenID Connect `max_age`), the
/// `nonce` sent, required `amr` values, the `azp`.
#[derive(Clone, Debug)]
pub struct Validator {
    audiences: Vec<String>,
    leeway: Duration,
    subject: Option<String>,
    max_token_age: Option<Duration>,
    require_jti: bool,
    max_auth_age: Option<Duration>,
    nonce: Option<String>,
    required_amr: Vec<String>,
    authorized_party: Option<String>,
}

impl Validator {
    /// Accepts tokens whose `aud` holds `audience` (for an ID token: the client id).
    pub fn new(audience: impl Into<String>) -> Self {
        Validator {
            audiences: vec![audience.into()],
            leeway: Duration::ZERO,
            subject: None,
            max_token_age: None,
            require_jti: false,
            max_auth_age: None,
            nonce: None,
            required_amr: Vec::new(),
            authorized_party: None,
        }
    }

    /// Also accepts `audience`.
    pub fn also_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Tolerated clock skew for `exp`, `nbf`, `iat` and `auth_time`; default zero.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.max(Duration::ZERO);
        self
    }

    /// Requires `sub` to equal `subject`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Requires `iat`, no older than `max_age`.
    pub fn max_token_age(mut self, max_age: Duration) -> Self {
        self.max_token_age = Some(max_age);
        self
    }

    /// Requires a non-empty `jti` (for the caller's replay check).
    pub fn require_jwt_id(mut self) -> Self {
        self.require_jti = true;
        self
    }

    /// Requires `auth_time`, no older than `max_age` (OpenID Connect Core §3.1.2.1
    /// `max_age`, §3.1.3.7 item 13).
    pub fn max_auth_age(mut self, max_age: Duration) -> Self {
        self.max_auth_age = Some(max_age);
        self
    }

    /// Requires `nonce` to equal the one sent in the authentication request (compared in
    /// constant time).
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Requires `amr` to hold `method` (such as `mfa`, `hwk`; RFC 8176).
    pub fn require_amr(mut self, method: impl Into<String>) -> Self {
        self.required_amr.push(method.into());
        self
    }

    /// Requires `azp`, when present, to equal `client_id`; its absence is a warning.
    pub fn authorized_party(mut self, client_id: impl Into<String>) -> Self {
        self.authorized_party = Some(client_id.into());
        self
    }

    /// Checks `claims` at `now` (Unix seconds). Hard failures are errors; the rest are
    /// warnings.
    pub(crate) fn check(&self, c: &StandardClaims, now: i64) -> Result<Vec<ValidationWarning>> {
        let leeway = self.leeway.whole_seconds();
        let mut warnings = Vec::new();
        let exp = c.exp.ok_or(Error::ClaimInvalid("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(Error::TokenExpired);
        }
        if let Some(nbf) = c.nbf
            && now.saturating_add(leeway) < nbf
        {
            return Err(Error::TokenNotYetValid);
        }
        if !c.aud.iter().any(|a| self.audiences.contains(a)) {
            return Err(Error::WrongAudience);
        }
        let sub = c.sub.as_deref().ok_or(Error::ClaimInvalid("sub"))?;
        if self.subject.as_deref().is_some_and(|s| s != sub) {
            return Err(Error::ClaimInvalid("sub"));
        }
        match c.iat {
            Some(iat) if iat > now.saturating_add(leeway) => {
                warnings.push(ValidationWarning::IssuedInFuture);
            }
            Some(_) => {}
            None if self.max_token_age.is_some() => return Err(Error::ClaimInvalid("iat")),
            None => warnings.push(ValidationWarning::MissingIssuedAt),
        }
        if let (Some(max), Some(iat)) = (self.max_token_age, c.iat)
            && now
                > iat
                    .saturating_add(max.whole_seconds())
                    .saturating_add(leeway)
        {
            return Err(Error::ClaimInvalid("iat"));
        }
        if self.require_jti && c.jti.as_deref().is_none_or(str::is_empty) {
            return Err(Error::ClaimInvalid("jti"));
        }
        if let Some(auth_time) = c.auth_time
            && auth_time > now.saturating_add(leeway)
        {
            warnings.push(ValidationWarning::AuthTimeInFuture);
        }
        if let Some(max) = self.max_auth_age {
            let auth_time = c.auth_time.ok_or(Error::ClaimInvalid("auth_time"))?;
            if now
                > auth_time
                    .saturating_add(max.whole_seconds())
                    .saturating_add(leeway)
            {
                return Err(Error::ClaimInvalid("auth_time"));
            }
        }
        if let Some(expected) = &self.nonce {
            let ok = c.nonce.as_deref().is_some_and(|n| {
                crate::secret::constant_time_eq(n.as_bytes(), expected.as_bytes())
            });
            if !ok {
                return Err(Error::ClaimInvalid("nonce"));
            }
        }
        if !self.required_amr.iter().all(|m| c.amr.contains(m)) {
            return Err(Error::ClaimInvalid("amr"));
        }
        match (&self.authorized_party, c.azp.as_deref()) {
            (Some(expected), Some(azp)) if expected != azp => {
                return Err(Error::ClaimInvalid("azp"));
            }
            (Some(_), None) => warnings.push(ValidationWarning::MissingAuthorizedParty),
            _ => {}
        }
        if c.aud.len() > 1 && c.azp.is_none() {
            warnings.push(ValidationWarning::MultipleAudiencesWithoutAzp);
        }
        Ok(warnings)
    }
}
