//! Audit events: every security-relevant change reaches the [`AuditSink`] in order, and
//! a sink that panics never blocks a flow.

use std::sync::{Arc, Mutex};

use authkit::{
    AuditEvent, AuditSink, Auth, Environment, Error, GrantKind, KeyType, ManualClock, NewApiKey,
    SeededRandomness, SlugKind,
};

use super::flows::{PASSWORD, test_config};
use crate::StoreFactory;
use crate::fixtures::BASE;

/// Keeps every event it is given.
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Vec<AuditEvent>>);

impl AuditSink for Recorder {
    fn record(&self, event: &AuditEvent) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event.clone());
    }
}

impl Recorder {
    /// The names of the events so far, and forgets them.
    pub(crate) fn take_names(&self) -> Vec<&'static str> {
        let mut events = self.0.lock().unwrap_or_else(|e| e.into_inner());
        events.drain(..).map(|e| e.name()).collect()
    }
}

/// Panics on every event.
#[derive(Debug)]
struct Panicking;

impl AuditSink for Panicking {
    fn record(&self, _event: &AuditEvent) {
        panic!("a broken audit sink");
    }
}

async fn auth_with_sink<F: StoreFactory>(factory: &F, sink: Arc<dyn AuditSink>) -> Auth {
    Auth::builder(factory.stores().await, test_config())
        .clock(Arc::new(ManualClock::new(BASE)))
        .randomness(Arc::new(SeededRandomness::new(7)))
        .audit_sink(sink)
        .build()
        .expect("test config is valid")
}

/// Sign-up, logins, refresh reuse, family revocation, password reset, key life cycle
/// and RBAC changes each reach the sink once, in order, with their stable names.
pub async fn events_reach_the_sink<F: StoreFactory>(factory: &F) {
    let recorder = Arc::new(Recorder::default());
    let auth = auth_with_sink(factory, recorder.clone()).await;
    let user = auth
        .register("audit@example.com", PASSWORD)
        .await
        .expect("register");
    let wrong = auth
        .login_password("audit@example.com", "wrong password")
        .await;
    assert!(matches!(wrong, Err(Error::InvalidCredentials)), "{wrong:?}");
    auth.login_password("audit@example.com", PASSWORD)
        .await
        .expect("login");
    assert_eq!(
        recorder.take_names(),
        ["signup", "login_failed", "login_succeeded"],
        "audit: sign-up and logins"
    );

    let pair = auth.issue_token_pair(user.id).await.expect("pair");
    let next = auth
        .refresh(pair.refresh_token.expose())
        .await
        .expect("rotate");
    let reuse = auth.refresh(pair.refresh_token.expose()).await;
    assert!(
        matches!(reuse, Err(Error::RefreshReused { .. })),
        "{reuse:?}"
    );
    auth.revoke_family(next.family_id)
        .await
        .expect("revoke family");
    assert_eq!(
        recorder.take_names(),
        ["refresh_reused", "family_revoked"],
        "audit: a rotation is not an event; reuse and revocation are"
    );

    let reset = auth
        .request_password_reset("audit@example.com")
        .await
        .expect("request")
        .expect("a known email gets a link");
    auth.reset_password(reset.secret.expose(), "another good password")
        .await
        .expect("reset");
    assert_eq!(recorder.take_names(), ["password_reset"], "audit: reset");

    let new = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user.id), "ci");
    let issued = auth.create_api_key(new).await.expect("create key");
    let rotated = auth
        .rotate_api_key(issued.key.id, time::Duration::ZERO)
        .await
        .expect("rotate key");
    assert!(
        auth.revoke_api_key(rotated.key.id, "leaked")
            .await
            .expect("revoke")
    );
    assert!(
        !auth
            .revoke_api_key(rotated.key.id, "again")
            .await
            .expect("again")
    );
    assert_eq!(
        recorder.take_names(),
        ["key_created", "key_rotated", "key_revoked"],
        "audit: key life cycle; a second revocation changes nothing and is no event"
    );

    auth.define(SlugKind::Role, "editor", "Editor")
        .await
        .expect("role");
    auth.define(SlugKind::Permission, "posts:write", "Write")
        .await
        .expect("permission");
    auth.grant_to_role("editor", GrantKind::Permission, "posts:write")
        .await
        .expect("grant to role");
    auth.assign_role(user.id, "editor").await.expect("assign");
    auth.assign_role(user.id, "editor")
        .await
        .expect("assign again");
    auth.grant_to_user(user.id, GrantKind::Permission, "posts:write")
        .await
        .expect("grant to user");
    auth.revoke_from_user(user.id, GrantKind::Permission, "posts:write")
        .await
        .expect("revoke from user");
    auth.unassign_role(user.id, "editor")
        .await
        .expect("unassign");
    auth.revoke_from_role("editor", GrantKind::Permission, "posts:write")
        .await
        .expect("revoke from role");
    assert_eq!(
        recorder.take_names(),
        [
            "granted_to_role",
            "role_assigned",
            "granted_to_user",
            "revoked_from_user",
            "role_unassigned",
            "revoked_from_role"
        ],
        "audit: RBAC changes; a repeated assignment changes nothing and is no event"
    );
}

/// A sink that panics is logged and ignored: sign-up and login still succeed.
pub async fn panicking_sink_blocks_nothing<F: StoreFactory>(factory: &F) {
    let auth = auth_with_sink(factory, Arc::new(Panicking)).await;
    auth.register("loud@example.com", PASSWORD)
        .await
        .expect("register with a panicking audit sink");
    auth.login_password("loud@example.com", PASSWORD)
        .await
        .expect("login with a panicking audit sink");
}

/// A family started under a named profile is audited once, with its user, family and
/// profile; a standard family and the rotations of either are not.
pub async fn family_profile_set_audited<F: StoreFactory>(factory: &F) {
    let recorder = Arc::new(Recorder::default());
    let auth = auth_with_sink(factory, recorder.clone()).await;
    let user = auth.create_user("long@example.com").await.expect("user");
    recorder.take_names();
    let standard = auth.issue_token_pair(user.id).await.expect("standard");
    auth.refresh(standard.refresh_token.expose())
        .await
        .expect("rotate");
    assert!(
        recorder.take_names().is_empty(),
        "audit: a standard family sets no profile"
    );
    let long = auth
        .issue_token_pair_with(user.id, Some("long"))
        .await
        .expect("long");
    auth.refresh(long.refresh_token.expose())
        .await
        .expect("rotate");
    let events = std::mem::take(&mut *recorder.0.lock().unwrap_or_else(|e| e.into_inner()));
    assert_eq!(
        events,
        [AuditEvent::FamilyProfileSet {
            user: user.id,
            family: long.family_id,
            profile: "long".into(),
        }],
        "audit: issue under a named profile is family_profile_set, once; a rotation keeps \
         the profile and is no event"
    );
    assert_eq!(events[0].name(), "family_profile_set");
    let r = auth.issue_token_pair_with(user.id, Some("forever")).await;
    assert!(matches!(r, Err(Error::UnknownProfile(_))), "{r:?}");
    assert!(
        recorder.take_names().is_empty(),
        "audit: an unknown profile issues nothing and is no event"
    );
}
