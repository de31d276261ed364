//! [`ApiKeyStore`](authkit::ApiKeyStore): keys and service keys, lookups by hash and id,
//! updates, revocation, rotation, usage that adds up under concurrency, purging.

use std::collections::BTreeMap;
use std::net::IpAddr;

use authkit::{ApiKey, ApiKeyId, ApiKeyUpdate, Environment, KeyType, KeyUsage, StoreError, UserId};

use time::macros::datetime;

use crate::StoreFactory;
use crate::fixtures::{BASE, MICRO, api_key, at, canonical, create_user, fresh_hash, together};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A created key reads back equal, every field included, by hash and by id; unknown
/// hashes and ids are `None`.
pub async fn create_then_read<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let key = api_key(Some(u.id), BASE);
    let mut restricted = api_key(Some(u.id), at(1));
    restricted.key_type = KeyType::Restricted;
    restricted.environment = Environment::Test;
    restricted.organization_id = None;
    restricted.description = None;
    restricted.scopes = Vec::new();
    restricted.allowed_ips = Vec::new();
    restricted.metadata = BTreeMap::new();
    restricted.expires_at = Some(at(3600));
    restricted.usage_count = 7;
    restricted.last_used_at = Some(at(2));
    restricted.last_used_ip = Some(ip("2001:db8::42"));
    let mut publishable = api_key(None, at(2));
    publishable.key_type = KeyType::Publishable;
    publishable.name = "Ünïcode näme ✓".to_owned();
    publishable
        .metadata
        .insert(String::new(), "empty key".to_owned());
    publishable.revoked_at = Some(at(3));
    publishable.revoked_reason = Some("leaked".to_owned());
    publishable.last_used_ip = Some(ip("192.0.2.7"));
    publishable.last_used_at = Some(at(2));

    for k in [&key, &restricted, &publishable] {
        stores
            .api_keys
            .create_api_key(k)
            .await
            .expect("create_api_key");
    }
    for k in [&key, &restricted, &publishable] {
        let by_hash = stores
            .api_keys
            .api_key_by_hash(&k.key_hash)
            .await
            .expect("api_key_by_hash");
        assert_eq!(by_hash.as_ref(), Some(k), "api_key_by_hash");
        let by_id = stores
            .api_keys
            .api_key_by_id(k.id)
            .await
            .expect("api_key_by_id");
        assert_eq!(by_id.as_ref(), Some(k), "api_key_by_id");
    }
    let unknown = stores
        .api_keys
        .api_key_by_hash(&fresh_hash())
        .await
        .expect("api_key_by_hash");
    assert_eq!(
        unknown, None,
        "api_key_by_hash of an unknown hash must be None"
    );
    let unknown = stores
        .api_keys
        .api_key_by_id(ApiKeyId::new())
        .await
        .expect("api_key_by_id");
    assert_eq!(unknown, None, "api_key_by_id of an unknown id must be None");
}

/// A duplicate id or hash is `Conflict`, and the losing key is not written.
pub async fn create_duplicate_conflicts<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let first = api_key(Some(u.id), BASE);
    stores
        .api_keys
        .create_api_key(&first)
        .await
        .expect("create_api_key");

    let mut same_id = api_key(Some(u.id), BASE);
    same_id.id = first.id;
    let err = stores
        .api_keys
        .create_api_key(&same_id)
        .await
        .expect_err("create_api_key (duplicate id) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "create_api_key: duplicate id: expected Conflict, got {err:?}"
    );
    let found = stores
        .api_keys
        .api_key_by_hash(&same_id.key_hash)
        .await
        .expect("api_key_by_hash");
    assert_eq!(
        found, None,
        "a create_api_key refused with Conflict (duplicate id) must write nothing"
    );

    let mut same_hash = api_key(None, BASE);
    same_hash.key_hash = first.key_hash;
    let err = stores
        .api_keys
        .create_api_key(&same_hash)
        .await
        .expect_err("create_api_key (duplicate hash) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "create_api_key: duplicate hash: expected Conflict, got {err:?}"
    );
    let found = stores
        .api_keys
        .api_key_by_id(same_hash.id)
        .await
        .expect("api_key_by_id");
    assert_eq!(
        found, None,
        "a create_api_key refused with Conflict (duplicate hash) must write nothing"
    );
    let found = stores
        .api_keys
        .api_key_by_id(first.id)
        .await
        .expect("api_key_by_id");
    assert_eq!(
        found.as_ref(),
        Some(&first),
        "a create_api_key refused with Conflict must not change the first key"
    );
    assert_eq!(
        canonical(
            stores
                .api_keys
                .list_api_keys(None)
                .await
                .expect("list_api_keys")
        ),
        Vec::new(),
        "list_api_keys(None) after two refused creates: no service key was written"
    );
}

