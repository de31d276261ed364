//! SQL text: the reference schema and every statement, generated once per store from the
//! table names, in the dialect of its database.
//!
//! Statements are written once with `?` placeholders and `{table}` names; rendering
//! quotes the names and, for PostgreSQL, numbers the placeholders (`$1`, `$2`, …). Every
//! `?` is bound separately, in order, so one bind list serves every dialect.

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use crate::names::{Table, TableNames};

/// The three SQL dialects.
// With one database feature, the other dialects' variants are never built.
#[cfg_attr(
    not(all(feature = "postgres", feature = "sqlite", feature = "mysql")),
    allow(dead_code)
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    Postgres,
    Sqlite,
    MySql,
}

/// A column's logical type, mapped to a concrete type per dialect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// A UUID: `uuid`, `BINARY(16)`, `BLOB`.
    Uuid,
    /// A SHA-256: `bytea`, `BINARY(32)`, `BLOB`.
    Hash,
    /// A UTC instant to the microsecond: `timestamptz`, `DATETIME(6)` (UTC),
    /// `INTEGER` (Unix microseconds).
    Ts,
    /// Unbounded text: `text`, `TEXT`/`LONGTEXT`, `TEXT`.
    Text,
    /// Short text that is indexed or compared: `text`, `VARCHAR(n)`, `TEXT`.
    Short(u16),
    /// A counter: `bigint`, `BIGINT`, `INTEGER`.
    Int,
    /// Opaque bytes of any length: `bytea`, `LONGBLOB`, `BLOB`.
    Bytes,
}

impl Ty {
    fn ddl(self, dialect: Dialect) -> String {
        match (dialect, self) {
            (Dialect::Postgres, Ty::Uuid) => "uuid".into(),
            (Dialect::Postgres, Ty::Hash | Ty::Bytes) => "bytea".into(),
            (Dialect::Postgres, Ty::Ts) => "timestamptz".into(),
            (Dialect::Postgres, Ty::Text | Ty::Short(_)) => "text".into(),
            (Dialect::Postgres, Ty::Int) => "bigint".into(),
            (Dialect::MySql, Ty::Uuid) => "BINARY(16)".into(),
            (Dialect::MySql, Ty::Hash) => "BINARY(32)".into(),
            (Dialect::MySql, Ty::Ts) => "DATETIME(6)".into(),
            (Dialect::MySql, Ty::Text) => "TEXT".into(),
            (Dialect::MySql, Ty::Short(n)) => format!("VARCHAR({n})"),
            (Dialect::MySql, Ty::Int) => "BIGINT".into(),
            (Dialect::MySql, Ty::Bytes) => "LONGBLOB".into(),
            (Dialect::Sqlite, Ty::Uuid | Ty::Hash | Ty::Bytes) => "BLOB".into(),
            (Dialect::Sqlite, Ty::Ts | Ty::Int) => "INTEGER".into(),
            (Dialect::Sqlite, Ty::Text | Ty::Short(_)) => "TEXT".into(),
        }
    }

    /// Whether a live column of this type matches: `data_type` as the database's
    /// catalogue spells it (lowercased), `column_type` the full type where it has one.
    pub(crate) fn matches(self, dialect: Dialect, data_type: &str, column_type: &str) -> bool {
        let data_type = data_type.to_ascii_lowercase();
        let column_type = column_type.to_ascii_lowercase();
        match dialect {
            Dialect::Postgres => match self {
                Ty::Uuid => data_type == "uuid",
                Ty::Hash | Ty::Bytes => data_type == "bytea",
                Ty::Ts => data_type == "timestamp with time zone",
                Ty::Text | Ty::Short(_) => data_type == "text" || data_type == "character varying",
                Ty::Int => data_type == "bigint",
            },
            Dialect::MySql => match self {
                Ty::Uuid => column_type == "binary(16)",
                Ty::Hash => column_type == "binary(32)",
                Ty::Ts => column_type == "datetime(6)",
                Ty::Text | Ty::Short(_) => {
                    matches!(
                        data_type.as_str(),
                        "varchar" | "text" | "mediumtext" | "longtext"
                    )
                }
                Ty::Int => data_type == "bigint",
                Ty::Bytes => matches!(data_type.as_str(), "mediumblob" | "longblob"),
            },
            Dialect::Sqlite => data_type == self.ddl(dialect).to_ascii_lowercase(),
        }
    }

