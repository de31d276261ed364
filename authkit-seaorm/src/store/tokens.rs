//! [`TokenStore`]: refresh tokens (rotating, in families) and one-time tokens.

use async_trait::async_trait;
use authkit::{
    Entity, FamilyId, OneTimeToken, OneTimeTokenId, OtpDecision, OtpOutcome, OtpRule, Purpose,
    RefreshToken, RefreshTokenId, RotationDecision, RotationOutcome, RotationRule, StoreError,
    Timestamp, TokenHash, TokenStore, UserId,
};
use authkit_schema::TableNames;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, Statement, Value,
};

use super::shared::{NO_USER, commit, hash, rollback, small_count, t, t_opt, ts, ts_opt};
use super::{Store, e};
use crate::error::{backend, corrupt, map};
use e::one_time_token::{
    ActiveModel as OneTimeRow, Column as OneTime, Entity as OneTimeTokens, Model as OneTimeModel,
};
use e::refresh_token::{
    ActiveModel as RefreshRow, Column as Refresh, Entity as RefreshTokens, Model as RefreshModel,
};

/// A refresh token from its row.
fn refresh_from(row: RefreshModel) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        id: RefreshTokenId(row.id),
        family_id: FamilyId(row.family_id),
        user_id: UserId(row.user_id),
        token_hash: hash("token_hash", &row.token_hash)?,
        audience: row.audience,
        profile: row.profile,
        chain_started_at: ts("chain_started_at", row.chain_started_at)?,
        created_at: ts("created_at", row.created_at)?,
        expires_at: ts("expires_at", row.expires_at)?,
        consumed_at: ts_opt("consumed_at", row.consumed_at)?,
        rotations: small_count("rotations", row.rotations)?,
        revoked_at: ts_opt("revoked_at", row.revoked_at)?,
    })
}

/// A refresh token as a row to insert.
fn refresh_row(token: &RefreshToken) -> RefreshRow {
    RefreshRow {
        id: Set(token.id.0),
        family_id: Set(token.family_id.0),
        user_id: Set(token.user_id.0),
        token_hash: Set(token.token_hash.0.to_vec()),
        audience: Set(token.audience.clone()),
        profile: Set(token.profile.clone()),
        chain_started_at: Set(t(token.chain_started_at)),
        created_at: Set(t(token.created_at)),
        expires_at: Set(t(token.expires_at)),
        consumed_at: Set(t_opt(token.consumed_at)),
        rotations: Set(i64::from(token.rotations)),
        revoked_at: Set(t_opt(token.revoked_at)),
    }
}

/// A one-time token from its row.
fn one_time_from(row: OneTimeModel) -> Result<OneTimeToken, StoreError> {
    Ok(OneTimeToken {
        id: OneTimeTokenId(row.id),
        user_id: UserId(row.user_id),
        purpose: Purpose::parse(&row.purpose)
            .ok_or_else(|| corrupt("purpose", format!("unknown purpose {:?}", row.purpose)))?,
        token_hash: hash("token_hash", &row.token_hash)?,
        created_at: ts("created_at", row.created_at)?,
        expires_at: ts("expires_at", row.expires_at)?,
        consumed_at: ts_opt("consumed_at", row.consumed_at)?,
        failed_attempts: small_count("failed_attempts", row.failed_attempts)?,
    })
}

/// Usable at `now`: unconsumed and `now < expires_at`.
fn usable(now: Timestamp) -> Condition {
    Condition::all()
        .add(OneTime::ConsumedAt.is_null())
        .add(OneTime::ExpiresAt.gt(t(now)))
}

/// Most passes of a revocation; each pass after the first needs a rotation to have
/// committed while the one before it ran, so real runs end within two or three.
const MAX_REVOKE_PASSES: usize = 32;

/// Sets `revoked_at = now` on the unrevoked refresh tokens matching `which`, in passes
/// until one changes nothing; returns how many rows all passes changed.
///
/// Under PostgreSQL's READ COMMITTED each statement sees the rows committed before it
/// began: a pass that waits on a row a rotation has locked revokes that row once the
/// rotation commits, but not the successor the rotation inserted. The next pass sees
/// it. A rotation that locks its row after a pass that found nothing sees the token
/// revoked, and core's rule does not rotate it.
async fn revoke_refresh_where<C: sea_orm::ConnectionTrait>(
    db: &C,
    which: Condition,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let mut total = 0;
    for _ in 0..MAX_REVOKE_PASSES {
        let done = RefreshTokens::update_many()
            .col_expr(Refresh::RevokedAt, Expr::value(t(now)))
            .filter(which.clone())
            .filter(Refresh::RevokedAt.is_null())
            .exec(db)
            .await
            .map_err(backend)?;
        if done.rows_affected == 0 {
            break;
        }
        total += done.rows_affected;
    }
    Ok(total)
}

