//! Lock helpers that recover from poisoning instead of panicking.
//!
//! A lock is poisoned when a thread panicked while holding it. Every method of the store
//! validates before it mutates (and calls the caller's closures before mutating), so the
//! data behind a poisoned lock is still consistent and safe to keep using.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `m`, recovering from poisoning.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks `l`, recovering from poisoning.
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks `l`, recovering from poisoning.
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// Takes at most `limit` items from `iter` (a purge batch).
pub(crate) fn take_limit<I: Iterator>(iter: I, limit: u32) -> impl Iterator<Item = I::Item> {
    iter.take(usize::try_from(limit).unwrap_or(usize::MAX))
}
