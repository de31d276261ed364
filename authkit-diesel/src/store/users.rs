//! [`UserStore`]: users with a unique lowercased email.
//!
//! Emails are unique on `lower(email)` (MySQL: on the stored generated column
//! `email_lower`), so lookups by email compare lowercased on both sides.

use async_trait::async_trait;
use authkit::{Entity, StoreError, Timestamp, User, UserId, UserStore};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Store;
use super::shared::NO_USER;
use crate::error::retrying;
use crate::schema::authkit_users as users;
use crate::sql_types::{DbId, DbTs};

/// A row of `authkit_users`.
///
/// `None` inserts `NULL` (the column's default), not `DEFAULT`: only then does Diesel
/// cache the prepared `INSERT`.
#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
struct UserRow {
    id: DbId,
    email: String,
    password_hash: Option<String>,
    email_verified_at: Option<DbTs>,
    created_at: DbTs,
    updated_at: DbTs,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            id: UserId(row.id.0),
            email: row.email,
            password_hash: row.password_hash,
            email_verified_at: row.email_verified_at.map(|t| t.0),
            created_at: row.created_at.0,
            updated_at: row.updated_at.0,
        }
    }
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        UserRow {
            id: DbId(user.id.0),
            email: user.email.clone(),
            password_hash: user.password_hash.clone(),
            email_verified_at: user.email_verified_at.map(DbTs),
            created_at: DbTs(user.created_at),
            updated_at: DbTs(user.updated_at),
        }
    }
}

impl Store {
    /// Whether the user exists (for the error of a write that matched no row).
    pub(super) async fn user_exists(&self, id: UserId) -> Result<bool, StoreError> {
        self.read(async |conn| {
            let query = users::table.find(DbId(id.0)).select(users::id);
            Ok(query.first::<DbId>(conn).await.optional()?.is_some())
        })
        .await
    }
}

#[async_trait]
impl UserStore for Store {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let row = UserRow::from(user);
        self.step(Entity::User, Entity::User, async |conn| {
            diesel::insert_into(users::table)
                .values(&row)
                .execute(conn)
                .await?;
            Ok(())
        })
        .await
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = self
            .read(async |conn| {
                let query = users::table.find(DbId(id.0)).select(UserRow::as_select());
                Ok(query.first(conn).await.optional()?)
            })
            .await?;
        Ok(row.map(User::from))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let row = self
            .read(async |conn| {
                let query = users::table
                    .filter(email_matches!(email))
                    .select(UserRow::as_select());
                Ok(query.first(conn).await.optional()?)
            })
            .await?;
        Ok(row.map(User::from))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let changed = self
            .read(async |conn| {
                let query = diesel::update(users::table.find(DbId(id.0))).set((
                    users::password_hash.eq(hash),
                    users::updated_at.eq(DbTs(now)),
                ));
                Ok(retrying!(query.clone().execute(conn).await)?)
            })
            .await?;
        if changed == 0 {
            return Err(NO_USER);
        }
        Ok(())
    }

    async fn mark_email_verified(&self, id: UserId, now: Timestamp) -> Result<(), StoreError> {
        let changed = self
            .read(async |conn| {
                let unverified = users::table
                    .find(DbId(id.0))
                    .filter(users::email_verified_at.is_null());
                let query = diesel::update(unverified).set((
                    users::email_verified_at.eq(DbTs(now)),
                    users::updated_at.eq(DbTs(now)),
                ));
                Ok(retrying!(query.clone().execute(conn).await)?)
            })
            .await?;
        if changed == 0 && !self.user_exists(id).await? {
            return Err(NO_USER);
        }
        Ok(())
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        // Sessions, tokens, keys, assignments and grants go by ON DELETE CASCADE, in the
        // same statement.
        let deleted = self
            .read(async |conn| {
                let query = diesel::delete(users::table.find(DbId(id.0)));
                Ok(retrying!(query.clone().execute(conn).await)?)
            })
            .await?;
        Ok(deleted > 0)
    }
}