/// PostgreSQL: the presented token consumed and its successor inserted in one statement
/// (a data-modifying CTE), one round trip fewer than an `UPDATE` and an `INSERT`, as
/// authkit-sqlx does. The query builder has no `UPDATE` inside a `WITH`, hence raw SQL.
fn rotate_statement(presented: &RefreshToken, next: &RefreshToken, now: Timestamp) -> Statement {
    let values: [Value; 14] = [
        t(now).into(),
        presented.id.0.into(),
        next.id.0.into(),
        next.family_id.0.into(),
        next.user_id.0.into(),
        next.token_hash.0.to_vec().into(),
        next.audience.clone().into(),
        next.profile.clone().into(),
        t(next.chain_started_at).into(),
        t(next.created_at).into(),
        t(next.expires_at).into(),
        t_opt(next.consumed_at).into(),
        i64::from(next.rotations).into(),
        t_opt(next.revoked_at).into(),
    ];
    let sql = crate::sql::render(
        authkit_schema::statements::ROTATE_REFRESH,
        DbBackend::Postgres,
        &TableNames::default(),
    );
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// Applies a rotation decision inside the transaction that holds the presented row.
async fn apply_rotation(
    tx: &DatabaseTransaction,
    presented: &RefreshToken,
    decision: &RotationDecision,
    now: Timestamp,
) -> Result<(), StoreError> {
    match decision {
        RotationDecision::Rotate(next) if tx.get_database_backend() == DbBackend::Postgres => {
            tx.execute_raw(rotate_statement(presented, next, now))
                .await
                .map_err(|e| map(e, Entity::RefreshToken, Entity::User))?;
        }
        RotationDecision::Rotate(next) => {
            RefreshTokens::update_many()
                .col_expr(
                    Refresh::ConsumedAt,
                    Expr::value(t(presented.consumed_at.unwrap_or(now))),
                )
                .col_expr(Refresh::Rotations, Expr::col(Refresh::Rotations).add(1))
                .filter(Refresh::Id.eq(presented.id.0))
                .exec(tx)
                .await
                .map_err(backend)?;
            RefreshTokens::insert(refresh_row(next))
                .exec_without_returning(tx)
                .await
                .map_err(|e| map(e, Entity::RefreshToken, Entity::User))?;
        }
        RotationDecision::RevokeFamily => {
            let family = Condition::all().add(Refresh::FamilyId.eq(presented.family_id.0));
            revoke_refresh_where(tx, family, now).await?;
        }
        RotationDecision::Reject => {}
    }
    Ok(())
}

/// Applies an OTP decision inside the transaction that holds the code's row.
async fn apply_otp(
    tx: &DatabaseTransaction,
    token: &OneTimeToken,
    decision: OtpDecision,
    now: Timestamp,
) -> Result<(), StoreError> {
    let update = OneTimeTokens::update_many().filter(OneTime::Id.eq(token.id.0));
    let update = match decision {
        OtpDecision::Consume => update.col_expr(OneTime::ConsumedAt, Expr::value(t(now))),
        OtpDecision::CountFailure => update.col_expr(
            OneTime::FailedAttempts,
            Expr::col(OneTime::FailedAttempts).add(1),
        ),
        OtpDecision::Leave => return Ok(()),
    };
    update.exec(tx).await.map_err(backend)?;
    Ok(())
}

impl Store {
    /// [`revoke_refresh_where`] in a transaction of its own, so that a rotation racing
    /// the revocation leaves no live successor.
    async fn revoke_refresh(&self, which: Condition, now: Timestamp) -> Result<u64, StoreError> {
        let tx = self.begin_write().await?;
        let revoked = revoke_refresh_where(&tx, which, now).await?;
        commit(tx).await?;
        Ok(revoked)
    }

    /// MySQL has no `UPDATE … RETURNING`: the row is locked and read, then consumed, in
    /// one transaction.
    async fn consume_locked(
        &self,
        hash: &TokenHash,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        let (tx, row) = self
            .begin_locked(|| {
                OneTimeTokens::find()
                    .filter(OneTime::TokenHash.eq(hash.0.to_vec()))
                    .filter(OneTime::Purpose.eq(purpose.as_str()))
                    .filter(usable(now))
            })
            .await?;
        let Some(row) = row else {
            rollback(tx).await?;
            return Ok(None);
        };
        let mut token = one_time_from(row)?;
        apply_otp(&tx, &token, OtpDecision::Consume, now).await?;
        commit(tx).await?;
        token.consumed_at = Some(now);
        Ok(Some(token))
    }
}

#[async_trait]
impl TokenStore for Store {
    async fn create_refresh(&self, token: &RefreshToken) -> Result<(), StoreError> {
        RefreshTokens::insert(refresh_row(token))
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| map(e, Entity::RefreshToken, Entity::User))?;
        Ok(())
    }

    /// A short transaction: the presented row is read with `FOR UPDATE` (SQLite: under
    /// `BEGIN IMMEDIATE`), the rule decides, and the decision is applied before the
    /// commit. A failed successor insert rolls everything back.
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        now: Timestamp,
        rule: RotationRule<'_>,
    ) -> Result<RotationOutcome, StoreError> {
        let (tx, row) = self
            .begin_locked(|| {
                RefreshTokens::find().filter(Refresh::TokenHash.eq(presented.0.to_vec()))
            })
            .await?;
        let Some(row) = row else {
            rollback(tx).await?;
            return Ok(RotationOutcome::Unknown);
        };
        let token = refresh_from(row)?;
        let decision = rule(&token);
        if let Err(err) = apply_rotation(&tx, &token, &decision, now).await {
            rollback(tx).await?;
            return Err(err);
        }
        commit(tx).await?;
        Ok(RotationOutcome::Decided {
            presented: token,
            decision,
        })
    }

    async fn revoke_family(&self, family: FamilyId, now: Timestamp) -> Result<u64, StoreError> {
        let which = Condition::all().add(Refresh::FamilyId.eq(family.0));
        self.revoke_refresh(which, now).await
    }

    async fn revoke_user_refresh(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        let which = Condition::all().add(Refresh::UserId.eq(user.0));
        self.revoke_refresh(which, now).await
    }

    async fn purge_refresh(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let expired = Condition::all().add(Refresh::ExpiresAt.lte(t(now)));
        self.purge::<RefreshTokens>(Refresh::Id, expired, limit)
            .await
    }

    /// The user's row is locked first, so concurrent issues for one user run one after
    /// the other (each deletes what the previous one inserted).
    async fn issue_one_time(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let (tx, user) = self
            .begin_locked(|| e::user::Entity::find_by_id(token.user_id.0))
            .await?;
        if user.is_none() {
            rollback(tx).await?;
            return Err(NO_USER);
        }
        OneTimeTokens::delete_many()
            .filter(OneTime::UserId.eq(token.user_id.0))
            .filter(OneTime::Purpose.eq(token.purpose.as_str()))
            .filter(OneTime::ConsumedAt.is_null())
            .exec(&tx)
            .await
            .map_err(backend)?;
        let row = OneTimeRow {
            id: Set(token.id.0),
            user_id: Set(token.user_id.0),
            purpose: Set(token.purpose.as_str().to_owned()),
            token_hash: Set(token.token_hash.0.to_vec()),
            created_at: Set(t(token.created_at)),
            expires_at: Set(t(token.expires_at)),
            consumed_at: Set(t_opt(token.consumed_at)),
            failed_attempts: Set(i64::from(token.failed_attempts)),
        };
        let inserted = OneTimeTokens::insert(row)
            .exec_without_returning(&tx)
            .await
            .map_err(|e| map(e, Entity::OneTimeToken, Entity::User));
        if let Err(err) = inserted {
            rollback(tx).await?;
            return Err(err);
        }
        commit(tx).await
    }

    /// One conditional `UPDATE … RETURNING` (PostgreSQL, SQLite): of concurrent calls,
    /// the first to lock the row consumes it and the others' condition no longer holds.
    /// MySQL: see `consume_locked`.
    async fn consume_one_time(
        &self,
        hash: &TokenHash,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        if self.backend() == DbBackend::MySql {
            return self.consume_locked(hash, purpose, now).await;
        }
        let rows = OneTimeTokens::update_many()
            .col_expr(OneTime::ConsumedAt, Expr::value(t(now)))
            .filter(OneTime::TokenHash.eq(hash.0.to_vec()))
            .filter(OneTime::Purpose.eq(purpose.as_str()))
            .filter(usable(now))
            .exec_with_returning(&self.db)
            .await
            .map_err(backend)?;
        rows.into_iter().next().map(one_time_from).transpose()
    }

    async fn attempt_otp(
        &self,
        user: UserId,
        purpose: Purpose,
        now: Timestamp,
        rule: OtpRule<'_>,
    ) -> Result<OtpOutcome, StoreError> {
        let (tx, row) = self
            .begin_locked(|| {
                OneTimeTokens::find()
                    .filter(OneTime::UserId.eq(user.0))
                    .filter(OneTime::Purpose.eq(purpose.as_str()))
                    .filter(usable(now))
                    .order_by_desc(OneTime::CreatedAt)
                    .order_by_desc(OneTime::Id)
            })
            .await?;
        let Some(row) = row else {
            rollback(tx).await?;
            return Ok(OtpOutcome::NoCode);
        };
        let token = one_time_from(row)?;
        let decision = rule(&token);
        apply_otp(&tx, &token, decision, now).await?;
        commit(tx).await?;
        Ok(OtpOutcome::Decided { token, decision })
    }

    async fn purge_one_time(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let spent = Condition::any()
            .add(OneTime::ConsumedAt.is_not_null())
            .add(OneTime::ExpiresAt.lte(t(now)));
        self.purge::<OneTimeTokens>(OneTime::Id, spent, limit).await
    }
}
