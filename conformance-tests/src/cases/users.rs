//! [`UserStore`](authkit::UserStore): unique emails compared ignoring ASCII case, kept
//! exactly as given; password hash; verification time; exact timestamps.

use authkit::clock::truncate_to_micros;
use authkit::{MAX_EMAIL_BYTES, StoreError, UserId};
use time::Duration;
use time::macros::datetime;

use crate::StoreFactory;
use crate::fixtures::{BASE, at, create_user, together, user};

/// A created user reads back equal by id and by email.
pub async fn create_then_read<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let mut alice = user("alice@example.com");
    alice.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned());
    stores.users.create_user(&alice).await.expect("create_user");

    let by_id = stores.users.user_by_id(alice.id).await.expect("user_by_id");
    assert_eq!(by_id.as_ref(), Some(&alice), "user_by_id");
    let by_email = stores
        .users
        .user_by_email(&alice.email)
        .await
        .expect("user_by_email");
    assert_eq!(by_email.as_ref(), Some(&alice), "user_by_email");
}

/// Unknown ids and emails are `None`, not errors.
pub async fn missing_user_is_none<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    create_user(&stores).await;
    let by_id = stores
        .users
        .user_by_id(UserId::new())
        .await
        .expect("user_by_id");
    assert_eq!(by_id, None, "user_by_id of an unknown id");
    let by_email = stores
        .users
        .user_by_email("nobody@example.com")
        .await
        .expect("user_by_email");
    assert_eq!(by_email, None, "user_by_email of an unknown email");
    let empty = stores.users.user_by_email("").await.expect("user_by_email");
    assert_eq!(empty, None, "user_by_email of the empty string");
}

/// Lookups ignore ASCII case, and the stored email is returned exactly as it was given.
pub async fn email_lookup_ignores_ascii_case<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let alice = user("alice@x.io");
    stores.users.create_user(&alice).await.expect("create_user");
    for probe in ["ALICE@x.io", "Alice@X.Io", "alice@X.IO"] {
        let found = stores
            .users
            .user_by_email(probe)
            .await
            .expect("user_by_email");
        assert_eq!(found.as_ref(), Some(&alice), "user_by_email({probe:?})");
    }

    // A caller that bypasses core may hand over mixed case: it is kept as given.
    let bob = user("Bob@X.io");
    stores.users.create_user(&bob).await.expect("create_user");
    let found = stores
        .users
        .user_by_email("bob@x.io")
        .await
        .expect("user_by_email");
    assert_eq!(
        found.as_ref(),
        Some(&bob),
        "user_by_email must find a user stored in mixed case by its lowercase email"
    );
    assert_eq!(
        found.expect("user_by_email: the user is stored").email,
        "Bob@X.io",
        "create_user must keep the email exactly as given (mixed case included)"
    );
}

/// A second user whose email differs only in ASCII case is a `Conflict`, and nothing of
/// it is written.
pub async fn duplicate_email_conflicts_ignoring_case<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let first = user("alice@x.io");
    stores.users.create_user(&first).await.expect("create_user");

    for email in ["alice@x.io", "ALICE@x.io", "Alice@X.IO"] {
        let loser = user(email);
        let err = stores.users.create_user(&loser).await.expect_err(
            "create_user of an email taken in another ASCII case must fail with Conflict",
        );
        assert!(
            matches!(err, StoreError::Conflict { .. }),
            "create_user({email:?}) over alice@x.io: expected Conflict, got {err:?}"
        );
        let written = stores.users.user_by_id(loser.id).await.expect("user_by_id");
        assert_eq!(
            written, None,
            "the losing create_user({email:?}) left a row"
        );
    }
    let still = stores
        .users
        .user_by_email("alice@x.io")
        .await
        .expect("user_by_email");
    assert_eq!(
        still.as_ref(),
        Some(&first),
        "a create_user refused with Conflict must not change the first user"
    );
}

