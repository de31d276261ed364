//! One-time token flows of [`authkit::Auth`] end to end: email verification, password
//! reset, magic links and email OTP codes.

use std::sync::Arc;

use authkit::{Audience, Auth, Error, OneTimeIssue, User};
use time::Duration;

use super::flows::{PASSWORD, auth_with, test_config, user_with_password};
use crate::StoreFactory;
use crate::fixtures::{MICRO, together};

/// A code of the same length as `code` that differs from it in its last digit.
fn wrong_code(code: &str) -> String {
    let (head, last) = code.split_at(code.len() - 1);
    let digit = last.parse::<u8>().expect("a digit");
    format!("{head}{}", (digit + 1) % 10)
}

/// What a request for a known email issued.
fn issued(request: authkit::Result<Option<OneTimeIssue>>) -> OneTimeIssue {
    request.expect("request").expect("known email")
}

/// An OTP code for `user`, freshly requested.
async fn otp_for(auth: &Auth, user: &User) -> String {
    let issue = issued(auth.request_email_otp(&user.email).await);
    issue.secret.expose().to_owned()
}

/// Verifying an email marks it verified; the link works once.
pub async fn verify_email_once<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("ann@example.com").await.expect("create");
    assert_eq!(
        user.email_verified_at, None,
        "create_user: a new user's email is not verified"
    );
    let issue = auth
        .request_email_verification(user.id)
        .await
        .expect("request");
    assert_eq!(
        issue.user.id, user.id,
        "request_email_verification issues a token for the user"
    );
    let verified = auth
        .verify_email(issue.secret.expose())
        .await
        .expect("verify");
    assert_eq!(verified.id, user.id, "verify_email returns the user");
    assert_eq!(
        verified.email_verified_at,
        Some(auth.now()),
        "verify_email must set email_verified_at = now"
    );
    let again = auth.verify_email(issue.secret.expose()).await;
    assert!(
        matches!(again, Err(Error::OneTimeTokenInvalid)),
        "verify_email: expected Error::OneTimeTokenInvalid, got {again:?}"
    );
    let r = auth
        .request_email_verification(authkit::UserId::new())
        .await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "request_email_verification: expected Error::UserNotFound, got {r:?}"
    );
}

/// A reset sets the new password and ends every session and refresh token of the user.
pub async fn reset_password_revokes_credentials<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = user_with_password(&auth, "ben@example.com").await;
    let session = auth.issue_session(user.id).await.expect("session");
    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    let issue = issued(auth.request_password_reset("BEN@example.com").await);
    let new_password = "a brand new passphrase";
    let reset = auth
        .reset_password(issue.secret.expose(), new_password)
        .await
        .expect("reset");
    assert_eq!(reset.id, user.id, "reset_password returns the user");
    let old = auth.login_password("ben@example.com", PASSWORD).await;
    assert!(
        matches!(old, Err(Error::InvalidCredentials)),
        "login_password: expected Error::InvalidCredentials, got {old:?}"
    );
    auth.login_password("ben@example.com", new_password)
        .await
        .expect("new password logs in");
    let r = auth.authenticate_session(session.secret.expose()).await;
    assert!(
        matches!(r, Err(Error::SessionInvalid)),
        "authenticate_session: expected Error::SessionInvalid, got {r:?}"
    );
    let r = auth.refresh(pair.refresh_token.expose()).await;
    assert!(
        matches!(r, Err(Error::RefreshExpired)),
        "refresh: expected Error::RefreshExpired, got {r:?}"
    );
    let again = auth
        .reset_password(issue.secret.expose(), "yet another passphrase")
        .await;
    assert!(
        matches!(again, Err(Error::OneTimeTokenInvalid)),
        "reset_password: expected Error::OneTimeTokenInvalid, got {again:?}"
    );
}

/// A new password the policy refuses leaves the reset link usable.
pub async fn reset_password_weak_keeps_link<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = user_with_password(&auth, "cleo@example.com").await;
    let issue = issued(auth.request_password_reset(&user.email).await);
    let r = auth.reset_password(issue.secret.expose(), "short").await;
    assert!(
        matches!(r, Err(Error::PasswordTooShort { .. })),
        "reset_password: expected Error::PasswordTooShort, got {r:?}"
    );
    let r = auth
        .reset_password(issue.secret.expose(), &"x".repeat(1025))
        .await;
    assert!(
        matches!(r, Err(Error::PasswordTooLong { .. })),
        "reset_password: expected Error::PasswordTooLong, got {r:?}"
    );
    auth.login_password(&user.email, PASSWORD)
        .await
        .expect("old password still set");
    auth.reset_password(issue.secret.expose(), "long enough now")
        .await
        .expect("the link was not burned");
}

