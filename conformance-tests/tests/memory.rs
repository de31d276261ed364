//! The conformance suite on the in-memory store: `cargo nextest run -p authkit-conformance --test memory`.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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

authkit_conformance::conformance_suite!(MemoryFactory);
