//! `authkit_one_time_tokens`: email verification, password reset, magic link and OTP
//! codes, each used once.

use sea_orm::entity::prelude::*;

use super::Time;

/// A one-time token row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authkit_one_time_tokens")]
pub struct Model {
    /// UUIDv7, assigned by authkit.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The owner.
    pub user_id: Uuid,
    /// `email_verification`, `password_reset`, `magic_link` or `email_otp`.
    pub purpose: String,
    /// SHA-256 of the token or code (32 bytes, unique).
    pub token_hash: Vec<u8>,
    /// When it was issued.
    pub created_at: Time,
    /// When it expires.
    pub expires_at: Time,
    /// When it was used.
    pub consumed_at: Option<Time>,
    /// Failed OTP attempts.
    pub failed_attempts: i64,
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
