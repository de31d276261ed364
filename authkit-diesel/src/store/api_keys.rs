//! [`ApiKeyStore`]: API and service keys, looked up by the hash of the presented key.
//!
//! Scopes, IP allow-lists and metadata are JSON text. A rate limit is two columns,
//! `rate_limit` (0: none) and `rate_window_seconds`; the current window is two more,
//! `rate_count` and `rate_window_started_at`, which only
//! [`count_api_key_request`](ApiKeyStore::count_api_key_request) reads and writes.

use std::collections::BTreeMap;
use std::net::IpAddr;

use async_trait::async_trait;
use authkit::{
    ApiKey, ApiKeyId, ApiKeyStore, ApiKeyUpdate, Entity, Environment, KeyType, KeyUsage, RateLimit,
    RateWindow, StoreError, Timestamp, TokenHash, UserId,
};
use authkit_schema::statements;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel_async::RunQueryDsl;

use super::Store;
use super::shared::{Db, NO_KEY, count, hash_from, render};
use crate::error::{corrupt, retrying};
use crate::schema::authkit_api_keys as keys;
use crate::sql_types::{DbId, DbTs};

/// The columns of `authkit_api_keys` that make an [`ApiKey`] (not the rate window).
///
/// `None` inserts `NULL` (the column's default), not `DEFAULT`: only then does Diesel
/// cache the prepared `INSERT`.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = keys, treat_none_as_default_value = false)]
struct KeyRow {
    id: DbId,
    prefix: String,
    key_hash: Vec<u8>,
    key_type: String,
    environment: String,
    owner_id: Option<DbId>,
    organization_id: Option<String>,
    name: String,
    description: Option<String>,
    scopes: String,
    allowed_ips: String,
    metadata: String,
    created_at: DbTs,
    expires_at: Option<DbTs>,
    revoked_at: Option<DbTs>,
    revoked_reason: Option<String>,
    usage_count: i64,
    last_used_at: Option<DbTs>,
    last_used_ip: Option<String>,
    last_used_user_agent: Option<String>,
    rate_limit: i64,
    rate_window_seconds: i64,
    acts_for_user_id: Option<DbId>,
}

/// A value as JSON text.
fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::backend)
}

/// A JSON text column.
fn from_json<T: serde::de::DeserializeOwned>(
    col: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| corrupt(col, e.to_string()))
}

/// A rate limit as its two columns: `(0, 0)` for none.
fn limit_cols(limit: Option<RateLimit>) -> (i64, i64) {
    limit.map_or((0, 0), |l| (i64::from(l.requests), l.window_seconds()))
}

impl KeyRow {
    fn new(key: &ApiKey) -> Result<Self, StoreError> {
        let (rate_limit, rate_window_seconds) = limit_cols(key.rate_limit);
        Ok(KeyRow {
            id: DbId(key.id.0),
            prefix: key.prefix.clone(),
            key_hash: key.key_hash.0.to_vec(),
            key_type: key.key_type.as_str().to_owned(),
            environment: key.environment.as_str().to_owned(),
            owner_id: key.owner.map(|o| DbId(o.0)),
            organization_id: key.organization_id.clone(),
            name: key.name.clone(),
            description: key.description.clone(),
            scopes: json(&key.scopes)?,
            allowed_ips: json(&key.allowed_ips)?,
            metadata: json(&key.metadata)?,
            created_at: DbTs(key.created_at),
            expires_at: key.expires_at.map(DbTs),
            revoked_at: key.revoked_at.map(DbTs),
            revoked_reason: key.revoked_reason.clone(),
            usage_count: count(key.usage_count),
            last_used_at: key.last_used_at.map(DbTs),
            last_used_ip: key.last_used_ip.map(|ip| ip.to_string()),
            last_used_user_agent: key.last_used_user_agent.clone(),
            rate_limit,
            rate_window_seconds,
            acts_for_user_id: key.acts_for.map(|u| DbId(u.0)),
        })
    }

