//! [`RbacStore`](authkit::RbacStore): items per kind, grants to roles and users, the
//! union a user holds, and removal that takes grants with it.

use authkit::{
    Entity, GrantKind, RbacItem, RbacItemId, SlugKind, StoreError, Stores, UserGrants, UserId,
};

use crate::StoreFactory;
use crate::fixtures::{canonical, create_user, item};

use SlugKind::{Ability, Permission, Role};

async fn define(stores: &Stores, items: &[(SlugKind, &str)]) {
    for (kind, slug) in items {
        stores
            .rbac
            .define_item(&item(*kind, slug))
            .await
            .expect("define_item");
    }
}

fn strings(slugs: &[&str]) -> Vec<String> {
    slugs.iter().map(|s| (*s).to_owned()).collect()
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) {
    match result {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("{what}: expected NotFound, got {other:?}"),
    }
}

/// Defined items are listed per kind, by slug, labels kept; one slug may exist under
/// several kinds.
pub async fn define_and_list<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    define(
        &stores,
        &[
            (Permission, "posts.write"),
            (Role, "editor"),
            (Permission, "posts.read"),
            (Ability, "billing"),
            (Role, "admin"),
            (Permission, "admin"),
        ],
    )
    .await;

    let roles = canonical(stores.rbac.list_items(Role).await.expect("list_items"));
    assert_eq!(
        roles,
        vec![item(Role, "admin"), item(Role, "editor")],
        "list_items(Role): every role defined, labels kept"
    );
    let permissions = canonical(
        stores
            .rbac
            .list_items(Permission)
            .await
            .expect("list_items"),
    );
    assert_eq!(
        permissions,
        vec![
            item(Permission, "admin"),
            item(Permission, "posts.read"),
            item(Permission, "posts.write")
        ],
        "list_items(Permission): every permission defined (a slug may exist under several kinds)"
    );
    let abilities = canonical(stores.rbac.list_items(Ability).await.expect("list_items"));
    assert_eq!(
        abilities,
        vec![item(Ability, "billing")],
        "list_items(Ability): every ability defined"
    );
}

/// Defining a slug again for its kind is `Conflict`, and the first label stays.
pub async fn define_duplicate_conflicts<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    define(&stores, &[(Role, "editor")]).await;
    let again = RbacItem {
        id: RbacItemId::new(),
        kind: Role,
        slug: "editor".to_owned(),
        label: "Another label".to_owned(),
    };
    let err = stores
        .rbac
        .define_item(&again)
        .await
        .expect_err("define_item (duplicate slug) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "define_item: duplicate slug: expected Conflict, got {err:?}"
    );
    let roles = canonical(stores.rbac.list_items(Role).await.expect("list_items"));
    assert_eq!(
        roles,
        vec![item(Role, "editor")],
        "a define_item refused with Conflict must keep the first definition"
    );
}

/// `missing_items` returns the unregistered slugs of the kind, in the order given.
pub async fn missing_items_in_given_order<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    define(
        &stores,
        &[(Permission, "a"), (Permission, "c"), (Ability, "d")],
    )
    .await;
    let missing = stores
        .rbac
        .missing_items(Permission, &strings(&["d", "a", "z", "b", "c"]))
        .await
        .expect("missing_items");
    assert_eq!(
        missing,
        strings(&["d", "z", "b"]),
        "missing_items must return the unregistered slugs of the kind, in the order given"
    );
    let missing = stores
        .rbac
        .missing_items(Permission, &[])
        .await
        .expect("missing_items");
    assert!(missing.is_empty(), "missing_items of no slugs is empty");
    let missing = stores
        .rbac
        .missing_items(Ability, &strings(&["d"]))
        .await
        .expect("missing_items");
    assert!(
        missing.is_empty(),
        "missing_items of a registered ability is empty"
    );
}

