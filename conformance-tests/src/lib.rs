//! The contract suite for authkit stores: run it on any backend.
//!
//! Every store trait of [`authkit::store`] states its contract in its doc comments:
//! what a miss returns, which errors mean what, which methods are atomic and what the
//! loser of a race gets, which deadlines are exclusive. This crate checks those
//! contracts, one public function per contract ("case"), against any store set you
//! hand it. A backend that passes the whole suite can be swapped for any other.
//!
//! # Running the suite on your store
//!
//! Implement [`StoreFactory`] so that every call returns a fresh, empty store set
//! isolated from every other call (a new database, schema or temporary file per case;
//! cases run in parallel), then expand the suite in an integration test, for example
//! `tests/conformance.rs`:
//!
//! ```ignore
//! use authkit::Stores;
//! use authkit_conformance::{StoreFactory, async_trait};
//!
//! struct PostgresFactory;
//!
//! #[async_trait]
//! impl StoreFactory for PostgresFactory {
//!     async fn stores(&self) -> Stores {
//!         // Never pass silently when the database is missing: fail, and say what to set.
//!         let url = std::env::var("AUTHKIT_TEST_POSTGRES_URL").unwrap_or_else(|_| {
//!             panic!("set AUTHKIT_TEST_POSTGRES_URL to a PostgreSQL server the suite may use")
//!         });
//!         let store = my_backend::PgStore::connect_to_fresh_schema(&url)
//!             .await
//!             .expect("connect to AUTHKIT_TEST_POSTGRES_URL");
//!         Stores::from_backend(store)
//!     }
//! }
//!
//! authkit_conformance::conformance_suite!(PostgresFactory);
//! ```
//!
//! The macro expands into one `#[test]` per case, named `module_case` after the case's
//! module and function (`sessions_touch_slides_idle_deadline` runs
//! [`cases::sessions::touch_slides_idle_deadline`]), so a failure names one contract and
//! one case can be run alone:
//!
//! ```text
//! cargo test --test conformance sessions_touch_slides_idle_deadline
//! cargo nextest run --test conformance -E 'test(/^tokens_refresh/)'
//! ```
//!
//! To run the suite once per database from one test file, expand it in one module per
//! database (`mod postgres { authkit_conformance::conformance_suite!(super::PgFactory); }`).
//!
//! Async cases run each on their own multi-thread tokio runtime with 4 worker threads
//! (what `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]` builds), so the
//! concurrency cases really race; your crate needs no tokio features for it. The factory
//! expression is evaluated inside that runtime. Property cases ([`cases::props`]) build a
//! runtime and call [`StoreFactory::stores`] once per generated sequence.
//!
//! # Calling a case directly
//!
//! Cases are plain public functions, so a store author can also call one from a test of
//! their own, on any tokio runtime with worker threads:
//!
//! ```
//! use authkit::Stores;
//! use authkit_conformance::{StoreFactory, async_trait, cases};
//!
//! struct Memory;
//!
//! #[async_trait]
//! impl StoreFactory for Memory {
//!     async fn stores(&self) -> Stores {
//!         Stores::from_backend(authkit_memory::MemoryStore::new())
//!     }
//! }
//!
//! # fn main() {
//! let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
//! runtime.block_on(cases::users::email_lookup_ignores_ascii_case(&Memory));
//! # }
//! ```
//!
//! # What the suite covers
//!
//! - [`cases::users`], [`cases::sessions`], [`cases::tokens`] (refresh, one-time, OTP),
//!   [`cases::api_keys`], [`cases::rbac`]: every trait method's success path, its miss,
//!   and every documented error, checking that a failed write left nothing behind;
//!   32-way races on rotation, one-time consume, OTP attempts, user creation, touches and
//!   usage counters, session creates with one hash; revocations racing the calls that
//!   read or write the same row (touch, key rotation, refresh rotation); deadlines
//!   exactly at the boundary; emails in other ASCII cases, non-ASCII and at the maximum
//!   length; lookups that must not treat `_`, `%` or `\` as a pattern; timestamps to the
//!   microsecond, in years 1000 and 9999; counters near their limits; empty strings and
//!   payloads kept apart from `None`; no secret in a store's `Debug` output.
//! - [`cases::cascade`]: deleting a user removes everything of it in every store, in one
//!   step (a session created while it runs does not survive).
//! - [`cases::flows`], [`cases::one_time_flows`], [`cases::api_key_flows`],
//!   [`cases::rbac_flows`], [`cases::bff_flows`], [`cases::profile_flows`],
//!   [`cases::machine_flows`]: the flows of
//!   [`authkit::Auth`] end to end over the store under test, each error path included.
//! - [`cases::refresh_races`]: `Auth::refresh` raced on a real clock, on one `Auth` and on
//!   two over one database ([`StoreFactory::two_handles`]), and servers whose clocks
//!   disagree.
//! - [`cases::props`]: random operation sequences checked against a model.
//!
//! [`fixtures`] holds the small builders the cases share; they are public so your own
//! tests can use them too.

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod cases;
pub mod fixtures;
pub mod wire;

