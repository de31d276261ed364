//! `rbac apply <file>`: make the database's RBAC match a declarative file.
//!
//! The file (TOML or YAML) is the whole registry: every role, permission and ability it
//! does not name is undefined, and every role's grants are exactly the file's. Users are
//! listed by email, and each listed user's roles become exactly the file's; users not
//! listed are left alone. Direct user grants are not part of the file: the store API
//! reports a user's permissions as the union of direct and role grants, so a direct
//! grant cannot be told apart to be diffed (use `permissions assign` for those).
//! Labels are set when an item is defined; core has no call to relabel one.
//!
//! ```toml
//! [permissions]
//! "users:read" = "Read users"
//!
//! [abilities]
//! "reports:export" = "Export reports"
//!
//! [roles.admin]
//! label = "Administrator"
//! permissions = ["users:read"]
//! abilities = ["reports:export"]
//!
//! [users."alice@example.com"]
//! roles = ["admin"]
//! ```
//!
//! The changes are computed first and printed one per line; additions run before
//! removals. They are separate calls, not one transaction: a run stopped half way leaves
//! part of the changes made, and running it again completes them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use authkit::{Auth, GrantKind, SlugKind, UserId, check_slug};
use serde::{Deserialize, Serialize};

use super::user_by_email;
use crate::fail::Failure;
use crate::output::Out;

/// The file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RbacFile {
    /// Role slug → its label and grants.
    #[serde(default)]
    roles: BTreeMap<String, RoleSpec>,
    /// Permission slug → label.
    #[serde(default)]
    permissions: BTreeMap<String, String>,
    /// Ability slug → label.
    #[serde(default)]
    abilities: BTreeMap<String, String>,
    /// Email → roles.
    #[serde(default)]
    users: BTreeMap<String, UserSpec>,
}

/// One role of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleSpec {
    label: Option<String>,
    #[serde(default)]
    permissions: Vec<String>,
    #[serde(default)]
    abilities: Vec<String>,
}

/// One user of the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserSpec {
    #[serde(default)]
    roles: Vec<String>,
}

/// One change to make, in the order made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
enum Change {
    Define {
        kind: &'static str,
        slug: String,
        label: String,
    },
    Grant {
        role: String,
        kind: &'static str,
        slug: String,
    },
    Assign {
        email: String,
        role: String,
    },
    Revoke {
        role: String,
        kind: &'static str,
        slug: String,
    },
    Unassign {
        email: String,
        role: String,
    },
    Undefine {
        kind: &'static str,
        slug: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Define { kind, slug, .. } => write!(f, "define {kind} {slug}"),
            Change::Grant { role, kind, slug } => write!(f, "grant {kind} {slug} to role {role}"),
            Change::Assign { email, role } => write!(f, "assign role {role} to {email}"),
            Change::Revoke { role, kind, slug } => {
                write!(f, "revoke {kind} {slug} from role {role}")
            }
            Change::Unassign { email, role } => write!(f, "unassign role {role} from {email}"),
            Change::Undefine { kind, slug } => write!(f, "undefine {kind} {slug}"),
        }
    }
}

/// What `rbac apply` prints.
#[derive(Debug, Serialize)]
struct Applied {
    dry_run: bool,
    changes: Vec<Change>,
}

/// `rbac apply`: reads the file, computes the changes, makes them unless `dry_run`.
pub(crate) async fn run(auth: &Auth, file: &Path, dry_run: bool, out: Out) -> Result<(), Failure> {
    let spec = read(file)?;
    check(&spec)?;
    let users = resolve_users(auth, &spec).await?;
    let changes = plan(auth, &spec, &users).await?;
    if !dry_run {
        for change in &changes {
            make(auth, change, &users).await?;
        }
    }
    let applied = Applied { dry_run, changes };
    out.show(&applied, |a| {
        if a.changes.is_empty() {
            return "nothing to change".to_owned();
        }
        let lead = if a.dry_run { "would " } else { "" };
        let lines: Vec<String> = a.changes.iter().map(|c| format!("{lead}{c}")).collect();
        lines.join("\n")
    })
}