/// A key of an unknown owner is `NotFound` and is not written.
pub async fn create_unknown_owner_not_found<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let key = api_key(Some(UserId::new()), BASE);
    let err = stores
        .api_keys
        .create_api_key(&key)
        .await
        .expect_err("create_api_key (unknown owner) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "create_api_key: unknown owner: expected NotFound, got {err:?}"
    );
    assert_eq!(
        stores
            .api_keys
            .api_key_by_id(key.id)
            .await
            .expect("api_key_by_id"),
        None,
        "create_api_key of an unknown owner must write nothing"
    );
}

/// `list_api_keys` lists an owner's keys, or the service keys, in any order, revoked and
/// expired ones included.
pub async fn list_by_owner_and_service_keys<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let a = create_user(&stores).await;
    let b = create_user(&stores).await;
    // Ids are generated in the opposite order of `created_at`.
    let a_new = api_key(Some(a.id), at(20));
    let mut a_old = api_key(Some(a.id), at(10));
    a_old.expires_at = Some(at(11));
    let b_key = api_key(Some(b.id), at(15));
    let svc_new = api_key(None, at(30));
    let mut svc_old = api_key(None, at(5));
    svc_old.revoked_at = Some(at(6));
    svc_old.revoked_reason = Some("rotated".to_owned());
    for k in [&a_new, &svc_new, &b_key, &a_old, &svc_old] {
        stores
            .api_keys
            .create_api_key(k)
            .await
            .expect("create_api_key");
    }

    let listed = canonical(
        stores
            .api_keys
            .list_api_keys(Some(a.id))
            .await
            .expect("list_api_keys"),
    );
    assert_eq!(
        listed,
        vec![a_old, a_new],
        "list_api_keys(Some(owner)): the owner's keys, revoked and expired included"
    );
    let listed = canonical(
        stores
            .api_keys
            .list_api_keys(Some(b.id))
            .await
            .expect("list_api_keys"),
    );
    assert_eq!(
        listed,
        vec![b_key],
        "list_api_keys(Some(owner)) must not list another owner's keys"
    );
    let listed = canonical(
        stores
            .api_keys
            .list_api_keys(None)
            .await
            .expect("list_api_keys"),
    );
    assert_eq!(
        listed,
        vec![svc_old, svc_new],
        "list_api_keys(None): the service keys, revoked ones included"
    );
    let listed = stores
        .api_keys
        .list_api_keys(Some(UserId::new()))
        .await
        .expect("list_api_keys");
    assert!(
        listed.is_empty(),
        "list_api_keys of an unknown owner is empty"
    );
}

/// `update_api_key` changes exactly the fields it names (`Some(None)` clears), returns
/// the key as stored after; an empty update changes nothing; unknown id is `NotFound`.
pub async fn update_fields<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let key = api_key(Some(u.id), BASE);
    let bystander = api_key(Some(u.id), BASE);
    stores
        .api_keys
        .create_api_key(&key)
        .await
        .expect("create_api_key");
    stores
        .api_keys
        .create_api_key(&bystander)
        .await
        .expect("create_api_key");

    let unchanged = stores
        .api_keys
        .update_api_key(key.id, &ApiKeyUpdate::default())
        .await
        .expect("update_api_key");
    assert_eq!(
        unchanged, key,
        "update_api_key with an empty update must change nothing"
    );

    let update = ApiKeyUpdate::default()
        .name("renamed".to_owned())
        .description(None)
        .scopes(vec!["read:*".to_owned()])
        .expires_at(Some(at(7200) + MICRO))
        .allowed_ips(Vec::new())
        .metadata(BTreeMap::from([("k".to_owned(), "v".to_owned())]));
    let updated = stores
        .api_keys
        .update_api_key(key.id, &update)
        .await
        .expect("update_api_key");
    let mut expected = key.clone();
    expected.name = "renamed".to_owned();
    expected.description = None;
    expected.scopes = vec!["read:*".to_owned()];
    expected.expires_at = Some(at(7200) + MICRO);
    expected.allowed_ips = Vec::new();
    expected.metadata = BTreeMap::from([("k".to_owned(), "v".to_owned())]);
    assert_eq!(
        updated, expected,
        "update_api_key must change exactly the fields named and return the key as stored after"
    );
    let stored = stores
        .api_keys
        .api_key_by_id(key.id)
        .await
        .expect("api_key_by_id");
    assert_eq!(
        stored.as_ref(),
        Some(&expected),
        "api_key_by_id after update_api_key: the update is stored"
    );

    let update = ApiKeyUpdate::default()
        .description(Some("back".to_owned()))
        .expires_at(None);
    let updated = stores
        .api_keys
        .update_api_key(key.id, &update)
        .await
        .expect("update_api_key");
    expected.description = Some("back".to_owned());
    expected.expires_at = None;
    assert_eq!(
        updated, expected,
        "update_api_key: Some(Some(..)) sets the description, Some(None) clears the expiry"
    );
    let stored = stores
        .api_keys
        .api_key_by_hash(&key.key_hash)
        .await
        .expect("api_key_by_hash");
    assert_eq!(
        stored.as_ref(),
        Some(&expected),
        "api_key_by_hash after the second update_api_key: the update is stored"
    );

    let err = stores
        .api_keys
        .update_api_key(ApiKeyId::new(), &update)
        .await
        .expect_err("update_api_key (unknown id) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "update_api_key: unknown id: expected NotFound, got {err:?}"
    );
    let other = stores
        .api_keys
        .api_key_by_id(bystander.id)
        .await
        .expect("api_key_by_id");
    assert_eq!(
        other.as_ref(),
        Some(&bystander),
        "update_api_key must not touch another key"
    );
}