/// Re-exported so a [`StoreFactory`] can be implemented without depending on it.
pub use async_trait::async_trait;

/// Gives the suite a fresh store set per case.
///
/// Every call must return stores that are empty and isolated from every other call's,
/// since cases run in parallel and some (purges, service-key listings) see every row:
/// a new database, schema or temporary file per call, or for a key-value store a random
/// key prefix. The suite evaluates the factory once per case and drops it when the case
/// ends; keep a [`Cleanup`] per call in it to remove what the call made.
#[async_trait::async_trait]
pub trait StoreFactory: Send + Sync + 'static {
    /// A fresh, empty store set, isolated from every other case's. May panic with a
    /// message naming the env var to set when its database is unreachable.
    async fn stores(&self) -> authkit::Stores;

    /// Two handles on one fresh, empty, isolated data set, as two servers sharing one
    /// database would hold them: for the cases that run two `Auth` instances at once.
    ///
    /// A store over a database should open a second connection pool (or client) on the
    /// data behind the first, so the cases race through two pools. The default shares
    /// one handle, which is right for an in-process store that has nothing else to open.
    async fn two_handles(&self) -> (authkit::Stores, authkit::Stores) {
        let stores = self.stores().await;
        (stores.clone(), stores)
    }
}

/// Expands the suite into one test per case, for the factory given.
///
/// `factory_expr` is any expression of a type implementing [`StoreFactory`]; it is
/// evaluated once per test and dropped when the test ends (which runs its
/// [`Cleanup`]s). Each test is named `module_case` (for example
/// `sessions_touch_slides_idle_deadline` for [`cases::sessions::touch_slides_idle_deadline`]).
/// Async cases run on a multi-thread tokio runtime with 4 workers; property cases run as
/// plain tests and build their own runtimes.
///
/// With the factory alone, every group runs: the store implements all five traits on
/// one backend. A store that implements only some traits names the groups it answers
/// for, and its factory fills the other fields of [`Stores`](authkit::Stores) from any
/// complete store (the in-memory one, say):
///
/// | group | checks |
/// |---|---|
/// | `users` | [`UserStore`](authkit::UserStore) |
/// | `sessions` | [`SessionStore`](authkit::SessionStore) |
/// | `tokens` | [`TokenStore`](authkit::TokenStore) |
/// | `api_keys` | [`ApiKeyStore`](authkit::ApiKeyStore) |
/// | `rbac` | [`RbacStore`](authkit::RbacStore) |
/// | `shared_users` | what a store that also holds the users adds: unknown users refused, deletion cascades |
/// | `flows` | every flow of [`authkit::Auth`] over the whole set, mixed or not |
///
/// ```ignore
/// // Every trait on one backend:
/// authkit_conformance::conformance_suite!(MyFactory::default());
/// // Sessions in a key-value store, the rest elsewhere:
/// authkit_conformance::conformance_suite!(RedisSessions::default(), [sessions, flows]);
/// ```
///
/// An unknown group name is a compile error, never a silently smaller suite.
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr $(,)?) => {
        $crate::__for_each_case!($crate::__suite_tests, ($factory));
    };
    ($factory:expr, [$($group:ident),+ $(,)?] $(,)?) => {
        $( $crate::__cases!($group, $crate::__suite_tests, ($factory)); )+
    };
}

