//! Which sessions this process expects a slide for, so that PostgreSQL's
//! authentication can pick its statement: the one-statement lookup-and-slide for those,
//! a plain `SELECT` for the rest.

use std::sync::Mutex;

use authkit::{Session, SlidePolicy, Timestamp, TokenHash};

/// Slots in the table; a session maps to one by its hash.
const SLOTS: usize = 4096;

/// What was last seen of one session: its hash's first 8 bytes (a tag), and deadlines.
type Seen = Option<(u64, Timestamp, Timestamp)>;

/// A fixed table of the idle and absolute deadlines last seen per session hash (a few
/// hundred KiB, never more). Only a hint, and only ever used to choose the statement
/// that costs less: a session it knows and expects a slide for gets the
/// one-statement lookup-and-slide, every other session (unknown, evicted by another
/// in its slot, or not due) the plain `SELECT`, after which the store still slides a
/// session that turns out due, in a second statement. So a miss costs what the store
/// cost before the table existed, never more, and never a wrong answer.
pub(crate) struct SlideHints {
    slots: Box<[Mutex<Seen>]>,
}

impl std::fmt::Debug for SlideHints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlideHints").finish_non_exhaustive()
    }
}

impl Default for SlideHints {
    fn default() -> Self {
        SlideHints {
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
        }
    }
}

impl SlideHints {
    /// Whether the session with `hash` was last seen with deadlines that need a slide
    /// at `now`. Unknown: `false`.
    pub(crate) fn due(&self, hash: &TokenHash, now: Timestamp, policy: SlidePolicy) -> bool {
        let (tag, slot) = Self::place(hash);
        match *self.lock(slot) {
            Some((seen, idle, absolute)) if seen == tag => {
                policy.next_deadline_of(idle, absolute, now).is_some()
            }
            _ => false,
        }
    }

    /// Notes `session`'s deadlines as of the touch that returned it.
    pub(crate) fn saw(&self, session: &Session) {
        let (tag, slot) = Self::place(&session.token_hash);
        let seen = Some((tag, session.idle_expires_at, session.absolute_expires_at));
        let mut held = self.lock(slot);
        // Most touches see what the last one saw: then nothing is written.
        if *held != seen {
            *held = seen;
        }
    }

    fn place(hash: &TokenHash) -> (u64, usize) {
        let mut head = [0u8; 8];
        head.copy_from_slice(&hash.0[..8]);
        let tag = u64::from_le_bytes(head);
        (tag, (tag % SLOTS as u64) as usize)
    }

    fn lock(&self, slot: usize) -> std::sync::MutexGuard<'_, Seen> {
        self.slots[slot]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use authkit::{SessionId, UserId};
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

    #[test]
    fn another_session_in_the_same_slot_is_not_taken_for_it() {
        let hints = SlideHints::default();
        let mut other = [1u8; 32];
        // Same slot (the tag modulo the table size), another tag.
        other[7] = 2;
        hints.saw(&session([1; 32], T0 + Duration::hours(1)));
        let later = T0 + Duration::minutes(10);
        assert!(hints.due(&TokenHash([1; 32]), later, policy()));
        assert!(!hints.due(&TokenHash(other), later, policy()));
    }
}
