//! What keys gained with migration 2: the rate-limit counter
//! ([`ApiKeyStore::count_api_key_request`](authkit::ApiKeyStore::count_api_key_request)
//! and the hot-path lookup that counts), the user agent of the last use, and roles on
//! keys ([`RbacStore::assign_key_role`](authkit::RbacStore::assign_key_role) and the
//! rest).

use std::collections::BTreeSet;

use authkit::{
    ApiKey, ApiKeyId, ApiKeyUpdate, Entity, GrantKind, KeyUsage, RateLimit, RateWindow, SlugKind,
    StoreError, Stores, UserGrants,
};

use crate::StoreFactory;
use crate::fixtures::{BASE, MICRO, api_key, at, create_user, fresh_hash, item, secs, together};

/// A service key limited to `requests` per minute, stored.
async fn limited_key(stores: &Stores, requests: u32) -> ApiKey {
    let mut key = api_key(None, BASE);
    key.rate_limit = Some(RateLimit::new(requests, secs(60)));
    stores
        .api_keys
        .create_api_key(&key)
        .await
        .expect("create_api_key");
    key
}

async fn count(stores: &Stores, key: ApiKeyId, now: authkit::Timestamp) -> Option<RateWindow> {
    stores
        .api_keys
        .count_api_key_request(key, now)
        .await
        .expect("count_api_key_request")
}

/// A window starts at the first count with 1, counts up by one, and a new one starts at
/// exactly `started_at + window`; a key without a limit, or unknown, is `None`.
pub async fn count_request_windows<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let key = limited_key(&stores, 3).await;
    let window = |count, started_at| Some(RateWindow { count, started_at });

    let first = at(10) + MICRO;
    assert_eq!(
        count(&stores, key.id, first).await,
        window(1, first),
        "count_api_key_request: the first count starts a window at now with a count of 1"
    );
    assert_eq!(
        count(&stores, key.id, at(20)).await,
        window(2, first),
        "count_api_key_request: a count inside the window adds one and keeps its start"
    );
    for n in 3..=5 {
        assert_eq!(
            count(&stores, key.id, first + secs(60) - MICRO).await,
            window(n, first),
            "count_api_key_request: counts go on past the limit until the window ends"
        );
    }
    let next = first + secs(60);
    assert_eq!(
        count(&stores, key.id, next).await,
        window(1, next),
        "count_api_key_request: at started_at + window a new window starts at now"
    );

    let mut unlimited = api_key(None, BASE);
    unlimited.rate_limit = None;
    stores
        .api_keys
        .create_api_key(&unlimited)
        .await
        .expect("create_api_key");
    assert_eq!(
        count(&stores, unlimited.id, at(1)).await,
        None,
        "count_api_key_request: a key without a rate limit is None"
    );
    assert_eq!(
        count(&stores, ApiKeyId::new(), at(1)).await,
        None,
        "count_api_key_request: an unknown key is None"
    );

    let lifted = ApiKeyUpdate::default().rate_limit(None);
    stores
        .api_keys
        .update_api_key(key.id, &lifted)
        .await
        .expect("update_api_key");
    assert_eq!(
        count(&stores, key.id, next + secs(1)).await,
        None,
        "count_api_key_request: a key whose limit was removed is None"
    );
}

/// Concurrent counts in one window are all distinct: 1 to N, whatever the interleaving.
pub async fn count_request_concurrent_distinct<F: StoreFactory>(factory: &F) {
    const N: u64 = 32;
    let stores = factory.stores().await;
    let key = limited_key(&stores, 5).await;
    let counts = together(N as usize, |i| {
        let stores = stores.clone();
        async move { count(&stores, key.id, at(1) + secs(i as i64 % 3)).await }
    })
    .await;
    let got: BTreeSet<u64> = counts
        .iter()
        .map(|w| w.expect("a limited key is counted").count)
        .collect();
    assert_eq!(
        got,
        (1..=N).collect::<BTreeSet<u64>>(),
        "count_api_key_request: {N} concurrent counts in one window must be 1..={N}, each once"
    );
}