    /// The type as the verifier names it in a drift report.
    pub(crate) fn describe(self, dialect: Dialect) -> String {
        match (dialect, self) {
            (Dialect::Postgres, Ty::Text | Ty::Short(_)) => "text or varchar".into(),
            (Dialect::MySql, Ty::Text | Ty::Short(_)) => "varchar or text".into(),
            (Dialect::MySql, Ty::Bytes) => "mediumblob or longblob".into(),
            _ => self.ddl(dialect),
        }
    }
}

/// One column of the reference schema.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Col {
    pub(crate) name: &'static str,
    pub(crate) ty: Ty,
    pub(crate) nullable: bool,
}

const fn col(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        nullable: false,
    }
}

const fn null(name: &'static str, ty: Ty) -> Col {
    Col {
        name,
        ty,
        nullable: true,
    }
}

/// The columns of each table, in order. The verifier checks exactly these.
pub(crate) fn columns(table: Table) -> &'static [Col] {
    use Ty::*;
    match table {
        Table::Users => {
            const C: &[Col] = &[
                col("id", Uuid),
                col("email", Short(254)),
                null("password_hash", Text),
                null("email_verified_at", Ts),
                col("created_at", Ts),
                col("updated_at", Ts),
            ];
            C
        }
        Table::Sessions => {
            const C: &[Col] = &[
                col("id", Uuid),
                col("user_id", Uuid),
                col("token_hash", Hash),
                col("created_at", Ts),
                col("last_seen_at", Ts),
                col("idle_expires_at", Ts),
                col("absolute_expires_at", Ts),
                null("payload", Bytes),
            ];
            C
        }
        Table::RefreshTokens => {
            const C: &[Col] = &[
                col("id", Uuid),
                col("family_id", Uuid),
                col("user_id", Uuid),
                col("token_hash", Hash),
                col("audience", Short(255)),
                null("profile", Short(255)),
                col("chain_started_at", Ts),
                col("created_at", Ts),
                col("expires_at", Ts),
                null("consumed_at", Ts),
                col("rotations", Int),
                null("revoked_at", Ts),
            ];
            C
        }
        Table::OneTimeTokens => {
            const C: &[Col] = &[
                col("id", Uuid),
                col("user_id", Uuid),
                col("purpose", Short(32)),
                col("token_hash", Hash),
                col("created_at", Ts),
                col("expires_at", Ts),
                null("consumed_at", Ts),
                col("failed_attempts", Int),
            ];
            C
        }
        Table::ApiKeys => {
            const C: &[Col] = &[
                col("id", Uuid),
                col("prefix", Short(64)),
                col("key_hash", Hash),
                col("key_type", Short(8)),
                col("environment", Short(8)),
                null("owner_id", Uuid),
                null("organization_id", Short(255)),
                col("name", Text),
                null("description", Text),
                col("scopes", Text),
                col("allowed_ips", Text),
                col("metadata", Text),
                col("created_at", Ts),
                null("expires_at", Ts),
                null("revoked_at", Ts),
                null("revoked_reason", Text),
                col("usage_count", Int),
                null("last_used_at", Ts),
                null("last_used_ip", Short(64)),
            ];
            C
        }
        Table::RbacItems => {
            const C: &[Col] = &[
                col("id", Uuid),
                col("kind", Short(16)),
                col("slug", Short(64)),
                col("label", Text),
            ];
            C
        }
        Table::RoleGrants => {
            const C: &[Col] = &[col("role_id", Uuid), col("item_id", Uuid)];
            C
        }
        Table::UserRoles => {
            const C: &[Col] = &[col("user_id", Uuid), col("role_id", Uuid)];
            C
        }
        Table::UserGrants => {
            const C: &[Col] = &[col("user_id", Uuid), col("item_id", Uuid)];
            C
        }
        // Owned by sqlx's migrator; not verified.
        Table::Migrations => &[],
    }
}

/// Constraints and indexes of each table, as templates (`{t}` is the table itself).
/// Inline constraints go inside `CREATE TABLE`; indexes are `(suffix, columns)`.
struct Extras {
    inline: &'static [&'static str],
    indexes: &'static [(&'static str, &'static str)],
}

