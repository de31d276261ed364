//! A fresh PostgreSQL schema, MariaDB/MySQL database or SQLite file per test case,
//! dropped when the case ends, and the conformance factory over them. Shared by this
//! crate's test targets (with authkit-sqlx's `tests/common`, mounted beside it).
//!
//! The servers are `AUTHKIT_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `AUTHKIT_TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306/test`). A server that cannot be reached fails the case
//! with a message naming the variable; nothing is skipped. Leftovers of killed runs are
//! dropped by the next run (see `common::is_stale`).

// Each target uses part of this module.
#![allow(dead_code)]
// With one database feature alone, the other server's admin code is compiled out and
// its imports and arguments go unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql")),
    allow(unused_imports, unused_variables)
)]

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Mutex, Once};

use authkit::Stores;
use authkit_conformance::{Cleanup, StoreFactory, async_trait};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};

use crate::common;

/// The PostgreSQL server's variable and default.
pub(crate) const PG_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const PG_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The MariaDB/MySQL server's variable and default.
pub(crate) const MYSQL_VAR: &str = "AUTHKIT_TEST_MYSQL_URL";
const MYSQL_DEFAULT: &str = "mysql://root@127.0.0.1:3306/test";
/// Every schema or database these tests make starts so (authkit-sqlx's use `akt_`).
const PREFIX: &str = "akd_";

/// One name a row, as the catalogue queries below return them.
#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Which server.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Server {
    /// PostgreSQL: a schema per case.
    Postgres,
    /// MariaDB/MySQL: a database per case.
    Mysql,
}

impl Server {
    /// The server's base URL.
    pub(crate) fn url(self) -> String {
        match self {
            Server::Postgres => common::url_from_env(PG_VAR, PG_DEFAULT),
            Server::Mysql => common::url_from_env(MYSQL_VAR, MYSQL_DEFAULT),
        }
    }

    fn var(self) -> &'static str {
        match self {
            Server::Postgres => PG_VAR,
            Server::Mysql => MYSQL_VAR,
        }
    }

    /// Runs `sql` on an admin connection to the base URL.
    async fn admin(self, sql: &str) {
        let url = self.url();
        let unreachable = |err: &dyn std::fmt::Display| -> ! {
            panic!(
                "cannot reach the server at {url}: {err}. Set {} to a server the suite \
                 may create schemas and databases on.",
                self.var()
            )
        };
        match self {
            #[cfg(feature = "postgres")]
            Server::Postgres => {
                let mut conn = diesel_async::AsyncPgConnection::establish(&url)
                    .await
                    .unwrap_or_else(|e| unreachable(&e));
                conn.batch_execute(sql).await.expect("admin statement");
            }
            #[cfg(feature = "mysql")]
            Server::Mysql => {
                let mut conn = diesel_async::AsyncMysqlConnection::establish(&url)
                    .await
                    .unwrap_or_else(|e| unreachable(&e));
                conn.batch_execute(sql).await.expect("admin statement");
            }
            #[allow(unreachable_patterns)]
            _ => unreachable(&"the database's feature is off"),
        }
    }

    /// The names of this suite's schemas (PostgreSQL) or databases (MySQL).
    async fn ours(self) -> Vec<String> {
        let url = self.url();
        let rows: Vec<Name> = match self {
            #[cfg(feature = "postgres")]
            Server::Postgres => {
                let Ok(mut conn) = diesel_async::AsyncPgConnection::establish(&url).await else {
                    return Vec::new();
                };
                diesel::sql_query(
                    "SELECT nspname::text AS name FROM pg_namespace WHERE nspname LIKE 'akd\\_%'",
                )
                .load(&mut conn)
                .await
                .unwrap_or_default()
            }
            #[cfg(feature = "mysql")]
            Server::Mysql => {
                let Ok(mut conn) = diesel_async::AsyncMysqlConnection::establish(&url).await else {
                    return Vec::new();
                };
                diesel::sql_query(
                    "SELECT CAST(SCHEMA_NAME AS CHAR) AS name FROM information_schema.SCHEMATA \
                     WHERE SCHEMA_NAME LIKE 'akd\\_%'",
                )
                .load(&mut conn)
                .await
                .unwrap_or_default()
            }
            #[allow(unreachable_patterns)]
            _ => Vec::new(),
        };
        rows.into_iter().map(|r| r.name).collect()
    }

    fn drop_sql(self, name: &str) -> String {
        match self {
            Server::Postgres => format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"),
            Server::Mysql => format!("DROP DATABASE IF EXISTS `{name}`"),
        }
    }

    /// The URL of a case's schema or database `name`.
    pub(crate) fn case_url(self, name: &str) -> String {
        let base = self.url();
        match self {
            Server::Postgres => {
                let join = if base.contains('?') { '&' } else { '?' };
                format!("{base}{join}options=-c%20search_path%3D{name}")
            }
            Server::Mysql => {
                let (path, query) = base.split_once('?').unwrap_or((&base, ""));
                let root = path.rsplit_once('/').map_or(path, |(root, _)| root);
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                format!("{root}/{name}{query}")
            }
        }
    }
}

