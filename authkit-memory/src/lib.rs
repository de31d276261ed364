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
//! API key, role assignment or direct grant refers to exists *in this store*. To keep
//! some traits here and the users in another store, use [`MemoryStore::detached`], which
//! takes every user id as existing.

mod api_keys;
mod rbac;
mod sessions;
mod sync;
mod tokens;
mod users;

use std::sync::{Mutex, RwLock};

use crate::sync::write;

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

    /// An empty store for the traits other than [`UserStore`](authkit::UserStore), beside
    /// users held in another store: it takes every user id as existing, as a key-value
    /// store would, and deleting a user here cascades to nothing. [`Auth`](authkit::Auth)
    /// checks that a user exists before it issues anything, so the mix stays safe; revoke
    /// a deleted user's rows through [`Auth::delete_user`](authkit::Auth::delete_user),
    /// which ends its sessions and refresh tokens in their own stores.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use authkit::Stores;
    /// use authkit_memory::MemoryStore;
    ///
    /// let users = Stores::from_backend(MemoryStore::new()); // your database store here
    /// let sessions = Arc::new(MemoryStore::detached());
    /// let stores = Stores { sessions: sessions.clone(), tokens: sessions, ..users };
    /// # drop(stores);
    /// ```
    pub fn detached() -> Self {
        let store = Self::default();
        write(&store.users).detached = true;
        store
    }
}

#[cfg(test)]
mod tests;

/// The repository README's examples, compiled and run as doctests so the README never lies.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
