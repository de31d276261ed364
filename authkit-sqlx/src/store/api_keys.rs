//! [`ApiKeyStore`]: API and service keys, looked up by the hash of the presented key.
//!
//! Scopes, IP allow-lists and metadata are JSON text: read together with the key on
//! every verification, never queried by element.
//!
//! A rate limit is two columns, `rate_limit` (0: none) and `rate_window_seconds`; the
//! current window is two more, `rate_count` and `rate_window_started_at`, which only
//! [`count_api_key_request`](ApiKeyStore::count_api_key_request) reads and writes (they
//! are not part of [`ApiKey`]).

use std::collections::BTreeMap;
use std::net::IpAddr;

use async_trait::async_trait;
use authkit::{
    ApiKey, ApiKeyId, ApiKeyStore, ApiKeyUpdate, Entity, Environment, KeyType, KeyUsage, RateLimit,
    RateWindow, StoreError, Timestamp, TokenHash, UserId,
};
use authkit_schema::{Dialect, statements};

use super::shared::{
    NO_KEY, Query, commit, count, execute_in, get, get_hash, get_json, insert_in, json, rollback,
};
use super::{DIALECT, DbRow, Store, conv};
use crate::error::{backend, corrupt, retrying};
use crate::sql::Stmt;

/// The columns [`key_from`] reads and [`bind_key`] binds, in table order.
macro_rules! key_cols {
    () => {
        "id, prefix, key_hash, key_type, environment, owner_id, organization_id, name, \
         description, scopes, allowed_ips, metadata, created_at, expires_at, revoked_at, \
         revoked_reason, usage_count, last_used_at, last_used_ip, last_used_user_agent, \
         rate_limit, rate_window_seconds, acts_for_user_id"
    };
}

fn key_from(row: &DbRow) -> Result<ApiKey, StoreError> {
    let key_type: String = get(row, "key_type")?;
    let environment: String = get(row, "environment")?;
    let usage_count: i64 = get(row, "usage_count")?;
    let last_used_ip: Option<String> = get(row, "last_used_ip")?;
    Ok(ApiKey {
        id: ApiKeyId(get(row, "id")?),
        prefix: get(row, "prefix")?,
        key_hash: get_hash(row, "key_hash")?,
        key_type: KeyType::parse(&key_type)
            .ok_or_else(|| corrupt("key_type", format!("unknown type {key_type:?}")))?,
        environment: Environment::parse(&environment).ok_or_else(|| {
            corrupt(
                "environment",
                format!("unknown environment {environment:?}"),
            )
        })?,
        owner: get::<Option<uuid::Uuid>>(row, "owner_id")?.map(UserId),
        organization_id: get(row, "organization_id")?,
        name: get(row, "name")?,
        description: get(row, "description")?,
        scopes: get_json(row, "scopes")?,
        allowed_ips: get_json(row, "allowed_ips")?,
        metadata: get_json::<BTreeMap<String, String>>(row, "metadata")?,
        created_at: conv::get_ts(row, "created_at")?,
        expires_at: conv::get_ts_opt(row, "expires_at")?,
        revoked_at: conv::get_ts_opt(row, "revoked_at")?,
        revoked_reason: get(row, "revoked_reason")?,
        usage_count: u64::try_from(usage_count)
            .map_err(|_| corrupt("usage_count", format!("{usage_count}")))?,
        last_used_at: conv::get_ts_opt(row, "last_used_at")?,
        last_used_ip: last_used_ip
            .map(|ip| {
                ip.parse::<IpAddr>()
                    .map_err(|_| corrupt("last_used_ip", format!("{ip:?}")))
            })
            .transpose()?,
        last_used_user_agent: get(row, "last_used_user_agent")?,
        rate_limit: RateLimit::from_stored(
            get(row, "rate_limit")?,
            get(row, "rate_window_seconds")?,
        ),
        acts_for: get::<Option<uuid::Uuid>>(row, "acts_for_user_id")?.map(UserId),
    })
}

