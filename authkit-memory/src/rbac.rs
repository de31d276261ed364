//! [`RbacStore`]: items keyed by `(kind, slug)`, grants to roles and users, role
//! assignments. Ordered collections keep every listing sorted without extra work.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use async_trait::async_trait;
use authkit::{
    ApiKeyId, Entity, GrantKind, RbacItem, RbacStore, SlugKind, StoreError, UserGrants, UserId,
};

use crate::MemoryStore;
use crate::sync::{read, write};

/// A granted permission or ability: `(kind, slug)`, ordered by kind then slug.
type Grant = (SlugKind, String);

/// The RBAC tables.
#[derive(Default)]
pub(crate) struct Rbac {
    /// Every registered item, by kind then slug.
    items: BTreeMap<Grant, RbacItem>,
    /// Role slug → what it grants. Only registered roles have an entry.
    role_grants: HashMap<String, BTreeSet<Grant>>,
    /// User → assigned role slugs.
    user_roles: HashMap<UserId, BTreeSet<String>>,
    /// User → permissions and abilities granted directly.
    user_grants: HashMap<UserId, BTreeSet<Grant>>,
    /// API key → assigned role slugs.
    key_roles: HashMap<ApiKeyId, BTreeSet<String>>,
}

impl fmt::Debug for Rbac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rbac")
            .field("items", &self.items.len())
            .field("users_with_roles", &self.user_roles.len())
            .field("users_with_grants", &self.user_grants.len())
            .finish()
    }
}

const UNKNOWN_ROLE: StoreError = StoreError::NotFound { what: Entity::Role };

fn key(kind: SlugKind, slug: &str) -> Grant {
    (kind, slug.to_owned())
}

impl Rbac {
    /// The cascade of `delete_user`.
    pub(crate) fn remove_user(&mut self, user: UserId) {
        self.user_roles.remove(&user);
        self.user_grants.remove(&user);
    }

    /// The cascade of deleting keys.
    pub(crate) fn remove_keys(&mut self, keys: &[ApiKeyId]) {
        for key in keys {
            self.key_roles.remove(key);
        }
    }

    fn has(&self, kind: SlugKind, slug: &str) -> bool {
        self.items.contains_key(&key(kind, slug))
    }

    /// The grant for a permission or ability that exists; an unknown one is `NotFound`
    /// naming its kind.
    fn grantable(&self, kind: GrantKind, slug: &str) -> Result<Grant, StoreError> {
        let grant = key(kind.slug_kind(), slug);
        if !self.items.contains_key(&grant) {
            return Err(StoreError::NotFound { what: kind.into() });
        }
        Ok(grant)
    }

    fn define(&mut self, item: &RbacItem) -> Result<(), StoreError> {
        let k = key(item.kind, &item.slug);
        if self.items.contains_key(&k) || self.items.values().any(|i| i.id == item.id) {
            return Err(StoreError::Conflict {
                what: item.kind.into(),
            });
        }
        if item.kind == SlugKind::Role {
            self.role_grants.insert(item.slug.clone(), BTreeSet::new());
        }
        self.items.insert(k, item.clone());
        Ok(())
    }

    fn remove(&mut self, kind: SlugKind, slug: &str) -> bool {
        let k = key(kind, slug);
        if self.items.remove(&k).is_none() {
            return false;
        }
        if kind == SlugKind::Role {
            self.role_grants.remove(slug);
            for roles in self.user_roles.values_mut() {
                roles.remove(slug);
            }
            self.user_roles.retain(|_, roles| !roles.is_empty());
            for roles in self.key_roles.values_mut() {
                roles.remove(slug);
            }
            self.key_roles.retain(|_, roles| !roles.is_empty());
        } else {
            for grants in self.role_grants.values_mut() {
                grants.remove(&k);
            }
            for grants in self.user_grants.values_mut() {
                grants.remove(&k);
            }
            self.user_grants.retain(|_, grants| !grants.is_empty());
        }
        true
    }

    fn missing(&self, kind: SlugKind, slugs: &[String]) -> Vec<String> {
        slugs
            .iter()
            .filter(|slug| !self.has(kind, slug))
            .cloned()
            .collect()
    }

    fn grant_to_role(
        &mut self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        if !self.role_grants.contains_key(role) {
            return Err(UNKNOWN_ROLE);
        }
        let grant = self.grantable(kind, slug)?;
        Ok(self
            .role_grants
            .get_mut(role)
            .is_some_and(|grants| grants.insert(grant)))
    }

    fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError> {
        let grants = self.role_grants.get(role).ok_or(UNKNOWN_ROLE)?;
        Ok(grants
            .iter()
            .filter_map(|g| self.items.get(g))
            .cloned()
            .collect())
    }

