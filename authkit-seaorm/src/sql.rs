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
    authkit_schema::number_binds(&sql)
}
