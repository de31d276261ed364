//! [`TokenStore`]: refresh tokens in families, one-time tokens and OTP codes.

use async_trait::async_trait;
use authkit::{
    Entity, FamilyId, OneTimeToken, OneTimeTokenId, OtpDecision, OtpOutcome, OtpRule, Purpose,
    RefreshToken, RefreshTokenId, RotationDecision, RotationOutcome, RotationRule, StoreError,
    Timestamp, TokenHash, TokenStore, UserId,
};
use authkit_schema::{Dialect, statements};

use super::shared::{
    NO_USER, Query, Tx, commit, execute_in, fetch_optional_in, get, get_hash, get_u32, insert_in,
    rollback,
};
use super::{DIALECT, DbRow, Store, conv};
use crate::error::corrupt;
use crate::sql::Stmt;

/// The columns [`refresh_from`] reads and [`bind_refresh`] binds, in table order.
macro_rules! refresh_cols {
    () => {
        "id, family_id, user_id, token_hash, audience, profile, chain_started_at, \
         created_at, expires_at, consumed_at, rotations, revoked_at"
    };
}

/// The columns [`one_time_from`] reads, in table order.
macro_rules! one_time_cols {
    () => {
        "id, user_id, purpose, token_hash, created_at, expires_at, consumed_at, \
         failed_attempts"
    };
}

fn refresh_from(row: &DbRow) -> Result<RefreshToken, StoreError> {
    Ok(RefreshToken {
        id: RefreshTokenId(get(row, "id")?),
        family_id: FamilyId(get(row, "family_id")?),
        user_id: UserId(get(row, "user_id")?),
        token_hash: get_hash(row, "token_hash")?,
        audience: get(row, "audience")?,
        profile: get(row, "profile")?,
        chain_started_at: conv::get_ts(row, "chain_started_at")?,
        created_at: conv::get_ts(row, "created_at")?,
        expires_at: conv::get_ts(row, "expires_at")?,
        consumed_at: conv::get_ts_opt(row, "consumed_at")?,
        rotations: get_u32(row, "rotations")?,
        revoked_at: conv::get_ts_opt(row, "revoked_at")?,
    })
}

fn one_time_from(row: &DbRow) -> Result<OneTimeToken, StoreError> {
    let purpose: String = get(row, "purpose")?;
    Ok(OneTimeToken {
        id: OneTimeTokenId(get(row, "id")?),
        user_id: UserId(get(row, "user_id")?),
        purpose: Purpose::parse(&purpose)
            .ok_or_else(|| corrupt("purpose", format!("unknown purpose {purpose:?}")))?,
        token_hash: get_hash(row, "token_hash")?,
        created_at: conv::get_ts(row, "created_at")?,
        expires_at: conv::get_ts(row, "expires_at")?,
        consumed_at: conv::get_ts_opt(row, "consumed_at")?,
        failed_attempts: get_u32(row, "failed_attempts")?,
    })
}

/// Binds every column of `t`, in `refresh_cols!` order.
fn bind_refresh(query: Query, t: &RefreshToken) -> Query {
    query
        .bind(t.id.0)
        .bind(t.family_id.0)
        .bind(t.user_id.0)
        .bind(t.token_hash.0.to_vec())
        .bind(t.audience.clone())
        .bind(t.profile.clone())
        .bind(conv::ts(t.chain_started_at))
        .bind(conv::ts(t.created_at))
        .bind(conv::ts(t.expires_at))
        .bind(t.consumed_at.map(conv::ts))
        .bind(i64::from(t.rotations))
        .bind(t.revoked_at.map(conv::ts))
}

static REFRESH_INSERT: Stmt = Stmt::new(concat!(
    "INSERT INTO {refresh_tokens} (",
    refresh_cols!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
));

static REVOKE_FAMILY: Stmt = Stmt::new(
    "UPDATE {refresh_tokens} SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
);

