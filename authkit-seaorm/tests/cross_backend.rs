//! One database, two backends: rows written through authkit-sqlx are read and changed
//! through authkit-seaorm, and the other way round, on SQLite, PostgreSQL and MariaDB.
//! Users, sessions, refresh families mid-rotation, keys with usage and rate windows,
//! grants, and the cascade of a user's deletion.
//!
//! Both stores share one sqlx pool (SeaORM's, handed to authkit-sqlx). The database is
//! migrated by the writer's migrator; the other store starts on it without migrating,
//! and authkit-sqlx verifies the schema either way.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;

use authkit::{
    GrantKind, KeyUsage, RotationDecision, RotationOutcome, SlugKind, Stores, UserGrants,
};
use authkit_conformance::fixtures::{
    api_key, at, create_user, item, peek_refresh, policy, refresh, secs, session, successor,
};
use authkit_seaorm::sea_orm::{Database, DatabaseConnection};
use authkit_seaorm::sea_orm_migration::MigratorTrait;
use authkit_sqlx::StoreOptions;
use common::server::{Scratch, Server};

/// Which backend migrates the database and writes first.
#[derive(Clone, Copy, Debug)]
enum Writer {
    Sqlx,
    SeaOrm,
}

/// authkit-sqlx's options: migrate only when it is the writer (else SeaORM did).
fn sqlx_options(writer: Writer) -> StoreOptions {
    StoreOptions::default().run_migrations(matches!(writer, Writer::Sqlx))
}

/// Runs SeaORM's standalone migrator when SeaORM is the writer.
async fn sea_migrate(db: &DatabaseConnection, writer: Writer) {
    if matches!(writer, Writer::SeaOrm) {
        authkit_seaorm::Migrator::up(db, None).await.unwrap();
    }
}

/// `(writer, reader)` from the two stores.
fn order(writer: Writer, sqlx: Stores, sea: Stores) -> (Stores, Stores) {
    match writer {
        Writer::Sqlx => (sqlx, sea),
        Writer::SeaOrm => (sea, sqlx),
    }
}

/// Rotates `presented` into `next` through `stores`, as core would: only unconsumed,
/// unrevoked tokens rotate; a consumed one revokes its family.
async fn rotate(
    stores: &Stores,
    presented: &authkit::RefreshToken,
    next: Option<authkit::RefreshToken>,
) -> RotationOutcome {
    let next = Mutex::new(next);
    let rule = |row: &authkit::RefreshToken| {
        if row.consumed_at.is_some() {
            return RotationDecision::RevokeFamily;
        }
        match next.lock().unwrap().take() {
            Some(next) => RotationDecision::Rotate(next),
            None => RotationDecision::Reject,
        }
    };
    stores
        .tokens
        .rotate_refresh(&presented.token_hash, at(10), &rule)
        .await
        .unwrap()
}

