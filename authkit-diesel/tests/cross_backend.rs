//! Rows written through authkit-diesel are read and changed through authkit-sqlx and
//! authkit-seaorm, and the other way round, on each database (SQLite, PostgreSQL,
//! MariaDB/MySQL). Users, sessions, refresh families mid-rotation (and a reused token
//! revoking the family), one-time tokens, keys with usage and rate windows, grants,
//! and the cascade of a user's deletion: one scenario ([`exchange`]), run with Diesel
//! writing and the other crate reading, then the other way round.
//!
//! Migrations: authkit-diesel and authkit-sqlx share one history (`authkit_migrations`,
//! same checksums), so both run their migrator and whichever opens the database second
//! finds nothing to migrate. authkit-seaorm keeps its own history
//! (`authkit_seaorm_migrations`) over the same frozen files, so with SeaORM only the
//! crate that opens the database first migrates it, and the other starts on it as it
//! is (`without_migrations` / SeaORM's `new`), as an application moving a database
//! between the two would.
//!
//! `cargo nextest run -p authkit-diesel --all-features --test cross_backend`.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Mutex;

use authkit::{
    GrantKind, KeyUsage, OtpDecision, Purpose, RotationDecision, RotationOutcome, SlugKind, Stores,
    TokenHash, UserGrants,
};
use authkit_conformance::fixtures::{
    api_key, at, item, one_time, peek_refresh, policy, refresh, secs, session, successor,
    unique_email, user,
};
use authkit_seaorm::sea_orm::{ConnectOptions, Database, DatabaseConnection};
use authkit_seaorm::sea_orm_migration::MigratorTrait;
use authkit_sqlx::StoreOptions;
use authkit_sqlx::sqlx::postgres::PgConnectOptions;
use support::{Cases, MYSQL_VAR, PG_VAR, Server};

/// The crate authkit-diesel shares the database with.
#[derive(Clone, Copy, Debug)]
enum Other {
    Sqlx,
    SeaOrm,
}

impl Other {
    /// The tags of the two exchanges (Diesel writing, then the other crate writing),
    /// which also keep their RBAC slugs apart.
    fn tags(self) -> [&'static str; 2] {
        match self {
            Other::Sqlx => ["diesel-to-sqlx", "sqlx-to-diesel"],
            Other::SeaOrm => ["diesel-to-seaorm", "seaorm-to-diesel"],
        }
    }
}

/// Which crate opens the database first (and so migrates it).
#[derive(Clone, Copy, Debug)]
enum First {
    Diesel,
    Other,
}

/// One pairing: the other crate, and who migrates.
#[derive(Clone, Copy, Debug)]
struct Pairing {
    other: Other,
    first: First,
}

impl Pairing {
    /// Whether authkit-diesel runs its migrator: always beside authkit-sqlx (shared
    /// history, so the second run is a no-op), beside SeaORM only when it opens first.
    fn diesel_migrates(self) -> bool {
        matches!(
            (self.other, self.first),
            (Other::Sqlx, _) | (_, First::Diesel)
        )
    }

    /// Whether the other crate runs its migrator (the same rule, seen from its side).
    fn other_migrates(self) -> bool {
        matches!(
            (self.other, self.first),
            (Other::Sqlx, _) | (_, First::Other)
        )
    }
}

/// Rotates `presented` through `stores` at `now`, as core would: only an unconsumed,
/// unrevoked token rotates (into `next`); a consumed one revokes its family.
async fn rotate(
    stores: &Stores,
    presented: &authkit::RefreshToken,
    now: authkit::Timestamp,
    next: Option<authkit::RefreshToken>,
) -> RotationOutcome {
    let next = Mutex::new(next);
    let rule = |row: &authkit::RefreshToken| {
        if row.consumed_at.is_some() {
            return RotationDecision::RevokeFamily;
        }
        match next.lock().unwrap().take() {
            Some(next) if row.revoked_at.is_none() => RotationDecision::Rotate(next),
            _ => RotationDecision::Reject,
        }
    };
    stores
        .tokens
        .rotate_refresh(&presented.token_hash, now, &rule)
        .await
        .unwrap()
}

