//! [`ApiKeyStore`]: API keys and service keys, found by the hash of the presented key.
//!
//! Scopes, IP allow-lists and metadata are JSON text. The rate limit is two columns
//! (`rate_limit`, `rate_window_seconds`, both 0 for none) and the current window two
//! more (`rate_count`, `rate_window_started_at`), which only
//! [`count_api_key_request`](ApiKeyStore::count_api_key_request) writes.

use std::sync::OnceLock;

use async_trait::async_trait;
use authkit::{
    ApiKey, ApiKeyId, ApiKeyStore, ApiKeyUpdate, Entity, Environment, KeyType, KeyUsage, RateLimit,
    RateWindow, StoreError, Timestamp, TokenHash, UserId,
};
use authkit_schema::TableNames;
use sea_orm::sea_query::{CaseStatement, Condition, Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, Statement, Value,
};

use super::shared::{NO_KEY, commit, count, from_json, hash, json, rollback, t, t_opt, ts, ts_opt};
use super::{Store, e};
use crate::error::{backend, corrupt, map, retrying};
use e::api_key::{ActiveModel, Column, Entity as ApiKeys, Model};

/// A key from its row.
fn key_from(row: Model) -> Result<ApiKey, StoreError> {
    Ok(ApiKey {
        id: ApiKeyId(row.id),
        prefix: row.prefix,
        key_hash: hash("key_hash", &row.key_hash)?,
        key_type: KeyType::parse(&row.key_type)
            .ok_or_else(|| corrupt("key_type", row.key_type.clone()))?,
        environment: Environment::parse(&row.environment)
            .ok_or_else(|| corrupt("environment", row.environment.clone()))?,
        owner: row.owner_id.map(UserId),
        organization_id: row.organization_id,
        name: row.name,
        description: row.description,
        scopes: from_json("scopes", &row.scopes)?,
        allowed_ips: from_json("allowed_ips", &row.allowed_ips)?,
        metadata: from_json("metadata", &row.metadata)?,
        created_at: ts("created_at", row.created_at)?,
        expires_at: ts_opt("expires_at", row.expires_at)?,
        revoked_at: ts_opt("revoked_at", row.revoked_at)?,
        revoked_reason: row.revoked_reason,
        usage_count: u64::try_from(row.usage_count)
            .map_err(|_| corrupt("usage_count", row.usage_count.to_string()))?,
        last_used_at: ts_opt("last_used_at", row.last_used_at)?,
        last_used_ip: row
            .last_used_ip
            .map(|ip| ip.parse().map_err(|_| corrupt("last_used_ip", ip)))
            .transpose()?,
        last_used_user_agent: row.last_used_user_agent,
        rate_limit: RateLimit::from_stored(row.rate_limit, row.rate_window_seconds),
        acts_for: row.acts_for_user_id.map(UserId),
    })
}

/// The `rate_limit` and `rate_window_seconds` columns of a limit (0 and 0 for none).
fn limit_cols(limit: Option<RateLimit>) -> (i64, i64) {
    limit.map_or((0, 0), |l| (i64::from(l.requests), l.window_seconds()))
}

/// A key as a row to insert.
fn key_row(key: &ApiKey) -> Result<ActiveModel, StoreError> {
    let (rate_limit, rate_window_seconds) = limit_cols(key.rate_limit);
    Ok(ActiveModel {
        id: Set(key.id.0),
        prefix: Set(key.prefix.clone()),
        key_hash: Set(key.key_hash.0.to_vec()),
        key_type: Set(key.key_type.as_str().to_owned()),
        environment: Set(key.environment.as_str().to_owned()),
        owner_id: Set(key.owner.map(|u| u.0)),
        organization_id: Set(key.organization_id.clone()),
        name: Set(key.name.clone()),
        description: Set(key.description.clone()),
        scopes: Set(json(&key.scopes)?),
        allowed_ips: Set(json(&key.allowed_ips)?),
        metadata: Set(json(&key.metadata)?),
        created_at: Set(t(key.created_at)),
        expires_at: Set(t_opt(key.expires_at)),
        revoked_at: Set(t_opt(key.revoked_at)),
        revoked_reason: Set(key.revoked_reason.clone()),
        usage_count: Set(count(key.usage_count)),
        last_used_at: Set(t_opt(key.last_used_at)),
        last_used_ip: Set(key.last_used_ip.map(|ip| ip.to_string())),
        rate_limit: Set(rate_limit),
        rate_window_seconds: Set(rate_window_seconds),
        rate_window_started_at: Set(None),
        rate_count: Set(0),
        acts_for_user_id: Set(key.acts_for.map(|u| u.0)),
        last_used_user_agent: Set(key.last_used_user_agent.clone()),
    })
}

