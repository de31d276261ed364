//! Which sessions this process expects a slide for, so that a store whose database has
//! a one-statement slide (PostgreSQL's `UPDATE … RETURNING`) can pick its statement:
//! the conditional slide for those, a plain `SELECT` for the rest. Used by
//! authkit-sqlx and authkit-seaorm; offered to any store with the same choice.

use std::sync::Mutex;

use crate::model::{Session, SlidePolicy, Timestamp, TokenHash};

/// Sets in the table; a session maps to one by its hash.
const SETS: usize = 4096;

/// What was last seen of one session: its hash's first 8 bytes (a tag) and its idle and
/// absolute deadlines in whole seconds. Rounding a deadline down can only make a slide
/// look due up to a second early; the one-statement slide checks the row itself.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Seen {
    tag: u64,
    idle: i64,
    absolute: i64,
}

/// Two sessions per set, the one seen last first: a third session in the set evicts
/// the one seen longest ago.
type Set = [Option<Seen>; 2];

/// A fixed table of the idle and absolute deadlines last seen per session hash (about
/// 230 KiB, never more). Only a hint, and only ever used to choose the statement that
/// costs less: a session it knows and expects a slide for gets the conditional slide
/// with `UPDATE … RETURNING`, every other session (unknown, evicted, or not due) the plain
/// `SELECT`, after which the store still slides a session that turns out due, in a
/// second statement. So a miss costs what the store cost before the table existed,
/// never more, and never a wrong answer. Two ways per set keep sessions that share a
/// set from evicting each other: with one way, a quarter of 1,024 sessions in 4,096
/// slots shared theirs.
pub struct SlideHints {
    sets: Box<[Mutex<Set>]>,
}

impl std::fmt::Debug for SlideHints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlideHints").finish_non_exhaustive()
    }
}

impl Default for SlideHints {
    fn default() -> Self {
        SlideHints {
            sets: (0..SETS).map(|_| Mutex::new([None; 2])).collect(),
        }
    }
}

impl SlideHints {
    /// Whether the session with `hash` was last seen with deadlines that need a slide
    /// at `now`. Unknown: `false`.
    pub fn due(&self, hash: &TokenHash, now: Timestamp, policy: SlidePolicy) -> bool {
        let (tag, set) = Self::place(hash);
        let Some(seen) = self
            .lock(set)
            .iter()
            .flatten()
            .find(|s| s.tag == tag)
            .copied()
        else {
            return false;
        };
        let (Ok(idle), Ok(absolute)) = (
            Timestamp::from_unix_timestamp(seen.idle),
            Timestamp::from_unix_timestamp(seen.absolute),
        ) else {
            return false;
        };
        policy.next_deadline_of(idle, absolute, now).is_some()
    }

    /// Notes `session`'s deadlines as of the touch that returned it.
    pub fn saw(&self, session: &Session) {
        let (tag, set) = Self::place(&session.token_hash);
        let seen = Some(Seen {
            tag,
            idle: session.idle_expires_at.unix_timestamp(),
            absolute: session.absolute_expires_at.unix_timestamp(),
        });
        let mut held = self.lock(set);
        // Most touches see what the last one saw: then nothing is written.
        if held[0] == seen {
            return;
        }
        if held[0].is_none_or(|first| first.tag != tag) {
            held[1] = held[0];
        }
        held[0] = seen;
    }

    /// Drops what was seen of the session with `hash` (it was found dead), so that a
    /// replayed dead cookie is not expected to slide.
    pub fn forget(&self, hash: &TokenHash) {
        let (tag, set) = Self::place(hash);
        let mut held = self.lock(set);
        if held[1].is_some_and(|s| s.tag == tag) {
            held[1] = None;
        }
        if held[0].is_some_and(|s| s.tag == tag) {
            held[0] = held[1].take();
        }
    }

    fn place(hash: &TokenHash) -> (u64, usize) {
        let mut head = [0u8; 8];
        head.copy_from_slice(&hash.0[..8]);
        let tag = u64::from_le_bytes(head);
        (tag, (tag % SETS as u64) as usize)
    }

