//! [`SessionStore`]: server-side sessions looked up by the SHA-256 of their secret.

use std::sync::OnceLock;

use async_trait::async_trait;
use authkit::{
    Entity, Session, SessionId, SessionStore, SlidePolicy, StoreError, Timestamp, TokenHash, UserId,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::shared::{hash_from, render};
use super::{DIALECT, Store};
use crate::error::{TxError, retrying};
use crate::schema::authkit_sessions as sessions;
use crate::sql_types::{DbId, DbTs, Id, Ts};

/// A row of `authkit_sessions`.
///
/// `None` inserts `NULL` (the column's default), not `DEFAULT`: only then does Diesel
/// cache the prepared `INSERT`.
#[derive(Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = sessions, treat_none_as_default_value = false)]
struct SessionRow {
    id: DbId,
    user_id: DbId,
    token_hash: Vec<u8>,
    created_at: DbTs,
    last_seen_at: DbTs,
    idle_expires_at: DbTs,
    absolute_expires_at: DbTs,
    payload: Option<Vec<u8>>,
}

impl SessionRow {
    fn into_session(self) -> Result<Session, StoreError> {
        Ok(Session {
            id: SessionId(self.id.0),
            user_id: UserId(self.user_id.0),
            token_hash: hash_from("token_hash", &self.token_hash)?,
            created_at: self.created_at.0,
            last_seen_at: self.last_seen_at.0,
            idle_expires_at: self.idle_expires_at.0,
            absolute_expires_at: self.absolute_expires_at.0,
            payload: self.payload,
        })
    }
}

/// Live at `now`: both deadlines strictly after it.
macro_rules! live_at {
    ($now:expr) => {
        sessions::idle_expires_at
            .gt(DbTs($now))
            .and(sessions::absolute_expires_at.gt(DbTs($now)))
    };
}

impl Store {
    /// Slides the live session with `hash` when due, in one `UPDATE … RETURNING` of the
    /// row as written (PostgreSQL only: the one database whose store keeps slide
    /// hints). `None`: nothing was due, or nothing is live. The statement is
    /// [`SlidePolicy::next_deadline`]'s rule in SQL, shared with authkit-sqlx and
    /// authkit-seaorm ([`SLIDE_SESSION_RETURNING`](authkit_schema::statements::SLIDE_SESSION_RETURNING)).
    /// Raw SQL: Diesel's DSL has no `LEAST(…)` of a value and a column.
    async fn slide_in_one(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        use diesel::sql_types::{BigInt, Binary};

        static SQL: OnceLock<String> = OnceLock::new();
        let sql = SQL.get_or_init(|| render(authkit_schema::statements::SLIDE_SESSION_RETURNING));
        let target = DbTs(now + policy.idle_ttl);
        let step = policy.min_step.max(time::Duration::ZERO);
        let step_micros = i64::try_from(step.whole_microseconds()).unwrap_or(i64::MAX);
        let slide = diesel::sql_query(sql.as_str())
            .bind::<Ts, _>(target)
            .bind::<Ts, _>(DbTs(now))
            .bind::<Binary, _>(&hash.0[..])
            .bind::<Ts, _>(DbTs(now))
            .bind::<Ts, _>(DbTs(now))
            .bind::<Ts, _>(target)
            .bind::<BigInt, _>(step_micros);
        let row = self
            .read(async |conn| {
                let query = || crate::conn::Cached(slide.clone());
                Ok(retrying!(query().get_result::<SessionRow>(conn).await.optional())?)
            })
            .await?;
        row.map(SessionRow::into_session).transpose()
    }

    /// The live session by its unique hash in a plain `SELECT`, then, only when
    /// [`SlidePolicy::next_deadline`] asks for a write, the conditional `UPDATE` by id
    /// on the same connection ([`slide_sql`]); the session is returned as the slide left
    /// it.
    async fn touch_in_two(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        self.read(async |conn| {
            let query = sessions::table
                .filter(sessions::token_hash.eq(&hash.0[..]))
                .filter(live_at!(now))
                .select(SessionRow::as_select());
            let Some(row) = query.first(conn).await.optional()? else {
                return Ok(None);
            };
            let mut session = row.into_session()?;
            if let Some(deadline) = policy.next_deadline(&session, now) {
                let slide = || {
                    diesel::sql_query(slide_sql())
                        .bind::<Ts, _>(DbTs(deadline))
                        .bind::<Ts, _>(DbTs(now))
                        .bind::<Id, _>(DbId(session.id.0))
                        .bind::<Ts, _>(DbTs(deadline))
                        .bind::<Ts, _>(DbTs(now))
                };
                retrying!(crate::conn::Cached(slide()).execute(conn).await)?;
                session.idle_expires_at = deadline;
                session.last_seen_at = now;
            }
            Ok::<_, TxError>(Some(session))
        })
        .await
    }
}

/// [`slide_session_by_id`](authkit_schema::statements::slide_session_by_id) rendered
/// once: fixed text, so the connection keeps its prepared form.
fn slide_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| render(authkit_schema::statements::slide_session_by_id(DIALECT)))
}

