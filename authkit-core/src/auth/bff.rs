//! Backend-for-frontend sessions: upstream tokens sealed inside the server-side session.
//!
//! The browser holds only the session cookie; the access and refresh tokens of the
//! upstream provider (and an optional DPoP key pair) stay on the server, sealed with
//! AES-256-GCM (NIST SP 800-38D) under a 96-bit random nonce, with the session id as
//! associated data: a payload copied onto another session does not open. Each payload
//! names the key that sealed it, so keys rotate: the newest configured key seals, every
//! configured key opens (IETF draft "OAuth 2.0 for Browser-Based Applications", BFF).

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use super::Auth;
use super::sessions::IssuedSession;
use crate::config::PayloadKey;
use crate::error::{Error, Result, StoreError};
use crate::model::{Session, SessionId, UserId};

/// Format version of a sealed payload.
const VERSION: u8 = 1;
/// Nonce bytes (96 bits, the GCM standard size).
const NONCE_BYTES: usize = 12;
/// Domain separation for the associated data.
const AAD_LABEL: &[u8] = b"authkit:session-payload:v1:";

/// Tokens of an upstream identity provider, held for a browser session. `Debug` hides
/// them; they are wiped from memory on drop.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UpstreamTokens {
    /// The upstream access token.
    pub access_token: String,
    /// The upstream refresh token, if any.
    pub refresh_token: Option<String>,
    /// A DPoP key pair (RFC 9449), serialized by the application (a private JWK, say).
    pub dpop_key_pair: Option<String>,
}

impl UpstreamTokens {
    /// Tokens with only an access token; set the others on the value returned.
    pub fn new(access_token: impl Into<String>) -> Self {
        UpstreamTokens {
            access_token: access_token.into(),
            refresh_token: None,
            dpop_key_pair: None,
        }
    }
}

impl fmt::Debug for UpstreamTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamTokens")
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("dpop_key_pair", &self.dpop_key_pair.as_ref().map(|_| "…"))
            .finish_non_exhaustive()
    }
}

impl Drop for UpstreamTokens {
    fn drop(&mut self) {
        self.access_token.zeroize();
        self.refresh_token.zeroize();
        self.dpop_key_pair.zeroize();
    }
}

impl Auth {
    /// Issues a session that carries `tokens`, sealed. Errors: [`Error::UserNotFound`],
    /// [`Error::InvalidInput`] when no payload key is configured.
    pub async fn issue_bff_session(
        &self,
        user: UserId,
        tokens: &UpstreamTokens,
    ) -> Result<IssuedSession> {
        self.newest_payload_key()?;
        self.insert_session(user, Some(tokens)).await
    }

    /// Opens the upstream tokens of an authenticated session.
    /// Errors: [`Error::NoPayload`], [`Error::PayloadUndecryptable`].
    pub fn upstream_tokens(&self, session: &Session) -> Result<UpstreamTokens> {
        let sealed = session.payload.as_deref().ok_or(Error::NoPayload)?;
        self.open(session.id, sealed)
    }

    /// Replaces a live session's upstream tokens (after an upstream refresh), sealed with
    /// the newest key. Errors: [`Error::SessionInvalid`], [`Error::InvalidInput`].
    pub async fn set_upstream_tokens(
        &self,
        session: SessionId,
        tokens: &UpstreamTokens,
    ) -> Result<()> {
        let sealed = self.seal(session, tokens)?;
        let set = self
            .stores
            .sessions
            .set_session_payload(session, Some(&sealed), self.now())
            .await;
        // A cached copy holds the old payload.
        self.session_cache.forget_session(session);
        match set {
            Err(StoreError::NotFound { .. }) => Err(Error::SessionInvalid),
            other => Ok(other?),
        }
    }

    /// Seals `tokens` for session `id` with the newest key:
    /// `version ‖ key id ‖ nonce ‖ ciphertext+tag`.
    pub(super) fn seal(&self, id: SessionId, tokens: &UpstreamTokens) -> Result<Vec<u8>> {
        let key = self.newest_payload_key()?;
        let mut plain = zeroize::Zeroizing::new(
            serde_json::to_vec(tokens).map_err(|e| Error::internal("payload encoding", e))?,
        );
        let mut nonce = [0u8; NONCE_BYTES];
        self.rng.fill(&mut nonce);
        let aad = associated_data(id);
        let ciphertext = cipher(key)
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| Error::internal("payload encryption", "AES-GCM refused to seal"))?;
        plain.zeroize();
        let mut sealed = Vec::with_capacity(2 + NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&[VERSION, key.id()]);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    fn open(&self, id: SessionId, sealed: &[u8]) -> Result<UpstreamTokens> {
        let [version, key_id, rest @ ..] = sealed else {
            return Err(Error::PayloadUndecryptable);
        };
        if *version != VERSION || rest.len() < NONCE_BYTES {
            return Err(Error::PayloadUndecryptable);
        }
        let key = self.config.payload_keys.iter().find(|k| k.id() == *key_id);
        let key = key.ok_or(Error::PayloadUndecryptable)?;
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| Error::PayloadUndecryptable)?;
        let aad = associated_data(id);
        let plain = zeroize::Zeroizing::new(
            cipher(key)
                .decrypt(
                    &Nonce::from(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: &aad,
                    },
                )
                .map_err(|_| Error::PayloadUndecryptable)?,
        );
        serde_json::from_slice(&plain).map_err(|_| Error::PayloadUndecryptable)
    }

    fn newest_payload_key(&self) -> Result<&PayloadKey> {
        self.config
            .payload_keys
            .last()
            .ok_or(Error::InvalidInput("no payload key is configured"))
    }
}

fn cipher(key: &PayloadKey) -> Aes256Gcm {
    Aes256Gcm::new(&(*key.bytes()).into())
}

fn associated_data(id: SessionId) -> Vec<u8> {
    [AAD_LABEL, id.0.as_bytes()].concat()
}
