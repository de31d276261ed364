//! [`RbacStore`]: roles, permissions and abilities, and the grants between them, users
//! and API keys. Every grant and assignment is one `INSERT` (a unique violation means it
//! was already there) or one `DELETE`; foreign keys refuse unknown users and keys.

use std::collections::BTreeSet;

use async_trait::async_trait;
use authkit::{
    ApiKeyId, Entity, GrantKind, RbacItem, RbacStore, SlugKind, StoreError, UserGrants, UserId,
};
use sea_orm::sea_query::{Condition, Query, SelectStatement};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, QueryTrait,
};
use uuid::Uuid;

use super::shared::{NO_KEY, item_from, kind_from};
use super::{Store, e};
use crate::error::{backend, is_unique_violation, map, retrying};
use e::rbac_item::{ActiveModel, Column as Item, Entity as Items};
use e::{api_key_role, role_grant, user_grant, user_role};

/// The error for an unknown item of `kind`.
fn missing(kind: SlugKind) -> StoreError {
    let what = match kind {
        SlugKind::Role => Entity::Role,
        SlugKind::Permission => Entity::Permission,
        SlugKind::Ability => Entity::Ability,
    };
    StoreError::NotFound { what }
}

/// `SELECT id FROM rbac_items WHERE kind = ? AND slug = ?`, for `IN (…)`.
fn id_of(kind: SlugKind, slug: &str) -> SelectStatement {
    Items::find()
        .select_only()
        .column(Item::Id)
        .filter(Item::Kind.eq(kind.as_str()))
        .filter(Item::Slug.eq(slug))
        .into_query()
}

/// An insert of a grant or assignment: `true` if new, `false` if it was there already,
/// [`StoreError::NotFound`] naming `missing` on a foreign-key violation.
fn inserted(result: Result<u64, DbErr>, missing: Entity) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(err) if is_unique_violation(&err) => Ok(false),
        Err(err) => Err(map(err, Entity::Role, missing)),
    }
}

/// The roles and granted items read for a user or key, as [`UserGrants`].
fn grants_from(
    roles: Vec<e::rbac_item::Model>,
    granted: Vec<e::rbac_item::Model>,
) -> Result<UserGrants, StoreError> {
    let mut grants = UserGrants {
        roles: roles.into_iter().map(|r| r.slug).collect(),
        ..UserGrants::default()
    };
    let mut permissions = BTreeSet::new();
    let mut abilities = BTreeSet::new();
    for item in granted {
        match kind_from(&item.kind)? {
            SlugKind::Permission => permissions.insert(item.slug),
            SlugKind::Ability => abilities.insert(item.slug),
            SlugKind::Role => false,
        };
    }
    grants.roles.sort();
    grants.permissions = permissions.into_iter().collect();
    grants.abilities = abilities.into_iter().collect();
    Ok(grants)
}

impl Store {
    /// The id of the item of `kind` with `slug`, or its [`missing`] error.
    async fn item_id(&self, kind: SlugKind, slug: &str) -> Result<Uuid, StoreError> {
        let row = Items::find()
            .filter(Item::Kind.eq(kind.as_str()))
            .filter(Item::Slug.eq(slug))
            .one(&self.db)
            .await
            .map_err(backend)?;
        row.map(|r| r.id).ok_or_else(|| missing(kind))
    }

    /// The items whose id `roles` selects, and the permissions and abilities the roles
    /// grant, plus any whose id `direct` selects.
    async fn grants_of(
        &self,
        roles: SelectStatement,
        direct: Option<SelectStatement>,
    ) -> Result<UserGrants, StoreError> {
        let role_rows = Items::find()
            .filter(Item::Id.in_subquery(roles.clone()))
            .all(&self.db)
            .await
            .map_err(backend)?;
        let through_roles = Query::select()
            .column(role_grant::Column::ItemId)
            .from(role_grant::Entity)
            .and_where(role_grant::Column::RoleId.in_subquery(roles))
            .to_owned();
        let mut granted = Condition::any().add(Item::Id.in_subquery(through_roles));
        if let Some(direct) = direct {
            granted = granted.add(Item::Id.in_subquery(direct));
        }
        let granted = Items::find()
            .filter(granted)
            .all(&self.db)
            .await
            .map_err(backend)?;
        grants_from(role_rows, granted)
    }
}