    fn into_key(self) -> Result<ApiKey, StoreError> {
        let key_type = KeyType::parse(&self.key_type)
            .ok_or_else(|| corrupt("key_type", format!("unknown type {:?}", self.key_type)))?;
        let environment = Environment::parse(&self.environment).ok_or_else(|| {
            corrupt(
                "environment",
                format!("unknown environment {:?}", self.environment),
            )
        })?;
        let last_used_ip = self
            .last_used_ip
            .map(|ip| {
                ip.parse::<IpAddr>()
                    .map_err(|_| corrupt("last_used_ip", format!("{ip:?}")))
            })
            .transpose()?;
        Ok(ApiKey {
            id: ApiKeyId(self.id.0),
            prefix: self.prefix,
            key_hash: hash_from("key_hash", &self.key_hash)?,
            key_type,
            environment,
            owner: self.owner_id.map(|o| UserId(o.0)),
            organization_id: self.organization_id,
            name: self.name,
            description: self.description,
            scopes: from_json("scopes", &self.scopes)?,
            allowed_ips: from_json("allowed_ips", &self.allowed_ips)?,
            metadata: from_json::<BTreeMap<String, String>>("metadata", &self.metadata)?,
            created_at: self.created_at.0,
            expires_at: self.expires_at.map(|t| t.0),
            revoked_at: self.revoked_at.map(|t| t.0),
            revoked_reason: self.revoked_reason,
            usage_count: u64::try_from(self.usage_count)
                .map_err(|_| corrupt("usage_count", format!("{}", self.usage_count)))?,
            last_used_at: self.last_used_at.map(|t| t.0),
            last_used_ip,
            last_used_user_agent: self.last_used_user_agent,
            rate_limit: RateLimit::from_stored(self.rate_limit, self.rate_window_seconds),
            acts_for: self.acts_for_user_id.map(|u| UserId(u.0)),
        })
    }
}

impl Store {
    /// Whether the key exists (for the error of a write that matched no row).
    async fn key_exists(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        self.read(async |conn| {
            let query = keys::table.find(DbId(id.0)).select(keys::id);
            Ok(query.first::<DbId>(conn).await.optional()?.is_some())
        })
        .await
    }

    /// One key by a filter on its unique hash or id.
    async fn key_where(
        &self,
        hash: Option<&[u8]>,
        id: Option<ApiKeyId>,
    ) -> Result<Option<ApiKey>, StoreError> {
        let row = self
            .read(async |conn| {
                let mut query = keys::table.select(KeyRow::as_select()).into_boxed();
                if let Some(hash) = hash {
                    query = query.filter(keys::key_hash.eq(hash));
                }
                if let Some(id) = id {
                    query = query.filter(keys::id.eq(DbId(id.0)));
                }
                Ok(query.first(conn).await.optional()?)
            })
            .await?;
        row.map(KeyRow::into_key).transpose()
    }
}