/// `grant_to_role` is `true` when new and `false` when already held; `role_grants`
/// lists them by kind then slug; `revoke_from_role` is `true` once. Unknown role or
/// item is `NotFound`.
pub async fn grant_to_role<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    define(
        &stores,
        &[
            (Role, "editor"),
            (Role, "viewer"),
            (Permission, "posts.write"),
            (Permission, "posts.read"),
            (Ability, "export"),
        ],
    )
    .await;

    for (kind, slug) in [
        (GrantKind::Ability, "export"),
        (GrantKind::Permission, "posts.write"),
        (GrantKind::Permission, "posts.read"),
    ] {
        assert!(
            stores
                .rbac
                .grant_to_role("editor", kind, slug)
                .await
                .expect("grant_to_role"),
            "grant_to_role of a new grant ({slug}) returns true"
        );
    }
    assert!(
        !stores
            .rbac
            .grant_to_role("editor", GrantKind::Permission, "posts.read")
            .await
            .expect("grant_to_role"),
        "grant_to_role of a grant already held returns false"
    );
    let grants = canonical(
        stores
            .rbac
            .role_grants("editor")
            .await
            .expect("role_grants"),
    );
    let mut expected = vec![
        item(Permission, "posts.read"),
        item(Permission, "posts.write"),
        item(Ability, "export"),
    ];
    expected.sort_by(|a, b| (a.kind, &a.slug).cmp(&(b.kind, &b.slug)));
    assert_eq!(grants, expected, "role_grants, by kind then slug");
    assert!(
        canonical(
            stores
                .rbac
                .role_grants("viewer")
                .await
                .expect("role_grants")
        )
        .is_empty(),
        "role_grants of a role without grants is empty"
    );

    assert_not_found(
        stores
            .rbac
            .grant_to_role("nobody", GrantKind::Permission, "posts.read")
            .await,
        "unknown role",
    );
    assert_not_found(
        stores
            .rbac
            .grant_to_role("editor", GrantKind::Permission, "posts.delete")
            .await,
        "unknown permission",
    );
    assert_not_found(
        stores
            .rbac
            .grant_to_role("editor", GrantKind::Ability, "posts.read")
            .await,
        "slug registered under another kind",
    );
    assert_not_found(
        stores.rbac.role_grants("nobody").await,
        "role_grants of an unknown role",
    );

    assert!(
        stores
            .rbac
            .revoke_from_role("editor", GrantKind::Permission, "posts.read")
            .await
            .expect("revoke_from_role"),
        "revoke_from_role of a held grant returns true"
    );
    assert!(
        !stores
            .rbac
            .revoke_from_role("editor", GrantKind::Permission, "posts.read")
            .await
            .expect("revoke_from_role"),
        "a second revoke_from_role of one grant returns false"
    );
    let grants = canonical(
        stores
            .rbac
            .role_grants("editor")
            .await
            .expect("role_grants"),
    );
    assert!(
        !grants.contains(&item(Permission, "posts.read")),
        "role_grants after revoke_from_role must not list the grant"
    );
    assert_eq!(
        grants.len(),
        2,
        "revoke_from_role must keep the role's other grants"
    );
}

/// `assign_role` is `true` when new, `false` when already assigned; `unassign_role` is
/// `true` once. Unknown user or role is `NotFound`.
pub async fn assign_role<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    define(&stores, &[(Role, "editor"), (Permission, "editor")]).await;

    assert!(
        stores
            .rbac
            .assign_role(u.id, "editor")
            .await
            .expect("assign_role"),
        "assign_role of a new assignment returns true"
    );
    assert!(
        !stores
            .rbac
            .assign_role(u.id, "editor")
            .await
            .expect("assign_role"),
        "assign_role of an assignment already held returns false"
    );
    let grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    assert_eq!(
        grants.roles,
        strings(&["editor"]),
        "user_grants after assign_role lists the role"
    );
    assert!(
        grants.permissions.is_empty(),
        "user_grants: a role is not a permission (even with a permission of the same slug)"
    );

    assert_not_found(
        stores.rbac.assign_role(u.id, "nobody").await,
        "unknown role",
    );

    assert!(
        stores
            .rbac
            .unassign_role(u.id, "editor")
            .await
            .expect("unassign_role"),
        "unassign_role of an assigned role returns true"
    );
    assert!(
        !stores
            .rbac
            .unassign_role(u.id, "editor")
            .await
            .expect("unassign_role"),
        "a second unassign_role returns false"
    );
    assert!(
        canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"))
            .roles
            .is_empty(),
        "user_grants after unassign_role lists no role"
    );
}