/// Most passes of a revocation; each pass after the first needs a rotation to have
/// committed while the one before it ran, so real runs end within two or three.
const MAX_REVOKE_PASSES: usize = 32;

/// Runs a revocation `UPDATE` until a pass changes nothing, and returns how many rows
/// all passes changed.
///
/// Under PostgreSQL's READ COMMITTED each statement sees the rows committed before it
/// began: a pass that waits on a row a rotation has locked revokes that row once the
/// rotation commits, but not the successor the rotation inserted. The next pass sees
/// it. A rotation that locks its row after a pass that found nothing sees the token
/// revoked and does not rotate. (MySQL and SQLite find nothing on the second pass.)
async fn revoke_passes(tx: &mut Tx, revoke: impl Fn() -> Query) -> Result<u64, StoreError> {
    let mut total = 0;
    for _ in 0..MAX_REVOKE_PASSES {
        let changed = execute_in(tx, revoke()).await?;
        if changed == 0 {
            break;
        }
        total += changed;
    }
    Ok(total)
}

impl Store {
    /// Consumes the presented token (by id) and stores its successor, inside the
    /// rotation's transaction. On PostgreSQL one statement does both.
    async fn consume_and_insert(
        &self,
        tx: &mut Tx,
        presented: RefreshTokenId,
        next: &RefreshToken,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        if DIALECT == Dialect::Postgres {
            static ROTATE: Stmt = Stmt::new(statements::ROTATE_REFRESH);
            let query = self.query(&ROTATE).bind(conv::ts(now)).bind(presented.0);
            return insert_in(
                tx,
                bind_refresh(query, next),
                Entity::RefreshToken,
                Entity::User,
            )
            .await;
        }
        static CONSUME: Stmt = Stmt::new(
            "UPDATE {refresh_tokens} SET consumed_at = COALESCE(consumed_at, ?), \
             rotations = rotations + 1 WHERE id = ?",
        );
        let query = self.query(&CONSUME).bind(conv::ts(now)).bind(presented.0);
        execute_in(tx, query).await?;
        let query = bind_refresh(self.query(&REFRESH_INSERT), next);
        insert_in(tx, query, Entity::RefreshToken, Entity::User).await
    }
}

#[async_trait]
impl TokenStore for Store {
    async fn create_refresh(&self, token: &RefreshToken) -> Result<(), StoreError> {
        let query = bind_refresh(self.query(&REFRESH_INSERT), token);
        self.insert(query, Entity::RefreshToken, Entity::User)
            .await?;
        Ok(())
    }

    /// A transaction: the presented row is read with `SELECT … FOR UPDATE` (PostgreSQL,
    /// MySQL) or under SQLite's write lock (`BEGIN IMMEDIATE`), so concurrent rotations
    /// of one token queue on that row and each sees its predecessor's effect. `rule`
    /// runs once, after the locked read. On PostgreSQL the consume and the successor's
    /// insert are one statement, so a rotation is two statements inside the
    /// transaction.
    async fn rotate_refresh(
        &self,
        presented: &TokenHash,
        now: Timestamp,
        rule: RotationRule<'_>,
    ) -> Result<RotationOutcome, StoreError> {
        static LOCK: Stmt = Stmt::new(concat!(
            "SELECT ",
            refresh_cols!(),
            " FROM {refresh_tokens} WHERE token_hash = ?{for_update}"
        ));
        let (mut tx, row) = self
            .begin_locked(|| self.query(&LOCK).bind(presented.0.to_vec()))
            .await?;
        let Some(row) = row else {
            rollback(tx).await?;
            return Ok(RotationOutcome::Unknown);
        };
        let before = refresh_from(&row)?;
        let decision = rule(&before);
        match &decision {
            RotationDecision::Rotate(next) => {
                self.consume_and_insert(&mut tx, before.id, next, now)
                    .await?;
            }
            RotationDecision::RevokeFamily => {
                let family = before.family_id.0;
                let revoke = || self.query(&REVOKE_FAMILY).bind(conv::ts(now)).bind(family);
                revoke_passes(&mut tx, revoke).await?;
            }
            RotationDecision::Reject => {
                rollback(tx).await?;
                return Ok(RotationOutcome::Decided {
                    presented: before,
                    decision,
                });
            }
        }
        commit(tx).await?;
        Ok(RotationOutcome::Decided {
            presented: before,
            decision,
        })
    }

