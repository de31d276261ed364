use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{RbacItem, SlugKind, UserGrants, UserId};

/// Roles, permissions and abilities (by slug), and the grants between them and users.
///
/// Slugs arrive validated by core. Grants name a `kind` of [`SlugKind::Permission`] or
/// [`SlugKind::Ability`]; a grant naming [`SlugKind::Role`] is refused as
/// [`StoreError::NotFound`] (there is no such grantable item), and revoking one returns
/// `false`. Granting what is already granted is not an error: the method returns `false`.
#[async_trait]
pub trait RbacStore: Send + Sync + 'static {
    /// Registers an item. A slug already registered for the kind: [`StoreError::Conflict`].
    async fn define_item(&self, item: &RbacItem) -> Result<(), StoreError>;

    /// Removes an item and every grant and assignment naming it. `false` if none.
    async fn remove_item(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError>;

    /// Every item of the kind, by slug.
    async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>, StoreError>;

    /// Those of `slugs` that are not registered for the kind, in the order given.
    async fn missing_items(
        &self,
        kind: SlugKind,
        slugs: &[String],
    ) -> Result<Vec<String>, StoreError>;

    /// Grants a permission or ability to a role; `true` if it was new.
    /// Unknown role or item: [`StoreError::NotFound`].
    async fn grant_to_role(
        &self,
        role: &str,
        kind: SlugKind,
        slug: &str,
    ) -> Result<bool, StoreError>;

    /// Takes a permission or ability from a role; `true` if it was held.
    async fn revoke_from_role(
        &self,
        role: &str,
        kind: SlugKind,
        slug: &str,
    ) -> Result<bool, StoreError>;

    /// The permissions and abilities granted to a role: permissions first, then
    /// abilities (the order of [`SlugKind`]), each sorted by slug.
    /// Unknown role: [`StoreError::NotFound`].
    async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError>;

    /// Assigns a role to a user; `true` if it was new.
    /// Unknown user or role: [`StoreError::NotFound`].
    async fn assign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError>;

    /// Unassigns a role; `true` if it was assigned.
    async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError>;

    /// Grants a permission or ability to a user directly; `true` if it was new.
    /// Unknown user or item: [`StoreError::NotFound`].
    async fn grant_to_user(
        &self,
        user: UserId,
        kind: SlugKind,
        slug: &str,
    ) -> Result<bool, StoreError>;

    /// Takes a direct grant from a user; `true` if it was held.
    async fn revoke_from_user(
        &self,
        user: UserId,
        kind: SlugKind,
        slug: &str,
    ) -> Result<bool, StoreError>;

    /// The user's roles, and the union of permissions and abilities held directly and
    /// through roles (sorted, without duplicates). An unknown user holds nothing.
    async fn user_grants(&self, user: UserId) -> Result<UserGrants, StoreError>;
}