/// `grant_to_user` is `true` when new, `false` when already held; `revoke_from_user` is
/// `true` once. Unknown user or item is `NotFound`.
pub async fn grant_to_user<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    define(&stores, &[(Permission, "posts.read"), (Ability, "export")]).await;

    assert!(
        stores
            .rbac
            .grant_to_user(u.id, GrantKind::Permission, "posts.read")
            .await
            .expect("grant_to_user"),
        "grant_to_user of a new permission returns true"
    );
    assert!(
        !stores
            .rbac
            .grant_to_user(u.id, GrantKind::Permission, "posts.read")
            .await
            .expect("grant_to_user"),
        "grant_to_user of a grant already held returns false"
    );
    assert!(
        stores
            .rbac
            .grant_to_user(u.id, GrantKind::Ability, "export")
            .await
            .expect("grant_to_user"),
        "grant_to_user of a new ability returns true"
    );
    let grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    assert_eq!(
        grants,
        UserGrants {
            roles: Vec::new(),
            permissions: strings(&["posts.read"]),
            abilities: strings(&["export"]),
        },
        "user_grants after direct grants of a permission and an ability"
    );

    assert_not_found(
        stores
            .rbac
            .grant_to_user(u.id, GrantKind::Permission, "export")
            .await,
        "slug registered under another kind",
    );
    assert_not_found(
        stores
            .rbac
            .grant_to_user(u.id, GrantKind::Ability, "nothing")
            .await,
        "unknown ability",
    );

    assert!(
        stores
            .rbac
            .revoke_from_user(u.id, GrantKind::Permission, "posts.read")
            .await
            .expect("revoke_from_user"),
        "revoke_from_user of a held grant returns true"
    );
    assert!(
        !stores
            .rbac
            .revoke_from_user(u.id, GrantKind::Permission, "posts.read")
            .await
            .expect("revoke_from_user"),
        "revoke_from_user of a grant no longer held returns false"
    );
    let grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    assert!(grants.permissions.is_empty(), "after revoke_from_user");
    assert_eq!(
        grants.abilities,
        strings(&["export"]),
        "revoke_from_user takes only the grant named"
    );
}

/// `user_grants` holds the user's roles and the sorted, duplicate-free union of
/// permissions and abilities granted directly and through roles; unknown users hold
/// nothing, and other users' grants never leak in.
pub async fn user_grants_union<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let other = create_user(&stores).await;
    define(
        &stores,
        &[
            (Role, "writer"),
            (Role, "reviewer"),
            (Role, "unused"),
            (Permission, "posts.write"),
            (Permission, "posts.read"),
            (Permission, "posts.approve"),
            (Permission, "zeta"),
            (Permission, "secret"),
            (Ability, "export"),
            (Ability, "import"),
        ],
    )
    .await;
    let role_grants = [
        ("writer", GrantKind::Permission, "posts.write"),
        ("writer", GrantKind::Permission, "posts.read"),
        ("writer", GrantKind::Ability, "export"),
        ("reviewer", GrantKind::Permission, "posts.read"),
        ("reviewer", GrantKind::Permission, "posts.approve"),
        ("unused", GrantKind::Permission, "secret"),
    ];
    for (role, kind, slug) in role_grants {
        stores
            .rbac
            .grant_to_role(role, kind, slug)
            .await
            .expect("grant_to_role");
    }
    stores
        .rbac
        .assign_role(u.id, "writer")
        .await
        .expect("assign_role");
    stores
        .rbac
        .assign_role(u.id, "reviewer")
        .await
        .expect("assign_role");
    stores
        .rbac
        .assign_role(other.id, "unused")
        .await
        .expect("assign_role");
    for (kind, slug) in [
        (GrantKind::Permission, "zeta"),
        (GrantKind::Permission, "posts.write"),
        (GrantKind::Ability, "import"),
        (GrantKind::Ability, "export"),
    ] {
        stores
            .rbac
            .grant_to_user(u.id, kind, slug)
            .await
            .expect("grant_to_user");
    }
    stores
        .rbac
        .grant_to_user(other.id, GrantKind::Permission, "secret")
        .await
        .expect("grant_to_user");

    let mut grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    grants.roles.sort();
    assert_eq!(
        grants,
        UserGrants {
            roles: strings(&["reviewer", "writer"]),
            permissions: strings(&["posts.approve", "posts.read", "posts.write", "zeta"]),
            abilities: strings(&["export", "import"]),
        },
        "user_grants"
    );
    let nobody = canonical(
        stores
            .rbac
            .user_grants(UserId::new())
            .await
            .expect("user_grants"),
    );
    assert_eq!(
        nobody,
        UserGrants::default(),
        "user_grants of an unknown user is empty"
    );

    // Unassigning a role takes its permissions, but not those also granted directly.
    stores
        .rbac
        .unassign_role(u.id, "writer")
        .await
        .expect("unassign_role");
    let grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    assert_eq!(
        grants.roles,
        strings(&["reviewer"]),
        "user_grants after unassign_role: the other role stays"
    );
    assert_eq!(
        grants.permissions,
        strings(&["posts.approve", "posts.read", "posts.write", "zeta"]),
        "user_grants after unassign_role: permissions also held through another role or directly stay"
    );
    assert_eq!(
        grants.abilities,
        strings(&["export", "import"]),
        "user_grants after unassign_role: abilities granted directly stay"
    );
    stores
        .rbac
        .unassign_role(u.id, "reviewer")
        .await
        .expect("unassign_role");
    let grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    assert_eq!(
        grants.permissions,
        strings(&["posts.write", "zeta"]),
        "user_grants after unassigning every role: the direct grants only"
    );
}

