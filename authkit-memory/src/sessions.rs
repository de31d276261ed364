//! [`SessionStore`]: sessions sharded by token hash, so authentication scales with threads.
//!
//! Layout: [`SHARDS`] shards, each a `Mutex<HashMap<TokenHash, Session>>` padded to its own
//! cache lines, chosen by the first byte of the token hash (a SHA-256, so uniform).
//! `touch_session`, the hot path, locks exactly one shard. An index from session id to
//! token hash (an `RwLock`) serves lookups by id; every insert or delete of a session
//! holds its write lock, so the index and the shards always agree, and membership is
//! frozen while a reader holds it. Lookups by user scan the shards.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockWriteGuard};

use async_trait::async_trait;
use authkit::{
    Entity, Session, SessionId, SessionStore, SlidePolicy, StoreError, Timestamp, TokenHash, UserId,
};

use crate::MemoryStore;
use crate::sync::{lock, read, write};

/// How many shards the sessions are split into.
const SHARDS: usize = 32;

type SessionMap = HashMap<TokenHash, Session>;

/// One shard, aligned so that two shards never share a cache line (or an adjacent-line
/// prefetch pair): threads touching different shards do not slow each other down.
#[derive(Default)]
#[repr(align(128))]
struct Shard(Mutex<SessionMap>);

/// The sessions table.
#[derive(Default)]
pub(crate) struct Sessions {
    /// Session id → token hash. Written under its write lock by every insert and delete.
    index: RwLock<HashMap<SessionId, TokenHash>>,
    shards: [Shard; SHARDS],
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Sessions");
        match self.index.try_read() {
            Ok(index) => s.field("rows", &index.len()),
            Err(_) => s.field("rows", &"<locked>"),
        };
        s.field("shards", &SHARDS).finish()
    }
}

fn shard_index(hash: &TokenHash) -> usize {
    usize::from(hash.0[0]) % SHARDS
}

/// Every session lock held at once: the index for writing and every shard.
pub(crate) struct AllSessions<'a> {
    index: RwLockWriteGuard<'a, HashMap<SessionId, TokenHash>>,
    shards: Vec<MutexGuard<'a, SessionMap>>,
}

impl AllSessions<'_> {
    /// Deletes every session matching `doomed`; returns how many went.
    pub(crate) fn remove_where(&mut self, mut doomed: impl FnMut(&Session) -> bool) -> u64 {
        let mut removed = 0;
        for shard in &mut self.shards {
            shard.retain(|_, s| {
                if doomed(s) {
                    self.index.remove(&s.id);
                    removed += 1;
                    false
                } else {
                    true
                }
            });
        }
        removed
    }
}

impl Sessions {
    fn shard(&self, hash: &TokenHash) -> MutexGuard<'_, SessionMap> {
        lock(&self.shards[shard_index(hash)].0)
    }

    /// Takes the index write lock and then every shard in ascending order (the global
    /// lock order), for changes that must look atomic across shards.
    pub(crate) fn lock_all(&self) -> AllSessions<'_> {
        let index = write(&self.index);
        let shards = self.shards.iter().map(|s| lock(&s.0)).collect();
        AllSessions { index, shards }
    }

    /// Runs `f` on the session with this id, under its shard's lock.
    fn with_id<R>(&self, id: SessionId, f: impl FnOnce(&mut Session) -> R) -> Option<R> {
        let index = read(&self.index);
        let hash = index.get(&id)?;
        let mut shard = self.shard(hash);
        shard.get_mut(hash).map(f)
    }

    fn insert(&self, session: &Session) -> Result<(), StoreError> {
        let mut index = write(&self.index);
        if index.contains_key(&session.id) {
            return Err(StoreError::Conflict {
                what: Entity::Session,
            });
        }
        let mut shard = self.shard(&session.token_hash);
        if shard.contains_key(&session.token_hash) {
            return Err(StoreError::Conflict {
                what: Entity::Session,
            });
        }
        shard.insert(session.token_hash, session.clone());
        index.insert(session.id, session.token_hash);
        Ok(())
    }

    fn touch(&self, hash: &TokenHash, now: Timestamp, policy: SlidePolicy) -> Option<Session> {
        let mut shard = self.shard(hash);
        let session = shard.get_mut(hash)?;
        if !session.is_live(now) {
            return None;
        }
        if let Some(deadline) = policy.next_deadline(session, now) {
            session.idle_expires_at = deadline;
            session.last_seen_at = now;
        }
        Some(session.clone())
    }

    fn remove(&self, id: SessionId) -> bool {
        let mut index = write(&self.index);
        let Some(hash) = index.remove(&id) else {
            return false;
        };
        self.shard(&hash).remove(&hash);
        true
    }

    fn list_user(&self, user: UserId, now: Timestamp) -> Vec<Session> {
        // The index read lock freezes membership (no insert or delete) during the scan.
        let _index = read(&self.index);
        let mut found: Vec<Session> = self
            .shards
            .iter()
            .flat_map(|shard| {
                lock(&shard.0)
                    .values()
                    .filter(|s| s.user_id == user && s.is_live(now))
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .collect();
        found.sort_by_key(|s| (s.created_at, s.id));
        found
    }

    fn purge(&self, now: Timestamp, limit: u32) -> u64 {
        let mut index = write(&self.index);
        let mut left = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut removed = 0;
        for shard in &self.shards {
            if left == 0 {
                break;
            }
            let mut shard = lock(&shard.0);
            let dead: Vec<TokenHash> = shard
                .iter()
                .filter(|(_, s)| !s.is_live(now))
                .map(|(hash, _)| *hash)
                .take(left)
                .collect();
            for hash in &dead {
                if let Some(s) = shard.remove(hash) {
                    index.remove(&s.id);
                }
            }
            left -= dead.len();
            removed += dead.len() as u64;
        }
        removed
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        // Held until the insert is done, so a concurrent delete_user cannot slip between
        // the check and the insert and leave an orphan.
        let users = read(&self.users);
        users.require(session.user_id)?;
        self.sessions.insert(session)
    }

    async fn touch_session(
        &self,
        hash: &TokenHash,
        now: Timestamp,
        policy: SlidePolicy,
    ) -> Result<Option<Session>, StoreError> {
        Ok(self.sessions.touch(hash, now, policy))
    }

    async fn session_by_id(
        &self,
        id: SessionId,
        now: Timestamp,
    ) -> Result<Option<Session>, StoreError> {
        Ok(self
            .sessions
            .with_id(id, |s| s.is_live(now).then(|| s.clone()))
            .flatten())
    }

    async fn set_session_payload(
        &self,
        id: SessionId,
        payload: Option<&[u8]>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let updated = self.sessions.with_id(id, |s| {
            if s.is_live(now) {
                s.payload = payload.map(<[u8]>::to_vec);
                true
            } else {
                false
            }
        });
        match updated {
            Some(true) => Ok(()),
            _ => Err(StoreError::NotFound {
                what: Entity::Session,
            }),
        }
    }

    async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
        Ok(self.sessions.remove(id))
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        except: Option<SessionId>,
    ) -> Result<u64, StoreError> {
        Ok(self
            .sessions
            .lock_all()
            .remove_where(|s| s.user_id == user && Some(s.id) != except))
    }

    async fn list_user_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        Ok(self.sessions.list_user(user, now))
    }

    async fn purge_sessions(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        Ok(self.sessions.purge(now, limit))
    }
}