/// Inserting a second user with an existing id is a `Conflict` and changes nothing.
pub async fn duplicate_id_conflicts<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let first = create_user(&stores).await;
    // Every field differs, so a failed create that wrote any of them shows.
    let mut clash = user("someone-else@example.com");
    clash.id = first.id;
    clash.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$Y2xhc2g$Y2xhc2g".to_owned());
    clash.email_verified_at = Some(at(5));
    clash.created_at = at(5);
    clash.updated_at = at(6);
    let err = stores
        .users
        .create_user(&clash)
        .await
        .expect_err("create_user (duplicate id) must fail with Conflict");
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "create_user: duplicate id: expected Conflict, got {err:?}"
    );
    let by_id = stores.users.user_by_id(first.id).await.expect("user_by_id");
    assert_eq!(
        by_id.as_ref(),
        Some(&first),
        "a create_user refused with Conflict (duplicate id) must not change the first user"
    );
    let by_email = stores
        .users
        .user_by_email(&clash.email)
        .await
        .expect("user_by_email");
    assert_eq!(by_email, None, "the losing create_user left a row");
}

/// 32 concurrent creates of one email (in different ASCII cases): exactly one wins, the
/// others get `Conflict` and leave nothing.
pub async fn concurrent_creates_one_wins<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let candidates: Vec<_> = (0..32)
        .map(|i: u32| {
            // Uppercase a different subset of the letters of "racer" for each task.
            let local: String = "racer"
                .chars()
                .enumerate()
                .map(|(bit, c)| {
                    if i & (1 << bit) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect();
            user(&format!("{local}@x.io"))
        })
        .collect();
    let results = together(candidates.len(), |i| {
        let stores = stores.clone();
        let candidate = candidates[i].clone();
        async move { stores.users.create_user(&candidate).await }
    })
    .await;

    let winners: Vec<_> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "create_user: exactly one of 32 concurrent creates with one email wins, got {winners:?}"
    );
    for (i, result) in results.iter().enumerate() {
        if let Err(err) = result {
            assert!(
                matches!(err, StoreError::Conflict { .. }),
                "create_user: loser {i} of a race on one email: expected Conflict, got {err:?}"
            );
        }
    }
    let winner = &candidates[winners[0]];
    for (i, candidate) in candidates.iter().enumerate() {
        let row = stores
            .users
            .user_by_id(candidate.id)
            .await
            .expect("user_by_id");
        if i == winners[0] {
            assert_eq!(
                row.as_ref(),
                Some(winner),
                "create_user: the winner of the race is stored as given"
            );
        } else {
            assert_eq!(
                row, None,
                "create_user: loser {i} of a race on one email left a row"
            );
        }
    }
    let found = stores
        .users
        .user_by_email("racer@x.io")
        .await
        .expect("user_by_email");
    assert_eq!(
        found.as_ref(),
        Some(winner),
        "user_by_email after a race on one email must find the winner"
    );
}

/// A non-ASCII email round-trips byte for byte and is found with its ASCII letters
/// in another case.
pub async fn unicode_email_round_trips<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let jurgen = user("jürgen@exämple.de");
    stores
        .users
        .create_user(&jurgen)
        .await
        .expect("create_user");
    let found = stores
        .users
        .user_by_email("jürgen@exämple.de")
        .await
        .expect("user_by_email")
        .expect("user_by_email of the exact unicode email");
    assert_eq!(
        found.email.as_bytes(),
        jurgen.email.as_bytes(),
        "create_user must keep a non-ASCII email byte for byte"
    );
    assert_eq!(
        found, jurgen,
        "user_by_email must return the unicode user exactly as stored"
    );
    // Only the ASCII letters change case here: the lookup must still find it.
    let upper = stores
        .users
        .user_by_email("JüRGEN@EXäMPLE.DE")
        .await
        .expect("user_by_email");
    assert_eq!(
        upper.as_ref(),
        Some(&jurgen),
        "user_by_email must ignore ASCII case in a non-ASCII email"
    );
    // A different non-ASCII letter is a different email.
    let other = stores
        .users
        .user_by_email("jurgen@exämple.de")
        .await
        .expect("user_by_email");
    assert_eq!(
        other, None,
        "user_by_email must not fold non-ASCII letters: ü and u differ"
    );

    let emoji = user("😀+tag@例え.jp");
    stores.users.create_user(&emoji).await.expect("create_user");
    let found = stores
        .users
        .user_by_email("😀+tag@例え.jp")
        .await
        .expect("user_by_email");
    assert_eq!(
        found.as_ref(),
        Some(&emoji),
        "create_user then user_by_email of a four-byte UTF-8 email"
    );
}

