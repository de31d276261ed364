//! Audit events: every security-relevant change, as a `tracing` event with stable field
//! names and, optionally, handed to an [`AuditSink`] the application persists.
//!
//! OWASP Logging Cheat Sheet: record authentication successes and failures, session and
//! token management, and changes of privileges; never secrets. No event carries a
//! password, a token, a key or a hash: only ids, slugs, emails and reasons.
//!
//! The events and their fields are listed on [`AuditEvent`].

use std::fmt;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;

use super::Auth;
use crate::model::{ApiKeyId, FamilyId, GrantKind, UserId};

/// A security-relevant change, as [`AuditSink::record`] receives it.
///
/// OWASP Logging Cheat Sheet: record authentication successes and failures, session and
/// token management, and changes of privileges; never secrets. No event carries a
/// password, a token, a key or a hash: only ids, slugs, emails and reasons.
///
/// | event (`event` field) | when | other fields |
/// |---|---|---|
/// | `signup` | [`Auth::register`], [`Auth::create_user`] | `user`, `email` |
/// | `login_succeeded` | a password login matched | `user`, `email`, `client_ip` |
/// | `login_failed` | unknown email, no password or wrong password | `email`, `client_ip` |
/// | `refresh_reused` | a used refresh token came back; its family is revoked | `user`, `family` |
/// | `family_revoked` | [`Auth::revoke_family`] | `family`, `count` |
/// | `family_profile_set` | [`Auth::issue_token_pair_with`] started a family under a named lifetime profile (not standard) | `user`, `family`, `profile` |
/// | `password_reset` | [`Auth::reset_password`] set a new password | `user` |
/// | `key_created` | [`Auth::create_api_key`] | `key`, `owner` |
/// | `key_rotated` | [`Auth::rotate_api_key`] | `key` (the old one), `new_key` |
/// | `key_revoked` | [`Auth::revoke_api_key`] revoked it now | `key`, `reason` |
/// | `key_rate_limited` | the first verification of a key refused in a rate-limit window | `key`, `limit`, `window_seconds` |
/// | `key_role_assigned`, `key_role_unassigned` | a key's roles changed | `key`, `role` |
/// | `role_assigned`, `role_unassigned` | a user's roles changed | `user`, `role` |
/// | `granted_to_user`, `revoked_from_user` | a user's direct grants changed | `user`, `kind`, `slug` |
/// | `granted_to_role`, `revoked_from_role` | what a role grants changed | `role`, `kind`, `slug` |
///
/// The `tracing` events go to the target `authkit::audit` at level `INFO` (`WARN` for
/// `refresh_reused` and `key_rate_limited`), so a subscriber can route them apart from other logs.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditEvent {
    /// A user was created.
    SignUp {
        /// The new user.
        user: UserId,
        /// Its normalized email.
        email: String,
    },
    /// A password login succeeded.
    LoginSucceeded {
        /// Who logged in.
        user: UserId,
        /// The normalized email presented.
        email: String,
        /// The client's address, when the caller passed it.
        client_ip: Option<IpAddr>,
    },
    /// A password login failed (the reason is deliberately not told apart).
    LoginFailed {
        /// The normalized email presented.
        email: String,
        /// The client's address, when the caller passed it.
        client_ip: Option<IpAddr>,
    },
    /// A used refresh token was presented again; its family is now revoked.
    RefreshReused {
        /// The owner.
        user: UserId,
        /// The revoked family.
        family: FamilyId,
    },
    /// A refresh family was revoked on request (a logout).
    FamilyRevoked {
        /// The family.
        family: FamilyId,
        /// How many tokens changed.
        count: u64,
    },
    /// A refresh family (one login) was started under a named lifetime profile other
    /// than standard, such as `long` for "remember me": its tokens live what that profile
    /// says. This is the only time a family's profile is set; each rotation keeps it.
    FamilyProfileSet {
        /// The owner.
        user: UserId,
        /// The new family.
        family: FamilyId,
        /// The profile's name.
        profile: String,
    },
    /// A password was reset through a reset link.
    PasswordReset {
        /// The user.
        user: UserId,
    },
    /// An API or service key was created.
    KeyCreated {
        /// The key.
        key: ApiKeyId,
        /// Its owner; `None` for a service key.
        owner: Option<UserId>,
    },
    /// A key was rotated.
    KeyRotated {
        /// The old key, which dies after its grace.
        key: ApiKeyId,
        /// Its successor.
        new_key: ApiKeyId,
    },
    /// A key was revoked.
    KeyRevoked {
        /// The key.
        key: ApiKeyId,
        /// The reason given.
        reason: String,
    },
    /// A key used up its rate limit: emitted once per window, at the first refusal.
    KeyRateLimited {
        /// The key.
        key: ApiKeyId,
        /// Its limit per window.
        limit: u32,
        /// Its window, in seconds.
        window_seconds: i64,
    },
    /// A role was assigned to an API key (`assigned`) or taken from one.
    KeyRoleChanged {
        /// The key.
        key: ApiKeyId,
        /// The role's slug.
        role: String,
        /// `true`: assigned; `false`: unassigned.
        assigned: bool,
    },
    /// A role was assigned to a user (`assigned`) or taken from one.
    RoleChanged {
        /// The user.
        user: UserId,
        /// The role's slug.
        role: String,
        /// `true`: assigned; `false`: unassigned.
        assigned: bool,
    },
    /// A permission or ability was granted to a user directly (`granted`) or taken.
    UserGrantChanged {
        /// The user.
        user: UserId,
        /// Permission or ability.
        kind: GrantKind,
        /// Its slug.
        slug: String,
        /// `true`: granted; `false`: revoked.
        granted: bool,
    },
    /// A permission or ability was granted to a role (`granted`) or taken.
    RoleGrantChanged {
        /// The role's slug.
        role: String,
        /// Permission or ability.
        kind: GrantKind,
        /// Its slug.
        slug: String,
        /// `true`: granted; `false`: revoked.
        granted: bool,
    },
}

