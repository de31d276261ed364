//! The suite's self-test: stores with one deliberate bug each must fail the cases that
//! guard against that bug, and the same stores without the bug must pass them.
//!
//! Each broken store wraps a [`MemoryStore`](authkit_memory::MemoryStore) and delegates
//! every method, but one method of it behaves the way a backend author could get it
//! wrong ([`store::Fault`]). One test per fault, in the module of the trait it breaks,
//! names the contract sentence and the cases that catch it. `faults_stay_local` checks
//! that each fault shows only where it lives, so every catch is the bug's and not the
//! wrapper's.
//!
//! `cargo nextest run -p authkit-conformance --test broken`

// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Runs one async case on a store with `fault`, in its own task; `true` if it failed.
macro_rules! case_fails {
    ($fault:expr, $module:ident :: $case:ident) => {{
        let fault: $crate::store::Fault = $fault;
        let factory = $crate::store::BrokenFactory(fault);
        match tokio::spawn(
            async move { authkit_conformance::cases::$module::$case(&factory).await },
        )
        .await
        {
            Ok(()) => false,
            Err(err) if err.is_panic() => true,
            Err(err) => panic!("{} was cancelled: {err}", stringify!($case)),
        }
    }};
}

/// Asserts that each case passes on the control store and fails with `fault`.
macro_rules! assert_caught {
    ($fault:expr => $($module:ident :: $case:ident),+ $(,)?) => {{
        $(
            assert!(
                !case_fails!($crate::store::Fault::None, $module::$case),
                "control: {}::{} fails on a correct store",
                stringify!($module),
                stringify!($case)
            );
            assert!(
                case_fails!($fault, $module::$case),
                "{}::{} passes on a store with {:?}",
                stringify!($module),
                stringify!($case),
                $fault
            );
        )+
    }};
}

mod api_keys;
mod rbac;
mod sessions;
mod store;
mod tokens;
mod users;

use store::{Area, BrokenFactory, Fault};

/// Runs the smoke cases of `area` on a store with `fault`; returns the names of those
/// that failed.
async fn smoke_failures(area: Area, fault: Fault) -> Vec<&'static str> {
    let mut failed = Vec::new();
    let mut check = |name, fails| {
        if fails {
            failed.push(name);
        }
    };
    match area {
        Area::None => {}
        Area::Users => {
            check(
                "users::create_then_read",
                case_fails!(fault, users::create_then_read),
            );
            check(
                "users::password_hash_set_and_cleared",
                case_fails!(fault, users::password_hash_set_and_cleared),
            );
        }
        Area::Sessions => {
            check(
                "sessions::create_then_read",
                case_fails!(fault, sessions::create_then_read),
            );
            check(
                "sessions::touch_slides_idle_deadline",
                case_fails!(fault, sessions::touch_slides_idle_deadline),
            );
            check(
                "sessions::revoke_user_sessions_except_one",
                case_fails!(fault, sessions::revoke_user_sessions_except_one),
            );
        }
        Area::Refresh => {
            check(
                "tokens::refresh_rotate_applies_rotation",
                case_fails!(fault, tokens::refresh_rotate_applies_rotation),
            );
            check(
                "tokens::refresh_revoke_user_counts",
                case_fails!(fault, tokens::refresh_revoke_user_counts),
            );
        }
        Area::OneTime => {
            check(
                "tokens::one_time_issue_then_consume",
                case_fails!(fault, tokens::one_time_issue_then_consume),
            );
            check(
                "tokens::otp_decisions_applied",
                case_fails!(fault, tokens::otp_decisions_applied),
            );
        }
        Area::ApiKeys => {
            check(
                "api_keys::create_then_read",
                case_fails!(fault, api_keys::create_then_read),
            );
            check(
                "api_keys::update_fields",
                case_fails!(fault, api_keys::update_fields),
            );
        }
        Area::Rbac => {
            check(
                "rbac::grant_to_role",
                case_fails!(fault, rbac::grant_to_role),
            );
            check(
                "rbac::user_grants_union",
                case_fails!(fault, rbac::user_grants_union),
            );
        }
    }
    failed
}

/// Each fault stays in its part of the store: a broken store still passes the smoke cases
/// of every other part, so each failure in the trait modules is the bug's and not the
/// wrapper's. The control passes all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn faults_stay_local() {
    for area in Area::ALL {
        let failed = smoke_failures(area, Fault::None).await;
        assert!(failed.is_empty(), "control fails {failed:?}");
    }
    for &fault in Fault::ALL {
        for area in Area::ALL {
            if area == fault.area() {
                continue;
            }
            let failed = smoke_failures(area, fault).await;
            assert!(
                failed.is_empty(),
                "{fault:?} (in {:?}) fails cases of {area:?}: {failed:?}",
                fault.area()
            );
        }
    }
}

/// [`Fault::ALL`] names each fault once, and every fault has an area.
#[test]
fn faults_are_listed_once() {
    let mut seen = std::collections::HashSet::new();
    for fault in Fault::ALL {
        assert!(seen.insert(*fault), "{fault:?} listed twice in Fault::ALL");
        assert_ne!(fault.area(), Area::None, "{fault:?} has no area");
    }
    assert_eq!(
        BrokenFactory(Fault::None).0.area(),
        Area::None,
        "the control"
    );
}
