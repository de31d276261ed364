//! [`SessionStore`]: server-side sessions, found by the hash of their secret.

use std::sync::OnceLock;

use async_trait::async_trait;
use authkit::{
    Entity, Session, SessionId, SessionStore, SlidePolicy, StoreError, Timestamp, TokenHash, UserId,
};
use authkit_schema::TableNames;
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::sqlx::{self, AssertSqlSafe};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QueryTrait, Select, Statement, Value,
};

use super::shared::{hash, t, ts};
use super::{Store, e};
use crate::error::{backend, from_sqlx, map, retrying};
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

/// The live session with this hash: binds the hash, then `now` twice.
fn live_by_hash(hash: Vec<u8>, now: Timestamp) -> Select<Sessions> {
    Sessions::find()
        .filter(Column::TokenHash.eq(hash))
        .filter(live(now))
}

/// Not live at `now`: at or past either deadline.
fn dead(now: Timestamp) -> Condition {
    Condition::any()
        .add(Column::IdleExpiresAt.lte(t(now)))
        .add(Column::AbsoluteExpiresAt.lte(t(now)))
}

impl Store {
    /// The text of [`live_by_hash`], rendered by the query builder once (the cell
    /// [`live_session_by_hash`](Self::live_session_by_hash) fills too).
    fn live_by_hash_sql(&self) -> &str {
        self.hot.session_by_hash.get_or_init(|| {
            live_by_hash(Vec::new(), Timestamp::UNIX_EPOCH)
                .build(self.backend())
                .sql
        })
    }

    /// The live session with this hash, as stored.
    async fn live_session_by_hash(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let select = || live_by_hash(hash.0.to_vec(), now);
        let values = vec![hash.0.to_vec().into(), t(now).into(), t(now).into()];
        let row = self
            .hot_one(&self.hot.session_by_hash, select, values)
            .await?;
        row.map(session_from).transpose()
    }

