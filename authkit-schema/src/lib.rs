//! authkit's one logical schema, owned by no database driver.
//!
//! # Overview
//!
//! Every authkit backend (sqlx, SeaORM, Diesel) stores the same tables, with the same
//! columns, types, constraints and indexes, on each database. This crate is where that
//! schema lives, as plain data and plain files, so that every backend can reach it:
//!
//! - **the model** ([`TABLES`]): tables, columns with their [`LogicalType`] and
//!   nullability, primary keys, [`Index`]es (unique or not, on columns or on
//!   `lower(email)`), [`ForeignKey`]s with their delete rule;
//! - **the names** ([`Table`], [`TableNames`]): the `authkit_` defaults, a prefix or a
//!   name per table, and the PostgreSQL namespace;
//! - **the DDL** per [`Dialect`] ([`schema_template`], [`render()`]);
//! - **the migrations** ([`migrations`]): checked-in, frozen SQL files, one folder per
//!   dialect, embedded in the crate;
//! - **the verifier** ([`verify`]): a live schema, read by a backend from its database's
//!   catalogue into a [`Catalogue`], against the model, as a list of [`Problem`]s.
//!
//! It depends on no database driver and not on `authkit` itself: a backend crate
//! depends on it, never the reverse.
//!
//! # The model
//!
//! [`TABLES`] lists each table's [`TableDef`] in creation order. A backend's own
//! description of the tables (SeaORM entities, Diesel `table!`s) can be checked against
//! it in a test, column by column:
//!
//! ```
//! use authkit_schema::{LogicalType, Table, TableDef};
//!
//! let sessions = TableDef::of(Table::Sessions).expect("a model table");
//! let hash = sessions.column("token_hash").expect("a column");
//! assert_eq!(hash.ty, LogicalType::Sha256);
//! assert!(!hash.nullable);
//! // The token hash is unique: the store looks sessions up by it.
//! assert!(sessions.indexes.iter().any(|i| i.unique && i.keys.len() == 1));
//! // Deleting a user deletes its sessions.
//! assert_eq!(sessions.foreign_keys[0].references, Table::Users);
//! ```
//!
//! Logical types map to one concrete type per dialect ([`LogicalType::sql_type`]); the
//! table in [`LogicalType`]'s docs lists them. Every foreign key cascades on delete, and
//! every lookup on a hot path has an index: token and key hashes unique, foreign keys
//! indexed, expiry columns indexed for purges.
//!
//! # Migrations and the freeze rule
//!
//! The migrations are files, `migrations/<dialect>/<NNNN>_<name>.sql` (dialects
//! `postgres`, `mysql`, `sqlite`), embedded with `include_str!` and listed in version
//! order by [`migrations`]. Table names are configurable, so the files are templates:
//! `{users}` stands for the users table as SQL refers to it, `{sessions:user_idx}` for
//! an index name (see [`render()`]). [`Migration::render`] fills them in for an
//! application's [`TableNames`].
//!
//! **A schema change is a new numbered file, never an edit.** Migrators record what
//! they applied (sqlx keeps a checksum of each migration's text) and refuse to start
//! when an applied migration's text changes, so an edited file would break every
//! database it was applied to. Two tests hold the rule:
//!
//! - the **golden test** renders the model ([`schema_template`]) and compares it with
//!   the checked-in snapshot `snapshots/<dialect>.sql` of the full current schema; while
//!   only migration 0001 exists, 0001 must equal it too. Changing the model therefore
//!   fails the test until the snapshot is regenerated with
//!   `AUTHKIT_BLESS_SCHEMA=1 cargo test -p authkit-schema` (which rewrites the
//!   snapshots, never a migration) and a new migration file brings existing databases
//!   from the previous schema to the new one;
//! - the **freeze test** pins the SHA-256 of every released migration file; editing
//!   one fails with "add a new numbered file instead". A new file gets its pin when it
//!   is released.
//!
//! ```
//! use authkit_schema::{Dialect, TableNames, migrations};
//!
//! let first = &migrations(Dialect::Postgres)[0];
//! assert_eq!((first.version, first.file_name().as_str()), (1, "0001_reference_schema.sql"));
//! let sql = first.render(&TableNames::default());
//! assert!(sql.starts_with("CREATE TABLE \"authkit_users\" (\n"));
//! ```
//!
//! # Table names and namespaces
//!
//! [`TableNames`] holds one validated name per [`Table`] (default `authkit_<table>`, or a
//! prefix, or a name per table) and, on PostgreSQL, an optional namespace (schema):
//! with [`TableNames::in_namespace`] every name in rendered SQL is qualified and quoted
//! (`"auth"."authkit_users"`), the migrations table included, so the connection's
//! `search_path` does not matter. MySQL and SQLite have no such namespaces:
//! [`TableNames::check_dialect`] refuses names with one, and backends call it before
//! they render anything.
//!
//! Not every backend can honour every option, because some ORMs fix table names at
//! compile time:
//!
//! | option | sqlx (`authkit-sqlx`) | SeaORM 2 | Diesel 2.3 |
//! |---|---|---|---|
//! | default names | yes | yes | yes |
//! | prefix, names per table | yes, at run time | no (see below) | no: `table!` names are fixed at compile time |
//! | PostgreSQL namespace | yes, every name qualified | at compile time only (see below), or the connection's `search_path` | only through the connection's `search_path`, at best |
//! | own migrations table | `authkit_migrations`, renamed with the others | `MigratorTrait::migration_table_name()` can be overridden | fixed (`__diesel_schema_migrations`) |
//!
//! SeaORM 2's `EntityName::table_name(&self)` returns a `&'static str` (what
//! `#[sea_orm(table_name = "…")]` generates), and entities are unit structs, so a name
//! chosen at run time could only come from a process-wide static: one configuration per
//! process, not per store. `EntityName::schema_name(&self)` (default `None`,
//! `#[sea_orm(schema_name = "…")]` in the derive) qualifies every query, but is fixed
//! the same way; a hand-written impl could read a process-wide setting. Diesel can put a
//! schema in `table!` too, again at compile time. So the SeaORM and Diesel backends
//! support the default names, with a namespace chosen at run time only by setting
//! `search_path` on their connections.
//!
//! # The verifier
//!
//! A backend reads its database's catalogue into a [`Catalogue`] (plain rows:
//! [`LiveColumn`], [`LiveIndex`], [`LiveForeignKey`]) for the configured tables and
//! namespace, and [`verify`] returns every [`Problem`]: a missing table or column, type
//! or nullability drift, a missing primary key, a missing index or one that should be
//! unique and is not (token hashes, key hashes, the lowercased email), a missing foreign
//! key or one that does not cascade. Extra tables, columns, indexes and foreign keys
//! are fine. Problems are typed, and their `Display` is one line each:
//!
//! ```
//! use authkit_schema::{Catalogue, Dialect, LiveColumn, Problem, TableNames, verify};
//!
//! let live = Catalogue {
//!     columns: vec![LiveColumn {
//!         table: "authkit_users".into(),
//!         column: "id".into(),
//!         data_type: "uuid".into(),
//!         column_type: String::new(),
//!         nullable: false,
//!     }],
//!     ..Catalogue::default()
//! };
//! let problems = verify(Dialect::Postgres, &TableNames::default(), &live);
//! assert!(problems.contains(&Problem::MissingColumn {
//!     table: "authkit_users".into(),
//!     column: "email".into(),
//! }));
//! assert!(problems.iter().any(|p| p.to_string() == "authkit_sessions: missing table"));
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod dialect;
mod migrations;
mod model;
mod names;
mod render;
pub mod statements;
mod verify;

pub use dialect::Dialect;
pub use migrations::{Migration, migrations};
pub use model::{
    Column, ForeignKey, Index, IndexKey, IndexName, LogicalType, OnDelete, TABLES, TableDef,
};
pub use names::{InvalidTableName, MAX_TABLE_NAME, Table, TableNames, UnsupportedNamespace};
pub use render::{number_binds, placeholders, render, schema_template};
pub use verify::{Catalogue, LiveColumn, LiveForeignKey, LiveIndex, Problem, verify};
