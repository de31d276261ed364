//! Rows written through authkit-diesel are read and changed through authkit-sqlx, and
//! the other way round, on each database: both crates share one schema and one
//! migration history (`authkit_migrations`, same checksums), so whichever opens the
//! database second finds nothing to migrate, and authkit-sqlx's start-up verifier
//! accepts what authkit-diesel migrated.
//!
//! `cargo nextest run -p authkit-diesel --all-features --test cross_backend`.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use std::str::FromStr;

use authkit::{
    OtpDecision, Purpose, RotationDecision, RotationOutcome, SlugKind, Stores, TokenHash,
};
use authkit_conformance::fixtures::{
    api_key, at, item, one_time, policy, refresh, secs, session, successor, unique_email, user,
};
use authkit_sqlx::StoreOptions;
use authkit_sqlx::sqlx::postgres::PgConnectOptions;
use support::{Cases, Server};

/// Which crate opens the database first (and so migrates it).
#[derive(Clone, Copy, Debug)]
enum First {
    Diesel,
    Sqlx,
}

/// Writes one of everything through `writer`, reads it back and changes it through
/// `reader`, and reads the changes through `writer`.
async fn exchange(writer: &Stores, reader: &Stores, tag: &str) {
    let now = at(1_000);
    let alice = user(&unique_email());
    writer.users.create_user(&alice).await.unwrap();
    let found = reader
        .users
        .user_by_email(&alice.email.to_uppercase())
        .await;
    assert_eq!(found.unwrap().as_ref(), Some(&alice), "user by email");

    let s = session(alice.id, now, secs(600), secs(3_600));
    writer.sessions.create_session(&s).await.unwrap();
    let later = now + secs(300);
    let touched = reader
        .sessions
        .touch_session(&s.token_hash, later, policy(600, 0))
        .await
        .unwrap()
        .expect("the session is live");
    assert_eq!(touched.idle_expires_at, later + secs(600));
    let seen = writer.sessions.session_by_id(s.id, later).await.unwrap();
    assert_eq!(
        seen.unwrap().idle_expires_at,
        later + secs(600),
        "slide seen"
    );

    let first = refresh(alice.id, now, secs(3_600));
    writer.tokens.create_refresh(&first).await.unwrap();
    let next = successor(&first, later, secs(3_600));
    let rule = |_: &authkit::RefreshToken| RotationDecision::Rotate(next.clone());
    let outcome = reader
        .tokens
        .rotate_refresh(&first.token_hash, later, &rule)
        .await
        .unwrap();
    let RotationOutcome::Decided { presented, .. } = outcome else {
        panic!("the token is known: {outcome:?}");
    };
    assert_eq!(presented, first, "the row as written");
    let revoked = writer
        .tokens
        .revoke_family(first.family_id, later)
        .await
        .unwrap();
    assert_eq!(
        revoked, 2,
        "both tokens of the family, the successor included"
    );

    let code = one_time(alice.id, Purpose::EmailOtp, now, secs(600));
    writer.tokens.issue_one_time(&code).await.unwrap();
    let fail = |_: &authkit::OneTimeToken| OtpDecision::CountFailure;
    reader
        .tokens
        .attempt_otp(alice.id, Purpose::EmailOtp, later, &fail)
        .await
        .unwrap();
    let link = one_time(alice.id, Purpose::MagicLink, now, secs(600));
    reader.tokens.issue_one_time(&link).await.unwrap();
    let used = writer
        .tokens
        .consume_one_time(&link.token_hash, Purpose::MagicLink, later)
        .await
        .unwrap();
    assert_eq!(used.unwrap().id, link.id, "consumed once");

    let key = api_key(Some(alice.id), now);
    writer.api_keys.create_api_key(&key).await.unwrap();
    let read = reader
        .api_keys
        .api_key_by_hash(&key.key_hash)
        .await
        .unwrap();
    assert_eq!(read.as_ref(), Some(&key), "every key field");
    let window = reader
        .api_keys
        .count_api_key_request(key.id, later)
        .await
        .unwrap();
    assert_eq!(window.unwrap().count, 1);
    let again = writer
        .api_keys
        .count_api_key_request(key.id, later)
        .await
        .unwrap();
    assert_eq!(again.unwrap().count, 2, "one window across both crates");
    reader
        .api_keys
        .revoke_api_key(key.id, "rotated", later)
        .await
        .unwrap();
    let revoked = writer
        .api_keys
        .api_key_by_id(key.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.revoked_reason.as_deref(), Some("rotated"));

    let (role_slug, permission_slug) = (format!("editor-{tag}"), format!("posts.write-{tag}"));
    let role = item(SlugKind::Role, &role_slug);
    let permission = item(SlugKind::Permission, &permission_slug);
    writer.rbac.define_item(&role).await.unwrap();
    writer.rbac.define_item(&permission).await.unwrap();
    let grant = authkit::GrantKind::Permission;
    let granted = writer
        .rbac
        .grant_to_role(&role_slug, grant, &permission_slug);
    assert!(granted.await.unwrap());
    assert!(reader.rbac.assign_role(alice.id, &role_slug).await.unwrap());
    let grants = writer.rbac.user_grants(alice.id).await.unwrap();
    assert_eq!(grants.permissions, vec![permission_slug]);

    assert!(reader.users.delete_user(alice.id).await.unwrap());
    let gone = writer.sessions.session_by_id(s.id, later).await.unwrap();
    assert!(gone.is_none(), "the cascade ran");
    let unknown = TokenHash([0; 32]);
    assert!(
        writer
            .api_keys
            .api_key_by_hash(&unknown)
            .await
            .unwrap()
            .is_none()
    );
}

