//! Flat RBAC: roles, permissions and abilities by slug, grants, and predicates.
//!
//! OWASP Authorization Cheat Sheet: deny by default, check on every request, and fail
//! closed. A predicate is checked against the registered slugs once, at start-up
//! ([`Auth::check_predicate`]), so a typo in a slug fails the deployment rather than
//! silently denying (or allowing) requests later.

use std::collections::BTreeSet;

use super::Auth;
use super::audit::AuditEvent;
use crate::error::{Entity, Error, Result, StoreError};
use crate::model::{
    ApiKey, ApiKeyId, GrantKind, RbacItem, RbacItemId, SlugKind, UserGrants, UserId,
};
use crate::scope::check_slug;

/// An authorization rule over roles, permissions and abilities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Predicate {
    /// Holds the role.
    HasRole(String),
    /// Holds the permission, directly or through a role.
    HasPermission(String),
    /// Holds the ability, directly, through a role, or (service keys) as a scope.
    HasAbility(String),
    /// At least one holds (an empty `Any` never holds).
    Any(Vec<Predicate>),
    /// Every one holds (an empty `All` always holds).
    All(Vec<Predicate>),
}

impl Predicate {
    /// [`Predicate::HasRole`].
    pub fn has_role(slug: impl Into<String>) -> Self {
        Predicate::HasRole(slug.into())
    }

    /// [`Predicate::HasPermission`].
    pub fn has_permission(slug: impl Into<String>) -> Self {
        Predicate::HasPermission(slug.into())
    }

    /// [`Predicate::HasAbility`].
    pub fn has_ability(slug: impl Into<String>) -> Self {
        Predicate::HasAbility(slug.into())
    }

    /// [`Predicate::Any`].
    pub fn any(of: impl IntoIterator<Item = Predicate>) -> Self {
        Predicate::Any(of.into_iter().collect())
    }

    /// [`Predicate::All`].
    pub fn all(of: impl IntoIterator<Item = Predicate>) -> Self {
        Predicate::All(of.into_iter().collect())
    }

    fn slugs(&self, kind: SlugKind, out: &mut BTreeSet<String>) {
        let (k, slug) = match self {
            Predicate::HasRole(s) => (SlugKind::Role, s),
            Predicate::HasPermission(s) => (SlugKind::Permission, s),
            Predicate::HasAbility(s) => (SlugKind::Ability, s),
            Predicate::Any(ps) | Predicate::All(ps) => {
                ps.iter().for_each(|p| p.slugs(kind, out));
                return;
            }
        };
        if k == kind {
            out.insert(slug.clone());
        }
    }

    fn holds(&self, grants: &UserGrants) -> bool {
        let has = |list: &[String], slug: &String| list.binary_search(slug).is_ok();
        match self {
            Predicate::HasRole(s) => grants.roles.iter().any(|r| r == s),
            Predicate::HasPermission(s) => has(&grants.permissions, s),
            Predicate::HasAbility(s) => has(&grants.abilities, s),
            Predicate::Any(ps) => ps.iter().any(|p| p.holds(grants)),
            Predicate::All(ps) => ps.iter().all(|p| p.holds(grants)),
        }
    }
}

/// A predicate whose every slug was valid and registered when it was checked. Only
/// [`Auth::check_predicate`] makes one, so request-time checks never meet a typo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedPredicate(Predicate);

impl CheckedPredicate {
    /// The predicate.
    pub fn predicate(&self) -> &Predicate {
        &self.0
    }
}

/// Who a request acts for.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    /// A logged-in user: roles, and permissions and abilities through roles and directly.
    User(UserId),
    /// A verified API or service key: it holds what [`Auth::key_grants`] lists (its roles'
    /// grants, a service key's scopes as abilities, and the rights of the user it acts
    /// for). Its scopes are checked by [`Auth::verify_api_key`].
    Key(&'a ApiKey),
}

