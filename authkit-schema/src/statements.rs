//! Statement templates that more than one backend sends as they are, kept here so that
//! the rule they state in SQL has one text. Templates use `?` bind markers and the table
//! placeholders of [`render`](crate::render()); number the markers with
//! [`number_binds`](crate::number_binds) for PostgreSQL.

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
