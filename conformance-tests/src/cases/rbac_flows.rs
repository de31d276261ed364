//! RBAC flows of [`authkit::Auth`] end to end: definitions, grants through roles and
//! directly, predicates checked at start-up and evaluated for users and service keys.

use authkit::{
    Auth, CheckedPredicate, Environment, Error, GrantKind, KeyType, NewApiKey, Predicate, SlugKind,
    Subject, UserGrants, UserId,
};

use super::flows::{auth_with, test_config};
use crate::StoreFactory;

/// `editor` holds `posts:write` and the ability `export`; the user has `editor` and,
/// directly, `posts:read` and `posts:write`.
async fn editor_setup<F: StoreFactory>(factory: &F) -> (Auth, UserId) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("ed@example.com").await.expect("create").id;
    for (kind, slug) in [
        (SlugKind::Role, "editor"),
        (SlugKind::Role, "admin"),
        (SlugKind::Permission, "posts:read"),
        (SlugKind::Permission, "posts:write"),
        (SlugKind::Ability, "export"),
        (SlugKind::Ability, "delete"),
    ] {
        auth.define(kind, slug, "label").await.expect("define");
    }
    let grant = |kind, slug| auth.grant_to_role("editor", kind, slug);
    assert!(
        grant(GrantKind::Permission, "posts:write")
            .await
            .expect("grant"),
        "grant_to_role of a new grant returns true"
    );
    assert!(
        grant(GrantKind::Ability, "export").await.expect("grant"),
        "grant_to_role of a new grant returns true"
    );
    assert!(
        auth.assign_role(user, "editor").await.expect("assign"),
        "assign_role of a new assignment returns true"
    );
    for slug in ["posts:read", "posts:write"] {
        let r = auth.grant_to_user(user, GrantKind::Permission, slug).await;
        assert!(
            r.expect("grant to user"),
            "grant_to_user of a new grant returns true"
        );
    }
    (auth, user)
}

async fn checked(auth: &Auth, predicate: Predicate) -> CheckedPredicate {
    auth.check_predicate(predicate).await.expect("registered")
}

async fn allowed(auth: &Auth, user: UserId, predicate: &CheckedPredicate) -> bool {
    auth.is_allowed(Subject::User(user), predicate)
        .await
        .expect("check")
}

/// Bad slugs are refused for every kind, and nothing is stored.
pub async fn define_refuses_bad_slugs<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let long = "a".repeat(65);
    for kind in [SlugKind::Role, SlugKind::Permission, SlugKind::Ability] {
        for bad in ["Admin", "1admin", long.as_str(), "", "has space", "é", "a*"] {
            let r = auth.define(kind, bad, "label").await;
            assert!(
                matches!(r, Err(Error::InvalidSlug(_))),
                "define({kind:?} {bad:?}): expected Error::InvalidSlug, got {r:?}"
            );
        }
        let r = auth.define(kind, "fine", " ").await;
        assert!(
            matches!(r, Err(Error::InvalidInput(_))),
            "define with a blank label: expected Error::InvalidInput, got {r:?}"
        );
        let items = auth.stores().rbac.list_items(kind).await.expect("list");
        assert!(
            items.is_empty(),
            "define refused must store nothing: {items:?}"
        );
    }
    auth.define(SlugKind::Role, &"a".repeat(64), "label")
        .await
        .expect("64 bytes fit");
}

/// A slug defined twice for one kind is taken; the same slug of another kind is not.
pub async fn define_duplicate_slug_taken<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    auth.define(SlugKind::Role, "admin", "First")
        .await
        .expect("define");
    let r = auth.define(SlugKind::Role, "admin", "Second").await;
    assert!(
        matches!(&r, Err(Error::SlugTaken { kind: "role", slug }) if slug == "admin"),
        "define: expected Error::SlugTaken, got {r:?}"
    );
    auth.define(SlugKind::Permission, "admin", "Other kind")
        .await
        .expect("another kind");
    let roles = auth
        .stores()
        .rbac
        .list_items(SlugKind::Role)
        .await
        .expect("list");
    assert_eq!(roles.len(), 1, "define of a taken slug must not add a role");
    assert_eq!(
        roles[0].label, "First",
        "define of a taken slug must keep the first label"
    );
}

