//! [`RbacStore`]: roles, permissions and abilities, their grants and assignments.
//!
//! Grants insert with `INSERT … SELECT` over the items' slugs, ignoring duplicates
//! (`ON CONFLICT DO NOTHING`, MySQL `INSERT IGNORE`); when nothing was inserted, a
//! lookup or two tell "already granted" from "unknown role, item or user".

use std::collections::HashSet;

use async_trait::async_trait;
use authkit::{
    ApiKeyId, Entity, GrantKind, RbacItem, RbacStore, SlugKind, StoreError, UserGrants, UserId,
};

use super::shared::{NO_KEY, NO_ROLE, NO_USER, get, item_from, kind_from};
use super::{DbRow, Store};
use crate::sql::Stmt;

/// The tail of the grant methods whose insert changed nothing: the first check that
/// failed names what is missing; if none failed, it was already granted.
fn explain_no_insert<const N: usize>(checks: [(bool, StoreError); N]) -> Result<bool, StoreError> {
    for (present, missing) in checks {
        if !present {
            return Err(missing);
        }
    }
    Ok(false)
}

impl Store {
    /// Whether the item exists.
    async fn item_exists(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new("SELECT 1 FROM {rbac_items} WHERE kind = ? AND slug = ?");
        self.exists(self.query(&SQL).bind(kind.as_str()).bind(slug))
            .await
    }
}

#[async_trait]
impl RbacStore for Store {
    async fn define_item(&self, item: &RbacItem) -> Result<(), StoreError> {
        static SQL: Stmt =
            Stmt::new("INSERT INTO {rbac_items} (id, kind, slug, label) VALUES (?, ?, ?, ?)");
        let query = self
            .query(&SQL)
            .bind(item.id.0)
            .bind(item.kind.as_str())
            .bind(item.slug.as_str())
            .bind(item.label.as_str());
        self.insert(query, item.kind.into(), item.kind.into())
            .await?;
        Ok(())
    }

    async fn remove_item(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError> {
        // Grants and assignments naming it go by ON DELETE CASCADE.
        static SQL: Stmt = Stmt::new("DELETE FROM {rbac_items} WHERE kind = ? AND slug = ?");
        let query = || self.query(&SQL).bind(kind.as_str()).bind(slug);
        Ok(self.execute(query).await? > 0)
    }

    async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>, StoreError> {
        static SQL: Stmt =
            Stmt::new("SELECT id, kind, slug, label FROM {rbac_items} WHERE kind = ?");
        let rows = self.fetch_all(self.query(&SQL).bind(kind.as_str())).await?;
        rows.iter().map(item_from).collect()
    }

    async fn missing_items(
        &self,
        kind: SlugKind,
        slugs: &[String],
    ) -> Result<Vec<String>, StoreError> {
        if slugs.is_empty() {
            return Ok(Vec::new());
        }
        // As many `?` as slugs: rendered for this call, not cached.
        let marks = vec!["?"; slugs.len()].join(", ");
        let sql = self.sql.sql(&format!(
            "SELECT slug FROM {{rbac_items}} WHERE kind = ? AND slug IN ({marks})"
        ));
        let mut query = sqlx::query::<super::Db>(sql).bind(kind.as_str());
        for slug in slugs {
            query = query.bind(slug.clone());
        }
        let found = self
            .fetch_all(query)
            .await?
            .iter()
            .map(|row| get::<String>(row, "slug"))
            .collect::<Result<HashSet<_>, _>>()?;
        Ok(slugs
            .iter()
            .filter(|slug| !found.contains(*slug))
            .cloned()
            .collect())
    }

    async fn grant_to_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new(
            "{insert_ignore} {role_grants} (role_id, item_id) \
             SELECT r.id, i.id FROM {rbac_items} r, {rbac_items} i \
             WHERE r.kind = 'role' AND r.slug = ? AND i.kind = ? AND i.slug = ?\
             {on_conflict_nothing}",
        );
        let query = self.query(&SQL).bind(role).bind(kind.as_str()).bind(slug);
        if self.insert(query, Entity::Role, Entity::Role).await? > 0 {
            return Ok(true);
        }
        let role_known = self.item_exists(SlugKind::Role, role).await?;
        let item_known = role_known && self.item_exists(kind.slug_kind(), slug).await?;
        let no_item = StoreError::NotFound { what: kind.into() };
        explain_no_insert([(role_known, NO_ROLE), (item_known, no_item)])
    }

    async fn revoke_from_role(
        &self,
        role: &str,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new(
            "DELETE FROM {role_grants} \
             WHERE role_id = (SELECT id FROM {rbac_items} WHERE kind = 'role' AND slug = ?) \
             AND item_id = (SELECT id FROM {rbac_items} WHERE kind = ? AND slug = ?)",
        );
        let query = || self.query(&SQL).bind(role).bind(kind.as_str()).bind(slug);
        Ok(self.execute(query).await? > 0)
    }

    async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError> {
        static SQL: Stmt = Stmt::new(
            "SELECT i.id, i.kind, i.slug, i.label FROM {rbac_items} r \
             LEFT JOIN {role_grants} g ON g.role_id = r.id \
             LEFT JOIN {rbac_items} i ON i.id = g.item_id \
             WHERE r.kind = 'role' AND r.slug = ?",
        );
        let rows = self.fetch_all(self.query(&SQL).bind(role)).await?;
        if rows.is_empty() {
            return Err(NO_ROLE);
        }
        let mut items = Vec::new();
        for row in &rows {
            // The role without grants is one row of NULLs (LEFT JOIN).
            if get::<Option<String>>(row, "slug")?.is_some() {
                items.push(item_from(row)?);
            }
        }
        Ok(items)
    }