/// The hot-path lookup returns the key as `api_key_by_hash` does, counts a limited key,
/// and leaves an unlimited one alone; an unknown hash is `None`.
pub async fn api_key_for_request_counts_limited_keys<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let limited = limited_key(&stores, 2).await;
    let mut unlimited = api_key(None, BASE);
    unlimited.rate_limit = None;
    stores
        .api_keys
        .create_api_key(&unlimited)
        .await
        .expect("create_api_key");

    for n in 1..=3 {
        let found = stores
            .api_keys
            .api_key_for_request(&limited.key_hash, at(5))
            .await
            .expect("api_key_for_request");
        assert_eq!(
            found,
            Some((
                limited.clone(),
                Some(RateWindow {
                    count: n,
                    started_at: at(5)
                })
            )),
            "api_key_for_request: a limited key comes back as stored, with its window counted ({n})"
        );
    }
    for _ in 0..2 {
        let found = stores
            .api_keys
            .api_key_for_request(&unlimited.key_hash, at(5))
            .await
            .expect("api_key_for_request");
        assert_eq!(
            found,
            Some((unlimited.clone(), None)),
            "api_key_for_request: a key without a limit comes back with no window"
        );
    }
    let unknown = stores
        .api_keys
        .api_key_for_request(&fresh_hash(), at(5))
        .await
        .expect("api_key_for_request");
    assert_eq!(
        unknown, None,
        "api_key_for_request: an unknown hash is None"
    );
}

/// A rate limit is set, changed and removed by `update_api_key`, and read back.
pub async fn update_rate_limit<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let key = limited_key(&stores, 7).await;
    for limit in [
        Some(RateLimit::new(
            RateLimit::MAX_REQUESTS,
            RateLimit::MAX_WINDOW,
        )),
        None,
        Some(RateLimit::new(1, secs(1))),
    ] {
        let update = ApiKeyUpdate::default().rate_limit(limit);
        let updated = stores
            .api_keys
            .update_api_key(key.id, &update)
            .await
            .expect("update_api_key");
        assert_eq!(
            updated.rate_limit, limit,
            "update_api_key returns the new rate limit"
        );
        let read = stores.api_keys.api_key_by_id(key.id).await.expect("read");
        assert_eq!(
            read.map(|k| k.rate_limit),
            Some(limit),
            "update_api_key stores the new rate limit"
        );
    }
}

/// The user agent moves with the last use: forward only, with its IP; a later use
/// without one clears it.
pub async fn record_usage_user_agent<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let key = api_key(None, BASE);
    stores.api_keys.create_api_key(&key).await.expect("create");
    let usage = |when, agent: Option<&str>| KeyUsage {
        key_id: key.id,
        uses: 1,
        last_used_at: when,
        last_used_ip: None,
        last_used_user_agent: agent.map(str::to_owned),
    };
    let long = "Mozilla/5.0 ✓ ".repeat(18);
    let long = &long[..long.floor_char_boundary(256)];
    let steps = [
        (usage(at(20), Some("curl/8.5.0")), Some("curl/8.5.0")),
        (usage(at(10), Some("older/1.0")), Some("curl/8.5.0")),
        (usage(at(30), Some(long)), Some(long)),
        (usage(at(40), None), None),
    ];
    for (entry, expected) in steps {
        stores
            .api_keys
            .record_key_usage(&[entry])
            .await
            .expect("record_key_usage");
        let read = stores.api_keys.api_key_by_id(key.id).await.expect("read");
        assert_eq!(
            read.and_then(|k| k.last_used_user_agent).as_deref(),
            expected,
            "record_key_usage: the user agent is the latest use's, and never moves back"
        );
    }
}

/// Defines the roles `reader` (grants `docs:read`, ability `export`) and `writer`
/// (grants `docs:write`), and the items they grant.
async fn define_roles(stores: &Stores) {
    for (kind, slug) in [
        (SlugKind::Role, "reader"),
        (SlugKind::Role, "writer"),
        (SlugKind::Permission, "docs:read"),
        (SlugKind::Permission, "docs:write"),
        (SlugKind::Ability, "export"),
    ] {
        stores
            .rbac
            .define_item(&item(kind, slug))
            .await
            .expect("define_item");
    }
    for (role, kind, slug) in [
        ("reader", GrantKind::Permission, "docs:read"),
        ("reader", GrantKind::Ability, "export"),
        ("writer", GrantKind::Permission, "docs:write"),
    ] {
        stores
            .rbac
            .grant_to_role(role, kind, slug)
            .await
            .expect("grant_to_role");
    }
}

fn grants(roles: &[&str], permissions: &[&str], abilities: &[&str]) -> UserGrants {
    let own = |s: &[&str]| s.iter().map(|s| (*s).to_owned()).collect();
    UserGrants {
        roles: own(roles),
        permissions: own(permissions),
        abilities: own(abilities),
    }
}

async fn key_grants(stores: &Stores, key: ApiKeyId) -> UserGrants {
    crate::fixtures::canonical(stores.rbac.key_grants(key).await.expect("key_grants"))
}