/// A rate limit as its two columns: `(0, 0)` for none.
fn limit_cols(limit: Option<RateLimit>) -> (i64, i64) {
    limit.map_or((0, 0), |l| (i64::from(l.requests), l.window_seconds()))
}

static INSERT: Stmt = Stmt::new(concat!(
    "INSERT INTO {api_keys} (",
    key_cols!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
));

/// [`INSERT`] with every column of `key` bound, in `key_cols!` order.
fn bind_key(query: Query, key: &ApiKey) -> Result<Query, StoreError> {
    let (rate_limit, rate_window_seconds) = limit_cols(key.rate_limit);
    Ok(query
        .bind(key.id.0)
        .bind(key.prefix.clone())
        .bind(key.key_hash.0.to_vec())
        .bind(key.key_type.as_str())
        .bind(key.environment.as_str())
        .bind(key.owner.map(|o| o.0))
        .bind(key.organization_id.clone())
        .bind(key.name.clone())
        .bind(key.description.clone())
        .bind(json(&key.scopes)?)
        .bind(json(&key.allowed_ips)?)
        .bind(json(&key.metadata)?)
        .bind(conv::ts(key.created_at))
        .bind(key.expires_at.map(conv::ts))
        .bind(key.revoked_at.map(conv::ts))
        .bind(key.revoked_reason.clone())
        .bind(count(key.usage_count))
        .bind(key.last_used_at.map(conv::ts))
        .bind(key.last_used_ip.map(|ip| ip.to_string()))
        .bind(key.last_used_user_agent.clone())
        .bind(rate_limit)
        .bind(rate_window_seconds)
        .bind(key.acts_for.map(|u| u.0)))
}

/// The window step of [`count_api_key_request`](ApiKeyStore::count_api_key_request) as
/// a `SET` list, binds `now, now, now`: a window that never started, or started at or
/// before `now - rate_window_seconds`, restarts at `now` with a count of 1; otherwise
/// the count goes up by one.
///
/// `rate_count` is assigned first, as in MySQL's text
/// ([`COUNT_WINDOW_LAST_INSERT_ID`](statements::COUNT_WINDOW_LAST_INSERT_ID)), though
/// PostgreSQL and SQLite evaluate every assignment against the old row.
macro_rules! count_set {
    (postgres) => {
        "rate_count = CASE WHEN rate_window_started_at IS NULL \
         OR rate_window_started_at <= ? - make_interval(secs => rate_window_seconds) \
         THEN 1 ELSE rate_count + 1 END, \
         rate_window_started_at = CASE WHEN rate_window_started_at IS NULL \
         OR rate_window_started_at <= ? - make_interval(secs => rate_window_seconds) \
         THEN ? ELSE rate_window_started_at END"
    };
    (sqlite) => {
        "rate_count = CASE WHEN rate_window_started_at IS NULL \
         OR rate_window_started_at <= ? - rate_window_seconds * 1000000 \
         THEN 1 ELSE rate_count + 1 END, \
         rate_window_started_at = CASE WHEN rate_window_started_at IS NULL \
         OR rate_window_started_at <= ? - rate_window_seconds * 1000000 \
         THEN ? ELSE rate_window_started_at END"
    };
}

/// The window a counting statement returned, from its `count` and `started` columns.
fn window_from(row: &DbRow, count: &'static str, started: &str) -> Result<RateWindow, StoreError> {
    let n: i64 = get(row, count)?;
    Ok(RateWindow {
        count: u64::try_from(n).map_err(|_| corrupt("rate_count", format!("{n}")))?,
        started_at: conv::get_ts(row, started)?,
    })
}

impl Store {
    /// Whether the key exists (for the error of a write that matched no row).
    pub(super) async fn key_exists(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new("SELECT 1 FROM {api_keys} WHERE id = ?");
        self.exists(self.query(&SQL).bind(id.0)).await
    }
}

#[async_trait]
impl ApiKeyStore for Store {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let query = bind_key(self.query(&INSERT), key)?;
        self.insert(query, Entity::ApiKey, Entity::User).await?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, StoreError> {
        static SQL: Stmt = Stmt::new(concat!(
            "SELECT ",
            key_cols!(),
            " FROM {api_keys} WHERE key_hash = ?"
        ));
        let row = self
            .fetch_optional(self.query(&SQL).bind(&hash.0[..]))
            .await?;
        row.as_ref().map(key_from).transpose()
    }

