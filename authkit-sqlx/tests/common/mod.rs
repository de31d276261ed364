//! Shared by the sqlx conformance targets (`conformance_postgres`, `conformance_sqlite`,
//! `conformance_mysql`) and `round_trips`:
//! unique per-case names, the sweep of leftovers, and cleanup from `Drop`.

// Each target uses part of this module.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Leftovers older than this (a crashed or killed run) are dropped by the next run.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(2 * 3600);

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A name no other case (in this process or another) gets:
/// `<prefix><unix seconds>_<pid>_<sequence>`, all lowercase, a valid identifier.
pub(crate) fn case_name(prefix: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}{}_{}_{}",
        unix_secs(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `name` (made by [`case_name`] with `prefix`) is older than [`STALE_AFTER`].
pub(crate) fn is_stale(prefix: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let Some(Ok(created)) = rest.split('_').next().map(str::parse::<u64>) else {
        return false;
    };
    unix_secs().saturating_sub(created) > STALE_AFTER.as_secs()
}

/// Runs `cleanup` to completion from a `Drop`, through the suite's [`Cleanup`] guard
/// (its own thread and runtime, so it works while unwinding too).
///
/// [`Cleanup`]: authkit_conformance::Cleanup
pub(crate) fn run_cleanup<F>(cleanup: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    drop(authkit_conformance::Cleanup::new(cleanup));
}

/// The URL in `var`, or the local default.
pub(crate) fn url_from_env(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}
