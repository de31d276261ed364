//! Counting a request against a key's rate limit where `UPDATE … RETURNING` is
//! missing (MariaDB): the count handed back through `LAST_INSERT_ID(…)`, no transaction.
//! Mounted for MySQL only; `count_returning.rs` is the others'.

use std::sync::OnceLock;

use authkit::{ApiKeyId, RateWindow, StoreError, Timestamp};
use diesel::OptionalExtension;
use diesel::sql_types::{BigInt, Nullable};
use diesel_async::RunQueryDsl;

use super::Store;
use super::shared::render;
use crate::conn::Cached;
use crate::error::{corrupt, retrying};
use crate::sql_types::{DbId, DbTs, Id, Ts};

/// What [`READ`] returns: the count this connection's last counting `UPDATE` handed to
/// `LAST_INSERT_ID(…)`, and the key's window start (`NULL`: the key is gone).
#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    count: i64,
    #[diesel(sql_type = Nullable<Ts>)]
    started: Option<DbTs>,
}

/// The count and the window's start after the counting `UPDATE`, on its connection.
/// Always one row.
const READ: &str = "SELECT CAST(LAST_INSERT_ID() AS SIGNED) AS count, \
     (SELECT rate_window_started_at FROM authkit_api_keys WHERE id = ?) AS started";

impl Store {
    /// One conditional `UPDATE` of the key's row (only while it has a limit), which the
    /// database locks: concurrent calls queue on it, and each one's `SET` reads the row
    /// as the previous one left it (InnoDB's `UPDATE` reads the latest committed
    /// version), so N calls return N distinct counts. The statement
    /// ([`COUNT_WINDOW_LAST_INSERT_ID`](authkit_schema::statements::COUNT_WINDOW_LAST_INSERT_ID),
    /// as authkit-sqlx sends it) hands the count to `LAST_INSERT_ID(…)`, which Diesel's
    /// `execute` does not return: a `SELECT` on the same connection reads it, with the
    /// window's start. Two round trips, no transaction; the count still comes from the
    /// one atomic step.
    ///
    /// The start is read after the count: a concurrent call may have started a later
    /// window in between, so it can be a later window's than the one counted in, and a
    /// retry hint made from it errs late, never early. The key deleted in between: `now`,
    /// no earlier than the counted window's start.
    pub(super) async fn count_window(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<RateWindow>, StoreError> {
        static COUNT: OnceLock<String> = OnceLock::new();
        let sql =
            COUNT.get_or_init(|| render(authkit_schema::statements::COUNT_WINDOW_LAST_INSERT_ID));
        let count = || {
            Cached(
                diesel::sql_query(sql.as_str())
                    .bind::<Ts, _>(DbTs(now))
                    .bind::<Ts, _>(DbTs(now))
                    .bind::<Ts, _>(DbTs(now))
                    .bind::<Id, _>(DbId(id.0)),
            )
        };
        let read = Cached(diesel::sql_query(READ).bind::<Id, _>(DbId(id.0)));
        let counted = self
            .read(async |conn| {
                // The connection sets CLIENT_FOUND_ROWS: the row matched, changed or not.
                if retrying!(count().execute(conn).await)? == 0 {
                    return Ok(None);
                }
                Ok(read.get_result::<Counted>(conn).await.optional()?)
            })
            .await?;
        let Some(Counted { count, started }) = counted else {
            return Ok(None);
        };
        // A matched row counted at least 1: 0 means the server did not carry the value.
        let count = u64::try_from(count)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| corrupt("rate_count", format!("LAST_INSERT_ID() gave {count}")))?;
        Ok(Some(RateWindow {
            count,
            started_at: started.map_or(now, |t| t.0),
        }))
    }
}
