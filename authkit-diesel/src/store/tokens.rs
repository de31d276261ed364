//! [`TokenStore`]: refresh tokens in families, one-time tokens and OTP codes.

use async_trait::async_trait;
use authkit::{
    Entity, FamilyId, OneTimeToken, OneTimeTokenId, OtpDecision, OtpOutcome, OtpRule, Purpose,
    RefreshToken, RefreshTokenId, RotationDecision, RotationOutcome, RotationRule, StoreError,
    Timestamp, TokenHash, TokenStore, UserId,
};
use std::sync::OnceLock;

use authkit_schema::Dialect;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::shared::{NO_USER, hash_from, render, u32_from};
use super::{Conn, DIALECT, Store};
use crate::error::{TxError, corrupt, retrying};
use crate::schema::authkit_one_time_tokens as one_time;
use crate::schema::authkit_refresh_tokens as refresh;
use crate::schema::authkit_users as users;
use crate::sql_types::{DbId, DbTs};

/// A row of `authkit_refresh_tokens`.
///
/// `None` inserts `NULL` (the column's default), not `DEFAULT`: only then does Diesel
/// cache the prepared `INSERT`.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh, treat_none_as_default_value = false)]
struct RefreshRow {
    id: DbId,
    family_id: DbId,
    user_id: DbId,
    token_hash: Vec<u8>,
    audience: String,
    profile: Option<String>,
    chain_started_at: DbTs,
    created_at: DbTs,
    expires_at: DbTs,
    consumed_at: Option<DbTs>,
    rotations: i64,
    revoked_at: Option<DbTs>,
}

impl RefreshRow {
    fn new(t: &RefreshToken) -> Self {
        RefreshRow {
            id: DbId(t.id.0),
            family_id: DbId(t.family_id.0),
            user_id: DbId(t.user_id.0),
            token_hash: t.token_hash.0.to_vec(),
            audience: t.audience.clone(),
            profile: t.profile.clone(),
            chain_started_at: DbTs(t.chain_started_at),
            created_at: DbTs(t.created_at),
            expires_at: DbTs(t.expires_at),
            consumed_at: t.consumed_at.map(DbTs),
            rotations: i64::from(t.rotations),
            revoked_at: t.revoked_at.map(DbTs),
        }
    }

    fn into_token(self) -> Result<RefreshToken, StoreError> {
        Ok(RefreshToken {
            id: RefreshTokenId(self.id.0),
            family_id: FamilyId(self.family_id.0),
            user_id: UserId(self.user_id.0),
            token_hash: hash_from("token_hash", &self.token_hash)?,
            audience: self.audience,
            profile: self.profile,
            chain_started_at: self.chain_started_at.0,
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
            consumed_at: self.consumed_at.map(|t| t.0),
            rotations: u32_from("rotations", self.rotations)?,
            revoked_at: self.revoked_at.map(|t| t.0),
        })
    }
}

/// A row of `authkit_one_time_tokens`.
///
/// `None` inserts `NULL` (the column's default), not `DEFAULT`: only then does Diesel
/// cache the prepared `INSERT`.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = one_time, treat_none_as_default_value = false)]
struct OneTimeRow {
    id: DbId,
    user_id: DbId,
    purpose: String,
    token_hash: Vec<u8>,
    created_at: DbTs,
    expires_at: DbTs,
    consumed_at: Option<DbTs>,
    failed_attempts: i64,
}

impl OneTimeRow {
    fn new(t: &OneTimeToken) -> Self {
        OneTimeRow {
            id: DbId(t.id.0),
            user_id: DbId(t.user_id.0),
            purpose: t.purpose.as_str().to_owned(),
            token_hash: t.token_hash.0.to_vec(),
            created_at: DbTs(t.created_at),
            expires_at: DbTs(t.expires_at),
            consumed_at: t.consumed_at.map(DbTs),
            failed_attempts: i64::from(t.failed_attempts),
        }
    }