/// The window count of `count_api_key_request`, as one `UPDATE`: the query builder
/// cannot say "the key's own window before `now`" (a column-sized interval), so this is
/// raw SQL, per database. Binds `now` three times, then the key's id. `rate_count` is
/// assigned first: MySQL assigns left to right and its second `CASE` must still see the
/// old `rate_window_started_at`. MariaDB has no `UPDATE … RETURNING`: there the count
/// is also handed to `LAST_INSERT_ID(…)`, which the statement's result carries back.
fn count_sql(backend: DbBackend) -> String {
    let window_start = match backend {
        DbBackend::Postgres => "? - make_interval(secs => rate_window_seconds)",
        DbBackend::MySql => "? - INTERVAL rate_window_seconds SECOND",
        _ => "? - rate_window_seconds * 1000000",
    };
    let (count_open, count_close) = match backend {
        DbBackend::MySql => ("LAST_INSERT_ID(", ")"),
        _ => ("", ""),
    };
    let returning = match backend {
        DbBackend::MySql => "",
        // The statement's own transaction commits asynchronously (`set_config(…, true)`
        // is `SET LOCAL`), as in authkit-sqlx: a database crash can lose the counts of
        // its last few hundred milliseconds, never corrupt them. Waiting for the WAL
        // flush made a limited key's verification four times slower here.
        DbBackend::Postgres => {
            " AND set_config('synchronous_commit', 'off', true) IS NOT NULL \
             RETURNING rate_count, rate_window_started_at"
        }
        _ => " RETURNING rate_count, rate_window_started_at",
    };
    let template = format!(
        "UPDATE {{api_keys}} SET \
         rate_count = {count_open}CASE WHEN rate_window_started_at IS NULL \
         OR rate_window_started_at <= {window_start} THEN 1 ELSE rate_count + 1 END{count_close}, \
         rate_window_started_at = CASE WHEN rate_window_started_at IS NULL \
         OR rate_window_started_at <= {window_start} THEN ? ELSE rate_window_started_at END \
         WHERE id = ? AND rate_limit > 0{returning}"
    );
    crate::sql::render(&template, backend, &TableNames::default())
}

/// The window from a row with `rate_count` and `rate_window_started_at`.
fn window_from(row: &QueryResult) -> Result<RateWindow, StoreError> {
    let count: i64 = row.try_get("", "rate_count").map_err(backend)?;
    let started: e::Time = row.try_get("", "rate_window_started_at").map_err(backend)?;
    Ok(RateWindow {
        count: u64::try_from(count).map_err(|_| corrupt("rate_count", count.to_string()))?,
        started_at: ts("rate_window_started_at", started)?,
    })
}

/// Keys one usage statement updates at most.
const USAGE_CHUNK: usize = 200;

/// `CASE WHEN when(u) THEN then(u) … ELSE otherwise END` over the entries of a batch.
fn per_key(
    batch: &[KeyUsage],
    when: impl Fn(&KeyUsage) -> Condition,
    then: impl Fn(&KeyUsage) -> Expr,
    otherwise: Column,
) -> Expr {
    let case = batch
        .iter()
        .fold(CaseStatement::new(), |case, u| case.case(when(u), then(u)));
    case.finally(Expr::col(otherwise)).into()
}

/// Adds merged usage entries (one per key) to their keys, in one `UPDATE`: each count
/// adds up, and `last_used_at` (with its IP and user agent) moves only forward.
async fn add_usage<C: ConnectionTrait>(db: &C, batch: &[KeyUsage]) -> Result<(), StoreError> {
    let is_key = |u: &KeyUsage| Condition::all().add(Column::Id.eq(u.key_id.0));
    let later = |u: &KeyUsage| {
        is_key(u).add(
            Condition::any()
                .add(Column::LastUsedAt.is_null())
                .add(Column::LastUsedAt.lt(t(u.last_used_at))),
        )
    };
    let uses = |u: &KeyUsage| Expr::col(Column::UsageCount).add(count(u.uses));
    let ip = |u: &KeyUsage| Expr::val(u.last_used_ip.map(|ip| ip.to_string()));
    let agent = |u: &KeyUsage| Expr::val(u.last_used_user_agent.clone());
    let at = |u: &KeyUsage| Expr::val(Some(t(u.last_used_at)));
    let ids = || Column::Id.is_in(batch.iter().map(|u| u.key_id.0));
    if db.get_database_backend() == DbBackend::MySql {
        // The rows are locked in id order first: an `UPDATE … WHERE id IN (…)` locks
        // them in scan order, and two batches sharing keys could deadlock. (SQLite's
        // `BEGIN IMMEDIATE` already holds the one write lock; PostgreSQL takes
        // `usage_in_one`.)
        ApiKeys::find()
            .select_only()
            .column(Column::Id)
            .filter(ids())
            .order_by_asc(Column::Id)
            .lock_exclusive()
            .into_tuple::<uuid::Uuid>()
            .all(db)
            .await
            .map_err(backend)?;
    }
    ApiKeys::update_many()
        .col_expr(
            Column::UsageCount,
            per_key(batch, is_key, uses, Column::UsageCount),
        )
        // The later-use columns first read the old `last_used_at` (MySQL assigns left
        // to right), and `last_used_at` itself goes last.
        .col_expr(
            Column::LastUsedIp,
            per_key(batch, later, ip, Column::LastUsedIp),
        )
        .col_expr(
            Column::LastUsedUserAgent,
            per_key(batch, later, agent, Column::LastUsedUserAgent),
        )
        .col_expr(
            Column::LastUsedAt,
            per_key(batch, later, at, Column::LastUsedAt),
        )
        .filter(ids())
        .exec(db)
        .await
        .map_err(backend)?;
    Ok(())
}