/// `revoke_api_key` revokes once (`true`); a second revoke is `false` and keeps the first
/// time and reason; unknown id is `NotFound`.
pub async fn revoke_keeps_first_reason<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let key = api_key(None, BASE);
    stores
        .api_keys
        .create_api_key(&key)
        .await
        .expect("create_api_key");

    assert!(
        stores
            .api_keys
            .revoke_api_key(key.id, "leaked", at(10))
            .await
            .expect("revoke_api_key"),
        "revoke_api_key of a live key returns true"
    );
    let mut expected = key.clone();
    expected.revoked_at = Some(at(10));
    expected.revoked_reason = Some("leaked".to_owned());
    let stored = stores
        .api_keys
        .api_key_by_hash(&key.key_hash)
        .await
        .expect("api_key_by_hash");
    assert_eq!(
        stored.as_ref(),
        Some(&expected),
        "revoke_api_key must set revoked_at = now and the reason"
    );

    assert!(
        !stores
            .api_keys
            .revoke_api_key(key.id, "again", at(20))
            .await
            .expect("revoke_api_key"),
        "a second revoke_api_key returns false"
    );
    let stored = stores
        .api_keys
        .api_key_by_id(key.id)
        .await
        .expect("api_key_by_id");
    assert_eq!(
        stored.as_ref(),
        Some(&expected),
        "a second revoke_api_key must keep the first time and reason"
    );

    let err = stores
        .api_keys
        .revoke_api_key(ApiKeyId::new(), "x", at(20))
        .await
        .expect_err("revoke_api_key (unknown id) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "revoke_api_key: unknown id: expected NotFound, got {err:?}"
    );
}

/// Once `revoke_api_key` returns, every lookup that starts afterwards (on any task)
/// sees the revocation: nothing caches.
pub async fn revocation_visible_to_next_lookup<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let key = api_key(None, BASE);
    stores
        .api_keys
        .create_api_key(&key)
        .await
        .expect("create_api_key");
    // Warm any cache a store might (wrongly) keep.
    let before = together(8, |_| {
        let stores = stores.clone();
        let hash = key.key_hash;
        async move {
            stores
                .api_keys
                .api_key_by_hash(&hash)
                .await
                .expect("api_key_by_hash")
        }
    })
    .await;
    assert!(
        before
            .iter()
            .all(|k| k.as_ref().is_some_and(|k| k.revoked_at.is_none())),
        "api_key_by_hash before the revocation: the key, unrevoked"
    );

    let revoker = stores.clone();
    let id = key.id;
    tokio::spawn(async move {
        revoker
            .api_keys
            .revoke_api_key(id, "compromised", at(5))
            .await
    })
    .await
    .expect("the revoking task")
    .expect("revoke_api_key");

    let after = together(8, |_| {
        let stores = stores.clone();
        let hash = key.key_hash;
        async move {
            stores
                .api_keys
                .api_key_by_hash(&hash)
                .await
                .expect("api_key_by_hash")
        }
    })
    .await;
    for k in after {
        assert_eq!(
            k.expect("api_key_by_hash: the key is stored").revoked_at,
            Some(at(5)),
            "api_key_by_hash after revoke_api_key returned must see revoked_at: nothing caches"
        );
    }
}

