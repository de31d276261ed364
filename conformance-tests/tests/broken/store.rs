//! The broken store: a [`MemoryStore`] behind a wrapper with one [`Fault`], and the
//! bookkeeping some faults need to act out their bug.
//!
//! The wrapper delegates every call to the memory store. A fault changes one method the
//! way a backend author could get it wrong; where the memory store has no call that acts
//! the bug out directly (it is correct, after all), the wrapper keeps a little state of
//! its own in [`Shadow`]: rows a broken store would still have (orphans, ghosts), or a
//! field as a broken store would hold it (patches). Every fault's doc says which contract
//! sentence it breaks.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration as StdDuration;

use authkit::{
    ApiKey, ApiKeyId, FamilyId, OneTimeToken, RefreshToken, Session, SessionStore, StoreError,
    Stores, Timestamp, TokenHash, User, UserId,
};
use authkit_conformance::{StoreFactory, async_trait};
use authkit_memory::MemoryStore;

/// The one bug a [`Broken`] store has. Each variant names the method it breaks and how;
/// its test in the trait's module names the contract sentence and the cases that catch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Fault {
    /// No bug: the control.
    None,

    // UserStore.
    /// `user_by_email` compares emails byte for byte instead of ignoring ASCII case.
    CaseSensitiveEmail,
    /// `user_by_email` runs `lower(email) LIKE lower(?)`: `_`, `%` and `\` in the input
    /// act as a pattern, and the first row that matches is returned.
    EmailLike,
    /// `create_user` is MySQL's `INSERT IGNORE`: a duplicate id or email is swallowed
    /// as a warning and the call returns `Ok` without writing.
    InsertIgnoreUser,
    /// `create_user` is a hand-rolled upsert outside a transaction (`UPDATE … WHERE
    /// id = ?`, then `INSERT`): on a taken id the update has already overwritten the
    /// existing user's password hash and `updated_at` when the insert fails.
    CreateUserOverwritesOnConflict,
    /// `set_password_hash` runs `SET password_hash = COALESCE(?, password_hash)`: `None`
    /// does not remove the hash.
    ClearPasswordKeepsHash,
    /// `mark_email_verified` lacks `AND email_verified_at IS NULL`: a second call
    /// overwrites the first verification time.
    VerifyOverwritesFirstTime,
    /// User timestamps are kept as unsigned microseconds since 1970: anything earlier
    /// is clamped to the epoch.
    UserTimesClampedAtEpoch,
    /// `delete_user` forgets the sessions table in its cascade (no `ON DELETE CASCADE`):
    /// a deleted user's sessions still authenticate.
    DeleteUserOrphansSessions,
    /// `delete_user` forgets the API keys in its cascade: a deleted user's keys still
    /// verify.
    DeleteUserOrphansKeys,
    /// `delete_user` deletes the dependents first and the user afterwards, in separate
    /// statements: a session created in between outlives its user.
    DeleteUserCascadeFirst,
    /// `create_user` lowercases the email before storing it instead of keeping it as
    /// given.
    EmailStoredLowercased,
    /// `set_password_hash` ignores that its `UPDATE` matched no row: an unknown id is `Ok`.
    PasswordOfUnknownUserOk,
    /// `delete_user` answers `true` whether or not a row went.
    DeleteUserAlwaysTrue,

    // SessionStore.
    /// `touch_session` slides the idle deadline to `now + idle_ttl`, past the absolute one.
    TouchPastAbsolute,
    /// `touch_session` treats a deadline as inclusive (`now <= deadline`): a session is
    /// still returned at the very instant it dies.
    TouchAtDeadline,
    /// `touch_session` ignores `min_step` and writes on every touch that moves the
    /// deadline at all.
    TouchIgnoresMinStep,
    /// `touch_session` returns the row as it read it, before its own slide.
    TouchReturnsStale,
    /// `touch_session` reads the row, computes the slide, then writes the whole row back
    /// by id (an upsert): a concurrent touch's later deadline is overwritten, and a
    /// session revoked in between comes back.
    TouchReadThenWrite,
    /// `touch_session` answers from a cache in front of the table that no revocation
    /// invalidates.
    TouchCached,
    /// A revocation or purge that meets a touch in flight fails with the database's
    /// deadlock error instead of retrying it (InnoDB picks one of two statements that
    /// lock a session through different indexes).
    DeadlockReturned,
    /// `create_session` has no unique index on the token hash and checks with a `SELECT`
    /// first: concurrent creates with one hash all pass the check and all insert.
    CreateSessionCheckThenInsert,
    /// Session timestamps are kept as signed 32-bit Unix seconds (plus a microsecond
    /// column): anything after January 2038 wraps around.
    SessionTimesAsI32Seconds,
    /// An empty payload (`Some(vec![])`) is written as SQL `NULL` and reads back `None`.
    EmptyPayloadAsNone,
    /// `set_session_payload` updates by id without checking that the session is live.
    PayloadOnDeadSession,
    /// `revoke_user_sessions` runs `WHERE user_id = ? AND id <> ?` for every call,
    /// binding `NULL` when nothing is excepted: `id <> NULL` is never true, so nothing goes.
    RevokeAllExceptNull,
    /// `list_user_sessions` forgets the liveness condition and lists dead sessions too.
    ListIncludesDead,
    /// `purge_sessions` deletes deadlines `< now` instead of `<= now`: a session that
    /// dies exactly at `now` stays.
    PurgeSessionsStrict,
    /// `purge_sessions` ignores `limit`.
    PurgeSessionsUnlimited,
    /// `touch_session` checks only the absolute deadline: a session past its idle
    /// deadline is slid back to life.
    TouchChecksAbsoluteOnly,
    /// `session_by_id` reuses the touch query and slides the session it reads.
    SessionByIdSlides,
    /// `create_session` has no foreign key to the users: an unknown user's session is
    /// accepted.
    SessionOfUnknownUserOk,
    /// The store's `Debug` is derived and prints the rows it holds: hashes and payloads.
    DebugPrintsRows,

    // TokenStore, refresh tokens.
    /// `rotate_refresh` reads the row, waits, then applies the rule's decision: a
    /// check-then-act race, so concurrent rotations of one token all rotate.
    NonAtomicRotate,
    /// `rotate_refresh` calls the rule with a placeholder row when no token has the hash.
    RotateUnknownCallsRule,
    /// `rotate_refresh` selects `WHERE token_hash = ? AND revoked_at IS NULL`: a revoked
    /// token reads as unknown, and reuse of a revoked family goes unreported.
    RotateHidesRevoked,
    /// `rotate_refresh` selects `WHERE token_hash = ? AND expires_at > ?`: an expired
    /// token reads as unknown, so core never sees (and reports) the expiry.
    RotateHidesExpired,
    /// `rotate_refresh` calls the rule twice (once to validate, once to build the
    /// successor).
    RotateCallsRuleTwice,
    /// `rotate_refresh` consumes the presented token, then inserts the successor,
    /// without a transaction: when the insert fails, the token stays consumed.
    RotateConsumesBeforeInsert,
    /// `revoke_family` reads the family's ids, then updates those rows by id: a
    /// successor inserted in between stays unrevoked.
    RevokeFamilySnapshot,
    /// `revoke_family` lacks `AND revoked_at IS NULL`: it overwrites earlier revocation
    /// times and counts every token of the family.
    RevokeFamilyOverwrites,
    /// `purge_refresh` deletes `expires_at < now` instead of `<= now`.
    PurgeRefreshStrict,
    /// `purge_refresh` also deletes consumed and revoked tokens that have not expired,
    /// which reuse detection needs.
    PurgeRefreshDeletesSpent,
    /// An empty profile name (`Some("")`) is written as `NULL` and reads back `None`.
    EmptyProfileAsNone,
    /// `rotations` lives in a signed 32-bit column: counts past `i32::MAX` are clamped.
    RotationsAsI32,
    /// `create_refresh` is an `INSERT IGNORE`: a duplicate id or hash is `Ok`, nothing
    /// written.
    RefreshInsertIgnore,
    /// `revoke_user_refresh` revokes only unconsumed tokens (`AND consumed_at IS NULL`).
    RevokeUserSkipsConsumed,
    /// `purge_refresh` ignores `limit`.
    PurgeRefreshUnlimited,

    // TokenStore, one-time tokens and OTP codes.
    /// `consume_one_time` checks whether the token was used, waits, then uses it.
    NonAtomicConsume,
    /// `issue_one_time` forgets to delete the earlier unconsumed tokens.
    IssueKeepsEarlier,
    /// `issue_one_time` deletes the earlier tokens, then inserts, without a transaction:
    /// a duplicate hash fails the insert after the delete.
    IssueDeletesBeforeConflict,
    /// `issue_one_time` deletes `WHERE user_id = ? AND consumed_at IS NULL`, forgetting
    /// the purpose: a new password reset kills a pending email verification.
    IssueIgnoresPurpose,
    /// `consume_one_time` ignores the purpose: any purpose consumes any token.
    ConsumeIgnoresPurpose,
    /// `consume_one_time` marks the token used by hash, then checks the purpose in code:
    /// a wrong purpose burns the token.
    ConsumeWrongPurposeBurns,
    /// `consume_one_time` forgets `expires_at > now`.
    ConsumeIgnoresExpiry,
    /// One-time timestamps live in `DATETIME(3)`: microseconds are cut to milliseconds.
    OneTimeTimesInMillis,
    /// `failed_attempts` lives in a signed 32-bit column: counts past `i32::MAX` are
    /// clamped.
    FailedAttemptsAsI32,
    /// `purge_one_time` ignores `limit`.
    PurgeOneTimeUnlimited,
    /// `attempt_otp` reads the code, waits, decides, then applies the decision with an
    /// atomic `failed_attempts + 1`: counts add up, but every racer is judged on a stale
    /// row, so a cap is overrun and a code accepted many times.
    NonAtomicOtp,
    /// `attempt_otp` counts a failure for `Leave` too (`failed_attempts + 1` whatever the
    /// decision, unless it consumes).
    OtpLeaveCountsFailure,
    /// `attempt_otp` selects the user's newest unconsumed token of any purpose.
    OtpIgnoresPurpose,
    /// `attempt_otp` forgets `expires_at > now`: an expired code is decided on.
    OtpIgnoresExpiry,
    /// `issue_one_time` has no foreign key to the users: an unknown user's token is
    /// accepted.
    IssueForUnknownUserOk,

    // ApiKeyStore.
    /// Empty strings (`description`, `organization_id`, `revoked_reason`) are written as
    /// `NULL` and read back `None`.
    EmptyKeyStringsAsNone,
    /// `usage_count` passes through an `f64` (a JSON number, a `REAL` column): counts
    /// past 2^53 lose their low bits.
    UsageCountAsDouble,
    /// `api_key_by_hash` answers from a cache that revocation does not invalidate.
    KeyLookupCached,
    /// `list_api_keys(None)` runs `WHERE owner_id = ?` binding `NULL`: no service key
    /// is ever listed.
    ServiceKeysOwnerEqualsNull,
    /// `update_api_key` writes every column, `NULL` for the fields the update leaves out.
    UpdateClearsUnnamedFields,
    /// `revoke_api_key` reports matched rows instead of changed rows: revoking a revoked
    /// key answers `true`.
    RevokeKeyCountsMatched,
    /// `replace_api_key` checks the old key, then inserts and caps in a second step: a
    /// revocation that returns in between does not stop the rotation.
    ReplaceChecksThenActs,
    /// `replace_api_key` caps the old key's expiry, then inserts the new key, without a
    /// transaction: a duplicate new hash fails after the cap.
    ReplaceCapsBeforeInsert,
    /// `replace_api_key` does not check `revoked_at`: a revoked key can be rotated.
    ReplaceRevivesRevoked,
    /// `replace_api_key` sets the old expiry to `old_expires_at` instead of the minimum.
    ReplaceOverwritesExpiry,
    /// `record_key_usage` reads the count, adds in code and writes it back: concurrent
    /// batches lose updates.
    UsageLostUpdate,
    /// `record_key_usage` overwrites `last_used_at` and its IP with every entry's.
    LastUsedMovesBack,
    /// `purge_api_keys` also deletes revoked keys that have not expired.
    PurgeKeysDeletesRevoked,
    /// `create_api_key` is an `INSERT IGNORE`: a duplicate id or hash is `Ok`, nothing
    /// written.
    KeyInsertIgnore,
    /// `revoke_api_key` answers `false` for an unknown id instead of `NotFound`.
    RevokeUnknownKeyFalse,
    /// `replace_api_key` inserts the new key, then caps the old one, without a
    /// transaction: an unknown old id is refused after the insert.
    ReplaceInsertsBeforeCheck,
    /// `record_key_usage` fails on an entry whose key is gone instead of skipping it.
    UsageOfDeletedKeyFails,
    /// `record_key_usage` writes the first 64 entries of a batch (one statement's worth)
    /// and drops the rest.
    UsageBatchTruncated,
    /// `delete_api_key` answers `true` whether or not a row went.
    DeleteKeyAlwaysTrue,
    /// `purge_api_keys` ignores `limit`.
    PurgeKeysUnlimited,
    /// `count_api_key_request` reads the count, adds one in code and writes it back:
    /// concurrent counts repeat values.
    CountReadThenWrite,
    /// `count_api_key_request` never starts a new window.
    CountNeverResets,
    /// `count_api_key_request` resets only after `started_at + window` (`<` for `<=`).
    CountResetsLate,
    /// `count_api_key_request` counts keys without a limit too.
    CountsUnlimitedKeys,
    /// `api_key_for_request` looks the key up and forgets to count it.
    ForRequestSkipsCount,
    /// `record_key_usage` overwrites the user agent with every entry's, older ones too.
    UserAgentMovesBack,
    /// `update_api_key` forgets the rate-limit columns.
    UpdateIgnoresRateLimit,
    /// `create_api_key` has no foreign key on `acts_for`: an unknown user is stored.
    ActsForUnchecked,

    // RbacStore.
    /// Slug lookups use `slug LIKE ?`: `_` and `%` in the input match other slugs.
    SlugLike,
    /// Slug lookups ignore ASCII case (a `_ci` collation on MariaDB).
    SlugCaseFolded,
    /// `grant_to_role` upserts and reports a repeated grant as new.
    GrantCountsRepeat,
    /// `assign_role` has no foreign key to the users: an unknown user is assigned.
    AssignUnknownUser,
    /// `grant_to_user` looks the item up by slug alone, forgetting the kind.
    GrantIgnoresKind,
    /// `user_grants` uses `UNION ALL`: a permission held twice is listed twice.
    UserGrantsUnionAll,
    /// `remove_item` of a role forgets the assignments naming it.
    RemoveRoleKeepsAssignments,
    /// `define_item` is `INSERT … ON CONFLICT DO NOTHING`: a taken slug or id is `Ok`.
    DefineIgnoresDuplicate,
    /// `remove_item` answers `true` whether or not a row went.
    RemoveItemAlwaysTrue,
    /// `list_items` forgets the kind: every item is listed under every kind.
    ListItemsOfEveryKind,
    /// `role_grants` of an unknown role is an empty list instead of `NotFound`.
    RoleGrantsOfUnknownRoleEmpty,
    /// Every unknown granted item is reported as `NotFound { what: Permission }`.
    UnknownItemNamedPermission,
    /// `assign_key_role` upserts and reports a repeated assignment as new.
    KeyRoleCountsRepeat,
    /// `key_grants` lists the roles and forgets what they grant.
    KeyGrantsRolesOnly,
    /// `assign_key_role` has no foreign key to the keys: an unknown key is assigned.
    AssignUnknownKey,
    /// `unassign_key_role` answers `true` whether or not a row went.
    UnassignKeyRoleAlwaysTrue,
}