/// `remove_item` removes the item and every grant and assignment naming it (`true`),
/// then `false`.
pub async fn remove_item_removes_grants<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    define(
        &stores,
        &[
            (Role, "editor"),
            (Role, "viewer"),
            (Permission, "posts.read"),
            (Permission, "posts.write"),
            (Ability, "export"),
        ],
    )
    .await;
    stores
        .rbac
        .grant_to_role("editor", GrantKind::Permission, "posts.read")
        .await
        .expect("grant_to_role");
    stores
        .rbac
        .grant_to_role("editor", GrantKind::Permission, "posts.write")
        .await
        .expect("grant_to_role");
    stores
        .rbac
        .grant_to_role("viewer", GrantKind::Ability, "export")
        .await
        .expect("grant_to_role");
    stores
        .rbac
        .grant_to_user(u.id, GrantKind::Permission, "posts.read")
        .await
        .expect("grant_to_user");
    stores
        .rbac
        .assign_role(u.id, "editor")
        .await
        .expect("assign_role");
    stores
        .rbac
        .assign_role(u.id, "viewer")
        .await
        .expect("assign_role");

    assert!(
        stores
            .rbac
            .remove_item(Permission, "posts.read")
            .await
            .expect("remove_item"),
        "remove_item of a permission returns true"
    );
    assert!(
        !stores
            .rbac
            .remove_item(Permission, "posts.read")
            .await
            .expect("remove_item"),
        "a second remove_item of one slug returns false"
    );
    assert_eq!(
        canonical(
            stores
                .rbac
                .role_grants("editor")
                .await
                .expect("role_grants")
        ),
        vec![item(Permission, "posts.write")],
        "remove_item of a permission must remove its role grants"
    );
    let grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    assert_eq!(
        grants.permissions,
        strings(&["posts.write"]),
        "remove_item of a permission must remove it from user_grants (direct and through roles)"
    );
    assert!(
        !stores
            .rbac
            .revoke_from_user(u.id, GrantKind::Permission, "posts.read")
            .await
            .expect("revoke_from_user"),
        "remove_item of a permission must remove the direct grant itself"
    );

    assert!(
        stores
            .rbac
            .remove_item(Role, "viewer")
            .await
            .expect("remove_item"),
        "remove_item of a role returns true"
    );
    let grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    assert_eq!(
        grants.roles,
        strings(&["editor"]),
        "remove_item of a role must remove its assignments"
    );
    assert!(
        grants.abilities.is_empty(),
        "remove_item of a role must remove what users held through it"
    );
    assert_not_found(
        stores.rbac.role_grants("viewer").await,
        "role_grants of a removed role",
    );
    assert_eq!(
        canonical(stores.rbac.list_items(Role).await.expect("list_items")),
        vec![item(Role, "editor")],
        "list_items(Role) after remove_item must not list the removed role"
    );
    assert_eq!(
        canonical(stores.rbac.list_items(Ability).await.expect("list_items")),
        vec![item(Ability, "export")],
        "remove_item of a role must keep the items it granted"
    );

    // Re-defining the slug does not bring old grants back.
    define(&stores, &[(Role, "viewer")]).await;
    assert!(
        canonical(
            stores
                .rbac
                .role_grants("viewer")
                .await
                .expect("role_grants")
        )
        .is_empty(),
        "a role defined again after remove_item must start without grants"
    );
    assert_eq!(
        canonical(stores.rbac.user_grants(u.id).await.expect("user_grants")).roles,
        strings(&["editor"]),
        "a role defined again after remove_item must start without assignments"
    );
    assert!(
        !stores
            .rbac
            .remove_item(Ability, "nothing")
            .await
            .expect("remove_item"),
        "remove_item of an unknown item returns false"
    );
}

