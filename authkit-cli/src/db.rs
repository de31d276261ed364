//! Connecting to the database a URL names, with the table options, and building `Auth`.

use std::str::FromStr;
use std::time::Duration;

use authkit::{Auth, Config, SigningKey, StoreError, Stores};
use authkit_schema::{Dialect, TableNames};
use authkit_sqlx::sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use authkit_sqlx::sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use authkit_sqlx::sqlx::sqlite::{SqlitePool, SqlitePoolOptions};
use authkit_sqlx::sqlx::{ConnectOptions, Connection};
use authkit_sqlx::{MySqlStore, PgStore, SqliteStore, StoreOptions};

use crate::cli::DbArgs;
use crate::fail::{Code, Failure, chain, redact};

/// How long to wait for a connection before calling the database unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A command runs its calls one after another: two connections are plenty.
const POOL_SIZE: u32 = 2;

/// An open pool, per database.
#[derive(Debug)]
enum Pool {
    Pg(PgPool),
    MySql(MySqlPool),
    Sqlite(SqlitePool),
}

/// A connected database with the table names to use.
#[derive(Debug)]
pub(crate) struct Db {
    pool: Pool,
    tables: TableNames,
}

/// The table names the options ask for: a prefix, and on PostgreSQL a schema.
pub(crate) fn table_names(args: &DbArgs) -> Result<TableNames, Failure> {
    let names = match &args.table_prefix {
        Some(prefix) => TableNames::with_prefix(prefix)
            .map_err(|e| Failure::usage(format!("bad --table-prefix: {e}")))?,
        None => TableNames::default(),
    };
    match &args.pg_schema {
        Some(schema) => names
            .in_namespace(schema)
            .map_err(|e| Failure::usage(format!("bad --pg-schema: {e}"))),
        None => Ok(names),
    }
}

/// The dialect a database URL names by its scheme.
fn dialect_of(url: &str) -> Result<Dialect, Failure> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        Some("postgres" | "postgresql") => Ok(Dialect::Postgres),
        Some("mysql" | "mariadb") => Ok(Dialect::MySql),
        Some("sqlite") => Ok(Dialect::Sqlite),
        _ => Err(Failure::new(
            Code::Connection,
            format!(
                "bad database URL {}: expected postgres://, mysql:// or sqlite://",
                redact(url)
            ),
        )),
    }
}

fn bad_url(url: &str, err: &dyn std::error::Error) -> Failure {
    let message = format!("bad database URL {}: {}", redact(url), chain(err));
    Failure::new(Code::Connection, message)
}

fn unreachable(url: &str, err: &dyn std::error::Error) -> Failure {
    let message = format!(
        "cannot reach the database at {}: {}",
        redact(url),
        chain(err)
    );
    Failure::new(Code::Connection, message)
}

impl Db {
    /// Connects to the database of `args`. A SQLite file is created only when `create`
    /// (`migrate`); every other command refuses a missing file.
    pub(crate) async fn connect(args: &DbArgs, create: bool) -> Result<Db, Failure> {
        let url = args.database_url.as_deref().ok_or_else(|| {
            Failure::usage("no database: pass --database-url or set DATABASE_URL")
        })?;
        let tables = table_names(args)?;
        let dialect = dialect_of(url)?;
        if tables.check_dialect(dialect).is_err() {
            return Err(Failure::usage(
                "--pg-schema applies to PostgreSQL only; use --table-prefix on this database",
            ));
        }
        let pool = match dialect {
            Dialect::Postgres => Pool::Pg(connect_pg(url).await?),
            Dialect::MySql => Pool::MySql(connect_mysql(url).await?),
            Dialect::Sqlite => Pool::Sqlite(connect_sqlite(url, create).await?),
        };
        Ok(Db { pool, tables })
    }

    /// The table names in use.
    pub(crate) fn tables(&self) -> &TableNames {
        &self.tables
    }

    /// Applies authkit's pending migrations.
    pub(crate) async fn migrate(&self) -> Result<(), Failure> {
        let t = &self.tables;
        let done = match &self.pool {
            Pool::Pg(p) => PgStore::migrate(p, t).await,
            Pool::MySql(p) => MySqlStore::migrate(p, t).await,
            Pool::Sqlite(p) => SqliteStore::migrate(p, t).await,
        };
        done.map_err(|e| match e {
            StoreError::Backend(source) => Failure::new(
                Code::Failed,
                format!("migration failed: {}", chain(source.as_ref())),
            ),
            other => other.into(),
        })
    }