/// A user's grants are the union of its roles' and its own, without duplicates.
pub async fn grants_union<F: StoreFactory>(factory: &F) {
    let (auth, user) = editor_setup(factory).await;
    let grants = auth.user_grants(user).await.expect("grants");
    assert_eq!(grants.roles, ["editor"], "user_grants: the roles assigned");
    assert_eq!(
        grants.permissions,
        ["posts:read", "posts:write"],
        "user_grants: permissions through roles and directly, sorted, no duplicates"
    );
    assert_eq!(
        grants.abilities,
        ["export"],
        "user_grants: abilities through roles"
    );
}

/// Grants naming unknown slugs, users or kinds are refused with the right error.
pub async fn grant_errors<F: StoreFactory>(factory: &F) {
    let (auth, user) = editor_setup(factory).await;
    let r = auth.assign_role(user, "ghost").await;
    assert!(
        matches!(r, Err(Error::UnknownSlug { kind: "role", .. })),
        "assign_role: expected Error::UnknownSlug, got {r:?}"
    );
    let r = auth.assign_role(UserId::new(), "editor").await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "assign_role: expected Error::UserNotFound, got {r:?}"
    );
    let r = auth
        .grant_to_role("ghost", GrantKind::Permission, "posts:read")
        .await;
    assert!(
        matches!(r, Err(Error::UnknownSlug { kind: "role", .. })),
        "grant_to_role: expected Error::UnknownSlug, got {r:?}"
    );
    let r = auth
        .grant_to_role("editor", GrantKind::Permission, "ghost")
        .await;
    assert!(
        matches!(&r, Err(Error::UnknownSlug { kind: "permission", slugs }) if slugs == &["ghost"]),
        "grant_to_role: expected Error::UnknownSlug, got {r:?}"
    );
    let r = auth
        .grant_to_user(user, GrantKind::Ability, "posts:read")
        .await;
    assert!(
        matches!(
            r,
            Err(Error::UnknownSlug {
                kind: "ability",
                ..
            })
        ),
        "grant_to_user: expected Error::UnknownSlug, got {r:?}"
    );
    let r = auth.assign_role(user, "Editor").await;
    assert!(
        matches!(r, Err(Error::InvalidSlug(_))),
        "assign_role: expected Error::InvalidSlug, got {r:?}"
    );
    assert!(
        !auth
            .assign_role(user, "editor")
            .await
            .expect("again is not new"),
        "assign_role of an assignment already held returns false"
    );
}

/// `any`, `all` and nested predicates over roles, permissions and abilities of a user.
pub async fn user_predicates<F: StoreFactory>(factory: &F) {
    let (auth, user) = editor_setup(factory).await;
    let nobody = auth.create_user("no@example.com").await.expect("create").id;
    use Predicate as P;
    let cases = [
        (P::has_role("editor"), true),
        (P::has_role("admin"), false),
        (P::has_permission("posts:write"), true),
        (P::has_ability("export"), true),
        (P::has_ability("delete"), false),
        (
            P::any([P::has_role("admin"), P::has_permission("posts:read")]),
            true,
        ),
        (
            P::any([P::has_role("admin"), P::has_ability("delete")]),
            false,
        ),
        (
            P::all([P::has_permission("posts:read"), P::has_ability("export")]),
            true,
        ),
        (P::all([P::has_role("editor"), P::has_role("admin")]), false),
        (
            P::all([
                P::has_role("editor"),
                P::any([P::has_role("admin"), P::has_ability("export")]),
            ]),
            true,
        ),
        (
            P::any([
                P::has_role("admin"),
                P::all([P::has_ability("export"), P::has_ability("delete")]),
            ]),
            false,
        ),
        (P::any([]), false),
        (P::all([]), true),
    ];
    for (predicate, expected) in cases {
        let check = checked(&auth, predicate.clone()).await;
        assert_eq!(
            allowed(&auth, user, &check).await,
            expected,
            "is_allowed of {predicate:?} for the editor"
        );
        let vacuous = matches!(&predicate, P::All(ps) if ps.is_empty());
        assert_eq!(
            allowed(&auth, nobody, &check).await,
            vacuous,
            "is_allowed of {predicate:?} for a user without grants"
        );
    }
    let admin = checked(&auth, P::has_role("admin")).await;
    let r = auth.authorize(Subject::User(user), &admin).await;
    assert!(
        matches!(r, Err(Error::Forbidden)),
        "authorize: expected Error::Forbidden, got {r:?}"
    );
    let editor = checked(&auth, P::has_role("editor")).await;
    auth.authorize(Subject::User(user), &editor)
        .await
        .expect("authorized");
}

