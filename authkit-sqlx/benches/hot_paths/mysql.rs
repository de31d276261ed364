//! MariaDB (or MySQL): the bench's tables in a database of its own, the pool's default
//! database (the peer's table is qualified with it by the peer itself).

use std::str::FromStr;

use authkit_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use authkit_sqlx::sqlx::{self, AssertSqlSafe, Connection, SqlSafeStr, SqlStr};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

type Db = sqlx::MySql;
type Pool = sqlx::MySqlPool;
type PoolOptions = sqlx::mysql::MySqlPoolOptions;
type Store = authkit_sqlx::MySqlStore;
type PeerStore = tower_sessions_sqlx_store::MySqlStore;
type PeerPool = tower_sessions_sqlx_store::sqlx::MySqlPool;
type PeerPoolOptions = tower_sessions_sqlx_store::sqlx::mysql::MySqlPoolOptions;

const NAME: &str = "mariadb";
const URL_VAR: &str = "AUTHKIT_TEST_MYSQL_URL";
const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";
/// MariaDB has no `UPDATE … RETURNING`: the slide floor is a `SELECT` then an `UPDATE`.
const UPDATE_RETURNING: bool = false;

/// `DATETIME(6)` holding UTC, as the store binds it.
fn ts(t: OffsetDateTime) -> PrimitiveDateTime {
    let utc = t.to_offset(UtcOffset::UTC);
    PrimitiveDateTime::new(utc.date(), utc.time())
}

fn sql(template: &str) -> SqlStr {
    AssertSqlSafe(template.to_owned()).into_sql_str()
}

async fn admin(url: &str) -> MySqlConnection {
    MySqlConnection::connect(url)
        .await
        .unwrap_or_else(|err| panic!("cannot reach MariaDB/MySQL at {url} ({URL_VAR}): {err}"))
}

/// Creates the database `ns`; a pool with `options` whose connections work in it.
async fn open(url: &str, ns: &str, options: PoolOptions) -> Pool {
    let mut conn = admin(url).await;
    for statement in [
        format!("DROP DATABASE IF EXISTS `{ns}`"),
        format!("CREATE DATABASE `{ns}`"),
    ] {
        sqlx::query(AssertSqlSafe(statement))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    conn.close().await.unwrap();
    let connect = MySqlConnectOptions::from_str(url).unwrap().database(ns);
    options.connect_with(connect).await.unwrap()
}

async fn drop_namespace(url: &str, ns: &str) {
    let mut conn = admin(url).await;
    let drop = format!("DROP DATABASE `{ns}`");
    sqlx::query(AssertSqlSafe(drop))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// tower-sessions' store on a pool of its own, its table created in the database `ns`.
async fn peer(url: &str, ns: &str, options: PeerPoolOptions) -> (PeerStore, PeerPool) {
    let pool = options
        .connect(url)
        .await
        .unwrap_or_else(|err| panic!("cannot reach MariaDB/MySQL at {url} ({URL_VAR}): {err}"));
    let store = PeerStore::new(pool.clone()).with_schema_name(ns).unwrap();
    store.migrate().await.unwrap();
    (store, pool)
}

#[path = "backend.rs"]
mod backend;
pub(crate) use backend::run;