/// Roles are assigned to and taken from keys (`true` when it changed something), a key
/// holds what its roles grant, an unknown role is `NotFound`, and removing a role ends
/// its assignments.
pub async fn key_roles<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    define_roles(&stores).await;
    let owner = create_user(&stores).await;
    let key = api_key(Some(owner.id), BASE);
    stores.api_keys.create_api_key(&key).await.expect("create");
    let rbac = &stores.rbac;

    assert_eq!(
        key_grants(&stores, key.id).await,
        UserGrants::default(),
        "key_grants: a key without roles holds nothing"
    );
    for (role, new) in [("reader", true), ("reader", false), ("writer", true)] {
        let assigned = rbac.assign_key_role(key.id, role).await;
        assert_eq!(
            assigned.ok(),
            Some(new),
            "assign_key_role({role}) is true only when new"
        );
    }
    assert_eq!(
        key_grants(&stores, key.id).await,
        grants(
            &["reader", "writer"],
            &["docs:read", "docs:write"],
            &["export"]
        ),
        "key_grants: the key's roles and the union of what they grant"
    );
    let unknown = rbac.assign_key_role(key.id, "nobody").await;
    assert!(
        matches!(unknown, Err(StoreError::NotFound { what: Entity::Role })),
        "assign_key_role of an unknown role: NotFound naming the role, got {unknown:?}"
    );
    for (role, held) in [("writer", true), ("writer", false), ("nobody", false)] {
        let unassigned = rbac.unassign_key_role(key.id, role).await;
        assert_eq!(
            unassigned.ok(),
            Some(held),
            "unassign_key_role({role}) is true only when it was assigned"
        );
    }
    assert_eq!(
        key_grants(&stores, key.id).await,
        grants(&["reader"], &["docs:read"], &["export"]),
        "key_grants after unassign_key_role"
    );
    rbac.remove_item(SlugKind::Role, "reader")
        .await
        .expect("remove_item");
    assert_eq!(
        key_grants(&stores, key.id).await,
        UserGrants::default(),
        "remove_item of a role ends its assignments to keys"
    );
    assert_eq!(
        key_grants(&stores, ApiKeyId::new()).await,
        UserGrants::default(),
        "key_grants: an unknown key holds nothing"
    );
}

/// With keys, users and roles in one store: assigning to an unknown key is `NotFound`
/// naming the key, a key acting for an unknown user is `NotFound` and not written, and
/// deleting a key, or the user a key acts for, ends its assignments.
pub async fn key_roles_follow_the_key<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    define_roles(&stores).await;
    let unknown = stores.rbac.assign_key_role(ApiKeyId::new(), "reader").await;
    assert!(
        matches!(
            unknown,
            Err(StoreError::NotFound {
                what: Entity::ApiKey
            })
        ),
        "assign_key_role for an unknown key: NotFound naming the key, got {unknown:?}"
    );

    let owner = create_user(&stores).await;
    let mut acting_for_nobody = api_key(Some(owner.id), BASE);
    acting_for_nobody.acts_for = Some(authkit::UserId::new());
    let refused = stores.api_keys.create_api_key(&acting_for_nobody).await;
    assert!(
        matches!(refused, Err(StoreError::NotFound { what: Entity::User })),
        "create_api_key acting for an unknown user: NotFound naming the user, got {refused:?}"
    );
    let stored = stores.api_keys.api_key_by_id(acting_for_nobody.id).await;
    assert_eq!(stored.ok(), Some(None), "a refused key is not written");

    let target = create_user(&stores).await;
    let deleted = api_key(Some(owner.id), BASE);
    let mut acting = api_key(Some(owner.id), BASE);
    acting.acts_for = Some(target.id);
    for key in [&deleted, &acting] {
        stores.api_keys.create_api_key(key).await.expect("create");
        stores
            .rbac
            .assign_key_role(key.id, "reader")
            .await
            .expect("assign_key_role");
    }
    stores
        .api_keys
        .delete_api_key(deleted.id)
        .await
        .expect("delete_api_key");
    assert_eq!(
        key_grants(&stores, deleted.id).await,
        UserGrants::default(),
        "delete_api_key ends the key's role assignments"
    );
    stores
        .users
        .delete_user(target.id)
        .await
        .expect("delete_user");
    let gone = stores
        .api_keys
        .api_key_by_id(acting.id)
        .await
        .expect("read");
    assert_eq!(
        gone, None,
        "delete_user deletes the keys that act for the user"
    );
    assert_eq!(
        key_grants(&stores, acting.id).await,
        UserGrants::default(),
        "deleting the user a key acts for ends the key's role assignments"
    );
}