fn extras(table: Table) -> Extras {
    match table {
        Table::Users => Extras {
            inline: &["PRIMARY KEY (id)"],
            indexes: &[],
        },
        Table::Sessions => Extras {
            inline: &[
                "PRIMARY KEY (id)",
                "UNIQUE (token_hash)",
                "FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE",
            ],
            indexes: &[
                ("user_idx", "user_id"),
                ("idle_idx", "idle_expires_at"),
                ("absolute_idx", "absolute_expires_at"),
            ],
        },
        Table::RefreshTokens => Extras {
            inline: &[
                "PRIMARY KEY (id)",
                "UNIQUE (token_hash)",
                "FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE",
            ],
            indexes: &[
                ("family_idx", "family_id"),
                ("user_idx", "user_id"),
                ("expires_idx", "expires_at"),
            ],
        },
        Table::OneTimeTokens => Extras {
            inline: &[
                "PRIMARY KEY (id)",
                "UNIQUE (token_hash)",
                "FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE",
            ],
            indexes: &[
                ("user_idx", "user_id, purpose, created_at"),
                ("expires_idx", "expires_at"),
                ("consumed_idx", "consumed_at"),
            ],
        },
        Table::ApiKeys => Extras {
            inline: &[
                "PRIMARY KEY (id)",
                "UNIQUE (key_hash)",
                "FOREIGN KEY (owner_id) REFERENCES {users} (id) ON DELETE CASCADE",
            ],
            indexes: &[
                ("owner_idx", "owner_id, created_at"),
                ("expires_idx", "expires_at"),
            ],
        },
        Table::RbacItems => Extras {
            inline: &["PRIMARY KEY (id)", "UNIQUE (kind, slug)"],
            indexes: &[],
        },
        Table::RoleGrants => Extras {
            inline: &[
                "PRIMARY KEY (role_id, item_id)",
                "FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE",
                "FOREIGN KEY (item_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE",
            ],
            indexes: &[("item_idx", "item_id")],
        },
        Table::UserRoles => Extras {
            inline: &[
                "PRIMARY KEY (user_id, role_id)",
                "FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE",
                "FOREIGN KEY (role_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE",
            ],
            indexes: &[("role_idx", "role_id")],
        },
        Table::UserGrants => Extras {
            inline: &[
                "PRIMARY KEY (user_id, item_id)",
                "FOREIGN KEY (user_id) REFERENCES {users} (id) ON DELETE CASCADE",
                "FOREIGN KEY (item_id) REFERENCES {rbac_items} (id) ON DELETE CASCADE",
            ],
            indexes: &[("item_idx", "item_id")],
        },
        Table::Migrations => Extras {
            inline: &[],
            indexes: &[],
        },
    }
}

/// Renders statement templates for one dialect and one set of table names.
#[derive(Clone, Debug)]
pub(crate) struct Renderer {
    pub(crate) dialect: Dialect,
    pub(crate) tables: TableNames,
}

impl Renderer {
    /// Quotes an identifier (already validated: lowercase letters, digits, `_`).
    pub(crate) fn quote(&self, ident: &str) -> String {
        match self.dialect {
            Dialect::MySql => format!("`{ident}`"),
            Dialect::Postgres | Dialect::Sqlite => format!("\"{ident}\""),
        }
    }

    /// Replaces `{users}`, `{sessions}`, … with quoted names, the dialect markers
    /// `{for_update}`, `{skip_locked}`, `{insert_ignore}`, `{on_conflict_nothing}`, and
    /// numbers the `?` placeholders for PostgreSQL.
    pub(crate) fn text(&self, template: &str) -> String {
        let mut s = template.to_owned();
        for table in Table::ALL {
            let key = format!("{{{}}}", table.suffix());
            if s.contains(&key) {
                s = s.replace(&key, &self.quote(self.tables.get(table)));
            }
        }
        let (for_update, skip_locked, insert, on_conflict) = match self.dialect {
            Dialect::Postgres => (
                " FOR UPDATE",
                " FOR UPDATE SKIP LOCKED",
                "INSERT INTO",
                " ON CONFLICT DO NOTHING",
            ),
            Dialect::MySql => (" FOR UPDATE", "", "INSERT IGNORE INTO", ""),
            Dialect::Sqlite => ("", "", "INSERT INTO", " ON CONFLICT DO NOTHING"),
        };
        s = s
            .replace("{for_update}", for_update)
            .replace("{skip_locked}", skip_locked)
            .replace("{insert_ignore}", insert)
            .replace("{on_conflict_nothing}", on_conflict);
        if self.dialect == Dialect::Postgres {
            let mut out = String::with_capacity(s.len() + 16);
            let mut n = 0;
            for c in s.chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            s = out;
        }
        s
    }