    /// Revokes in passes until one finds nothing (see `revoke_passes`), in one
    /// transaction, so a rotation racing the revocation leaves no live successor.
    async fn revoke_family(&self, family: FamilyId, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let revoke = || {
            self.query(&REVOKE_FAMILY)
                .bind(conv::ts(now))
                .bind(family.0)
        };
        let revoked = revoke_passes(&mut tx, revoke).await?;
        commit(tx).await?;
        Ok(revoked)
    }

    /// As `revoke_family`, for every family of the user.
    async fn revoke_user_refresh(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        static SQL: Stmt = Stmt::new(
            "UPDATE {refresh_tokens} SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
        );
        let mut tx = self.begin_write().await?;
        let revoke = || self.query(&SQL).bind(conv::ts(now)).bind(user.0);
        let revoked = revoke_passes(&mut tx, revoke).await?;
        commit(tx).await?;
        Ok(revoked)
    }

    async fn purge_refresh(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        static SQL: Stmt = Stmt::new(match DIALECT {
            Dialect::MySql => "DELETE FROM {refresh_tokens} WHERE expires_at <= ? LIMIT ?",
            Dialect::Postgres | Dialect::Sqlite => {
                "DELETE FROM {refresh_tokens} WHERE id IN (SELECT id FROM {refresh_tokens} \
                 WHERE expires_at <= ? LIMIT ?{skip_locked})"
            }
        });
        let query = || self.query(&SQL).bind(conv::ts(now)).bind(i64::from(limit));
        self.execute(query).await
    }

    /// A transaction that first locks the user's row, so concurrent issues for one user
    /// queue and the last one leaves exactly one unconsumed token.
    async fn issue_one_time(&self, token: &OneTimeToken) -> Result<(), StoreError> {
        let (mut tx, user) = self
            .begin_locked(|| self.lock_user_query(token.user_id))
            .await?;
        if user.is_none() {
            rollback(tx).await?;
            return Err(NO_USER);
        }
        static DELETE_UNCONSUMED: Stmt = Stmt::new(
            "DELETE FROM {one_time_tokens} \
             WHERE user_id = ? AND purpose = ? AND consumed_at IS NULL",
        );
        let query = self
            .query(&DELETE_UNCONSUMED)
            .bind(token.user_id.0)
            .bind(token.purpose.as_str());
        execute_in(&mut tx, query).await?;
        static INSERT: Stmt = Stmt::new(concat!(
            "INSERT INTO {one_time_tokens} (",
            one_time_cols!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ));
        let query = self
            .query(&INSERT)
            .bind(token.id.0)
            .bind(token.user_id.0)
            .bind(token.purpose.as_str())
            .bind(&token.token_hash.0[..])
            .bind(conv::ts(token.created_at))
            .bind(conv::ts(token.expires_at))
            .bind(token.consumed_at.map(conv::ts))
            .bind(i64::from(token.failed_attempts));
        insert_in(&mut tx, query, Entity::OneTimeToken, Entity::User).await?;
        commit(tx).await
    }