/// The cases, in groups. `__cases!(group, callback, args)` calls
/// `$callback! { $args <entries> }` for one group, where each entry reads
/// `test_name = module::case [kind];` and kind is `async` (an `async fn(&F)`) or `sync`
/// (a `fn(&F)`, property cases). To add a case, add its line to its group here;
/// `conformance_suite!` checks at compile time that `test_name` is `module_case`, and a
/// unit test checks that every public case function is listed.
#[doc(hidden)]
#[macro_export]
macro_rules! __cases {
    // [`UserStore`](authkit::UserStore) on its own.
    (users, $callback:path, $args:tt) => {
        $callback! { $args
            users_create_then_read = users::create_then_read [async];
            users_missing_user_is_none = users::missing_user_is_none [async];
            users_email_lookup_ignores_ascii_case = users::email_lookup_ignores_ascii_case [async];
            users_duplicate_email_conflicts_ignoring_case = users::duplicate_email_conflicts_ignoring_case [async];
            users_duplicate_id_conflicts = users::duplicate_id_conflicts [async];
            users_concurrent_creates_one_wins = users::concurrent_creates_one_wins [async];
            users_unicode_email_round_trips = users::unicode_email_round_trips [async];
            users_longest_email_round_trips = users::longest_email_round_trips [async];
            users_password_hash_set_and_cleared = users::password_hash_set_and_cleared [async];
            users_mark_email_verified_keeps_first_time = users::mark_email_verified_keeps_first_time [async];
            users_timestamps_round_trip_exactly = users::timestamps_round_trip_exactly [async];
            users_delete_user = users::delete_user [async];
            users_email_lookup_is_not_a_pattern = users::email_lookup_is_not_a_pattern [async];
            users_extreme_timestamps_round_trip = users::extreme_timestamps_round_trip [async];
        }
    };
    // [`SessionStore`](authkit::SessionStore), given users from any store.
    (sessions, $callback:path, $args:tt) => {
        $callback! { $args
            sessions_create_then_read = sessions::create_then_read [async];
            sessions_create_duplicate_conflicts = sessions::create_duplicate_conflicts [async];
            sessions_session_by_id_live_only_and_does_not_slide = sessions::session_by_id_live_only_and_does_not_slide [async];
            sessions_touch_slides_idle_deadline = sessions::touch_slides_idle_deadline [async];
            sessions_touch_unknown_is_none = sessions::touch_unknown_is_none [async];
            sessions_touch_at_idle_deadline_is_none = sessions::touch_at_idle_deadline_is_none [async];
            sessions_touch_at_absolute_deadline_is_none = sessions::touch_at_absolute_deadline_is_none [async];
            sessions_touch_caps_at_absolute_deadline = sessions::touch_caps_at_absolute_deadline [async];
            sessions_touch_min_step_skips_small_moves = sessions::touch_min_step_skips_small_moves [async];
            sessions_touch_never_moves_deadline_backwards = sessions::touch_never_moves_deadline_backwards [async];
            sessions_touch_concurrent_keeps_latest_deadline = sessions::touch_concurrent_keeps_latest_deadline [async];
            sessions_payload_set_get_clear = sessions::payload_set_get_clear [async];
            sessions_revoke_session = sessions::revoke_session [async];
            sessions_revoke_user_sessions_except_one = sessions::revoke_user_sessions_except_one [async];
            sessions_list_live_only = sessions::list_live_only [async];
            sessions_purge_removes_only_dead = sessions::purge_removes_only_dead [async];
            sessions_purge_respects_limit = sessions::purge_respects_limit [async];
            sessions_concurrent_creates_one_hash_one_wins = sessions::concurrent_creates_one_hash_one_wins [async];
            sessions_revoke_races_touch = sessions::revoke_races_touch [async];
            sessions_contended_writes_all_succeed = sessions::contended_writes_all_succeed [async];
            sessions_edge_values_round_trip = sessions::edge_values_round_trip [async];
            sessions_debug_shows_no_secrets = sessions::debug_shows_no_secrets [async];
            props_sessions_match_model = props::sessions_match_model [sync];
        }
    };
    // [`TokenStore`](authkit::TokenStore), given users from any store.
    (tokens, $callback:path, $args:tt) => {
        $callback! { $args
            tokens_refresh_rotate_applies_rotation = tokens::refresh_rotate_applies_rotation [async];
            tokens_refresh_second_rotation_keeps_first_consumed_at = tokens::refresh_second_rotation_keeps_first_consumed_at [async];
            tokens_refresh_create_duplicate_conflicts = tokens::refresh_create_duplicate_conflicts [async];
            tokens_refresh_rotate_unknown_skips_rule = tokens::refresh_rotate_unknown_skips_rule [async];
            tokens_refresh_reject_changes_nothing = tokens::refresh_reject_changes_nothing [async];
            tokens_refresh_revoke_family_decision = tokens::refresh_revoke_family_decision [async];
            tokens_refresh_concurrent_rotation_rotates_once = tokens::refresh_concurrent_rotation_rotates_once [async];
            tokens_refresh_revoke_family_counts = tokens::refresh_revoke_family_counts [async];
            tokens_refresh_revoke_user_counts = tokens::refresh_revoke_user_counts [async];
            tokens_refresh_purge_keeps_unexpired = tokens::refresh_purge_keeps_unexpired [async];
            tokens_refresh_purge_respects_limit = tokens::refresh_purge_respects_limit [async];
            tokens_one_time_issue_then_consume = tokens::one_time_issue_then_consume [async];
            tokens_one_time_issue_duplicate_hash_conflicts = tokens::one_time_issue_duplicate_hash_conflicts [async];
            tokens_one_time_issue_invalidates_earlier = tokens::one_time_issue_invalidates_earlier [async];
            tokens_one_time_wrong_purpose_is_none = tokens::one_time_wrong_purpose_is_none [async];
            tokens_one_time_expiry_boundary = tokens::one_time_expiry_boundary [async];
            tokens_one_time_concurrent_consume_once = tokens::one_time_concurrent_consume_once [async];
            tokens_one_time_purge = tokens::one_time_purge [async];
            tokens_one_time_purge_respects_limit = tokens::one_time_purge_respects_limit [async];
            tokens_otp_no_code = tokens::otp_no_code [async];
            tokens_otp_decisions_applied = tokens::otp_decisions_applied [async];
            tokens_otp_cap_under_contention = tokens::otp_cap_under_contention [async];
            tokens_otp_accepted_consumes = tokens::otp_accepted_consumes [async];
            tokens_otp_concurrent_failures_counted = tokens::otp_concurrent_failures_counted [async];
            tokens_otp_concurrent_accept_once = tokens::otp_concurrent_accept_once [async];
            tokens_refresh_rotate_sees_every_stored_row = tokens::refresh_rotate_sees_every_stored_row [async];
            tokens_refresh_rotate_conflict_changes_nothing = tokens::refresh_rotate_conflict_changes_nothing [async];
            tokens_refresh_revoke_family_races_rotation = tokens::refresh_revoke_family_races_rotation [async];
            tokens_refresh_edge_values_round_trip = tokens::refresh_edge_values_round_trip [async];
            tokens_one_time_edge_values_round_trip = tokens::one_time_edge_values_round_trip [async];
            props_refresh_families_match_model = props::refresh_families_match_model [sync];
        }
    };
    // [`ApiKeyStore`](authkit::ApiKeyStore), given users from any store.
    (api_keys, $callback:path, $args:tt) => {
        $callback! { $args
            api_keys_create_then_read = api_keys::create_then_read [async];
            api_keys_create_duplicate_conflicts = api_keys::create_duplicate_conflicts [async];
            api_keys_list_by_owner_and_service_keys = api_keys::list_by_owner_and_service_keys [async];
            api_keys_update_fields = api_keys::update_fields [async];
            api_keys_revoke_keeps_first_reason = api_keys::revoke_keeps_first_reason [async];
            api_keys_revocation_visible_to_next_lookup = api_keys::revocation_visible_to_next_lookup [async];
            api_keys_replace_api_key = api_keys::replace_api_key [async];
            api_keys_record_usage_adds_up = api_keys::record_usage_adds_up [async];
            api_keys_record_usage_last_used_moves_forward = api_keys::record_usage_last_used_moves_forward [async];
            api_keys_record_usage_large_batch = api_keys::record_usage_large_batch [async];
            api_keys_delete_api_key = api_keys::delete_api_key [async];
            api_keys_purge_api_keys = api_keys::purge_api_keys [async];
            api_keys_revoke_races_replace = api_keys::revoke_races_replace [async];
            api_keys_replace_conflict_changes_nothing = api_keys::replace_conflict_changes_nothing [async];
            api_keys_edge_values_round_trip = api_keys::edge_values_round_trip [async];
            key_limits_count_request_windows = key_limits::count_request_windows [async];
            key_limits_count_request_concurrent_distinct = key_limits::count_request_concurrent_distinct [async];
            key_limits_api_key_for_request_counts_limited_keys = key_limits::api_key_for_request_counts_limited_keys [async];
            key_limits_update_rate_limit = key_limits::update_rate_limit [async];
            key_limits_record_usage_user_agent = key_limits::record_usage_user_agent [async];
        }
    };
    // [`RbacStore`](authkit::RbacStore), given users from any store.
    (rbac, $callback:path, $args:tt) => {
        $callback! { $args
            rbac_define_and_list = rbac::define_and_list [async];
            rbac_define_duplicate_conflicts = rbac::define_duplicate_conflicts [async];
            rbac_missing_items_in_given_order = rbac::missing_items_in_given_order [async];
            rbac_grant_to_role = rbac::grant_to_role [async];
            rbac_assign_role = rbac::assign_role [async];
            rbac_grant_to_user = rbac::grant_to_user [async];
            rbac_user_grants_union = rbac::user_grants_union [async];
            rbac_remove_item_removes_grants = rbac::remove_item_removes_grants [async];
            rbac_slugs_match_exactly = rbac::slugs_match_exactly [async];
            key_limits_key_roles = key_limits::key_roles [async];
        }
    };
    // What a store that also holds the users promises: unknown users refused (a foreign key), and deleting a user cascades to every row of it.
    (shared_users, $callback:path, $args:tt) => {
        $callback! { $args
            sessions_create_unknown_user_not_found = sessions::create_unknown_user_not_found [async];
            tokens_refresh_create_unknown_user_not_found = tokens::refresh_create_unknown_user_not_found [async];
            tokens_one_time_issue_unknown_user_not_found = tokens::one_time_issue_unknown_user_not_found [async];
            api_keys_create_unknown_owner_not_found = api_keys::create_unknown_owner_not_found [async];
            rbac_unknown_user_not_found = rbac::unknown_user_not_found [async];
            rbac_not_found_names_what_is_unknown = rbac::not_found_names_what_is_unknown [async];
            cascade_delete_user_races_creates = cascade::delete_user_races_creates [async];
            tokens_refresh_rotate_unknown_user_changes_nothing = tokens::refresh_rotate_unknown_user_changes_nothing [async];
            api_keys_replace_unknown_owner_changes_nothing = api_keys::replace_unknown_owner_changes_nothing [async];
            cascade_delete_user_removes_everything = cascade::delete_user_removes_everything [async];
            key_limits_key_roles_follow_the_key = key_limits::key_roles_follow_the_key [async];
        }
    };
    // Every flow of [`authkit::Auth`] end to end over the whole store set, mixed or not.
    (flows, $callback:path, $args:tt) => {
        $callback! { $args
            flows_password_login = flows::password_login [async];
            flows_email_rules = flows::email_rules [async];
            flows_password_policy = flows::password_policy [async];
            flows_register_in_one_call = flows::register_in_one_call [async];
            audit_flows_events_reach_the_sink = audit_flows::events_reach_the_sink [async];
            audit_flows_panicking_sink_blocks_nothing = audit_flows::panicking_sink_blocks_nothing [async];
            audit_flows_family_profile_set_audited = audit_flows::family_profile_set_audited [async];
            flows_outdated_hash_upgraded = flows::outdated_hash_upgraded [async];
            flows_login_hook = flows::login_hook [async];
            flows_session_slides_and_idles_out = flows::session_slides_and_idles_out [async];
            flows_session_absolute_cap = flows::session_absolute_cap [async];
            flows_session_bad_input = flows::session_bad_input [async];
            flows_session_revocation = flows::session_revocation [async];
            flows_session_cookie = flows::session_cookie [async];
            flows_access_token_checks = flows::access_token_checks [async];
            flows_access_token_algorithm_pinned = flows::access_token_algorithm_pinned [async];
            flows_access_token_refuses_what_we_would_not_issue = flows::access_token_refuses_what_we_would_not_issue [async];
            flows_refresh_rotation_and_reuse = flows::refresh_rotation_and_reuse [async];
            flows_refresh_bad_input = flows::refresh_bad_input [async];
            flows_refresh_expiry_and_chain_cap = flows::refresh_expiry_and_chain_cap [async];
            flows_refresh_reuse_grace = flows::refresh_reuse_grace [async];
            flows_refresh_concurrent = flows::refresh_concurrent [async];
            flows_refresh_revocation = flows::refresh_revocation [async];
            refresh_races_one_server_rotates_once = refresh_races::one_server_rotates_once [async];
            refresh_races_two_servers_rotate_once = refresh_races::two_servers_rotate_once [async];
            refresh_races_grace_rotates_at_most_twice = refresh_races::grace_rotates_at_most_twice [async];
            refresh_races_server_clock_behind = refresh_races::server_clock_behind [async];
            flows_delete_user_ends_everything = flows::delete_user_ends_everything [async];
            flows_purge_counts = flows::purge_counts [async];
            flows_invalid_config_refused = flows::invalid_config_refused [async];
            flows_issued_tokens_resist_tampering = flows::issued_tokens_resist_tampering [sync];
            one_time_flows_verify_email_once = one_time_flows::verify_email_once [async];
            one_time_flows_reset_password_revokes_credentials = one_time_flows::reset_password_revokes_credentials [async];
            one_time_flows_reset_password_weak_keeps_link = one_time_flows::reset_password_weak_keeps_link [async];
            one_time_flows_new_request_replaces_same_purpose = one_time_flows::new_request_replaces_same_purpose [async];
            one_time_flows_purposes_never_cross = one_time_flows::purposes_never_cross [async];
            one_time_flows_links_expire_at_ttl = one_time_flows::links_expire_at_ttl [async];
            one_time_flows_magic_link_login = one_time_flows::magic_link_login [async];
            one_time_flows_otp_digits_and_login = one_time_flows::otp_digits_and_login [async];
            one_time_flows_otp_wrong_codes_lock = one_time_flows::otp_wrong_codes_lock [async];
            one_time_flows_otp_concurrent_failures_counted = one_time_flows::otp_concurrent_failures_counted [async];
            one_time_flows_unknown_email_requests = one_time_flows::unknown_email_requests [async];
            one_time_flows_magic_link_concurrent_once = one_time_flows::magic_link_concurrent_once [async];
            api_key_flows_create_key_types = api_key_flows::create_key_types [async];
            api_key_flows_default_scopes_per_type = api_key_flows::default_scopes_per_type [async];
            api_key_flows_malformed_and_unknown_keys = api_key_flows::malformed_and_unknown_keys [async];
            api_key_flows_revoked_key = api_key_flows::revoked_key [async];
            api_key_flows_expired_key = api_key_flows::expired_key [async];
            api_key_flows_ip_allow_list = api_key_flows::ip_allow_list [async];
            api_key_flows_scopes_and_wildcards = api_key_flows::scopes_and_wildcards [async];
            api_key_flows_publishable_scopes_limited = api_key_flows::publishable_scopes_limited [async];
            api_key_flows_malformed_cidr_stores_nothing = api_key_flows::malformed_cidr_stores_nothing [async];
            api_key_flows_service_key_abilities = api_key_flows::service_key_abilities [async];
            api_key_flows_rotation_without_grace = api_key_flows::rotation_without_grace [async];
            api_key_flows_rotation_with_grace = api_key_flows::rotation_with_grace [async];
            api_key_flows_update_fields = api_key_flows::update_fields [async];
            api_key_flows_usage_counts_every_verification = api_key_flows::usage_counts_every_verification [async];
            key_access_rate_limit_holds_across_servers = key_access::rate_limit_holds_across_servers [async];
            key_access_rate_limit_retry_after = key_access::rate_limit_retry_after [async];
            key_access_rate_limit_bounds = key_access::rate_limit_bounds [async];
            key_access_environment_restriction = key_access::environment_restriction [async];
            key_access_user_agent_recorded = key_access::user_agent_recorded [async];
            key_access_key_roles_and_delegation = key_access::key_roles_and_delegation [async];
            key_access_impersonation_needs_the_permission = key_access::impersonation_needs_the_permission [async];
            api_key_flows_usage_flush_waits_for_background_writes = api_key_flows::usage_flush_waits_for_background_writes [async];
            api_key_flows_one_background_flush_at_a_time = api_key_flows::one_background_flush_at_a_time [async];
            api_key_flows_revoked_while_verifying = api_key_flows::revoked_while_verifying [async];
            api_key_flows_owner_deletion_deletes_keys = api_key_flows::owner_deletion_deletes_keys [async];
            rbac_flows_define_refuses_bad_slugs = rbac_flows::define_refuses_bad_slugs [async];
            rbac_flows_define_duplicate_slug_taken = rbac_flows::define_duplicate_slug_taken [async];
            rbac_flows_grants_union = rbac_flows::grants_union [async];
            rbac_flows_grant_errors = rbac_flows::grant_errors [async];
            rbac_flows_user_predicates = rbac_flows::user_predicates [async];
            rbac_flows_service_key_predicates = rbac_flows::service_key_predicates [async];
            rbac_flows_check_predicate_refuses_unknown = rbac_flows::check_predicate_refuses_unknown [async];
            rbac_flows_revocations_take_effect = rbac_flows::revocations_take_effect [async];
            rbac_flows_delete_user_removes_grants = rbac_flows::delete_user_removes_grants [async];
            bff_flows_bff_session_round_trips = bff_flows::bff_session_round_trips [async];
            bff_flows_payload_bound_to_session = bff_flows::payload_bound_to_session [async];
            bff_flows_payload_keys_rotate = bff_flows::payload_keys_rotate [async];
            bff_flows_payload_key_errors = bff_flows::payload_key_errors [async];
            profile_flows_audiences_refuse_each_other = profile_flows::audiences_refuse_each_other [async];
            profile_flows_api_token_scopes = profile_flows::api_token_scopes [async];
            profile_flows_profiles_set_lifetimes = profile_flows::profiles_set_lifetimes [async];
            profile_flows_unknown_profile_stores_nothing = profile_flows::unknown_profile_stores_nothing [async];
            profile_flows_changed_profile_applies_on_refresh = profile_flows::changed_profile_applies_on_refresh [async];
            profile_flows_removed_profile_refuses_refresh = profile_flows::removed_profile_refuses_refresh [async];
            profile_flows_profile_over_cap_refused = profile_flows::profile_over_cap_refused [async];
            profile_flows_standard_access_tokens_jittered = profile_flows::standard_access_tokens_jittered [async];
            machine_flows_service_key_exchanged_and_verified = machine_flows::service_key_exchanged_and_verified [async];
            machine_flows_lifetime_defaults_to_one_hour = machine_flows::lifetime_defaults_to_one_hour [async];
            machine_flows_user_keys_refused = machine_flows::user_keys_refused [async];
            machine_flows_revoked_and_expired_keys_refused = machine_flows::revoked_and_expired_keys_refused [async];
            machine_flows_uncovered_scopes_refused = machine_flows::uncovered_scopes_refused [async];
            machine_flows_disallowed_ips_refused = machine_flows::disallowed_ips_refused [async];
        }
    };
    ($other:ident, $callback:path, $args:tt) => {
        compile_error!(concat!(
            "unknown conformance group `",
            stringify!($other),
            "`: use users, sessions, tokens, api_keys, rbac, shared_users or flows"
        ));
    };
}