/// A new request replaces the earlier link of its purpose, and only of its purpose.
pub async fn new_request_replaces_same_purpose<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = user_with_password(&auth, "dan@example.com").await;
    let verification = auth
        .request_email_verification(user.id)
        .await
        .expect("verification");
    let magic = issued(auth.request_magic_link(&user.email).await);
    let first = issued(auth.request_password_reset(&user.email).await);
    let second = issued(auth.request_password_reset(&user.email).await);
    let r = auth
        .reset_password(first.secret.expose(), "replaced link try")
        .await;
    assert!(
        matches!(r, Err(Error::OneTimeTokenInvalid)),
        "reset_password: expected Error::OneTimeTokenInvalid, got {r:?}"
    );
    auth.reset_password(second.secret.expose(), "latest link works")
        .await
        .expect("latest reset link");
    auth.verify_email(verification.secret.expose())
        .await
        .expect("another purpose untouched");
    auth.login_magic_link(magic.secret.expose())
        .await
        .expect("another purpose untouched");
}

/// A token of one purpose is refused by every other flow, and stays usable for its own.
pub async fn purposes_never_cross<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = user_with_password(&auth, "eve@example.com").await;
    let verification = auth
        .request_email_verification(user.id)
        .await
        .expect("verification");
    let reset = issued(auth.request_password_reset(&user.email).await);
    let (vfy, rst) = (verification.secret.expose(), reset.secret.expose());
    let r = auth.reset_password(vfy, "new password here").await;
    assert!(
        matches!(r, Err(Error::MalformedToken)),
        "reset_password: expected Error::MalformedToken, got {r:?}"
    );
    let r = auth.login_magic_link(vfy).await;
    assert!(
        matches!(r, Err(Error::MalformedToken)),
        "login_magic_link: expected Error::MalformedToken, got {r:?}"
    );
    let r = auth.verify_email(rst).await;
    assert!(
        matches!(r, Err(Error::MalformedToken)),
        "verify_email: expected Error::MalformedToken, got {r:?}"
    );
    let r = auth.authenticate_session(rst).await;
    assert!(
        matches!(r, Err(Error::MalformedToken)),
        "authenticate_session: expected Error::MalformedToken, got {r:?}"
    );
    // The verification secret relabelled as a reset token: well formed, never issued.
    let relabelled = format!("rst_{}", &vfy[4..]);
    let r = auth.reset_password(&relabelled, "new password here").await;
    assert!(
        matches!(r, Err(Error::OneTimeTokenInvalid)),
        "reset_password: expected Error::OneTimeTokenInvalid, got {r:?}"
    );
    auth.verify_email(vfy)
        .await
        .expect("verification still works");
    auth.reset_password(rst, "new password here")
        .await
        .expect("reset still works");
}

/// Each link lives exactly its configured TTL: usable a microsecond before, dead at it.
pub async fn links_expire_at_ttl<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    config.one_time.email_verification_ttl = Duration::hours(3);
    config.one_time.password_reset_ttl = Duration::hours(2);
    config.one_time.magic_link_ttl = Duration::minutes(5);
    config.one_time.otp_ttl = Duration::minutes(7);
    let (auth, clock) = auth_with(factory, config).await;
    let user = user_with_password(&auth, "fay@example.com").await;
    let start = auth.now();

    let verification = auth
        .request_email_verification(user.id)
        .await
        .expect("verification");
    let reset = issued(auth.request_password_reset(&user.email).await);
    let magic = issued(auth.request_magic_link(&user.email).await);
    let otp = issued(auth.request_email_otp(&user.email).await);
    assert_eq!(
        verification.expires_at,
        start + Duration::hours(3),
        "request_email_verification: the token expires after the configured TTL"
    );
    assert_eq!(
        reset.expires_at,
        start + Duration::hours(2),
        "request_password_reset: the token expires after the configured TTL"
    );
    assert_eq!(
        magic.expires_at,
        start + Duration::minutes(5),
        "request_magic_link: the token expires after the configured TTL"
    );
    assert_eq!(
        otp.expires_at,
        start + Duration::minutes(7),
        "request_email_otp: the code expires after the configured TTL"
    );

    clock.set(magic.expires_at - MICRO);
    auth.login_magic_link(magic.secret.expose())
        .await
        .expect("a microsecond before expiry");
    clock.set(otp.expires_at);
    let r = auth.login_email_otp(&user.email, otp.secret.expose()).await;
    assert!(
        matches!(r, Err(Error::OneTimeTokenInvalid)),
        "request_email_otp for an unknown email, revealed: expected Error::UserNotFound, got {r:?}"
    );
    clock.set(reset.expires_at);
    let r = auth
        .reset_password(reset.secret.expose(), "new password here")
        .await;
    assert!(
        matches!(r, Err(Error::OneTimeTokenInvalid)),
        "request_password_reset for an unknown email, revealed: expected Error::UserNotFound, got {r:?}"
    );
    clock.set(verification.expires_at);
    let r = auth.verify_email(verification.secret.expose()).await;
    assert!(
        matches!(r, Err(Error::OneTimeTokenInvalid)),
        "verify: {r:?}"
    );
}

