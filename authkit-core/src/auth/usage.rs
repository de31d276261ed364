//! API-key usage, buffered in memory so that verification adds no store round trip.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::StoreError;
use crate::model::{ApiKeyId, KeyUsage, Timestamp};
use crate::store::ApiKeyStore;

/// Uses recorded since the last flush, per key.
#[derive(Debug, Default)]
pub(super) struct UsageBuffer {
    pending: Mutex<Pending>,
    /// Held across take-and-write, so a flush waits for any write already under way:
    /// when `flush` returns, every use recorded before it was called is in the store.
    writing: tokio::sync::Mutex<()>,
    /// A background flush is scheduled or running: at most one at a time, so a busy
    /// buffer costs one task, not one per verification.
    flushing: AtomicBool,
}

#[derive(Debug, Default)]
struct Pending {
    by_key: HashMap<ApiKeyId, KeyUsage>,
    uses: u64,
    oldest: Option<Timestamp>,
}

impl UsageBuffer {
    /// Adds `usage`; returns whether the caller should start a background flush: the
    /// buffer is due and no other background flush is scheduled or running. The caller
    /// that gets `true` must call [`background_flush`](Self::background_flush).
    pub(super) fn record(
        &self,
        usage: KeyUsage,
        flush_uses: u64,
        flush_interval: time::Duration,
    ) -> bool {
        let now = usage.last_used_at;
        let mut p = self.lock();
        add(&mut p, usage);
        let oldest = *p.oldest.get_or_insert(now);
        let due = p.uses >= flush_uses || now - oldest >= flush_interval;
        drop(p);
        due && !self.flushing.swap(true, Ordering::AcqRel)
    }

    /// The background flush a `true` from [`record`](Self::record) asked for: flushes,
    /// then lets the next due verification schedule another. A failed write stays
    /// pending for that one.
    pub(super) async fn background_flush(&self, store: &dyn ApiKeyStore) {
        if let Err(error) = self.flush(store).await {
            tracing::warn!(%error, "could not write API key usage; will retry");
        }
        self.flushing.store(false, Ordering::Release);
    }

    /// Writes every pending use to `store`. Uses that fail to write are put back, so a
    /// later flush retries them; nothing is counted twice.
    pub(super) async fn flush(&self, store: &dyn ApiKeyStore) -> Result<(), StoreError> {
        let _writing = self.writing.lock().await;
        let batch: Vec<KeyUsage> = {
            let mut p = self.lock();
            let taken = std::mem::take(&mut *p);
            taken.by_key.into_values().collect()
        };
        if batch.is_empty() {
            return Ok(());
        }
        let result = store.record_key_usage(&batch).await;
        if result.is_err() {
            let mut p = self.lock();
            for usage in batch {
                add(&mut p, usage);
            }
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn add(p: &mut Pending, usage: KeyUsage) {
    p.uses += usage.uses;
    let oldest = p.oldest.get_or_insert(usage.last_used_at);
    *oldest = (*oldest).min(usage.last_used_at);
    match p.by_key.get_mut(&usage.key_id) {
        Some(entry) => entry.absorb(usage),
        None => {
            p.by_key.insert(usage.key_id, usage);
        }
    }
}