/// Calls `$callback!` once per group, for every case of the suite.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_case {
    ($callback:path, $args:tt) => {
        $crate::__cases!(users, $callback, $args);
        $crate::__cases!(sessions, $callback, $args);
        $crate::__cases!(tokens, $callback, $args);
        $crate::__cases!(api_keys, $callback, $args);
        $crate::__cases!(rbac, $callback, $args);
        $crate::__cases!(shared_users, $callback, $args);
        $crate::__cases!(flows, $callback, $args);
    };
}

/// Expands the entries of [`__for_each_case!`] into tests for one factory.
#[doc(hidden)]
#[macro_export]
macro_rules! __suite_tests {
    (($factory:expr) $($test:ident = $module:ident :: $case:ident [$kind:tt];)*) => {
        $( $crate::__suite_test!($factory, $test, $module, $case, $kind); )*
    };
}

/// One test of [`__suite_tests!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __suite_test {
    ($factory:expr, $test:ident, $module:ident, $case:ident, async) => {
        #[test]
        fn $test() {
            const _: () = assert!(
                $crate::__name_is(stringify!($test), stringify!($module), stringify!($case)),
                "a test in __for_each_case! is not named module_case"
            );
            $crate::__run_async(async {
                let factory = $factory;
                $crate::cases::$module::$case(&factory).await;
            });
        }
    };
    ($factory:expr, $test:ident, $module:ident, $case:ident, sync) => {
        #[test]
        fn $test() {
            const _: () = assert!(
                $crate::__name_is(stringify!($test), stringify!($module), stringify!($case)),
                "a test in __for_each_case! is not named module_case"
            );
            let factory = $factory;
            $crate::cases::$module::$case(&factory);
        }
    };
}

