//! A step cancelled inside its transaction never hands its connection back to the pool
//! with the transaction open: the next step on a pool of one connection starts clean,
//! and the cancelled step changed nothing.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use std::time::Duration;

use authkit::{RefreshToken, RotationDecision, RotationOutcome, Stores};
use authkit_conformance::fixtures::{at, create_user, peek_refresh, refresh, secs, successor};
use support::{Cases, Server};

/// A user and an unconsumed refresh token of theirs, and a successor for it.
async fn token(stores: &Stores) -> (RefreshToken, RefreshToken) {
    let alice = create_user(stores).await;
    let token = refresh(alice.id, at(1_000), secs(3_600));
    stores.tokens.create_refresh(&token).await.unwrap();
    let next = successor(&token, at(1_000), secs(3_600));
    (token, next)
}

/// After the cancelled rotation: it changed nothing, and a rotation through the same
/// one-connection pool runs (no transaction or lock was left behind).
async fn rotates_after(stores: &Stores, token: &RefreshToken) {
    let now = at(1_000);
    let unchanged = peek_refresh(stores, &token.token_hash).await.unwrap();
    assert_eq!(
        unchanged.consumed_at, None,
        "the cancelled rotation rolled back"
    );
    let again = successor(token, now, secs(3_600));
    let rotate = |_: &RefreshToken| RotationDecision::Rotate(again.clone());
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        stores
            .tokens
            .rotate_refresh(&token.token_hash, now, &rotate),
    )
    .await
    .expect("no lock left behind")
    .unwrap();
    assert!(matches!(outcome, RotationOutcome::Decided { .. }));
    let rotated = peek_refresh(stores, &token.token_hash).await.unwrap();
    assert_eq!(rotated.consumed_at, Some(now));
}

/// Cancels a rotation after its locked read and rule, at its next statement (in
/// flight on the server), then rotates the same token.
async fn cancel_then_rotate(stores: Stores) {
    let (token, next) = token(&stores).await;
    let ruled = tokio::sync::Notify::new();
    let rule = |_: &RefreshToken| {
        ruled.notify_one();
        RotationDecision::Rotate(next.clone())
    };
    // The rotation runs until its first statement after the rule is in flight (the
    // rule's notification is then ready), and is dropped there, mid-transaction.
    tokio::select! {
        biased;
        _ = stores.tokens.rotate_refresh(&token.token_hash, at(1_000), &rule) => {
            panic!("the rotation was to be cancelled mid-transaction");
        }
        () = ruled.notified() => {}
    }
    rotates_after(&stores, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cancelled_transaction() {
    let cases = Cases::default();
    let pool = authkit_diesel::PgStore::build_pool(&cases.fresh(Server::Postgres).await, 1);
    let store = authkit_diesel::PgStore::new(pool.unwrap()).await.unwrap();
    cancel_then_rotate(Stores::from_backend(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_cancelled_transaction() {
    let cases = Cases::default();
    let pool = authkit_diesel::MysqlStore::build_pool(&cases.fresh(Server::Mysql).await, 1);
    let store = authkit_diesel::MysqlStore::new(pool.unwrap())
        .await
        .unwrap();
    cancel_then_rotate(Stores::from_backend(store)).await;
}

/// SQLite runs each statement on a blocking thread, too fast to catch in flight: the
/// rotation is cancelled while its `BEGIN IMMEDIATE` waits for the write lock another
/// connection holds, and that connection commits after the cancellation, so the
/// cancelled `BEGIN` then succeeds on a connection nobody will commit or roll back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cancelled_transaction() {
    use diesel::Connection as _;
    use diesel::connection::SimpleConnection as _;

    let temp = support::TempFile::new();
    let file = temp.path();
    let pool = authkit_diesel::SqliteStore::build_pool(&file, 1).unwrap();
    let stores = Stores::from_backend(authkit_diesel::SqliteStore::new(pool).await.unwrap());
    let (token, next) = token(&stores).await;

    let (locked, wait) = std::sync::mpsc::channel();
    let holder = {
        let file = file.clone();
        std::thread::spawn(move || {
            let mut conn = diesel::SqliteConnection::establish(&file).unwrap();
            conn.batch_execute("BEGIN IMMEDIATE").unwrap();
            locked.send(()).unwrap();
            std::thread::sleep(Duration::from_millis(400));
            conn.batch_execute("COMMIT").unwrap();
        })
    };
    wait.recv().unwrap();
    let rule = |_: &RefreshToken| RotationDecision::Rotate(next.clone());
    let rotation = stores
        .tokens
        .rotate_refresh(&token.token_hash, at(1_000), &rule);
    let cancelled = tokio::time::timeout(Duration::from_millis(100), rotation).await;
    assert!(
        cancelled.is_err(),
        "cancelled while waiting for the write lock"
    );
    holder.join().unwrap();
    rotates_after(&stores, &token).await;
}
