//! [`UserStore`]: users with a unique email, compared ignoring ASCII case.

use async_trait::async_trait;
use authkit::{Entity, StoreError, Timestamp, User, UserId, UserStore};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, QueryFilter};

use super::shared::{NO_USER, t, t_opt, ts, ts_opt};
use super::{Store, e};
use crate::error::{backend, map, retrying};
use e::user::{ActiveModel, Column, Entity as Users, Model};

/// A user from its row.
fn user_from(row: Model) -> Result<User, StoreError> {
    Ok(User {
        id: UserId(row.id),
        email: row.email,
        password_hash: row.password_hash,
        email_verified_at: ts_opt("email_verified_at", row.email_verified_at)?,
        created_at: ts("created_at", row.created_at)?,
        updated_at: ts("updated_at", row.updated_at)?,
    })
}

impl Store {
    /// The condition "email equals `email` ignoring ASCII case", on the indexed
    /// expression: `lower(email)`, or MySQL's stored `email_lower` column (which the
    /// entity leaves out, since the database computes it).
    fn email_is(&self, email: &str) -> sea_orm::sea_query::SimpleExpr {
        let wanted = Func::lower(Expr::val(email.to_owned()));
        match self.backend() {
            DbBackend::MySql => Expr::col(Alias::new("email_lower")).eq(wanted),
            _ => Expr::expr(Func::lower(Expr::col(Column::Email))).eq(wanted),
        }
    }
}

#[async_trait]
impl UserStore for Store {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        let row = ActiveModel {
            id: Set(user.id.0),
            email: Set(user.email.clone()),
            password_hash: Set(user.password_hash.clone()),
            email_verified_at: Set(t_opt(user.email_verified_at)),
            created_at: Set(t(user.created_at)),
            updated_at: Set(t(user.updated_at)),
        };
        Users::insert(row)
            .exec_without_returning(&self.db)
            .await
            .map_err(|e| map(e, Entity::User, Entity::User))?;
        Ok(())
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let row = Users::find_by_id(id.0)
            .one(&self.db)
            .await
            .map_err(backend)?;
        row.map(user_from).transpose()
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let select = || Users::find().filter(self.email_is(email));
        let values = vec![email.to_owned().into()];
        let row = self
            .hot_one(&self.hot.user_by_email, select, values)
            .await?;
        row.map(user_from).transpose()
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let done = retrying!(
            Users::update_many()
                .col_expr(Column::PasswordHash, Expr::value(hash.map(str::to_owned)))
                .col_expr(Column::UpdatedAt, Expr::value(t(now)))
                .filter(Column::Id.eq(id.0))
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        if done.rows_affected == 0 {
            return Err(NO_USER);
        }
        Ok(())
    }

    /// A conditional update; when it changes nothing, a read tells an already verified
    /// user (fine, the first time stays) from an unknown one.
    async fn mark_email_verified(&self, id: UserId, now: Timestamp) -> Result<(), StoreError> {
        let done = retrying!(
            Users::update_many()
                .col_expr(Column::EmailVerifiedAt, Expr::value(t(now)))
                .col_expr(Column::UpdatedAt, Expr::value(t(now)))
                .filter(Column::Id.eq(id.0))
                .filter(Column::EmailVerifiedAt.is_null())
                .exec(&self.db)
                .await
        )
        .map_err(backend)?;
        if done.rows_affected == 0 && self.user_by_id(id).await?.is_none() {
            return Err(NO_USER);
        }
        Ok(())
    }

    /// One `DELETE`: the foreign keys cascade to everything the user owns.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        let done = retrying!(Users::delete_by_id(id.0).exec(&self.db).await).map_err(backend)?;
        Ok(done.rows_affected > 0)
    }
}
