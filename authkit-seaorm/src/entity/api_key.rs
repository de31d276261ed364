//! `authkit_api_keys`: API keys and service keys (no owner), found by the hash of the
//! presented key.

use sea_orm::entity::prelude::*;

use super::Time;

/// An API key row.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "authkit_api_keys")]
pub struct Model {
    /// UUIDv7, assigned by authkit.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The visible prefix that names the key in logs and UIs.
    pub prefix: String,
    /// SHA-256 of the key (32 bytes, unique).
    pub key_hash: Vec<u8>,
    /// `pk`, `sk` or `rk`.
    pub key_type: String,
    /// `live` or `test`.
    pub environment: String,
    /// The owning user; `None` for a service key.
    pub owner_id: Option<Uuid>,
    /// The application's organization id, if any.
    pub organization_id: Option<String>,
    /// A human name.
    pub name: String,
    /// A description.
    pub description: Option<String>,
    /// Scopes, as a JSON array of strings.
    pub scopes: String,
    /// IP allow-list (addresses or CIDRs), as a JSON array of strings.
    pub allowed_ips: String,
    /// Metadata, as a JSON object of strings.
    pub metadata: String,
    /// When it was created.
    pub created_at: Time,
    /// When it expires, if it does.
    pub expires_at: Option<Time>,
    /// When it was revoked.
    pub revoked_at: Option<Time>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
    /// Verifications counted so far.
    pub usage_count: i64,
    /// The latest recorded use.
    pub last_used_at: Option<Time>,
    /// The address of the latest recorded use.
    pub last_used_ip: Option<String>,
    /// Verifications allowed per window; 0 for no limit.
    pub rate_limit: i64,
    /// The rate-limit window in seconds; 0 for no limit.
    pub rate_window_seconds: i64,
    /// When the current window started.
    pub rate_window_started_at: Option<Time>,
    /// Verifications counted in the current window.
    pub rate_count: i64,
    /// The user a service key acts for, if any.
    pub acts_for_user_id: Option<Uuid>,
    /// The `User-Agent` of the latest recorded use.
    pub last_used_user_agent: Option<String>,
}

/// The key's owner and the user it acts for.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// The owning user.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::OwnerId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    Owner,
    /// The user a service key acts for.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::ActsForUserId",
        to = "super::user::Column::Id",
        on_delete = "Cascade"
    )]
    ActsFor,
    /// The key's role assignments.
    #[sea_orm(has_many = "super::api_key_role::Entity")]
    Roles,
}

/// The owner (not the user a key acts for: join that through [`Relation::ActsFor`]).
impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Owner.def()
    }
}

/// The key's roles, through `authkit_api_key_roles`.
impl Related<super::rbac_item::Entity> for Entity {
    fn to() -> RelationDef {
        super::api_key_role::Relation::Role.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::api_key_role::Relation::ApiKey.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}
