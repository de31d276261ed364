//! [`RbacStore`] faults: slugs matched exactly, grants reported as new once, refusals of
//! unknown users and kinds, the union a user holds, removal that takes assignments.

use authkit::{ApiKeyId, GrantKind, RbacItem, RbacStore, SlugKind, StoreError, UserGrants, UserId};
use authkit_conformance::async_trait;

use crate::store::{Broken, Fault, like};

impl Broken {
    /// The slug a lookup of `slug` among the items of `kind` lands on: itself in a
    /// correct store, the first item that matches in a broken one.
    async fn resolve(&self, kind: SlugKind, slug: &str) -> Result<String, StoreError> {
        let matches: fn(&str, &str) -> bool = match self.fault {
            Fault::SlugLike => |pattern, slug| like(pattern, slug, false),
            Fault::SlugCaseFolded => |probe, slug| probe.eq_ignore_ascii_case(slug),
            _ => return Ok(slug.to_owned()),
        };
        let items = self.inner.list_items(kind).await?;
        Ok(items
            .into_iter()
            .map(|item| item.slug)
            .find(|found| matches(slug, found))
            .unwrap_or_else(|| slug.to_owned()))
    }
}

impl Broken {
    /// The error as [`Fault::UnknownItemNamedPermission`] reports it.
    fn misname_item(&self, err: StoreError) -> StoreError {
        match err {
            StoreError::NotFound {
                what: authkit::Entity::Ability,
            } if self.has(Fault::UnknownItemNamedPermission) => StoreError::NotFound {
                what: authkit::Entity::Permission,
            },
            other => other,
        }
    }
}

#[async_trait]
impl RbacStore for Broken {
    async fn define_item(&self, item: &RbacItem) -> Result<(), StoreError> {
        match self.inner.define_item(item).await {
            Err(StoreError::Conflict { .. }) if self.has(Fault::DefineIgnoresDuplicate) => Ok(()),
            result => result,
        }
    }

    async fn remove_item(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError> {
        let slug = self.resolve(kind, slug).await?;
        if self.has(Fault::RemoveRoleKeepsAssignments) && kind == SlugKind::Role {
            let users: Vec<UserId> = self.shadow().users.iter().map(|u| u.id).collect();
            for user in users {
                if self.inner.user_grants(user).await?.roles.contains(&slug) {
                    self.shadow()
                        .ghost_roles
                        .entry(user)
                        .or_default()
                        .insert(slug.clone());
                }
            }
        }
        let removed = self.inner.remove_item(kind, &slug).await?;
        Ok(removed || self.has(Fault::RemoveItemAlwaysTrue))
    }

    async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>, StoreError> {
        if self.has(Fault::ListItemsOfEveryKind) {
            let mut every = Vec::new();
            for kind in [SlugKind::Role, SlugKind::Permission, SlugKind::Ability] {
                every.extend(self.inner.list_items(kind).await?);
            }
            return Ok(every);
        }
        self.inner.list_items(kind).await
    }

    async fn missing_items(
        &self,
        kind: SlugKind,
        slugs: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut resolved = Vec::with_capacity(slugs.len());
        for slug in slugs {
            resolved.push(self.resolve(kind, slug).await?);
        }
        let missing = self.inner.missing_items(kind, &resolved).await?;
        Ok(slugs
            .iter()
            .zip(&resolved)
            .filter(|(_, found)| missing.contains(found))
            .map(|(slug, _)| slug.clone())
            .collect())
    }

    async fn grant_to_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let role = self.resolve(SlugKind::Role, role).await?;
        let slug = self.resolve(kind.slug_kind(), slug).await?;
        let new = self
            .inner
            .grant_to_role(&role, kind, &slug)
            .await
            .map_err(|err| self.misname_item(err))?;
        Ok(new || self.has(Fault::GrantCountsRepeat))
    }