impl Fault {
    /// Every fault but the control, for the locality check.
    pub(crate) const ALL: &[Fault] = &[
        Fault::CaseSensitiveEmail,
        Fault::EmailLike,
        Fault::InsertIgnoreUser,
        Fault::CreateUserOverwritesOnConflict,
        Fault::ClearPasswordKeepsHash,
        Fault::VerifyOverwritesFirstTime,
        Fault::UserTimesClampedAtEpoch,
        Fault::DeleteUserOrphansSessions,
        Fault::DeleteUserOrphansKeys,
        Fault::DeleteUserCascadeFirst,
        Fault::EmailStoredLowercased,
        Fault::PasswordOfUnknownUserOk,
        Fault::DeleteUserAlwaysTrue,
        Fault::TouchPastAbsolute,
        Fault::TouchAtDeadline,
        Fault::TouchIgnoresMinStep,
        Fault::TouchReturnsStale,
        Fault::TouchReadThenWrite,
        Fault::TouchCached,
        Fault::DeadlockReturned,
        Fault::CreateSessionCheckThenInsert,
        Fault::SessionTimesAsI32Seconds,
        Fault::EmptyPayloadAsNone,
        Fault::PayloadOnDeadSession,
        Fault::RevokeAllExceptNull,
        Fault::ListIncludesDead,
        Fault::PurgeSessionsStrict,
        Fault::PurgeSessionsUnlimited,
        Fault::TouchChecksAbsoluteOnly,
        Fault::SessionByIdSlides,
        Fault::SessionOfUnknownUserOk,
        Fault::DebugPrintsRows,
        Fault::NonAtomicRotate,
        Fault::RotateUnknownCallsRule,
        Fault::RotateHidesRevoked,
        Fault::RotateHidesExpired,
        Fault::RotateCallsRuleTwice,
        Fault::RotateConsumesBeforeInsert,
        Fault::RevokeFamilySnapshot,
        Fault::RevokeFamilyOverwrites,
        Fault::PurgeRefreshStrict,
        Fault::PurgeRefreshDeletesSpent,
        Fault::EmptyProfileAsNone,
        Fault::RotationsAsI32,
        Fault::RefreshInsertIgnore,
        Fault::RevokeUserSkipsConsumed,
        Fault::PurgeRefreshUnlimited,
        Fault::NonAtomicConsume,
        Fault::IssueKeepsEarlier,
        Fault::IssueDeletesBeforeConflict,
        Fault::IssueIgnoresPurpose,
        Fault::ConsumeIgnoresPurpose,
        Fault::ConsumeWrongPurposeBurns,
        Fault::ConsumeIgnoresExpiry,
        Fault::OneTimeTimesInMillis,
        Fault::FailedAttemptsAsI32,
        Fault::PurgeOneTimeUnlimited,
        Fault::NonAtomicOtp,
        Fault::OtpLeaveCountsFailure,
        Fault::OtpIgnoresPurpose,
        Fault::OtpIgnoresExpiry,
        Fault::IssueForUnknownUserOk,
        Fault::EmptyKeyStringsAsNone,
        Fault::UsageCountAsDouble,
        Fault::KeyLookupCached,
        Fault::ServiceKeysOwnerEqualsNull,
        Fault::UpdateClearsUnnamedFields,
        Fault::RevokeKeyCountsMatched,
        Fault::ReplaceChecksThenActs,
        Fault::ReplaceCapsBeforeInsert,
        Fault::ReplaceRevivesRevoked,
        Fault::ReplaceOverwritesExpiry,
        Fault::UsageLostUpdate,
        Fault::LastUsedMovesBack,
        Fault::PurgeKeysDeletesRevoked,
        Fault::KeyInsertIgnore,
        Fault::RevokeUnknownKeyFalse,
        Fault::ReplaceInsertsBeforeCheck,
        Fault::UsageOfDeletedKeyFails,
        Fault::UsageBatchTruncated,
        Fault::DeleteKeyAlwaysTrue,
        Fault::PurgeKeysUnlimited,
        Fault::CountReadThenWrite,
        Fault::CountNeverResets,
        Fault::CountResetsLate,
        Fault::CountsUnlimitedKeys,
        Fault::ForRequestSkipsCount,
        Fault::UserAgentMovesBack,
        Fault::UpdateIgnoresRateLimit,
        Fault::ActsForUnchecked,
        Fault::SlugLike,
        Fault::SlugCaseFolded,
        Fault::GrantCountsRepeat,
        Fault::AssignUnknownUser,
        Fault::GrantIgnoresKind,
        Fault::UserGrantsUnionAll,
        Fault::RemoveRoleKeepsAssignments,
        Fault::DefineIgnoresDuplicate,
        Fault::RemoveItemAlwaysTrue,
        Fault::ListItemsOfEveryKind,
        Fault::RoleGrantsOfUnknownRoleEmpty,
        Fault::UnknownItemNamedPermission,
        Fault::KeyRoleCountsRepeat,
        Fault::KeyGrantsRolesOnly,
        Fault::AssignUnknownKey,
        Fault::UnassignKeyRoleAlwaysTrue,
    ];