/// `replace_api_key` inserts the new key and lowers the old key's expiry to
/// `min(its expiry, old_expires_at)`; an unknown or revoked old key is `NotFound` with
/// nothing inserted; a duplicate new hash is `Conflict` with nothing changed.
pub async fn replace_api_key<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let no_expiry = api_key(Some(u.id), BASE);
    let mut early = api_key(Some(u.id), BASE);
    early.expires_at = Some(at(50));
    let mut late = api_key(Some(u.id), BASE);
    late.expires_at = Some(at(500));
    for k in [&no_expiry, &early, &late] {
        stores
            .api_keys
            .create_api_key(k)
            .await
            .expect("create_api_key");
    }

    for (old, expiry) in [(&no_expiry, at(100)), (&early, at(50)), (&late, at(100))] {
        let new = api_key(Some(u.id), at(1));
        stores
            .api_keys
            .replace_api_key(old.id, &new, at(100))
            .await
            .expect("replace_api_key");
        let stored = stores
            .api_keys
            .api_key_by_id(old.id)
            .await
            .expect("api_key_by_id")
            .expect("api_key_by_id: the key is stored");
        let mut expected = old.clone();
        expected.expires_at = Some(expiry);
        assert_eq!(
            stored, expected,
            "replace_api_key must set the old key's expires_at to min(its expiry, old_expires_at)"
        );
        let inserted = stores
            .api_keys
            .api_key_by_hash(&new.key_hash)
            .await
            .expect("api_key_by_hash");
        assert_eq!(
            inserted.as_ref(),
            Some(&new),
            "replace_api_key must insert the new key as given"
        );
    }

    let orphan = api_key(Some(u.id), at(2));
    let err = stores
        .api_keys
        .replace_api_key(ApiKeyId::new(), &orphan, at(100))
        .await
        .expect_err("replace_api_key (unknown old id) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "replace_api_key: unknown old id: expected NotFound, got {err:?}"
    );
    assert_eq!(
        stores
            .api_keys
            .api_key_by_id(orphan.id)
            .await
            .expect("api_key_by_id"),
        None,
        "replace_api_key with an unknown old id must insert nothing"
    );

    let revoked = api_key(Some(u.id), BASE);
    stores
        .api_keys
        .create_api_key(&revoked)
        .await
        .expect("create_api_key");
    assert!(
        stores
            .api_keys
            .revoke_api_key(revoked.id, "leaked", at(3))
            .await
            .expect("revoke_api_key"),
        "revoke_api_key of a live key returns true"
    );
    let successor = api_key(Some(u.id), at(4));
    let err = stores
        .api_keys
        .replace_api_key(revoked.id, &successor, at(100))
        .await
        .expect_err("replace_api_key (revoked old key) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "replace_api_key: revoked old key: expected NotFound, got {err:?}"
    );
    assert_eq!(
        stores
            .api_keys
            .api_key_by_id(successor.id)
            .await
            .expect("api_key_by_id"),
        None,
        "replace_api_key of a revoked key must insert nothing"
    );

    let fresh = api_key(Some(u.id), BASE);
    stores
        .api_keys
        .create_api_key(&fresh)
        .await
        .expect("create_api_key");
    let mut clash = api_key(Some(u.id), at(3));
    clash.key_hash = no_expiry.key_hash;
    let err = stores
        .api_keys
        .replace_api_key(fresh.id, &clash, at(10))
        .await
        .expect_err("replace_api_key (duplicate new hash) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "replace_api_key: duplicate new hash: expected Conflict, got {err:?}"
    );
    let stored = stores
        .api_keys
        .api_key_by_id(fresh.id)
        .await
        .expect("api_key_by_id");
    assert_eq!(
        stored.as_ref(),
        Some(&fresh),
        "a replace_api_key refused with Conflict must not change the old key"
    );
    assert_eq!(
        stores
            .api_keys
            .api_key_by_id(clash.id)
            .await
            .expect("api_key_by_id"),
        None,
        "replace_api_key with a duplicate new hash must not insert the new key"
    );
}

/// 32 concurrent batches of one use each add up exactly; the latest use wins
/// `last_used_at` and its IP whatever the order; repeated keys in a batch add up;
/// unknown keys are skipped.
pub async fn record_usage_adds_up<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let key = api_key(None, BASE);
    let other = api_key(None, BASE);
    stores
        .api_keys
        .create_api_key(&key)
        .await
        .expect("create_api_key");
    stores
        .api_keys
        .create_api_key(&other)
        .await
        .expect("create_api_key");

    together(32, |i| {
        let stores = stores.clone();
        let batch = vec![
            KeyUsage {
                key_id: key.id,
                uses: 1,
                last_used_at: at(100 + i as i64),
                last_used_ip: Some(IpAddr::from([10, 0, 0, i as u8])),
                last_used_user_agent: None,
            },
            KeyUsage {
                key_id: ApiKeyId::new(),
                uses: 5,
                last_used_at: at(1000),
                last_used_ip: None,
                last_used_user_agent: None,
            },
            KeyUsage {
                key_id: other.id,
                uses: 2,
                last_used_at: at(50),
                last_used_ip: None,
                last_used_user_agent: None,
            },
        ];
        async move {
            stores
                .api_keys
                .record_key_usage(&batch)
                .await
                .expect("record_key_usage")
        }
    })
    .await;

    let stored = stores
        .api_keys
        .api_key_by_id(key.id)
        .await
        .expect("api_key_by_id")
        .expect("api_key_by_id: the key is stored");
    assert_eq!(
        stored.usage_count, 32,
        "record_key_usage: 32 concurrent batches of one use add up to 32"
    );
    assert_eq!(
        stored.last_used_at,
        Some(at(131)),
        "record_key_usage must move last_used_at to the latest use, whatever the order"
    );
    assert_eq!(
        stored.last_used_ip,
        Some(ip("10.0.0.31")),
        "record_key_usage must move last_used_ip with the latest use"
    );
    let stored = stores
        .api_keys
        .api_key_by_id(other.id)
        .await
        .expect("api_key_by_id")
        .expect("api_key_by_id: the key is stored");
    assert_eq!(
        stored.usage_count, 64,
        "record_key_usage must add the uses of another key in the same batches"
    );
    assert_eq!(
        stored.last_used_at,
        Some(at(50)),
        "record_key_usage: an entry no later than the stored one leaves last_used_at"
    );
    assert_eq!(
        stored.last_used_ip, None,
        "record_key_usage: an entry no later than the stored one leaves last_used_ip"
    );

    let twice = [
        KeyUsage {
            key_id: other.id,
            uses: 3,
            last_used_at: at(60),
            last_used_ip: Some(ip("::1")),
            last_used_user_agent: None,
        },
        KeyUsage {
            key_id: other.id,
            uses: 4,
            last_used_at: at(55),
            last_used_ip: Some(ip("192.0.2.1")),
            last_used_user_agent: None,
        },
    ];
    stores
        .api_keys
        .record_key_usage(&twice)
        .await
        .expect("record_key_usage");
    let stored = stores
        .api_keys
        .api_key_by_id(other.id)
        .await
        .expect("api_key_by_id")
        .expect("api_key_by_id: the key is stored");
    assert_eq!(
        stored.usage_count, 71,
        "record_key_usage must add both entries of one key in a batch"
    );
    assert_eq!(
        stored.last_used_at,
        Some(at(60)),
        "record_key_usage: the latest entry of a batch sets last_used_at"
    );
    assert_eq!(
        stored.last_used_ip,
        Some(ip("::1")),
        "record_key_usage: the latest entry of a batch sets last_used_ip"
    );

    stores
        .api_keys
        .record_key_usage(&[])
        .await
        .expect("record_key_usage");
}

