//! The command line, as clap parses it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// The exit codes, as `--help` lists them (see [`Code`](crate::fail::Code)).
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a database or internal failure
  2  bad usage or invalid input (a malformed slug, email or file)
  3  bad database URL, or the database cannot be reached
  4  schema drift
  5  something named does not exist (user, role, key, ...)
  6  something to create already exists, or a state forbids the change (a revoked key)
Errors go to stderr, one line each: `authkit: <what was wrong>`.";

/// Operate an authkit database: migrations, schema checks, RBAC, keys, users, purges.
#[derive(Debug, Parser)]
#[command(name = "authkit", version, max_term_width = 100, after_help = EXIT_CODES)]
pub(crate) struct Cli {
    /// Database and table options.
    #[command(flatten)]
    pub(crate) db: DbArgs,
    /// Print listings and reports as JSON (one document on stdout).
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Where authkit's tables are.
#[derive(Debug, Args)]
pub(crate) struct DbArgs {
    /// postgres://…, mysql://… (MySQL or MariaDB) or sqlite://path/to/file.db.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub(crate) database_url: Option<String>,
    /// Prefix of every authkit table (default `authkit_`).
    #[arg(long, env = "AUTHKIT_TABLE_PREFIX", global = true)]
    pub(crate) table_prefix: Option<String>,
    /// PostgreSQL only: the schema holding authkit's tables (created by `migrate`).
    #[arg(long, env = "AUTHKIT_PG_SCHEMA", global = true)]
    pub(crate) pg_schema: Option<String>,
}

/// The top-level commands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Apply authkit's pending migrations (creating a SQLite file if it is missing).
    Migrate,
    /// Check or print the schema.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Roles: define, undefine, list, assign to users.
    #[command(subcommand)]
    Roles(RoleCommand),
    /// Permissions: define, undefine, list, grant to roles, assign to users.
    #[command(subcommand)]
    Permissions(GrantableCommand),
    /// Abilities: define, undefine, list, grant to roles, assign to users.
    #[command(subcommand)]
    Abilities(GrantableCommand),
    /// Declarative RBAC.
    #[command(subcommand)]
    Rbac(RbacCommand),
    /// Service keys: create, list, rotate, revoke.
    #[command(subcommand)]
    Keys(KeyCommand),
    /// Users: show, revoke credentials, delete.
    #[command(subcommand)]
    Users(UserCommand),
    /// Delete every expired session, token and key; report rows removed per table.
    Purge,
}

/// `schema …`.
#[derive(Debug, Subcommand)]
pub(crate) enum SchemaCommand {
    /// Compare the live schema with the expected one; exit 4 naming each problem.
    Verify,
    /// Print the current schema's DDL for a dialect (no database needed).
    Print {
        /// The SQL dialect.
        dialect: DialectArg,
    },
}

/// A dialect named on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum DialectArg {
    /// PostgreSQL 13+.
    Postgres,
    /// MySQL 8 / MariaDB 10.6+.
    Mysql,
    /// SQLite 3.35+.
    Sqlite,
}

/// `roles …`.
#[derive(Debug, Subcommand)]
pub(crate) enum RoleCommand {
    /// Register a role.
    Define(DefineArgs),
    /// Remove a role and every grant and assignment naming it.
    Undefine {
        /// The role's slug.
        slug: String,
    },
    /// Every role, with what it grants.
    List,
    /// Assign a role to a user.
    Assign {
        /// The role's slug.
        role: String,
        /// The user's email.
        email: String,
    },
    /// Unassign a role from a user.
    Unassign {
        /// The role's slug.
        role: String,
        /// The user's email.
        email: String,
    },
}