/// Runs one async case to completion on a fresh multi-thread runtime with 4 workers.
#[doc(hidden)]
pub fn __run_async<Fut: std::future::Future<Output = ()>>(case: Fut) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .expect("build a tokio runtime for the case")
        .block_on(case);
}

/// `test == module + "_" + case`, in a const context.
#[doc(hidden)]
pub const fn __name_is(test: &str, module: &str, case: &str) -> bool {
    let (t, m, c) = (test.as_bytes(), module.as_bytes(), case.as_bytes());
    if t.len() != m.len() + 1 + c.len() || t[m.len()] != b'_' {
        return false;
    }
    let mut i = 0;
    while i < m.len() {
        if t[i] != m[i] {
            return false;
        }
        i += 1;
    }
    let mut j = 0;
    while j < c.len() {
        if t[m.len() + 1 + j] != c[j] {
            return false;
        }
        j += 1;
    }
    true
}

/// Cleans up after one case when dropped: drops its schema or database, deletes its
/// file, removes its key prefix. Runs to completion on a thread of its own with a runtime
/// of its own, so it works inside an async case, outside one (property cases), and while
/// unwinding from a failed assertion.
///
/// A factory keeps one per [`StoreFactory::stores`] call; the suite drops the factory
/// when the case ends, and with it the guards:
///
/// ```
/// use std::sync::Mutex;
/// use authkit::Stores;
/// use authkit_conformance::{Cleanup, StoreFactory, async_trait};
///
/// #[derive(Default)]
/// struct FileFactory {
///     guards: Mutex<Vec<Cleanup>>,
/// }
///
/// #[async_trait]
/// impl StoreFactory for FileFactory {
///     async fn stores(&self) -> Stores {
///         let path = std::env::temp_dir().join(format!("case-{}.db", authkit::UserId::new()));
///         let doomed = path.clone();
///         self.guards.lock().unwrap().push(Cleanup::new(async move {
///             let _ = std::fs::remove_file(doomed);
///         }));
///         # let _ = path;
///         Stores::from_backend(authkit_memory::MemoryStore::new()) // open `path` here
///     }
/// }
/// ```
///
/// A key-value store (Redis, say) isolates cases the same way: a random key prefix per
/// call, and a `Cleanup` that deletes the keys under it.
pub struct Cleanup(Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>);