/// Writes one of everything through `writer`, reads it back and changes it through
/// `reader`, and reads the changes through `writer`.
async fn exchange(writer: &Stores, reader: &Stores, tag: &str) {
    let now = at(1_000);
    let later = now + secs(300);

    // Users: found by email ignoring case, verified through the other crate.
    let alice = user(&unique_email());
    writer.users.create_user(&alice).await.unwrap();
    let found = reader
        .users
        .user_by_email(&alice.email.to_uppercase())
        .await;
    assert_eq!(found.unwrap().as_ref(), Some(&alice), "user by email");
    reader
        .users
        .mark_email_verified(alice.id, later)
        .await
        .unwrap();
    let verified = writer.users.user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(
        (verified.email_verified_at, verified.updated_at),
        (Some(later), later),
        "verified through the other crate"
    );

    // Sessions: touched (slid) through the reader, seen slid by the writer.
    let s = session(alice.id, now, secs(600), secs(3_600));
    writer.sessions.create_session(&s).await.unwrap();
    let touched = reader
        .sessions
        .touch_session(&s.token_hash, later, policy(600, 0))
        .await
        .unwrap()
        .expect("the session is live");
    assert_eq!(touched.idle_expires_at, later + secs(600));
    let seen = writer.sessions.session_by_id(s.id, later).await.unwrap();
    assert_eq!(seen, Some(touched), "slide seen, every field");

    // A refresh family mid-rotation: the reader rotates the writer's token, the writer
    // rotates the reader's successor, then the first token presented again through the
    // reader revokes the family, the writer's newest token included.
    let first = refresh(alice.id, now, secs(3_600));
    writer.tokens.create_refresh(&first).await.unwrap();
    let second = successor(&first, later, secs(3_600));
    let outcome = rotate(reader, &first, later, Some(second.clone())).await;
    let RotationOutcome::Decided { presented, .. } = outcome else {
        panic!("the token is known: {outcome:?}");
    };
    assert_eq!(presented, first, "the row as written");
    let rotated_at = later + secs(60);
    let third = successor(&second, rotated_at, secs(3_600));
    let outcome = rotate(writer, &second, rotated_at, Some(third.clone())).await;
    let RotationOutcome::Decided { presented, .. } = outcome else {
        panic!("the successor is known: {outcome:?}");
    };
    assert_eq!(
        presented, second,
        "the successor as the other crate wrote it"
    );
    let reused_at = later + secs(120);
    let reused = rotate(reader, &first, reused_at, None).await;
    let RotationOutcome::Decided {
        presented,
        decision,
    } = reused
    else {
        panic!("the first token is known: {reused:?}");
    };
    assert_eq!(decision, RotationDecision::RevokeFamily, "reuse detected");
    assert_eq!(
        (presented.consumed_at, presented.rotations),
        (Some(later), 1),
        "consumed once, by the other crate"
    );
    let last = peek_refresh(writer, &third.token_hash).await.unwrap();
    assert_eq!(
        (last.revoked_at, last.chain_started_at, last.consumed_at),
        (Some(reused_at), first.chain_started_at, None),
        "the family revoked across crates"
    );
    let left = writer
        .tokens
        .revoke_family(first.family_id, reused_at)
        .await
        .unwrap();
    assert_eq!(left, 0, "nothing of the family left unrevoked");
    // A second family, revoked as a whole through the other crate.
    let other = refresh(alice.id, now, secs(3_600));
    writer.tokens.create_refresh(&other).await.unwrap();
    let next = successor(&other, later, secs(3_600));
    rotate(reader, &other, later, Some(next.clone())).await;
    let revoked = writer
        .tokens
        .revoke_family(other.family_id, later)
        .await
        .unwrap();
    assert_eq!(
        revoked, 2,
        "both tokens of the family, the other crate's successor included"
    );

    // One-time tokens: a failure counted, a link consumed, across crates.
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

    // Keys with usage and a rate window, counted on both sides.
    let key = api_key(Some(alice.id), now);
    writer.api_keys.create_api_key(&key).await.unwrap();
    let read = reader
        .api_keys
        .api_key_by_hash(&key.key_hash)
        .await
        .unwrap();
    assert_eq!(read.as_ref(), Some(&key), "every key field");
    let v4 = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    let v6 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42));
    let usage = |uses, when, ip| KeyUsage {
        key_id: key.id,
        uses,
        last_used_at: when,
        last_used_ip: Some(ip),
        last_used_user_agent: Some(format!("agent {uses}")),
    };
    writer
        .api_keys
        .record_key_usage(&[usage(3, later, v4)])
        .await
        .unwrap();
    let read = reader
        .api_keys
        .api_key_by_id(key.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            read.usage_count,
            read.last_used_at,
            read.last_used_ip,
            read.last_used_user_agent.as_deref()
        ),
        (3, Some(later), Some(v4), Some("agent 3")),
        "usage written by the other crate"
    );
    reader
        .api_keys
        .record_key_usage(&[usage(2, later + secs(1), v6)])
        .await
        .unwrap();
    let read = writer
        .api_keys
        .api_key_by_id(key.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            read.usage_count,
            read.last_used_at,
            read.last_used_ip,
            read.last_used_user_agent.as_deref()
        ),
        (5, Some(later + secs(1)), Some(v6), Some("agent 2")),
        "usage added to across crates"
    );
    let window = reader
        .api_keys
        .count_api_key_request(key.id, later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((window.count, window.started_at), (1, later));
    let again = writer
        .api_keys
        .count_api_key_request(key.id, later + secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.count, again.started_at),
        (2, later),
        "one window across both crates"
    );

    // Grants written on one side, read and changed on the other.
    let role_slug = format!("editor-{tag}");
    let permission_slug = format!("posts.write-{tag}");
    let ability_slug = format!("deploy-{tag}");
    for (kind, slug) in [
        (SlugKind::Role, &role_slug),
        (SlugKind::Permission, &permission_slug),
        (SlugKind::Ability, &ability_slug),
    ] {
        writer.rbac.define_item(&item(kind, slug)).await.unwrap();
    }
    let granted = writer
        .rbac
        .grant_to_role(&role_slug, GrantKind::Permission, &permission_slug);
    assert!(granted.await.unwrap());
    assert!(reader.rbac.assign_role(alice.id, &role_slug).await.unwrap());
    let direct = reader
        .rbac
        .grant_to_user(alice.id, GrantKind::Ability, &ability_slug);
    assert!(direct.await.unwrap());
    assert!(
        writer
            .rbac
            .assign_key_role(key.id, &role_slug)
            .await
            .unwrap()
    );
    let expected = UserGrants {
        roles: vec![role_slug.clone()],
        permissions: vec![permission_slug.clone()],
        abilities: vec![ability_slug.clone()],
    };
    assert_eq!(writer.rbac.user_grants(alice.id).await.unwrap(), expected);
    let key_grants = reader.rbac.key_grants(key.id).await.unwrap();
    assert_eq!(
        (key_grants.roles, key_grants.permissions),
        (expected.roles, expected.permissions),
        "the key's role, granted through the other crate"
    );
    let taken = reader
        .rbac
        .revoke_from_role(&role_slug, GrantKind::Permission, &permission_slug);
    assert!(taken.await.unwrap());
    let grants = writer.rbac.user_grants(alice.id).await.unwrap();
    assert!(
        grants.permissions.is_empty(),
        "revoked through the other crate"
    );
    assert_eq!(grants.abilities, vec![ability_slug]);

    // Keys revoked through the reader, seen so by the writer.
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
    assert_eq!(
        (revoked.revoked_at, revoked.revoked_reason.as_deref()),
        (Some(later), Some("rotated"))
    );

    // Deleting the user through the reader cascades to what the writer wrote.
    assert!(reader.users.delete_user(alice.id).await.unwrap());
    let gone = writer.sessions.session_by_id(s.id, later).await.unwrap();
    assert!(gone.is_none(), "the cascade ran");
    assert_eq!(writer.api_keys.api_key_by_id(key.id).await.unwrap(), None);
    assert_eq!(peek_refresh(writer, &third.token_hash).await, None);
    assert_eq!(writer.rbac.key_grants(key.id).await.unwrap().roles.len(), 0);
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

