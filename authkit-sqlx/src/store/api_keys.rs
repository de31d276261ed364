//! [`ApiKeyStore`]: API and service keys, looked up by the hash of the presented key.
//!
//! Scopes, IP allow-lists and metadata are JSON text: read together with the key on
//! every verification, never queried by element.

use std::collections::BTreeMap;
use std::net::IpAddr;

use async_trait::async_trait;
use authkit::{
    ApiKey, ApiKeyId, ApiKeyStore, ApiKeyUpdate, Entity, Environment, KeyType, KeyUsage,
    StoreError, Timestamp, TokenHash, UserId,
};
use authkit_schema::Dialect;

use super::shared::{
    NO_KEY, Query, commit, count, execute_in, get, get_hash, get_json, insert_in, json, rollback,
};
use super::{DIALECT, DbRow, Store, conv};
use crate::error::corrupt;
use crate::sql::Stmt;

/// The columns [`key_from`] reads and [`bind_key`] binds, in table order.
macro_rules! key_cols {
    () => {
        "id, prefix, key_hash, key_type, environment, owner_id, organization_id, name, \
         description, scopes, allowed_ips, metadata, created_at, expires_at, revoked_at, \
         revoked_reason, usage_count, last_used_at, last_used_ip"
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
    })
}

static INSERT: Stmt = Stmt::new(concat!(
    "INSERT INTO {api_keys} (",
    key_cols!(),
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
));

/// [`INSERT`] with every column of `key` bound, in `key_cols!` order.
fn bind_key(query: Query, key: &ApiKey) -> Result<Query, StoreError> {
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
        .bind(key.last_used_ip.map(|ip| ip.to_string())))
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
        static UPDATE: Stmt = Stmt::new(
            "UPDATE {api_keys} SET name = ?, description = ?, scopes = ?, \
             expires_at = ?, allowed_ips = ?, metadata = ? WHERE id = ?",
        );
        let query = self
            .query(&UPDATE)
            .bind(key.name.clone())
            .bind(key.description.clone())
            .bind(json(&key.scopes)?)
            .bind(key.expires_at.map(conv::ts))
            .bind(json(&key.allowed_ips)?)
            .bind(json(&key.metadata)?)
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
        let query = self.query(&SQL).bind(conv::ts(now)).bind(reason).bind(id.0);
        if self.execute(query).await? > 0 {
            return Ok(true);
        }
        static EXISTS: Stmt = Stmt::new("SELECT 1 FROM {api_keys} WHERE id = ?");
        if self.exists(self.query(&EXISTS).bind(id.0)).await? {
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

    /// One statement per key, each atomic on its own row: the count is added in the
    /// database (`usage_count = usage_count + n`) and `last_used_at` moves only
    /// forward. Keys that no longer exist match no row.
    async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
        // MySQL applies SET assignments left to right, reading values already assigned:
        // the IP goes first, while `last_used_at` still holds the old value.
        static SQL: Stmt = Stmt::new(
            "UPDATE {api_keys} SET usage_count = usage_count + ?, \
             last_used_ip = CASE WHEN last_used_at IS NULL OR last_used_at < ? \
             THEN ? ELSE last_used_ip END, \
             last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? \
             THEN ? ELSE last_used_at END \
             WHERE id = ?",
        );
        for entry in usage {
            let query = self
                .query(&SQL)
                .bind(count(entry.uses))
                .bind(conv::ts(entry.last_used_at))
                .bind(entry.last_used_ip.map(|ip| ip.to_string()))
                .bind(conv::ts(entry.last_used_at))
                .bind(conv::ts(entry.last_used_at))
                .bind(entry.key_id.0);
            self.execute(query).await?;
        }
        Ok(())
    }

    async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new("DELETE FROM {api_keys} WHERE id = ?");
        Ok(self.execute(self.query(&SQL).bind(id.0)).await? > 0)
    }

    async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        static SQL: Stmt = Stmt::new(match DIALECT {
            Dialect::MySql => "DELETE FROM {api_keys} WHERE expires_at <= ? LIMIT ?",
            Dialect::Postgres | Dialect::Sqlite => {
                "DELETE FROM {api_keys} WHERE id IN (SELECT id FROM {api_keys} \
                 WHERE expires_at <= ? LIMIT ?{skip_locked})"
            }
        });
        let query = self.query(&SQL).bind(conv::ts(now)).bind(i64::from(limit));
        self.execute(query).await
    }
}