impl Auth {
    /// Registers a role, permission or ability. Errors: [`Error::InvalidSlug`],
    /// [`Error::SlugTaken`], [`Error::InvalidInput`] (label empty or over 256 bytes).
    pub async fn define(&self, kind: SlugKind, slug: &str, label: &str) -> Result<RbacItem> {
        check_slug(slug)?;
        if label.trim().is_empty() || label.len() > 256 {
            return Err(Error::InvalidInput("label must be 1 to 256 bytes"));
        }
        let item = RbacItem {
            id: RbacItemId(self.new_uuid(self.now())),
            kind,
            slug: slug.to_owned(),
            label: label.to_owned(),
        };
        match self.stores.rbac.define_item(&item).await {
            Ok(()) => Ok(item),
            Err(StoreError::Conflict { .. }) => Err(Error::SlugTaken {
                kind: kind.as_str(),
                slug: slug.to_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an item and every grant naming it; `false` if there was none. Service keys
    /// that hold a removed ability as a scope keep it until their scopes are updated
    /// ([`Auth::update_api_key`]): scopes are checked against the registry when set.
    pub async fn undefine(&self, kind: SlugKind, slug: &str) -> Result<bool> {
        check_slug(slug)?;
        Ok(self.stores.rbac.remove_item(kind, slug).await?)
    }

    /// Grants a permission or ability to a role; `true` if new.
    /// Errors: [`Error::InvalidSlug`], [`Error::UnknownSlug`].
    pub async fn grant_to_role(&self, role: &str, kind: GrantKind, slug: &str) -> Result<bool> {
        check_slug(role)?;
        check_slug(slug)?;
        let granted = self.stores.rbac.grant_to_role(role, kind, slug).await;
        let granted = granted.map_err(|e| unknown_slug(e, &[role, slug]))?;
        if granted {
            self.audit_role_grant(role, kind, slug, true);
        }
        Ok(granted)
    }

    /// Takes a permission or ability from a role; `true` if it was held.
    pub async fn revoke_from_role(&self, role: &str, kind: GrantKind, slug: &str) -> Result<bool> {
        check_slug(role)?;
        check_slug(slug)?;
        let revoked = self.stores.rbac.revoke_from_role(role, kind, slug).await?;
        if revoked {
            self.audit_role_grant(role, kind, slug, false);
        }
        Ok(revoked)
    }

    /// Assigns a role; `true` if new. Errors: [`Error::InvalidSlug`],
    /// [`Error::UnknownSlug`], [`Error::UserNotFound`].
    pub async fn assign_role(&self, user: UserId, role: &str) -> Result<bool> {
        check_slug(role)?;
        self.user(user).await?;
        let assigned = self.stores.rbac.assign_role(user, role).await;
        let assigned = assigned.map_err(|e| unknown_slug(e, &[role]))?;
        if assigned {
            self.audit_role(user, role, true);
        }
        Ok(assigned)
    }

    /// Unassigns a role; `true` if it was assigned.
    pub async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool> {
        check_slug(role)?;
        let unassigned = self.stores.rbac.unassign_role(user, role).await?;
        if unassigned {
            self.audit_role(user, role, false);
        }
        Ok(unassigned)
    }

    /// Grants a permission or ability to a user directly; `true` if new. Errors:
    /// [`Error::InvalidSlug`], [`Error::UnknownSlug`], [`Error::UserNotFound`].
    pub async fn grant_to_user(&self, user: UserId, kind: GrantKind, slug: &str) -> Result<bool> {
        check_slug(slug)?;
        self.user(user).await?;
        let granted = self.stores.rbac.grant_to_user(user, kind, slug).await;
        let granted = granted.map_err(|e| unknown_slug(e, &[slug]))?;
        if granted {
            self.audit_user_grant(user, kind, slug, true);
        }
        Ok(granted)
    }

    /// Takes a direct grant from a user; `true` if it was held.
    pub async fn revoke_from_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool> {
        check_slug(slug)?;
        let revoked = self.stores.rbac.revoke_from_user(user, kind, slug).await?;
        if revoked {
            self.audit_user_grant(user, kind, slug, false);
        }
        Ok(revoked)
    }

    /// The user's roles, permissions and abilities, each sorted, without duplicates.
    pub async fn user_grants(&self, user: UserId) -> Result<UserGrants> {
        Ok(sorted_grants(self.stores.rbac.user_grants(user).await?))
    }

    /// Every registered item of `kind`, by slug.
    pub async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>> {
        let mut items = self.stores.rbac.list_items(kind).await?;
        items.sort_unstable_by(|a, b| a.slug.cmp(&b.slug));
        items.dedup_by(|a, b| a.slug == b.slug);
        Ok(items)
    }

    /// What a role grants: permissions first, then abilities, each by slug.
    /// Errors: [`Error::InvalidSlug`], [`Error::UnknownSlug`] (no such role).
    pub async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>> {
        check_slug(role)?;
        let grants = self.stores.rbac.role_grants(role).await;
        let mut items = grants.map_err(|e| unknown_slug(e, &[role]))?;
        items.sort_unstable_by(|a, b| (a.kind, &a.slug).cmp(&(b.kind, &b.slug)));
        items.dedup_by(|a, b| (a.kind, &a.slug) == (b.kind, &b.slug));
        Ok(items)
    }

    /// Checks every slug of `predicate` (valid, registered for its kind) and returns the
    /// predicate ready for request-time use. Call it at start-up.
    /// Errors: [`Error::InvalidSlug`], [`Error::UnknownSlug`] naming every missing slug.
    pub async fn check_predicate(&self, predicate: Predicate) -> Result<CheckedPredicate> {
        for kind in [SlugKind::Role, SlugKind::Permission, SlugKind::Ability] {
            let mut slugs = BTreeSet::new();
            predicate.slugs(kind, &mut slugs);
            let slugs: Vec<String> = slugs.into_iter().collect();
            slugs.iter().try_for_each(|s| check_slug(s))?;
            if slugs.is_empty() {
                continue;
            }
            self.require_items(kind, &slugs).await?;
        }
        Ok(CheckedPredicate(predicate))
    }

    fn audit_role(&self, user: UserId, role: &str, assigned: bool) {
        let role = role.to_owned();
        self.audit(AuditEvent::RoleChanged {
            user,
            role,
            assigned,
        });
    }

    fn audit_user_grant(&self, user: UserId, kind: GrantKind, slug: &str, granted: bool) {
        let slug = slug.to_owned();
        self.audit(AuditEvent::UserGrantChanged {
            user,
            kind,
            slug,
            granted,
        });
    }

    fn audit_role_grant(&self, role: &str, kind: GrantKind, slug: &str, granted: bool) {
        let (role, slug) = (role.to_owned(), slug.to_owned());
        self.audit(AuditEvent::RoleGrantChanged {
            role,
            kind,
            slug,
            granted,
        });
    }

    /// Takes every role and direct grant from a user (before deleting it, for stores
    /// that do not cascade from the users' store).
    pub(super) async fn drop_grants(&self, user: UserId) -> Result<()> {
        let rbac = &self.stores.rbac;
        let held = rbac.user_grants(user).await?;
        for role in &held.roles {
            rbac.unassign_role(user, role).await?;
        }
        for (kind, slugs) in [
            (GrantKind::Permission, &held.permissions),
            (GrantKind::Ability, &held.abilities),
        ] {
            for slug in slugs {
                rbac.revoke_from_user(user, kind, slug).await?;
            }
        }
        Ok(())
    }

    /// Fails with [`Error::UnknownSlug`], naming each in order, unless every one of
    /// `slugs` is registered for `kind`.
    pub(super) async fn require_items(&self, kind: SlugKind, slugs: &[String]) -> Result<()> {
        let mut missing = self.stores.rbac.missing_items(kind, slugs).await?;
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_unstable();
        missing.dedup();
        Err(Error::UnknownSlug {
            kind: kind.as_str(),
            slugs: missing,
        })
    }

    /// Whether `subject` satisfies `predicate`: one store call for a user; for a key,
    /// those of [`Auth::key_grants`].
    pub async fn is_allowed(
        &self,
        subject: Subject<'_>,
        predicate: &CheckedPredicate,
    ) -> Result<bool> {
        let grants = match subject {
            Subject::User(user) => self.user_grants(user).await?,
            Subject::Key(key) => self.key_grants(key).await?,
        };
        Ok(predicate.0.holds(&grants))
    }

    /// Like [`Auth::is_allowed`], but a refusal is [`Error::Forbidden`].
    pub async fn authorize(
        &self,
        subject: Subject<'_>,
        predicate: &CheckedPredicate,
    ) -> Result<()> {
        if self.is_allowed(subject, predicate).await? {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
}

impl Auth {
    /// Assigns a role to a key; `true` if it was new. Errors: [`Error::InvalidSlug`],
    /// [`Error::UnknownSlug`] (no such role), [`Error::ApiKeyUnknown`].
    pub async fn assign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool> {
        check_slug(role)?;
        self.api_key(key).await?;
        let assigned = self.stores.rbac.assign_key_role(key, role).await;
        let assigned = assigned.map_err(|e| key_role_error(e, role))?;
        if assigned {
            self.audit_key_role(key, role, true);
        }
        Ok(assigned)
    }

    /// Takes a role from a key; `true` if it was assigned. Errors: [`Error::InvalidSlug`].
    pub async fn unassign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool> {
        check_slug(role)?;
        let unassigned = self.stores.rbac.unassign_key_role(key, role).await?;
        if unassigned {
            self.audit_key_role(key, role, false);
        }
        Ok(unassigned)
    }

    /// The user `key` acts for, checked now: `None` for a key acting for nobody; its
    /// owner for a delegating key; the named user for an impersonating key whose owner
    /// still holds [`ApiKeyConfig::impersonation_permission`](crate::config::ApiKeyConfig::impersonation_permission),
    /// and [`Error::Forbidden`] once the owner lost it (or impersonation was switched
    /// off). An application treats the request as that user's.
    pub async fn key_acts_for(&self, key: &ApiKey) -> Result<Option<UserId>> {
        match (key.acts_for, key.owner) {
            (None, _) => Ok(None),
            (Some(user), Some(owner)) if user == owner => Ok(Some(user)),
            (Some(user), Some(owner)) if self.may_impersonate(owner).await? => Ok(Some(user)),
            (Some(_), _) => Err(Error::Forbidden),
        }
    }

    /// What `key` holds, each list sorted: its roles and their grants; a service key's
    /// scopes as abilities; and everything the user it acts for holds now (nothing from
    /// that user once [`Auth::key_acts_for`] refuses). Evaluated live: a permission taken
    /// from the user is gone from the key at once. One store call, and one or two more
    /// for a key acting for a user.
    pub async fn key_grants(&self, key: &ApiKey) -> Result<UserGrants> {
        let mut grants = self.stores.rbac.key_grants(key.id).await?;
        if key.owner.is_none() {
            grants.abilities.extend(key.scopes.iter().cloned());
        }
        let user = match self.key_acts_for(key).await {
            Err(Error::Forbidden) => None,
            other => other?,
        };
        if let Some(user) = user {
            let held = self.stores.rbac.user_grants(user).await?;
            grants.roles.extend(held.roles);
            grants.permissions.extend(held.permissions);
            grants.abilities.extend(held.abilities);
        }
        Ok(sorted_grants(grants))
    }

    /// Whether `owner` may create or use keys acting for other users.
    async fn may_impersonate(&self, owner: UserId) -> Result<bool> {
        let Some(permission) = &self.config.api_keys.impersonation_permission else {
            return Ok(false);
        };
        let held = self.stores.rbac.user_grants(owner).await?;
        Ok(held.permissions.contains(permission))
    }

    /// Checks whom a new key may act for: nobody, its owner, or (with the permission)
    /// another existing user.
    pub(super) async fn check_acts_for(
        &self,
        owner: Option<UserId>,
        acts_for: Option<UserId>,
    ) -> Result<()> {
        let Some(user) = acts_for else { return Ok(()) };
        let Some(owner) = owner else {
            return Err(Error::InvalidInput("a service key cannot act for a user"));
        };
        if user != owner {
            self.user(user).await?;
            if !self.may_impersonate(owner).await? {
                return Err(Error::Forbidden);
            }
        }
        Ok(())
    }

    /// Checks the roles of a new key: valid, registered, not too many.
    pub(super) async fn check_key_roles(&self, roles: &[String]) -> Result<()> {
        if roles.len() > 64 {
            return Err(Error::InvalidInput("an API key holds at most 64 roles"));
        }
        roles.iter().try_for_each(|r| check_slug(r))?;
        self.require_items(SlugKind::Role, roles).await
    }

    /// Assigns a new key its roles; on failure deletes the key, so no key is left with
    /// part of what was asked.
    pub(super) async fn assign_new_key_roles(&self, key: ApiKeyId, roles: &[String]) -> Result<()> {
        for role in roles {
            let assigned = self.stores.rbac.assign_key_role(key, role).await;
            if let Err(err) = assigned {
                self.stores.api_keys.delete_api_key(key).await?;
                return Err(key_role_error(err, role));
            }
        }
        Ok(())
    }

    /// Gives a rotated key the roles of its predecessor, skipping a role undefined since.
    pub(super) async fn copy_key_roles(&self, key: ApiKeyId, roles: &[String]) -> Result<()> {
        for role in roles {
            match self.stores.rbac.assign_key_role(key, role).await {
                Ok(_) | Err(StoreError::NotFound { what: Entity::Role }) => {}
                Err(other) => return Err(other.into()),
            }
        }
        Ok(())
    }

    fn audit_key_role(&self, key: ApiKeyId, role: &str, assigned: bool) {
        let role = role.to_owned();
        self.audit(AuditEvent::KeyRoleChanged {
            key,
            role,
            assigned,
        });
    }
}

/// A store's error for a key-role assignment, as the caller sees it.
fn key_role_error(err: StoreError, role: &str) -> Error {
    match err {
        StoreError::NotFound {
            what: Entity::ApiKey,
        } => Error::ApiKeyUnknown,
        other => unknown_slug(other, &[role]),
    }
}

/// `grants` with each list sorted and without duplicates: core owns the order of what it
/// reads, so no store has to promise one.
fn sorted_grants(mut grants: UserGrants) -> UserGrants {
    for list in [
        &mut grants.roles,
        &mut grants.permissions,
        &mut grants.abilities,
    ] {
        list.sort_unstable();
        list.dedup();
    }
    grants
}

/// A store's `NotFound` for a grant, as the error a caller sees. `named` is the slugs of
/// the call, the role first when there is one: the store's typed error says which kind
/// was missing, so core never asks the store again.
fn unknown_slug(err: StoreError, named: &[&str]) -> Error {
    let (kind, slug) = match err {
        StoreError::NotFound { what: Entity::Role } => (SlugKind::Role, named[0]),
        StoreError::NotFound {
            what: Entity::Permission,
        } => (SlugKind::Permission, named[named.len() - 1]),
        StoreError::NotFound {
            what: Entity::Ability,
        } => (SlugKind::Ability, named[named.len() - 1]),
        StoreError::NotFound { what: Entity::User } => return Error::UserNotFound,
        other => return other.into(),
    };
    Error::UnknownSlug {
        kind: kind.as_str(),
        slugs: vec![slug.to_owned()],
    }
}