/// The `NotFound` of `result` names `what`, in the message of `call`.
fn assert_not_found_naming<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    what: Entity,
    call: &str,
) {
    assert_not_found_naming_one_of(result, &[what], call);
}

fn assert_not_found_naming_one_of<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    what: &[Entity],
    call: &str,
) {
    match result {
        Err(StoreError::NotFound { what: named }) if what.contains(&named) => {}
        other => panic!("{call}: expected NotFound naming one of {what:?}, got {other:?}"),
    }
}

/// Slugs are matched exactly in every call that names one: no pattern (`_`, `%`, `\`)
/// and no case folding. A probe that matches a registered slug only as a pattern or in
/// another case is missing, unknown (`NotFound` naming the kind) or not held, and the
/// calls change nothing.
pub async fn slugs_match_exactly<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    define(
        &stores,
        &[
            (Role, "editor"),
            (Permission, "posts.read"),
            (Permission, "100%"),
            (Ability, "export"),
        ],
    )
    .await;

    let probes = strings(&[
        "posts_read",
        "posts%",
        "%",
        "_",
        "POSTS.READ",
        "Posts.Read",
        "100\\%",
        "100_",
        "posts.read",
        "100%",
    ]);
    let mut missing = stores
        .rbac
        .missing_items(Permission, &probes)
        .await
        .expect("missing_items");
    missing.sort();
    let mut expected = probes[..8].to_vec();
    expected.sort();
    assert_eq!(
        missing, expected,
        "missing_items must match slugs exactly: no pattern, no case folding"
    );

    for role in ["edit_r", "edit%", "EDITOR", "Editor"] {
        assert_not_found_naming(
            stores
                .rbac
                .grant_to_role(role, GrantKind::Permission, "posts.read")
                .await,
            Entity::Role,
            &format!("grant_to_role({role:?}, …) with only \"editor\" registered"),
        );
        assert_not_found_naming(
            stores.rbac.assign_role(u.id, role).await,
            Entity::Role,
            &format!("assign_role(…, {role:?}) with only \"editor\" registered"),
        );
        assert_not_found_naming(
            stores.rbac.role_grants(role).await,
            Entity::Role,
            &format!("role_grants({role:?}) with only \"editor\" registered"),
        );
    }
    for slug in ["posts_read", "posts%", "POSTS.READ"] {
        assert_not_found_naming(
            stores
                .rbac
                .grant_to_role("editor", GrantKind::Permission, slug)
                .await,
            Entity::Permission,
            &format!("grant_to_role(\"editor\", permission, {slug:?})"),
        );
    }
    for slug in ["EXPORT", "exp_rt", "exp%"] {
        assert_not_found_naming(
            stores
                .rbac
                .grant_to_user(u.id, GrantKind::Ability, slug)
                .await,
            Entity::Ability,
            &format!("grant_to_user(…, ability, {slug:?})"),
        );
    }

    for (kind, slug) in [(GrantKind::Permission, "posts.read")] {
        let new = stores
            .rbac
            .grant_to_role("editor", kind, slug)
            .await
            .expect("grant_to_role");
        assert!(new, "grant_to_role of the exact slugs is new");
    }
    let new = stores
        .rbac
        .assign_role(u.id, "editor")
        .await
        .expect("assign_role");
    assert!(new, "assign_role of the exact slug is new");
    let new = stores
        .rbac
        .grant_to_user(u.id, GrantKind::Ability, "export")
        .await
        .expect("grant_to_user");
    assert!(new, "grant_to_user of the exact slug is new");

    for (role, slug) in [
        ("editor", "posts_read"),
        ("EDITOR", "posts.read"),
        ("edit%", "%"),
    ] {
        let held = stores
            .rbac
            .revoke_from_role(role, GrantKind::Permission, slug)
            .await
            .expect("revoke_from_role");
        assert!(
            !held,
            "revoke_from_role({role:?}, permission, {slug:?}) must match exactly"
        );
    }
    for role in ["EDITOR", "edit_r", "%"] {
        let held = stores
            .rbac
            .unassign_role(u.id, role)
            .await
            .expect("unassign_role");
        assert!(!held, "unassign_role(…, {role:?}) must match exactly");
    }
    for slug in ["EXPORT", "exp%"] {
        let held = stores
            .rbac
            .revoke_from_user(u.id, GrantKind::Ability, slug)
            .await
            .expect("revoke_from_user");
        assert!(
            !held,
            "revoke_from_user(…, ability, {slug:?}) must match exactly"
        );
    }
    for (kind, slug) in [
        (Permission, "posts%"),
        (Permission, "POSTS.READ"),
        (Role, "EDITOR"),
    ] {
        let removed = stores
            .rbac
            .remove_item(kind, slug)
            .await
            .expect("remove_item");
        assert!(
            !removed,
            "remove_item({kind:?}, {slug:?}) must match exactly"
        );
    }

    let grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    assert_eq!(
        grants,
        UserGrants {
            roles: strings(&["editor"]),
            permissions: strings(&["posts.read"]),
            abilities: strings(&["export"]),
        },
        "user_grants after calls that named slugs only as patterns or in another case"
    );
    let permissions = canonical(
        stores
            .rbac
            .list_items(Permission)
            .await
            .expect("list_items"),
    );
    assert_eq!(
        permissions,
        vec![item(Permission, "100%"), item(Permission, "posts.read")],
        "list_items after calls that named slugs only as patterns or in another case"
    );
}