    fn assign(&mut self, user: UserId, role: &str) -> Result<bool, StoreError> {
        if !self.has(SlugKind::Role, role) {
            return Err(UNKNOWN_ROLE);
        }
        Ok(self
            .user_roles
            .entry(user)
            .or_default()
            .insert(role.to_owned()))
    }

    fn unassign(&mut self, user: UserId, role: &str) -> bool {
        let Some(roles) = self.user_roles.get_mut(&user) else {
            return false;
        };
        let held = roles.remove(role);
        if roles.is_empty() {
            self.user_roles.remove(&user);
        }
        held
    }

    fn grant_to_user(
        &mut self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let grant = self.grantable(kind, slug)?;
        Ok(self.user_grants.entry(user).or_default().insert(grant))
    }

    fn revoke_from_user(&mut self, user: UserId, kind: GrantKind, slug: &str) -> bool {
        let Some(grants) = self.user_grants.get_mut(&user) else {
            return false;
        };
        let held = grants.remove(&key(kind.slug_kind(), slug));
        if grants.is_empty() {
            self.user_grants.remove(&user);
        }
        held
    }

    fn user_grants(&self, user: UserId) -> UserGrants {
        self.grants(self.user_roles.get(&user), self.user_grants.get(&user))
    }

    /// The roles given, and the union of what they grant and of `direct`.
    fn grants(
        &self,
        roles: Option<&BTreeSet<String>>,
        direct: Option<&BTreeSet<Grant>>,
    ) -> UserGrants {
        let through_roles = roles
            .into_iter()
            .flatten()
            .filter_map(|role| self.role_grants.get(role))
            .flatten();
        let mut permissions = BTreeSet::new();
        let mut abilities = BTreeSet::new();
        for (kind, slug) in through_roles.chain(direct.into_iter().flatten()) {
            match kind {
                SlugKind::Permission => permissions.insert(slug),
                SlugKind::Ability => abilities.insert(slug),
                SlugKind::Role => false,
            };
        }
        UserGrants {
            roles: roles.into_iter().flatten().cloned().collect(),
            permissions: permissions.into_iter().cloned().collect(),
            abilities: abilities.into_iter().cloned().collect(),
        }
    }

    fn assign_key(&mut self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        if !self.has(SlugKind::Role, role) {
            return Err(UNKNOWN_ROLE);
        }
        Ok(self
            .key_roles
            .entry(key)
            .or_default()
            .insert(role.to_owned()))
    }

    fn unassign_key(&mut self, key: ApiKeyId, role: &str) -> bool {
        let Some(roles) = self.key_roles.get_mut(&key) else {
            return false;
        };
        let held = roles.remove(role);
        if roles.is_empty() {
            self.key_roles.remove(&key);
        }
        held
    }
}

#[async_trait]
impl RbacStore for MemoryStore {
    async fn define_item(&self, item: &RbacItem) -> Result<(), StoreError> {
        write(&self.rbac).define(item)
    }

    async fn remove_item(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError> {
        Ok(write(&self.rbac).remove(kind, slug))
    }

    async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>, StoreError> {
        Ok(read(&self.rbac)
            .items
            .values()
            .filter(|item| item.kind == kind)
            .cloned()
            .collect())
    }

    async fn missing_items(
        &self,
        kind: SlugKind,
        slugs: &[String],
    ) -> Result<Vec<String>, StoreError> {
        Ok(read(&self.rbac).missing(kind, slugs))
    }

    async fn grant_to_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        write(&self.rbac).grant_to_role(role, kind, slug)
    }

    async fn revoke_from_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        Ok(write(&self.rbac)
            .role_grants
            .get_mut(role)
            .is_some_and(|grants| grants.remove(&key(kind.slug_kind(), slug))))
    }

    async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError> {
        read(&self.rbac).role_grants(role)
    }

    async fn assign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        let users = read(&self.users);
        users.require(user)?;
        write(&self.rbac).assign(user, role)
    }

    async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        Ok(write(&self.rbac).unassign(user, role))
    }

    async fn grant_to_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let users = read(&self.users);
        users.require(user)?;
        write(&self.rbac).grant_to_user(user, kind, slug)
    }

    async fn revoke_from_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        Ok(write(&self.rbac).revoke_from_user(user, kind, slug))
    }

    async fn user_grants(&self, user: UserId) -> Result<UserGrants, StoreError> {
        Ok(read(&self.rbac).user_grants(user))
    }

    async fn assign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        let users = read(&self.users);
        read(&self.api_keys).require(&users, key)?;
        write(&self.rbac).assign_key(key, role)
    }

    async fn unassign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        Ok(write(&self.rbac).unassign_key(key, role))
    }

    async fn key_grants(&self, key: ApiKeyId) -> Result<UserGrants, StoreError> {
        let rbac = read(&self.rbac);
        Ok(rbac.grants(rbac.key_roles.get(&key), None))
    }
}