/// Reads and parses the file by its extension.
fn read(file: &Path) -> Result<RbacFile, Failure> {
    let name = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::usage(format!("cannot read {name}: {e}")))?;
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    match ext.to_ascii_lowercase().as_str() {
        "toml" => toml::from_str(&text).map_err(|e| {
            let at = e
                .span()
                .map(|span| position(&text, span.start))
                .unwrap_or_default();
            Failure::usage(format!("{name}: {at}{}", e.message()))
        }),
        "yaml" | "yml" => {
            serde_norway::from_str(&text).map_err(|e| Failure::usage(format!("{name}: {e}")))
        }
        _ => Err(Failure::usage(format!(
            "{name}: unknown format; name it .toml, .yaml or .yml"
        ))),
    }
}

/// `line L, column C: ` of a byte offset into `text` (both from 1).
fn position(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: ")
}

/// Every slug is valid, and every slug a role or user names is defined by the file.
fn check(spec: &RbacFile) -> Result<(), Failure> {
    let slugs = spec
        .roles
        .keys()
        .chain(spec.permissions.keys())
        .chain(spec.abilities.keys());
    for slug in slugs {
        check_slug(slug)?;
    }
    for (role, r) in &spec.roles {
        let who = || format!("role {role}");
        if let Some(p) = r
            .permissions
            .iter()
            .find(|p| !spec.permissions.contains_key(*p))
        {
            return Err(undeclared(who(), "permission", p));
        }
        if let Some(a) = r
            .abilities
            .iter()
            .find(|a| !spec.abilities.contains_key(*a))
        {
            return Err(undeclared(who(), "ability", a));
        }
    }
    for (email, u) in &spec.users {
        if let Some(role) = u.roles.iter().find(|r| !spec.roles.contains_key(*r)) {
            return Err(undeclared(format!("user {email}"), "role", role));
        }
    }
    Ok(())
}

fn undeclared(who: String, kind: &str, slug: &str) -> Failure {
    Failure::usage(format!(
        "rbac file: {who} names {kind} {slug}, which the file does not define"
    ))
}

/// A user the file lists: its id and the roles it should hold.
#[derive(Debug)]
struct Listed {
    id: UserId,
    roles: BTreeSet<String>,
}

/// The users the file lists, by normalized email; an unknown one fails before anything
/// changes.
async fn resolve_users(auth: &Auth, spec: &RbacFile) -> Result<BTreeMap<String, Listed>, Failure> {
    let mut users = BTreeMap::new();
    for (email, wanted) in &spec.users {
        let user = user_by_email(auth, email).await?;
        let roles = wanted.roles.iter().cloned().collect();
        if users
            .insert(user.email.clone(), Listed { id: user.id, roles })
            .is_some()
        {
            return Err(Failure::usage(format!(
                "rbac file: user {} is listed twice",
                user.email
            )));
        }
    }
    Ok(users)
}

/// The file's registry of one kind: slug → label (the slug when the label is empty).
fn wanted_items(spec: &RbacFile, kind: SlugKind) -> BTreeMap<String, String> {
    let label = |slug: &String, label: Option<&String>| {
        let label = label.map(|l| l.trim()).filter(|l| !l.is_empty());
        label.unwrap_or(slug).to_owned()
    };
    match kind {
        SlugKind::Role => spec
            .roles
            .iter()
            .map(|(s, r)| (s.clone(), label(s, r.label.as_ref())))
            .collect(),
        SlugKind::Permission => spec
            .permissions
            .iter()
            .map(|(s, l)| (s.clone(), label(s, Some(l))))
            .collect(),
        SlugKind::Ability => spec
            .abilities
            .iter()
            .map(|(s, l)| (s.clone(), label(s, Some(l))))
            .collect(),
    }
}

const KINDS: [SlugKind; 3] = [SlugKind::Role, SlugKind::Permission, SlugKind::Ability];