    /// The part of the store the fault lives in: a faulty store passes every case of the
    /// other parts.
    pub(crate) fn area(self) -> Area {
        use Fault::*;
        match self {
            None => Area::None,
            CaseSensitiveEmail
            | EmailLike
            | InsertIgnoreUser
            | CreateUserOverwritesOnConflict
            | ClearPasswordKeepsHash
            | VerifyOverwritesFirstTime
            | UserTimesClampedAtEpoch
            | DeleteUserOrphansSessions
            | DeleteUserOrphansKeys
            | DeleteUserCascadeFirst
            | EmailStoredLowercased
            | PasswordOfUnknownUserOk
            | DeleteUserAlwaysTrue => Area::Users,
            TouchPastAbsolute
            | TouchAtDeadline
            | TouchIgnoresMinStep
            | TouchReturnsStale
            | TouchReadThenWrite
            | TouchCached
            | DeadlockReturned
            | CreateSessionCheckThenInsert
            | SessionTimesAsI32Seconds
            | EmptyPayloadAsNone
            | PayloadOnDeadSession
            | RevokeAllExceptNull
            | ListIncludesDead
            | PurgeSessionsStrict
            | PurgeSessionsUnlimited
            | TouchChecksAbsoluteOnly
            | SessionByIdSlides
            | SessionOfUnknownUserOk
            | DebugPrintsRows => Area::Sessions,
            NonAtomicRotate
            | RotateUnknownCallsRule
            | RotateHidesRevoked
            | RotateHidesExpired
            | RotateCallsRuleTwice
            | RotateConsumesBeforeInsert
            | RevokeFamilySnapshot
            | RevokeFamilyOverwrites
            | PurgeRefreshStrict
            | PurgeRefreshDeletesSpent
            | EmptyProfileAsNone
            | RotationsAsI32
            | RefreshInsertIgnore
            | RevokeUserSkipsConsumed
            | PurgeRefreshUnlimited => Area::Refresh,
            NonAtomicConsume
            | IssueKeepsEarlier
            | IssueDeletesBeforeConflict
            | IssueIgnoresPurpose
            | ConsumeIgnoresPurpose
            | ConsumeWrongPurposeBurns
            | ConsumeIgnoresExpiry
            | OneTimeTimesInMillis
            | FailedAttemptsAsI32
            | PurgeOneTimeUnlimited
            | NonAtomicOtp
            | OtpLeaveCountsFailure
            | OtpIgnoresPurpose
            | OtpIgnoresExpiry
            | IssueForUnknownUserOk => Area::OneTime,
            EmptyKeyStringsAsNone
            | UsageCountAsDouble
            | KeyLookupCached
            | ServiceKeysOwnerEqualsNull
            | UpdateClearsUnnamedFields
            | RevokeKeyCountsMatched
            | ReplaceChecksThenActs
            | ReplaceCapsBeforeInsert
            | ReplaceRevivesRevoked
            | ReplaceOverwritesExpiry
            | UsageLostUpdate
            | LastUsedMovesBack
            | PurgeKeysDeletesRevoked
            | KeyInsertIgnore
            | RevokeUnknownKeyFalse
            | ReplaceInsertsBeforeCheck
            | UsageOfDeletedKeyFails
            | UsageBatchTruncated
            | DeleteKeyAlwaysTrue
            | PurgeKeysUnlimited
            | CountReadThenWrite
            | CountNeverResets
            | CountResetsLate
            | CountsUnlimitedKeys
            | ForRequestSkipsCount
            | UserAgentMovesBack
            | UpdateIgnoresRateLimit
            | ActsForUnchecked => Area::ApiKeys,
            SlugLike
            | SlugCaseFolded
            | GrantCountsRepeat
            | AssignUnknownUser
            | GrantIgnoresKind
            | UserGrantsUnionAll
            | RemoveRoleKeepsAssignments
            | DefineIgnoresDuplicate
            | RemoveItemAlwaysTrue
            | ListItemsOfEveryKind
            | RoleGrantsOfUnknownRoleEmpty
            | UnknownItemNamedPermission
            | KeyRoleCountsRepeat
            | KeyGrantsRolesOnly
            | AssignUnknownKey
            | UnassignKeyRoleAlwaysTrue => Area::Rbac,
        }
    }
}