#[async_trait]
impl ApiKeyStore for Store {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        ApiKeys::insert(key_row(key)?)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| map(e, Entity::ApiKey, Entity::User))?;
        Ok(())
    }

    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, StoreError> {
        let select = || ApiKeys::find().filter(Column::KeyHash.eq(hash.0.to_vec()));
        let values = vec![hash.0.to_vec().into()];
        let row = self.hot_one(&self.hot.key_by_hash, select, values).await?;
        row.map(key_from).transpose()
    }

    /// One `UPDATE` of the key's row, which the database locks: concurrent calls queue
    /// on it, and each one's `SET` reads the row as the previous one left it, so N
    /// calls return N distinct counts. PostgreSQL and SQLite: one round trip,
    /// `UPDATE … RETURNING`. MariaDB: the `UPDATE` hands the count back through
    /// `LAST_INSERT_ID(…)`, then a `SELECT` reads the window's start (as authkit-sqlx:
    /// two round trips and no transaction, the count still from the one atomic step).
    async fn count_api_key_request(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        static SQL: OnceLock<String> = OnceLock::new();
        let backend_kind = self.backend();
        let sql = SQL.get_or_init(|| count_sql(backend_kind));
        let now_value: Value = t(now).into();
        let values = [now_value.clone(), now_value.clone(), now_value, id.0.into()];
        let update = Statement::from_sql_and_values(backend_kind, sql.as_str(), values);
        if backend_kind != DbBackend::MySql {
            let row = retrying!(self.db.query_one_raw(update.clone()).await).map_err(backend)?;
            return row.as_ref().map(window_from).transpose();
        }
        // The pool's connections set CLIENT_FOUND_ROWS (sqlx always does): rows_affected
        // counts the row matched, changed or not.
        let done = retrying!(self.db.execute_raw(update.clone()).await).map_err(backend)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        // A matched row counted at least 1: 0 means the server did not carry the value.
        let count = Some(done.last_insert_id())
            .filter(|n| *n > 0)
            .ok_or_else(|| corrupt("rate_count", "LAST_INSERT_ID(…) not returned"))?;
        // Read after the count, in a statement of its own (as authkit-sqlx): a
        // concurrent call may have started a later window in between, so the start read
        // can be a later window's than the one counted in. A retry hint made from it
        // errs late, never early. The key deleted in between: `now`, no earlier than the
        // counted window's start.
        let started = ApiKeys::find_by_id(id.0)
            .select_only()
            .column(Column::RateWindowStartedAt)
            .into_tuple::<Option<e::Time>>()
            .one(&self.db)
            .await
            .map_err(backend)?
            .flatten();
        let started_at = match started {
            Some(started) => ts("rate_window_started_at", started)?,
            None => now,
        };
        Ok(Some(RateWindow { count, started_at }))
    }

    async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        let row = ApiKeys::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(backend)?;
        row.map(key_from).transpose()
    }

    /// Oldest first (the owner index ends in `created_at`), as authkit-sqlx lists them.
    async fn list_api_keys(&self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        let owned = match owner {
            Some(owner) => Column::OwnerId.eq(owner.0),
            None => Column::OwnerId.is_null(),
        };
        let rows = ApiKeys::find()
            .filter(owned)
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(&self.db)
            .await
            .map_err(backend)?;
        rows.into_iter().map(key_from).collect()
    }

    /// The row is locked and read, core's [`ApiKeyUpdate::apply_to`] changes it, and the
    /// descriptive columns are written back, in one transaction. The window
    /// (`rate_count`, `rate_window_started_at`) stays: a new limit applies to the window
    /// under way.
    async fn update_api_key(
        &self,
        id: ApiKeyId,
        update: &ApiKeyUpdate,
    ) -> Result<ApiKey, StoreError> {
        let (tx, row) = self.begin_locked(|| ApiKeys::find_by_id(id.0)).await?;
        let Some(row) = row else {
            rollback(tx).await?;
            return Err(NO_KEY);
        };
        let mut key = key_from(row)?;
        update.apply_to(&mut key);
        let (rate_limit, rate_window_seconds) = limit_cols(key.rate_limit);
        ApiKeys::update_many()
            .col_expr(Column::Name, Expr::value(key.name.clone()))
            .col_expr(Column::Description, Expr::value(key.description.clone()))
            .col_expr(Column::Scopes, Expr::value(json(&key.scopes)?))
            .col_expr(Column::ExpiresAt, Expr::value(t_opt(key.expires_at)))
            .col_expr(Column::AllowedIps, Expr::value(json(&key.allowed_ips)?))
            .col_expr(Column::Metadata, Expr::value(json(&key.metadata)?))
            .col_expr(Column::RateLimit, Expr::value(rate_limit))
            .col_expr(Column::RateWindowSeconds, Expr::value(rate_window_seconds))
            .filter(Column::Id.eq(id.0))
            .exec(&tx)
            .await
            .map_err(backend)?;
        commit(tx).await?;
        Ok(key)
    }

    /// A conditional update; when it changes nothing, a read tells an already revoked
    /// key (`false`) from an unknown one.
    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = retrying!(
            ApiKeys::update_many()
                .col_expr(Column::RevokedAt, Expr::value(t(now)))
                .col_expr(Column::RevokedReason, Expr::value(reason.to_owned()))
                .filter(Column::Id.eq(id.0))
                .filter(Column::RevokedAt.is_null())
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        if done.rows_affected > 0 {
            return Ok(true);
        }
        match self.api_key_by_id(id).await? {
            Some(_) => Ok(false),
            None => Err(NO_KEY),
        }
    }

    /// One transaction: a conditional update of the old key (unrevoked only; it locks
    /// the row, so a revocation waits for the commit or came first), then the insert.
    async fn replace_api_key(
        &self,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let tx = self.begin_write().await?;
        let sooner = Condition::any()
            .add(Column::ExpiresAt.is_null())
            .add(Column::ExpiresAt.gt(t(old_expires_at)));
        let expires =
            Expr::case(sooner, Expr::val(t(old_expires_at))).finally(Expr::col(Column::ExpiresAt));
        let done = ApiKeys::update_many()
            .col_expr(Column::ExpiresAt, expires.into())
            .filter(Column::Id.eq(old.0))
            .filter(Column::RevokedAt.is_null())
            .exec(&tx)
            .await
            .map_err(backend)?;
        if done.rows_affected == 0 {
            rollback(tx).await?;
            return Err(NO_KEY);
        }
        let inserted = ApiKeys::insert(key_row(new)?)
            .exec_without_returning(&tx)
            .await
            .map_err(|e| map(e, Entity::ApiKey, Entity::User));
        if let Err(err) = inserted {
            rollback(tx).await?;
            return Err(err);
        }
        commit(tx).await
    }

    /// Uses of one key are merged first ([`KeyUsage::merge`] also sorts them by id).
    /// On PostgreSQL, one statement whatever the batch's size (see `usage_in_one` in
    /// `pg.rs`), retried after a deadlock. Elsewhere one transaction: the keys' rows
    /// locked in id order, then one `UPDATE` per 200 keys (`CASE id …` in the `SET`), so
    /// two batches lock shared keys in the same order; an error rolls the whole batch
    /// back.
    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        if usage.is_empty() {
            return Ok(());
        }
        let merged = KeyUsage::merge(usage);
        if let Some(statement) = super::usage_in_one(&merged) {
            retrying!(self.db.execute_raw(statement.clone()).await).map_err(backend)?;
            return Ok(());
        }
        let tx = self.begin_write().await?;
        for chunk in merged.chunks(USAGE_CHUNK) {
            if let Err(err) = add_usage(&tx, chunk).await {
                rollback(tx).await?;
                return Err(err);
            }
        }
        commit(tx).await
    }

    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        let done = retrying!(ApiKeys::delete_by_id(id.0).exec(&self.db).await).map_err(backend)?;
        Ok(done.rows_affected > 0)
    }

    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let expired = Condition::all().add(Column::ExpiresAt.lte(t(now)));
        self.purge::<ApiKeys>(Column::Id, expired, limit).await
    }
}