impl Cleanup {
    /// A guard that runs `cleanup` when dropped.
    pub fn new(cleanup: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        Cleanup(Some(Box::pin(cleanup)))
    }
}

impl std::fmt::Debug for Cleanup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cleanup")
            .field("pending", &self.0.is_some())
            .finish()
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(cleanup) = self.0.take() else {
            return;
        };
        let worker = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(cleanup);
            }
        });
        let _ = worker.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Unused;

    #[async_trait::async_trait]
    impl StoreFactory for Unused {
        async fn stores(&self) -> authkit::Stores {
            unreachable!("only type-checked")
        }
    }

    fn assert_send<T: Send>(_: &T) {}

    /// Every async case's future is `Send`, so a store author may spawn it.
    macro_rules! check_send {
        (($factory:expr) $($test:ident = $module:ident :: $case:ident [$kind:tt];)*) => {
            $( check_send!(@one $factory, $module, $case, $kind); )*
        };
        (@one $factory:expr, $module:ident, $case:ident, async) => {
            assert_send(&crate::cases::$module::$case($factory));
        };
        (@one $factory:expr, $module:ident, $case:ident, sync) => {};
    }

    #[allow(dead_code)]
    fn every_async_case_is_send() {
        crate::__for_each_case!(check_send, (&Unused));
    }

    /// Collects `module::case` of every listed case.
    macro_rules! collect_names {
        (($names:expr) $($test:ident = $module:ident :: $case:ident [$kind:tt];)*) => {
            $( $names.push(concat!(stringify!($module), "::", stringify!($case))); )*
        };
    }

    /// The source of every case module, to find the public case functions in.
    const MODULES: &[(&str, &str)] = &[
        ("api_key_flows", include_str!("cases/api_key_flows.rs")),
        ("api_keys", include_str!("cases/api_keys.rs")),
        ("audit_flows", include_str!("cases/audit_flows.rs")),
        ("bff_flows", include_str!("cases/bff_flows.rs")),
        ("cascade", include_str!("cases/cascade.rs")),
        ("flows", include_str!("cases/flows.rs")),
        ("key_access", include_str!("cases/key_access.rs")),
        ("key_limits", include_str!("cases/key_limits.rs")),
        ("machine_flows", include_str!("cases/machine_flows.rs")),
        ("one_time_flows", include_str!("cases/one_time_flows.rs")),
        ("profile_flows", include_str!("cases/profile_flows.rs")),
        ("props", include_str!("cases/props.rs")),
        ("rbac", include_str!("cases/rbac.rs")),
        ("rbac_flows", include_str!("cases/rbac_flows.rs")),
        ("refresh_races", include_str!("cases/refresh_races.rs")),
        ("sessions", include_str!("cases/sessions.rs")),
        ("tokens", include_str!("cases/tokens.rs")),
        ("users", include_str!("cases/users.rs")),
    ];

    /// Every public function generic over a `StoreFactory` is a case, and every case is
    /// listed in exactly one group: a case cannot be written and then never run.
    #[test]
    fn every_case_is_expanded_once() {
        // Filled by the macro one push per case; `vec![]` cannot take its expansion.
        #[allow(clippy::vec_init_then_push)]
        let listed = {
            let mut listed: Vec<&str> = Vec::new();
            crate::__for_each_case!(collect_names, (listed));
            listed
        };
        let mut defined = Vec::new();
        for (module, source) in MODULES {
            for line in source.lines() {
                let line = line.trim_start();
                let rest = line
                    .strip_prefix("pub async fn ")
                    .or_else(|| line.strip_prefix("pub fn "));
                let Some(rest) = rest else { continue };
                // A case takes the factory alone and returns nothing; helpers differ.
                if let Some((name, signature)) = rest.split_once('<')
                    && signature.starts_with("F: StoreFactory>(factory: &F) {")
                {
                    defined.push(format!("{module}::{name}"));
                }
            }
        }
        let mut sorted_listed: Vec<String> = listed.iter().map(|s| (*s).to_owned()).collect();
        sorted_listed.sort();
        let before = sorted_listed.len();
        sorted_listed.dedup();
        assert_eq!(before, sorted_listed.len(), "a case is listed twice");
        let unlisted: Vec<_> = defined
            .iter()
            .filter(|d| !sorted_listed.contains(d))
            .collect();
        let undefined: Vec<_> = sorted_listed
            .iter()
            .filter(|l| !defined.contains(l))
            .collect();
        assert!(
            unlisted.is_empty() && undefined.is_empty(),
            "cases never expanded by conformance_suite!: {unlisted:?}; \
             listed but not found as `pub (async) fn name<F: StoreFactory>(factory: &F)`: \
             {undefined:?}"
        );
        let module_count = crate::cases::MODULE_COUNT;
        assert_eq!(
            MODULES.len(),
            module_count,
            "a case module is missing from MODULES"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(__name_is("users_delete_user", "users", "delete_user"));
        assert!(!__name_is("users_delete", "users", "delete_user"));
        assert!(!__name_is("usersxdelete_user", "users", "delete_user"));
        assert!(!__name_is("user_delete_users", "users", "delete_user"));
    }
}