/// A batch of any size is written whole: 150 keys (more than one statement's worth in
/// stores that split a batch), each with its own count, time, IP and agent, plus an
/// entry for a key that does not exist.
pub async fn record_usage_large_batch<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let mut keys = Vec::new();
    for _ in 0..150 {
        let key = api_key(None, BASE);
        stores
            .api_keys
            .create_api_key(&key)
            .await
            .expect("create_api_key");
        keys.push(key);
    }
    let entry = |i: usize, key: &ApiKey| KeyUsage {
        key_id: key.id,
        uses: i as u64 + 1,
        last_used_at: at(10 + i as i64),
        last_used_ip: Some(IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8])),
        last_used_user_agent: Some(format!("agent/{i}")),
    };
    let mut batch: Vec<KeyUsage> = keys.iter().enumerate().map(|(i, k)| entry(i, k)).collect();
    batch.push(KeyUsage {
        key_id: ApiKeyId::new(),
        ..batch[0].clone()
    });
    stores
        .api_keys
        .record_key_usage(&batch)
        .await
        .expect("record_key_usage of 151 entries");
    for (i, key) in keys.iter().enumerate() {
        let stored = stores
            .api_keys
            .api_key_by_id(key.id)
            .await
            .expect("api_key_by_id")
            .expect("api_key_by_id: the key is stored");
        let want = entry(i, key);
        assert_eq!(
            (stored.usage_count, stored.last_used_at),
            (want.uses, Some(want.last_used_at)),
            "record_key_usage of 151 entries: entry {i} is written (count, time)"
        );
        assert_eq!(
            (stored.last_used_ip, stored.last_used_user_agent),
            (want.last_used_ip, want.last_used_user_agent),
            "record_key_usage of 151 entries: entry {i} is written (IP, user agent)"
        );
    }
}

/// `last_used_at` (with its IP) only moves forward: an older or equal use adds its count
/// and leaves them.
pub async fn record_usage_last_used_moves_forward<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let key = api_key(None, BASE);
    stores
        .api_keys
        .create_api_key(&key)
        .await
        .expect("create_api_key");
    let usage = |uses, when, addr: &str| KeyUsage {
        key_id: key.id,
        uses,
        last_used_at: when,
        last_used_ip: Some(ip(addr)),
        last_used_user_agent: None,
    };

    stores
        .api_keys
        .record_key_usage(&[usage(1, at(20), "192.0.2.20")])
        .await
        .expect("record_key_usage");
    stores
        .api_keys
        .record_key_usage(&[usage(3, at(10), "192.0.2.10")])
        .await
        .expect("record_key_usage");
    let stored = stores
        .api_keys
        .api_key_by_id(key.id)
        .await
        .expect("api_key_by_id")
        .expect("api_key_by_id: the key is stored");
    assert_eq!(
        stored.usage_count, 4,
        "record_key_usage adds every entry's uses, older ones included"
    );
    assert_eq!(
        stored.last_used_at,
        Some(at(20)),
        "record_key_usage with an older use must not move last_used_at back"
    );
    assert_eq!(
        stored.last_used_ip,
        Some(ip("192.0.2.20")),
        "record_key_usage with an older use must not move last_used_ip"
    );

    stores
        .api_keys
        .record_key_usage(&[usage(1, at(20), "192.0.2.99")])
        .await
        .expect("record_key_usage");
    let stored = stores
        .api_keys
        .api_key_by_id(key.id)
        .await
        .expect("api_key_by_id")
        .expect("api_key_by_id: the key is stored");
    assert_eq!(
        stored.usage_count, 5,
        "record_key_usage adds the uses of an entry at an equal time"
    );
    assert_eq!(
        stored.last_used_ip,
        Some(ip("192.0.2.20")),
        "record_key_usage with an equal time must not move last_used_ip (not later)"
    );

    stores
        .api_keys
        .record_key_usage(&[usage(1, at(20) + MICRO, "2001:db8::20")])
        .await
        .expect("record_key_usage");
    let stored = stores
        .api_keys
        .api_key_by_id(key.id)
        .await
        .expect("api_key_by_id")
        .expect("api_key_by_id: the key is stored");
    assert_eq!(
        stored.usage_count, 6,
        "record_key_usage adds the uses of a later entry"
    );
    assert_eq!(
        stored.last_used_at,
        Some(at(20) + MICRO),
        "record_key_usage with a later use must move last_used_at"
    );
    assert_eq!(
        stored.last_used_ip,
        Some(ip("2001:db8::20")),
        "record_key_usage: a later entry moves last_used_ip"
    );
}

