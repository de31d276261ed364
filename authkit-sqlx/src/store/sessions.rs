//! [`SessionStore`]: server-side sessions looked up by the SHA-256 of their secret.

use async_trait::async_trait;
use authkit::{
    Entity, Session, SessionId, SessionStore, SlidePolicy, StoreError, Timestamp, TokenHash, UserId,
};
use authkit_schema::{Dialect, statements};
use sqlx::Row as _;

use super::shared::get_hash;
use super::{DIALECT, DbRow, Store, conv};
use crate::error::{backend, retrying};
use crate::sql::Stmt;

/// The columns [`session_from`] reads, in this order.
macro_rules! session_cols {
    () => {
        "id, user_id, token_hash, created_at, last_seen_at, idle_expires_at, \
         absolute_expires_at, payload"
    };
}

/// By position (the order of `session_cols!`): this is the authentication hot path.
fn session_from(row: &DbRow) -> Result<Session, StoreError> {
    let at = |i: usize| row.try_get(i).map_err(backend);
    Ok(Session {
        id: SessionId(at(0)?),
        user_id: UserId(at(1)?),
        token_hash: get_hash(row, 2usize)?,
        created_at: conv::get_ts(row, 3usize)?,
        last_seen_at: conv::get_ts(row, 4usize)?,
        idle_expires_at: conv::get_ts(row, 5usize)?,
        absolute_expires_at: conv::get_ts(row, 6usize)?,
        payload: row.try_get(7usize).map_err(backend)?,
    })
}

#[async_trait]
impl SessionStore for Store {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        static SQL: Stmt = Stmt::new(concat!(
            "INSERT INTO {sessions} (",
            session_cols!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        ));
        let query = self
            .query(&SQL)
            .bind(session.id.0)
            .bind(session.user_id.0)
            .bind(&session.token_hash.0[..])
            .bind(conv::ts(session.created_at))
            .bind(conv::ts(session.last_seen_at))
            .bind(conv::ts(session.idle_expires_at))
            .bind(conv::ts(session.absolute_expires_at))
            .bind(session.payload.as_deref());
        self.insert(query, Entity::Session, Entity::User).await?;
        Ok(())
    }

    /// The live session by its unique hash in a plain `SELECT` and, only when
    /// [`SlidePolicy::next_deadline`] asks for a write, a second statement on the same
    /// connection. On PostgreSQL, a session this store last saw close enough to its
    /// step that a slide is due now (see [`SlideHints`](authkit::SlideHints)) takes one statement instead: the
    /// conditional slide with `UPDATE … RETURNING` (`slide_in_one`). Should that find
    /// nothing to slide (the session died, or another instance slid it first), the
    /// plain path runs after it and says which. MySQL and SQLite have no such statement
    /// (no `UPDATE … RETURNING` on MariaDB; SQLite's returns no row that was not
    /// written, so it too would need the `SELECT` after it).
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
        let one_statement = DIALECT == Dialect::Postgres && self.hints.due(hash, now, policy);
        let slid = if one_statement {
            slide_in_one(self, hash, now, policy).await?
        } else {
            None
        };
        let found = match slid {
            Some(session) => Some(session),
            None => touch_in_two(self, hash, now, policy).await?,
        };
        let Some(mut session) = found else {
            if DIALECT == Dialect::Postgres {
                self.hints.forget(hash);
            }
            return Ok(None);
        };
        if let Some(deadline) = policy.next_deadline(&session, now) {
            session.idle_expires_at = deadline;
            session.last_seen_at = now;
        }
        if DIALECT == Dialect::Postgres {
            self.hints.saw(&session);
        }
        Ok(Some(session))
    }

    async fn session_by_id(
        &self,
        id: SessionId,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        static SQL: Stmt = Stmt::new(concat!(
            "SELECT ",
            session_cols!(),
            " FROM {sessions} WHERE id = ? AND idle_expires_at > ? AND absolute_expires_at > ?"
        ));
        let query = self
            .query(&SQL)
            .bind(id.0)
            .bind(conv::ts(now))
            .bind(conv::ts(now));
        let row = self.fetch_optional(query).await?;
        row.as_ref().map(session_from).transpose()
    }

    async fn set_session_payload(
        &self,
        id: SessionId,
        payload: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        static SQL: Stmt = Stmt::new(
            "UPDATE {sessions} SET payload = ? \
             WHERE id = ? AND idle_expires_at > ? AND absolute_expires_at > ?",
        );
        let query = || {
            self.query(&SQL)
                .bind(payload)
                .bind(id.0)
                .bind(conv::ts(now))
                .bind(conv::ts(now))
        };
        if self.execute(query).await? == 0 {
            return Err(StoreError::NotFound {
                what: Entity::Session,
            });
        }
        Ok(())
    }

    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new("DELETE FROM {sessions} WHERE id = ?");
        Ok(self.execute(|| self.query(&SQL).bind(id.0)).await? > 0)
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        static ALL: Stmt = Stmt::new("DELETE FROM {sessions} WHERE user_id = ?");
        static ALL_BUT: Stmt = Stmt::new("DELETE FROM {sessions} WHERE user_id = ? AND id <> ?");
        let query = || match except {
            Some(keep) => self.query(&ALL_BUT).bind(user.0).bind(keep.0),
            None => self.query(&ALL).bind(user.0),
        };
        self.execute(query).await
    }

    async fn list_user_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        static SQL: Stmt = Stmt::new(concat!(
            "SELECT ",
            session_cols!(),
            " FROM {sessions} \
             WHERE user_id = ? AND idle_expires_at > ? AND absolute_expires_at > ? \
             ORDER BY created_at, id"
        ));
        let query = self
            .query(&SQL)
            .bind(user.0)
            .bind(conv::ts(now))
            .bind(conv::ts(now));
        let rows = self.fetch_all(query).await?;
        rows.iter().map(session_from).collect()
    }

    async fn purge_sessions(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        static SQL: Stmt = Stmt::new(match DIALECT {
            Dialect::MySql => {
                "DELETE FROM {sessions} \
                 WHERE (idle_expires_at <= ? OR absolute_expires_at <= ?) LIMIT ?"
            }
            Dialect::Postgres | Dialect::Sqlite => {
                "DELETE FROM {sessions} WHERE id IN (SELECT id FROM {sessions} \
                 WHERE (idle_expires_at <= ? OR absolute_expires_at <= ?) LIMIT ?{skip_locked})"
            }
        });
        let query = || {
            self.query(&SQL)
                .bind(conv::ts(now))
                .bind(conv::ts(now))
                .bind(i64::from(limit))
        };
        self.execute(query).await
    }
}

