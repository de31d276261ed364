//! Raw statement text, for the few atomic steps the query builder cannot express.

use authkit_schema::TableNames;
use sea_orm::DbBackend;

/// A template with `?` placeholders and the schema's table placeholders (`{api_keys}`)
/// rendered for `backend`: names quoted by [`authkit_schema::render()`], and the `?`
/// numbered (`$1`, `$2`, …) on PostgreSQL. Every `?` is bound separately, in order.
pub(crate) fn render(template: &str, backend: DbBackend, names: &TableNames) -> String {
    let sql = authkit_schema::render(template, crate::migrate::dialect(backend), names);
    if backend != DbBackend::Postgres {
        return sql;
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}