#[async_trait]
impl ApiKeyStore for Store {
    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let row = KeyRow::new(key)?;
        self.step(Entity::ApiKey, Entity::User, async |conn| {
            diesel::insert_into(keys::table)
                .values(&row)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn api_key_by_hash(&self, hash: &TokenHash) -> Result<Option<ApiKey>, StoreError> {
        self.key_where(Some(&hash.0[..]), None).await
    }

    /// See `count_window`: one conditional `UPDATE … RETURNING` on PostgreSQL and
    /// SQLite, a short locking transaction on MySQL/MariaDB.
    async fn count_api_key_request(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        self.count_window(id, now).await
    }

    async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.key_where(None, Some(id)).await
    }

    async fn list_api_keys(&self, owner: Option<UserId>) -> Result<Vec<ApiKey>, StoreError> {
        let rows = self
            .read(async |conn| {
                let query = keys::table
                    .select(KeyRow::as_select())
                    .order((keys::created_at, keys::id))
                    .into_boxed();
                let query = match owner {
                    Some(owner) => query.filter(keys::owner_id.eq(DbId(owner.0))),
                    None => query.filter(keys::owner_id.is_null()),
                };
                Ok(query.load(conn).await?)
            })
            .await?;
        rows.into_iter().map(KeyRow::into_key).collect()
    }

    /// A transaction: the row is read under lock, the update applied to it, and every
    /// descriptive field written back. The window stays: a new limit applies to the
    /// window under way.
    async fn update_api_key(
        &self,
        id: ApiKeyId,
        update: &ApiKeyUpdate,
    ) -> Result<ApiKey, StoreError> {
        self.transaction(Entity::ApiKey, Entity::User, async |conn| {
            let this = keys::table.find(DbId(id.0));
            let query = this.select(KeyRow::as_select());
            let row = lock!(query).first(conn).await.optional()?.ok_or(NO_KEY)?;
            let mut key = row.into_key()?;
            update.apply_to(&mut key);
            let (rate_limit, rate_window_seconds) = limit_cols(key.rate_limit);
            diesel::update(this)
                .set((
                    keys::name.eq(&key.name),
                    keys::description.eq(&key.description),
                    keys::scopes.eq(json(&key.scopes)?),
                    keys::expires_at.eq(key.expires_at.map(DbTs)),
                    keys::allowed_ips.eq(json(&key.allowed_ips)?),
                    keys::metadata.eq(json(&key.metadata)?),
                    keys::rate_limit.eq(rate_limit),
                    keys::rate_window_seconds.eq(rate_window_seconds),
                ))
                .execute(conn)
                .await?;
            Ok(key)
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        reason: &str,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let changed = self
            .read(async |conn| {
                let live = keys::table
                    .find(DbId(id.0))
                    .filter(keys::revoked_at.is_null());
                let query = diesel::update(live).set((
                    keys::revoked_at.eq(DbTs(now)),
                    keys::revoked_reason.eq(reason),
                ));
                Ok(retrying!(query.clone().execute(conn).await)?)
            })
            .await?;
        if changed > 0 {
            return Ok(true);
        }
        if self.key_exists(id).await? {
            Ok(false)
        } else {
            Err(NO_KEY)
        }
    }

    /// A transaction: the old key's expiry capped by a conditional `UPDATE` (only while
    /// unrevoked, so the check and the change are one step), then the insert.
    async fn replace_api_key(
        &self,
        old: ApiKeyId,
        new: &ApiKey,
        old_expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let row = KeyRow::new(new)?;
        let row = &row;
        self.transaction(Entity::ApiKey, Entity::User, async |conn| {
            let live = keys::table
                .find(DbId(old.0))
                .filter(keys::revoked_at.is_null());
            let later = live.filter(
                keys::expires_at
                    .is_null()
                    .or(keys::expires_at.gt(DbTs(old_expires_at))),
            );
            diesel::update(later)
                .set(keys::expires_at.eq(DbTs(old_expires_at)))
                .execute(conn)
                .await?;
            let still_live = live.select(keys::id).first::<DbId>(conn).await.optional()?;
            if still_live.is_none() {
                return Err(NO_KEY.into());
            }
            diesel::insert_into(keys::table)
                .values(row)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// Uses of one key are merged first ([`KeyUsage::merge`], which also sorts them by
    /// id), since a statement below updates a row once. On PostgreSQL one statement for
    /// the whole batch, alone (`write_usage!`, in `pg.rs`); elsewhere one transaction
    /// for the whole batch (all or nothing), one statement per 64 keys in id order
    /// (`usage_chunks`), so concurrent batches lock shared keys in one order. Each row's
    /// change is atomic: the count is added in the database (`usage_count = usage_count
    /// + n`), and `last_used_at` with its IP and user agent moves only forward. Keys that
    /// no longer exist match no row. As authkit-sqlx.
    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        let merged = KeyUsage::merge(usage);
        if merged.is_empty() {
            return Ok(());
        }
        let merged = &merged;
        write_usage!(self, merged)
    }

    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        let deleted = self
            .read(async |conn| {
                let query = diesel::delete(keys::table.find(DbId(id.0)));
                Ok(retrying!(query.clone().execute(conn).await)?)
            })
            .await?;
        Ok(deleted > 0)
    }

    /// The ids of at most `limit` expired keys, then a delete of those still expired.
    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        let deleted = self
            .read(async |conn| {
                let ids: Vec<DbId> = keys::table
                    .filter(keys::expires_at.le(DbTs(now)))
                    .select(keys::id)
                    .limit(i64::from(limit))
                    .load(conn)
                    .await?;
                if ids.is_empty() {
                    return Ok(0);
                }
                let doomed = keys::table
                    .filter(keys::id.eq_any(ids))
                    .filter(keys::expires_at.le(DbTs(now)));
                Ok(retrying!(diesel::delete(doomed.clone()).execute(conn).await)?)
            })
            .await?;
        Ok(deleted as u64)
    }
}

/// A usage batch in the order given, one statement per
/// [`USAGE_CHUNK`](statements::USAGE_CHUNK) keys ([`statements::usage_chunk`], the text
/// authkit-sqlx sends too), inside the caller's transaction.
#[cfg_attr(
    feature = "postgres",
    allow(dead_code, reason = "PostgreSQL writes a batch in one UNNEST statement")
)]
pub(super) async fn usage_chunks(
    conn: &mut super::Conn,
    merged: &[KeyUsage],
) -> Result<(), crate::error::TxError> {
    for chunk in merged.chunks(statements::USAGE_CHUNK) {
        usage_chunk(chunk).execute(conn).await?;
    }
    Ok(())
}

/// What pads a chunk of a usage batch: the nil id, which no key has (ids are UUIDv7).
#[cfg_attr(
    feature = "postgres",
    allow(dead_code, reason = "PostgreSQL writes a batch in one UNNEST statement")
)]
static PADDING: KeyUsage = KeyUsage {
    key_id: ApiKeyId(uuid::Uuid::nil()),
    uses: 0,
    last_used_at: time::OffsetDateTime::UNIX_EPOCH,
    last_used_ip: None,
    last_used_user_agent: None,
};

