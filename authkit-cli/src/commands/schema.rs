//! `migrate`, `schema verify`, `schema print`.

use authkit_schema::Dialect;
use serde::Serialize;

use crate::cli::{DbArgs, DialectArg};
use crate::db::{Db, table_names};
use crate::fail::{Code, Failure};
use crate::output::{Out, emit};

/// What `schema verify` found.
#[derive(Debug, Serialize)]
struct Verdict {
    ok: bool,
    problems: Vec<String>,
}

/// `migrate`: applies pending migrations, then checks the result.
pub(crate) async fn migrate(args: &DbArgs, out: Out) -> Result<(), Failure> {
    let db = Db::connect(args, true).await?;
    db.migrate().await?;
    let problems = db.problems().await?;
    if !problems.is_empty() {
        return Err(Failure::new(
            Code::Drift,
            crate::fail::drift_message(&problems),
        ));
    }
    let verdict = Verdict { ok: true, problems };
    out.show(&verdict, |_| {
        "migrations applied; schema verified".to_owned()
    })
}

/// `schema verify`: each problem on stdout, and exit 4 when there is any.
pub(crate) async fn verify(args: &DbArgs, out: Out) -> Result<(), Failure> {
    let db = Db::connect(args, false).await?;
    let problems = db.problems().await?;
    let verdict = Verdict {
        ok: problems.is_empty(),
        problems,
    };
    out.show(&verdict, |v| {
        if v.ok {
            "schema ok".to_owned()
        } else {
            v.problems.join("\n")
        }
    })?;
    if verdict.ok {
        return Ok(());
    }
    let n = verdict.problems.len();
    let message = format!(
        "schema drift: {n} problem{} (listed on stdout)",
        if n == 1 { "" } else { "s" }
    );
    Err(Failure::new(Code::Drift, message))
}

/// `schema print <dialect>`: the current schema's DDL for the table options.
pub(crate) fn print(args: &DbArgs, dialect: DialectArg) -> Result<(), Failure> {
    let dialect = match dialect {
        DialectArg::Postgres => Dialect::Postgres,
        DialectArg::Mysql => Dialect::MySql,
        DialectArg::Sqlite => Dialect::Sqlite,
    };
    let names = table_names(args)?;
    if names.check_dialect(dialect).is_err() {
        return Err(Failure::usage(
            "--pg-schema applies to the postgres dialect only",
        ));
    }
    let template = authkit_schema::schema_template(dialect);
    emit(&authkit_schema::render(&template, dialect, &names));
    Ok(())
}