/// A part of the store: a trait, with the token store split in two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Area {
    None,
    Users,
    Sessions,
    Refresh,
    OneTime,
    ApiKeys,
    Rbac,
}

impl Area {
    pub(crate) const ALL: [Area; 6] = [
        Area::Users,
        Area::Sessions,
        Area::Refresh,
        Area::OneTime,
        Area::ApiKeys,
        Area::Rbac,
    ];
}

/// A patch over a refresh token as the broken store holds it (the memory store below
/// holds the correct value).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RefreshPatch {
    /// `Some(v)` replaces `consumed_at` with `v`.
    pub(crate) consumed_at: Option<Option<Timestamp>>,
    /// Rotations the broken store counted on top of the memory store's.
    pub(crate) extra_rotations: u32,
    /// `Some(v)` replaces `revoked_at` with `v`.
    pub(crate) revoked_at: Option<Option<Timestamp>>,
}

impl RefreshPatch {
    pub(crate) fn apply(&self, token: &mut RefreshToken) {
        if let Some(consumed_at) = self.consumed_at {
            token.consumed_at = consumed_at;
        }
        token.rotations = token.rotations.saturating_add(self.extra_rotations);
        if let Some(revoked_at) = self.revoked_at {
            token.revoked_at = revoked_at;
        }
    }
}