    /// [`text`](Self::text) as a statement sqlx accepts.
    /// Shared (`Arc<str>`): every execution clones the statement, which is then a
    /// reference count, not a copy.
    pub(crate) fn sql(&self, template: &str) -> SqlStr {
        AssertSqlSafe(std::sync::Arc::<str>::from(self.text(template))).into_sql_str()
    }

    /// `INSERT INTO {table} (cols) VALUES (?, …)` for a comma-separated column list.
    pub(crate) fn insert(&self, table: &str, cols: &str) -> SqlStr {
        let n = cols.split(',').count();
        let marks = vec!["?"; n].join(", ");
        self.sql(&format!(
            "INSERT INTO {{{table}}} ({cols}) VALUES ({marks})"
        ))
    }

    /// A batched delete of at most `?` (bound last) rows of `table` matching `cond`.
    pub(crate) fn purge(&self, table: &str, cond: &str) -> SqlStr {
        self.sql(&match self.dialect {
            Dialect::MySql => format!("DELETE FROM {{{table}}} WHERE {cond} LIMIT ?"),
            Dialect::Postgres | Dialect::Sqlite => format!(
                "DELETE FROM {{{table}}} WHERE id IN \
                 (SELECT id FROM {{{table}}} WHERE {cond} LIMIT ?{{skip_locked}})"
            ),
        })
    }

    fn index_name(&self, table: Table, suffix: &str) -> String {
        self.quote(&format!("{}_{suffix}", self.tables.get(table)))
    }

    /// The whole reference schema (migration 1), as one script.
    pub(crate) fn schema(&self) -> String {
        let mut out = String::new();
        for table in Table::ALL {
            if table == Table::Migrations {
                continue;
            }
            let mut lines: Vec<String> = columns(table)
                .iter()
                .map(|c| {
                    let not_null = if c.nullable { "" } else { " NOT NULL" };
                    let default = if c.ty == Ty::Int { " DEFAULT 0" } else { "" };
                    format!(
                        "    {} {}{not_null}{default}",
                        c.name,
                        c.ty.ddl(self.dialect)
                    )
                })
                .collect();
            if table == Table::Users && self.dialect == Dialect::MySql {
                // MariaDB has no index on an expression: a stored generated column instead.
                lines.push("    email_lower VARCHAR(254) AS (LOWER(email)) STORED".into());
            }
            let extra = extras(table);
            for constraint in extra.inline {
                lines.push(format!("    {constraint}"));
            }
            if table == Table::Users && self.dialect == Dialect::MySql {
                lines.push(format!(
                    "    UNIQUE KEY {} (email_lower)",
                    self.index_name(table, "email_key")
                ));
            }
            let options = match self.dialect {
                Dialect::MySql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                Dialect::Postgres | Dialect::Sqlite => "",
            };
            out.push_str(&format!(
                "CREATE TABLE {{{}}} (\n{}\n){options};\n",
                table.suffix(),
                lines.join(",\n")
            ));
            if table == Table::Users && self.dialect != Dialect::MySql {
                out.push_str(&format!(
                    "CREATE UNIQUE INDEX {} ON {{users}} (lower(email));\n",
                    self.index_name(table, "email_key")
                ));
            }
            for (suffix, cols) in extra.indexes {
                out.push_str(&format!(
                    "CREATE INDEX {} ON {{{}}} ({cols});\n",
                    self.index_name(table, suffix),
                    table.suffix()
                ));
            }
            out.push('\n');
        }
        self.text(&out)
    }
}