    /// One conditional `UPDATE … RETURNING` (PostgreSQL, SQLite): of concurrent calls,
    /// the first to lock the row consumes it and the others' condition no longer holds.
    /// MySQL has no `UPDATE … RETURNING`: the same conditional update, its affected-row
    /// count, and a read of the row inside the transaction that holds its lock.
    async fn consume_one_time(
        &self,
        hash: &TokenHash,
        purpose: Purpose,
        now: Timestamp,
    ) -> Result<Option<OneTimeToken>, StoreError> {
        if DIALECT != Dialect::MySql {
            static CONSUME_RETURNING: Stmt = Stmt::new(concat!(
                "UPDATE {one_time_tokens} SET consumed_at = ? \
                 WHERE token_hash = ? AND purpose = ? AND consumed_at IS NULL \
                 AND expires_at > ? RETURNING ",
                one_time_cols!()
            ));
            let query = self
                .query(&CONSUME_RETURNING)
                .bind(conv::ts(now))
                .bind(&hash.0[..])
                .bind(purpose.as_str())
                .bind(conv::ts(now));
            let row = self.fetch_optional(query).await?;
            return row.as_ref().map(one_time_from).transpose();
        }
        static CONSUME: Stmt = Stmt::new(
            "UPDATE {one_time_tokens} SET consumed_at = ? \
             WHERE token_hash = ? AND purpose = ? AND consumed_at IS NULL \
             AND expires_at > ?",
        );
        static BY_HASH: Stmt = Stmt::new(concat!(
            "SELECT ",
            one_time_cols!(),
            " FROM {one_time_tokens} WHERE token_hash = ?"
        ));
        let mut tx = self.begin_write().await?;
        let query = self
            .query(&CONSUME)
            .bind(conv::ts(now))
            .bind(&hash.0[..])
            .bind(purpose.as_str())
            .bind(conv::ts(now));
        if execute_in(&mut tx, query).await? == 0 {
            rollback(tx).await?;
            return Ok(None);
        }
        let row = fetch_optional_in(&mut tx, self.query(&BY_HASH).bind(&hash.0[..])).await?;
        commit(tx).await?;
        row.as_ref().map(one_time_from).transpose()
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
        static LOCK_NEWEST: Stmt = Stmt::new(concat!(
            "SELECT ",
            one_time_cols!(),
            " FROM {one_time_tokens} \
             WHERE user_id = ? AND purpose = ? AND consumed_at IS NULL AND expires_at > ? \
             ORDER BY created_at DESC, id DESC LIMIT 1{for_update}"
        ));
        let (mut tx, row) = self
            .begin_locked(|| {
                self.query(&LOCK_NEWEST)
                    .bind(user.0)
                    .bind(purpose.as_str())
                    .bind(conv::ts(now))
            })
            .await?;
        let Some(row) = row else {
            rollback(tx).await?;
            return Ok(OtpOutcome::NoCode);
        };
        let token = one_time_from(&row)?;
        let decision = rule(&token);
        match decision {
            OtpDecision::Consume => {
                static ACCEPT: Stmt =
                    Stmt::new("UPDATE {one_time_tokens} SET consumed_at = ? WHERE id = ?");
                let query = self.query(&ACCEPT).bind(conv::ts(now)).bind(token.id.0);
                execute_in(&mut tx, query).await?;
            }
            OtpDecision::CountFailure => {
                static FAIL: Stmt = Stmt::new(
                    "UPDATE {one_time_tokens} SET failed_attempts = failed_attempts + 1 \
                     WHERE id = ?",
                );
                execute_in(&mut tx, self.query(&FAIL).bind(token.id.0)).await?;
            }
            OtpDecision::Leave => {}
        }
        commit(tx).await?;
        Ok(OtpOutcome::Decided { token, decision })
    }

    async fn purge_one_time(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        static SQL: Stmt = Stmt::new(match DIALECT {
            Dialect::MySql => {
                "DELETE FROM {one_time_tokens} \
                 WHERE (consumed_at IS NOT NULL OR expires_at <= ?) LIMIT ?"
            }
            Dialect::Postgres | Dialect::Sqlite => {
                "DELETE FROM {one_time_tokens} WHERE id IN (SELECT id FROM {one_time_tokens} \
                 WHERE (consumed_at IS NOT NULL OR expires_at <= ?) LIMIT ?{skip_locked})"
            }
        });
        let query = || self.query(&SQL).bind(conv::ts(now)).bind(i64::from(limit));
        self.execute(query).await
    }
}