/// What the wrapper remembers beside the memory store. Recording is always on (it only
/// observes); the faults decide what to do with it.
#[derive(Debug, Default)]
pub(crate) struct Shadow {
    /// Users created, in creation order.
    pub(crate) users: Vec<User>,
    /// `mark_email_verified` overwrites, by user.
    pub(crate) verified_overwrite: HashMap<UserId, Timestamp>,
    /// Sessions by hash, as last written or returned.
    pub(crate) sessions: HashMap<TokenHash, Session>,
    /// Sessions a broken cascade left behind, by hash.
    pub(crate) orphan_sessions: HashMap<TokenHash, Session>,
    /// The touch cache of [`Fault::TouchCached`].
    pub(crate) touch_cache: HashMap<TokenHash, Session>,
    /// Refresh token hashes by family, in insertion order.
    pub(crate) families: HashMap<FamilyId, Vec<TokenHash>>,
    /// Refresh tokens as the broken store holds them.
    pub(crate) refresh_patches: HashMap<TokenHash, RefreshPatch>,
    /// Refresh tokens the broken store deleted.
    pub(crate) refresh_deleted: HashSet<TokenHash>,
    /// One-time tokens issued, by hash, with `consumed_at` as last seen.
    pub(crate) one_time: HashMap<TokenHash, OneTimeToken>,
    /// One-time tokens the broken store failed to delete.
    pub(crate) one_time_ghosts: HashMap<TokenHash, OneTimeToken>,
    /// API keys created, by id.
    pub(crate) key_ids: Vec<ApiKeyId>,
    /// API keys a broken cascade left behind, by hash.
    pub(crate) orphan_keys: HashMap<TokenHash, ApiKey>,
    /// The lookup cache of [`Fault::KeyLookupCached`].
    pub(crate) key_cache: HashMap<TokenHash, ApiKey>,
    /// Role assignments the broken store kept after removing the role.
    pub(crate) ghost_roles: HashMap<UserId, BTreeSet<String>>,
    /// Rate-limit windows as a broken counter keeps them.
    pub(crate) windows: HashMap<ApiKeyId, authkit::RateWindow>,
}

