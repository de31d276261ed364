#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
// The store files in `src/store/` are mounted once per database on purpose, each time
// over that database's connection type (see `sqlite.rs`): one body of code, every line
// visible to rustfmt, clippy and editors.
#![allow(clippy::duplicate_mod)]

#[cfg(not(any(feature = "postgres", feature = "sqlite", feature = "mysql")))]
compile_error!(
    "authkit-diesel needs at least one database: enable the `postgres`, `sqlite` or `mysql` feature"
);

/// Mounts the store's files (`src/store/`) in a database's module, over that module's
/// `Conn`, `Store` and macros.
#[cfg(feature = "_any")]
macro_rules! mount_store {
    () => {
        #[path = "store/api_keys.rs"]
        mod api_keys;
        #[path = "store/entry.rs"]
        mod entry;
        #[path = "store/rbac.rs"]
        mod rbac;
        #[path = "store/sessions.rs"]
        mod sessions;
        #[path = "store/shared.rs"]
        mod shared;
        #[path = "store/tokens.rs"]
        mod tokens;
        #[path = "store/users.rs"]
        mod users;
    };
}

#[cfg(feature = "_any")]
mod conn;
#[cfg(feature = "_any")]
mod error;
#[cfg(feature = "_any")]
mod migrate;
#[cfg(feature = "_any")]
pub mod schema;
#[cfg(feature = "_any")]
pub mod sql_types;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "sqlite")]
mod sqlite;

#[cfg(feature = "_any")]
pub use migrate::{MIGRATIONS_TABLE, MigrationSource, migration_source};
#[cfg(feature = "mysql")]
#[cfg_attr(docsrs, doc(cfg(feature = "mysql")))]
pub use mysql::{MysqlPool, MysqlStore};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use pg::{PgPool, PgStore};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SqlitePool, SqliteStore};

/// The Diesel this crate is built on, so table and type paths match its version.
#[cfg(feature = "_any")]
pub use diesel;
/// The diesel-async this crate is built on, so pool and connection types match.
#[cfg(feature = "_any")]
pub use diesel_async;

#[doc(hidden)]
#[cfg(feature = "_any")]
pub use diesel as __diesel;

#[cfg(feature = "_any")]
diesel::define_sql_function! {
    /// SQL's `lower(text)`.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}