    async fn assign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new(
            "{insert_ignore} {user_roles} (user_id, role_id) \
             SELECT ?, id FROM {rbac_items} WHERE kind = 'role' AND slug = ?\
             {on_conflict_nothing}",
        );
        let query = self.query(&SQL).bind(user.0).bind(role);
        if self.insert(query, Entity::Role, Entity::User).await? > 0 {
            return Ok(true);
        }
        // Nothing inserted: already assigned, or (MySQL's INSERT IGNORE turns a
        // foreign-key failure into a warning) an unknown user or role.
        let user_known = self.user_exists(user).await?;
        let role_known = user_known && self.item_exists(SlugKind::Role, role).await?;
        explain_no_insert([(user_known, NO_USER), (role_known, NO_ROLE)])
    }

    async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new(
            "DELETE FROM {user_roles} WHERE user_id = ? \
             AND role_id = (SELECT id FROM {rbac_items} WHERE kind = 'role' AND slug = ?)",
        );
        Ok(self
            .execute(|| self.query(&SQL).bind(user.0).bind(role))
            .await?
            > 0)
    }

    async fn grant_to_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new(
            "{insert_ignore} {user_grants} (user_id, item_id) \
             SELECT ?, id FROM {rbac_items} WHERE kind = ? AND slug = ?\
             {on_conflict_nothing}",
        );
        let query = self.query(&SQL).bind(user.0).bind(kind.as_str()).bind(slug);
        if self.insert(query, kind.into(), Entity::User).await? > 0 {
            return Ok(true);
        }
        let user_known = self.user_exists(user).await?;
        let item_known = user_known && self.item_exists(kind.slug_kind(), slug).await?;
        let no_item = StoreError::NotFound { what: kind.into() };
        explain_no_insert([(user_known, NO_USER), (item_known, no_item)])
    }

    async fn revoke_from_user(
        &self,
        user: UserId,
        kind: GrantKind,
        slug: &str,
    ) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new(
            "DELETE FROM {user_grants} WHERE user_id = ? \
             AND item_id = (SELECT id FROM {rbac_items} WHERE kind = ? AND slug = ?)",
        );
        let query = || self.query(&SQL).bind(user.0).bind(kind.as_str()).bind(slug);
        Ok(self.execute(query).await? > 0)
    }

    async fn user_grants(&self, user: UserId) -> Result<UserGrants, StoreError> {
        static SQL: Stmt = Stmt::new(
            "SELECT i.kind, i.slug FROM {user_grants} ug \
             JOIN {rbac_items} i ON i.id = ug.item_id WHERE ug.user_id = ? \
             UNION \
             SELECT i.kind, i.slug FROM {user_roles} ur \
             JOIN {role_grants} g ON g.role_id = ur.role_id \
             JOIN {rbac_items} i ON i.id = g.item_id WHERE ur.user_id = ? \
             UNION \
             SELECT r.kind, r.slug FROM {user_roles} ur \
             JOIN {rbac_items} r ON r.id = ur.role_id WHERE ur.user_id = ?",
        );
        let query = self.query(&SQL).bind(user.0).bind(user.0).bind(user.0);
        grants_from(&self.fetch_all(query).await?)
    }

    async fn assign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new(
            "{insert_ignore} {api_key_roles} (key_id, role_id) \
             SELECT ?, id FROM {rbac_items} WHERE kind = 'role' AND slug = ?\
             {on_conflict_nothing}",
        );
        let query = self.query(&SQL).bind(key.0).bind(role);
        if self.insert(query, Entity::Role, Entity::ApiKey).await? > 0 {
            return Ok(true);
        }
        // Nothing inserted: already assigned, or (MySQL's INSERT IGNORE turns a
        // foreign-key failure into a warning) an unknown key or role.
        let key_known = self.key_exists(key).await?;
        let role_known = key_known && self.item_exists(SlugKind::Role, role).await?;
        explain_no_insert([(key_known, NO_KEY), (role_known, NO_ROLE)])
    }

    async fn unassign_key_role(&self, key: ApiKeyId, role: &str) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new(
            "DELETE FROM {api_key_roles} WHERE key_id = ? \
             AND role_id = (SELECT id FROM {rbac_items} WHERE kind = 'role' AND slug = ?)",
        );
        Ok(self
            .execute(|| self.query(&SQL).bind(key.0).bind(role))
            .await?
            > 0)
    }

    /// [`user_grants`](RbacStore::user_grants) without direct grants: the key's roles and
    /// what they grant. An unknown key has no rows.
    async fn key_grants(&self, key: ApiKeyId) -> Result<UserGrants, StoreError> {
        static SQL: Stmt = Stmt::new(
            "SELECT i.kind, i.slug FROM {api_key_roles} kr \
             JOIN {role_grants} g ON g.role_id = kr.role_id \
             JOIN {rbac_items} i ON i.id = g.item_id WHERE kr.key_id = ? \
             UNION \
             SELECT r.kind, r.slug FROM {api_key_roles} kr \
             JOIN {rbac_items} r ON r.id = kr.role_id WHERE kr.key_id = ?",
        );
        let query = self.query(&SQL).bind(key.0).bind(key.0);
        grants_from(&self.fetch_all(query).await?)
    }
}

/// Rows of `kind` and `slug`, split by kind (no duplicates: the queries are `UNION`s).
fn grants_from(rows: &[DbRow]) -> Result<UserGrants, StoreError> {
    let mut grants = UserGrants::default();
    for row in rows {
        let slug: String = get(row, "slug")?;
        match kind_from(row, "kind")? {
            SlugKind::Role => grants.roles.push(slug),
            SlugKind::Permission => grants.permissions.push(slug),
            SlugKind::Ability => grants.abilities.push(slug),
        }
    }
    Ok(grants)
}