/// Opens one database through both crates, `first` migrating it.
async fn both<D, S>(first: First, diesel: D, sqlx: S) -> (Stores, Stores)
where
    D: Future<Output = Stores>,
    S: Future<Output = Stores>,
{
    match first {
        First::Diesel => {
            let d = diesel.await;
            (d, sqlx.await)
        }
        First::Sqlx => {
            let s = sqlx.await;
            (diesel.await, s)
        }
    }
}

async fn sqlite(first: First) {
    let temp = support::TempFile::new();
    let file = temp.path();
    let diesel = async {
        let pool = authkit_diesel::SqliteStore::build_pool(&file, 2).unwrap();
        Stores::from_backend(authkit_diesel::SqliteStore::new(pool).await.unwrap())
    };
    let sqlx = async {
        let url = format!("sqlite://{file}");
        Stores::from_backend(authkit_sqlx::SqliteStore::connect(&url).await.unwrap())
    };
    let (d, s) = both(first, diesel, sqlx).await;
    exchange(&d, &s, "diesel-to-sqlx").await;
    exchange(&s, &d, "sqlx-to-diesel").await;
}

async fn postgres(first: First) {
    let cases = Cases::default();
    let schema = cases.fresh_name(Server::Postgres).await;
    let diesel = async {
        let pool = authkit_diesel::PgStore::build_pool(&Server::Postgres.case_url(&schema), 2);
        Stores::from_backend(authkit_diesel::PgStore::new(pool.unwrap()).await.unwrap())
    };
    let sqlx = async {
        let options = PgConnectOptions::from_str(&Server::Postgres.url())
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = authkit_sqlx::PgStore::pool_options()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap();
        let store = authkit_sqlx::PgStore::new(pool, StoreOptions::default());
        Stores::from_backend(store.await.unwrap())
    };
    let (d, s) = both(first, diesel, sqlx).await;
    exchange(&d, &s, "diesel-to-sqlx").await;
    exchange(&s, &d, "sqlx-to-diesel").await;
}

async fn mysql(first: First) {
    let cases = Cases::default();
    let url = cases.fresh(Server::Mysql).await;
    let diesel = async {
        let pool = authkit_diesel::MysqlStore::build_pool(&url, 2).unwrap();
        Stores::from_backend(authkit_diesel::MysqlStore::new(pool).await.unwrap())
    };
    let sqlx =
        async { Stores::from_backend(authkit_sqlx::MySqlStore::connect(&url).await.unwrap()) };
    let (d, s) = both(first, diesel, sqlx).await;
    exchange(&d, &s, "diesel-to-sqlx").await;
    exchange(&s, &d, "sqlx-to-diesel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_diesel_migrates_sqlx_joins() {
    sqlite(First::Diesel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sqlx_migrates_diesel_joins() {
    sqlite(First::Sqlx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_diesel_migrates_sqlx_joins() {
    postgres(First::Diesel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sqlx_migrates_diesel_joins() {
    postgres(First::Sqlx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_diesel_migrates_sqlx_joins() {
    mysql(First::Diesel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_sqlx_migrates_diesel_joins() {
    mysql(First::Sqlx).await;
}
