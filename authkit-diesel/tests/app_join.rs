//! An application's own table joined to `authkit_users` from a crate of its own (this
//! test target is one), on each database: `joinable!` to authkit's table, and
//! `authkit_diesel::allow_tables_with_authkit!` where Diesel's
//! `allow_tables_to_appear_in_same_query!(posts, authkit_users)` fails to compile
//! under PostgreSQL with E0117 (the orphan rule; see the README).

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use authkit::UserStore;
use authkit_conformance::fixtures::{unique_email, user};
use authkit_diesel::schema::authkit_users;
use authkit_diesel::sql_types::DbId;
use diesel::pg::expression::extensions::OnlyDsl;
use diesel::prelude::*;
use diesel_async::{RunQueryDsl, SimpleAsyncConnection};
use support::{Cases, Server};

/// The application's schema.
mod app {
    diesel::table! {
        /// The application's posts, each by one of authkit's users.
        posts (id) {
            id -> BigInt,
            author_id -> authkit_diesel::sql_types::Id,
            title -> Text,
        }
    }

    diesel::joinable!(posts -> authkit_diesel::schema::authkit_users (author_id));
    authkit_diesel::allow_tables_with_authkit!(posts);
}

use app::posts;

/// The posts table, with its foreign key to authkit's users.
fn posts_ddl(id_type: &str) -> String {
    format!(
        "CREATE TABLE posts (id BIGINT NOT NULL PRIMARY KEY, author_id {id_type} NOT NULL, \
         title TEXT NOT NULL, FOREIGN KEY (author_id) REFERENCES authkit_users (id))"
    )
}

/// Creates the posts table, a user (through the store) and a post of theirs, and
/// returns the user's email.
macro_rules! seed {
    ($store:expr, $conn:expr, $id_type:expr) => {{
        $conn.batch_execute(&posts_ddl($id_type)).await.unwrap();
        let alice = user(&unique_email());
        $store.create_user(&alice).await.unwrap();
        diesel::insert_into(posts::table)
            .values((
                posts::id.eq(1_i64),
                posts::author_id.eq(DbId(alice.id.0)),
                posts::title.eq("hello"),
            ))
            .execute(&mut *$conn)
            .await
            .unwrap();
        alice.email
    }};
}

/// The join of posts to their authors, by email.
macro_rules! titles_by {
    ($conn:expr, $email:expr) => {{
        let rows: Vec<(String, String)> = posts::table
            .inner_join(authkit_users::table)
            .filter(authkit_users::email.eq(&$email))
            .select((posts::title, authkit_users::email))
            .load(&mut *$conn)
            .await
            .unwrap();
        rows
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_on_postgres() {
    let cases = Cases::default();
    let pool = authkit_diesel::PgStore::build_pool(&cases.fresh(Server::Postgres).await, 2);
    let store = authkit_diesel::PgStore::new(pool.unwrap()).await.unwrap();
    let mut conn = store.pool().get().await.unwrap();
    let email = seed!(store, conn, "uuid");
    assert_eq!(
        titles_by!(conn, email),
        vec![("hello".to_owned(), email.clone())]
    );
    // `ONLY`, on either side: the impls the application's crate could not write.
    let only: Vec<String> = OnlyDsl::only(authkit_users::table)
        .inner_join(posts::table.on(posts::author_id.eq(authkit_users::id)))
        .select(posts::title)
        .load(&mut *conn)
        .await
        .unwrap();
    assert_eq!(only, vec!["hello".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_on_mysql() {
    let cases = Cases::default();
    let pool = authkit_diesel::MysqlStore::build_pool(&cases.fresh(Server::Mysql).await, 2);
    let store = authkit_diesel::MysqlStore::new(pool.unwrap())
        .await
        .unwrap();
    let mut conn = store.pool().get().await.unwrap();
    let email = seed!(store, conn, "BINARY(16)");
    assert_eq!(
        titles_by!(conn, email),
        vec![("hello".to_owned(), email.clone())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_on_sqlite() {
    let temp = support::TempFile::new();
    let file = temp.path();
    let pool = authkit_diesel::SqliteStore::build_pool(&file, 2).unwrap();
    let store = authkit_diesel::SqliteStore::new(pool).await.unwrap();
    let mut conn = store.pool().get().await.unwrap();
    let email = seed!(store, conn, "BLOB");
    assert_eq!(
        titles_by!(conn, email),
        vec![("hello".to_owned(), email.clone())]
    );
    drop(conn);
}