/// `delete_api_key` deletes (`true`), then `false`; unknown ids are `false`.
pub async fn delete_api_key<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let key = api_key(None, BASE);
    let keep = api_key(None, BASE);
    stores
        .api_keys
        .create_api_key(&key)
        .await
        .expect("create_api_key");
    stores
        .api_keys
        .create_api_key(&keep)
        .await
        .expect("create_api_key");

    assert!(
        stores
            .api_keys
            .delete_api_key(key.id)
            .await
            .expect("delete_api_key"),
        "delete_api_key of an existing key returns true"
    );
    assert_eq!(
        stores
            .api_keys
            .api_key_by_id(key.id)
            .await
            .expect("api_key_by_id"),
        None,
        "api_key_by_id after delete_api_key must be None"
    );
    assert_eq!(
        stores
            .api_keys
            .api_key_by_hash(&key.key_hash)
            .await
            .expect("api_key_by_hash"),
        None,
        "api_key_by_hash after delete_api_key must be None"
    );
    assert!(
        !stores
            .api_keys
            .delete_api_key(key.id)
            .await
            .expect("delete_api_key"),
        "a second delete_api_key of one id returns false"
    );
    assert!(
        !stores
            .api_keys
            .delete_api_key(ApiKeyId::new())
            .await
            .expect("delete_api_key"),
        "delete_api_key of an unknown id returns false"
    );
    assert_eq!(
        canonical(
            stores
                .api_keys
                .list_api_keys(None)
                .await
                .expect("list_api_keys")
        ),
        vec![keep],
        "delete_api_key deletes only the key named"
    );
}

/// `purge_api_keys` deletes keys with `expires_at <= now`, at most `limit` per call, and
/// keeps keys without expiry, unexpired ones and revoked unexpired ones.
pub async fn purge_api_keys<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let mut expired = Vec::new();
    for t in [10, 20, 30] {
        let mut k = api_key(None, BASE);
        k.expires_at = Some(at(t));
        expired.push(k);
    }
    let no_expiry = api_key(None, BASE);
    let mut later = api_key(None, BASE);
    later.expires_at = Some(at(30) + MICRO);
    let mut revoked = api_key(None, BASE);
    revoked.expires_at = Some(at(3600));
    revoked.revoked_at = Some(at(1));
    revoked.revoked_reason = Some("r".to_owned());
    for k in expired.iter().chain([&no_expiry, &later, &revoked]) {
        stores
            .api_keys
            .create_api_key(k)
            .await
            .expect("create_api_key");
    }

    let first = stores
        .api_keys
        .purge_api_keys(at(30), 2)
        .await
        .expect("purge_api_keys");
    let second = stores
        .api_keys
        .purge_api_keys(at(30), 2)
        .await
        .expect("purge_api_keys");
    let third = stores
        .api_keys
        .purge_api_keys(at(30), 2)
        .await
        .expect("purge_api_keys");
    assert_eq!(
        (first, second, third),
        (2, 1, 0),
        "purge_api_keys deletes at most limit per call: counts with limit 2"
    );
    for k in &expired {
        assert_eq!(
            stores
                .api_keys
                .api_key_by_id(k.id)
                .await
                .expect("api_key_by_id"),
            None,
            "purge_api_keys must delete a key with expires_at <= now"
        );
    }
    let left: Vec<ApiKey> = canonical(
        stores
            .api_keys
            .list_api_keys(None)
            .await
            .expect("list_api_keys"),
    );
    let mut left_ids: Vec<_> = left.iter().map(|k| k.id).collect();
    left_ids.sort();
    let mut expected = vec![no_expiry.id, later.id, revoked.id];
    expected.sort();
    assert_eq!(
        left_ids, expected,
        "purge_api_keys must keep keys without expiry, unexpired ones and revoked unexpired ones"
    );
}