    fn lock(&self, set: usize) -> std::sync::MutexGuard<'_, Set> {
        self.sets[set]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{SessionId, UserId};
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    const T0: Timestamp = datetime!(2030-01-01 00:00:00 UTC);

    fn session(hash: [u8; 32], idle_at: Timestamp) -> Session {
        Session {
            id: SessionId::new(),
            user_id: UserId::new(),
            token_hash: TokenHash(hash),
            created_at: T0,
            last_seen_at: T0,
            idle_expires_at: idle_at,
            absolute_expires_at: T0 + Duration::days(1),
            payload: None,
        }
    }

    fn policy() -> SlidePolicy {
        SlidePolicy {
            idle_ttl: Duration::hours(1),
            min_step: Duration::minutes(1),
        }
    }

    #[test]
    fn a_session_never_seen_is_not_expected_to_slide() {
        let hints = SlideHints::default();
        assert!(!hints.due(&TokenHash([1; 32]), T0 + Duration::days(1), policy()));
    }

    #[test]
    fn a_session_seen_is_expected_to_slide_once_the_step_passes() {
        let hints = SlideHints::default();
        let seen = session([1; 32], T0 + Duration::hours(1));
        hints.saw(&seen);
        let hash = &seen.token_hash;
        assert!(!hints.due(hash, T0 + Duration::seconds(59), policy()));
        assert!(hints.due(hash, T0 + Duration::seconds(61), policy()));
    }

    /// A hash in set 1 whose tag differs from `[1; 32]`'s by `n`.
    fn same_set(n: u8) -> [u8; 32] {
        let mut hash = [1u8; 32];
        hash[7] = 1 + n;
        hash
    }

    #[test]
    fn another_session_in_the_same_set_is_not_taken_for_it() {
        let hints = SlideHints::default();
        hints.saw(&session([1; 32], T0 + Duration::hours(1)));
        let later = T0 + Duration::minutes(10);
        assert!(hints.due(&TokenHash([1; 32]), later, policy()));
        assert!(!hints.due(&TokenHash(same_set(1)), later, policy()));
    }

    #[test]
    fn two_sessions_share_a_set_and_a_third_evicts_the_one_seen_longest_ago() {
        let hints = SlideHints::default();
        let later = T0 + Duration::minutes(10);
        let due = |n: u8| hints.due(&TokenHash(same_set(n)), later, policy());
        for n in [0, 1, 0, 1] {
            hints.saw(&session(same_set(n), T0 + Duration::hours(1)));
        }
        assert!(due(0) && due(1));
        hints.saw(&session(same_set(2), T0 + Duration::hours(1)));
        assert!(!due(0), "the session seen longest ago is evicted");
        assert!(due(1) && due(2));
    }

    #[test]
    fn a_new_touch_replaces_what_was_seen_of_the_same_session() {
        let hints = SlideHints::default();
        hints.saw(&session(same_set(0), T0 + Duration::hours(1)));
        hints.saw(&session(same_set(1), T0 + Duration::hours(1)));
        // Slid at T0 + 10 min: nothing is due a minute later.
        hints.saw(&session(same_set(0), T0 + Duration::minutes(70)));
        let soon = T0 + Duration::minutes(11);
        assert!(!hints.due(&TokenHash(same_set(0)), soon, policy()));
        assert!(hints.due(&TokenHash(same_set(1)), soon, policy()));
    }

    #[test]
    fn a_forgotten_session_is_not_expected_to_slide_and_its_neighbour_stays() {
        let hints = SlideHints::default();
        let later = T0 + Duration::minutes(10);
        let due = |n: u8| hints.due(&TokenHash(same_set(n)), later, policy());
        for n in [0, 1] {
            hints.saw(&session(same_set(n), T0 + Duration::hours(1)));
        }
        hints.forget(&TokenHash(same_set(1)));
        assert!(!due(1) && due(0));
        hints.saw(&session(same_set(1), T0 + Duration::hours(1)));
        hints.forget(&TokenHash(same_set(0)));
        assert!(!due(0) && due(1));
    }
}