pub(crate) const USER_COLS: &str =
    "id, email, password_hash, email_verified_at, created_at, updated_at";
pub(crate) const SESSION_COLS: &str = "id, user_id, token_hash, created_at, last_seen_at, \
     idle_expires_at, absolute_expires_at, payload";
pub(crate) const REFRESH_COLS: &str = "id, family_id, user_id, token_hash, audience, profile, \
     chain_started_at, created_at, expires_at, consumed_at, rotations, revoked_at";
pub(crate) const ONE_TIME_COLS: &str =
    "id, user_id, purpose, token_hash, created_at, expires_at, consumed_at, failed_attempts";
pub(crate) const KEY_COLS: &str = "id, prefix, key_hash, key_type, environment, owner_id, \
     organization_id, name, description, scopes, allowed_ips, metadata, created_at, \
     expires_at, revoked_at, revoked_reason, usage_count, last_used_at, last_used_ip";

const LIVE: &str = "idle_expires_at > ? AND absolute_expires_at > ?";

/// Every statement a store runs, rendered once at start-up.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) render: Renderer,

    pub(crate) user_insert: SqlStr,
    pub(crate) user_by_id: SqlStr,
    pub(crate) user_by_email: SqlStr,
    pub(crate) user_exists: SqlStr,
    pub(crate) user_lock: SqlStr,
    pub(crate) user_set_password: SqlStr,
    pub(crate) user_verify_email: SqlStr,
    pub(crate) user_delete: SqlStr,

    pub(crate) session_insert: SqlStr,
    pub(crate) session_by_hash: SqlStr,
    pub(crate) session_slide: SqlStr,
    pub(crate) session_by_id: SqlStr,
    pub(crate) session_set_payload: SqlStr,
    pub(crate) session_delete: SqlStr,
    pub(crate) session_delete_user: SqlStr,
    pub(crate) session_delete_user_except: SqlStr,
    pub(crate) session_list: SqlStr,
    pub(crate) session_purge: SqlStr,

    pub(crate) refresh_insert: SqlStr,
    pub(crate) refresh_lock: SqlStr,
    pub(crate) refresh_consume: SqlStr,
    /// PostgreSQL only: consume the presented token and insert its successor in one
    /// statement.
    pub(crate) refresh_rotate_pg: SqlStr,
    pub(crate) refresh_revoke_family: SqlStr,
    pub(crate) refresh_revoke_user: SqlStr,
    pub(crate) refresh_purge: SqlStr,

    pub(crate) one_time_insert: SqlStr,
    pub(crate) one_time_delete_unconsumed: SqlStr,
    /// PostgreSQL and SQLite: the conditional update that consumes, returning the row.
    pub(crate) one_time_consume_returning: SqlStr,
    /// MySQL: the conditional update that consumes, then `one_time_by_hash`.
    pub(crate) one_time_consume: SqlStr,
    pub(crate) one_time_by_hash: SqlStr,
    pub(crate) otp_lock_newest: SqlStr,
    pub(crate) otp_accept: SqlStr,
    pub(crate) otp_fail: SqlStr,
    pub(crate) one_time_purge: SqlStr,

    pub(crate) key_insert: SqlStr,
    pub(crate) key_by_hash: SqlStr,
    pub(crate) key_by_id: SqlStr,
    pub(crate) key_lock: SqlStr,
    pub(crate) key_list_owner: SqlStr,
    pub(crate) key_list_service: SqlStr,
    pub(crate) key_update: SqlStr,
    pub(crate) key_revoke: SqlStr,
    pub(crate) key_exists: SqlStr,
    pub(crate) key_cap_expiry: SqlStr,
    pub(crate) key_usage: SqlStr,
    pub(crate) key_delete: SqlStr,
    pub(crate) key_purge: SqlStr,

    pub(crate) item_insert: SqlStr,
    pub(crate) item_delete: SqlStr,
    pub(crate) item_list: SqlStr,
    pub(crate) item_exists: SqlStr,
    pub(crate) role_grant: SqlStr,
    pub(crate) role_revoke: SqlStr,
    pub(crate) role_grants: SqlStr,
    pub(crate) role_assign: SqlStr,
    pub(crate) role_unassign: SqlStr,
    pub(crate) user_grant: SqlStr,
    pub(crate) user_revoke: SqlStr,
    pub(crate) user_grants: SqlStr,
}