    fn into_token(self) -> Result<OneTimeToken, StoreError> {
        let purpose = Purpose::parse(&self.purpose)
            .ok_or_else(|| corrupt("purpose", format!("unknown purpose {:?}", self.purpose)))?;
        Ok(OneTimeToken {
            id: OneTimeTokenId(self.id.0),
            user_id: UserId(self.user_id.0),
            purpose,
            token_hash: hash_from("token_hash", &self.token_hash)?,
            created_at: self.created_at.0,
            expires_at: self.expires_at.0,
            consumed_at: self.consumed_at.map(|t| t.0),
            failed_attempts: u32_from("failed_attempts", self.failed_attempts)?,
        })
    }
}

/// Most passes of a revocation; each pass after the first needs a rotation to have
/// committed while the one before it ran, so real runs end within two or three.
const MAX_REVOKE_PASSES: usize = 32;

/// Sets `revoked_at = now` on the unrevoked tokens of `family` (or, with `user`, of
/// every family of the user), in passes until one changes nothing.
///
/// Under PostgreSQL's READ COMMITTED each statement sees the rows committed before it
/// began: a pass that waits on a row a rotation has locked revokes that row once the
/// rotation commits, but not the successor the rotation inserted. The next pass sees
/// it. (MySQL and SQLite find nothing on the second pass.)
async fn revoke_passes(
    conn: &mut Conn,
    family: Option<FamilyId>,
    user: Option<UserId>,
    now: Timestamp,
) -> Result<u64, TxError> {
    let mut total = 0;
    for _ in 0..MAX_REVOKE_PASSES {
        let mut pass = diesel::update(refresh::table)
            .filter(refresh::revoked_at.is_null())
            .set(refresh::revoked_at.eq(DbTs(now)))
            .into_boxed();
        if let Some(family) = family {
            pass = pass.filter(refresh::family_id.eq(DbId(family.0)));
        }
        if let Some(user) = user {
            pass = pass.filter(refresh::user_id.eq(DbId(user.0)));
        }
        let changed = pass.execute(conn).await?;
        if changed == 0 {
            break;
        }
        total += changed as u64;
    }
    Ok(total)
}