/// A magic link logs the user in once, marks the email verified, and leads to a session.
pub async fn magic_link_login<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("gus@example.com").await.expect("create");
    let issue = issued(auth.request_magic_link(" GUS@Example.com ").await);
    let logged = auth
        .login_magic_link(issue.secret.expose())
        .await
        .expect("login");
    assert_eq!(logged.id, user.id, "login_magic_link logs the user in");
    assert_eq!(
        logged.email_verified_at,
        Some(auth.now()),
        "login_magic_link must mark the email verified (now)"
    );
    let session = auth.issue_session(logged.id).await.expect("session");
    auth.authenticate_session(session.secret.expose())
        .await
        .expect("session works");
    let again = auth.login_magic_link(issue.secret.expose()).await;
    assert!(
        matches!(again, Err(Error::OneTimeTokenInvalid)),
        "login_magic_link: expected Error::OneTimeTokenInvalid, got {again:?}"
    );
}

/// OTP codes have the configured number of digits; the right code logs in once.
pub async fn otp_digits_and_login<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("hal@example.com").await.expect("create");
    let code = otp_for(&auth, &user).await;
    assert_eq!(
        code.len(),
        6,
        "request_email_otp: the code has the default 6 digits: {code}"
    );

    let mut config = test_config();
    config.one_time.otp_digits = 8;
    let (auth, _) = auth_with(factory, config).await;
    let user = auth.create_user("hal@example.com").await.expect("create");
    let code = otp_for(&auth, &user).await;
    assert_eq!(
        code.len(),
        8,
        "request_email_otp: the code has the configured 8 digits: {code}"
    );
    assert!(
        code.bytes().all(|b| b.is_ascii_digit()),
        "request_email_otp: the code is digits only: {code}"
    );
    let logged = auth
        .login_email_otp("HAL@example.com", &code)
        .await
        .expect("right code");
    assert_eq!(logged.id, user.id, "login_email_otp logs the user in");
    assert_eq!(
        logged.email_verified_at,
        Some(auth.now()),
        "login_email_otp must mark the email verified (now)"
    );
    let pair = auth.issue_token_pair(logged.id).await.expect("pair");
    auth.verify_access(&pair.access_token, Audience::Bff)
        .expect("pair works");
    let again = auth.login_email_otp(&user.email, &code).await;
    assert!(
        matches!(again, Err(Error::OneTimeTokenInvalid)),
        "login_email_otp: expected Error::OneTimeTokenInvalid, got {again:?}"
    );
}

/// Wrong codes count down; at the cap the code is dead even when right; a new one works.
pub async fn otp_wrong_codes_lock<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let user = auth.create_user("ida@example.com").await.expect("create");
    let code = otp_for(&auth, &user).await;
    let wrong = wrong_code(&code);
    for left in (0..5).rev() {
        let r = auth.login_email_otp(&user.email, &wrong).await;
        assert!(
            matches!(r, Err(Error::OtpInvalid { attempts_left }) if attempts_left == left),
            "login_email_otp with a wrong code: expected Error::OtpInvalid with {left} attempts left, got {r:?}"
        );
    }
    let r = auth.login_email_otp(&user.email, &code).await;
    assert!(
        matches!(r, Err(Error::OtpLocked)),
        "login_email_otp: expected Error::OtpLocked, got {r:?}"
    );
    let fresh = otp_for(&auth, &user).await;
    let logged = auth
        .login_email_otp(&user.email, &fresh)
        .await
        .expect("a new code works");
    assert_eq!(
        logged.id, user.id,
        "login_email_otp with a new code after a lock-out logs in"
    );
}