#[async_trait]
impl RbacStore for Store {
    async fn define_item(&self, item: &RbacItem) -> Result<(), StoreError> {
        let row = ActiveModel {
            id: Set(item.id.0),
            kind: Set(item.kind.as_str().to_owned()),
            slug: Set(item.slug.clone()),
            label: Set(item.label.clone()),
        };
        let conflict = match missing(item.kind) {
            StoreError::NotFound { what } => what,
            _ => Entity::Role,
        };
        Items::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| map(e, conflict, conflict))?;
        Ok(())
    }

    /// One `DELETE`: the foreign keys cascade to every grant and assignment naming it.
    async fn remove_item(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError> {
        let done = retrying!(
            Items::delete_many()
                .filter(Item::Kind.eq(kind.as_str()))
                .filter(Item::Slug.eq(slug))
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        Ok(done.rows_affected > 0)
    }

    async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>, StoreError> {
        let rows = Items::find()
            .filter(Item::Kind.eq(kind.as_str()))
            .all(&self.db)
            .await
            .map_err(backend)?;
        rows.into_iter().map(item_from).collect()
    }

    async fn missing_items(
        &self,
        kind: SlugKind,
        slugs: &[String],
    ) -> Result<Vec<String>, StoreError> {
        if slugs.is_empty() {
            return Ok(Vec::new());
        }
        let found: BTreeSet<String> = Items::find()
            .filter(Item::Kind.eq(kind.as_str()))
            .filter(Item::Slug.is_in(slugs.iter().cloned()))
            .all(&self.db)
            .await
            .map_err(backend)?
            .into_iter()
            .map(|r| r.slug)
            .collect();
        Ok(slugs
            .iter()
            .filter(|s| !found.contains(*s))
            .cloned()
            .collect())
    }

    async fn grant_to_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let role_id = self.item_id(SlugKind::Role, role).await?;
        let item_id = self.item_id(kind.slug_kind(), slug).await?;
        let row = role_grant::ActiveModel {
            role_id: Set(role_id),
            item_id: Set(item_id),
        };
        let result = role_grant::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await;
        inserted(result, Entity::Role)
    }

    async fn revoke_from_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let done = retrying!(
            role_grant::Entity::delete_many()
                .filter(role_grant::Column::RoleId.in_subquery(id_of(SlugKind::Role, role)))
                .filter(role_grant::Column::ItemId.in_subquery(id_of(kind.slug_kind(), slug)))
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        Ok(done.rows_affected > 0)
    }

    async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError> {
        let role_id = self.item_id(SlugKind::Role, role).await?;
        let granted = Query::select()
            .column(role_grant::Column::ItemId)
            .from(role_grant::Entity)
            .and_where(role_grant::Column::RoleId.eq(role_id))
            .to_owned();
        let rows = Items::find()
            .filter(Item::Id.in_subquery(granted))
            .all(&self.db)
            .await
            .map_err(backend)?;
        rows.into_iter().map(item_from).collect()
    }

    async fn assign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        let role_id = self.item_id(SlugKind::Role, role).await?;
        let row = user_role::ActiveModel {
            user_id: Set(user.0),
            role_id: Set(role_id),
        };
        let result = user_role::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await;
        inserted(result, Entity::User)
    }

    async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        let done = retrying!(
            user_role::Entity::delete_many()
                .filter(user_role::Column::UserId.eq(user.0))
                .filter(user_role::Column::RoleId.in_subquery(id_of(SlugKind::Role, role)))
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        Ok(done.rows_affected > 0)
    }

    async fn grant_to_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let item_id = self.item_id(kind.slug_kind(), slug).await?;
        let row = user_grant::ActiveModel {
            user_id: Set(user.0),
            item_id: Set(item_id),
        };
        let result = user_grant::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await;
        inserted(result, Entity::User)
    }

    async fn revoke_from_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let done = retrying!(
            user_grant::Entity::delete_many()
                .filter(user_grant::Column::UserId.eq(user.0))
                .filter(user_grant::Column::ItemId.in_subquery(id_of(kind.slug_kind(), slug)))
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        Ok(done.rows_affected > 0)
    }

    async fn user_grants(&self, user: UserId) -> Result<UserGrants, StoreError> {
        let roles = Query::select()
            .column(user_role::Column::RoleId)
            .from(user_role::Entity)
            .and_where(user_role::Column::UserId.eq(user.0))
            .to_owned();
        let direct = Query::select()
            .column(user_grant::Column::ItemId)
            .from(user_grant::Entity)
            .and_where(user_grant::Column::UserId.eq(user.0))
            .to_owned();
        self.grants_of(roles, Some(direct)).await
    }

    async fn assign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        let role_id = self.item_id(SlugKind::Role, role).await?;
        let row = api_key_role::ActiveModel {
            key_id: Set(key.0),
            role_id: Set(role_id),
        };
        let result = api_key_role::Entity::insert(row)
            .exec_without_returning(&self.db)
            .await;
        match inserted(result, Entity::ApiKey) {
            Err(StoreError::NotFound { .. }) => Err(NO_KEY),
            other => other,
        }
    }

    async fn unassign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        let done = retrying!(
            api_key_role::Entity::delete_many()
                .filter(api_key_role::Column::KeyId.eq(key.0))
                .filter(api_key_role::Column::RoleId.in_subquery(id_of(SlugKind::Role, role)))
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        Ok(done.rows_affected > 0)
    }

    async fn key_grants(&self, key: ApiKeyId) -> Result<UserGrants, StoreError> {
        let roles = Query::select()
            .column(api_key_role::Column::RoleId)
            .from(api_key_role::Entity)
            .and_where(api_key_role::Column::KeyId.eq(key.0))
            .to_owned();
        self.grants_of(roles, None).await
    }
}
