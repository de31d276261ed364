//! In-process store for authkit: one [`MemoryStore`] implements every store trait
//! ([`UserStore`](authkit::UserStore), [`SessionStore`](authkit::SessionStore),
//! [`TokenStore`](authkit::TokenStore), [`ApiKeyStore`](authkit::ApiKeyStore),
//! [`RbacStore`](authkit::RbacStore)) with the same contracts as the database backends.
//!
//! It is the embedded default for examples, tests and single-process tools. Nothing is
//! persisted: dropping the store drops every user, session and key.
//!
//! # Example
//!
//! ```
//! use authkit::Stores;
//! use authkit_memory::MemoryStore;
//!
//! // One store behind all five traits, as `Auth::builder` takes them.
//! let stores = Stores::from_backend(MemoryStore::new());
//! # drop(stores);
//! ```
//!
//! # Concurrency
//!
//! Every method does its read-check-write under one acquisition of the locks it needs,
//! and never holds a lock across an `.await` (no method awaits at all). Locks are always
//! taken in one global order (users, session index, session shards in ascending order,
//! refresh tokens, one-time tokens, API keys, RBAC), so methods that need several of
//! them (creating a row that references a user, deleting a user) cannot deadlock.
//!
//! Sessions are split into shards by the first byte of their token hash, so
//! authentication ([`touch_session`](authkit::SessionStore::touch_session)) on different
//! sessions does not contend on one lock.
//!
//! A poisoned lock (a panic elsewhere while it was held) is recovered rather than
//! propagated: every method checks before it writes, so a panic never leaves a
//! half-applied change behind.
//!
//! # Referential rules
//!
//! Like a database with foreign keys, the store checks that the user a session, token,
//! API key, role assignment or direct grant refers to exists *in this store*. Mixing it
//! with another backend (users elsewhere, sessions here) therefore does not work: use
//! one `MemoryStore` for every trait, as [`Stores::from_backend`](authkit::Stores::from_backend)
//! does.

mod api_keys;
mod rbac;
mod sessions;
mod sync;
mod tokens;
mod users;

use std::sync::{Mutex, RwLock};

/// The in-memory store: every authkit store trait on one value.
///
/// Cheap to create; share it behind an `Arc` (for example with
/// [`Stores::from_backend`](authkit::Stores::from_backend)). Its `Debug` output shows
/// row counts only, never secrets, hashes or payloads.
#[derive(Debug, Default)]
pub struct MemoryStore {
    users: RwLock<users::Users>,
    sessions: sessions::Sessions,
    refresh: Mutex<tokens::RefreshTokens>,
    one_time: Mutex<tokens::OneTimeTokens>,
    api_keys: RwLock<api_keys::ApiKeys>,
    rbac: RwLock<rbac::Rbac>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests;

/// The repository README's examples, compiled and run as doctests so the README never lies.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