/// `permissions …` and `abilities …`.
#[derive(Debug, Subcommand)]
pub(crate) enum GrantableCommand {
    /// Register one.
    Define(DefineArgs),
    /// Remove one and every grant naming it.
    Undefine {
        /// The slug.
        slug: String,
    },
    /// Every one registered.
    List,
    /// Grant it to a role.
    Grant {
        /// The slug.
        slug: String,
        /// The role's slug.
        role: String,
    },
    /// Take it from a role.
    Revoke {
        /// The slug.
        slug: String,
        /// The role's slug.
        role: String,
    },
    /// Grant it to a user directly.
    Assign {
        /// The slug.
        slug: String,
        /// The user's email.
        email: String,
    },
    /// Take a direct grant from a user.
    Unassign {
        /// The slug.
        slug: String,
        /// The user's email.
        email: String,
    },
}

/// What `define` takes.
#[derive(Debug, Args)]
pub(crate) struct DefineArgs {
    /// The slug (`^[a-z][a-z0-9_:-]*$`, at most 64 bytes).
    pub(crate) slug: String,
    /// A human label (default: the slug).
    #[arg(long)]
    pub(crate) label: Option<String>,
}

/// `rbac …`.
#[derive(Debug, Subcommand)]
pub(crate) enum RbacCommand {
    /// Make roles, permissions, abilities, role grants and the listed users' roles match
    /// a TOML or YAML file; print each change.
    Apply {
        /// The file (`.toml`, `.yaml` or `.yml`).
        file: PathBuf,
        /// Print what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `keys …`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Create a service key (no owning user); prints its secret once.
    Create(CreateKeyArgs),
    /// List service keys (or a user's keys): prefix, scopes, last use, state.
    List {
        /// List this user's keys instead of the service keys.
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
    },
    /// Give a key a new secret (printed once); the old one dies after the grace period.
    Rotate {
        /// The key's id or visible prefix.
        key: String,
        /// How long the old secret keeps working, in seconds.
        #[arg(long, default_value_t = 0, value_name = "SECONDS")]
        grace: u32,
    },
    /// Revoke a key.
    Revoke {
        /// The key's id or visible prefix.
        key: String,
        /// Why (kept with the key).
        #[arg(long)]
        reason: String,
    },
}

/// What `keys create` takes.
#[derive(Debug, Args)]
pub(crate) struct CreateKeyArgs {
    /// A human name.
    #[arg(long)]
    pub(crate) name: String,
    /// A scope: a registered ability. Repeat for several.
    #[arg(long = "scope", value_name = "ABILITY")]
    pub(crate) scopes: Vec<String>,
    /// The key type.
    #[arg(long = "type", value_enum, default_value_t = KeyTypeArg::Secret)]
    pub(crate) key_type: KeyTypeArg,
    /// Live or test.
    #[arg(long = "env", value_enum, default_value_t = EnvArg::Live)]
    pub(crate) environment: EnvArg,
    /// A description.
    #[arg(long)]
    pub(crate) description: Option<String>,
    /// An address or CIDR range allowed to use the key. Repeat for several.
    #[arg(long = "allow-ip", value_name = "CIDR")]
    pub(crate) allowed_ips: Vec<String>,
    /// When the key dies, RFC 3339 (`2030-01-01T00:00:00Z`).
    #[arg(long, value_name = "TIME")]
    pub(crate) expires_at: Option<String>,
}

/// A key type named on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum KeyTypeArg {
    /// `pk_…`.
    Publishable,
    /// `sk_…`.
    Secret,
    /// `rk_…`.
    Restricted,
}

/// An environment named on the command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum EnvArg {
    /// `…_live_…`.
    Live,
    /// `…_test_…`.
    Test,
}

/// `users …`.
#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Show a user (never its password hash), its roles, grants, sessions and keys.
    Show {
        /// The user's email.
        email: String,
    },
    /// Revoke every session and refresh token of a user.
    Revoke {
        /// The user's email.
        email: String,
        /// Revoke the user's API keys too, with this reason.
        #[arg(long, value_name = "REASON")]
        keys: Option<String>,
    },
    /// Delete a user and everything it owns.
    Delete {
        /// The user's email.
        email: String,
        /// Required: confirms the deletion.
        #[arg(long)]
        yes: bool,
    },
}
