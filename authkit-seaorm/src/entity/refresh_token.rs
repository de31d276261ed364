//! `authkit_refresh_tokens`: rotating refresh tokens, in families (one per login).

use sea_orm::entity::prelude::*;

use super::Time;

/// A refresh token row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authkit_refresh_tokens")]
pub struct Model {
    /// UUIDv7, assigned by authkit.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The family (one login); reuse revokes all of it.
    pub family_id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// SHA-256 of the token (32 bytes, unique).
    pub token_hash: Vec<u8>,
    /// The audience of the access tokens it refreshes.
    pub audience: String,
    /// The client profile, if any.
    pub profile: Option<String>,
    /// When the family's first token was issued (copied forward on rotation).
    pub chain_started_at: Time,
    /// When this token was issued.
    pub created_at: Time,
    /// When it expires.
    pub expires_at: Time,
    /// When it was rotated, if it was.
    pub consumed_at: Option<Time>,
    /// How many times it was presented for rotation.
    pub rotations: i64,
    /// When it (and its family) was revoked.
    pub revoked_at: Option<Time>,
}

/// The token's user.
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
