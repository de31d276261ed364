//! PostgreSQL: the bench's tables in a schema of its own, named on every connection's
//! `search_path` (the peer's table is qualified with it by the peer itself).

use std::fmt::Write as _;
use std::str::FromStr;

use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgConnection};
use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection, SqlSafeStr, SqlStr};
use time::OffsetDateTime;

type Db = sqlx::Postgres;
type Pool = sqlx::PgPool;
type PoolOptions = sqlx::postgres::PgPoolOptions;
type Store = authkit_sqlx::PgStore;
type PeerStore = tower_sessions_sqlx_store::PostgresStore;
type PeerPool = tower_sessions_sqlx_store::sqlx::PgPool;
type PeerPoolOptions = tower_sessions_sqlx_store::sqlx::postgres::PgPoolOptions;

const NAME: &str = "postgres";
const URL_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The slide floor reads the row back in its one statement.
const UPDATE_RETURNING: bool = true;

fn ts(t: OffsetDateTime) -> OffsetDateTime {
    t
}

/// The statement with its `?` placeholders numbered (`$1`, `$2`, …), as the store
/// renders its own.
fn sql(template: &str) -> SqlStr {
    let mut text = String::with_capacity(template.len() + 16);
    for (n, part) in template.split('?').enumerate() {
        if n > 0 {
            write!(text, "${n}").unwrap();
        }
        text.push_str(part);
    }
    AssertSqlSafe(text).into_sql_str()
}

async fn admin(url: &str) -> PgConnection {
    PgConnection::connect(url)
        .await
        .unwrap_or_else(|err| panic!("cannot reach PostgreSQL at {url} ({URL_VAR}): {err}"))
}

/// Creates the schema `ns`; a pool with `options` whose connections work in it.
async fn open(url: &str, ns: &str, options: PoolOptions) -> Pool {
    let mut conn = admin(url).await;
    let create = format!("DROP SCHEMA IF EXISTS {ns} CASCADE; CREATE SCHEMA {ns}");
    sqlx::raw_sql(AssertSqlSafe(create))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let connect = PgConnectOptions::from_str(url)
        .unwrap()
        .options([("search_path", ns)]);
    options.connect_with(connect).await.unwrap()
}

async fn drop_namespace(url: &str, ns: &str) {
    let mut conn = admin(url).await;
    let drop = format!("DROP SCHEMA {ns} CASCADE");
    sqlx::query(AssertSqlSafe(drop))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// tower-sessions' store on a pool of its own, its table created in `ns`.
async fn peer(url: &str, ns: &str, options: PeerPoolOptions) -> (PeerStore, PeerPool) {
    let pool = options
        .connect(url)
        .await
        .unwrap_or_else(|err| panic!("cannot reach PostgreSQL at {url} ({URL_VAR}): {err}"));
    let store = PeerStore::new(pool.clone()).with_schema_name(ns).unwrap();
    store.migrate().await.unwrap();
    (store, pool)
}

#[path = "backend.rs"]
mod backend;
pub(crate) use backend::run;