/// `replace_api_key` racing `revoke_api_key` of the old key: the revocation check and
/// the change are one step, so every rotation that succeeded had stored its new key by
/// the time the revocation returned, and every one refused (`NotFound`) stored nothing.
/// 32 rotations of one key race one revocation.
pub async fn revoke_races_replace<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let old = api_key(Some(u.id), BASE);
    stores
        .api_keys
        .create_api_key(&old)
        .await
        .expect("create_api_key");
    let news: Vec<ApiKey> = (0..32).map(|_| api_key(Some(u.id), at(1))).collect();

    let outcomes = together(news.len() + 1, |i| {
        let stores = stores.clone();
        let news = news.clone();
        let old_id = old.id;
        async move {
            if i == 0 {
                // Let the rotations start, then revoke in the middle of them.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                let revoked = stores
                    .api_keys
                    .revoke_api_key(old_id, "compromised", at(2))
                    .await
                    .expect("revoke_api_key");
                // What is stored the moment the revocation returned.
                let mut stored = Vec::new();
                for new in &news {
                    let found = stores
                        .api_keys
                        .api_key_by_hash(&new.key_hash)
                        .await
                        .expect("api_key_by_hash");
                    stored.push(found.is_some());
                }
                (Some((revoked, stored)), None)
            } else {
                let result = stores
                    .api_keys
                    .replace_api_key(old_id, &news[i - 1], at(100))
                    .await;
                (None, Some(result))
            }
        }
    })
    .await;

    let (revoked, stored_at_revocation) = outcomes[0].0.clone().expect("the revoker's outcome");
    assert!(
        revoked,
        "revoke_api_key of a key being rotated returns true"
    );
    for (i, (_, result)) in outcomes.iter().enumerate().skip(1) {
        let new = &news[i - 1];
        match result.as_ref().expect("a rotation's outcome") {
            Ok(()) => assert!(
                stored_at_revocation[i - 1],
                "replace_api_key {i} succeeded, but its new key was not stored when \
                 revoke_api_key returned: the rotation outlived the revocation"
            ),
            Err(StoreError::NotFound { .. }) => {
                let found = stores
                    .api_keys
                    .api_key_by_id(new.id)
                    .await
                    .expect("api_key_by_id");
                assert_eq!(
                    found, None,
                    "replace_api_key {i} was refused but stored its new key"
                );
            }
            Err(err) => panic!("replace_api_key {i} racing a revocation: unexpected {err:?}"),
        }
    }
    let stored = stores
        .api_keys
        .api_key_by_id(old.id)
        .await
        .expect("api_key_by_id");
    assert_eq!(
        stored.and_then(|k| k.revoked_at),
        Some(at(2)),
        "revoke_api_key racing replace_api_key: the old key ends revoked"
    );
}

/// A `replace_api_key` that fails changes nothing: with a new key whose hash or id is
/// taken (`Conflict`), the old key keeps its expiry (none, or one later than asked) and
/// the new key is not stored.
pub async fn replace_conflict_changes_nothing<F: StoreFactory>(factory: &F) {
    replace_into_unstorable(factory, false).await;
}

/// In a store that holds the users too, a new key whose owner is unknown is `NotFound`
/// (as `create_api_key` would refuse it), and nothing changes.
pub async fn replace_unknown_owner_changes_nothing<F: StoreFactory>(factory: &F) {
    replace_into_unstorable(factory, true).await;
}

/// The new keys that cannot be stored: a taken hash and a taken id, and with
/// `unknown_owner` one owned by an unknown user.
async fn replace_into_unstorable<F: StoreFactory>(factory: &F, unknown_owner: bool) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let taken = api_key(Some(u.id), BASE);
    let no_expiry = api_key(Some(u.id), BASE);
    let mut later = api_key(Some(u.id), BASE);
    later.expires_at = Some(at(500));
    for k in [&taken, &no_expiry, &later] {
        stores
            .api_keys
            .create_api_key(k)
            .await
            .expect("create_api_key");
    }

    for old in [&no_expiry, &later] {
        let same_hash = ApiKey {
            key_hash: taken.key_hash,
            ..api_key(Some(u.id), at(1))
        };
        let same_id = ApiKey {
            id: taken.id,
            ..api_key(Some(u.id), at(1))
        };
        let of_unknown_owner = api_key(Some(UserId::new()), at(1));
        let mut unstorable = vec![(&same_hash, "a taken hash"), (&same_id, "a taken id")];
        if unknown_owner {
            unstorable.push((&of_unknown_owner, "an unknown owner"));
        }
        for (new, what) in unstorable {
            let err = stores
                .api_keys
                .replace_api_key(old.id, new, at(100))
                .await
                .expect_err("replace_api_key into an unstorable new key must fail");
            if what == "an unknown owner" {
                assert!(
                    matches!(err, StoreError::NotFound { .. }),
                    "replace_api_key with {what}: expected NotFound, got {err:?}"
                );
            } else {
                assert!(
                    matches!(err, StoreError::Conflict { .. }),
                    "replace_api_key with {what}: expected Conflict, got {err:?}"
                );
            }
            let stored = stores
                .api_keys
                .api_key_by_id(old.id)
                .await
                .expect("api_key_by_id");
            assert_eq!(
                stored.as_ref(),
                Some(old),
                "replace_api_key with {what} failed but changed the old key (expiry {:?})",
                old.expires_at
            );
            let by_hash = stores
                .api_keys
                .api_key_by_hash(&new.key_hash)
                .await
                .expect("api_key_by_hash");
            let by_id = stores
                .api_keys
                .api_key_by_id(new.id)
                .await
                .expect("api_key_by_id");
            let stored_new = [by_hash, by_id]
                .into_iter()
                .flatten()
                .any(|k| k.id == new.id && k.key_hash == new.key_hash);
            assert!(
                !stored_new,
                "replace_api_key with {what} failed but stored the new key"
            );
        }
    }
    let stored = stores
        .api_keys
        .api_key_by_id(taken.id)
        .await
        .expect("api_key_by_id");
    assert_eq!(
        stored.as_ref(),
        Some(&taken),
        "failed replace_api_key calls changed the key they collided with"
    );
}

