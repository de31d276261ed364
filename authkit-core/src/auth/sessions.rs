//! Opaque server-side sessions.
//!
//! OWASP Session Management Cheat Sheet: session ids of at least 64 bits of entropy (we use
//! 256) from a CSPRNG, idle and absolute timeouts enforced on the server, cookies marked
//! `Secure`, `HttpOnly` and `SameSite`. Only the SHA-256 of the secret is stored, so a
//! leaked sessions table cannot be replayed.

use super::bff::UpstreamTokens;
use super::{Auth, user_missing};
use crate::error::{Error, Result};
use crate::model::{Session, SessionId, SlidePolicy, UserId};
use crate::secret::{Secret, TokenKind, issue_token, parse_token};

/// A session just issued: the secret for the client (shown once) and the stored row.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// The plaintext secret (`ses_…`); only its hash is stored.
    pub secret: Secret,
    /// The stored session.
    pub session: Session,
}

impl Auth {
    /// Issues a session for `user`. Unknown user: [`Error::UserNotFound`].
    pub async fn issue_session(&self, user: UserId) -> Result<IssuedSession> {
        self.insert_session(user, None).await
    }

    /// Issues a session, with `tokens` sealed into its payload when given.
    pub(super) async fn insert_session(
        &self,
        user: UserId,
        tokens: Option<&UpstreamTokens>,
    ) -> Result<IssuedSession> {
        self.user(user).await?;
        let now = self.now();
        let cfg = &self.config.session;
        let id = SessionId(self.new_uuid(now));
        let payload = tokens.map(|t| self.seal(id, t)).transpose()?;
        let (secret, token_hash) = issue_token(TokenKind::Session, self.rng.as_ref());
        let absolute_expires_at = now + cfg.absolute_ttl;
        let session = Session {
            id,
            user_id: user,
            token_hash,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: (now + cfg.idle_ttl).min(absolute_expires_at),
            absolute_expires_at,
            payload,
        };
        self.stores
            .sessions
            .create_session(&session)
            .await
            .map_err(user_missing)?;
        Ok(IssuedSession { secret, session })
    }

    /// Authenticates a presented session secret and slides its idle deadline (never past
    /// the absolute one; written only when it moves by more than `session.touch_step`).
    ///
    /// Errors: [`Error::MalformedToken`] without touching the store;
    /// [`Error::SessionInvalid`] for an unknown, revoked or expired session.
    ///
    /// With `session.cache_ttl` set, a session verified in the store less than that long
    /// ago is answered from memory, its deadlines checked against the clock.
    pub async fn authenticate_session(&self, presented: &str) -> Result<Session> {
        let hash = parse_token(TokenKind::Session, presented)?;
        let now = self.now();
        let ttl = self.config.session.cache_ttl;
        if let Some(session) = self.session_cache.get(&hash, now, ttl) {
            return Ok(session);
        }
        let session = self
            .stores
            .sessions
            .touch_session(&hash, now, self.slide_policy())
            .await?
            .ok_or(Error::SessionInvalid)?;
        self.session_cache.put(&session, now, ttl);
        Ok(session)
    }

    /// The session `presented` names, when the session cache answers for it now (see
    /// [`authenticate_session`](Self::authenticate_session)): verified in the store
    /// less than `session.cache_ttl` ago and still live by the clock. `None` otherwise
    /// (no cache, not cached, stale, or malformed), and the caller goes to
    /// `authenticate_session`. For layers that answer a request without awaiting when
    /// they can; it never touches the store.
    pub fn cached_session(&self, presented: &str) -> Option<Session> {
        let ttl = self.config.session.cache_ttl;
        if ttl <= time::Duration::ZERO {
            return None;
        }
        let hash = parse_token(TokenKind::Session, presented).ok()?;
        self.session_cache.get(&hash, self.now(), ttl)
    }

    /// The sliding rule in force.
    pub fn slide_policy(&self) -> SlidePolicy {
        SlidePolicy {
            idle_ttl: self.config.session.idle_ttl,
            min_step: self.config.session.touch_step,
        }
    }

    /// Revokes one session (logout). `false` if it did not exist.
    pub async fn revoke_session(&self, id: SessionId) -> Result<bool> {
        let revoked = self.stores.sessions.revoke_session(id).await;
        // After the store: a concurrent authentication cannot cache it again.
        self.session_cache.forget_session(id);
        Ok(revoked?)
    }

    /// Revokes every session of `user` but `keep` ("log out everywhere else"); returns
    /// how many went.
    pub async fn revoke_other_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
    ) -> Result<u64> {
        let revoked = self.stores.sessions.revoke_user_sessions(user, keep).await;
        self.session_cache.forget_user(user, keep);
        Ok(revoked?)
    }

    /// The user's live sessions, oldest first.
    pub async fn list_sessions(&self, user: UserId) -> Result<Vec<Session>> {
        let now = self.now();
        let mut sessions = self.stores.sessions.list_user_sessions(user, now).await?;
        sessions.sort_unstable_by_key(|s| (s.created_at, s.id));
        Ok(sessions)
    }

    /// The `Set-Cookie` value that hands `issued` to a browser, with the configured
    /// attributes and `Max-Age` up to the absolute deadline.
    pub fn session_cookie(&self, issued: &IssuedSession) -> String {
        let max_age = (issued.session.absolute_expires_at - self.now())
            .whole_seconds()
            .max(0);
        self.cookie(issued.secret.expose(), max_age)
    }

    /// The `Set-Cookie` value that removes the session cookie (logout).
    pub fn clear_session_cookie(&self) -> String {
        self.cookie("", 0)
    }

    fn cookie(&self, value: &str, max_age: i64) -> String {
        self.config.session.cookie.render(value, max_age)
    }
}
