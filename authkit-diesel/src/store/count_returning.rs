//! Counting a request against a key's rate limit in one statement, where
//! `UPDATE … RETURNING` exists (PostgreSQL, SQLite). Mounted for those two;
//! `count_last_insert_id.rs` is MySQL's.

use authkit::{ApiKeyId, RateWindow, StoreError, Timestamp};
use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;

use super::Store;
use crate::error::corrupt;
use crate::schema::authkit_api_keys as keys;
use crate::sql_types::{DbId, DbTs, Ts};

/// Whether the key's rate window is over at `$now`: never started, or started at or
/// before `$now - rate_window_seconds`. Arithmetic on a column's time and another
/// column's length is beyond Diesel's DSL: an SQL fragment (the span's SQL from the
/// database's module), with `$now` bound.
macro_rules! window_over {
    ($now:expr) => {
        keys::rate_window_started_at
            .is_null()
            .or(
                diesel::dsl::sql::<diesel::sql_types::Bool>("rate_window_started_at <= ")
                    .bind::<Ts, _>(DbTs($now))
                    .sql(super::WINDOW_SPAN),
            )
    };
}

impl Store {
    /// One conditional `UPDATE … RETURNING` of the key's row (only while it has a
    /// limit), which the database locks: concurrent calls queue on it, and each one's
    /// `SET` reads the row as the previous one left it, so N calls return N distinct
    /// counts. Both assignments read the old row: a window that never started, or
    /// started at or before `now - window` (`window_over!`), restarts at `now` with a count of 1; otherwise the count goes up by one.
    pub(super) async fn count_window(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        let row: Option<(i64, Option<DbTs>)> = self
            .read(async |conn| {
                let limited = keys::table.find(DbId(id.0)).filter(keys::rate_limit.gt(0));
                let count = case_when(window_over!(now), 1_i64.into_sql::<BigInt>())
                    .otherwise(keys::rate_count + 1);
                let started = case_when(window_over!(now), DbTs(now).into_sql::<Ts>().nullable())
                    .otherwise(keys::rate_window_started_at);
                let query = diesel::update(limited)
                    .set((
                        keys::rate_count.eq(count),
                        keys::rate_window_started_at.eq(started),
                    ))
                    .returning((keys::rate_count, keys::rate_window_started_at));
                Ok(crate::conn::Cached(query)
                    .get_result(conn)
                    .await
                    .optional()?)
            })
            .await?;
        let Some((n, started)) = row else {
            return Ok(None);
        };
        Ok(Some(RateWindow {
            count: u64::try_from(n).map_err(|_| corrupt("rate_count", format!("{n}")))?,
            started_at: started.map_or(now, |t| t.0),
        }))
    }
}
