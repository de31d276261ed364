//! A step cancelled inside its transaction never hands its connection back to the pool
//! with the transaction open: the next step on a pool of one connection starts clean,
//! and the cancelled step changed nothing.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../authkit-sqlx/tests/common/mod.rs"]
mod common;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
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

/// Another connection's transaction holding every user row: a rotation's insert of its
/// successor (whose foreign key checks the user row) waits on the server for it.
async fn users_locked<C>(url: &str) -> C
where
    C: diesel_async::AsyncConnection,
{
    let mut conn = C::establish(url).await.unwrap();
    conn.batch_execute("BEGIN").await.unwrap();
    conn.batch_execute("SELECT id FROM authkit_users FOR UPDATE")
        .await
        .unwrap();
    conn
}

/// Cancels a rotation after its locked read and rule, while its write waits on the
/// server for the user row that `holder` locked, then lets go of it and rotates the same
/// token. (Without the lock, a client descheduled between statements can find each
/// answer already there and reach its `COMMIT` before the cancellation: no point in a
/// transaction is reliably in flight.)
async fn cancel_then_rotate<C>(stores: Stores, url: &str)
where
    C: diesel_async::AsyncConnection,
{
    let (token, next) = token(&stores).await;
    let mut holder = users_locked::<C>(url).await;
    let ruled = AtomicBool::new(false);
    let rule = |_: &RefreshToken| {
        ruled.store(true, Ordering::SeqCst);
        RotationDecision::Rotate(next.clone())
    };
    let mut rotation = stores
        .tokens
        .rotate_refresh(&token.token_hash, at(1_000), &rule);
    // Run until it waits for the lock (it cannot end before the holder lets go).
    let stalled = std::future::poll_fn(|cx| match rotation.as_mut().poll(cx) {
        Poll::Ready(_) => panic!("the rotation was to be cancelled mid-transaction"),
        Poll::Pending => Poll::<()>::Pending,
    });
    let _ = tokio::time::timeout(Duration::from_millis(300), stalled).await;
    assert!(
        ruled.load(Ordering::SeqCst),
        "the rotation reached its rule"
    );
    // The store's future, boxed (`async_trait`): dropping it cancels the rotation.
    drop(rotation);
    holder.batch_execute("ROLLBACK").await.unwrap();
    rotates_after(&stores, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cancelled_transaction() {
    let cases = Cases::default();
    let url = cases.fresh(Server::Postgres).await;
    let pool = authkit_diesel::PgStore::build_pool(&url, 1);
    let store = authkit_diesel::PgStore::new(pool.unwrap()).await.unwrap();
    let stores = Stores::from_backend(store);
    cancel_then_rotate::<diesel_async::AsyncPgConnection>(stores, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_cancelled_transaction() {
    let cases = Cases::default();
    let url = cases.fresh(Server::Mysql).await;
    let pool = authkit_diesel::MysqlStore::build_pool(&url, 1);
    let store = authkit_diesel::MysqlStore::new(pool.unwrap())
        .await
        .unwrap();
    let stores = Stores::from_backend(store);
    cancel_then_rotate::<diesel_async::AsyncMysqlConnection>(stores, &url).await;
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