    /// Slides the live session with `hash` when due, in one `UPDATE … RETURNING` of the
    /// row as written (PostgreSQL only: MariaDB has no `UPDATE … RETURNING`). `None`:
    /// nothing was due, or nothing is live. The statement is
    /// [`SlidePolicy::next_deadline`]'s rule in SQL, as authkit-sqlx states it: the new
    /// deadline is `min(now + idle_ttl, absolute_expires_at)`, written only while the
    /// session is live and only when it moves the stored one forward by more than
    /// `min_step`. Raw SQL: the query builder has no `LEAST(…)` of a value and a column
    /// minus a bound interval.
    async fn slide_in_one(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| {
            let template = authkit_schema::statements::SLIDE_SESSION_RETURNING;
            crate::sql::render(template, self.backend(), &TableNames::default())
        });
        let target = t(now + policy.idle_ttl);
        let step = policy.min_step.max(time::Duration::ZERO);
        let step_micros = i64::try_from(step.whole_microseconds()).unwrap_or(i64::MAX);
        let values: [Value; 7] = [
            target.into(),
            t(now).into(),
            hash.0.to_vec().into(),
            t(now).into(),
            t(now).into(),
            target.into(),
            step_micros.into(),
        ];
        let slide = Statement::from_sql_and_values(self.backend(), sql.as_str(), values);
        let row = retrying!(
            Sessions::find()
                .from_raw_sql(slide.clone())
                .one(&self.db)
                .await
        )
        .map_err(backend)?;
        row.map(session_from).transpose()
    }

    /// The live session by its hash as it was before the touch, then, when
    /// [`SlidePolicy::next_deadline`] asks for it, the conditional slide, which moves the
    /// deadline forward only (`idle_expires_at < new`) and only while the session is
    /// live. Both on one pooled connection (one checkout, as authkit-sqlx): SeaORM takes
    /// a connection per statement outside a transaction, so the two run as sqlx
    /// statements on a connection of the sqlx pool under SeaORM's (the read with the
    /// query builder's text of [`live_by_hash`]).
    async fn touch_in_two(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        let Some(pool) = super::pool(&self.db) else {
            return self.touch_in_two_checkouts(hash, now, policy).await;
        };
        static SLIDE: OnceLock<String> = OnceLock::new();
        let slide = SLIDE.get_or_init(|| {
            let dialect = crate::migrate::dialect(self.backend());
            let template = authkit_schema::statements::slide_session_by_id(dialect);
            crate::sql::render(template, self.backend(), &TableNames::default())
        });
        let read = sqlx::query::<super::Db>(AssertSqlSafe(self.live_by_hash_sql()))
            .bind(hash.0.to_vec())
            .bind(t(now))
            .bind(t(now));
        let mut conn = pool.acquire().await.map_err(from_sqlx).map_err(backend)?;
        let Some(row) = read
            .fetch_optional(&mut *conn)
            .await
            .map_err(from_sqlx)
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let session = session_from(Model::from_query_result(&row.into(), "").map_err(backend)?)?;
        if let Some(deadline) = policy.next_deadline(&session, now) {
            let query = || {
                sqlx::query::<super::Db>(slide.as_str())
                    .bind(t(deadline))
                    .bind(t(now))
                    .bind(session.id.0)
                    .bind(t(deadline))
                    .bind(t(now))
            };
            retrying!(query().execute(&mut *conn).await.map_err(from_sqlx)).map_err(backend)?;
        }
        Ok(Some(session))
    }

    /// [`touch_in_two`](Self::touch_in_two) through SeaORM, each statement on a pool
    /// checkout of its own, where the connection is no sqlx pool (see each database's
    /// `pool`): the same read, and the same conditional slide.
    async fn touch_in_two_checkouts(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        let Some(session) = self.live_session_by_hash(hash, now).await? else {
            return Ok(None);
        };
        if let Some(deadline) = policy.next_deadline(&session, now) {
            retrying!(
                Sessions::update_many()
                    .col_expr(Column::IdleExpiresAt, Expr::value(t(deadline)))
                    .col_expr(Column::LastSeenAt, Expr::value(t(now)))
                    .filter(Column::Id.eq(session.id.0))
                    .filter(Column::IdleExpiresAt.lt(t(deadline)))
                    .filter(Column::IdleExpiresAt.gt(t(now)))
                    .exec(&self.db)
                    .await
            )
            .map_err(backend)?;
        }
        Ok(Some(session))
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

    /// The live session by its unique hash, read first and, only when
    /// [`SlidePolicy::next_deadline`] asks for a write, slid by a second statement on
    /// the same pooled connection. On PostgreSQL, a session this store last saw close
    /// enough to its step that a slide is due now (its [`SlideHints`](authkit::SlideHints))
    /// takes one statement instead, the conditional `UPDATE … RETURNING`
    /// (`slide_in_one`); should that find nothing to slide (the session died, or another
    /// instance slid it first), the read runs after it and says which. As authkit-sqlx.
    ///
    /// Either way the write moves the deadline forward only (`idle_expires_at < new`),
    /// so concurrent touches never move it back and never revive a session that died
    /// meanwhile. When it loses to a concurrent touch that moved the deadline further,
    /// the session is returned with this call's own deadline (the stored one is later).
    async fn touch_session(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        let hints = self.hints.as_deref();
        let slid = match hints {
            Some(hints) if hints.due(hash, now, policy) => {
                self.slide_in_one(hash, now, policy).await?
            }
            _ => None,
        };
        let found = match slid {
            Some(session) => Some(session),
            None => self.touch_in_two(hash, now, policy).await?,
        };
        let Some(mut session) = found else {
            if let Some(hints) = hints {
                hints.forget(hash);
            }
            return Ok(None);
        };
        if let Some(deadline) = policy.next_deadline(&session, now) {
            session.idle_expires_at = deadline;
            session.last_seen_at = now;
        }
        if let Some(hints) = hints {
            hints.saw(&session);
        }
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