/// Writes through `writer`, reads and changes through `reader`, and checks the changes
/// through `writer` again.
async fn exchange(writer: &Stores, reader: &Stores) {
    // Users: found by email ignoring case, verified through the other backend.
    let user = create_user(writer).await;
    let found = reader.users.user_by_email(&user.email.to_uppercase()).await;
    assert_eq!(found.unwrap(), Some(user.clone()));
    reader
        .users
        .mark_email_verified(user.id, at(1))
        .await
        .unwrap();
    let verified = writer.users.user_by_id(user.id).await.unwrap().unwrap();
    assert_eq!(verified.email_verified_at, Some(at(1)));

    // Sessions: touched (slid) through the reader, seen slid by the writer.
    let s = session(user.id, at(0), secs(600), secs(3600));
    writer.sessions.create_session(&s).await.unwrap();
    let touched = reader
        .sessions
        .touch_session(&s.token_hash, at(60), policy(600, 0))
        .await
        .unwrap()
        .expect("live");
    assert_eq!(touched.idle_expires_at, at(660));
    let seen = writer.sessions.session_by_id(s.id, at(61)).await.unwrap();
    assert_eq!(seen, Some(touched));

    // A refresh family mid-rotation: the writer rotates once, the reader rotates the
    // successor, then the reused first token revokes the family.
    let first = refresh(user.id, at(0), secs(3600));
    writer.tokens.create_refresh(&first).await.unwrap();
    let second = successor(&first, at(10), secs(3600));
    rotate(writer, &first, Some(second.clone())).await;
    let third = successor(&second, at(10), secs(3600));
    let outcome = rotate(reader, &second, Some(third.clone())).await;
    assert!(matches!(outcome, RotationOutcome::Decided { presented, .. } if presented == second));
    let reused = rotate(reader, &first, None).await;
    assert!(matches!(
        reused,
        RotationOutcome::Decided {
            decision: RotationDecision::RevokeFamily,
            ..
        }
    ));
    let last = peek_refresh(writer, &third.token_hash).await.unwrap();
    assert_eq!(
        (last.revoked_at, last.chain_started_at),
        (Some(at(10)), at(0))
    );

    // Keys with usage and a rate window, counted on both sides.
    let key = api_key(Some(user.id), at(0));
    writer.api_keys.create_api_key(&key).await.unwrap();
    let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    let usage = |uses, t| KeyUsage {
        key_id: key.id,
        uses,
        last_used_at: at(t),
        last_used_ip: Some(ip),
        last_used_user_agent: Some(format!("agent {t}")),
    };
    writer
        .api_keys
        .record_key_usage(&[usage(3, 5)])
        .await
        .unwrap();
    let window = writer.api_keys.count_api_key_request(key.id, at(5)).await;
    assert_eq!(window.unwrap().map(|w| w.count), Some(1));
    let read = reader
        .api_keys
        .api_key_by_hash(&key.key_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.usage_count, read.last_used_at, read.last_used_ip),
        (3, Some(at(5)), Some(ip))
    );
    assert_eq!(read.scopes, key.scopes);
    assert_eq!(read.metadata, key.metadata);
    let window = reader
        .api_keys
        .count_api_key_request(key.id, at(6))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((window.count, window.started_at), (2, at(5)));
    reader
        .api_keys
        .record_key_usage(&[usage(2, 7)])
        .await
        .unwrap();
    let read = writer
        .api_keys
        .api_key_by_id(key.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.usage_count, read.last_used_user_agent.as_deref()),
        (5, Some("agent 7"))
    );

    // Grants written on one side, read and changed on the other.
    for (kind, slug) in [
        (SlugKind::Role, "editor"),
        (SlugKind::Permission, "posts:write"),
        (SlugKind::Ability, "deploy"),
    ] {
        writer.rbac.define_item(&item(kind, slug)).await.unwrap();
    }
    let rbac = &writer.rbac;
    assert!(
        rbac.grant_to_role("editor", GrantKind::Permission, "posts:write")
            .await
            .unwrap()
    );
    assert!(rbac.assign_role(user.id, "editor").await.unwrap());
    assert!(
        rbac.grant_to_user(user.id, GrantKind::Ability, "deploy")
            .await
            .unwrap()
    );
    assert!(rbac.assign_key_role(key.id, "editor").await.unwrap());
    let expected = UserGrants {
        roles: vec!["editor".to_owned()],
        permissions: vec!["posts:write".to_owned()],
        abilities: vec!["deploy".to_owned()],
    };
    assert_eq!(reader.rbac.user_grants(user.id).await.unwrap(), expected);
    let key_grants = reader.rbac.key_grants(key.id).await.unwrap();
    assert_eq!(key_grants.permissions, expected.permissions);
    let revoked = reader
        .rbac
        .revoke_from_role("editor", GrantKind::Permission, "posts:write");
    assert!(revoked.await.unwrap());
    assert!(
        writer
            .rbac
            .user_grants(user.id)
            .await
            .unwrap()
            .permissions
            .is_empty()
    );

    // Deleting the user through the reader cascades to what the writer wrote.
    assert!(reader.users.delete_user(user.id).await.unwrap());
    assert_eq!(writer.api_keys.api_key_by_id(key.id).await.unwrap(), None);
    assert_eq!(
        writer.sessions.session_by_id(s.id, at(61)).await.unwrap(),
        None
    );
    assert_eq!(peek_refresh(writer, &third.token_hash).await, None);
}

async fn sqlite(writer: Writer) {
    let files = common::TempFiles::default();
    let url = format!("sqlite://{}", files.fresh().display());
    let db = Database::connect(authkit_seaorm::SqliteStore::connect_options(&url))
        .await
        .unwrap();
    sea_migrate(&db, writer).await;
    let pool = db.get_sqlite_connection_pool().clone();
    let sqlx = authkit_sqlx::SqliteStore::new(pool, sqlx_options(writer))
        .await
        .expect("authkit-sqlx accepts the schema");
    let sea = authkit_seaorm::SqliteStore::new(db).unwrap();
    let (w, r) = order(
        writer,
        Stores::from_backend(sqlx),
        Stores::from_backend(sea),
    );
    exchange(&w, &r).await;
}

async fn postgres(writer: Writer) {
    let scratch = Scratch::default();
    let db = Server::Postgres
        .connect(&scratch.fresh(Server::Postgres).await)
        .await;
    sea_migrate(&db, writer).await;
    let pool = db.get_postgres_connection_pool().clone();
    let sqlx = authkit_sqlx::PgStore::new(pool, sqlx_options(writer))
        .await
        .expect("authkit-sqlx accepts the schema");
    let sea = authkit_seaorm::PgStore::new(db).unwrap();
    let (w, r) = order(
        writer,
        Stores::from_backend(sqlx),
        Stores::from_backend(sea),
    );
    exchange(&w, &r).await;
}

async fn mysql(writer: Writer) {
    let scratch = Scratch::default();
    let db = Server::MySql
        .connect(&scratch.fresh(Server::MySql).await)
        .await;
    sea_migrate(&db, writer).await;
    let pool = db.get_mysql_connection_pool().clone();
    let sqlx = authkit_sqlx::MySqlStore::new(pool, sqlx_options(writer))
        .await
        .expect("authkit-sqlx accepts the schema");
    let sea = authkit_seaorm::MySqlStore::new(db).unwrap();
    let (w, r) = order(
        writer,
        Stores::from_backend(sqlx),
        Stores::from_backend(sea),
    );
    exchange(&w, &r).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_sqlx_writes_seaorm_reads() {
    sqlite(Writer::Sqlx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_seaorm_writes_sqlx_reads() {
    sqlite(Writer::SeaOrm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_sqlx_writes_seaorm_reads() {
    postgres(Writer::Sqlx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_seaorm_writes_sqlx_reads() {
    postgres(Writer::SeaOrm).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_sqlx_writes_seaorm_reads() {
    mysql(Writer::Sqlx).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mysql_seaorm_writes_sqlx_reads() {
    mysql(Writer::SeaOrm).await;
}
