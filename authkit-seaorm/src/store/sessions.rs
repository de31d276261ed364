//! [`SessionStore`]: server-side sessions, found by the hash of their secret.

use async_trait::async_trait;
use authkit::{
    Entity, Session, SessionId, SessionStore, SlidePolicy, StoreError, Timestamp, TokenHash, UserId,
};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::shared::{hash, t, ts};
use super::{Store, e};
use crate::error::{backend, map, retrying};
use e::session::{ActiveModel, Column, Entity as Sessions, Model};

/// A session from its row.
fn session_from(row: Model) -> Result<Session, StoreError> {
    Ok(Session {
        id: SessionId(row.id),
        user_id: UserId(row.user_id),
        token_hash: hash("token_hash", &row.token_hash)?,
        created_at: ts("created_at", row.created_at)?,
        last_seen_at: ts("last_seen_at", row.last_seen_at)?,
        idle_expires_at: ts("idle_expires_at", row.idle_expires_at)?,
        absolute_expires_at: ts("absolute_expires_at", row.absolute_expires_at)?,
        payload: row.payload,
    })
}

/// Live at `now`: strictly before both deadlines.
fn live(now: Timestamp) -> Condition {
    Condition::all()
        .add(Column::IdleExpiresAt.gt(t(now)))
        .add(Column::AbsoluteExpiresAt.gt(t(now)))
}

/// Not live at `now`: at or past either deadline.
fn dead(now: Timestamp) -> Condition {
    Condition::any()
        .add(Column::IdleExpiresAt.lte(t(now)))
        .add(Column::AbsoluteExpiresAt.lte(t(now)))
}

impl Store {
    /// The live session with this hash, as stored.
    async fn live_session_by_hash(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let select = || {
            Sessions::find()
                .filter(Column::TokenHash.eq(hash.0.to_vec()))
                .filter(live(now))
        };
        let values = vec![hash.0.to_vec().into(), t(now).into(), t(now).into()];
        let row = self
            .hot_one(&self.hot.session_by_hash, select, values)
            .await?;
        row.map(session_from).transpose()
    }
}

#[async_trait]
impl SessionStore for Store {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let row = ActiveModel {
            id: Set(session.id.0),
            user_id: Set(session.user_id.0),
            token_hash: Set(session.token_hash.0.to_vec()),
            created_at: Set(t(session.created_at)),
            last_seen_at: Set(t(session.last_seen_at)),
            idle_expires_at: Set(t(session.idle_expires_at)),
            absolute_expires_at: Set(t(session.absolute_expires_at)),
            payload: Set(session.payload.clone()),
        };
        Sessions::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| map(e, Entity::Session, Entity::User))?;
        Ok(())
    }

    /// A read of the live session; when the policy asks for a slide, one conditional
    /// `UPDATE` that moves the idle deadline forward only, and only on a session still
    /// live. When that update changes nothing (a concurrent touch slid further, or the
    /// session was revoked or ended meanwhile), the session is read again and returned
    /// as it is then, if still live.
    async fn touch_session(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        let Some(mut session) = self.live_session_by_hash(hash, now).await? else {
            return Ok(None);
        };
        let Some(deadline) = policy.next_deadline(&session, now) else {
            return Ok(Some(session));
        };
        let done = retrying!(
            Sessions::update_many()
                .col_expr(Column::IdleExpiresAt, Expr::value(t(deadline)))
                .col_expr(Column::LastSeenAt, Expr::value(t(now)))
                .filter(Column::Id.eq(session.id.0))
                .filter(Column::IdleExpiresAt.lt(t(deadline)))
                .filter(live(now))
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        if done.rows_affected == 0 {
            return self.live_session_by_hash(hash, now).await;
        }
        session.idle_expires_at = deadline;
        session.last_seen_at = now;
        Ok(Some(session))
    }

    async fn session_by_id(
        &self,
        id: SessionId,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let row = Sessions::find_by_id(id.0)
            .filter(live(now))
            .one(&self.db)
            .await
            .map_err(backend)?;
        row.map(session_from).transpose()
    }

    async fn set_session_payload(
        &self,
        id: SessionId,
        payload: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let done = retrying!(
            Sessions::update_many()
                .col_expr(Column::Payload, Expr::value(payload.map(<[u8]>::to_vec)))
                .filter(Column::Id.eq(id.0))
                .filter(live(now))
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        if done.rows_affected == 0 {
            return Err(StoreError::NotFound {
                what: Entity::Session,
            });
        }
        Ok(())
    }

    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
        let done = retrying!(Sessions::delete_by_id(id.0).exec(&self.db).await).map_err(backend)?;
        Ok(done.rows_affected > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        let delete = || {
            let all = Sessions::delete_many().filter(Column::UserId.eq(user.0));
            match except {
                Some(except) => all.filter(Column::Id.ne(except.0)),
                None => all,
            }
        };
        let done = retrying!(delete().exec(&self.db).await).map_err(backend)?;
        Ok(done.rows_affected)
    }

    /// Oldest first, although the trait allows any order: the conformance suite's
    /// session model checks it (`props_sessions_match_model`).
    async fn list_user_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = Sessions::find()
            .filter(Column::UserId.eq(user.0))
            .filter(live(now))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await
            .map_err(backend)?;
        rows.into_iter().map(session_from).collect()
    }

    async fn purge_sessions(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.purge::<Sessions>(Column::Id, dead(now), limit).await
    }
}
