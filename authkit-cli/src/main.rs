//! `authkit`: operate an authkit database from a shell or a deploy script.
//!
//! Every command works on the database `--database-url` (or `DATABASE_URL`) names:
//! PostgreSQL, MySQL/MariaDB or a SQLite file, with the table options of
//! `authkit-sqlx` (`--table-prefix`, and on PostgreSQL `--pg-schema`). The rules all
//! live in `authkit`: each command calls `Auth` (or the store and schema APIs) and
//! formats the result. Listings and reports print JSON with `--json`. A failure prints
//! one line on stderr, `authkit: <what was wrong>`, and exits with a stable code (see
//! [`fail::Code`] and `authkit --help`).

mod cli;
mod commands;
mod db;
mod fail;
mod output;

use std::process::ExitCode;

use authkit::GrantKind;
use clap::Parser;

use crate::cli::{Cli, Command, RbacCommand, SchemaCommand};
use crate::commands::{apply, keys, purge, rbac, schema, users};
use crate::db::Db;
use crate::fail::{Code, Failure};
use crate::output::Out;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage(err),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let result = match runtime {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => Err(Failure::new(Code::Failed, format!("cannot start: {e}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("authkit: {}", failure.line());
            ExitCode::from(failure.code as u8)
        }
    }
}

/// Help and version go to stdout as clap prints them; a bad command line is one line on
/// stderr, like every other failure, and exit code 2.
fn usage(err: clap::Error) -> ExitCode {
    if !err.use_stderr() {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let text = err.render().to_string();
    let what = text.split("\n\nUsage:").next().unwrap_or(&text);
    let what = what
        .split("\n\nFor more information")
        .next()
        .unwrap_or(what);
    let what = what.strip_prefix("error: ").unwrap_or(what);
    let line = what.split_whitespace().collect::<Vec<_>>().join(" ");
    eprintln!("authkit: {line} (see `authkit --help`)");
    ExitCode::from(Code::Usage as u8)
}

/// Runs one command.
async fn run(cli: Cli) -> Result<(), Failure> {
    let out = Out { json: cli.json };
    let command = match cli.command {
        Command::Migrate => return schema::migrate(&cli.db, out).await,
        Command::Schema(SchemaCommand::Verify) => return schema::verify(&cli.db, out).await,
        Command::Schema(SchemaCommand::Print { dialect }) => {
            return schema::print(&cli.db, dialect);
        }
        other => other,
    };
    let db = Db::connect(&cli.db, false).await?;
    let auth = db.auth().await?;
    match command {
        Command::Roles(c) => rbac::roles(&auth, c, out).await,
        Command::Permissions(c) => rbac::grantables(&auth, GrantKind::Permission, c, out).await,
        Command::Abilities(c) => rbac::grantables(&auth, GrantKind::Ability, c, out).await,
        Command::Rbac(RbacCommand::Apply { file, dry_run }) => {
            apply::run(&auth, &file, dry_run, out).await
        }
        Command::Keys(c) => keys::run(&auth, c, out).await,
        Command::Users(c) => users::run(&auth, c, out).await,
        Command::Purge => purge::run(&auth, db.tables(), out).await,
        Command::Migrate | Command::Schema(_) => Ok(()),
    }
}