/// Opens one database through both crates, `first` opening (and migrating) it first;
/// returns `(diesel, other)`.
async fn both<D, O>(first: First, diesel: D, other: O) -> (Stores, Stores)
where
    D: Future<Output = Stores>,
    O: Future<Output = Stores>,
{
    match first {
        First::Diesel => {
            let d = diesel.await;
            (d, other.await)
        }
        First::Other => {
            let o = other.await;
            (diesel.await, o)
        }
    }
}

/// Runs the scenario both ways over one database's two stores.
async fn both_ways(other: Other, diesel: &Stores, theirs: &Stores) {
    let [from_diesel, to_diesel] = other.tags();
    exchange(diesel, theirs, from_diesel).await;
    exchange(theirs, diesel, to_diesel).await;
}

/// A SeaORM pool of two connections with the store's own settings onto `what` (named
/// in the failure: the server's variable, or the file), migrated when `migrate`.
async fn seaorm_connect(options: ConnectOptions, what: &str, migrate: bool) -> DatabaseConnection {
    let mut options = options;
    options.max_connections(2);
    let db = Database::connect(options)
        .await
        .unwrap_or_else(|e| panic!("SeaORM cannot connect to {what}: {e}"));
    if migrate {
        authkit_seaorm::Migrator::up(&db, None)
            .await
            .expect("SeaORM's migrator on a fresh database");
    }
    db
}

