//! Rotating refresh tokens with reuse detection.
//!
//! OAuth 2.0 Security BCP (RFC 9700) §4.14.2: a refresh token is rotated on every use,
//! and when a used token is presented again the authorization server cannot tell the
//! legitimate client from an attacker, so it revokes the whole family. Each family also
//! has an absolute lifetime (`refresh_chain_ttl`), so a stolen chain dies with time.

use std::sync::OnceLock;

use uuid::Uuid;

use super::audit::AuditEvent;
use super::jwt::Audience;
use super::{Auth, user_missing};
use crate::config::{Profile, STANDARD_PROFILE, TokenConfig};
use crate::error::{Error, Result};
use crate::model::{
    FamilyId, RefreshToken, RefreshTokenId, RotationDecision, RotationOutcome, Timestamp, UserId,
};
use crate::secret::{Secret, TokenKind, issue_token, parse_token};

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The signed JWT.
    pub access_token: String,
    /// When the access token expires.
    pub access_expires_at: Timestamp,
    /// The opaque refresh token (`rft_…`), shown once.
    pub refresh_token: Secret,
    /// When the refresh token expires (never after its chain's absolute deadline).
    pub refresh_expires_at: Timestamp,
    /// The family this pair belongs to (one login).
    pub family_id: FamilyId,
    /// The user.
    pub user_id: UserId,
}

/// What a presented refresh token's state allows, decided once from the stored row.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Verdict {
    /// Rotate, with the lifetimes of the token's profile as configured now.
    Rotate(Profile),
    Reused,
    Revoked,
    Expired,
    ChainExpired,
    /// The family's profile is no longer configured: refuse rather than guess.
    UnknownProfile(String),
}

impl Auth {
    /// Issues a new pair (a new family) for browser clients, audience `bff`, with the
    /// standard lifetimes. Unknown user: [`Error::UserNotFound`].
    pub async fn issue_token_pair(&self, user: UserId) -> Result<TokenPair> {
        self.issue_token_pair_with(user, None).await
    }

    /// Issues a new pair under a named lifetime profile (`None`: standard). The profile's
    /// name is stored with the family and resolved again at every refresh, so a changed
    /// profile takes effect on the next refresh. The family keeps its profile for life:
    /// every rotation copies it, and no call changes it, so this is the one place a
    /// family's profile is set; a named one (not standard) is audited as
    /// `family_profile_set` ([`AuditEvent::FamilyProfileSet`]). Standard access tokens are
    /// shortened by the configured
    /// [`access_ttl_jitter`](crate::config::TokenConfig::access_ttl_jitter); a named
    /// profile's live exactly its `access_ttl`.
    ///
    /// Errors: [`Error::UnknownProfile`] (never a fall-back to another lifetime),
    /// [`Error::UserNotFound`].
    pub async fn issue_token_pair_with(
        &self,
        user: UserId,
        profile: Option<&str>,
    ) -> Result<TokenPair> {
        let lifetimes = self.config.tokens.profile(profile)?;
        self.user(user).await?;
        let now = self.now();
        let family = FamilyId(self.new_uuid(now));
        let (secret, mut row) = self.new_refresh(user, family, now);
        row.profile = profile
            .filter(|p| *p != STANDARD_PROFILE)
            .map(str::to_owned);
        row.expires_at = now + lifetimes.refresh_ttl.min(lifetimes.chain_ttl);
        self.stores
            .tokens
            .create_refresh(&row)
            .await
            .map_err(user_missing)?;
        if let Some(profile) = &row.profile {
            self.audit(AuditEvent::FamilyProfileSet {
                user,
                family,
                profile: profile.clone(),
            });
        }
        self.pair(row, secret, lifetimes, now)
    }

