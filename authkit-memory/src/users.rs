//! [`UserStore`]: users keyed by id, with a unique index on the ASCII-lowercased email.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use authkit::{Entity, StoreError, Timestamp, User, UserId, UserStore};

use crate::MemoryStore;
use crate::sync::{lock, read, write};

/// The users table.
#[derive(Default)]
pub(crate) struct Users {
    by_id: HashMap<UserId, User>,
    /// ASCII-lowercased email → id: the unique index, compared ignoring ASCII case.
    by_email: HashMap<String, UserId>,
    /// The users live in another store: every user id is taken as existing.
    pub(crate) detached: bool,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("rows", &self.by_id.len())
            .finish()
    }
}

/// The key of the unique email index: only ASCII letters change case, as in a database's
/// `LOWER()` over ASCII.
fn email_key(email: &str) -> String {
    email.to_ascii_lowercase()
}

impl Users {
    /// Whether a user with this id exists (the foreign-key check of every other table);
    /// always, in a detached store.
    pub(crate) fn contains(&self, id: UserId) -> bool {
        self.detached || self.by_id.contains_key(&id)
    }

    /// `Ok` if the user exists, else `NotFound { what: "user" }`.
    pub(crate) fn require(&self, id: UserId) -> Result<(), StoreError> {
        if self.contains(id) {
            Ok(())
        } else {
            Err(StoreError::NotFound { what: Entity::User })
        }
    }

    fn insert(&mut self, user: &User) -> Result<(), StoreError> {
        if self.by_id.contains_key(&user.id) {
            return Err(StoreError::Conflict { what: Entity::User });
        }
        let key = email_key(&user.email);
        if self.by_email.contains_key(&key) {
            return Err(StoreError::Conflict { what: Entity::User });
        }
        self.by_email.insert(key, user.id);
        self.by_id.insert(user.id, user.clone());
        Ok(())
    }

    fn by_email(&self, email: &str) -> Option<User> {
        let id = self.by_email.get(&email_key(email))?;
        self.by_id.get(id).cloned()
    }

    fn get_mut(&mut self, id: UserId) -> Result<&mut User, StoreError> {
        self.by_id
            .get_mut(&id)
            .ok_or(StoreError::NotFound { what: Entity::User })
    }

    fn remove(&mut self, id: UserId) -> bool {
        match self.by_id.remove(&id) {
            Some(user) => {
                self.by_email.remove(&email_key(&user.email));
                true
            }
            None => false,
        }
    }
}

impl MemoryStore {
    /// Deletes the user and everything that belongs to it, holding every lock at once
    /// (taken in the global order) so that no other call sees a partial cascade.
    fn delete_user_cascade(&self, id: UserId) -> bool {
        let mut users = write(&self.users);
        if !users.contains(id) {
            return false;
        }
        let mut sessions = self.sessions.lock_all();
        let mut refresh = lock(&self.refresh);
        let mut one_time = lock(&self.one_time);
        let mut api_keys = write(&self.api_keys);
        let mut rbac = write(&self.rbac);

        sessions.remove_where(|s| s.user_id == id);
        refresh.remove_user(id);
        one_time.remove_user(id);
        let keys = api_keys.remove_user(id);
        rbac.remove_keys(&keys);
        rbac.remove_user(id);
        users.remove(id)
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        write(&self.users).insert(user)
    }

    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        Ok(read(&self.users).by_id.get(&id).cloned())
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        Ok(read(&self.users).by_email(email))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut users = write(&self.users);
        let user = users.get_mut(id)?;
        user.password_hash = hash.map(str::to_owned);
        user.updated_at = now;
        Ok(())
    }

    async fn mark_email_verified(&self, id: UserId, now: Timestamp) -> Result<(), StoreError> {
        let mut users = write(&self.users);
        let user = users.get_mut(id)?;
        if user.email_verified_at.is_none() {
            user.email_verified_at = Some(now);
            user.updated_at = now;
        }
        Ok(())
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        Ok(self.delete_user_cascade(id))
    }
}