/// Fresh schemas or databases, dropped when this is dropped (at the case's end).
#[derive(Default)]
pub(crate) struct Cases {
    cleanups: Mutex<Vec<Cleanup>>,
}

impl Cases {
    /// Makes a fresh schema (PostgreSQL) or database (MySQL) and returns its URL.
    pub(crate) async fn fresh(&self, server: Server) -> String {
        server.case_url(&self.fresh_name(server).await)
    }

    /// Makes a fresh schema (PostgreSQL) or database (MySQL) and returns its name.
    pub(crate) async fn fresh_name(&self, server: Server) -> String {
        static SWEPT: Once = Once::new();
        if !SWEPT.is_completed() {
            for name in server.ours().await {
                if common::is_stale(PREFIX, &name) {
                    server.admin(&server.drop_sql(&name)).await;
                }
            }
            SWEPT.call_once(|| ());
        }
        let name = common::case_name(PREFIX);
        let create = match server {
            Server::Postgres => format!("CREATE SCHEMA \"{name}\""),
            Server::Mysql => format!("CREATE DATABASE `{name}`"),
        };
        server.admin(&create).await;
        let drop = server.drop_sql(&name);
        let cleanup = Cleanup::new(async move { server.admin(&drop).await });
        self.cleanups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(cleanup);
        name
    }
}

/// A SQLite database file in the temporary directory, deleted (with its WAL and
/// shared-memory files) when this is dropped.
pub(crate) struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A fresh file name (nothing is created yet).
    pub(crate) fn new() -> Self {
        let name = format!("{}.db", common::case_name(PREFIX));
        TempFile {
            path: std::env::temp_dir().join(name),
        }
    }

    /// The path, as the SQLite store takes it.
    pub(crate) fn path(&self) -> String {
        self.path.display().to_string()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// Opens a store over a case's URL (or SQLite path).
pub(crate) type Open = fn(String) -> Pin<Box<dyn Future<Output = Stores> + Send>>;

/// The conformance factory: a fresh schema, database or file per case, opened twice
/// (two pools) for the cases that want two handles.
pub(crate) struct Factory {
    server: Option<Server>,
    open: Open,
    cases: Cases,
    files: Mutex<Vec<TempFile>>,
}

impl Factory {
    /// Cases on `server`, or in SQLite files with `None`.
    pub(crate) fn new(server: Option<Server>, open: Open) -> Self {
        Factory {
            server,
            open,
            cases: Cases::default(),
            files: Mutex::default(),
        }
    }

    async fn fresh(&self) -> String {
        match self.server {
            Some(server) => self.cases.fresh(server).await,
            None => {
                let file = TempFile::new();
                let path = file.path();
                self.files
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(file);
                path
            }
        }
    }
}

#[async_trait]
impl StoreFactory for Factory {
    async fn stores(&self) -> Stores {
        (self.open)(self.fresh().await).await
    }

    async fn two_handles(&self) -> (Stores, Stores) {
        let url = self.fresh().await;
        ((self.open)(url.clone()).await, (self.open)(url).await)
    }
}
