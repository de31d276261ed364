//! Per-key rate limits, key roles and the new key columns on every database the build
//! enables: `cargo test -p authkit-sqlx --all-features --test key_limits`.
//!
//! The servers are `AUTHKIT_TEST_POSTGRES_URL` and `AUTHKIT_TEST_MYSQL_URL` (defaults as
//! in the conformance targets); one that cannot be reached fails its cases naming the
//! variable. Each case gets its own schema, database or file, dropped when it ends.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use authkit::{
    ApiKeyUpdate, Entity, GrantKind, KeyUsage, RateLimit, RateWindow, SlugKind, StoreError, Stores,
    UserId,
};
use authkit_conformance::fixtures::{self, MICRO, at, secs};

/// A key limited to `requests` per `window` seconds, owned by a fresh user.
async fn limited_key(stores: &Stores, requests: u32, window: i64) -> authkit::ApiKey {
    let owner = fixtures::create_user(stores).await;
    let mut key = fixtures::api_key(Some(owner.id), at(0));
    key.rate_limit = Some(RateLimit::new(requests, secs(window)));
    stores.api_keys.create_api_key(&key).await.unwrap();
    key
}

/// Counts 1, 2, … within a window (past the limit too), restarts at exactly
/// `start + window`, and counts nothing for an unknown or unlimited key.
async fn counts_and_restarts(stores: &Stores) {
    let keys = &stores.api_keys;
    let key = limited_key(stores, 3, 10).await;
    for (n, t) in [(1, at(0)), (2, at(1)), (3, at(2)), (4, at(3))] {
        assert_eq!(
            keys.count_api_key_request(key.id, t).await.unwrap(),
            Some(RateWindow {
                count: n,
                started_at: at(0)
            })
        );
    }
    // One microsecond before the window ends: still the same window.
    let last = keys
        .count_api_key_request(key.id, at(10) - MICRO)
        .await
        .unwrap();
    assert_eq!(last.map(|w| (w.count, w.started_at)), Some((5, at(0))));
    // At `start + window`: a new window.
    let next = keys.count_api_key_request(key.id, at(10)).await.unwrap();
    assert_eq!(
        next,
        Some(RateWindow {
            count: 1,
            started_at: at(10)
        })
    );
    let next = keys.count_api_key_request(key.id, at(11)).await.unwrap();
    assert_eq!(next.map(|w| (w.count, w.started_at)), Some((2, at(10))));
    // Long after: a new window again.
    let later = keys.count_api_key_request(key.id, at(1000)).await.unwrap();
    assert_eq!(later.map(|w| (w.count, w.started_at)), Some((1, at(1000))));

    // The limit changed: the window under way goes on, under the new length.
    let update = ApiKeyUpdate::default().rate_limit(Some(RateLimit::new(3, secs(2))));
    keys.update_api_key(key.id, &update).await.unwrap();
    let w = keys.count_api_key_request(key.id, at(1001)).await.unwrap();
    assert_eq!(w.map(|w| (w.count, w.started_at)), Some((2, at(1000))));
    let w = keys.count_api_key_request(key.id, at(1002)).await.unwrap();
    assert_eq!(w.map(|w| (w.count, w.started_at)), Some((1, at(1002))));

    // Limit removed: nothing counted.
    let update = ApiKeyUpdate::default().rate_limit(None);
    let updated = keys.update_api_key(key.id, &update).await.unwrap();
    assert_eq!(updated.rate_limit, None);
    assert_eq!(
        keys.count_api_key_request(key.id, at(1003)).await.unwrap(),
        None
    );

    let mut unlimited = fixtures::api_key(None, at(0));
    unlimited.rate_limit = None;
    keys.create_api_key(&unlimited).await.unwrap();
    assert_eq!(
        keys.count_api_key_request(unlimited.id, at(0))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        keys.count_api_key_request(authkit::ApiKeyId::new(), at(0))
            .await
            .unwrap(),
        None
    );
}

