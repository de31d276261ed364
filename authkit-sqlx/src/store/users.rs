//! [`UserStore`]: users with a unique lowercased email.
//!
//! Emails are unique on `lower(email)` (MySQL: on the stored generated column
//! `email_lower`), so lookups by email compare lowercased on both sides.

use async_trait::async_trait;
use authkit::{Entity, StoreError, Timestamp, User, UserId, UserStore};
use authkit_schema::Dialect;

use super::shared::{NO_USER, get};
use super::{DIALECT, DbRow, Store, conv};
use crate::sql::Stmt;

/// The columns [`user_from`] reads, in table order.
macro_rules! user_cols {
    () => {
        "id, email, password_hash, email_verified_at, created_at, updated_at"
    };
}

fn user_from(row: &DbRow) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(get(row, "id")?),
        email: get(row, "email")?,
        password_hash: get(row, "password_hash")?,
        email_verified_at: conv::get_ts_opt(row, "email_verified_at")?,
        created_at: conv::get_ts(row, "created_at")?,
        updated_at: conv::get_ts(row, "updated_at")?,
    })
}

impl Store {
    /// Whether the user exists (for the error of a write that matched no row).
    pub(super) async fn user_exists(&self, id: UserId) -> Result<bool, StoreError> {
        static SQL: Stmt = Stmt::new("SELECT 1 FROM {users} WHERE id = ?");
        self.exists(self.query(&SQL).bind(id.0)).await
    }

    /// Locks the user's row for the rest of the transaction: steps that must not run
    /// concurrently for one user (issuing a one-time token) queue on it. `None` when the
    /// user does not exist.
    pub(super) fn lock_user_query(&self, id: UserId) -> super::shared::Query {
        static SQL: Stmt = Stmt::new(match DIALECT {
            // Serializes against itself, not against the FOR KEY SHARE of FK checks.
            Dialect::Postgres => "SELECT 1 FROM {users} WHERE id = ? FOR NO KEY UPDATE",
            Dialect::MySql => "SELECT 1 FROM {users} WHERE id = ? FOR UPDATE",
            Dialect::Sqlite => "SELECT 1 FROM {users} WHERE id = ?",
        });
        self.query(&SQL).bind(id.0)
    }
}

#[async_trait]
impl UserStore for Store {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        static SQL: Stmt = Stmt::new(
            "INSERT INTO {users} \
             (id, email, password_hash, email_verified_at, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)",
        );
        let query = self
            .query(&SQL)
            .bind(user.id.0)
            .bind(user.email.as_str())
            .bind(user.password_hash.as_deref())
            .bind(user.email_verified_at.map(conv::ts))
            .bind(conv::ts(user.created_at))
            .bind(conv::ts(user.updated_at));
        self.insert(query, Entity::User, Entity::User).await?;
        Ok(())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        static SQL: Stmt = Stmt::new(concat!(
            "SELECT ",
            user_cols!(),
            " FROM {users} WHERE id = ?"
        ));
        let row = self.fetch_optional(self.query(&SQL).bind(id.0)).await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        static SQL: Stmt = Stmt::new(match DIALECT {
            Dialect::MySql => concat!(
                "SELECT ",
                user_cols!(),
                " FROM {users} WHERE email_lower = LOWER(?)"
            ),
            Dialect::Postgres | Dialect::Sqlite => concat!(
                "SELECT ",
                user_cols!(),
                " FROM {users} WHERE lower(email) = lower(?)"
            ),
        });
        let row = self.fetch_optional(self.query(&SQL).bind(email)).await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        static SQL: Stmt =
            Stmt::new("UPDATE {users} SET password_hash = ?, updated_at = ? WHERE id = ?");
        let query = || self.query(&SQL).bind(hash).bind(conv::ts(now)).bind(id.0);
        if self.execute(query).await? == 0 {
            return Err(NO_USER);
        }
        Ok(())
    }

    async fn mark_email_verified(&self, id: UserId, now: Timestamp) -> Result<(), StoreError> {
        static SQL: Stmt = Stmt::new(
            "UPDATE {users} SET email_verified_at = ?, updated_at = ? \
             WHERE id = ? AND email_verified_at IS NULL",
        );
        let query = || {
            self.query(&SQL)
                .bind(conv::ts(now))
                .bind(conv::ts(now))
                .bind(id.0)
        };
        if self.execute(query).await? == 0 && !self.user_exists(id).await? {
            return Err(NO_USER);
        }
        Ok(())
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        // Sessions, tokens, keys, assignments and grants go by ON DELETE CASCADE, in the
        // same statement.
        static SQL: Stmt = Stmt::new("DELETE FROM {users} WHERE id = ?");
        Ok(self.execute(|| self.query(&SQL).bind(id.0)).await? > 0)
    }
}