/// 32 concurrent wrong codes through `Auth` are each counted exactly once.
pub async fn otp_concurrent_failures_counted<F: StoreFactory>(factory: &F) {
    let mut config = test_config();
    config.one_time.otp_max_attempts = 100;
    let (auth, _) = auth_with(factory, config).await;
    let auth = Arc::new(auth);
    let user = auth.create_user("jon@example.com").await.expect("create");
    let wrong = wrong_code(&otp_for(&auth, &user).await);
    let results = together(32, |_| {
        let (auth, email, wrong) = (auth.clone(), user.email.clone(), wrong.clone());
        async move { auth.login_email_otp(&email, &wrong).await }
    })
    .await;
    let mut left: Vec<u32> = results
        .into_iter()
        .map(|r| match r {
            Err(Error::OtpInvalid { attempts_left }) => attempts_left,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    left.sort_unstable();
    assert_eq!(
        left,
        (68..=99).collect::<Vec<u32>>(),
        "login_email_otp raced 32 times with a wrong code: each failure counted once (attempts left 99 down to 68)"
    );
    let r = auth.login_email_otp(&user.email, &wrong).await;
    assert!(
        matches!(r, Err(Error::OtpInvalid { attempts_left: 67 })),
        "login_email_otp: expected Error::OtpInvalid, got {r:?}"
    );
}

/// Requests for an unknown email succeed silently, unless configured to reveal it.
pub async fn unknown_email_requests<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let nobody = "nobody@example.com";
    assert!(
        auth.request_password_reset(nobody)
            .await
            .expect("reset")
            .is_none(),
        "request_password_reset for an unknown email succeeds silently (None)"
    );
    assert!(
        auth.request_magic_link(nobody)
            .await
            .expect("magic")
            .is_none(),
        "request_magic_link for an unknown email succeeds silently (None)"
    );
    assert!(
        auth.request_email_otp(nobody).await.expect("otp").is_none(),
        "request_email_otp for an unknown email succeeds silently (None)"
    );
    let r = auth.login_email_otp(nobody, "123456").await;
    assert!(
        matches!(r, Err(Error::OneTimeTokenInvalid)),
        "login_email_otp: expected Error::OneTimeTokenInvalid, got {r:?}"
    );
    let r = auth.request_password_reset("not an email").await;
    assert!(
        matches!(r, Err(Error::InvalidEmail(_))),
        "request_password_reset: expected Error::InvalidEmail, got {r:?}"
    );

    let mut config = test_config();
    config.one_time.reveal_unknown_email = true;
    let (auth, _) = auth_with(factory, config).await;
    let r = auth.request_password_reset(nobody).await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "request_password_reset for an unknown email, revealed: expected Error::UserNotFound, got {r:?}"
    );
    let r = auth.request_magic_link(nobody).await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "request_magic_link for an unknown email, revealed: expected Error::UserNotFound, got {r:?}"
    );
    let r = auth.request_email_otp(nobody).await;
    assert!(
        matches!(r, Err(Error::UserNotFound)),
        "request_email_otp for an unknown email, revealed: expected Error::UserNotFound, got {r:?}"
    );
}

/// 32 concurrent uses of one magic link: exactly one logs in.
pub async fn magic_link_concurrent_once<F: StoreFactory>(factory: &F) {
    let (auth, _) = auth_with(factory, test_config()).await;
    let auth = Arc::new(auth);
    let user = auth.create_user("kay@example.com").await.expect("create");
    let issue = issued(auth.request_magic_link(&user.email).await);
    let results = together(32, |_| {
        let (auth, token) = (auth.clone(), issue.secret.expose().to_owned());
        async move { auth.login_magic_link(&token).await }
    })
    .await;
    let mut logged_in = 0;
    for r in results {
        match r {
            Ok(u) => {
                assert_eq!(u.id, user.id, "login_magic_link logs the link's user in");
                logged_in += 1;
            }
            Err(Error::OneTimeTokenInvalid) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(
        logged_in, 1,
        "login_magic_link raced 32 times on one link: exactly one logs in"
    );
}
