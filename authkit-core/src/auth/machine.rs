//! Machine-to-machine tokens: a service key exchanged for a short-lived access token
//! (the client credentials grant, RFC 6749 §4.4), in the JWT access-token format of
//! RFC 9068.
//!
//! The design (claims, how they are kept apart from users', revocation) is documented on
//! [`MachineClaims`], which is public.

use std::net::IpAddr;

use serde::Serialize;

use super::Auth;
use super::jwt::{AccessToken, Audience, CLIENT_CREDENTIALS_GTY};
use crate::error::{Error, Result};
use crate::model::{ApiKeyId, KeyType};
use crate::scope::{check_scope, scope_covers, scopes_cover};

/// Most scopes one machine token may be asked for (as many as a key may hold).
const MAX_SCOPES: usize = 64;

/// The claims of a machine token, as [`Auth::verify_machine_token`] returns them: every
/// one checked, so they are always usable. The audience is always `api`.
///
/// # Why a token and not the key
///
/// A service calling another presents its key once to [`Auth::issue_machine_token`] and
/// then a token that verifies without a store lookup ([`Auth::verify_machine_token`]):
/// the long-lived secret travels once per token lifetime instead of on every request, and
/// the token can carry fewer scopes than the key.
///
/// # The claims (RFC 9068 §2.2)
///
/// No resource owner is involved, so `sub` names the client (RFC 9068 §2.2: "the value of
/// `sub` SHOULD correspond to an identifier the authorization server uses to indicate the
/// client application"): the service key's id, also in `client_id` (RFC 9068 §2.2,
/// RFC 8693 §4.3). `gty` is `client_credentials` (the `grant_type` of RFC 6749 §4.4.2),
/// `scope` the space-separated scopes granted (RFC 9068 §2.2.3, RFC 8693 §4.2, written even
/// when empty), and `aud` is `api`. The header is that of every access token (`typ:
/// at+jwt`, RFC 9068 §2.1).
///
/// # Never a user's token
///
/// A key id and a user id are both UUIDs, so a verifier that read `sub` as a user id would
/// accept a key as a user: RFC 9068 §5 asks authorization servers to keep a client's `sub`
/// from being mistaken for a user's. The two kinds are told apart by the claims, not by luck: a machine
/// token always carries `client_id` and `gty`, a user's token never does, and
/// [`Auth::verify_access`] and [`Auth::verify_api_token`] refuse a token with either claim
/// ([`Error::WrongTokenKind`]) while [`Auth::verify_machine_token`] refuses one with
/// neither. A machine token is refused by the other verify calls even when it would
/// otherwise pass, and its claims come back as this type, whose id is an [`ApiKeyId`],
/// never a [`UserId`](crate::UserId).
///
/// Releases before machine tokens do not know these claims, and would read a machine
/// token as a user's: during a rolling upgrade, issue machine tokens only once every
/// instance that verifies `api` tokens runs a release that has
/// [`Auth::verify_machine_token`].
///
/// # Revocation
///
/// Verification does not look the key up again: a machine token is self-contained, like
/// every access token here, and verifying one costs no store round trip. Revoking or
/// expiring a key stops new exchanges at once; tokens already issued live out their
/// lifetime, at most [`ApiKeyConfig::machine_token_ttl`] (default 1 h) and never past the
/// key's own expiry. Where revocation must bite sooner, lower that setting, or check the
/// key on sensitive calls with [`Auth::api_key`] (`claims.client_id`).
///
/// [`ApiKeyConfig::machine_token_ttl`]: crate::config::ApiKeyConfig::machine_token_ttl
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MachineClaims {
    /// The service key the token was obtained with: `client_id`, and `sub`.
    pub client_id: ApiKeyId,
    /// The scopes granted, in the order asked for; possibly none.
    pub scopes: Vec<String>,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds: refused on or after it.
    pub exp: i64,
    /// The issuer.
    pub iss: String,
    /// A unique id for this token.
    pub jti: String,
}

impl MachineClaims {
    /// Whether the token's scopes cover `required` (`reports:*` covers `reports:export`).
    pub fn covers(&self, required: &str) -> bool {
        scopes_cover(&self.scopes, required)
    }
}

/// The payload of a machine token as written.
#[derive(Serialize)]
struct MachineWire<'a> {
    sub: &'a str,
    client_id: &'a str,
    gty: &'static str,
    iat: i64,
    exp: i64,
    iss: &'a str,
    aud: &'static str,
    jti: &'a str,
    scope: &'a str,
}

