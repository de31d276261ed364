use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{
    FamilyId, OneTimeToken, OtpDecision, OtpOutcome, Purpose, RefreshToken, RotationDecision,
    RotationOutcome, Timestamp, TokenHash, UserId,
};

/// Decides, from the presented refresh token as read under the store's lock, what
/// [`TokenStore::rotate_refresh`] does with it. Pure and quick: it must not block.
pub type RotationRule<'a> = &'a (dyn Fn(&RefreshToken) -> RotationDecision + Send + Sync);

/// Decides, from the OTP code as read under the store's lock, what
/// [`TokenStore::attempt_otp`] does with it: core compares the code in constant time and
/// applies the attempt cap. Pure and quick: it must not block.
pub type OtpRule<'a> = &'a (dyn Fn(&OneTimeToken) -> OtpDecision + Send + Sync);

/// Refresh tokens (rotating, in families) and one-time tokens.
///
/// These methods guard credentials: a store that does not make `rotate_refresh`,
/// `consume_one_time` and `attempt_otp` atomic lets one token be spent twice, which
/// defeats reuse detection and single use. The conformance suite runs each of them
/// 32 times concurrently on one token.
#[async_trait]
pub trait TokenStore: std::fmt::Debug + Send + Sync + 'static {
    /// Inserts a refresh token (the first of a family). Duplicate id or hash:
    /// [`StoreError::Conflict`]; unknown user: [`StoreError::NotFound`].
    async fn create_refresh(&self, token: &RefreshToken) -> Result<(), StoreError>;

    /// One atomic step over the token with hash `presented`:
    ///
    /// 1. no such token: return [`RotationOutcome::Unknown`] without calling `rule`;
    /// 2. otherwise call `rule` exactly once with the row, locked against every other
    ///    rotation of the same token, and apply what it returns:
    ///    - `Rotate(next)`: set the presented token's `consumed_at` (if unset) to `now`,
    ///      add one to its `rotations`, insert `next`;
    ///    - `RevokeFamily`: set `revoked_at = now` on every unrevoked token of the family;
    ///    - `Reject`: change nothing;
    /// 3. return [`RotationOutcome::Decided`] with the row as `rule` saw it.
    ///
    /// A successor whose id or hash is taken is [`StoreError::Conflict`], one naming an
    /// unknown user [`StoreError::NotFound`]; either way nothing changes (the presented
    /// token stays unconsumed).
    ///
    /// Under N concurrent calls with one hash, `rule` sees each call's predecessor's
    /// effect: if it rotates only unconsumed tokens, exactly one call rotates.
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        now: Timestamp,
        rule: RotationRule<'_>,
    ) -> Result<RotationOutcome, StoreError>;

    /// Revokes every unrevoked token of the family; returns how many changed.
    async fn revoke_family(&self, family: FamilyId, now: Timestamp) -> Result<u64, StoreError>;

    /// Revokes every unrevoked refresh token of the user; returns how many changed.
    async fn revoke_user_refresh(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError>;

    /// Deletes at most `limit` refresh tokens whose `expires_at <= now`; returns how many.
    /// Consumed or revoked tokens that have not expired are kept: they detect reuse.
    async fn purge_refresh(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;

    /// Atomically deletes every unconsumed token of the same user and purpose, then
    /// inserts `token`: a new request invalidates the earlier ones. Duplicate hash:
    /// [`StoreError::Conflict`]; unknown user: [`StoreError::NotFound`].
    async fn issue_one_time(&self, token: &OneTimeToken) -> Result<(), StoreError>;

    /// Atomic single use: if the token with this hash has this `purpose`, is unconsumed
    /// and `now < expires_at`, set `consumed_at = now` and return it. Otherwise `None`,
    /// and nothing changes (a token of another purpose stays usable for its own).
    /// Under N concurrent calls with one hash, exactly one gets `Some`.
    async fn consume_one_time(
        &self,
        hash: &TokenHash,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<Option<OneTimeToken>, StoreError>;

    /// One OTP attempt, atomic per code, shaped like [`TokenStore::rotate_refresh`]:
    ///
    /// 1. take the user's newest (by `created_at`, then id) unconsumed token of `purpose`
    ///    with `now < expires_at`; none: [`OtpOutcome::NoCode`] without calling `rule`;
    /// 2. otherwise call `rule` exactly once with it, locked against every other attempt
    ///    on the same code, and apply what it returns: [`OtpDecision::Consume`] sets
    ///    `consumed_at = now`, [`OtpDecision::CountFailure`] adds one to
    ///    `failed_attempts`, [`OtpDecision::Leave`] changes nothing;
    /// 3. return [`OtpOutcome::Decided`] with the token as `rule` saw it.
    ///
    /// Under N concurrent attempts, `rule` sees each earlier attempt's effect: every
    /// failure is counted exactly once, and a code is consumed at most once.
    async fn attempt_otp(
        &self,
        user: UserId,
        purpose: Purpose,
        now: Timestamp,
        rule: OtpRule<'_>,
    ) -> Result<OtpOutcome, StoreError>;

    /// Deletes at most `limit` one-time tokens that are consumed or have
    /// `expires_at <= now`; returns how many.
    async fn purge_one_time(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;
}