/// 32 calls at once in one window get 32 distinct counts, 1 to 32.
async fn concurrent_counts_are_distinct(stores: &Stores) {
    const N: usize = 32;
    let key = limited_key(stores, 5, 3600).await;
    let keys = stores.api_keys.clone();
    let mut counts = fixtures::together(N, |i| {
        let keys = keys.clone();
        async move {
            let offset = i64::try_from(i).unwrap();
            keys.count_api_key_request(key.id, at(0) + time::Duration::microseconds(offset))
                .await
                .unwrap()
                .expect("a limited key is counted")
                .count
        }
    })
    .await;
    counts.sort_unstable();
    let expected: Vec<u64> = (1..=u64::try_from(N).unwrap()).collect();
    assert_eq!(counts, expected);
    let within = counts.iter().filter(|c| **c <= 5).count();
    assert_eq!(within, 5, "exactly the limit's worth pass");
}

/// 32 verifications at once of a key limited to 5 (through `api_key_for_request`, the
/// path core takes): 32 distinct counts, so exactly 5 pass.
async fn concurrent_verifications_are_distinct(stores: &Stores) {
    const N: usize = 32;
    let key = limited_key(stores, 5, 3600).await;
    let keys = stores.api_keys.clone();
    let mut counts = fixtures::together(N, |_| {
        let keys = keys.clone();
        async move {
            let (found, window) = keys
                .api_key_for_request(&key.key_hash, at(1))
                .await
                .unwrap()
                .expect("the key");
            assert_eq!(found.id, key.id);
            window.expect("a limited key is counted").count
        }
    })
    .await;
    counts.sort_unstable();
    let expected: Vec<u64> = (1..=u64::try_from(N).unwrap()).collect();
    assert_eq!(counts, expected);
}

/// `api_key_for_request`: the key as stored and its window for a limited key; the key
/// and no window for an unlimited one; `None` for an unknown hash.
async fn key_for_request(stores: &Stores) {
    let keys = &stores.api_keys;
    let key = limited_key(stores, 2, 60).await;
    let (found, window) = keys
        .api_key_for_request(&key.key_hash, at(5))
        .await
        .unwrap()
        .expect("the key");
    assert_eq!(found, key);
    assert_eq!(
        window,
        Some(RateWindow {
            count: 1,
            started_at: at(5)
        })
    );
    let (_, window) = keys
        .api_key_for_request(&key.key_hash, at(6))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(window.map(|w| (w.count, w.started_at)), Some((2, at(5))));
    // The counter is the same one count_api_key_request moves.
    let w = keys.count_api_key_request(key.id, at(7)).await.unwrap();
    assert_eq!(w.map(|w| w.count), Some(3));

    let mut unlimited = fixtures::api_key(None, at(0));
    unlimited.rate_limit = None;
    keys.create_api_key(&unlimited).await.unwrap();
    let (found, window) = keys
        .api_key_for_request(&unlimited.key_hash, at(5))
        .await
        .unwrap()
        .expect("the key");
    assert_eq!((found, window), (unlimited, None));

    let none = keys
        .api_key_for_request(&fixtures::fresh_hash(), at(5))
        .await
        .unwrap();
    assert_eq!(none, None);
}