impl AuditEvent {
    /// The stable name of the event, as in the `event` field of its `tracing` event.
    pub fn name(&self) -> &'static str {
        match self {
            AuditEvent::SignUp { .. } => "signup",
            AuditEvent::LoginSucceeded { .. } => "login_succeeded",
            AuditEvent::LoginFailed { .. } => "login_failed",
            AuditEvent::RefreshReused { .. } => "refresh_reused",
            AuditEvent::FamilyRevoked { .. } => "family_revoked",
            AuditEvent::FamilyProfileSet { .. } => "family_profile_set",
            AuditEvent::PasswordReset { .. } => "password_reset",
            AuditEvent::KeyCreated { .. } => "key_created",
            AuditEvent::KeyRotated { .. } => "key_rotated",
            AuditEvent::KeyRevoked { .. } => "key_revoked",
            AuditEvent::KeyRateLimited { .. } => "key_rate_limited",
            AuditEvent::KeyRoleChanged { assigned: true, .. } => "key_role_assigned",
            AuditEvent::KeyRoleChanged { .. } => "key_role_unassigned",
            AuditEvent::RoleChanged { assigned: true, .. } => "role_assigned",
            AuditEvent::RoleChanged { .. } => "role_unassigned",
            AuditEvent::UserGrantChanged { granted: true, .. } => "granted_to_user",
            AuditEvent::UserGrantChanged { .. } => "revoked_from_user",
            AuditEvent::RoleGrantChanged { granted: true, .. } => "granted_to_role",
            AuditEvent::RoleGrantChanged { .. } => "revoked_from_role",
        }
    }
}

/// Where an application persists audit events (a table, a queue, a SIEM).
///
/// `record` runs inline in the flow that caused the event, so it must be quick and must
/// not block: hand the event to a channel and write it elsewhere. It cannot fail a
/// flow: it returns nothing, and a panic inside it is caught and logged, so a broken sink
/// never blocks a login.
pub trait AuditSink: Send + Sync + fmt::Debug + 'static {
    /// Receives one event.
    fn record(&self, event: &AuditEvent);
}

impl Auth {
    /// Emits `event` as a `tracing` event and hands it to the sink, if any.
    pub(super) fn audit(&self, event: AuditEvent) {
        trace(&event);
        if let Some(sink) = &self.audit {
            let recorded = std::panic::catch_unwind(AssertUnwindSafe(|| sink.record(&event)));
            if recorded.is_err() {
                tracing::error!(target: "authkit::audit", event = event.name(), "audit sink panicked");
            }
        }
    }
}

/// The `tracing` form of `event`, with the field names of the module docs.
fn trace(event: &AuditEvent) {
    const T: &str = "authkit::audit";
    let name = event.name();
    match event {
        AuditEvent::SignUp { user, email } => {
            tracing::info!(target: T, event = name, %user, %email);
        }
        AuditEvent::LoginSucceeded {
            user,
            email,
            client_ip,
        } => tracing::info!(target: T, event = name, %user, %email, client_ip = ?client_ip),
        AuditEvent::LoginFailed { email, client_ip } => {
            tracing::info!(target: T, event = name, %email, client_ip = ?client_ip);
        }
        AuditEvent::RefreshReused { user, family } => {
            tracing::warn!(target: T, event = name, %user, %family);
        }
        AuditEvent::FamilyRevoked { family, count } => {
            tracing::info!(target: T, event = name, %family, count);
        }
        AuditEvent::FamilyProfileSet {
            user,
            family,
            profile,
        } => tracing::info!(target: T, event = name, %user, %family, %profile),
        AuditEvent::PasswordReset { user } => tracing::info!(target: T, event = name, %user),
        AuditEvent::KeyCreated { key, owner } => {
            tracing::info!(target: T, event = name, %key, owner = ?owner);
        }
        AuditEvent::KeyRotated { key, new_key } => {
            tracing::info!(target: T, event = name, %key, %new_key);
        }
        AuditEvent::KeyRevoked { key, reason } => {
            tracing::info!(target: T, event = name, %key, %reason);
        }
        AuditEvent::KeyRateLimited {
            key,
            limit,
            window_seconds,
        } => tracing::warn!(target: T, event = name, %key, limit, window_seconds),
        AuditEvent::KeyRoleChanged { key, role, .. } => {
            tracing::info!(target: T, event = name, %key, %role);
        }
        AuditEvent::RoleChanged { user, role, .. } => {
            tracing::info!(target: T, event = name, %user, %role);
        }
        AuditEvent::UserGrantChanged {
            user, kind, slug, ..
        } => tracing::info!(target: T, event = name, %user, kind = kind.as_str(), %slug),
        AuditEvent::RoleGrantChanged {
            role, kind, slug, ..
        } => tracing::info!(target: T, event = name, %role, kind = kind.as_str(), %slug),
    }
}