/// A key with empty strings where `None` is also possible (description, organization,
/// revocation reason), an empty name, empty scope and IP lists, empty metadata, usage
/// counts past 2^53 and at `i64::MAX` (the largest every supported database holds), and
/// times in years 1000 and 9999 reads back exactly by hash, by id and in listings.
/// Usage adds to a large count exactly, a revocation with an empty reason keeps
/// `Some("")`, and a key expiring in year 9999 is not purged.
pub async fn edge_values_round_trip<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let earliest = datetime!(1000-01-01 00:00:00.000001 UTC);
    let latest = datetime!(9999-12-31 23:59:59.999999 UTC);
    let big = (1u64 << 53) + 1;
    let empty = ApiKey {
        name: String::new(),
        description: Some(String::new()),
        organization_id: Some(String::new()),
        scopes: Vec::new(),
        allowed_ips: Vec::new(),
        metadata: BTreeMap::new(),
        expires_at: Some(latest),
        usage_count: big,
        last_used_at: Some(earliest),
        last_used_ip: None,
        ..api_key(Some(u.id), earliest)
    };
    let service = ApiKey {
        revoked_at: Some(earliest),
        revoked_reason: Some(String::new()),
        usage_count: i64::MAX as u64,
        ..api_key(None, latest)
    };
    for k in [&empty, &service] {
        stores
            .api_keys
            .create_api_key(k)
            .await
            .expect("create_api_key");
        let by_hash = stores
            .api_keys
            .api_key_by_hash(&k.key_hash)
            .await
            .expect("api_key_by_hash");
        assert_eq!(
            by_hash.as_ref(),
            Some(k),
            "create_api_key then api_key_by_hash: empty strings stay Some(\"\"), large counts \
             and times in years 1000 and 9999 read back exactly"
        );
        let by_id = stores
            .api_keys
            .api_key_by_id(k.id)
            .await
            .expect("api_key_by_id");
        assert_eq!(by_id.as_ref(), Some(k), "create_api_key then api_key_by_id");
    }
    let listed = canonical(
        stores
            .api_keys
            .list_api_keys(Some(u.id))
            .await
            .expect("list_api_keys"),
    );
    assert_eq!(listed, vec![empty.clone()], "list_api_keys of the owner");
    let listed = canonical(
        stores
            .api_keys
            .list_api_keys(None)
            .await
            .expect("list_api_keys"),
    );
    assert_eq!(
        listed,
        vec![service.clone()],
        "list_api_keys of service keys"
    );

    let usage = KeyUsage {
        key_id: empty.id,
        uses: 1,
        last_used_at: latest,
        last_used_ip: Some(ip("::1")),
        last_used_user_agent: None,
    };
    stores
        .api_keys
        .record_key_usage(&[usage])
        .await
        .expect("record_key_usage");
    let stored = stores
        .api_keys
        .api_key_by_id(empty.id)
        .await
        .expect("api_key_by_id")
        .expect("the key");
    assert_eq!(
        (stored.usage_count, stored.last_used_at),
        (big + 1, Some(latest)),
        "record_key_usage adds to a count past 2^53 exactly and moves last_used_at to year 9999"
    );

    let fresh = api_key(None, BASE);
    stores
        .api_keys
        .create_api_key(&fresh)
        .await
        .expect("create_api_key");
    let revoked = stores
        .api_keys
        .revoke_api_key(fresh.id, "", at(1))
        .await
        .expect("revoke_api_key");
    assert!(revoked, "revoke_api_key with an empty reason returns true");
    let stored = stores
        .api_keys
        .api_key_by_id(fresh.id)
        .await
        .expect("api_key_by_id")
        .expect("the key");
    assert_eq!(
        stored.revoked_reason.as_deref(),
        Some(""),
        "revoke_api_key with an empty reason keeps Some(\"\")"
    );

    let purged = stores
        .api_keys
        .purge_api_keys(at(10), 10)
        .await
        .expect("purge_api_keys");
    assert_eq!(
        purged, 0,
        "purge_api_keys: a key expiring in year 9999 stays"
    );
}
