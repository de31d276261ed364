//! `authkit_sessions`: server-side sessions, found by the SHA-256 of their secret.

use sea_orm::entity::prelude::*;

use super::Time;

/// A session row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authkit_sessions")]
pub struct Model {
    /// UUIDv7, assigned by authkit.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// SHA-256 of the session secret (32 bytes, unique).
    pub token_hash: Vec<u8>,
    /// When it was created.
    pub created_at: Time,
    /// The last authentication that slid the idle deadline.
    pub last_seen_at: Time,
    /// The idle deadline.
    pub idle_expires_at: Time,
    /// The absolute deadline.
    pub absolute_expires_at: Time,
    /// The opaque payload, encrypted by authkit.
    pub payload: Option<Vec<u8>>,
}

/// The session's user.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owner.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
