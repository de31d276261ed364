//! `authkit_users`: one row per user. The email is unique ignoring ASCII case (an index
//! on `lower(email)`; on MySQL a stored `email_lower` column, which the entity leaves
//! out because the database computes it).

use sea_orm::entity::prelude::*;

use super::Time;

/// A user row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authkit_users")]
pub struct Model {
    /// UUIDv7, assigned by authkit.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The normalized email (trimmed, lowercased by authkit).
    pub email: String,
    /// The Argon2id PHC string, if the user has a password.
    pub password_hash: Option<String>,
    /// When the email was verified.
    pub email_verified_at: Option<Time>,
    /// When the user was created.
    pub created_at: Time,
    /// When the user was last changed.
    pub updated_at: Time,
}

/// The tables that belong to a user (each deleted with it).
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The user's sessions.
    #[sea_orm(has_many = "super::session::Entity")]
    Sessions,
    /// The user's refresh tokens.
    #[sea_orm(has_many = "super::refresh_token::Entity")]
    RefreshTokens,
    /// The user's one-time tokens and OTP codes.
    #[sea_orm(has_many = "super::one_time_token::Entity")]
    OneTimeTokens,
    /// The API keys the user owns.
    #[sea_orm(has_many = "super::api_key::Entity")]
    ApiKeys,
    /// The user's role assignments.
    #[sea_orm(has_many = "super::user_role::Entity")]
    UserRoles,
    /// The user's direct grants.
    #[sea_orm(has_many = "super::user_grant::Entity")]
    UserGrants,
}

impl Related<super::session::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Sessions.def()
    }
}

impl Related<super::refresh_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::RefreshTokens.def()
    }
}

impl Related<super::one_time_token::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OneTimeTokens.def()
    }
}

impl Related<super::api_key::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ApiKeys.def()
    }
}

/// A user's roles, through `authkit_user_roles`.
impl Related<super::rbac_item::Entity> for Entity {
    fn to() -> RelationDef {
        super::user_role::Relation::Role.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::user_role::Relation::User.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
