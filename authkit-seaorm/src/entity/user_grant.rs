//! `authkit_user_grants`: a permission or ability granted to a user directly.

use sea_orm::entity::prelude::*;

/// One direct grant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authkit_user_grants")]
pub struct Model {
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    /// The permission or ability.
    #[sea_orm(primary_key, auto_increment = false)]
    pub item_id: Uuid,
}

/// The user and the granted item.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
    /// The granted permission or ability.
    #[sea_orm(
        belongs_to = "super::rbac_item::Entity",
        from = "Column::ItemId",
        to = "super::rbac_item::Column::Id",
        on_delete = "Cascade"
    )]
    Item,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::rbac_item::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Item.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