/// A memory store with one [`Fault`].
pub(crate) struct Broken {
    pub(crate) inner: MemoryStore,
    pub(crate) fault: Fault,
    shadow: Mutex<Shadow>,
    /// Serializes the row rewrites of the faults that replace a whole row, the way one
    /// `UPDATE` statement is atomic on its own.
    pub(crate) statement: tokio::sync::Mutex<()>,
    /// For [`Fault::NonAtomicConsume`]: tokens consumed so far, by hash.
    pub(crate) consumed: tokio::sync::Mutex<HashMap<TokenHash, OneTimeToken>>,
    /// For [`Fault::DeadlockReturned`]: touches in flight.
    pub(crate) touching: AtomicUsize,
}

impl fmt::Debug for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Broken");
        out.field("inner", &self.inner).field("fault", &self.fault);
        if self.has(Fault::DebugPrintsRows) {
            // What `#[derive(Debug)]` on a store that holds its rows prints.
            out.field("rows", &*self.shadow());
        }
        out.finish_non_exhaustive()
    }
}

impl Broken {
    pub(crate) fn new(fault: Fault) -> Self {
        Broken {
            inner: MemoryStore::new(),
            fault,
            shadow: Mutex::default(),
            statement: tokio::sync::Mutex::default(),
            consumed: tokio::sync::Mutex::default(),
            touching: AtomicUsize::new(0),
        }
    }

