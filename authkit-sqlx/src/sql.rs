//! Statement text: templates written beside their binds, rendered once per store.
//!
//! A statement is a [`Stmt`]: a `static` holding its template, declared in the function
//! that binds it. Templates use `?` placeholders and the schema's table placeholders
//! (`{users}`, see [`authkit_schema::render()`]); rendering quotes (and on PostgreSQL
//! with a namespace, qualifies) the names, fills the dialect markers `{for_update}`,
//! `{skip_locked}`, `{insert_ignore}`, `{on_conflict_nothing}`, and numbers the `?`
//! placeholders for PostgreSQL (`$1`, `$2`, …). Every `?` is bound separately, in
//! order, so one bind list serves every dialect.
//!
//! Each store keeps its rendered statements in [`Statements`]: the first use of a
//! `Stmt` renders it, every later use is a lookup by the `Stmt`'s slot (two atomic
//! loads) and a reference-count increment.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use authkit_schema::{Dialect, TableNames};
use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

/// Slots per store. Every `Stmt` of the crate gets one, across all three databases
/// (about 70 each); one past the end is rendered at every use instead (correct, slower).
const SLOTS: usize = 256;

/// One statement's template, and its slot in every store's cache.
#[derive(Debug)]
pub(crate) struct Stmt {
    template: &'static str,
    /// 0 until first used, then the slot + 1.
    slot: AtomicUsize,
}

impl Stmt {
    pub(crate) const fn new(template: &'static str) -> Self {
        Stmt {
            template,
            slot: AtomicUsize::new(0),
        }
    }

    /// The slot, assigned at first use. Two first uses at once may both draw a number;
    /// one wins, the other number is never used.
    fn slot(&self) -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(1);
        let slot = self.slot.load(Ordering::Relaxed);
        if slot != 0 {
            return slot - 1;
        }
        let drawn = NEXT.fetch_add(1, Ordering::Relaxed);
        match self
            .slot
            .compare_exchange(0, drawn, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => drawn - 1,
            Err(won) => won - 1,
        }
    }
}

/// The statements of one store: its dialect and names, and the rendered text of every
/// [`Stmt`] it has run.
pub(crate) struct Statements {
    dialect: Dialect,
    names: TableNames,
    cache: Box<[OnceLock<SqlStr>]>,
}

impl std::fmt::Debug for Statements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statements")
            .field("dialect", &self.dialect)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl Statements {
    pub(crate) fn new(dialect: Dialect, names: TableNames) -> Self {
        Statements {
            dialect,
            names,
            cache: (0..SLOTS).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The table names the statements use.
    pub(crate) fn names(&self) -> &TableNames {
        &self.names
    }

    /// `stmt` rendered for this store (cached).
    pub(crate) fn get(&self, stmt: &Stmt) -> SqlStr {
        match self.cache.get(stmt.slot()) {
            Some(cell) => cell.get_or_init(|| self.sql(stmt.template)).clone(),
            None => self.sql(stmt.template),
        }
    }

    /// A template rendered now, for the rare statement whose text depends on its
    /// arguments (a list of `?` as long as the list bound).
    pub(crate) fn sql(&self, template: &str) -> SqlStr {
        // Shared (`Arc<str>`): every execution clones the statement, which is then a
        // reference count, not a copy.
        AssertSqlSafe(std::sync::Arc::<str>::from(render(
            template,
            self.dialect,
            &self.names,
        )))
        .into_sql_str()
    }
}

/// Renders a statement template (see the [module docs](self)).
pub(crate) fn render(template: &str, dialect: Dialect, names: &TableNames) -> String {
    let (for_update, skip_locked, insert, on_conflict) = match dialect {
        Dialect::Postgres => (
            " FOR UPDATE",
            " FOR UPDATE SKIP LOCKED",
            "INSERT INTO",
            " ON CONFLICT DO NOTHING",
        ),
        Dialect::MySql => (" FOR UPDATE", "", "INSERT IGNORE INTO", ""),
        Dialect::Sqlite => ("", "", "INSERT INTO", " ON CONFLICT DO NOTHING"),
    };
    let s = template
        .replace("{for_update}", for_update)
        .replace("{skip_locked}", skip_locked)
        .replace("{insert_ignore}", insert)
        .replace("{on_conflict_nothing}", on_conflict);
    let s = authkit_schema::render(&s, dialect, names);
    if dialect != Dialect::Postgres {
        return s;
    }
    authkit_schema::number_binds(&s)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod tests {
    use super::*;

    const SLIDE: &str = "UPDATE {sessions} SET idle_expires_at = ?, last_seen_at = ? \
                         WHERE id = ? AND idle_expires_at < ? AND idle_expires_at > ?";

    #[test]
    fn numbers_placeholders_for_postgres_only() {
        assert_eq!(
            render(SLIDE, Dialect::Postgres, &TableNames::default()),
            "UPDATE \"authkit_sessions\" SET idle_expires_at = $1, last_seen_at = $2 \
             WHERE id = $3 AND idle_expires_at < $4 AND idle_expires_at > $5"
        );
        assert!(
            render(SLIDE, Dialect::MySql, &TableNames::default())
                .starts_with("UPDATE `authkit_sessions` SET idle_expires_at = ?,")
        );
    }

    #[test]
    fn qualifies_names_in_a_namespace() {
        let names = TableNames::default().in_namespace("auth").unwrap();
        assert_eq!(
            render(
                "SELECT 1 FROM {users} WHERE id = ?{for_update}",
                Dialect::Postgres,
                &names
            ),
            "SELECT 1 FROM \"auth\".\"authkit_users\" WHERE id = $1 FOR UPDATE"
        );
    }

    /// Every `Stmt` in the store files, counted once per database that mounts them, fits
    /// the slots (past them, statements are still right, only rendered at every use).
    #[test]
    fn the_statements_fit_the_slots() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
        let mut statics = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            statics += text.matches("Stmt::new(").count();
        }
        assert!(statics > 40, "counted {statics}");
        assert!(
            3 * statics + 8 <= SLOTS,
            "{statics} statements in src/store, 3 databases: raise SLOTS"
        );
    }

    #[test]
    fn caches_per_store() {
        static STMT: Stmt = Stmt::new("SELECT 1 FROM {users}");
        let a = Statements::new(Dialect::Sqlite, TableNames::default());
        let b = Statements::new(Dialect::Sqlite, TableNames::with_prefix("b_").unwrap());
        assert_eq!(a.get(&STMT).as_str(), "SELECT 1 FROM \"authkit_users\"");
        assert_eq!(b.get(&STMT).as_str(), "SELECT 1 FROM \"b_users\"");
        assert_eq!(a.get(&STMT).as_str(), "SELECT 1 FROM \"authkit_users\"");
        assert_eq!(STMT.slot(), STMT.slot());
    }
}