/// Slides the live session with `hash` when due, in one `UPDATE … RETURNING` of the
/// row as written (PostgreSQL only). `None`: nothing was due or nothing is live. The
/// statement states [`SlidePolicy::next_deadline`]'s rule in SQL
/// (`idle_expires_at < min(now + idle_ttl, absolute_expires_at) - min_step`, strictly
/// forward, only while live).
async fn slide_in_one(
    store: &Store,
    hash: &TokenHash,
    now: Timestamp,
    policy: SlidePolicy,
) -> Result<Option<Session>, StoreError> {
    // Its columns come back in `session_cols!`'s order, which `session_from` reads.
    static SQL: Stmt = Stmt::new(statements::SLIDE_SESSION_RETURNING);
    let target = conv::ts(now + policy.idle_ttl);
    let step = policy.min_step.max(time::Duration::ZERO);
    let step_micros = i64::try_from(step.whole_microseconds()).unwrap_or(i64::MAX);
    let query = store
        .query(&SQL)
        .bind(target)
        .bind(conv::ts(now))
        .bind(&hash.0[..])
        .bind(conv::ts(now))
        .bind(conv::ts(now))
        .bind(target)
        .bind(step_micros);
    let row = store.fetch_optional(query).await?;
    row.as_ref().map(session_from).transpose()
}

/// The live session by its hash as it was before the touch, then the slide when due,
/// on one connection.
async fn touch_in_two(
    store: &Store,
    hash: &TokenHash,
    now: Timestamp,
    policy: SlidePolicy,
) -> Result<Option<Session>, StoreError> {
    static LIVE_BY_HASH: Stmt = Stmt::new(concat!(
        "SELECT ",
        session_cols!(),
        " FROM {sessions} \
         WHERE token_hash = ? AND idle_expires_at > ? AND absolute_expires_at > ?"
    ));
    static SLIDE: Stmt = Stmt::new(statements::slide_session_by_id(DIALECT));
    let mut conn = store.pool.acquire().await.map_err(backend)?;
    let query = store
        .query(&LIVE_BY_HASH)
        .bind(&hash.0[..])
        .bind(conv::ts(now))
        .bind(conv::ts(now));
    let Some(row) = query.fetch_optional(&mut *conn).await.map_err(backend)? else {
        return Ok(None);
    };
    let session = session_from(&row)?;
    if let Some(deadline) = policy.next_deadline(&session, now) {
        let query = || {
            store
                .query(&SLIDE)
                .bind(conv::ts(deadline))
                .bind(conv::ts(now))
                .bind(session.id.0)
                .bind(conv::ts(deadline))
                .bind(conv::ts(now))
        };
        retrying!(query().execute(&mut *conn).await).map_err(backend)?;
    }
    Ok(Some(session))
}