impl Statements {
    pub(crate) fn new(dialect: Dialect, tables: TableNames) -> Self {
        let r = Renderer { dialect, tables };
        let mysql = dialect == Dialect::MySql;
        let email_key = if mysql { "email_lower" } else { "lower(email)" };
        let lower = if mysql { "LOWER(?)" } else { "lower(?)" };
        Statements {
            user_insert: r.insert("users", USER_COLS),
            user_by_id: r.sql(&format!("SELECT {USER_COLS} FROM {{users}} WHERE id = ?")),
            user_by_email: r.sql(&format!(
                "SELECT {USER_COLS} FROM {{users}} WHERE {email_key} = {lower}"
            )),
            user_exists: r.sql("SELECT 1 FROM {users} WHERE id = ?"),
            user_lock: r.sql(&format!(
                "SELECT 1 FROM {{users}} WHERE id = ?{}",
                match dialect {
                    // Serializes against itself, not against the FOR KEY SHARE of FK checks.
                    Dialect::Postgres => " FOR NO KEY UPDATE",
                    Dialect::MySql => " FOR UPDATE",
                    Dialect::Sqlite => "",
                }
            )),
            user_set_password: r
                .sql("UPDATE {users} SET password_hash = ?, updated_at = ? WHERE id = ?"),
            user_verify_email: r.sql(
                "UPDATE {users} SET email_verified_at = ?, updated_at = ? \
                 WHERE id = ? AND email_verified_at IS NULL",
            ),
            user_delete: r.sql("DELETE FROM {users} WHERE id = ?"),

            session_insert: r.insert("sessions", SESSION_COLS),
            session_by_hash: r.sql(&format!(
                "SELECT {SESSION_COLS} FROM {{sessions}} WHERE token_hash = ? AND {LIVE}"
            )),
            session_slide: r.sql(
                "UPDATE {sessions} SET idle_expires_at = ?, last_seen_at = ? \
                 WHERE id = ? AND idle_expires_at < ? AND idle_expires_at > ?",
            ),
            session_by_id: r.sql(&format!(
                "SELECT {SESSION_COLS} FROM {{sessions}} WHERE id = ? AND {LIVE}"
            )),
            session_set_payload: r.sql(&format!(
                "UPDATE {{sessions}} SET payload = ? WHERE id = ? AND {LIVE}"
            )),
            session_delete: r.sql("DELETE FROM {sessions} WHERE id = ?"),
            session_delete_user: r.sql("DELETE FROM {sessions} WHERE user_id = ?"),
            session_delete_user_except: r
                .sql("DELETE FROM {sessions} WHERE user_id = ? AND id <> ?"),
            session_list: r.sql(&format!(
                "SELECT {SESSION_COLS} FROM {{sessions}} WHERE user_id = ? AND {LIVE} \
                 ORDER BY created_at, id"
            )),
            session_purge: r.purge(
                "sessions",
                "(idle_expires_at <= ? OR absolute_expires_at <= ?)",
            ),

            refresh_insert: r.insert("refresh_tokens", REFRESH_COLS),
            refresh_lock: r.sql(&format!(
                "SELECT {REFRESH_COLS} FROM {{refresh_tokens}} WHERE token_hash = ?{{for_update}}"
            )),
            refresh_consume: r.sql(
                "UPDATE {refresh_tokens} SET consumed_at = COALESCE(consumed_at, ?), \
                 rotations = rotations + 1 WHERE id = ?",
            ),
            refresh_rotate_pg: r.sql(&format!(
                "WITH consumed AS (UPDATE {{refresh_tokens}} \
                 SET consumed_at = COALESCE(consumed_at, ?), rotations = rotations + 1 \
                 WHERE id = ?) \
                 INSERT INTO {{refresh_tokens}} ({REFRESH_COLS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )),
            refresh_revoke_family: r.sql(
                "UPDATE {refresh_tokens} SET revoked_at = ? \
                 WHERE family_id = ? AND revoked_at IS NULL",
            ),
            refresh_revoke_user: r.sql(
                "UPDATE {refresh_tokens} SET revoked_at = ? \
                 WHERE user_id = ? AND revoked_at IS NULL",
            ),
            refresh_purge: r.purge("refresh_tokens", "expires_at <= ?"),

            one_time_insert: r.insert("one_time_tokens", ONE_TIME_COLS),
            one_time_delete_unconsumed: r.sql(
                "DELETE FROM {one_time_tokens} \
                 WHERE user_id = ? AND purpose = ? AND consumed_at IS NULL",
            ),
            one_time_consume_returning: r.sql(&format!(
                "UPDATE {{one_time_tokens}} SET consumed_at = ? \
                 WHERE token_hash = ? AND purpose = ? AND consumed_at IS NULL \
                 AND expires_at > ? RETURNING {ONE_TIME_COLS}"
            )),
            one_time_consume: r.sql(
                "UPDATE {one_time_tokens} SET consumed_at = ? \
                 WHERE token_hash = ? AND purpose = ? AND consumed_at IS NULL \
                 AND expires_at > ?",
            ),
            one_time_by_hash: r.sql(&format!(
                "SELECT {ONE_TIME_COLS} FROM {{one_time_tokens}} WHERE token_hash = ?"
            )),
            otp_lock_newest: r.sql(&format!(
                "SELECT {ONE_TIME_COLS} FROM {{one_time_tokens}} \
                 WHERE user_id = ? AND purpose = ? AND consumed_at IS NULL AND expires_at > ? \
                 ORDER BY created_at DESC, id DESC LIMIT 1{{for_update}}"
            )),
            otp_accept: r.sql("UPDATE {one_time_tokens} SET consumed_at = ? WHERE id = ?"),
            otp_fail: r.sql(
                "UPDATE {one_time_tokens} SET failed_attempts = failed_attempts + 1 \
                 WHERE id = ?",
            ),
            one_time_purge: r.purge(
                "one_time_tokens",
                "(consumed_at IS NOT NULL OR expires_at <= ?)",
            ),

            key_insert: r.insert("api_keys", KEY_COLS),
            key_by_hash: r.sql(&format!(
                "SELECT {KEY_COLS} FROM {{api_keys}} WHERE key_hash = ?"
            )),
            key_by_id: r.sql(&format!("SELECT {KEY_COLS} FROM {{api_keys}} WHERE id = ?")),
            key_lock: r.sql(&format!(
                "SELECT {KEY_COLS} FROM {{api_keys}} WHERE id = ?{{for_update}}"
            )),
            key_list_owner: r.sql(&format!(
                "SELECT {KEY_COLS} FROM {{api_keys}} WHERE owner_id = ? ORDER BY created_at, id"
            )),
            key_list_service: r.sql(&format!(
                "SELECT {KEY_COLS} FROM {{api_keys}} WHERE owner_id IS NULL \
                 ORDER BY created_at, id"
            )),
            key_update: r.sql(
                "UPDATE {api_keys} SET name = ?, description = ?, scopes = ?, \
                 expires_at = ?, allowed_ips = ?, metadata = ? WHERE id = ?",
            ),
            key_revoke: r.sql(
                "UPDATE {api_keys} SET revoked_at = ?, revoked_reason = ? \
                 WHERE id = ? AND revoked_at IS NULL",
            ),
            key_exists: r.sql("SELECT 1 FROM {api_keys} WHERE id = ?"),
            key_cap_expiry: r.sql(
                "UPDATE {api_keys} SET expires_at = CASE \
                 WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END \
                 WHERE id = ? AND revoked_at IS NULL",
            ),
            // MySQL applies SET assignments left to right, reading values already
            // assigned: the IP goes first, while `last_used_at` still holds the old value.
            key_usage: r.sql(
                "UPDATE {api_keys} SET usage_count = usage_count + ?, \
                 last_used_ip = CASE WHEN last_used_at IS NULL OR last_used_at < ? \
                 THEN ? ELSE last_used_ip END, \
                 last_used_at = CASE WHEN last_used_at IS NULL OR last_used_at < ? \
                 THEN ? ELSE last_used_at END \
                 WHERE id = ?",
            ),
            key_delete: r.sql("DELETE FROM {api_keys} WHERE id = ?"),
            key_purge: r.purge("api_keys", "expires_at <= ?"),

            item_insert: r.insert("rbac_items", "id, kind, slug, label"),
            item_delete: r.sql("DELETE FROM {rbac_items} WHERE kind = ? AND slug = ?"),
            item_list: r.sql("SELECT id, kind, slug, label FROM {rbac_items} WHERE kind = ?"),
            item_exists: r.sql("SELECT 1 FROM {rbac_items} WHERE kind = ? AND slug = ?"),
            role_grant: r.sql(
                "{insert_ignore} {role_grants} (role_id, item_id) \
                 SELECT r.id, i.id FROM {rbac_items} r, {rbac_items} i \
                 WHERE r.kind = 'role' AND r.slug = ? AND i.kind = ? AND i.slug = ?\
                 {on_conflict_nothing}",
            ),
            role_revoke: r.sql(
                "DELETE FROM {role_grants} \
                 WHERE role_id = (SELECT id FROM {rbac_items} WHERE kind = 'role' AND slug = ?) \
                 AND item_id = (SELECT id FROM {rbac_items} WHERE kind = ? AND slug = ?)",
            ),
            role_grants: r.sql(
                "SELECT i.id, i.kind, i.slug, i.label FROM {rbac_items} r \
                 LEFT JOIN {role_grants} g ON g.role_id = r.id \
                 LEFT JOIN {rbac_items} i ON i.id = g.item_id \
                 WHERE r.kind = 'role' AND r.slug = ?",
            ),
            role_assign: r.sql(
                "{insert_ignore} {user_roles} (user_id, role_id) \
                 SELECT ?, id FROM {rbac_items} WHERE kind = 'role' AND slug = ?\
                 {on_conflict_nothing}",
            ),
            role_unassign: r.sql(
                "DELETE FROM {user_roles} WHERE user_id = ? \
                 AND role_id = (SELECT id FROM {rbac_items} WHERE kind = 'role' AND slug = ?)",
            ),
            user_grant: r.sql(
                "{insert_ignore} {user_grants} (user_id, item_id) \
                 SELECT ?, id FROM {rbac_items} WHERE kind = ? AND slug = ?\
                 {on_conflict_nothing}",
            ),
            user_revoke: r.sql(
                "DELETE FROM {user_grants} WHERE user_id = ? \
                 AND item_id = (SELECT id FROM {rbac_items} WHERE kind = ? AND slug = ?)",
            ),
            user_grants: r.sql(
                "SELECT i.kind, i.slug FROM {user_grants} ug \
                 JOIN {rbac_items} i ON i.id = ug.item_id WHERE ug.user_id = ? \
                 UNION \
                 SELECT i.kind, i.slug FROM {user_roles} ur \
                 JOIN {role_grants} g ON g.role_id = ur.role_id \
                 JOIN {rbac_items} i ON i.id = g.item_id WHERE ur.user_id = ? \
                 UNION \
                 SELECT r.kind, r.slug FROM {user_roles} ur \
                 JOIN {rbac_items} r ON r.id = ur.role_id WHERE ur.user_id = ?",
            ),
            render: r,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_for_postgres_only() {
        let pg = Statements::new(Dialect::Postgres, TableNames::default());
        assert_eq!(
            pg.session_slide.as_str(),
            "UPDATE \"authkit_sessions\" SET idle_expires_at = $1, last_seen_at = $2 \
             WHERE id = $3 AND idle_expires_at < $4 AND idle_expires_at > $5"
        );
        let my = Statements::new(Dialect::MySql, TableNames::default());
        assert!(
            my.session_slide
                .as_str()
                .starts_with("UPDATE `authkit_sessions` SET")
        );
        assert!(my.session_purge.as_str().ends_with("LIMIT ?"));
        assert!(!my.render.schema().contains('{'));
    }

    #[test]
    fn schema_uses_the_names_given() {
        let names = TableNames::with_prefix("app_").unwrap();
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            let schema = Renderer {
                dialect,
                tables: names.clone(),
            }
            .schema();
            assert!(!schema.contains("authkit_"), "{schema}");
            assert!(!schema.contains('{'), "{schema}");
            assert!(schema.contains("app_sessions_idle_idx"), "{schema}");
        }
    }
}
