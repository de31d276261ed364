//! Counting a request against a key's rate limit where `UPDATE … RETURNING` is
//! missing (MariaDB): a short transaction around the key's locked row. Mounted for
//! MySQL only; `count_returning.rs` is the others'.

use authkit::{ApiKeyId, Entity, RateWindow, StoreError, Timestamp};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::Store;
use crate::error::corrupt;
use crate::schema::authkit_api_keys as keys;
use crate::sql_types::{DbId, DbTs};

impl Store {
    /// A transaction: the key's window read with `SELECT … FOR UPDATE`, the next one
    /// written (a window that never started, or started at or before `now - window`,
    /// restarts at `now` with a count of 1; otherwise the count goes up by one).
    /// Concurrent calls queue on the row, so N calls return N distinct counts.
    pub(super) async fn count_window(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        self.transaction(Entity::ApiKey, Entity::ApiKey, async |conn| {
            let this = keys::table.find(DbId(id.0));
            let query = this.select((
                keys::rate_limit,
                keys::rate_window_seconds,
                keys::rate_window_started_at,
                keys::rate_count,
            ));
            let row: Option<(i64, i64, Option<DbTs>, i64)> =
                lock!(query).first(conn).await.optional()?;
            let Some((limit, seconds, started, n)) = row else {
                return Ok(None);
            };
            if limit <= 0 {
                return Ok(None);
            }
            let window_start = now - time::Duration::seconds(seconds);
            let (n, started) = match started {
                Some(DbTs(at)) if at > window_start => (n + 1, at),
                _ => (1, now),
            };
            crate::conn::Cached(diesel::update(this).set((
                keys::rate_count.eq(n),
                keys::rate_window_started_at.eq(DbTs(started)),
            )))
            .execute(conn)
            .await?;
            let count = u64::try_from(n).map_err(|_| corrupt("rate_count", format!("{n}")))?;
            Ok(Some(RateWindow {
                count,
                started_at: started,
            }))
        })
        .await
    }
}
