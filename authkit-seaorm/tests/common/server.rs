//! A scratch PostgreSQL schema or MySQL database per case (dropped when the case ends,
//! leftovers of killed runs swept), and SeaORM connections onto it.

use std::sync::Mutex;

use authkit_conformance::Cleanup;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use super::{case_name, sqlx_common};

pub(crate) const PG_URL_VAR: &str = "AUTHKIT_TEST_POSTGRES_URL";
const PG_DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub(crate) const MYSQL_URL_VAR: &str = "AUTHKIT_TEST_MYSQL_URL";
const MYSQL_DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/test";
/// Every schema or database these tests create starts so (authkit-sqlx's use `akt_`).
const PREFIX: &str = "aks_";
/// Connections per case: cases run in parallel, and the servers allow about 100.
pub(crate) const POOL_SIZE: u32 = 5;

/// The PostgreSQL server's URL.
pub(crate) fn pg_url() -> String {
    sqlx_common::url_from_env(PG_URL_VAR, PG_DEFAULT_URL)
}

/// The MySQL/MariaDB server's URL.
pub(crate) fn mysql_url() -> String {
    sqlx_common::url_from_env(MYSQL_URL_VAR, MYSQL_DEFAULT_URL)
}

/// Which server a [`Scratch`] makes room on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Server {
    /// A schema per case, found through `search_path`.
    Postgres,
    /// A database per case.
    MySql,
}

impl Server {
    fn url(self) -> String {
        match self {
            Server::Postgres => pg_url(),
            Server::MySql => mysql_url(),
        }
    }

    fn url_var(self) -> &'static str {
        match self {
            Server::Postgres => PG_URL_VAR,
            Server::MySql => MYSQL_URL_VAR,
        }
    }

    fn create(self, name: &str) -> String {
        match self {
            Server::Postgres => format!("CREATE SCHEMA \"{name}\""),
            Server::MySql => format!("CREATE DATABASE `{name}`"),
        }
    }

    fn drop(self, name: &str) -> String {
        match self {
            Server::Postgres => format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"),
            Server::MySql => format!("DROP DATABASE IF EXISTS `{name}`"),
        }
    }

    fn list(self) -> &'static str {
        match self {
            Server::Postgres => {
                "SELECT nspname::text AS name FROM pg_namespace WHERE nspname LIKE 'aks\\_%'"
            }
            Server::MySql => {
                "SELECT CAST(SCHEMA_NAME AS CHAR) AS name FROM information_schema.SCHEMATA \
                 WHERE SCHEMA_NAME LIKE 'aks\\_%'"
            }
        }
    }

    /// An administrative connection; an unreachable server fails naming the variable.
    async fn admin(self) -> DatabaseConnection {
        let url = self.url();
        let mut options = ConnectOptions::new(url.clone());
        options.max_connections(1).sqlx_logging(false);
        Database::connect(options).await.unwrap_or_else(|err| {
            panic!(
                "cannot reach the database at {url}: {err}. Set {} to a server the tests \
                 may create schemas and databases on.",
                self.url_var()
            )
        })
    }

    /// Drops what earlier runs left when they were killed before cleaning up.
    async fn sweep(self, db: &DatabaseConnection) {
        let rows = db
            .query_all_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                self.list(),
            ))
            .await
            .expect("list scratch schemas");
        for row in rows {
            let name: String = row.try_get("", "name").expect("a name");
            if sqlx_common::is_stale(PREFIX, &name) {
                let _ = db.execute_unprepared(&self.drop(&name)).await;
            }
        }
    }

    /// A connection of its own onto the scratch `name`.
    pub(crate) async fn connect(self, name: &str) -> DatabaseConnection {
        let url = self.url();
        let mut options = authkit_seaorm_options(&url);
        options.max_connections(POOL_SIZE);
        let name = name.to_owned();
        match self {
            Server::Postgres => {
                options.map_sqlx_postgres_opts(move |o| o.options([("search_path", name.as_str())]))
            }
            Server::MySql => options.map_sqlx_mysql_opts(move |o| o.database(&name)),
        };
        Database::connect(options)
            .await
            .unwrap_or_else(|err| panic!("connect to {url} ({}): {err}", self.url_var()))
    }

    /// The URL for authkit-sqlx onto the scratch `name` (cross-backend tests).
    pub(crate) fn url_for(self, name: &str) -> (String, String) {
        (self.url(), name.to_owned())
    }
}

/// The store's own connection options (the same for both servers).
fn authkit_seaorm_options(url: &str) -> ConnectOptions {
    authkit_seaorm::PgStore::connect_options(url)
}

/// Scratch schemas or databases, each dropped when this is.
#[derive(Default)]
pub(crate) struct Scratch {
    cleanups: Mutex<Vec<Cleanup>>,
}

impl Scratch {
    /// Creates a fresh, empty schema (PostgreSQL) or database (MySQL) and returns its
    /// name; it is dropped with `self`.
    pub(crate) async fn fresh(&self, server: Server) -> String {
        static SWEPT: [std::sync::Once; 2] = [std::sync::Once::new(), std::sync::Once::new()];
        let admin = server.admin().await;
        let swept = &SWEPT[server as usize];
        if !swept.is_completed() {
            server.sweep(&admin).await;
            swept.call_once(|| ());
        }
        let name = case_name(PREFIX);
        admin
            .execute_unprepared(&server.create(&name))
            .await
            .expect("create the case's schema or database");
        let _ = admin.close().await;
        let doomed = server.drop(&name);
        let cleanup = Cleanup::new(async move {
            let admin = server.admin().await;
            let _ = admin.execute_unprepared(&doomed).await;
            let _ = admin.close().await;
        });
        self.cleanups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(cleanup);
        name
    }
}

/// The conformance suite's factory on one server: a fresh schema or database per case,
/// migrated by the standalone migrator, a connection of its own per handle.
pub(crate) struct ServerFactory {
    server: Server,
    scratch: Scratch,
}

impl ServerFactory {
    /// A factory on `server`.
    pub(crate) fn new(server: Server) -> Self {
        ServerFactory {
            server,
            scratch: Scratch::default(),
        }
    }

    /// A store on a connection of its own over `name` (migrated).
    async fn open(&self, name: &str) -> authkit::Stores {
        use sea_orm_migration::MigratorTrait;
        let db = self.server.connect(name).await;
        authkit_seaorm::Migrator::up(&db, None)
            .await
            .expect("migrate the case's schema or database");
        match self.server {
            Server::Postgres => {
                authkit::Stores::from_backend(authkit_seaorm::PgStore::new(db).expect("PostgreSQL"))
            }
            Server::MySql => {
                authkit::Stores::from_backend(authkit_seaorm::MySqlStore::new(db).expect("MySQL"))
            }
        }
    }
}

#[authkit_conformance::async_trait]
impl authkit_conformance::StoreFactory for ServerFactory {
    async fn stores(&self) -> authkit::Stores {
        let name = self.scratch.fresh(self.server).await;
        self.open(&name).await
    }

    async fn two_handles(&self) -> (authkit::Stores, authkit::Stores) {
        let name = self.scratch.fresh(self.server).await;
        (self.open(&name).await, self.open(&name).await)
    }
}
