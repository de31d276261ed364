//! Time and randomness, both injectable so tests are deterministic.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::model::Timestamp;

/// Where core reads the time. Core truncates what it reads to microseconds.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current UTC instant.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that moves only when told: for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock stopped at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// Moves the clock by `by` (which may be negative).
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }

    /// Sets the clock to `at`.
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Truncates an instant to whole microseconds, in UTC: what every store can keep exactly.
pub fn truncate_to_micros(t: OffsetDateTime) -> Timestamp {
    let t = t.to_offset(time::UtcOffset::UTC);
    let micros = t.microsecond();
    t.replace_microsecond(micros).unwrap_or(t)
}

/// Where core draws secrets, salts and codes from.
pub trait Randomness: Send + Sync + fmt::Debug + 'static {
    /// Fills `buf` with random bytes. Must be a CSPRNG outside tests.
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandomness;

impl Randomness for OsRandomness {
    fn fill(&self, buf: &mut [u8]) {
        // The OS generator failing leaves no safe way to go on; issuing a predictable
        // secret would be worse than stopping.
        #[allow(clippy::expect_used)]
        getrandom::fill(buf).expect("the operating system's random generator failed");
    }
}

/// A deterministic generator for tests: SHA-256 of a seed and a counter. Never use it
/// to issue real secrets.
#[derive(Debug)]
pub struct SeededRandomness {
    seed: u64,
    counter: AtomicU64,
}

impl SeededRandomness {
    /// A generator that yields the same bytes for the same seed.
    pub fn new(seed: u64) -> Self {
        SeededRandomness {
            seed,
            counter: AtomicU64::new(0),
        }
    }
}

impl Randomness for SeededRandomness {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(32) {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let block = Sha256::new()
                .chain_update(self.seed.to_le_bytes())
                .chain_update(n.to_le_bytes())
                .finalize();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}
