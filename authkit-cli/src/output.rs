//! Printing: aligned text for people, JSON for scripts.

use std::io::Write;

use authkit::Timestamp;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use crate::fail::{Code, Failure};

/// Where results go, and in which form.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Out {
    /// `--json`.
    pub(crate) json: bool,
}

impl Out {
    /// Prints `value` as JSON with `--json`, else the text `text` renders.
    pub(crate) fn show<T: Serialize>(
        &self,
        value: &T,
        text: impl FnOnce(&T) -> String,
    ) -> Result<(), Failure> {
        if self.json {
            let doc = serde_json::to_string_pretty(value)
                .map_err(|e| Failure::new(Code::Failed, format!("cannot write JSON: {e}")))?;
            emit(&doc);
        } else {
            emit(&text(value));
        }
        Ok(())
    }
}

/// What a command that changes one thing reports.
#[derive(Debug, Serialize)]
struct Done<'a> {
    changed: bool,
    message: &'a str,
}

impl Out {
    /// Reports a change: `message` as text, or `{"changed": …, "message": …}` with
    /// `--json`. `changed` is false when it was already so (the message says it).
    pub(crate) fn done(&self, changed: bool, message: &str) -> Result<(), Failure> {
        self.show(&Done { changed, message }, |d| d.message.to_owned())
    }
}

/// Writes `text` and a newline to stdout. A closed pipe (`authkit … | head`) is not an
/// error worth a panic: the rest is dropped.
pub(crate) fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{}", text.trim_end_matches('\n'));
}

/// `rows` under `headers`, each column padded to its widest cell.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        padded.join("  ").trim_end().to_owned()
    };
    let mut out = vec![line(headers.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out.join("\n")
}

/// An instant as RFC 3339 (`2030-01-01T00:00:00.123456Z`).
pub(crate) fn ts(at: Timestamp) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

/// An optional instant, `-` when absent (text form).
pub(crate) fn ts_or_dash(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "-".to_owned(), ts)
}

/// A list for a text cell: comma-separated, `-` when empty.
pub(crate) fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let rows = vec![
            vec!["admin".to_owned(), "Administrator".to_owned()],
            vec!["a".to_owned(), "-".to_owned()],
        ];
        assert_eq!(
            table(&["SLUG", "LABEL"], &rows),
            "SLUG   LABEL\nadmin  Administrator\na      -"
        );
    }
}