    /// Rotates a refresh token: the presented one is consumed and a new pair returned.
    ///
    /// Errors: [`Error::MalformedToken`] (without touching the store),
    /// [`Error::RefreshUnknown`], [`Error::RefreshReused`] (the token had been used: its
    /// whole family is now revoked; outside the optional `reuse_grace`),
    /// [`Error::RefreshExpired`] (expired or revoked), [`Error::RefreshChainExpired`].
    pub async fn refresh(&self, presented: &str) -> Result<TokenPair> {
        let hash = parse_token(TokenKind::Refresh, presented)?;
        let now = self.now();
        // The successor is drawn before the store call: the rule runs under the store's
        // lock and must only decide. Its family, user and chain start are filled from the
        // presented row there.
        let (secret, draft) = self.new_refresh(UserId(Uuid::nil()), FamilyId(Uuid::nil()), now);
        // The rule hands its verdict back through `judged`, so the reason for a refusal
        // is the one decided under the lock, never recomputed.
        let judged = OnceLock::new();
        let rule = |t: &RefreshToken| {
            let v = verdict(&self.config.tokens, t, now);
            let decision = match &v {
                Verdict::Rotate(lifetimes) => {
                    RotationDecision::Rotate(successor(t, &draft, *lifetimes, now))
                }
                Verdict::Reused => RotationDecision::RevokeFamily,
                _ => RotationDecision::Reject,
            };
            let _ = judged.set(v);
            decision
        };
        let outcome = self.stores.tokens.rotate_refresh(&hash, now, &rule).await?;
        let RotationOutcome::Decided {
            presented,
            decision,
        } = outcome
        else {
            return Err(Error::RefreshUnknown);
        };
        match (decision, judged.into_inner()) {
            (RotationDecision::Rotate(next), Some(Verdict::Rotate(lifetimes))) => {
                self.pair(next, secret, lifetimes, now)
            }
            (RotationDecision::RevokeFamily, _) => {
                self.audit(AuditEvent::RefreshReused {
                    user: presented.user_id,
                    family: presented.family_id,
                });
                Err(Error::RefreshReused {
                    family: presented.family_id,
                    user: presented.user_id,
                })
            }
            (_, Some(Verdict::ChainExpired)) => Err(Error::RefreshChainExpired),
            (_, Some(Verdict::UnknownProfile(name))) => Err(Error::UnknownProfile(name)),
            // Expired or revoked; or a store that broke its contract (it reported a
            // decision the rule did not make): refuse.
            _ => Err(Error::RefreshExpired),
        }
    }

    /// Revokes every token of a family (logout of one login); returns how many changed.
    pub async fn revoke_family(&self, family: FamilyId) -> Result<u64> {
        let count = self.stores.tokens.revoke_family(family, self.now()).await?;
        self.audit(AuditEvent::FamilyRevoked { family, count });
        Ok(count)
    }

    /// Revokes every refresh token of a user; returns how many changed.
    pub async fn revoke_user_refresh(&self, user: UserId) -> Result<u64> {
        Ok(self
            .stores
            .tokens
            .revoke_user_refresh(user, self.now())
            .await?)
    }

    /// A fresh refresh token for `user` in a new chain of `family`, with the standard
    /// lifetimes; callers adjust profile and expiry.
    fn new_refresh(
        &self,
        user: UserId,
        family: FamilyId,
        now: Timestamp,
    ) -> (Secret, RefreshToken) {
        let (secret, token_hash) = issue_token(TokenKind::Refresh, self.rng.as_ref());
        let row = RefreshToken {
            id: RefreshTokenId(self.new_uuid(now)),
            family_id: family,
            user_id: user,
            token_hash,
            audience: Audience::Bff.as_str().to_owned(),
            profile: None,
            chain_started_at: now,
            created_at: now,
            expires_at: now,
            consumed_at: None,
            rotations: 0,
            revoked_at: None,
        };
        (secret, row)
    }

    fn pair(
        &self,
        row: RefreshToken,
        refresh_token: Secret,
        lifetimes: Profile,
        now: Timestamp,
    ) -> Result<TokenPair> {
        let audience = Audience::parse(&row.audience).unwrap_or(Audience::Bff);
        // A family without a profile name is standard: its access tokens get the jitter.
        let ttl = self.access_lifetime(row.profile.as_deref(), lifetimes.access_ttl);
        let (access_token, access_expires_at) =
            self.mint_access(row.user_id, audience, None, now, ttl)?;
        Ok(TokenPair {
            access_token,
            access_expires_at,
            refresh_token,
            refresh_expires_at: row.expires_at,
            family_id: row.family_id,
            user_id: row.user_id,
        })
    }
}

/// Decides what a presented token's state allows at `now`. Reuse is judged first:
/// a consumed token presented again signals theft even when it has also expired or
/// its family was already revoked (revoking again changes nothing).
///
/// A repeat is never judged at a time before the first use. `now` is read before the
/// store locks the row, so a request that waited behind the first use (or ran on a
/// server whose clock is behind) can hold a time earlier than the `consumed_at` that
/// use wrote; judged at that time it would look "inside the grace" and rotate a
/// second time. So the repeat is judged at `max(now, consumed_at)`: with no grace
/// every repeat is reuse, and with a grace a repeat gets at most the grace after the
/// first use, whatever the timing (RFC 9700 §4.14.2).
fn verdict(config: &TokenConfig, t: &RefreshToken, now: Timestamp) -> Verdict {
    if let Some(consumed) = t.consumed_at {
        let judged_at = now.max(consumed);
        let in_grace = judged_at < consumed + config.reuse_grace && t.rotations < 2;
        if !in_grace || t.revoked_at.is_some() {
            return Verdict::Reused;
        }
    }
    if t.revoked_at.is_some() {
        return Verdict::Revoked;
    }
    let lifetimes = match config.profile(t.profile.as_deref()) {
        Ok(p) => p,
        Err(_) => return Verdict::UnknownProfile(t.profile.clone().unwrap_or_default()),
    };
    if now >= t.chain_started_at + lifetimes.chain_ttl {
        return Verdict::ChainExpired;
    }
    if now >= t.expires_at {
        return Verdict::Expired;
    }
    Verdict::Rotate(lifetimes)
}