/// An email of the maximum length ([`MAX_EMAIL_BYTES`], 254 bytes) round-trips.
pub async fn longest_email_round_trips<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let local = "l".repeat(64);
    let domain_len = MAX_EMAIL_BYTES - local.len() - 1;
    let labels = "d".repeat(domain_len - 3);
    let email = format!("{local}@{labels}.io");
    assert_eq!(
        email.len(),
        MAX_EMAIL_BYTES,
        "fixture: the email is exactly MAX_EMAIL_BYTES long"
    );
    let long = user(&email);
    stores.users.create_user(&long).await.expect("create_user");
    let found = stores
        .users
        .user_by_email(&email)
        .await
        .expect("user_by_email");
    assert_eq!(
        found.as_ref(),
        Some(&long),
        "create_user then user_by_email of a 254-byte email"
    );
    let found = stores.users.user_by_id(long.id).await.expect("user_by_id");
    assert_eq!(
        found.as_ref(),
        Some(&long),
        "create_user then user_by_id of a 254-byte email"
    );
    let upper = stores
        .users
        .user_by_email(&email.to_ascii_uppercase())
        .await
        .expect("user_by_email");
    assert_eq!(
        upper.as_ref(),
        Some(&long),
        "user_by_email of a 254-byte email in upper case"
    );
}

/// `set_password_hash` sets and clears the hash and stamps `updated_at`; an unknown id
/// is `NotFound`.
pub async fn password_hash_set_and_cleared<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let phc = "$argon2id$v=19$m=19456,t=2,p=1$bm90LXJlYWw$bm90LXJlYWwtZWl0aGVy";

    stores
        .users
        .set_password_hash(u.id, Some(phc), at(10))
        .await
        .expect("set_password_hash");
    let after = stores
        .users
        .user_by_id(u.id)
        .await
        .expect("user_by_id")
        .expect("user_by_id: the user is stored");
    let mut expected = u.clone();
    expected.password_hash = Some(phc.to_owned());
    expected.updated_at = at(10);
    assert_eq!(
        after, expected,
        "set_password_hash must set the hash and updated_at = now, nothing else"
    );

    stores
        .users
        .set_password_hash(u.id, None, at(20))
        .await
        .expect("set_password_hash");
    let after = stores
        .users
        .user_by_id(u.id)
        .await
        .expect("user_by_id")
        .expect("user_by_id: the user is stored");
    expected.password_hash = None;
    expected.updated_at = at(20);
    assert_eq!(
        after, expected,
        "set_password_hash(None) must remove the hash and set updated_at = now"
    );

    let err = stores
        .users
        .set_password_hash(UserId::new(), Some(phc), at(30))
        .await
        .expect_err("set_password_hash (unknown user) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "set_password_hash: unknown user: expected NotFound, got {err:?}"
    );
}