    /// One `UPDATE` of the key's row, which the database locks: concurrent calls queue
    /// on it, and each one's `SET` reads the row as the previous one left it (PostgreSQL
    /// re-reads the updated row under READ COMMITTED, InnoDB's UPDATE reads the latest
    /// committed version under REPEATABLE READ, SQLite has one writer), so N calls return
    /// N distinct counts.
    ///
    /// PostgreSQL and SQLite: one round trip, `UPDATE … RETURNING`. On PostgreSQL the
    /// statement's own transaction commits asynchronously (`set_config(…, true)` is
    /// `SET LOCAL`; see "Asynchronous Commit" in the PostgreSQL manual's chapter on
    /// reliability and the write-ahead log):
    /// a crash of the database can lose the counts of its last few hundred
    /// milliseconds, never corrupt them, so a key may get that many extra requests
    /// after a crash. Waiting for the WAL flush instead made a limited key's
    /// verification several times slower (595 against 4,035 counts a second on one
    /// connection, pgbench on the local PostgreSQL 15). Nothing else the store writes
    /// commits this way. MySQL has no per-transaction setting for it. MySQL/MariaDB: the
    /// `UPDATE` hands the count back through `LAST_INSERT_ID(…)`, then a `SELECT` reads
    /// the window's start (two round trips, the count still from the one atomic step).
    async fn count_api_key_request(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        static SQL: Stmt = Stmt::new(match DIALECT {
            Dialect::Postgres => concat!(
                "UPDATE {api_keys} SET ",
                count_set!(postgres),
                " WHERE id = ? AND rate_limit > 0 \
                 AND set_config('synchronous_commit', 'off', true) IS NOT NULL \
                 RETURNING rate_count, rate_window_started_at"
            ),
            Dialect::Sqlite => concat!(
                "UPDATE {api_keys} SET ",
                count_set!(sqlite),
                " WHERE id = ? AND rate_limit > 0 RETURNING rate_count, rate_window_started_at"
            ),
            Dialect::MySql => statements::COUNT_WINDOW_LAST_INSERT_ID,
        });
        let query = self
            .query(&SQL)
            .bind(conv::ts(now))
            .bind(conv::ts(now))
            .bind(conv::ts(now))
            .bind(id.0);
        if DIALECT != Dialect::MySql {
            let row = self.fetch_optional(query).await?;
            return row
                .as_ref()
                .map(|row| window_from(row, "rate_count", "rate_window_started_at"))
                .transpose();
        }
        // The pool's connections set CLIENT_FOUND_ROWS: rows_affected counts the row
        // matched, changed or not.
        let done = query.execute(&self.pool).await.map_err(backend)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        // A matched row counted at least 1: 0 means the server did not carry the value.
        let count = super::last_insert_id(&done)
            .filter(|n| *n > 0)
            .ok_or_else(|| corrupt("rate_count", "LAST_INSERT_ID(…) not returned"))?;
        // Read after the count, in a statement of its own: a concurrent call may have
        // started a later window in between, so the start read can be a later window's
        // than the one counted in. A retry hint made from it errs late, never early.
        // The key deleted in between: `now`, no earlier than the counted window's start.
        static STARTED: Stmt =
            Stmt::new("SELECT rate_window_started_at FROM {api_keys} WHERE id = ?");
        let row = self.fetch_optional(self.query(&STARTED).bind(id.0)).await?;
        let started_at = match row {
            Some(row) => conv::get_ts_opt(&row, "rate_window_started_at")?.unwrap_or(now),
            None => now,
        };
        Ok(Some(RateWindow { count, started_at }))
    }

    // `api_key_for_request` is the trait's default on every database: the lookup, then
    // the count for a limited key only. A PostgreSQL data-modifying CTE doing both in one
    // statement was measured slower for keys without a limit (0.62-0.68x a bare SELECT of
    // the row, against 0.70-0.98x for the lookup alone) and no faster for limited keys,
    // whose cost is the committed write either way.