impl Auth {
    /// Exchanges a service key for a machine token (the client credentials grant,
    /// RFC 6749 §4.4): an `api` access token whose subject is the key, carrying
    /// `scopes` (`None`: every scope of the key), living
    /// [`ApiKeyConfig::machine_token_ttl`](crate::config::ApiKeyConfig::machine_token_ttl)
    /// (default 1 h) but never past the key's expiry. No jitter, no profile. Verify it with
    /// [`Auth::verify_machine_token`]; the user verify calls refuse it. The claims, and why
    /// verification does not consult the key again, are on [`MachineClaims`].
    ///
    /// The key is checked by [`Auth::verify_api_key`], so everything that refuses a key
    /// there refuses it here, and every exchange whose key passes those checks counts as
    /// one use of the key (even when it is then refused for its owner, type or scopes).
    ///
    /// Errors:
    /// - [`Error::InvalidScope`]: a requested scope is malformed, or more than 64 are asked
    ///   for (checked before the key is looked up).
    /// - Those of [`Auth::verify_api_key`]: [`Error::ApiKeyMalformed`],
    ///   [`Error::ApiKeyUnknown`], [`Error::ApiKeyRevoked`], [`Error::ApiKeyExpired`],
    ///   [`Error::IpNotAllowed`] (also when the key has an allow-list and `client_ip` is
    ///   `None`).
    /// - [`Error::ClientCredentialsNotAllowed`]: the key belongs to a user, or is
    ///   publishable (only confidential clients may use this grant, RFC 6749 §4.4).
    /// - [`Error::ScopeMissing`]: the key's scopes do not cover a requested scope
    ///   (`invalid_scope` of RFC 6749 §5.2). Nothing is issued.
    /// - [`Error::ApiKeyExpired`] too when the key expires within the second: a token
    ///   capped by it could not live a whole second.
    pub async fn issue_machine_token(
        &self,
        presented_key: &str,
        scopes: Option<&[String]>,
        client_ip: Option<IpAddr>,
    ) -> Result<AccessToken> {
        if let Some(requested) = scopes {
            if requested.len() > MAX_SCOPES {
                return Err(Error::InvalidScope(format!(
                    "more than {MAX_SCOPES} scopes"
                )));
            }
            requested.iter().try_for_each(|s| check_scope(s))?;
        }
        let key = self.verify_api_key(presented_key, None, client_ip).await?;
        if key.owner.is_some() || key.key_type == KeyType::Publishable {
            return Err(Error::ClientCredentialsNotAllowed);
        }
        let granted: Vec<&str> = match scopes {
            None => key.scopes.iter().map(String::as_str).collect(),
            Some(requested) => {
                let mut granted: Vec<&str> = Vec::with_capacity(requested.len());
                for scope in requested {
                    if !key.scopes.iter().any(|k| scope_covers(k, scope)) {
                        return Err(Error::ScopeMissing(scope.clone()));
                    }
                    if !granted.contains(&scope.as_str()) {
                        granted.push(scope);
                    }
                }
                granted
            }
        };
        let now = self.now();
        let ttl_end = now + self.config.api_keys.machine_token_ttl;
        let expires_at = key
            .expires_at
            .map_or(ttl_end, |key_end| key_end.min(ttl_end));
        let (iat, exp) = (now.unix_timestamp(), expires_at.unix_timestamp());
        if exp <= iat {
            return Err(Error::ApiKeyExpired);
        }
        let client_id = key.id.0.to_string();
        let claims = MachineWire {
            sub: &client_id,
            client_id: &client_id,
            gty: CLIENT_CREDENTIALS_GTY,
            iat,
            exp,
            iss: &self.config.tokens.issuer,
            aud: Audience::Api.as_str(),
            jti: &self.new_jti(),
            scope: &granted.join(" "),
        };
        let token = self.jwt.sign(&claims)?;
        Ok(AccessToken { token, expires_at })
    }

    /// Verifies a machine token (from [`Auth::issue_machine_token`]) against the clock
    /// and, when given, that its scopes cover `required_scope`. Pure: no store lookup (see
    /// [`MachineClaims`] on revocation).
    ///
    /// Refused with the errors of [`Auth::verify_access`] for audience `api`, in its
    /// order, except that the kind check is the other way round:
    /// - [`Error::WrongTokenKind`]: a user's token (it carries neither `client_id` nor
    ///   `gty`), right after the audience check.
    /// - [`Error::ClaimInvalid`]`("gty")`: `gty` is not `client_credentials`;
    ///   `("client_id")`: `client_id` missing or not equal to `sub`; `("scope")`: no
    ///   `scope` claim; `("sub")`: `sub` is not a key id (a UUID in hyphenated form).
    /// - [`Error::ScopeMissing`]: the token's scopes do not cover `required_scope`.
    pub fn verify_machine_token(
        &self,
        token: &str,
        required_scope: Option<&str>,
    ) -> Result<MachineClaims> {
        let claims = self.jwt.verify_machine(token, self.now())?;
        if let Some(required) = required_scope
            && !claims.covers(required)
        {
            return Err(Error::ScopeMissing(required.to_owned()));
        }
        Ok(claims)
    }
}
