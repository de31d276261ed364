//! Statement templates that more than one backend sends as they are, kept here so that
//! the rule they state in SQL has one text. Templates use `?` bind markers and the table
//! placeholders of [`render`](crate::render()); number the markers with
//! [`number_binds`](crate::number_binds) for PostgreSQL.

use crate::Dialect;

/// PostgreSQL's one-statement slide of a live session found by its token hash:
/// `SlidePolicy::next_deadline`'s rule in SQL. The new idle deadline is
/// `min(now + idle_ttl, absolute_expires_at)`, written only while the session is live
/// and only when it moves the stored one forward by more than `min_step`; the row comes
/// back as written, columns in the order `id, user_id, token_hash, created_at,
/// last_seen_at, idle_expires_at, absolute_expires_at, payload`. No row: nothing was due,
/// or nothing is live.
///
/// Binds, in order: `now + idle_ttl`, `now`, the token hash, `now`, `now`,
/// `now + idle_ttl`, `min_step` in whole microseconds.
pub const SLIDE_SESSION_RETURNING: &str = "UPDATE {sessions} \
     SET idle_expires_at = LEAST(?, absolute_expires_at), last_seen_at = ? \
     WHERE token_hash = ? AND idle_expires_at > ? AND absolute_expires_at > ? \
     AND idle_expires_at < LEAST(?, absolute_expires_at) - ? * INTERVAL '1 microsecond' \
     RETURNING id, user_id, token_hash, created_at, last_seen_at, idle_expires_at, \
     absolute_expires_at, payload";

/// The conditional slide of a session found by id, for databases that read the session
/// before writing its slide (no `UPDATE … RETURNING` on MySQL; SQLite and the other
/// PostgreSQL paths): the deadline computed by `SlidePolicy::next_deadline` is written
/// only when it moves the stored one forward and while the session is live.
///
/// On MySQL by the primary key only (`FORCE INDEX (PRIMARY)`): with the deadline
/// conditions on an indexed column, InnoDB's optimizer may scan the deadline index
/// instead (it does on small tables), locking every session whose deadline falls in the
/// range, and deadlocking with a revocation that holds the row.
///
/// Binds, in order: the new deadline, `now`, the session's id, the new deadline, `now`.
pub const fn slide_session_by_id(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::MySql => {
            "UPDATE {sessions} FORCE INDEX (PRIMARY) SET idle_expires_at = ?, last_seen_at = ? \
             WHERE id = ? AND idle_expires_at < ? AND idle_expires_at > ?"
        }
        Dialect::Postgres | Dialect::Sqlite => {
            "UPDATE {sessions} SET idle_expires_at = ?, last_seen_at = ? \
             WHERE id = ? AND idle_expires_at < ? AND idle_expires_at > ?"
        }
    }
}

/// PostgreSQL's one-statement refresh rotation, inside the rotation's transaction and
/// after the presented row's locked read: a writing CTE consumes the presented token by
/// id (its first consumption time kept, `rotations` up by one) and the `INSERT` stores
/// its successor.
///
/// Binds, in order: `now`, the presented token's id, then the successor's `id,
/// family_id, user_id, token_hash, audience, profile, chain_started_at, created_at,
/// expires_at, consumed_at, rotations, revoked_at`.
pub const ROTATE_REFRESH: &str = "WITH consumed AS (UPDATE {refresh_tokens} \
     SET consumed_at = COALESCE(consumed_at, ?), rotations = rotations + 1 WHERE id = ?) \
     INSERT INTO {refresh_tokens} (id, family_id, user_id, token_hash, audience, profile, \
     chain_started_at, created_at, expires_at, consumed_at, rotations, revoked_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// Keys per statement of [`usage_chunk`] (authkit-sqlx's and authkit-diesel's chunk).
pub const USAGE_CHUNK: usize = 64;

/// A usage statement for `size` keys, for databases without PostgreSQL's `UNNEST`: one
/// single-table `UPDATE … WHERE id IN (…)` choosing each key's values with `CASE id
/// WHEN …`. It adds each key's uses to `usage_count` and moves `last_used_at`, with its
/// IP and user agent, only forward. MySQL applies single-table assignments left to right,
/// reading values already assigned: the IP and the user agent go first, while
/// `last_used_at` still holds the old value; SQLite reads old values throughout.
///
/// Callers pad a batch to a power of two with entries for the nil id (no key has it: ids
/// are UUIDv7), so that a few texts serve every batch size and the prepared-statement
/// cache stays small.
///
/// Binds, in order: for each key `id, last_used_at, last_used_ip`; for each key `id,
/// last_used_at, last_used_user_agent`; for each key `id, last_used_at, last_used_at`;
/// for each key `id, uses`; for each key `id`.
pub fn usage_chunk(size: usize) -> String {
    let later = |col: &str| {
        let arm = format!(
            "WHEN ? THEN CASE WHEN last_used_at IS NULL OR last_used_at < ? \
             THEN ? ELSE {col} END "
        );
        format!("{col} = CASE id {}ELSE {col} END", arm.repeat(size))
    };
    format!(
        "UPDATE {{api_keys}} SET {}, {}, {}, \
         usage_count = usage_count + CASE id {}ELSE 0 END WHERE id IN ({})",
        later("last_used_ip"),
        later("last_used_user_agent"),
        later("last_used_at"),
        "WHEN ? THEN ? ".repeat(size),
        vec!["?"; size].join(", ")
    )
}

/// MySQL's count of one request against a key's rate limit, without a transaction (it
/// has no `UPDATE … RETURNING`): one conditional `UPDATE` of the key's row (only while
/// it has a limit), which hands the new count to `LAST_INSERT_ID(…)`, per connection. A
/// window that never started, or started at or before `now - rate_window_seconds`,
/// restarts at `now` with a count of 1; otherwise the count goes up by one.
/// `rate_count` is assigned first: MySQL assigns left to right and a later expression
/// sees the earlier assigned values, but the count's test reads `rate_window_started_at`
/// before it is assigned.
///
/// Binds, in order: `now`, `now`, `now`, the key's id.
pub const COUNT_WINDOW_LAST_INSERT_ID: &str = "UPDATE {api_keys} \
     SET rate_count = LAST_INSERT_ID(CASE WHEN rate_window_started_at IS NULL \
     OR rate_window_started_at <= ? - INTERVAL rate_window_seconds SECOND \
     THEN 1 ELSE rate_count + 1 END), \
     rate_window_started_at = CASE WHEN rate_window_started_at IS NULL \
     OR rate_window_started_at <= ? - INTERVAL rate_window_seconds SECOND \
     THEN ? ELSE rate_window_started_at END \
     WHERE id = ? AND rate_limit > 0";
