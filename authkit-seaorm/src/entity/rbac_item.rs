//! `authkit_rbac_items`: roles, permissions and abilities, unique by kind and slug.

use sea_orm::entity::prelude::*;

/// A role, permission or ability.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authkit_rbac_items")]
pub struct Model {
    /// UUIDv7, assigned by authkit.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// `role`, `permission` or `ability`.
    pub kind: String,
    /// The slug, unique within its kind.
    pub slug: String,
    /// A human label.
    pub label: String,
}

/// The grant and assignment tables naming an item.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Role assignments to users (the item is a role).
    #[sea_orm(has_many = "super::user_role::Entity")]
    UserRoles,
    /// Direct grants to users (the item is a permission or ability).
    #[sea_orm(has_many = "super::user_grant::Entity")]
    UserGrants,
    /// Role assignments to API keys (the item is a role).
    #[sea_orm(has_many = "super::api_key_role::Entity")]
    ApiKeyRoles,
}

impl ActiveModelBehavior for ActiveModel {}