/// Consumes the presented token (by id; the row is locked, so its first consumption
/// time stays) and stores its successor, inside the rotation's transaction. On
/// PostgreSQL one statement does both, a writing CTE
/// ([`ROTATE_REFRESH`](authkit_schema::statements::ROTATE_REFRESH), as authkit-sqlx and
/// authkit-seaorm send it); elsewhere the `UPDATE`, then the `INSERT`.
async fn consume_and_insert(
    conn: &mut Conn,
    presented: &RefreshToken,
    next: &RefreshToken,
    now: Timestamp,
) -> Result<(), TxError> {
    use crate::sql_types::{Id, Ts};
    use diesel::sql_types::{BigInt, Binary, Nullable, Text};

    let row = RefreshRow::new(next);
    if DIALECT == Dialect::Postgres {
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| render(authkit_schema::statements::ROTATE_REFRESH));
        let rotate = diesel::sql_query(sql.as_str())
            .bind::<Ts, _>(DbTs(now))
            .bind::<Id, _>(DbId(presented.id.0))
            .bind::<Id, _>(row.id)
            .bind::<Id, _>(row.family_id)
            .bind::<Id, _>(row.user_id)
            .bind::<Binary, _>(row.token_hash)
            .bind::<Text, _>(row.audience)
            .bind::<Nullable<Text>, _>(row.profile)
            .bind::<Ts, _>(row.chain_started_at)
            .bind::<Ts, _>(row.created_at)
            .bind::<Ts, _>(row.expires_at)
            .bind::<Nullable<Ts>, _>(row.consumed_at)
            .bind::<BigInt, _>(row.rotations)
            .bind::<Nullable<Ts>, _>(row.revoked_at);
        crate::conn::Cached(rotate).execute(conn).await?;
        return Ok(());
    }
    let consumed_at = presented.consumed_at.unwrap_or(now);
    let consume = diesel::update(refresh::table.find(DbId(presented.id.0))).set((
        refresh::consumed_at.eq(DbTs(consumed_at)),
        refresh::rotations.eq(refresh::rotations + 1),
    ));
    crate::conn::Cached(consume).execute(conn).await?;
    diesel::insert_into(refresh::table)
        .values(row)
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl TokenStore for Store {
    async fn create_refresh(&self, token: &RefreshToken) -> Result<(), StoreError> {
        let row = RefreshRow::new(token);
        self.step(Entity::RefreshToken, Entity::User, async |conn| {
            diesel::insert_into(refresh::table)
                .values(&row)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// A transaction: the presented row is read with `SELECT … FOR UPDATE` (PostgreSQL,
    /// MySQL) or under SQLite's write lock (`BEGIN IMMEDIATE`), so concurrent rotations
    /// of one token queue on that row and each sees its predecessor's effect. `rule`
    /// runs once per attempt, after the locked read (a deadlock rolls the attempt back
    /// and runs it again). On PostgreSQL the consume and the successor's insert are one
    /// statement (`consume_and_insert`), so a rotation is two statements inside the
    /// transaction, as authkit-sqlx's.
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        now: Timestamp,
        rule: RotationRule<'_>,
    ) -> Result<RotationOutcome, StoreError> {
        let hash = &presented.0[..];
        self.transaction(Entity::RefreshToken, Entity::User, async |conn| {
            let query = refresh::table
                .filter(refresh::token_hash.eq(hash))
                .select(RefreshRow::as_select());
            let Some(row) = lock!(query).first(conn).await.optional()? else {
                return Ok(RotationOutcome::Unknown);
            };
            let before = row.into_token()?;
            let decision = rule(&before);
            match &decision {
                RotationDecision::Rotate(next) => {
                    consume_and_insert(conn, &before, next, now).await?;
                }
                RotationDecision::RevokeFamily => {
                    revoke_passes(conn, Some(before.family_id), None, now).await?;
                }
                RotationDecision::Reject => {}
            }
            Ok(RotationOutcome::Decided {
                presented: before,
                decision,
            })
        })
        .await
    }

    /// Revokes in passes until one finds nothing (see `revoke_passes`), in one
    /// transaction, so a rotation racing the revocation leaves no live successor.
    async fn revoke_family(&self, family: FamilyId, now: Timestamp) -> Result<u64, StoreError> {
        self.transaction(Entity::RefreshToken, Entity::User, async |conn| {
            revoke_passes(conn, Some(family), None, now).await
        })
        .await
    }

    /// As `revoke_family`, for every family of the user.
    async fn revoke_user_refresh(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        self.transaction(Entity::RefreshToken, Entity::User, async |conn| {
            revoke_passes(conn, None, Some(user), now).await
        })
        .await
    }

    /// The ids of at most `limit` expired tokens, then a delete of those still expired
    /// (MySQL refuses `LIMIT` in an `IN` subquery).
    async fn purge_refresh(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let deleted = self
            .read(async |conn| {
                let expired = refresh::expires_at.le(DbTs(now));
                let ids: Vec<DbId> = refresh::table
                    .filter(expired)
                    .select(refresh::id)
                    .limit(i64::from(limit))
                    .load(conn)
                    .await?;
                if ids.is_empty() {
                    return Ok(0);
                }
                let doomed = refresh::table
                    .filter(refresh::id.eq_any(ids))
                    .filter(refresh::expires_at.le(DbTs(now)));
                Ok(retrying!(diesel::delete(doomed.clone()).execute(conn).await)?)
            })
            .await?;
        Ok(deleted as u64)
    }

    /// A transaction that first locks the user's row, so concurrent issues for one user
    /// queue and the last one leaves exactly one unconsumed token.
    async fn issue_one_time(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let row = OneTimeRow::new(token);
        let row = &row;
        self.transaction(Entity::OneTimeToken, Entity::User, async |conn| {
            let user = users::table.find(DbId(token.user_id.0)).select(users::id);
            if lock!(user).first::<DbId>(conn).await.optional()?.is_none() {
                return Err(NO_USER.into());
            }
            let earlier = one_time::table
                .filter(one_time::user_id.eq(DbId(token.user_id.0)))
                .filter(one_time::purpose.eq(token.purpose.as_str()))
                .filter(one_time::consumed_at.is_null());
            diesel::delete(earlier).execute(conn).await?;
            diesel::insert_into(one_time::table)
                .values(row)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// A transaction: the conditional `UPDATE` (unconsumed, of this purpose, not
    /// expired) and, when it changed the row, a read of it. Of concurrent calls the
    /// first to lock the row consumes it, and the others' condition no longer holds.
    async fn consume_one_time(
        &self,
        hash: &TokenHash,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        let hash = &hash.0[..];
        let row = self
            .transaction(Entity::OneTimeToken, Entity::User, async |conn| {
                let usable = one_time::table
                    .filter(one_time::token_hash.eq(hash))
                    .filter(one_time::purpose.eq(purpose.as_str()))
                    .filter(one_time::consumed_at.is_null())
                    .filter(one_time::expires_at.gt(DbTs(now)));
                let changed = diesel::update(usable)
                    .set(one_time::consumed_at.eq(DbTs(now)))
                    .execute(conn)
                    .await?;
                if changed == 0 {
                    return Ok(None);
                }
                let query = one_time::table
                    .filter(one_time::token_hash.eq(hash))
                    .select(OneTimeRow::as_select());
                Ok(query.first(conn).await.optional()?)
            })
            .await?;
        row.map(OneTimeRow::into_token).transpose()
    }

    /// A transaction around the user's newest live code, read with `SELECT … FOR
    /// UPDATE` (SQLite: under `BEGIN IMMEDIATE`), so concurrent attempts on one code
    /// queue and each failure is counted once.
    async fn attempt_otp(
        &self,
        user: UserId,
        purpose: Purpose,
        now: Timestamp,
        rule: OtpRule<'_>,
    ) -> Result<OtpOutcome, StoreError> {
        self.transaction(Entity::OneTimeToken, Entity::User, async |conn| {
            let newest = one_time::table
                .filter(one_time::user_id.eq(DbId(user.0)))
                .filter(one_time::purpose.eq(purpose.as_str()))
                .filter(one_time::consumed_at.is_null())
                .filter(one_time::expires_at.gt(DbTs(now)))
                .order((one_time::created_at.desc(), one_time::id.desc()))
                .select(OneTimeRow::as_select());
            let Some(row) = lock!(newest).first(conn).await.optional()? else {
                return Ok(OtpOutcome::NoCode);
            };
            let token = row.into_token()?;
            let decision = rule(&token);
            let this = one_time::table.find(DbId(token.id.0));
            match decision {
                OtpDecision::Consume => {
                    diesel::update(this)
                        .set(one_time::consumed_at.eq(DbTs(now)))
                        .execute(conn)
                        .await?;
                }
                OtpDecision::CountFailure => {
                    diesel::update(this)
                        .set(one_time::failed_attempts.eq(one_time::failed_attempts + 1))
                        .execute(conn)
                        .await?;
                }
                OtpDecision::Leave => {}
            }
            Ok(OtpOutcome::Decided { token, decision })
        })
        .await
    }

    /// The ids of at most `limit` consumed or expired tokens, then a delete of those.
    async fn purge_one_time(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let deleted = self
            .read(async |conn| {
                let spent = || {
                    one_time::consumed_at
                        .is_not_null()
                        .or(one_time::expires_at.le(DbTs(now)))
                };
                let ids: Vec<DbId> = one_time::table
                    .filter(spent())
                    .select(one_time::id)
                    .limit(i64::from(limit))
                    .load(conn)
                    .await?;
                if ids.is_empty() {
                    return Ok(0);
                }
                let doomed = one_time::table
                    .filter(one_time::id.eq_any(ids))
                    .filter(spent());
                Ok(retrying!(diesel::delete(doomed.clone()).execute(conn).await)?)
            })
            .await?;
        Ok(deleted as u64)
    }
}
