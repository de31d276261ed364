//! The cases, one module per store trait, plus cross-store and property cases.
//!
//! Every case is a public function generic over a [`StoreFactory`](crate::StoreFactory):
//! it asks the factory for a fresh store set and panics (with a message naming the
//! contract) when the store breaks it. Async cases can be called from any tokio runtime
//! with worker threads (concurrency cases spawn tasks); property cases are sync and run
//! their own runtimes. [`conformance_suite!`](crate::conformance_suite) turns all of them
//! into tests.

pub mod api_key_flows;
pub mod api_keys;
pub mod audit_flows;
pub mod bff_flows;
pub mod cascade;
pub mod flows;
pub mod key_access;
pub mod key_limits;
pub mod machine_flows;
pub mod one_time_flows;
pub mod profile_flows;
pub mod props;
pub mod rbac;
pub mod rbac_flows;
pub mod refresh_races;
pub mod sessions;
pub mod tokens;
pub mod users;

/// How many case modules there are (checked against the suite's own list of them).
#[cfg(test)]
pub(crate) const MODULE_COUNT: usize = 18;