/// A service key holds its scopes as abilities and no role; a user's key holds nothing.
pub async fn service_key_predicates<F: StoreFactory>(factory: &F) {
    let (auth, user) = editor_setup(factory).await;
    auth.define(SlugKind::Ability, "reports:export", "Export")
        .await
        .expect("define");
    let mut new = NewApiKey::new(KeyType::Secret, Environment::Live, None, "svc");
    new.scopes = Some(vec!["reports:export".into(), "export".into()]);
    let issued = auth.create_api_key(new).await.expect("service key");
    let key = auth
        .verify_api_key(issued.secret.expose(), None, None)
        .await
        .expect("verify");
    let subject = Subject::Key(&key);
    let can = checked(&auth, Predicate::has_ability("reports:export")).await;
    assert!(
        auth.is_allowed(subject, &can).await.expect("check"),
        "is_allowed of a service key with the ability in its scopes"
    );
    let both = Predicate::all([
        Predicate::has_ability("reports:export"),
        Predicate::has_ability("export"),
    ]);
    let both = checked(&auth, both).await;
    assert!(
        auth.is_allowed(subject, &both).await.expect("check"),
        "is_allowed of a service key with every ability of all(..) in its scopes"
    );
    let cannot = checked(&auth, Predicate::has_ability("delete")).await;
    let r = auth.authorize(subject, &cannot).await;
    assert!(
        matches!(r, Err(Error::Forbidden)),
        "authorize: expected Error::Forbidden, got {r:?}"
    );
    let role = checked(&auth, Predicate::has_role("editor")).await;
    assert!(
        !auth.is_allowed(subject, &role).await.expect("check"),
        "is_allowed of a service key: a service key holds no role"
    );
    let permission = checked(&auth, Predicate::has_permission("posts:write")).await;
    assert!(
        !auth.is_allowed(subject, &permission).await.expect("check"),
        "is_allowed of a service key: a service key holds no permission"
    );

    let mut owned = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user), "mine");
    owned.scopes = Some(vec!["reports:export".into()]);
    let owned = auth.create_api_key(owned).await.expect("user key").key;
    assert!(
        !auth
            .is_allowed(Subject::Key(&owned), &can)
            .await
            .expect("check"),
        "is_allowed of a user's key as a service key: only service keys hold abilities through scopes"
    );
}