#[async_trait]
impl SessionStore for Store {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        let row = SessionRow {
            id: DbId(session.id.0),
            user_id: DbId(session.user_id.0),
            token_hash: session.token_hash.0.to_vec(),
            created_at: DbTs(session.created_at),
            last_seen_at: DbTs(session.last_seen_at),
            idle_expires_at: DbTs(session.idle_expires_at),
            absolute_expires_at: DbTs(session.absolute_expires_at),
            payload: session.payload.clone(),
        };
        self.step(Entity::Session, Entity::User, async |conn| {
            diesel::insert_into(sessions::table)
                .values(&row)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// The live session by its unique hash in a plain `SELECT` and, only when
    /// [`SlidePolicy::next_deadline`] asks for a write, a conditional `UPDATE` on the
    /// same connection (`touch_in_two`). On PostgreSQL, a session this store last saw
    /// close enough to its step that a slide is due now (its
    /// [`SlideHints`](authkit::SlideHints)) takes one statement instead, the conditional
    /// `UPDATE … RETURNING` (`slide_in_one`); should that find nothing to slide (the
    /// session died, or another instance slid it first), the plain path runs after it
    /// and says which. As authkit-sqlx and authkit-seaorm.
    ///
    /// Either way the write moves the deadline forward only (`idle_expires_at < new`)
    /// and only while the session is live, so concurrent touches never move it back and
    /// never revive a session that died meanwhile.
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
        if let Some(hints) = hints {
            match &found {
                Some(session) => hints.saw(session),
                None => hints.forget(hash),
            }
        }
        Ok(found)
    }

    async fn session_by_id(
        &self,
        id: SessionId,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        let row = self
            .read(async |conn| {
                let query = sessions::table
                    .find(DbId(id.0))
                    .filter(live_at!(now))
                    .select(SessionRow::as_select());
                Ok(query.first(conn).await.optional()?)
            })
            .await?;
        row.map(SessionRow::into_session).transpose()
    }

    async fn set_session_payload(
        &self,
        id: SessionId,
        payload: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let changed = self
            .read(async |conn| {
                let live = sessions::table.find(DbId(id.0)).filter(live_at!(now));
                let query = diesel::update(live).set(sessions::payload.eq(payload));
                Ok(retrying!(query.clone().execute(conn).await)?)
            })
            .await?;
        if changed == 0 {
            return Err(StoreError::NotFound {
                what: Entity::Session,
            });
        }
        Ok(())
    }

    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
        let deleted = self
            .read(async |conn| {
                let query = diesel::delete(sessions::table.find(DbId(id.0)));
                Ok(retrying!(query.clone().execute(conn).await)?)
            })
            .await?;
        Ok(deleted > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        let deleted = self
            .read(async |conn| {
                let query = || {
                    let mine = sessions::table.filter(sessions::user_id.eq(DbId(user.0)));
                    let query = diesel::delete(mine).into_boxed();
                    match except {
                        Some(keep) => query.filter(sessions::id.ne(DbId(keep.0))),
                        None => query,
                    }
                };
                Ok(retrying!(query().execute(conn).await)?)
            })
            .await?;
        Ok(deleted as u64)
    }

    async fn list_user_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        let rows = self
            .read(async |conn| {
                let query = sessions::table
                    .filter(sessions::user_id.eq(DbId(user.0)))
                    .filter(live_at!(now))
                    // Oldest first, as the suite's property case checks (the trait
                    // says any order; authkit-sqlx orders so too).
                    .order((sessions::created_at, sessions::id))
                    .select(SessionRow::as_select());
                Ok(query.load(conn).await?)
            })
            .await?;
        rows.into_iter().map(SessionRow::into_session).collect()
    }

    /// The ids of at most `limit` dead sessions, then a delete of those still dead: two
    /// statements, since MySQL refuses `LIMIT` in an `IN` subquery. A purge racing
    /// another deletes each row once.
    async fn purge_sessions(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let dead = || {
            sessions::idle_expires_at
                .le(DbTs(now))
                .or(sessions::absolute_expires_at.le(DbTs(now)))
        };
        let deleted = self
            .read(async |conn| {
                let ids: Vec<DbId> = sessions::table
                    .filter(dead())
                    .select(sessions::id)
                    .limit(i64::from(limit))
                    .load(conn)
                    .await?;
                if ids.is_empty() {
                    return Ok(0);
                }
                let doomed = sessions::table
                    .filter(sessions::id.eq_any(ids))
                    .filter(dead());
                Ok(retrying!(diesel::delete(doomed.clone()).execute(conn).await)?)
            })
            .await?;
        Ok(deleted as u64)
    }
}
