//! `purge`: expired rows, counted per table.

use std::collections::BTreeMap;

use authkit::Auth;
use authkit_schema::{Table, TableNames};
use serde::Serialize;

use crate::fail::Failure;
use crate::output::{Out, table};

/// Rows removed, per table name as configured.
#[derive(Debug, Serialize)]
struct PurgeView {
    tables: BTreeMap<String, u64>,
    total: u64,
}

/// Deletes every expired row and reports how many went from each table.
pub(crate) async fn run(auth: &Auth, names: &TableNames, out: Out) -> Result<(), Failure> {
    let report = auth.purge_expired().await?;
    let counts = [
        (Table::Sessions, report.sessions),
        (Table::RefreshTokens, report.refresh_tokens),
        (Table::OneTimeTokens, report.one_time_tokens),
        (Table::ApiKeys, report.api_keys),
    ];
    let view = PurgeView {
        tables: counts
            .iter()
            .map(|(t, n)| (names.get(*t).to_owned(), *n))
            .collect(),
        total: report.total(),
    };
    out.show(&view, |_| {
        let mut rows: Vec<Vec<String>> = counts
            .iter()
            .map(|(t, n)| vec![names.get(*t).to_owned(), n.to_string()])
            .collect();
        rows.push(vec!["total".to_owned(), report.total().to_string()]);
        table(&["TABLE", "ROWS REMOVED"], &rows)
    })
}