/// `NotFound` names what was unknown: the role before the granted item when both are;
/// with an unknown user as well, either of the unknown ones. Nothing is written.
pub async fn not_found_names_what_is_unknown<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    define(&stores, &[(Role, "editor"), (Permission, "posts.read")]).await;
    let nobody = UserId::new();

    assert_not_found_naming(
        stores
            .rbac
            .grant_to_role("ghost", GrantKind::Permission, "ghost")
            .await,
        Entity::Role,
        "grant_to_role with an unknown role and an unknown permission",
    );
    assert_not_found_naming(
        stores
            .rbac
            .grant_to_role("ghost", GrantKind::Ability, "ghost")
            .await,
        Entity::Role,
        "grant_to_role with an unknown role and an unknown ability",
    );
    assert_not_found_naming(
        stores
            .rbac
            .grant_to_role("editor", GrantKind::Ability, "posts.read")
            .await,
        Entity::Ability,
        "grant_to_role of a permission's slug as an ability",
    );
    assert_not_found_naming_one_of(
        stores.rbac.assign_role(nobody, "ghost").await,
        &[Entity::User, Entity::Role],
        "assign_role with an unknown user and an unknown role",
    );
    assert_not_found_naming(
        stores.rbac.assign_role(nobody, "editor").await,
        Entity::User,
        "assign_role with an unknown user",
    );
    assert_not_found_naming_one_of(
        stores
            .rbac
            .grant_to_user(nobody, GrantKind::Permission, "ghost")
            .await,
        &[Entity::User, Entity::Permission],
        "grant_to_user with an unknown user and an unknown permission",
    );
    assert_not_found_naming(
        stores
            .rbac
            .grant_to_user(nobody, GrantKind::Permission, "posts.read")
            .await,
        Entity::User,
        "grant_to_user with an unknown user",
    );

    let role_grants = canonical(
        stores
            .rbac
            .role_grants("editor")
            .await
            .expect("role_grants"),
    );
    assert!(
        role_grants.is_empty(),
        "refused grants wrote something: role_grants(\"editor\") = {role_grants:?}"
    );
    let grants = canonical(stores.rbac.user_grants(u.id).await.expect("user_grants"));
    assert_eq!(
        grants,
        UserGrants::default(),
        "refused calls wrote something: user_grants of a user they did not name"
    );
}

/// A store that holds the users too refuses assignments and grants for an unknown user
/// with `NotFound` naming the user, and writes nothing (its foreign key).
pub async fn unknown_user_not_found<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    define(&stores, &[(Role, "editor"), (Permission, "posts.read")]).await;
    let ghost = UserId::new();
    let assigned = stores.rbac.assign_role(ghost, "editor").await;
    assert!(
        matches!(assigned, Err(StoreError::NotFound { what: Entity::User })),
        "assign_role for an unknown user: NotFound naming the user, got {assigned:?}"
    );
    let granted = stores
        .rbac
        .grant_to_user(ghost, GrantKind::Permission, "posts.read")
        .await;
    assert!(
        matches!(granted, Err(StoreError::NotFound { what: Entity::User })),
        "grant_to_user for an unknown user: NotFound naming the user, got {granted:?}"
    );
    let held = canonical(stores.rbac.user_grants(ghost).await.unwrap());
    assert_eq!(held, UserGrants::default(), "an unknown user holds nothing");
}
