//! The conformance suite on the in-memory store, twice: as one backend for every trait,
//! and in the documented mixed setup (users in one store, everything else in a
//! [`MemoryStore::detached`] one that knows nothing of them).
//!
//! `cargo nextest run -p authkit-memory --test conformance`

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use authkit::Stores;
use authkit_conformance::{StoreFactory, async_trait};
use authkit_memory::MemoryStore;

/// A new, empty [`MemoryStore`] per case.
struct MemoryFactory;

#[async_trait]
impl StoreFactory for MemoryFactory {
    async fn stores(&self) -> Stores {
        Stores::from_backend(MemoryStore::new())
    }
}

/// Users in one store; sessions, tokens, keys and RBAC in a detached one.
struct MixedFactory;

#[async_trait]
impl StoreFactory for MixedFactory {
    async fn stores(&self) -> Stores {
        let rest = Arc::new(MemoryStore::detached());
        Stores {
            users: Arc::new(MemoryStore::new()),
            sessions: rest.clone(),
            tokens: rest.clone(),
            api_keys: rest.clone(),
            rbac: rest,
        }
    }
}

mod one_backend {
    authkit_conformance::conformance_suite!(super::MemoryFactory);
}

mod mixed {
    authkit_conformance::conformance_suite!(
        super::MixedFactory,
        [sessions, tokens, api_keys, rbac, flows]
    );
}