/// The successor of `presented`: the draft's id and hash; the presented token's family,
/// user, audience, profile and chain start; an expiry from the profile, capped by the chain.
fn successor(
    presented: &RefreshToken,
    draft: &RefreshToken,
    lifetimes: Profile,
    now: Timestamp,
) -> RefreshToken {
    let chain_end = presented.chain_started_at + lifetimes.chain_ttl;
    RefreshToken {
        family_id: presented.family_id,
        user_id: presented.user_id,
        audience: presented.audience.clone(),
        profile: presented.profile.clone(),
        chain_started_at: presented.chain_started_at,
        expires_at: (now + lifetimes.refresh_ttl).min(chain_end),
        ..draft.clone()
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;
    use crate::config::{Config, SigningKey};
    use crate::model::TokenHash;

    const T0: Timestamp = datetime!(2030-01-01 00:00:00.5 UTC);

    fn config(grace: Duration) -> TokenConfig {
        let mut config = Config::new("https://auth.test", SigningKey::new([1u8; 32])).tokens;
        config.reuse_grace = grace;
        config
    }

    /// A token first used at `T0`, `rotations` times.
    fn used(rotations: u32) -> RefreshToken {
        RefreshToken {
            id: RefreshTokenId(Uuid::nil()),
            family_id: FamilyId(Uuid::nil()),
            user_id: UserId(Uuid::nil()),
            token_hash: TokenHash([0; 32]),
            audience: Audience::Bff.as_str().to_owned(),
            profile: None,
            chain_started_at: T0 - Duration::hours(1),
            created_at: T0 - Duration::hours(1),
            expires_at: T0 + Duration::days(1),
            consumed_at: (rotations > 0).then_some(T0),
            rotations,
            revoked_at: None,
        }
    }

    #[test]
    fn successor_keeps_the_chain_and_caps_its_expiry() {
        let presented = used(1);
        let mut draft = used(0);
        draft.id = RefreshTokenId(Uuid::now_v7());
        draft.token_hash = TokenHash([7; 32]);
        draft.family_id = FamilyId(Uuid::now_v7());
        let lifetimes = Profile::new(Duration::minutes(5), Duration::days(10), Duration::days(3));
        let next = successor(&presented, &draft, lifetimes, T0);
        assert_eq!((next.id, next.token_hash), (draft.id, draft.token_hash));
        assert_eq!(next.family_id, presented.family_id, "same family");
        assert_eq!(
            next.chain_started_at, presented.chain_started_at,
            "chain start copied"
        );
        assert_eq!(
            next.expires_at,
            presented.chain_started_at + Duration::days(3),
            "capped by the chain"
        );
        let long_chain = Profile::new(Duration::minutes(5), Duration::days(1), Duration::days(30));
        let next = successor(&presented, &draft, long_chain, T0);
        assert_eq!(
            next.expires_at,
            T0 + Duration::days(1),
            "the refresh lifetime"
        );
    }

    #[test]
    fn unused_token_rotates() {
        let c = config(Duration::ZERO);
        assert!(matches!(verdict(&c, &used(0), T0), Verdict::Rotate(_)));
    }

    #[test]
    fn no_grace_repeat_is_reuse_even_from_before_the_first_use() {
        let c = config(Duration::ZERO);
        for now in [T0 - Duration::seconds(5), T0, T0 + Duration::seconds(5)] {
            assert_eq!(verdict(&c, &used(1), now), Verdict::Reused, "at {now}");
        }
    }

    #[test]
    fn grace_is_measured_from_the_first_use() {
        let c = config(Duration::seconds(10));
        let early = T0 - Duration::minutes(5);
        assert!(matches!(verdict(&c, &used(1), early), Verdict::Rotate(_)));
        let inside = T0 + Duration::seconds(9);
        assert!(matches!(verdict(&c, &used(1), inside), Verdict::Rotate(_)));
        let at_end = T0 + Duration::seconds(10);
        assert_eq!(verdict(&c, &used(1), at_end), Verdict::Reused);
    }

    #[test]
    fn grace_allows_one_repeat_only() {
        let c = config(Duration::seconds(10));
        assert_eq!(verdict(&c, &used(2), T0), Verdict::Reused);
        assert_eq!(
            verdict(&c, &used(2), T0 - Duration::seconds(1)),
            Verdict::Reused
        );
    }

    #[test]
    fn revoked_and_reused_is_reuse() {
        let c = config(Duration::seconds(10));
        let mut t = used(1);
        t.revoked_at = Some(T0);
        assert_eq!(verdict(&c, &t, T0), Verdict::Reused);
        t.consumed_at = None;
        assert_eq!(verdict(&c, &t, T0), Verdict::Revoked);
    }
}
