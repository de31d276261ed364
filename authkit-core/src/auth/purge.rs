//! Deleting what has expired, in batches.

use std::future::Future;

use super::Auth;
use crate::error::{Result, StoreError};

/// How many rows [`Auth::purge_expired`] deleted, per kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Sessions past a deadline.
    pub sessions: u64,
    /// Expired refresh tokens.
    pub refresh_tokens: u64,
    /// Consumed or expired one-time tokens.
    pub one_time_tokens: u64,
    /// Expired API keys.
    pub api_keys: u64,
}

impl PurgeReport {
    /// All rows deleted.
    pub fn total(&self) -> u64 {
        self.sessions + self.refresh_tokens + self.one_time_tokens + self.api_keys
    }
}

impl Auth {
    /// Deletes every expired row from every store, `purge_batch` rows per store call, so
    /// no call holds a table for the whole purge. Run it from a periodic job.
    pub async fn purge_expired(&self) -> Result<PurgeReport> {
        let now = self.now();
        let s = &self.stores;
        Ok(PurgeReport {
            sessions: self.drain(|n| s.sessions.purge_sessions(now, n)).await?,
            refresh_tokens: self.drain(|n| s.tokens.purge_refresh(now, n)).await?,
            one_time_tokens: self.drain(|n| s.tokens.purge_one_time(now, n)).await?,
            api_keys: self.drain(|n| s.api_keys.purge_api_keys(now, n)).await?,
        })
    }

    /// Calls `batch` until it deletes less than a full batch; returns the sum.
    async fn drain<F, Fut>(&self, batch: F) -> Result<u64>
    where
        F: Fn(u32) -> Fut,
        Fut: Future<Output = Result<u64, StoreError>>,
    {
        let limit = self.config.purge_batch;
        let mut total = 0;
        loop {
            let n = batch(limit).await?;
            total += n;
            if n < u64::from(limit) {
                return Ok(total);
            }
        }
    }
}