/// Rate limit, acts-for user and user agent are written and read back, on insert,
/// rotation, update and usage; an unknown acts-for user is `NotFound(User)`; deleting
/// that user deletes the key.
async fn new_columns_round_trip(stores: &Stores) {
    let keys = &stores.api_keys;
    let owner = fixtures::create_user(stores).await;
    let other = fixtures::create_user(stores).await;
    let mut key = fixtures::api_key(Some(owner.id), at(0));
    key.rate_limit = Some(RateLimit::new(
        RateLimit::MAX_REQUESTS,
        RateLimit::MAX_WINDOW,
    ));
    key.acts_for = Some(other.id);
    key.last_used_at = Some(at(1));
    key.last_used_user_agent = Some("curl/8.5.0 ünïcode".to_owned());
    keys.create_api_key(&key).await.unwrap();
    assert_eq!(
        keys.api_key_by_id(key.id).await.unwrap().as_ref(),
        Some(&key)
    );
    assert_eq!(
        keys.api_key_by_hash(&key.key_hash).await.unwrap().as_ref(),
        Some(&key)
    );
    let listed = keys.list_api_keys(Some(owner.id)).await.unwrap();
    assert_eq!(listed, vec![key.clone()]);

    // Usage: the user agent moves with last_used_at, forward only.
    let usage = |t, ua: Option<&str>| KeyUsage {
        key_id: key.id,
        uses: 1,
        last_used_at: t,
        last_used_ip: Some("192.0.2.1".parse().unwrap()),
        last_used_user_agent: ua.map(str::to_owned),
    };
    keys.record_key_usage(&[usage(at(5), Some("agent/5"))])
        .await
        .unwrap();
    keys.record_key_usage(&[usage(at(3), Some("agent/3"))])
        .await
        .unwrap();
    let read = keys.api_key_by_id(key.id).await.unwrap().unwrap();
    assert_eq!(read.last_used_at, Some(at(5)));
    assert_eq!(read.last_used_user_agent.as_deref(), Some("agent/5"));
    assert_eq!(read.usage_count, 2);
    keys.record_key_usage(&[usage(at(6), None)]).await.unwrap();
    let read = keys.api_key_by_id(key.id).await.unwrap().unwrap();
    assert_eq!(
        read.last_used_user_agent, None,
        "a later use without one clears it"
    );

    // Update: the rate limit changes, then goes.
    let limit = RateLimit::new(7, secs(30));
    let update = ApiKeyUpdate::default().rate_limit(Some(limit));
    let updated = keys.update_api_key(key.id, &update).await.unwrap();
    assert_eq!(updated.rate_limit, Some(limit));
    assert_eq!(
        updated.acts_for,
        Some(other.id),
        "acts_for is left as it is"
    );
    let read = keys.api_key_by_id(key.id).await.unwrap().unwrap();
    assert_eq!(read, updated);
    let update = ApiKeyUpdate::default().name("renamed".to_owned());
    let read = keys.update_api_key(key.id, &update).await.unwrap();
    assert_eq!(read.rate_limit, Some(limit), "a rate limit not named stays");

    // Rotation inserts the new key with its columns.
    let mut new = fixtures::api_key(Some(owner.id), at(10));
    new.rate_limit = Some(RateLimit::new(1, secs(1)));
    new.acts_for = None;
    new.last_used_user_agent = Some("rotated".to_owned());
    keys.replace_api_key(key.id, &new, at(20)).await.unwrap();
    assert_eq!(keys.api_key_by_id(new.id).await.unwrap(), Some(new));

    // An unknown acts-for user.
    let mut orphan = fixtures::api_key(Some(owner.id), at(0));
    orphan.acts_for = Some(UserId::new());
    let err = keys.create_api_key(&orphan).await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: Entity::User }),
        "{err:?}"
    );

    // Deleting the user the key acts for deletes the key.
    assert!(stores.users.delete_user(other.id).await.unwrap());
    assert_eq!(keys.api_key_by_id(key.id).await.unwrap(), None);
}