/// `mark_email_verified` stamps the first verification and keeps it; an unknown id is
/// `NotFound`.
pub async fn mark_email_verified_keeps_first_time<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;

    stores
        .users
        .mark_email_verified(u.id, at(10))
        .await
        .expect("mark_email_verified");
    let mut expected = u.clone();
    expected.email_verified_at = Some(at(10));
    expected.updated_at = at(10);
    let after = stores
        .users
        .user_by_id(u.id)
        .await
        .expect("user_by_id")
        .expect("user_by_id: the user is stored");
    assert_eq!(
        after, expected,
        "mark_email_verified must set email_verified_at and updated_at to now"
    );

    stores
        .users
        .mark_email_verified(u.id, at(20))
        .await
        .expect("mark_email_verified");
    let after = stores
        .users
        .user_by_id(u.id)
        .await
        .expect("user_by_id")
        .expect("user_by_id: the user is stored");
    assert_eq!(
        after, expected,
        "a second mark_email_verified must keep the first time (and updated_at)"
    );

    let err = stores
        .users
        .mark_email_verified(UserId::new(), at(30))
        .await
        .expect_err("mark_email_verified (unknown user) must fail with NotFound");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "mark_email_verified: unknown user: expected NotFound, got {err:?}"
    );
}

/// Timestamps with odd microseconds, before 2000 and after 2038, read back exactly.
pub async fn timestamps_round_trip_exactly<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let odd = truncate_to_micros(BASE + Duration::nanoseconds(1_000_999_999));
    assert_ne!(
        odd.microsecond() % 1000,
        0,
        "fixture: sub-millisecond micros"
    );
    let mut u = user("times@example.com");
    u.created_at = truncate_to_micros(datetime!(1999-12-31 23:59:59.999999 UTC));
    u.updated_at = odd;
    u.email_verified_at = Some(datetime!(2099-12-31 23:59:59.000001 UTC));
    stores.users.create_user(&u).await.expect("create_user");
    let found = stores
        .users
        .user_by_id(u.id)
        .await
        .expect("user_by_id")
        .expect("user_by_id: the user is stored");
    assert_eq!(
        found.created_at, u.created_at,
        "create_user then user_by_id: created_at before 2000 must read back exactly"
    );
    assert_eq!(
        found.updated_at, u.updated_at,
        "create_user then user_by_id: updated_at with odd microseconds must read back exactly"
    );
    assert_eq!(
        found.email_verified_at, u.email_verified_at,
        "create_user then user_by_id: email_verified_at after 2038 must read back exactly"
    );
    assert_eq!(
        found.created_at.offset(),
        time::UtcOffset::UTC,
        "user_by_id must read timestamps back in UTC"
    );

    stores
        .users
        .set_password_hash(u.id, None, odd + Duration::microseconds(1))
        .await
        .expect("set_password_hash");
    let found = stores
        .users
        .user_by_id(u.id)
        .await
        .expect("user_by_id")
        .expect("user_by_id: the user is stored");
    assert_eq!(
        found.updated_at,
        odd + Duration::microseconds(1),
        "set_password_hash must store updated_at = now to the microsecond"
    );
}

/// `delete_user` removes the user (`true`), frees its email, and is `false` for an
/// unknown or already deleted id.
pub async fn delete_user<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let u = create_user(&stores).await;
    let other = create_user(&stores).await;

    assert!(
        stores.users.delete_user(u.id).await.expect("delete_user"),
        "delete_user of an existing user returns true"
    );
    assert_eq!(
        stores.users.user_by_id(u.id).await.expect("user_by_id"),
        None,
        "user_by_id after delete_user must be None"
    );
    assert_eq!(
        stores
            .users
            .user_by_email(&u.email)
            .await
            .expect("user_by_email"),
        None,
        "user_by_email after delete_user must be None"
    );
    assert!(
        !stores.users.delete_user(u.id).await.expect("delete_user"),
        "a second delete_user of one id returns false"
    );
    assert!(
        !stores
            .users
            .delete_user(UserId::new())
            .await
            .expect("delete_user"),
        "delete_user of an unknown id returns false"
    );
    assert_eq!(
        stores
            .users
            .user_by_id(other.id)
            .await
            .expect("user_by_id")
            .as_ref(),
        Some(&other),
        "delete_user must not touch another user"
    );

    // The email is free again.
    let again = user(&u.email.to_ascii_uppercase());
    stores.users.create_user(&again).await.expect("create_user");
    let found = stores
        .users
        .user_by_email(&u.email)
        .await
        .expect("user_by_email");
    assert_eq!(
        found.as_ref(),
        Some(&again),
        "delete_user frees the email: a new user may take it, in another case"
    );
}