    async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        static SQL: Stmt = Stmt::new(concat!(
            "SELECT ",
            key_cols!(),
            " FROM {api_keys} WHERE id = ?"
        ));
        let row = self.fetch_optional(self.query(&SQL).bind(id.0)).await?;
        row.as_ref().map(key_from).transpose()
    }

    async fn list_api_keys(&self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        static OWNED: Stmt = Stmt::new(concat!(
            "SELECT ",
            key_cols!(),
            " FROM {api_keys} WHERE owner_id = ? ORDER BY created_at, id"
        ));
        static SERVICE: Stmt = Stmt::new(concat!(
            "SELECT ",
            key_cols!(),
            " FROM {api_keys} WHERE owner_id IS NULL ORDER BY created_at, id"
        ));
        let query = match owner {
            Some(owner) => self.query(&OWNED).bind(owner.0),
            None => self.query(&SERVICE),
        };
        let rows = self.fetch_all(query).await?;
        rows.iter().map(key_from).collect()
    }

    /// A transaction: the row is read under lock, the update applied to it, and every
    /// descriptive field written back.
    async fn update_api_key(
        &self,
        id: ApiKeyId,
        update: &ApiKeyUpdate,
    ) -> Result<ApiKey, StoreError> {
        static LOCK: Stmt = Stmt::new(concat!(
            "SELECT ",
            key_cols!(),
            " FROM {api_keys} WHERE id = ?{for_update}"
        ));
        let (mut tx, row) = self.begin_locked(|| self.query(&LOCK).bind(id.0)).await?;
        let Some(row) = row else {
            rollback(tx).await?;
            return Err(NO_KEY);
        };
        let mut key = key_from(&row)?;
        update.apply_to(&mut key);
        // The window (`rate_count`, `rate_window_started_at`) stays: a new limit applies
        // to the window under way.
        static UPDATE: Stmt = Stmt::new(
            "UPDATE {api_keys} SET name = ?, description = ?, scopes = ?, \
             expires_at = ?, allowed_ips = ?, metadata = ?, \
             rate_limit = ?, rate_window_seconds = ? WHERE id = ?",
        );
        let (rate_limit, rate_window_seconds) = limit_cols(key.rate_limit);
        let query = self
            .query(&UPDATE)
            .bind(key.name.clone())
            .bind(key.description.clone())
            .bind(json(&key.scopes)?)
            .bind(key.expires_at.map(conv::ts))
            .bind(json(&key.allowed_ips)?)
            .bind(json(&key.metadata)?)
            .bind(rate_limit)
            .bind(rate_window_seconds)
            .bind(id.0);
        execute_in(&mut tx, query).await?;
        commit(tx).await?;
        Ok(key)
    }

    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new(
            "UPDATE {api_keys} SET revoked_at = ?, revoked_reason = ? \
             WHERE id = ? AND revoked_at IS NULL",
        );
        let query = || self.query(&SQL).bind(conv::ts(now)).bind(reason).bind(id.0);
        if self.execute(query).await? > 0 {
            return Ok(true);
        }
        if self.key_exists(id).await? {
            Ok(false)
        } else {
            Err(NO_KEY)
        }
    }

    async fn replace_api_key(
        &self,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        static CAP_EXPIRY: Stmt = Stmt::new(
            "UPDATE {api_keys} SET expires_at = CASE \
             WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END \
             WHERE id = ? AND revoked_at IS NULL",
        );
        let mut tx = self.begin_write().await?;
        let query = self
            .query(&CAP_EXPIRY)
            .bind(conv::ts(old_expires_at))
            .bind(conv::ts(old_expires_at))
            .bind(old.0);
        if execute_in(&mut tx, query).await? == 0 {
            rollback(tx).await?;
            return Err(NO_KEY);
        }
        let query = bind_key(self.query(&INSERT), new)?;
        insert_in(&mut tx, query, Entity::ApiKey, Entity::User).await?;
        commit(tx).await
    }

    /// One statement per batch on PostgreSQL, one per `USAGE_CHUNK` (64) keys (in one
    /// transaction) elsewhere: see `usage_statements` in each database's module. Uses of
    /// one key are merged first ([`KeyUsage::merge`]), since such a statement updates a
    /// row once. Each row's change is atomic: the count is added in the database
    /// (`usage_count = usage_count + n`) and `last_used_at` moves only forward, with its
    /// IP and user agent. Keys that no longer exist match no row.
    ///
    /// The whole write is retried after a deadlock (`error::retrying!`): it is one
    /// statement or one transaction, and each run builds its statements afresh.
    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        let merged = KeyUsage::merge(usage);
        retrying!(
            async {
                let mut statements = super::usage_statements(self, &merged);
                if statements.len() <= 1 {
                    if let Some(only) = statements.pop() {
                        only.execute(&self.pool).await?;
                    }
                    return Ok(());
                }
                let mut tx = self.begin_raw().await?;
                for query in statements {
                    query.execute(&mut *tx).await?;
                }
                tx.commit().await
            }
            .await
        )
        .map_err(backend)
    }

    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new("DELETE FROM {api_keys} WHERE id = ?");
        Ok(self.execute(|| self.query(&SQL).bind(id.0)).await? > 0)
    }

    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        static SQL: Stmt = Stmt::new(match DIALECT {
            Dialect::MySql => "DELETE FROM {api_keys} WHERE expires_at <= ? LIMIT ?",
            Dialect::Postgres | Dialect::Sqlite => {
                "DELETE FROM {api_keys} WHERE id IN (SELECT id FROM {api_keys} \
                 WHERE expires_at <= ? LIMIT ?{skip_locked})"
            }
        });
        let query = || self.query(&SQL).bind(conv::ts(now)).bind(i64::from(limit));
        self.execute(query).await
    }
}

