//! The entities on PostgreSQL: timestamps are `timestamptz`, read as `OffsetDateTime` in UTC.

/// A timestamp column (`timestamptz`).
pub type Time = time::OffsetDateTime;

#[path = "api_key.rs"]
pub mod api_key;
#[path = "api_key_role.rs"]
pub mod api_key_role;
#[path = "one_time_token.rs"]
pub mod one_time_token;
#[path = "rbac_item.rs"]
pub mod rbac_item;
#[path = "refresh_token.rs"]
pub mod refresh_token;
#[path = "role_grant.rs"]
pub mod role_grant;
#[path = "session.rs"]
pub mod session;
#[path = "user.rs"]
pub mod user;
#[path = "user_grant.rs"]
pub mod user_grant;
#[path = "user_role.rs"]
pub mod user_role;
