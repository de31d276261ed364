//! `roles …`, `permissions …`, `abilities …`.

use authkit::{Auth, GrantKind, RbacItem, SlugKind};
use serde::Serialize;

use super::{require_item, user_by_email};
use crate::cli::{DefineArgs, GrantableCommand, RoleCommand};
use crate::fail::Failure;
use crate::output::{Out, list_or_dash, table};

/// An item as listed.
#[derive(Debug, Serialize)]
struct ItemView {
    slug: String,
    label: String,
}

/// A role as listed, with what it grants.
#[derive(Debug, Serialize)]
struct RoleView {
    slug: String,
    label: String,
    permissions: Vec<String>,
    abilities: Vec<String>,
}

/// Runs a `roles` subcommand.
pub(crate) async fn roles(auth: &Auth, command: RoleCommand, out: Out) -> Result<(), Failure> {
    match command {
        RoleCommand::Define(args) => define(auth, SlugKind::Role, args, out).await,
        RoleCommand::Undefine { slug } => undefine(auth, SlugKind::Role, &slug, out).await,
        RoleCommand::List => list_roles(auth, out).await,
        RoleCommand::Assign { role, email } => {
            let user = user_by_email(auth, &email).await?;
            let new = auth.assign_role(user.id, &role).await?;
            report(out, new, format!("assigned role {role} to {}", user.email))
        }
        RoleCommand::Unassign { role, email } => {
            let user = user_by_email(auth, &email).await?;
            require_item(auth, SlugKind::Role, &role).await?;
            let held = auth.unassign_role(user.id, &role).await?;
            report(
                out,
                held,
                format!("unassigned role {role} from {}", user.email),
            )
        }
    }
}

/// Runs a `permissions` (`GrantKind::Permission`) or `abilities` subcommand.
pub(crate) async fn grantables(
    auth: &Auth,
    kind: GrantKind,
    command: GrantableCommand,
    out: Out,
) -> Result<(), Failure> {
    let what = kind.as_str();
    match command {
        GrantableCommand::Define(args) => define(auth, kind.slug_kind(), args, out).await,
        GrantableCommand::Undefine { slug } => undefine(auth, kind.slug_kind(), &slug, out).await,
        GrantableCommand::List => list_items(auth, kind.slug_kind(), out).await,
        GrantableCommand::Grant { slug, role } => {
            let new = auth.grant_to_role(&role, kind, &slug).await?;
            report(out, new, format!("granted {what} {slug} to role {role}"))
        }
        GrantableCommand::Revoke { slug, role } => {
            require_item(auth, SlugKind::Role, &role).await?;
            require_item(auth, kind.slug_kind(), &slug).await?;
            let held = auth.revoke_from_role(&role, kind, &slug).await?;
            report(out, held, format!("revoked {what} {slug} from role {role}"))
        }
        GrantableCommand::Assign { slug, email } => {
            let user = user_by_email(auth, &email).await?;
            let new = auth.grant_to_user(user.id, kind, &slug).await?;
            report(out, new, format!("granted {what} {slug} to {}", user.email))
        }
        GrantableCommand::Unassign { slug, email } => {
            let user = user_by_email(auth, &email).await?;
            require_item(auth, kind.slug_kind(), &slug).await?;
            let held = auth.revoke_from_user(user.id, kind, &slug).await?;
            report(
                out,
                held,
                format!("revoked {what} {slug} from {}", user.email),
            )
        }
    }
}

/// Prints what changed, or that nothing had to (`changed` false: already so).
fn report(out: Out, changed: bool, done: String) -> Result<(), Failure> {
    if changed {
        out.done(true, &done)
    } else {
        out.done(false, &format!("unchanged (already so): {done}"))
    }
}

async fn define(auth: &Auth, kind: SlugKind, args: DefineArgs, out: Out) -> Result<(), Failure> {
    let label = args.label.as_deref().unwrap_or(&args.slug);
    auth.define(kind, &args.slug, label).await?;
    out.done(true, &format!("defined {} {}", kind.as_str(), args.slug))
}

async fn undefine(auth: &Auth, kind: SlugKind, slug: &str, out: Out) -> Result<(), Failure> {
    if !auth.undefine(kind, slug).await? {
        return Err(authkit::Error::UnknownSlug {
            kind: kind.as_str(),
            slugs: vec![slug.to_owned()],
        }
        .into());
    }
    out.done(true, &format!("undefined {} {slug}", kind.as_str()))
}

async fn list_items(auth: &Auth, kind: SlugKind, out: Out) -> Result<(), Failure> {
    let items: Vec<ItemView> = auth
        .list_items(kind)
        .await?
        .into_iter()
        .map(|RbacItem { slug, label, .. }| ItemView { slug, label })
        .collect();
    out.show(&items, |items| {
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| vec![i.slug.clone(), i.label.clone()])
            .collect();
        table(&["SLUG", "LABEL"], &rows)
    })
}

async fn list_roles(auth: &Auth, out: Out) -> Result<(), Failure> {
    let mut roles = Vec::new();
    for item in auth.list_items(SlugKind::Role).await? {
        let grants = auth.role_grants(&item.slug).await?;
        let slugs = |kind: SlugKind| -> Vec<String> {
            grants
                .iter()
                .filter(|g| g.kind == kind)
                .map(|g| g.slug.clone())
                .collect()
        };
        roles.push(RoleView {
            permissions: slugs(SlugKind::Permission),
            abilities: slugs(SlugKind::Ability),
            slug: item.slug,
            label: item.label,
        });
    }
    out.show(&roles, |roles| {
        let rows: Vec<Vec<String>> = roles
            .iter()
            .map(|r| {
                vec![
                    r.slug.clone(),
                    r.label.clone(),
                    list_or_dash(&r.permissions),
                    list_or_dash(&r.abilities),
                ]
            })
            .collect();
        table(&["SLUG", "LABEL", "PERMISSIONS", "ABILITIES"], &rows)
    })
}