    /// Whether the store has `fault`.
    pub(crate) fn has(&self, fault: Fault) -> bool {
        self.fault == fault
    }

    /// The shadow state. Never held across an `.await`.
    pub(crate) fn shadow(&self) -> MutexGuard<'_, Shadow> {
        self.shadow.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces a session row wholesale (delete, then insert the given row), as one
    /// statement: an upsert by id. A session deleted meanwhile comes back.
    pub(crate) async fn upsert_session(&self, session: &Session) -> Result<(), StoreError> {
        let _statement = self.statement.lock().await;
        self.inner.revoke_session(session.id).await?;
        self.inner.create_session(session).await?;
        self.shadow()
            .sessions
            .insert(session.token_hash, session.clone());
        Ok(())
    }
}

/// Long enough that every racer of a 32-task race is inside the window.
pub(crate) const RACE_WINDOW: StdDuration = StdDuration::from_millis(20);

/// A fresh store set with one fault per call.
#[derive(Debug)]
pub(crate) struct BrokenFactory(pub(crate) Fault);

#[async_trait]
impl StoreFactory for BrokenFactory {
    async fn stores(&self) -> Stores {
        Stores::from_backend(Broken::new(self.0))
    }
}

/// SQL `LIKE`: `%` matches any run, `_` any one character, `\` escapes the next one.
/// With `fold`, ASCII letters match either case.
pub(crate) fn like(pattern: &str, text: &str, fold: bool) -> bool {
    enum Token {
        Any,
        One,
        Char(char),
    }
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            '%' => Token::Any,
            '_' => Token::One,
            '\\' => Token::Char(chars.next().unwrap_or('\\')),
            c => Token::Char(c),
        });
    }
    let text: Vec<char> = text.chars().collect();
    let same = |a: char, b: char| {
        if fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    // matches[j]: the tokens so far match text[..j].
    let mut matches = vec![false; text.len() + 1];
    matches[0] = true;
    for token in &tokens {
        let mut next = vec![false; text.len() + 1];
        for j in 0..=text.len() {
            next[j] = match token {
                Token::Any => matches[j] || (j > 0 && next[j - 1]),
                Token::One => j > 0 && matches[j - 1],
                Token::Char(c) => j > 0 && matches[j - 1] && same(*c, text[j - 1]),
            };
        }
        matches = next;
    }
    matches[text.len()]
}

#[test]
fn like_matches_as_sql_does() {
    assert!(like("a_c", "abc", false));
    assert!(like("a%", "a", false));
    assert!(like("%@x.io", "alice@x.io", false));
    assert!(!like("a\\_c", "abc", false));
    assert!(like("a\\_c", "a_c", false));
    assert!(like("ALICE@%", "alice@x.io", true));
    assert!(!like("ALICE@%", "alice@x.io", false));
    assert!(!like("a_", "a", false));
}