async fn sqlite(pairing: Pairing) {
    let temp = support::TempFile::new();
    let file = temp.path();
    let url = format!("sqlite://{file}");
    let diesel = async {
        let pool = authkit_diesel::SqliteStore::build_pool(&file, 2).unwrap();
        let store = if pairing.diesel_migrates() {
            authkit_diesel::SqliteStore::new(pool).await.unwrap()
        } else {
            authkit_diesel::SqliteStore::without_migrations(pool)
        };
        Stores::from_backend(store)
    };
    let other = async {
        match pairing.other {
            Other::Sqlx => {
                Stores::from_backend(authkit_sqlx::SqliteStore::connect(&url).await.unwrap())
            }
            Other::SeaOrm => {
                let options = authkit_seaorm::SqliteStore::connect_options(&url);
                let db = seaorm_connect(options, &file, pairing.other_migrates()).await;
                Stores::from_backend(authkit_seaorm::SqliteStore::new(db).unwrap())
            }
        }
    };
    let (d, o) = both(pairing.first, diesel, other).await;
    both_ways(pairing.other, &d, &o).await;
}

async fn postgres(pairing: Pairing) {
    let cases = Cases::default();
    let schema = cases.fresh_name(Server::Postgres).await;
    let diesel = async {
        let url = Server::Postgres.case_url(&schema);
        let pool = authkit_diesel::PgStore::build_pool(&url, 2).unwrap();
        let store = if pairing.diesel_migrates() {
            authkit_diesel::PgStore::new(pool).await.unwrap()
        } else {
            authkit_diesel::PgStore::without_migrations(pool)
        };
        Stores::from_backend(store)
    };
    let other = async {
        match pairing.other {
            Other::Sqlx => {
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
            }
            Other::SeaOrm => {
                let mut options = authkit_seaorm::PgStore::connect_options(&Server::Postgres.url());
                let path = schema.clone();
                options
                    .map_sqlx_postgres_opts(move |o| o.options([("search_path", path.as_str())]));
                let db = seaorm_connect(
                    options,
                    &format!("{PG_VAR}'s server"),
                    pairing.other_migrates(),
                )
                .await;
                Stores::from_backend(authkit_seaorm::PgStore::new(db).unwrap())
            }
        }
    };
    let (d, o) = both(pairing.first, diesel, other).await;
    both_ways(pairing.other, &d, &o).await;
}

async fn mysql(pairing: Pairing) {
    let cases = Cases::default();
    let url = cases.fresh(Server::Mysql).await;
    let diesel = async {
        let pool = authkit_diesel::MysqlStore::build_pool(&url, 2).unwrap();
        let store = if pairing.diesel_migrates() {
            authkit_diesel::MysqlStore::new(pool).await.unwrap()
        } else {
            authkit_diesel::MysqlStore::without_migrations(pool)
        };
        Stores::from_backend(store)
    };
    let other = async {
        match pairing.other {
            Other::Sqlx => {
                Stores::from_backend(authkit_sqlx::MySqlStore::connect(&url).await.unwrap())
            }
            Other::SeaOrm => {
                let options = authkit_seaorm::MySqlStore::connect_options(&url);
                let db = seaorm_connect(
                    options,
                    &format!("{MYSQL_VAR}'s server"),
                    pairing.other_migrates(),
                )
                .await;
                Stores::from_backend(authkit_seaorm::MySqlStore::new(db).unwrap())
            }
        }
    };
    let (d, o) = both(pairing.first, diesel, other).await;
    both_ways(pairing.other, &d, &o).await;
}

/// One test per database, other crate and first opener.
macro_rules! cases {
    ($($name:ident: $db:ident, $other:ident, $first:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $db(Pairing { other: Other::$other, first: First::$first }).await;
        }
    )*};
}

cases! {
    sqlite_diesel_migrates_sqlx_joins: sqlite, Sqlx, Diesel;
    sqlite_sqlx_migrates_diesel_joins: sqlite, Sqlx, Other;
    postgres_diesel_migrates_sqlx_joins: postgres, Sqlx, Diesel;
    postgres_sqlx_migrates_diesel_joins: postgres, Sqlx, Other;
    mysql_diesel_migrates_sqlx_joins: mysql, Sqlx, Diesel;
    mysql_sqlx_migrates_diesel_joins: mysql, Sqlx, Other;
    sqlite_diesel_migrates_seaorm_joins: sqlite, SeaOrm, Diesel;
    sqlite_seaorm_migrates_diesel_joins: sqlite, SeaOrm, Other;
    postgres_diesel_migrates_seaorm_joins: postgres, SeaOrm, Diesel;
    postgres_seaorm_migrates_diesel_joins: postgres, SeaOrm, Other;
    mysql_diesel_migrates_seaorm_joins: mysql, SeaOrm, Diesel;
    mysql_seaorm_migrates_diesel_joins: mysql, SeaOrm, Other;
}
