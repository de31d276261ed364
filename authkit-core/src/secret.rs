//! Opaque secrets: generation, parsing, hashing and constant-time comparison.
//!
//! A secret is 256 random bits, base64url without padding, behind a readable type prefix
//! (`ses_…`). Stores keep only its SHA-256; the plaintext is handed out once, wrapped in
//! [`Secret`], which hides it from `Debug` and wipes it on drop.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::clock::Randomness;
use crate::error::{Error, Result};
use crate::model::TokenHash;

/// Random bytes in every opaque secret.
pub const SECRET_BYTES: usize = 32;
/// Length of the base64url text of [`SECRET_BYTES`] bytes.
const SECRET_TEXT_LEN: usize = 43;

/// A plaintext secret, shown once. `Debug` prints `Secret(…)`; the memory is zeroed on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a plaintext.
    pub fn new(text: String) -> Self {
        Secret(Zeroizing::new(text))
    }

    /// The plaintext, to hand to the client. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The kinds of opaque token, each with its own prefix so a token of one kind is refused
/// as malformed where another is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A session secret: `ses_`.
    Session,
    /// A refresh token: `rft_`.
    Refresh,
    /// An email-verification token: `vfy_`.
    EmailVerification,
    /// A password-reset token: `rst_`.
    PasswordReset,
    /// A magic-link token: `mlk_`.
    MagicLink,
}

impl TokenKind {
    /// The prefix, underscore included.
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::Session => "ses_",
            TokenKind::Refresh => "rft_",
            TokenKind::EmailVerification => "vfy_",
            TokenKind::PasswordReset => "rst_",
            TokenKind::MagicLink => "mlk_",
        }
    }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> TokenHash {
    TokenHash(Sha256::digest(data).into())
}

/// Equality of two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A new opaque token of `kind` and the hash to store.
pub fn issue_token(kind: TokenKind, rng: &dyn Randomness) -> (Secret, TokenHash) {
    let mut raw = Zeroizing::new([0u8; SECRET_BYTES]);
    rng.fill(raw.as_mut());
    let mut text = String::with_capacity(kind.prefix().len() + SECRET_TEXT_LEN);
    text.push_str(kind.prefix());
    URL_SAFE_NO_PAD.encode_string(raw.as_ref(), &mut text);
    let hash = sha256(text.as_bytes());
    (Secret::new(text), hash)
}

/// Checks that `presented` is a well-formed token of `kind` and returns the hash to look
/// up. Anything else is [`Error::MalformedToken`], found without touching a store.
pub fn parse_token(kind: TokenKind, presented: &str) -> Result<TokenHash> {
    let body = presented
        .strip_prefix(kind.prefix())
        .ok_or(Error::MalformedToken)?;
    if body.len() != SECRET_TEXT_LEN {
        return Err(Error::MalformedToken);
    }
    let mut raw = Zeroizing::new([0u8; SECRET_BYTES]);
    match URL_SAFE_NO_PAD.decode_slice(body, raw.as_mut()) {
        Ok(SECRET_BYTES) => Ok(sha256(presented.as_bytes())),
        _ => Err(Error::MalformedToken),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandomness;

    #[test]
    fn issued_tokens_parse_to_their_hash() {
        let rng = SeededRandomness::new(7);
        let (secret, hash) = issue_token(TokenKind::Session, &rng);
        assert!(secret.expose().starts_with("ses_"));
        assert_eq!(
            parse_token(TokenKind::Session, secret.expose()).ok(),
            Some(hash)
        );
    }

    #[test]
    fn a_token_of_another_kind_is_malformed() {
        let rng = SeededRandomness::new(7);
        let (secret, _) = issue_token(TokenKind::Refresh, &rng);
        assert!(matches!(
            parse_token(TokenKind::Session, secret.expose()),
            Err(Error::MalformedToken)
        ));
    }

    #[test]
    fn truncated_and_padded_tokens_are_malformed() {
        let rng = SeededRandomness::new(7);
        let (secret, _) = issue_token(TokenKind::Session, &rng);
        let text = secret.expose();
        for bad in [
            &text[..text.len() - 1],
            &format!("{text}A"),
            "ses_",
            "",
            "ses_!!!",
        ] {
            assert!(matches!(
                parse_token(TokenKind::Session, bad),
                Err(Error::MalformedToken)
            ));
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let secret = Secret::new("ses_topsecret".into());
        assert_eq!(format!("{secret:?}"), "Secret(…)");
    }
}
