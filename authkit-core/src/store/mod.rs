//! The five store traits. A backend implements them; core drives every rule through them.
//!
//! Shared rules, which the conformance suite checks for every method:
//!
//! - Secrets never reach a store: only their SHA-256 ([`TokenHash`](crate::TokenHash)).
//!   Treat every hash and id passed in as untrusted input.
//! - A store never reads the clock; every call that depends on time takes `now`.
//!   Timestamps are UTC with microsecond precision: a value written is the value read back.
//! - A miss is `Ok(None)`, `Ok(false)` or `Ok(0)` where the method says so, and
//!   [`StoreError::NotFound`](crate::StoreError::NotFound) where it says so. A backend
//!   failure is always [`StoreError::Backend`](crate::StoreError::Backend), never a miss.
//! - Unique violations are [`StoreError::Conflict`](crate::StoreError::Conflict), and the
//!   call that fails leaves nothing written.
//! - Concurrent calls on the same rows all succeed. A deadlock or serialization failure
//!   the database reports (InnoDB picks a victim when two statements lock one row through
//!   different indexes) rolled the statement or transaction back whole, so the store runs
//!   it again, a bounded number of times; core retries nothing.
//! - Purges delete at most `limit` rows per call and return how many went; core calls
//!   them until a call returns less than `limit`, so no purge holds a table for long.
//! - Listings come back in any order: core sorts what it reads and removes duplicates,
//!   so the order a caller sees never depends on the backend.
//! - Core assigns every id and every time; a store never makes a UUID or reads a clock.
//! - "Unknown user" refusals ([`StoreError::NotFound`](crate::StoreError::NotFound) with
//!   [`Entity::User`](crate::Entity::User)) are made by a store that holds the users too
//!   (a foreign key). A store that does not (sessions in a key-value store beside users in
//!   a database) accepts any user id: core checks that the user exists before it issues
//!   anything, whatever the mix.
//! - Every trait requires `Debug`: a store shows up in its owner's `Debug` output, and
//!   must never print secrets, hashes or payloads there.

mod api_key;
mod rbac;
mod session;
mod slide_hints;
mod token;
mod user;

pub use api_key::ApiKeyStore;
pub use rbac::RbacStore;
pub use session::SessionStore;
pub use slide_hints::SlideHints;
pub use token::{OtpRule, RotationRule, TokenStore};
pub use user::UserStore;

use std::sync::Arc;

/// One store per trait, as [`Auth`](crate::Auth) holds them. Build it from one backend
/// that implements every trait with [`Stores::from_backend`], or mix stores field by field.
///
/// Mixing has a price: a store can only refuse rows for unknown users (and cascade on
/// user deletion) when it shares the users' backend. Core revokes sessions and refresh
/// tokens through their own stores when it deletes a user, so no credential outlives its
/// user, but other rows of a separate store are left for that store to clean up.
#[derive(Clone)]
pub struct Stores {
    /// Users.
    pub users: Arc<dyn UserStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Refresh and one-time tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// API and service keys.
    pub api_keys: Arc<dyn ApiKeyStore>,
    /// Roles, permissions, abilities and grants.
    pub rbac: Arc<dyn RbacStore>,
}

impl Stores {
    /// Uses one backend for all five traits.
    pub fn from_backend<S>(backend: S) -> Self
    where
        S: UserStore + SessionStore + TokenStore + ApiKeyStore + RbacStore + 'static,
    {
        let backend = Arc::new(backend);
        Stores {
            users: backend.clone(),
            sessions: backend.clone(),
            tokens: backend.clone(),
            api_keys: backend.clone(),
            rbac: backend,
        }
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}