    /// Every way the live schema differs from the expected one, one line each.
    pub(crate) async fn problems(&self) -> Result<Vec<String>, Failure> {
        let t = &self.tables;
        let verified = match &self.pool {
            Pool::Pg(p) => PgStore::verify_schema(p, t).await,
            Pool::MySql(p) => MySqlStore::verify_schema(p, t).await,
            Pool::Sqlite(p) => SqliteStore::verify_schema(p, t).await,
        };
        match verified {
            Ok(()) => Ok(Vec::new()),
            Err(StoreError::SchemaDrift(problems)) => Ok(problems),
            Err(other) => Err(other.into()),
        }
    }

    /// `Auth` over this database, after verifying the schema (never migrating it).
    ///
    /// The configuration is [`Config::new`]'s defaults with a fixed placeholder signing
    /// key: no CLI command issues or verifies a JWT (API keys are opaque secrets, hashed,
    /// not signed), so the key signs nothing and needs no secrecy.
    pub(crate) async fn auth(&self) -> Result<Auth, Failure> {
        let options = StoreOptions::default()
            .tables(self.tables.clone())
            .run_migrations(false);
        let stores = match &self.pool {
            Pool::Pg(p) => Stores::from_backend(PgStore::new(p.clone(), options).await?),
            Pool::MySql(p) => Stores::from_backend(MySqlStore::new(p.clone(), options).await?),
            Pool::Sqlite(p) => Stores::from_backend(SqliteStore::new(p.clone(), options).await?),
        };
        let config = Config::new("authkit-cli", SigningKey::new([0x5a; 32]));
        Ok(Auth::builder(stores, config).build()?)
    }
}

/// Opens one connection and closes it: a refused or failed connection is then reported
/// at once with its cause, where a pool would retry until its timeout and report that.
async fn probe<O>(url: &str, options: &O) -> Result<(), Failure>
where
    O: ConnectOptions,
    O::Connection: Sized,
{
    let connecting = tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await;
    match connecting {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(unreachable(url, &e)),
        Err(_) => Err(Failure::new(
            Code::Connection,
            format!(
                "cannot reach the database at {}: no answer within {CONNECT_TIMEOUT:?}",
                redact(url)
            ),
        )),
    }
}

async fn connect_pg(url: &str) -> Result<PgPool, Failure> {
    let options = PgConnectOptions::from_str(url).map_err(|e| bad_url(url, &e))?;
    probe(url, &options).await?;
    PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| unreachable(url, &e))
}

async fn connect_mysql(url: &str) -> Result<MySqlPool, Failure> {
    let options = MySqlConnectOptions::from_str(url).map_err(|e| bad_url(url, &e))?;
    probe(url, &options).await?;
    MySqlPoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(|e| unreachable(url, &e))
}

async fn connect_sqlite(url: &str, create: bool) -> Result<SqlitePool, Failure> {
    let options = SqliteStore::connect_options(url)
        .map_err(|e| bad_url(url, &e))?
        .create_if_missing(create);
    let pool = SqlitePoolOptions::new()
        .max_connections(POOL_SIZE)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await;
    pool.map_err(|e| {
        let mut failure = unreachable(url, &e);
        if !create {
            failure
                .message
                .push_str(" (`authkit migrate` creates a missing file)");
        }
        failure
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_database() {
        let dialect = |url| dialect_of(url).ok();
        assert_eq!(dialect("postgresql://h/d"), Some(Dialect::Postgres));
        assert_eq!(dialect("mariadb://h/d"), Some(Dialect::MySql));
        assert_eq!(dialect("sqlite:a.db"), Some(Dialect::Sqlite));
        let err = dialect_of("redis://u:pw@h")
            .err()
            .map(|f| (f.code, f.message));
        let (code, message) = err.unwrap_or((Code::Failed, String::new()));
        assert_eq!(code, Code::Connection);
        assert!(message.contains("redis://u:***@h"), "{message}");
    }
}