/// Usage statements for MySQL and SQLite: one
/// [`usage_chunk`](statements::usage_chunk) per
/// [`USAGE_CHUNK`](statements::USAGE_CHUNK) keys, each padded to a power of two with
/// entries for the nil id.
#[allow(
    dead_code,
    reason = "PostgreSQL writes a batch in one UNNEST statement"
)]
pub(super) fn usage_chunks(store: &Store, merged: &[KeyUsage]) -> Vec<Query> {
    merged
        .chunks(statements::USAGE_CHUNK)
        .map(|chunk| usage_chunk(store, chunk))
        .collect()
}

#[allow(
    dead_code,
    reason = "PostgreSQL writes a batch in one UNNEST statement"
)]
fn usage_chunk(store: &Store, chunk: &[KeyUsage]) -> Query {
    let padding = KeyUsage {
        key_id: ApiKeyId(uuid::Uuid::nil()),
        uses: 0,
        last_used_at: time::OffsetDateTime::UNIX_EPOCH,
        last_used_ip: None,
        last_used_user_agent: None,
    };
    let size = chunk.len().next_power_of_two();
    let entries: Vec<&KeyUsage> = chunk
        .iter()
        .chain(std::iter::repeat_n(&padding, size - chunk.len()))
        .collect();
    let sql = statements::usage_chunk(size);
    let mut query = sqlx::query::<super::Db>(store.sql.sql(&sql));
    for e in &entries {
        let ip = e.last_used_ip.map(|ip| ip.to_string());
        query = query
            .bind(e.key_id.0)
            .bind(conv::ts(e.last_used_at))
            .bind(ip);
    }
    for e in &entries {
        let ua = e.last_used_user_agent.clone();
        query = query
            .bind(e.key_id.0)
            .bind(conv::ts(e.last_used_at))
            .bind(ua);
    }
    for e in &entries {
        let at = conv::ts(e.last_used_at);
        query = query.bind(e.key_id.0).bind(at).bind(at);
    }
    for e in &entries {
        query = query.bind(e.key_id.0).bind(count(e.uses));
    }
    for e in &entries {
        query = query.bind(e.key_id.0);
    }
    query
}
