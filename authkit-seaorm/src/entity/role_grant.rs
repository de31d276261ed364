//! `authkit_role_grants`: a permission or ability granted to a role.

use sea_orm::entity::prelude::*;

/// One grant to a role.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authkit_role_grants")]
pub struct Model {
    /// The role.
    #[sea_orm(primary_key, auto_increment = false)]
    pub role_id: Uuid,
    /// The permission or ability.
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_id: Uuid,
}

/// The role and the granted item.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The role.
    #[sea_orm(
        belongs_to = "super::rbac_item::Entity",
        from = "Column::RoleId",
        to = "super::rbac_item::Column::Id",
        on_delete = "Cascade"
    )]
    Role,
    /// The granted permission or ability.
    #[sea_orm(
        belongs_to = "super::rbac_item::Entity",
        from = "Column::ItemId",
        to = "super::rbac_item::Column::Id",
        on_delete = "Cascade"
    )]
    Item,
}

impl ActiveModelBehavior for ActiveModel {}
