//! Flat RBAC: roles, permissions and abilities by slug, grants, and predicates.
//!
//! OWASP Authorization Cheat Sheet: deny by default, check on every request, and fail
//! closed. A predicate is checked against the registered slugs once, at start-up
//! ([`Auth::check_predicate`]), so a typo in a slug fails the deployment rather than
//! silently denying (or allowing) requests later.

use std::collections::BTreeSet;

use super::Auth;
use crate::error::{Error, Result, StoreError};
use crate::model::{ApiKey, RbacItem, SlugKind, UserGrants, UserId};
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
    /// A verified service key (no owner): it holds no role and no permission; its scopes
    /// are its abilities. A user's key acts as its owner: use [`Subject::User`] with the
    /// key's scopes checked by [`Auth::verify_api_key`].
    ServiceKey(&'a ApiKey),
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
    pub async fn grant_to_role(&self, role: &str, kind: SlugKind, slug: &str) -> Result<bool> {
        grantable(kind)?;
        check_slug(role)?;
        check_slug(slug)?;
        match self.stores.rbac.grant_to_role(role, kind, slug).await {
            Err(StoreError::NotFound { .. }) => Err(self
                .which_missing(&[(SlugKind::Role, role), (kind, slug)])
                .await),
            other => Ok(other?),
        }
    }

    /// Takes a permission or ability from a role; `true` if it was held.
    pub async fn revoke_from_role(&self, role: &str, kind: SlugKind, slug: &str) -> Result<bool> {
        grantable(kind)?;
        check_slug(role)?;
        check_slug(slug)?;
        Ok(self.stores.rbac.revoke_from_role(role, kind, slug).await?)
    }

    /// Assigns a role; `true` if new. Errors: [`Error::InvalidSlug`],
    /// [`Error::UnknownSlug`], [`Error::UserNotFound`].
    pub async fn assign_role(&self, user: UserId, role: &str) -> Result<bool> {
        check_slug(role)?;
        match self.stores.rbac.assign_role(user, role).await {
            Err(StoreError::NotFound { .. }) => {
                Err(self.which_missing(&[(SlugKind::Role, role)]).await)
            }
            other => Ok(other?),
        }
    }

    /// Unassigns a role; `true` if it was assigned.
    pub async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool> {
        check_slug(role)?;
        Ok(self.stores.rbac.unassign_role(user, role).await?)
    }

    /// Grants a permission or ability to a user directly; `true` if new. Errors:
    /// [`Error::InvalidSlug`], [`Error::UnknownSlug`], [`Error::UserNotFound`].
    pub async fn grant_to_user(&self, user: UserId, kind: SlugKind, slug: &str) -> Result<bool> {
        grantable(kind)?;
        check_slug(slug)?;
        match self.stores.rbac.grant_to_user(user, kind, slug).await {
            Err(StoreError::NotFound { .. }) => Err(self.which_missing(&[(kind, slug)]).await),
            other => Ok(other?),
        }
    }

    /// Takes a direct grant from a user; `true` if it was held.
    pub async fn revoke_from_user(&self, user: UserId, kind: SlugKind, slug: &str) -> Result<bool> {
        grantable(kind)?;
        check_slug(slug)?;
        Ok(self.stores.rbac.revoke_from_user(user, kind, slug).await?)
    }

    /// The user's roles, permissions and abilities.
    pub async fn user_grants(&self, user: UserId) -> Result<UserGrants> {
        Ok(self.stores.rbac.user_grants(user).await?)
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
            let missing = self.stores.rbac.missing_items(kind, &slugs).await?;
            if !missing.is_empty() {
                return Err(Error::UnknownSlug {
                    kind: kind.as_str(),
                    slugs: missing,
                });
            }
        }
        Ok(CheckedPredicate(predicate))
    }

    /// Whether `subject` satisfies `predicate`: one store call for a user, none for a
    /// service key.
    pub async fn is_allowed(
        &self,
        subject: Subject<'_>,
        predicate: &CheckedPredicate,
    ) -> Result<bool> {
        let grants = match subject {
            Subject::User(user) => self.stores.rbac.user_grants(user).await?,
            Subject::ServiceKey(key) => {
                let mut abilities = if key.owner.is_none() {
                    key.scopes.clone()
                } else {
                    Vec::new()
                };
                abilities.sort();
                abilities.dedup();
                UserGrants {
                    roles: Vec::new(),
                    permissions: Vec::new(),
                    abilities,
                }
            }
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

    /// After a store's `NotFound`, finds which named slug is missing; none: the user.
    async fn which_missing(&self, named: &[(SlugKind, &str)]) -> Error {
        for (kind, slug) in named {
            match self
                .stores
                .rbac
                .missing_items(*kind, &[(*slug).to_owned()])
                .await
            {
                Ok(missing) if !missing.is_empty() => {
                    return Error::UnknownSlug {
                        kind: kind.as_str(),
                        slugs: missing,
                    };
                }
                Ok(_) => {}
                Err(e) => return e.into(),
            }
        }
        Error::UserNotFound
    }
}

/// Only permissions and abilities are granted; roles are assigned.
fn grantable(kind: SlugKind) -> Result<()> {
    match kind {
        SlugKind::Role => Err(Error::InvalidInput("roles are assigned, not granted")),
        _ => Ok(()),
    }
}