/// Checking a predicate names its unregistered slugs and refuses invalid ones.
pub async fn check_predicate_refuses_unknown<F: StoreFactory>(factory: &F) {
    let (auth, _) = editor_setup(factory).await;
    let r = auth
        .check_predicate(Predicate::has_permission("ghost"))
        .await;
    assert!(
        matches!(&r, Err(Error::UnknownSlug { kind: "permission", slugs }) if slugs == &["ghost"]),
        "check_predicate: expected Error::UnknownSlug, got {r:?}"
    );
    let nested = Predicate::any([
        Predicate::has_role("zeta"),
        Predicate::all([Predicate::has_role("editor"), Predicate::has_role("alpha")]),
    ]);
    let r = auth.check_predicate(nested).await;
    assert!(
        matches!(&r, Err(Error::UnknownSlug { kind: "role", slugs }) if slugs == &["alpha", "zeta"]),
        "check_predicate: expected Error::UnknownSlug, got {r:?}"
    );
    // A registered slug of another kind does not count.
    let r = auth
        .check_predicate(Predicate::has_ability("posts:read"))
        .await;
    assert!(
        matches!(&r, Err(Error::UnknownSlug { kind: "ability", slugs }) if slugs == &["posts:read"]),
        "check_predicate: expected Error::UnknownSlug, got {r:?}"
    );
    let r = auth
        .check_predicate(Predicate::any([Predicate::has_role("Editor")]))
        .await;
    assert!(
        matches!(r, Err(Error::InvalidSlug(_))),
        "check_predicate: expected Error::InvalidSlug, got {r:?}"
    );
}

/// Revoking a grant or unassigning a role takes effect on the next check.
pub async fn revocations_take_effect<F: StoreFactory>(factory: &F) {
    let (auth, user) = editor_setup(factory).await;
    let export = checked(&auth, Predicate::has_ability("export")).await;
    let write = checked(&auth, Predicate::has_permission("posts:write")).await;
    let read = checked(&auth, Predicate::has_permission("posts:read")).await;
    assert!(
        allowed(&auth, user, &export).await,
        "is_allowed of a user with the ability through a role"
    );
    let revoke = auth.revoke_from_role("editor", GrantKind::Ability, "export");
    assert!(
        revoke.await.expect("revoke"),
        "revoke_from_role of a held grant returns true"
    );
    assert!(
        !allowed(&auth, user, &export).await,
        "is_allowed after revoke_from_role: the ability is gone"
    );
    let again = auth.revoke_from_role("editor", GrantKind::Ability, "export");
    assert!(
        !again.await.expect("again"),
        "a second revoke_from_role returns false"
    );

    assert!(
        auth.unassign_role(user, "editor").await.expect("unassign"),
        "unassign_role of an assigned role returns true"
    );
    assert!(
        allowed(&auth, user, &write).await,
        "is_allowed after unassign_role: a permission also held directly stays"
    );
    let revoke = auth.revoke_from_user(user, GrantKind::Permission, "posts:write");
    assert!(
        revoke.await.expect("revoke"),
        "revoke_from_user of a held grant returns true"
    );
    assert!(
        !allowed(&auth, user, &write).await,
        "is_allowed after revoke_from_user: no path to the permission left"
    );
    let revoke = auth.revoke_from_user(user, GrantKind::Permission, "posts:read");
    assert!(
        revoke.await.expect("revoke"),
        "revoke_from_user of a held grant returns true"
    );
    assert!(
        !allowed(&auth, user, &read).await,
        "is_allowed after revoke_from_user: no path to the permission left"
    );
    assert!(
        !auth.unassign_role(user, "editor").await.expect("again"),
        "a second unassign_role returns false"
    );
}

/// Deleting a user removes its roles and grants.
pub async fn delete_user_removes_grants<F: StoreFactory>(factory: &F) {
    let (auth, user) = editor_setup(factory).await;
    let other = auth
        .create_user("other@example.com")
        .await
        .expect("create")
        .id;
    auth.assign_role(other, "editor").await.expect("assign");
    auth.delete_user(user).await.expect("delete");
    let grants = auth.user_grants(user).await.expect("grants");
    assert_eq!(
        grants,
        UserGrants::default(),
        "delete_user must remove the user's roles and grants"
    );
    let others = auth.user_grants(other).await.expect("grants");
    assert_eq!(
        others.roles,
        ["editor"],
        "delete_user must not touch another user's roles"
    );
}