/// Key roles: assign (new or not), unknown key or role, grants through the roles only,
/// unassign, and the cascades from the role and the key.
async fn key_roles(stores: &Stores) {
    let rbac = &stores.rbac;
    for (kind, slug) in [
        (SlugKind::Role, "editor"),
        (SlugKind::Role, "viewer"),
        (SlugKind::Permission, "posts:write"),
        (SlugKind::Permission, "posts:read"),
        (SlugKind::Ability, "publish"),
    ] {
        rbac.define_item(&fixtures::item(kind, slug)).await.unwrap();
    }
    let g = |r, k, s| async move { rbac.grant_to_role(r, k, s).await.unwrap() };
    assert!(g("editor", GrantKind::Permission, "posts:write").await);
    assert!(g("editor", GrantKind::Permission, "posts:read").await);
    assert!(g("editor", GrantKind::Ability, "publish").await);
    assert!(g("viewer", GrantKind::Permission, "posts:read").await);

    let owner = fixtures::create_user(stores).await;
    let key = fixtures::api_key(Some(owner.id), at(0));
    stores.api_keys.create_api_key(&key).await.unwrap();
    // A direct grant to the owner is not the key's.
    rbac.grant_to_user(owner.id, GrantKind::Ability, "publish")
        .await
        .unwrap();

    let empty = rbac.key_grants(key.id).await.unwrap();
    assert_eq!(empty, authkit::UserGrants::default());

    assert!(rbac.assign_key_role(key.id, "viewer").await.unwrap());
    assert!(!rbac.assign_key_role(key.id, "viewer").await.unwrap());
    assert!(rbac.assign_key_role(key.id, "editor").await.unwrap());

    let unknown_key = authkit::ApiKeyId::new();
    let err = rbac
        .assign_key_role(unknown_key, "viewer")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: Entity::ApiKey
            }
        ),
        "{err:?}"
    );
    let err = rbac.assign_key_role(key.id, "nobody").await.unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: Entity::Role }),
        "{err:?}"
    );
    let err = rbac
        .assign_key_role(unknown_key, "nobody")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: Entity::ApiKey | Entity::Role
            }
        ),
        "{err:?}"
    );
    let err = rbac
        .assign_key_role(key.id, "posts:read")
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { what: Entity::Role }),
        "a permission is not a role: {err:?}"
    );

    let grants = fixtures::canonical(rbac.key_grants(key.id).await.unwrap());
    assert_eq!(grants.roles, ["editor", "viewer"]);
    assert_eq!(grants.permissions, ["posts:read", "posts:write"]);
    assert_eq!(grants.abilities, ["publish"]);
    assert_eq!(
        rbac.key_grants(unknown_key).await.unwrap(),
        authkit::UserGrants::default()
    );

    assert!(rbac.unassign_key_role(key.id, "editor").await.unwrap());
    assert!(!rbac.unassign_key_role(key.id, "editor").await.unwrap());
    assert!(!rbac.unassign_key_role(key.id, "nobody").await.unwrap());
    assert!(!rbac.unassign_key_role(unknown_key, "viewer").await.unwrap());
    let grants = fixtures::canonical(rbac.key_grants(key.id).await.unwrap());
    assert_eq!(grants.roles, ["viewer"]);
    assert_eq!(grants.permissions, ["posts:read"]);
    assert!(grants.abilities.is_empty());

    // Removing the role ends the assignment.
    assert!(rbac.remove_item(SlugKind::Role, "viewer").await.unwrap());
    assert_eq!(
        rbac.key_grants(key.id).await.unwrap(),
        authkit::UserGrants::default()
    );

    // Deleting the key ends its assignments (and a new assignment names the key).
    assert!(rbac.assign_key_role(key.id, "editor").await.unwrap());
    assert!(stores.api_keys.delete_api_key(key.id).await.unwrap());
    assert_eq!(
        rbac.key_grants(key.id).await.unwrap(),
        authkit::UserGrants::default()
    );
    let err = rbac.assign_key_role(key.id, "editor").await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: Entity::ApiKey
            }
        ),
        "{err:?}"
    );
}

/// One async case on a fresh multi-thread runtime (the concurrency case needs workers).
fn run<F: std::future::Future<Output = ()>>(case: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(case);
}

