//! Sessions verified in the store, kept for `session.cache_ttl` so that authentication
//! can answer from memory (see [`SessionConfig::cache_ttl`](crate::config::SessionConfig)).

use std::collections::HashMap;
use std::sync::RwLock;

use crate::model::{Session, SessionId, Timestamp, TokenHash, UserId};

/// The most sessions kept; past it, stale entries go, then all if none was stale.
const MAX_ENTRIES: usize = 10_000;

/// Sessions by token hash, each with the time it was read from the store.
#[derive(Debug, Default)]
pub(super) struct SessionCache {
    entries: RwLock<HashMap<TokenHash, (Session, Timestamp)>>,
}

impl SessionCache {
    /// The session with `hash` if it was read from the store less than `ttl` before
    /// `now` and is still live at `now`.
    pub(super) fn get(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        ttl: time::Duration,
    ) -> Option<Session> {
        if ttl <= time::Duration::ZERO {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let (session, read_at) = entries.get(hash)?;
        let fresh = now < *read_at + ttl && now >= *read_at;
        let live = now < session.idle_expires_at && now < session.absolute_expires_at;
        (fresh && live).then(|| session.clone())
    }

    /// Keeps `session`, read from the store at `now`.
    pub(super) fn put(&self, session: &Session, now: Timestamp, ttl: time::Duration) {
        if ttl <= time::Duration::ZERO {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&session.token_hash) {
            entries.retain(|_, (_, read_at)| now < *read_at + ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(session.token_hash, (session.clone(), now));
    }

    /// Forgets the session `id`.
    pub(super) fn forget_session(&self, id: SessionId) {
        self.lock().retain(|_, (s, _)| s.id != id);
    }

    /// Forgets every session of `user` but `keep`.
    pub(super) fn forget_user(&self, user: UserId, keep: Option<SessionId>) {
        self.lock()
            .retain(|_, (s, _)| s.user_id != user || Some(s.id) == keep);
    }

    fn lock(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<TokenHash, (Session, Timestamp)>> {
        self.entries.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use time::Duration;
    use time::macros::datetime;

    use super::*;

    const T0: Timestamp = datetime!(2030-01-01 00:00 UTC);
    const TTL: Duration = Duration::seconds(5);

    fn session(n: u8, user: UserId) -> Session {
        Session {
            id: SessionId::new(),
            user_id: user,
            token_hash: TokenHash([n; 32]),
            created_at: T0,
            last_seen_at: T0,
            idle_expires_at: T0 + Duration::hours(1),
            absolute_expires_at: T0 + Duration::days(1),
            payload: None,
        }
    }

    #[test]
    fn a_session_is_served_for_the_ttl_and_not_after() {
        let cache = SessionCache::default();
        let s = session(1, UserId::new());
        cache.put(&s, T0, TTL);
        assert_eq!(
            cache.get(&s.token_hash, T0 + Duration::seconds(4), TTL),
            Some(s.clone())
        );
        assert_eq!(cache.get(&s.token_hash, T0 + TTL, TTL), None);
        assert_eq!(
            cache.get(&s.token_hash, T0 - Duration::seconds(1), TTL),
            None,
            "clock went back"
        );
    }

    #[test]
    fn a_zero_ttl_keeps_nothing() {
        let cache = SessionCache::default();
        let s = session(1, UserId::new());
        cache.put(&s, T0, Duration::ZERO);
        assert_eq!(cache.get(&s.token_hash, T0, TTL), None);
    }

    #[test]
    fn a_cached_session_past_its_deadline_is_not_served() {
        let cache = SessionCache::default();
        let mut s = session(1, UserId::new());
        s.idle_expires_at = T0 + Duration::seconds(2);
        cache.put(&s, T0, TTL);
        assert_eq!(
            cache.get(&s.token_hash, T0 + Duration::seconds(2), TTL),
            None
        );
    }

    #[test]
    fn forgetting_removes_the_session_or_the_users_others() {
        let cache = SessionCache::default();
        let (ada, bob) = (UserId::new(), UserId::new());
        let (a1, a2, b1) = (session(1, ada), session(2, ada), session(3, bob));
        for s in [&a1, &a2, &b1] {
            cache.put(s, T0, TTL);
        }
        cache.forget_user(ada, Some(a2.id));
        assert_eq!(cache.get(&a1.token_hash, T0, TTL), None);
        assert!(cache.get(&a2.token_hash, T0, TTL).is_some());
        assert!(cache.get(&b1.token_hash, T0, TTL).is_some());
        cache.forget_session(b1.id);
        assert_eq!(cache.get(&b1.token_hash, T0, TTL), None);
    }

    #[test]
    fn a_full_cache_drops_stale_entries_first() {
        let cache = SessionCache::default();
        let user = UserId::new();
        let keep = session(0, user);
        cache.put(&keep, T0 + Duration::seconds(3), TTL);
        for n in 1..MAX_ENTRIES {
            let mut s = session(0, user);
            s.token_hash.0[..8].copy_from_slice(&(n as u64).to_le_bytes());
            s.token_hash.0[31] = 1;
            cache.put(&s, T0, TTL);
        }
        let newcomer = session(9, user);
        cache.put(&newcomer, T0 + Duration::seconds(6), TTL);
        let now = T0 + Duration::seconds(6);
        assert!(
            cache.get(&keep.token_hash, now, TTL).is_some(),
            "a fresh entry went"
        );
        assert!(cache.get(&newcomer.token_hash, now, TTL).is_some());
        assert_eq!(cache.lock().len(), 2);
    }
}
