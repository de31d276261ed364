//! [`RbacStore`]: roles, permissions and abilities, and the grants between them, users
//! and API keys.

use std::collections::HashSet;

use async_trait::async_trait;
use authkit::{
    ApiKeyId, Entity, GrantKind, RbacItem, RbacItemId, RbacStore, SlugKind, StoreError, UserGrants,
    UserId,
};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::shared::{NO_KEY, NO_ROLE, NO_USER};
use super::{Conn, Store};
use crate::error::{TxError, corrupt, retrying};
use crate::schema::authkit_api_key_roles as key_roles;
use crate::schema::authkit_api_keys as api_keys;
use crate::schema::authkit_rbac_items as items;
use crate::schema::authkit_role_grants as role_grants;
use crate::schema::authkit_user_grants as user_grants;
use crate::schema::authkit_user_roles as user_roles;
use crate::schema::authkit_users as users;
use crate::sql_types::DbId;

/// A row of `authkit_rbac_items`.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = items)]
struct ItemRow {
    id: DbId,
    kind: String,
    slug: String,
    label: String,
}

fn kind_from(kind: &str) -> Result<SlugKind, StoreError> {
    [SlugKind::Role, SlugKind::Permission, SlugKind::Ability]
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| corrupt("kind", format!("unknown kind {kind:?}")))
}

impl ItemRow {
    fn into_item(self) -> Result<RbacItem, StoreError> {
        Ok(RbacItem {
            id: RbacItemId(self.id.0),
            kind: kind_from(&self.kind)?,
            slug: self.slug,
            label: self.label,
        })
    }
}

/// The id of the item of `kind` with `slug`, if registered.
async fn item_id(conn: &mut Conn, kind: SlugKind, slug: &str) -> Result<Option<DbId>, TxError> {
    let query = items::table
        .filter(items::kind.eq(kind.as_str()))
        .filter(items::slug.eq(slug))
        .select(items::id);
    Ok(query.first(conn).await.optional()?)
}

/// Whether a row with this id exists in `users` (`true`) or `api_keys` (`false`).
async fn owner_exists(conn: &mut Conn, id: DbId, user: bool) -> Result<bool, TxError> {
    let found = if user {
        let query = users::table.find(id).select(users::id);
        query.first::<DbId>(conn).await.optional()?
    } else {
        let query = api_keys::table.find(id).select(api_keys::id);
        query.first::<DbId>(conn).await.optional()?
    };
    Ok(found.is_some())
}

/// An insert that collided with an existing grant is "already granted".
fn new_or_held(inserted: Result<usize, diesel::result::Error>) -> Result<bool, TxError> {
    use diesel::result::{DatabaseErrorKind, Error};
    match inserted {
        Ok(n) => Ok(n > 0),
        Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _)) => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// Sorts (kind, slug) rows into grants, each once (a union, like SQL's `UNION`).
fn grants_from(rows: Vec<(String, String)>) -> Result<UserGrants, StoreError> {
    let rows: std::collections::BTreeSet<(String, String)> = rows.into_iter().collect();
    let mut grants = UserGrants::default();
    for (kind, slug) in rows {
        match kind_from(&kind)? {
            SlugKind::Role => grants.roles.push(slug),
            SlugKind::Permission => grants.permissions.push(slug),
            SlugKind::Ability => grants.abilities.push(slug),
        }
    }
    Ok(grants)
}

/// The permissions and abilities the roles grant, and the roles themselves.
async fn role_union(conn: &mut Conn, roles: Vec<DbId>) -> Result<Vec<(String, String)>, TxError> {
    let mut rows: Vec<(String, String)> = items::table
        .filter(items::id.eq_any(roles.clone()))
        .select((items::kind, items::slug))
        .load(conn)
        .await?;
    let granted: Vec<(String, String)> = role_grants::table
        .inner_join(items::table)
        .filter(role_grants::role_id.eq_any(roles))
        .select((items::kind, items::slug))
        .load(conn)
        .await?;
    rows.extend(granted);
    Ok(rows)
}