    async fn revoke_from_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let role = self.resolve(SlugKind::Role, role).await?;
        let slug = self.resolve(kind.slug_kind(), slug).await?;
        self.inner.revoke_from_role(&role, kind, &slug).await
    }

    async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError> {
        let role = self.resolve(SlugKind::Role, role).await?;
        match self.inner.role_grants(&role).await {
            Err(StoreError::NotFound { .. }) if self.has(Fault::RoleGrantsOfUnknownRoleEmpty) => {
                Ok(Vec::new())
            }
            result => result,
        }
    }

    async fn assign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        let role = self.resolve(SlugKind::Role, role).await?;
        match self.inner.assign_role(user, &role).await {
            Err(StoreError::NotFound {
                what: authkit::Entity::User,
            }) if self.has(Fault::AssignUnknownUser) => Ok(true),
            result => result,
        }
    }

    async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        let role = self.resolve(SlugKind::Role, role).await?;
        self.inner.unassign_role(user, &role).await
    }

    async fn grant_to_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let slug = self.resolve(kind.slug_kind(), slug).await?;
        let result = self.inner.grant_to_user(user, kind, &slug).await;
        if self.has(Fault::GrantIgnoresKind)
            && let Err(StoreError::NotFound { what }) = &result
            && *what != authkit::Entity::User
        {
            // `SELECT id FROM items WHERE slug = ?`: whichever kind has the slug.
            let other = match kind {
                GrantKind::Permission => GrantKind::Ability,
                GrantKind::Ability => GrantKind::Permission,
            };
            let registered = self
                .inner
                .missing_items(other.slug_kind(), std::slice::from_ref(&slug))
                .await?
                .is_empty();
            if registered {
                return self.inner.grant_to_user(user, other, &slug).await;
            }
        }
        result.map_err(|err| self.misname_item(err))
    }

    async fn revoke_from_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        let slug = self.resolve(kind.slug_kind(), slug).await?;
        self.inner.revoke_from_user(user, kind, &slug).await
    }

    async fn assign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        match self.inner.assign_key_role(key, role).await {
            Ok(_) if self.has(Fault::KeyRoleCountsRepeat) => Ok(true),
            Err(StoreError::NotFound {
                what: authkit::Entity::ApiKey,
            }) if self.has(Fault::AssignUnknownKey) => Ok(true),
            result => result,
        }
    }

    async fn unassign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        let unassigned = self.inner.unassign_key_role(key, role).await?;
        Ok(unassigned || self.has(Fault::UnassignKeyRoleAlwaysTrue))
    }

    async fn key_grants(&self, key: ApiKeyId) -> Result<UserGrants, StoreError> {
        let grants = self.inner.key_grants(key).await?;
        if self.has(Fault::KeyGrantsRolesOnly) {
            return Ok(UserGrants {
                roles: grants.roles,
                ..UserGrants::default()
            });
        }
        Ok(grants)
    }

    async fn user_grants(&self, user: UserId) -> Result<UserGrants, StoreError> {
        let mut grants = self.inner.user_grants(user).await?;
        if self.has(Fault::UserGrantsUnionAll) {
            // The role branch of the UNION ALL repeats what the union already holds.
            for role in grants.roles.clone() {
                for item in self.inner.role_grants(&role).await? {
                    match item.kind {
                        SlugKind::Permission => grants.permissions.push(item.slug),
                        SlugKind::Ability => grants.abilities.push(item.slug),
                        SlugKind::Role => {}
                    }
                }
            }
        }
        if let Some(ghosts) = self.shadow().ghost_roles.get(&user) {
            grants.roles.extend(ghosts.iter().cloned());
        }
        Ok(grants)
    }
}

/// "Slugs are matched exactly: no pattern" (and every lookup of a role or item by slug).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slug_lookup_as_like_pattern_is_caught() {
    assert_caught!(Fault::SlugLike => rbac::slugs_match_exactly);
}

/// "Slugs are matched exactly: … no case folding."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn case_folded_slug_lookup_is_caught() {
    assert_caught!(Fault::SlugCaseFolded => rbac::slugs_match_exactly);
}

/// "Granting what is already granted is not an error: the method returns `false`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_grant_reported_as_new_is_caught() {
    assert_caught!(Fault::GrantCountsRepeat => rbac::grant_to_role);
}

/// "Unknown user or role: `NotFound`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn assignment_to_an_unknown_user_is_caught() {
    assert_caught!(Fault::AssignUnknownUser => rbac::unknown_user_not_found);
}

/// "Grants name a `GrantKind`"; "unknown … item: `NotFound` naming which": a slug of
/// the other kind is unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grant_that_ignores_the_kind_is_caught() {
    assert_caught!(Fault::GrantIgnoresKind => rbac::grant_to_user);
}

/// "The union of permissions and abilities held directly and through roles".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn union_all_is_caught() {
    assert_caught!(Fault::UserGrantsUnionAll => rbac::user_grants_union);
}

/// "Removes an item and every grant and assignment naming it."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removed_role_left_assigned_is_caught() {
    assert_caught!(Fault::RemoveRoleKeepsAssignments => rbac::remove_item_removes_grants);
}

/// "A slug already registered for the kind, or a taken id: `Conflict`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn define_that_ignores_a_duplicate_is_caught() {
    assert_caught!(Fault::DefineIgnoresDuplicate => rbac::define_duplicate_conflicts);
}

/// "Removes an item …. `false` if none."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn remove_item_always_true_is_caught() {
    assert_caught!(Fault::RemoveItemAlwaysTrue => rbac::remove_item_removes_grants);
}

/// "Every item of the kind."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn items_of_every_kind_listed_is_caught() {
    assert_caught!(Fault::ListItemsOfEveryKind => rbac::define_and_list);
}

/// "The permissions and abilities granted to a role. Unknown role: `NotFound`."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grants_of_an_unknown_role_listed_empty_is_caught() {
    assert_caught!(Fault::RoleGrantsOfUnknownRoleEmpty => rbac::grant_to_role);
}

/// "`NotFound` whose `Entity` says which: … `Entity::Permission` or `Entity::Ability`
/// for the granted item".
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_ability_named_a_permission_is_caught() {
    assert_caught!(Fault::UnknownItemNamedPermission =>
        rbac::slugs_match_exactly,
        rbac_flows::grant_errors,
    );
}

/// "Assigns a role to an API key; `true` if it was new."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeated_key_role_counted_as_new_is_caught() {
    assert_caught!(Fault::KeyRoleCountsRepeat => key_limits::key_roles);
}

/// "The key's roles, and the union of the permissions and abilities they grant."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn key_grants_without_what_roles_grant_are_caught() {
    assert_caught!(Fault::KeyGrantsRolesOnly => key_limits::key_roles, key_access::key_roles_and_delegation);
}

/// "Unknown key …: `NotFound` naming which."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn role_assigned_to_an_unknown_key_is_caught() {
    assert_caught!(Fault::AssignUnknownKey => key_limits::key_roles_follow_the_key);
}

/// "Unassigns a role from an API key; `true` if it was assigned."
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unassign_key_role_always_true_is_caught() {
    assert_caught!(Fault::UnassignKeyRoleAlwaysTrue => key_limits::key_roles);
}