/// The shared cases as `#[test]`s of the enclosing module, over its `open()`.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                run(async {
                    let case = open().await;
                    super::$case(&case.stores).await;
                });
            }
        )*
    };
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::str::FromStr;

    use authkit::Stores;
    use authkit_conformance::Cleanup;
    use authkit_conformance::fixtures::{self, at};
    use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
    use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection};
    use authkit_sqlx::{PgStore, StoreOptions};

    use super::{common, run};

    const URL_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
    const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

    pub(super) struct Case {
        pub(super) stores: Stores,
        store: PgStore,
        _cleanup: Cleanup,
    }

    /// A store over a fresh schema (named like the conformance suite's, so its sweep
    /// drops it if this run is killed), dropped with the case.
    async fn open() -> Case {
        let url = common::url_from_env(URL_VAR, DEFAULT_URL);
        let mut conn = PgConnection::connect(&url).await.unwrap_or_else(|err| {
            panic!("cannot reach PostgreSQL at {url}: {err}. Set {URL_VAR}.")
        });
        let schema = common::case_name("akt_");
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut conn)
            .await
            .expect("create the case's schema");
        let _ = conn.close().await;
        let (cleanup_url, doomed) = (url.clone(), schema.clone());
        let cleanup = Cleanup::new(async move {
            if let Ok(mut conn) = PgConnection::connect(&cleanup_url).await {
                let drop = format!("DROP SCHEMA IF EXISTS \"{doomed}\" CASCADE");
                let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await;
                let _ = conn.close().await;
            }
        });
        let options = PgConnectOptions::from_str(&url)
            .expect("parse the PostgreSQL URL")
            .options([("search_path", schema.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(5)
            .connect_with(options)
            .await
            .unwrap_or_else(|err| panic!("connect to {url} ({URL_VAR}): {err}"));
        let store = PgStore::new(pool, StoreOptions::default())
            .await
            .expect("migrate and verify");
        Case {
            stores: Stores::from_backend(store.clone()),
            store,
            _cleanup: cleanup,
        }
    }

    cases!(
        counts_and_restarts,
        concurrent_counts_are_distinct,
        concurrent_verifications_are_distinct,
        key_for_request,
        new_columns_round_trip,
        key_roles,
    );

    /// `api_key_for_request` writes nothing for an unlimited key (its
    /// row version is unchanged) and writes the window of a limited one.
    #[test]
    fn key_for_request_writes_only_a_limited_key() {
        run(async {
            let case = open().await;
            let keys = &case.stores.api_keys;
            let pool = case.store.pool();
            let version = |id: authkit::ApiKeyId| async move {
                sqlx::query_as::<_, (String, i64)>(
                    "SELECT xmin::text, rate_count FROM authkit_api_keys WHERE id = $1",
                )
                .bind(id.0)
                .fetch_one(pool)
                .await
                .unwrap()
            };

            let mut unlimited = fixtures::api_key(None, at(0));
            unlimited.rate_limit = None;
            keys.create_api_key(&unlimited).await.unwrap();
            let before = version(unlimited.id).await;
            for t in 0..3 {
                let (_, window) = keys
                    .api_key_for_request(&unlimited.key_hash, at(t))
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(window, None);
            }
            assert_eq!(
                version(unlimited.id).await,
                before,
                "no row version written"
            );

            let limited = super::limited_key(&case.stores, 10, 60).await;
            let before = version(limited.id).await;
            let (key, window) = keys
                .api_key_for_request(&limited.key_hash, at(1))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(key, limited);
            assert_eq!(window.map(|w| (w.count, w.started_at)), Some((1, at(1))));
            let after = version(limited.id).await;
            assert_ne!(after.0, before.0, "the window was written");
            assert_eq!(after.1, 1);
        });
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    use std::str::FromStr;

    use authkit::{ApiKeyStore, Stores};
    use authkit_conformance::Cleanup;
    use authkit_conformance::fixtures::at;
    use authkit_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPoolOptions};
    use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection};
    use authkit_sqlx::{MySqlStore, StoreOptions};

    use super::{common, run};

    const URL_VAR: &str = "AUTHKIT_TEST_MYSQL_URL";
    const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";

    pub(super) struct Case {
        pub(super) stores: Stores,
        store: MySqlStore,
        _cleanup: Cleanup,
    }

    /// A store over a fresh database (named like the conformance suite's, so its sweep
    /// drops it if this run is killed), dropped with the case.
    async fn open() -> Case {
        let url = common::url_from_env(URL_VAR, DEFAULT_URL);
        let mut conn = MySqlConnection::connect(&url).await.unwrap_or_else(|err| {
            panic!("cannot reach MySQL/MariaDB at {url}: {err}. Set {URL_VAR}.")
        });
        let database = common::case_name("akt_");
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE `{database}`")))
            .execute(&mut conn)
            .await
            .expect("create the case's database");
        let _ = conn.close().await;
        let (cleanup_url, doomed) = (url.clone(), database.clone());
        let cleanup = Cleanup::new(async move {
            if let Ok(mut conn) = MySqlConnection::connect(&cleanup_url).await {
                let drop = format!("DROP DATABASE IF EXISTS `{doomed}`");
                let _ = sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await;
                let _ = conn.close().await;
            }
        });
        let options = MySqlConnectOptions::from_str(&url)
            .expect("parse the MySQL URL")
            .database(&database);
        let pool = MySqlPoolOptions::new()
            .max_connections(5)
            .connect_with(options)
            .await
            .unwrap_or_else(|err| panic!("connect to {url} ({URL_VAR}): {err}"));
        let store = MySqlStore::new(pool, StoreOptions::default())
            .await
            .expect("migrate and verify");
        Case {
            stores: Stores::from_backend(store.clone()),
            store,
            _cleanup: cleanup,
        }
    }

    cases!(
        counts_and_restarts,
        concurrent_counts_are_distinct,
        concurrent_verifications_are_distinct,
        key_for_request,
        new_columns_round_trip,
        key_roles,
    );

    /// What the count relies on: sqlx's connections report matched rows
    /// (CLIENT_FOUND_ROWS), and the OK packet carries `LAST_INSERT_ID(expr)` of an
    /// `UPDATE`, even when the row's values do not change.
    #[test]
    fn found_rows_and_last_insert_id() {
        run(async {
            let case = open().await;
            let key = super::limited_key(&case.stores, 3, 60).await;
            let pool = case.store.pool();
            let done = sqlx::query(
                "UPDATE authkit_api_keys SET rate_count = LAST_INSERT_ID(41 + 1) WHERE id = ?",
            )
            .bind(key.id.0)
            .execute(pool)
            .await
            .unwrap();
            assert_eq!((done.rows_affected(), done.last_insert_id()), (1, 42));
            // Same values again: the row is matched, not changed.
            let done = sqlx::query(
                "UPDATE authkit_api_keys SET rate_count = LAST_INSERT_ID(42) WHERE id = ?",
            )
            .bind(key.id.0)
            .execute(pool)
            .await
            .unwrap();
            assert_eq!((done.rows_affected(), done.last_insert_id()), (1, 42));

            // The store's count on a row set so by hand: a window that never started.
            sqlx::query(
                "UPDATE authkit_api_keys SET rate_count = 0, rate_window_started_at = NULL \
                 WHERE id = ?",
            )
            .bind(key.id.0)
            .execute(pool)
            .await
            .unwrap();
            for n in 1..=2 {
                let w = case
                    .store
                    .count_api_key_request(key.id, at(n))
                    .await
                    .unwrap();
                assert_eq!(
                    w.map(|w| (w.count, w.started_at)),
                    Some((n.unsigned_abs(), at(1)))
                );
            }
        });
    }
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use std::path::PathBuf;

    use authkit::Stores;
    use authkit_sqlx::sqlx::sqlite::SqlitePoolOptions;
    use authkit_sqlx::{SqliteStore, StoreOptions};

    use super::{common, run};

    /// Deletes the case's database file (and WAL files) when dropped.
    struct RemoveFile(PathBuf);

    impl Drop for RemoveFile {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm"] {
                let mut file = self.0.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }

    pub(super) struct Case {
        pub(super) stores: Stores,
        _file: RemoveFile,
    }

    async fn open() -> Case {
        let path = std::env::temp_dir().join(format!("{}.db", common::case_name("authkit_")));
        let file = RemoveFile(path.clone());
        let url = format!("sqlite://{}", path.display());
        let options = SqliteStore::connect_options(&url).expect("SQLite options");
        let pool = SqlitePoolOptions::new()
            .max_connections(5)
            .connect_with(options)
            .await
            .unwrap_or_else(|err| panic!("open {}: {err}", path.display()));
        let store = SqliteStore::new(pool, StoreOptions::default())
            .await
            .expect("migrate and verify");
        Case {
            stores: Stores::from_backend(store),
            _file: file,
        }
    }

    cases!(
        counts_and_restarts,
        concurrent_counts_are_distinct,
        concurrent_verifications_are_distinct,
        key_for_request,
        new_columns_round_trip,
        key_roles,
    );
}