#[async_trait]
impl RbacStore for Store {
    async fn define_item(&self, item: &RbacItem) -> Result<(), StoreError> {
        let row = ItemRow {
            id: DbId(item.id.0),
            kind: item.kind.as_str().to_owned(),
            slug: item.slug.clone(),
            label: item.label.clone(),
        };
        self.step(item.kind.into(), item.kind.into(), async |conn| {
            diesel::insert_into(items::table)
                .values(&row)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn remove_item(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError> {
        let deleted = self
            .read(async |conn| {
                let query = items::table
                    .filter(items::kind.eq(kind.as_str()))
                    .filter(items::slug.eq(slug));
                Ok(retrying!(diesel::delete(query).execute(conn).await)?)
            })
            .await?;
        Ok(deleted > 0)
    }

    async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>, StoreError> {
        let rows = self
            .read(async |conn| {
                let query = items::table
                    .filter(items::kind.eq(kind.as_str()))
                    .select(ItemRow::as_select());
                Ok(query.load(conn).await?)
            })
            .await?;
        rows.into_iter().map(ItemRow::into_item).collect()
    }

    async fn missing_items(
        &self,
        kind: SlugKind,
        slugs: &[String],
    ) -> Result<Vec<String>, StoreError> {
        if slugs.is_empty() {
            return Ok(Vec::new());
        }
        let found: Vec<String> = self
            .read(async |conn| {
                let query = items::table
                    .filter(items::kind.eq(kind.as_str()))
                    .filter(items::slug.eq_any(slugs))
                    .select(items::slug);
                Ok(query.load(conn).await?)
            })
            .await?;
        let found: HashSet<String> = found.into_iter().collect();
        Ok(slugs
            .iter()
            .filter(|slug| !found.contains(*slug))
            .cloned()
            .collect())
    }

    /// The two ids, then the insert; an existing grant is a unique violation, read as
    /// "already granted".
    async fn grant_to_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        self.step(Entity::Role, kind.into(), async |conn| {
            let role = item_id(conn, SlugKind::Role, role).await?.ok_or(NO_ROLE)?;
            let no_item = StoreError::NotFound { what: kind.into() };
            let item = item_id(conn, kind.slug_kind(), slug)
                .await?
                .ok_or(no_item)?;
            let inserted = diesel::insert_into(role_grants::table)
                .values((role_grants::role_id.eq(role), role_grants::item_id.eq(item)))
                .execute(conn)
                .await;
            new_or_held(inserted)
        })
        .await
    }

    async fn revoke_from_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        self.read(async |conn| {
            let Some(role) = item_id(conn, SlugKind::Role, role).await? else {
                return Ok(false);
            };
            let Some(item) = item_id(conn, kind.slug_kind(), slug).await? else {
                return Ok(false);
            };
            let grant = role_grants::table.find((role, item));
            Ok(retrying!(diesel::delete(grant).execute(conn).await)? > 0)
        })
        .await
    }

    async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError> {
        let rows = self
            .read(async |conn| {
                let role = item_id(conn, SlugKind::Role, role).await?.ok_or(NO_ROLE)?;
                let query = role_grants::table
                    .inner_join(items::table)
                    .filter(role_grants::role_id.eq(role))
                    .select(ItemRow::as_select());
                Ok(query.load(conn).await?)
            })
            .await?;
        rows.into_iter().map(ItemRow::into_item).collect()
    }

    async fn assign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        self.step(Entity::Role, Entity::User, async |conn| {
            let id = DbId(user.0);
            if !owner_exists(conn, id, true).await? {
                return Err(NO_USER.into());
            }
            let role = item_id(conn, SlugKind::Role, role).await?.ok_or(NO_ROLE)?;
            let inserted = diesel::insert_into(user_roles::table)
                .values((user_roles::user_id.eq(id), user_roles::role_id.eq(role)))
                .execute(conn)
                .await;
            new_or_held(inserted)
        })
        .await
    }

    async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        self.read(async |conn| {
            let Some(role) = item_id(conn, SlugKind::Role, role).await? else {
                return Ok(false);
            };
            let held = user_roles::table.find((DbId(user.0), role));
            Ok(retrying!(diesel::delete(held).execute(conn).await)? > 0)
        })
        .await
    }

    async fn grant_to_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        self.step(kind.into(), Entity::User, async |conn| {
            let id = DbId(user.0);
            if !owner_exists(conn, id, true).await? {
                return Err(NO_USER.into());
            }
            let no_item = StoreError::NotFound { what: kind.into() };
            let item = item_id(conn, kind.slug_kind(), slug)
                .await?
                .ok_or(no_item)?;
            let inserted = diesel::insert_into(user_grants::table)
                .values((user_grants::user_id.eq(id), user_grants::item_id.eq(item)))
                .execute(conn)
                .await;
            new_or_held(inserted)
        })
        .await
    }

    async fn revoke_from_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        self.read(async |conn| {
            let Some(item) = item_id(conn, kind.slug_kind(), slug).await? else {
                return Ok(false);
            };
            let held = user_grants::table.find((DbId(user.0), item));
            Ok(retrying!(diesel::delete(held).execute(conn).await)? > 0)
        })
        .await
    }

    /// Three reads on one connection: direct grants, the user's roles, and what those
    /// roles grant.
    async fn user_grants(&self, user: UserId) -> Result<UserGrants, StoreError> {
        let rows = self
            .read(async |conn| {
                let id = DbId(user.0);
                let mut rows: Vec<(String, String)> = user_grants::table
                    .inner_join(items::table)
                    .filter(user_grants::user_id.eq(id))
                    .select((items::kind, items::slug))
                    .load(conn)
                    .await?;
                let roles: Vec<DbId> = user_roles::table
                    .filter(user_roles::user_id.eq(id))
                    .select(user_roles::role_id)
                    .load(conn)
                    .await?;
                rows.extend(role_union(conn, roles).await?);
                Ok(rows)
            })
            .await?;
        grants_from(rows)
    }

    async fn assign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        self.step(Entity::Role, Entity::ApiKey, async |conn| {
            let id = DbId(key.0);
            if !owner_exists(conn, id, false).await? {
                return Err(NO_KEY.into());
            }
            let role = item_id(conn, SlugKind::Role, role).await?.ok_or(NO_ROLE)?;
            let inserted = diesel::insert_into(key_roles::table)
                .values((key_roles::key_id.eq(id), key_roles::role_id.eq(role)))
                .execute(conn)
                .await;
            new_or_held(inserted)
        })
        .await
    }

    async fn unassign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        self.read(async |conn| {
            let Some(role) = item_id(conn, SlugKind::Role, role).await? else {
                return Ok(false);
            };
            let held = key_roles::table.find((DbId(key.0), role));
            Ok(retrying!(diesel::delete(held).execute(conn).await)? > 0)
        })
        .await
    }

    async fn key_grants(&self, key: ApiKeyId) -> Result<UserGrants, StoreError> {
        let rows = self
            .read(async |conn| {
                let roles: Vec<DbId> = key_roles::table
                    .filter(key_roles::key_id.eq(DbId(key.0)))
                    .select(key_roles::role_id)
                    .load(conn)
                    .await?;
                role_union(conn, roles).await
            })
            .await?;
        grants_from(rows)
    }
}
