use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{ApiKeyId, GrantKind, RbacItem, SlugKind, UserGrants, UserId};

/// Roles, permissions and abilities (by slug), and the grants between them and users.
///
/// Slugs arrive validated by core, and items with their id assigned by core. Grants name
/// a [`GrantKind`]: a permission or an ability, never a role. Granting what is already
/// granted is not an error: the method returns `false`.
///
/// A call that names something unknown fails with [`StoreError::NotFound`] whose
/// [`Entity`](crate::Entity) says which: [`Entity::Role`](crate::Entity::Role) for the
/// role, [`Entity::Permission`](crate::Entity::Permission) or
/// [`Entity::Ability`](crate::Entity::Ability) for the granted item,
/// [`Entity::User`](crate::Entity::User) for the user,
/// [`Entity::ApiKey`](crate::Entity::ApiKey) for an API key. When the role and the item are
/// both unknown it names the role; when the user is unknown too, it names any one of
/// the unknown ones. It changes nothing.
///
/// Listings come back in any order; core sorts them.
#[async_trait]
pub trait RbacStore: std::fmt::Debug + Send + Sync + 'static {
    /// Registers an item. A slug already registered for the kind, or a taken id:
    /// [`StoreError::Conflict`].
    async fn define_item(&self, item: &RbacItem) -> Result<(), StoreError>;

    /// Removes an item and every grant and assignment naming it. `false` if none.
    async fn remove_item(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError>;

    /// Every item of the kind.
    async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>, StoreError>;

    /// Those of `slugs` that are not registered for the kind. Slugs are matched exactly:
    /// no pattern, no case folding.
    async fn missing_items(
        &self,
        kind: SlugKind,
        slugs: &[String],
    ) -> Result<Vec<String>, StoreError>;

    /// Grants a permission or ability to a role; `true` if it was new.
    /// Unknown role or item: [`StoreError::NotFound`] naming which.
    async fn grant_to_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError>;

    /// Takes a permission or ability from a role; `true` if it was held.
    async fn revoke_from_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError>;

    /// The permissions and abilities granted to a role. Unknown role:
    /// [`StoreError::NotFound`].
    async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError>;

    /// Assigns a role to a user; `true` if it was new.
    /// Unknown user or role: [`StoreError::NotFound`].
    async fn assign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError>;

    /// Unassigns a role; `true` if it was assigned.
    async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError>;

    /// Grants a permission or ability to a user directly; `true` if it was new.
    /// Unknown user or item: [`StoreError::NotFound`] naming which.
    async fn grant_to_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError>;

    /// Takes a direct grant from a user; `true` if it was held.
    async fn revoke_from_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError>;

    /// The user's roles, and the union of permissions and abilities held directly and
    /// through roles. An unknown user holds nothing.
    async fn user_grants(&self, user: UserId) -> Result<UserGrants, StoreError>;

    /// Assigns a role to an API key; `true` if it was new.
    /// Unknown key or role: [`StoreError::NotFound`] naming which
    /// ([`Entity::ApiKey`](crate::Entity::ApiKey) for the key).
    async fn assign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError>;

    /// Unassigns a role from an API key; `true` if it was assigned.
    async fn unassign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError>;

    /// The key's roles, and the union of the permissions and abilities they grant
    /// (`UserGrants` with the key's roles). An unknown key holds nothing. Deleting the
    /// key or the role ends the assignment.
    async fn key_grants(&self, key: ApiKeyId) -> Result<UserGrants, StoreError>;
}