/// The statement of one chunk, padded to a power of two with [`PADDING`], so that a few
/// texts serve every batch size and the connection keeps their prepared forms.
#[cfg_attr(
    feature = "postgres",
    allow(dead_code, reason = "PostgreSQL writes a batch in one UNNEST statement")
)]
fn usage_chunk(chunk: &[KeyUsage]) -> crate::conn::Cached<BoxedSqlQuery<'static, Db, SqlQuery>> {
    use crate::sql_types::{Id, Ts};
    use diesel::sql_types::{BigInt, Nullable, Text};

    let size = chunk.len().next_power_of_two();
    let entries: Vec<&KeyUsage> = chunk
        .iter()
        .chain(std::iter::repeat_n(&PADDING, size - chunk.len()))
        .collect();
    let mut query = diesel::sql_query(render(&statements::usage_chunk(size))).into_boxed();
    for e in &entries {
        let ip = e.last_used_ip.map(|ip| ip.to_string());
        query = query
            .bind::<Id, _>(DbId(e.key_id.0))
            .bind::<Ts, _>(DbTs(e.last_used_at))
            .bind::<Nullable<Text>, _>(ip);
    }
    for e in &entries {
        query = query
            .bind::<Id, _>(DbId(e.key_id.0))
            .bind::<Ts, _>(DbTs(e.last_used_at))
            .bind::<Nullable<Text>, _>(e.last_used_user_agent.clone());
    }
    for e in &entries {
        let at = DbTs(e.last_used_at);
        query = query
            .bind::<Id, _>(DbId(e.key_id.0))
            .bind::<Ts, _>(at)
            .bind::<Ts, _>(at);
    }
    for e in &entries {
        query = query
            .bind::<Id, _>(DbId(e.key_id.0))
            .bind::<BigInt, _>(count(e.uses));
    }
    for e in &entries {
        query = query.bind::<Id, _>(DbId(e.key_id.0));
    }
    crate::conn::Cached(query)
}
