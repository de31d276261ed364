//! One module per command group. Each calls `Auth` (or the store and schema APIs) and
//! formats what it returns; no rule of authkit's is decided here.

pub(crate) mod apply;
pub(crate) mod keys;
pub(crate) mod purge;
pub(crate) mod rbac;
pub(crate) mod schema;
pub(crate) mod users;

use authkit::{Auth, Error, SlugKind, User, normalize_email};

use crate::fail::Failure;

/// The user with this email (normalized as core does), or a not-found failure naming it.
pub(crate) async fn user_by_email(auth: &Auth, email: &str) -> Result<User, Failure> {
    let normalized = normalize_email(email)?;
    auth.stores()
        .users
        .user_by_email(&normalized)
        .await?
        .ok_or_else(|| Failure::not_found(format!("no user with email {normalized}")))
}

/// Fails, naming the slug, unless `slug` is a registered item of `kind`.
pub(crate) async fn require_item(auth: &Auth, kind: SlugKind, slug: &str) -> Result<(), Failure> {
    authkit::check_slug(slug)?;
    let items = auth.list_items(kind).await?;
    if items.iter().any(|i| i.slug == slug) {
        return Ok(());
    }
    Err(Error::UnknownSlug {
        kind: kind.as_str(),
        slugs: vec![slug.to_owned()],
    }
    .into())
}