/// `user_by_email` compares the whole email for equality (ignoring ASCII case), never
/// as a pattern: `_`, `%`, `*`, `?` and `\` are plain characters in the stored email and
/// in the input, and a lookup never lands on another user's row.
pub async fn email_lookup_is_not_a_pattern<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    // `axb` first: a pattern lookup that takes the first row that matches finds it.
    let emails = [
        "axb@x.io",
        "a_b@x.io",
        "100%real@x.io",
        "back\\slash@x.io",
        "a*b?c@x.io",
    ];
    let users: Vec<_> = emails.iter().map(|email| user(email)).collect();
    for u in &users {
        stores.users.create_user(u).await.expect("create_user");
    }
    for u in &users {
        for probe in [u.email.clone(), u.email.to_ascii_uppercase()] {
            let found = stores
                .users
                .user_by_email(&probe)
                .await
                .expect("user_by_email");
            assert_eq!(
                found.as_ref(),
                Some(u),
                "user_by_email({probe:?}) must find exactly the user with that email"
            );
        }
    }
    for probe in [
        "%",
        "_",
        "%@x.io",
        "a%",
        "_xb@x.io",
        "a%@x.io",
        "100%@x.io",
        "a\\_b@x.io",
        "back_slash@x.io",
        "backslash@x.io",
        "a*@x.io",
        "*@x.io",
        "a?b?c@x.io",
        "a[_]b@x.io",
    ] {
        let found = stores
            .users
            .user_by_email(probe)
            .await
            .expect("user_by_email");
        assert_eq!(
            found, None,
            "user_by_email({probe:?}) must compare for equality, not match a pattern"
        );
    }
}

/// Timestamps at both ends of the range every supported database holds
/// (`1000-01-01` to `9999-12-31T23:59:59.999999`, MariaDB's `DATETIME`), and just
/// before the Unix epoch, read back exactly.
pub async fn extreme_timestamps_round_trip<F: StoreFactory>(factory: &F) {
    let stores = factory.stores().await;
    let earliest = datetime!(1000-01-01 00:00:00.000001 UTC);
    let pre_epoch = datetime!(1969-12-31 23:59:59.999999 UTC);
    let latest = datetime!(9999-12-31 23:59:59.999999 UTC);

    let mut old = user("old@example.com");
    old.created_at = earliest;
    old.updated_at = pre_epoch;
    old.email_verified_at = Some(latest);
    let mut new = user("new@example.com");
    new.created_at = latest;
    new.updated_at = latest;
    new.email_verified_at = Some(earliest);
    for u in [&old, &new] {
        stores.users.create_user(u).await.expect("create_user");
        let found = stores.users.user_by_id(u.id).await.expect("user_by_id");
        assert_eq!(
            found.as_ref(),
            Some(u),
            "create_user then user_by_id: timestamps in years 1000, 1969 and 9999 must read \
             back exactly"
        );
    }

    stores
        .users
        .set_password_hash(old.id, None, latest)
        .await
        .expect("set_password_hash");
    stores
        .users
        .mark_email_verified(new.id, earliest)
        .await
        .expect("mark_email_verified");
    let found = stores.users.user_by_id(old.id).await.expect("user_by_id");
    assert_eq!(
        found.map(|u| u.updated_at),
        Some(latest),
        "set_password_hash must stamp updated_at = now exactly, in year 9999"
    );
    let found = stores.users.user_by_id(new.id).await.expect("user_by_id");
    assert_eq!(
        found.and_then(|u| u.email_verified_at),
        Some(earliest),
        "mark_email_verified must keep the first verification time, in year 1000"
    );
}