/// The changes that make the database match `spec`: additions, then removals (the
/// undefinitions last).
async fn plan(
    auth: &Auth,
    spec: &RbacFile,
    users: &BTreeMap<String, Listed>,
) -> Result<Vec<Change>, Failure> {
    let (mut adds, mut removes) = (Vec::new(), Vec::new());
    let mut roles_held = BTreeSet::new();
    for kind in KINDS {
        let items = auth.list_items(kind).await?;
        let have: BTreeSet<String> = items.into_iter().map(|i| i.slug).collect();
        diff_items(
            kind,
            &have,
            &wanted_items(spec, kind),
            &mut adds,
            &mut removes,
        );
        if kind == SlugKind::Role {
            roles_held = have;
        }
    }
    for (role, wanted) in &spec.roles {
        let held = match roles_held.contains(role) {
            true => role_grants(auth, role).await?,
            false => BTreeSet::new(),
        };
        diff_role(spec, role, wanted, &held, &mut adds, &mut removes);
    }
    for (email, user) in users {
        let grants = auth.user_grants(user.id).await?;
        let held: BTreeSet<String> = grants.roles.into_iter().collect();
        diff_user(spec, email, user, &held, &mut adds, &mut removes);
    }
    removes.sort_by_key(|c| matches!(c, Change::Undefine { .. }));
    adds.extend(removes);
    Ok(adds)
}

/// The items of `kind` to define and to undefine.
fn diff_items(
    kind: SlugKind,
    have: &BTreeSet<String>,
    want: &BTreeMap<String, String>,
    adds: &mut Vec<Change>,
    removes: &mut Vec<Change>,
) {
    for (slug, label) in want.iter().filter(|(s, _)| !have.contains(*s)) {
        let (kind, slug, label) = (kind.as_str(), slug.clone(), label.clone());
        adds.push(Change::Define { kind, slug, label });
    }
    for slug in have.iter().filter(|s| !want.contains_key(*s)) {
        let (kind, slug) = (kind.as_str(), slug.clone());
        removes.push(Change::Undefine { kind, slug });
    }
}

/// The roles to assign to and unassign from a listed user. A held role the file drops
/// goes with its undefinition.
fn diff_user(
    spec: &RbacFile,
    email: &str,
    user: &Listed,
    held: &BTreeSet<String>,
    adds: &mut Vec<Change>,
    removes: &mut Vec<Change>,
) {
    for role in user.roles.difference(held) {
        let (email, role) = (email.to_owned(), role.clone());
        adds.push(Change::Assign { email, role });
    }
    let kept = |r: &&String| spec.roles.contains_key(*r);
    for role in held.difference(&user.roles).filter(kept) {
        let (email, role) = (email.to_owned(), role.clone());
        removes.push(Change::Unassign { email, role });
    }
}

/// What a role grants now, as (kind, slug).
async fn role_grants(auth: &Auth, role: &str) -> Result<BTreeSet<(GrantKind, String)>, Failure> {
    let items = auth.role_grants(role).await?;
    Ok(items
        .into_iter()
        .filter_map(|i| i.kind.grant_kind().map(|k| (k, i.slug)))
        .collect())
}

/// The grants to add to and take from `role`. A held grant of an item the file drops
/// goes with the item's undefinition, so it is not revoked on its own.
fn diff_role(
    spec: &RbacFile,
    role: &str,
    wanted: &RoleSpec,
    held: &BTreeSet<(GrantKind, String)>,
    adds: &mut Vec<Change>,
    removes: &mut Vec<Change>,
) {
    let want: BTreeSet<(GrantKind, String)> = wanted
        .permissions
        .iter()
        .map(|p| (GrantKind::Permission, p.clone()))
        .chain(
            wanted
                .abilities
                .iter()
                .map(|a| (GrantKind::Ability, a.clone())),
        )
        .collect();
    for (kind, slug) in want.difference(held) {
        let (role, kind, slug) = (role.to_owned(), kind.as_str(), slug.clone());
        adds.push(Change::Grant { role, kind, slug });
    }
    let kept = |kind: &GrantKind, slug: &String| match kind {
        GrantKind::Permission => spec.permissions.contains_key(slug),
        GrantKind::Ability => spec.abilities.contains_key(slug),
    };
    for (kind, slug) in held.difference(&want).filter(|(k, s)| kept(k, s)) {
        let (role, kind, slug) = (role.to_owned(), kind.as_str(), slug.clone());
        removes.push(Change::Revoke { role, kind, slug });
    }
}

/// Makes one change through `Auth`.
async fn make(
    auth: &Auth,
    change: &Change,
    users: &BTreeMap<String, Listed>,
) -> Result<(), Failure> {
    let user = |email: &String| {
        users
            .get(email)
            .map(|u| u.id)
            .ok_or_else(|| Failure::not_found(format!("no user with email {email}")))
    };
    match change {
        Change::Define { kind, slug, label } => {
            auth.define(slug_kind(kind), slug, label).await?;
        }
        Change::Undefine { kind, slug } => {
            auth.undefine(slug_kind(kind), slug).await?;
        }
        Change::Grant { role, kind, slug } => {
            auth.grant_to_role(role, grant_kind(kind), slug).await?;
        }
        Change::Revoke { role, kind, slug } => {
            auth.revoke_from_role(role, grant_kind(kind), slug).await?;
        }
        Change::Assign { email, role } => {
            auth.assign_role(user(email)?, role).await?;
        }
        Change::Unassign { email, role } => {
            auth.unassign_role(user(email)?, role).await?;
        }
    }
    Ok(())
}

fn slug_kind(name: &str) -> SlugKind {
    match name {
        "role" => SlugKind::Role,
        "permission" => SlugKind::Permission,
        _ => SlugKind::Ability,
    }
}

fn grant_kind(name: &str) -> GrantKind {
    match name {
        "permission" => GrantKind::Permission,
        _ => GrantKind::Ability,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
        [permissions]
        "users:read" = "Read users"
        [abilities]
        export = ""
        [roles.admin]
        permissions = ["users:read"]
        abilities = ["export"]
        [users."Alice@Example.com"]
        roles = ["admin"]
    "#;

    const YAML: &str = "
permissions:
  users:read: Read users
abilities:
  export: ''
roles:
  admin:
    permissions: [users:read]
    abilities: [export]
users:
  Alice@Example.com:
    roles: [admin]
";

    #[test]
    fn toml_and_yaml_say_the_same() {
        let from_toml: RbacFile = toml::from_str(TOML).unwrap_or_default();
        let from_yaml: RbacFile = serde_norway::from_str(YAML).unwrap_or_default();
        for spec in [&from_toml, &from_yaml] {
            assert!(check(spec).is_ok());
            assert_eq!(spec.roles["admin"].permissions, ["users:read"]);
            assert_eq!(spec.users["Alice@Example.com"].roles, ["admin"]);
            let abilities = wanted_items(spec, SlugKind::Ability);
            assert_eq!(abilities["export"], "export", "an empty label is the slug");
        }
    }

    #[test]
    fn a_grant_of_something_undeclared_is_refused() {
        let spec: RbacFile =
            toml::from_str("[roles.admin]\npermissions = [\"nope\"]").unwrap_or_default();
        let failure = check(&spec).err().map(|f| f.line()).unwrap_or_default();
        assert!(failure.contains("permission nope"), "{failure}");
        let typo: Result<RbacFile, _> = toml::from_str("[rolez.admin]");
        assert!(typo.is_err(), "unknown sections are refused");
        assert_eq!(position("a\nbc = 3", 7), "line 2, column 6: ");
    }

    #[test]
    fn removals_of_dropped_items_leave_their_grants_to_the_undefinition() {
        let spec: RbacFile = toml::from_str(TOML).unwrap_or_default();
        let held: BTreeSet<(GrantKind, String)> = [
            (GrantKind::Permission, "old".to_owned()),
            (GrantKind::Permission, "users:read".to_owned()),
        ]
        .into();
        let (mut adds, mut removes) = (Vec::new(), Vec::new());
        diff_role(
            &spec,
            "admin",
            &spec.roles["admin"],
            &held,
            &mut adds,
            &mut removes,
        );
        assert_eq!(adds.len(), 1, "export is granted");
        assert_eq!(adds[0].to_string(), "grant ability export to role admin");
        assert!(removes.is_empty(), "`old` goes with its undefinition");
    }
}
