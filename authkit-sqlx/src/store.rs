//! The five store traits, written once and expanded per database.
//!
//! [`store_impl!`] expands in a database's module, which provides:
//!
//! - `Db` (the sqlx database type) and `DbRow` (its row type);
//! - `DIALECT` (a [`Dialect`](crate::sql::Dialect));
//! - `conv::ts(Timestamp) -> T` (the bound form of a timestamp) and
//!   `conv::get_ts` / `conv::get_ts_opt` (reading one back);
//! - the store type, with fields `pool: Pool<Db>` and `sql: Arc<Statements>`.
//!
//! Only the SQL text and the transaction shape differ between dialects, and those are
//! chosen by `DIALECT` (a constant, so the other branches compile away).

macro_rules! store_impl {
    ($Store:ident) => {
        use std::collections::BTreeMap;
        use std::net::IpAddr;

        use async_trait::async_trait;
        use authkit::{
            ApiKey, ApiKeyId, ApiKeyStore, ApiKeyUpdate, Environment, FamilyId, KeyType, KeyUsage,
            OneTimeToken, OneTimeTokenId, OtpDecision, OtpOutcome, OtpRule, GrantKind, Entity, RbacItemId, Purpose, RbacItem, RbacStore,
            RefreshToken, RefreshTokenId, RotationDecision, RotationOutcome, RotationRule, Session,
            SessionId, SessionStore, SlidePolicy, SlugKind, Timestamp, TokenHash, TokenStore, User,
            UserGrants, UserId, UserStore,
        };
        use sqlx::{Decode, Row as _, Type};

        use crate::error::{backend, corrupt, map};

        const NO_USER: StoreError = StoreError::NotFound { what: Entity::User };
        const NO_ROLE: StoreError = StoreError::NotFound { what: Entity::Role };
        const NO_KEY: StoreError = StoreError::NotFound {
            what: Entity::ApiKey,
        };

        fn get<'r, T>(row: &'r DbRow, col: &str) -> Result<T, StoreError>
        where
            T: Decode<'r, Db> + Type<Db>,
        {
            row.try_get(col).map_err(backend)
        }

        fn get_hash<I>(row: &DbRow, col: I) -> Result<TokenHash, StoreError>
        where
            I: sqlx::ColumnIndex<DbRow> + std::fmt::Display + Copy,
        {
            let bytes: &[u8] = row.try_get(col).map_err(backend)?;
            let hash: [u8; 32] = bytes
                .try_into()
                .map_err(|_| corrupt("hash", format!("{col}: {} bytes, not 32", bytes.len())))?;
            Ok(TokenHash(hash))
        }

        fn get_u32(row: &DbRow, col: &'static str) -> Result<u32, StoreError> {
            let n: i64 = get(row, col)?;
            u32::try_from(n).map_err(|_| corrupt(col, format!("{n} out of range")))
        }

        fn get_json<T: serde::de::DeserializeOwned>(
            row: &DbRow,
            col: &'static str,
        ) -> Result<T, StoreError> {
            let text: String = get(row, col)?;
            serde_json::from_str(&text).map_err(|e| corrupt(col, e.to_string()))
        }

        fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
            serde_json::to_string(value).map_err(StoreError::backend)
        }

        fn count(n: u64) -> i64 {
            i64::try_from(n).unwrap_or(i64::MAX)
        }

        fn item_from(row: &DbRow) -> Result<RbacItem, StoreError> {
            Ok(RbacItem {
                id: RbacItemId(get(row, "id")?),
                kind: kind_from(row, "kind")?,
                slug: get(row, "slug")?,
                label: get(row, "label")?,
            })
        }

        fn kind_from(row: &DbRow, col: &'static str) -> Result<SlugKind, StoreError> {
            let kind: String = get(row, col)?;
            [SlugKind::Role, SlugKind::Permission, SlugKind::Ability]
                .into_iter()
                .find(|k| k.as_str() == kind)
                .ok_or_else(|| corrupt(col, format!("unknown kind {kind:?}")))
        }

        fn user_from(row: &DbRow) -> Result<User, StoreError> {
            Ok(User {
                id: UserId(get(row, "id")?),
                email: get(row, "email")?,
                password_hash: get(row, "password_hash")?,
                email_verified_at: conv::get_ts_opt(row, "email_verified_at")?,
                created_at: conv::get_ts(row, "created_at")?,
                updated_at: conv::get_ts(row, "updated_at")?,
            })
        }

        /// By position (the order of `SESSION_COLS`): this is the authentication hot path.
        fn session_from(row: &DbRow) -> Result<Session, StoreError> {
            let at = |i: usize| row.try_get(i).map_err(backend);
            Ok(Session {
                id: SessionId(at(0)?),
                user_id: UserId(at(1)?),
                token_hash: get_hash(row, 2usize)?,
                created_at: conv::get_ts(row, 3usize)?,
                last_seen_at: conv::get_ts(row, 4usize)?,
                idle_expires_at: conv::get_ts(row, 5usize)?,
                absolute_expires_at: conv::get_ts(row, 6usize)?,
                payload: row.try_get(7usize).map_err(backend)?,
            })
        }

        fn refresh_from(row: &DbRow) -> Result<RefreshToken, StoreError> {
            Ok(RefreshToken {
                id: RefreshTokenId(get(row, "id")?),
                family_id: FamilyId(get(row, "family_id")?),
                user_id: UserId(get(row, "user_id")?),
                token_hash: get_hash(row, "token_hash")?,
                audience: get(row, "audience")?,
                profile: get(row, "profile")?,
                chain_started_at: conv::get_ts(row, "chain_started_at")?,
                created_at: conv::get_ts(row, "created_at")?,
                expires_at: conv::get_ts(row, "expires_at")?,
                consumed_at: conv::get_ts_opt(row, "consumed_at")?,
                rotations: get_u32(row, "rotations")?,
                revoked_at: conv::get_ts_opt(row, "revoked_at")?,
            })
        }

        fn one_time_from(row: &DbRow) -> Result<OneTimeToken, StoreError> {
            let purpose: String = get(row, "purpose")?;
            Ok(OneTimeToken {
                id: OneTimeTokenId(get(row, "id")?),
                user_id: UserId(get(row, "user_id")?),
                purpose: Purpose::parse(&purpose)
                    .ok_or_else(|| corrupt("purpose", format!("unknown purpose {purpose:?}")))?,
                token_hash: get_hash(row, "token_hash")?,
                created_at: conv::get_ts(row, "created_at")?,
                expires_at: conv::get_ts(row, "expires_at")?,
                consumed_at: conv::get_ts_opt(row, "consumed_at")?,
                failed_attempts: get_u32(row, "failed_attempts")?,
            })
        }

        fn key_from(row: &DbRow) -> Result<ApiKey, StoreError> {
            let key_type: String = get(row, "key_type")?;
            let environment: String = get(row, "environment")?;
            let usage_count: i64 = get(row, "usage_count")?;
            let last_used_ip: Option<String> = get(row, "last_used_ip")?;
            Ok(ApiKey {
                id: ApiKeyId(get(row, "id")?),
                prefix: get(row, "prefix")?,
                key_hash: get_hash(row, "key_hash")?,
                key_type: KeyType::parse(&key_type)
                    .ok_or_else(|| corrupt("key_type", format!("unknown type {key_type:?}")))?,
                environment: Environment::parse(&environment).ok_or_else(|| {
                    corrupt(
                        "environment",
                        format!("unknown environment {environment:?}"),
                    )
                })?,
                owner: get::<Option<uuid::Uuid>>(row, "owner_id")?.map(UserId),
                organization_id: get(row, "organization_id")?,
                name: get(row, "name")?,
                description: get(row, "description")?,
                scopes: get_json(row, "scopes")?,
                allowed_ips: get_json(row, "allowed_ips")?,
                metadata: get_json::<BTreeMap<String, String>>(row, "metadata")?,
                created_at: conv::get_ts(row, "created_at")?,
                expires_at: conv::get_ts_opt(row, "expires_at")?,
                revoked_at: conv::get_ts_opt(row, "revoked_at")?,
                revoked_reason: get(row, "revoked_reason")?,
                usage_count: u64::try_from(usage_count)
                    .map_err(|_| corrupt("usage_count", format!("{usage_count}")))?,
                last_used_at: conv::get_ts_opt(row, "last_used_at")?,
                last_used_ip: last_used_ip
                    .map(|ip| {
                        ip.parse::<IpAddr>()
                            .map_err(|_| corrupt("last_used_ip", format!("{ip:?}")))
                    })
                    .transpose()?,
            })
        }

        impl $Store {
            /// A transaction for a read-then-write step. SQLite takes the write lock up
            /// front (`BEGIN IMMEDIATE`): a deferred transaction that reads and then
            /// writes can fail to upgrade its lock when another one did the same.
            async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Db>, StoreError> {
                match DIALECT {
                    Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
                    Dialect::Postgres | Dialect::MySql => self.pool.begin().await,
                }
                .map_err(backend)
            }

            /// Begins a write transaction and runs its first, locking read. A deadlock or
            /// serialization failure at this point (InnoDB picks as victim the
            /// transaction that changed least: one still waiting for the row) has changed
            /// nothing and called no caller closure, so it is retried, a few times.
            async fn begin_locked(
                &self,
                read: impl Fn() -> sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments>,
            ) -> Result<(sqlx::Transaction<'static, Db>, Option<DbRow>), StoreError> {
                let mut attempt = 0;
                loop {
                    let mut tx = self.begin_write().await?;
                    match read().fetch_optional(&mut *tx).await {
                        Ok(row) => return Ok((tx, row)),
                        Err(err) if attempt < 8 && crate::error::retryable(&err) => {
                            attempt += 1;
                            let _ = tx.rollback().await;
                        }
                        Err(err) => return Err(backend(err)),
                    }
                }
            }

            fn q(
                &self,
                sql: &sqlx::SqlStr,
            ) -> sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments> {
                sqlx::query::<Db>(sql.clone())
            }

            async fn exists(
                &self,
                sql: &sqlx::SqlStr,
                bind: impl FnOnce(
                    sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments>,
                )
                    -> sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments>,
            ) -> Result<bool, StoreError> {
                let row = bind(self.q(sql))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(row.is_some())
            }

            async fn user_exists(&self, id: UserId) -> Result<bool, StoreError> {
                self.exists(&self.sql.user_exists, |q| q.bind(id.0)).await
            }

            async fn item_exists(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError> {
                let slug = slug.to_owned();
                self.exists(&self.sql.item_exists, move |q| {
                    q.bind(kind.as_str()).bind(slug)
                })
                .await
            }
        }

        /// The tail of the grant methods whose insert changed nothing: the first check
        /// that failed names what is missing; if none failed, it was already granted.
        fn explain_no_insert<const N: usize>(
            checks: [(bool, StoreError); N],
        ) -> Result<bool, StoreError> {
            for (present, missing) in checks {
                if !present {
                    return Err(missing);
                }
            }
            Ok(false)
        }

        #[async_trait]
        impl UserStore for $Store {
            async fn create_user(&self, user: &User) -> Result<(), StoreError> {
                self.q(&self.sql.user_insert)
                    .bind(user.id.0)
                    .bind(user.email.as_str())
                    .bind(user.password_hash.as_deref())
                    .bind(user.email_verified_at.map(conv::ts))
                    .bind(conv::ts(user.created_at))
                    .bind(conv::ts(user.updated_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map(e, Entity::User, Entity::User))?;
                Ok(())
            }

            async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
                let row = self
                    .q(&self.sql.user_by_id)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                row.as_ref().map(user_from).transpose()
            }

            async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
                let row = self
                    .q(&self.sql.user_by_email)
                    .bind(email)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                row.as_ref().map(user_from).transpose()
            }

            async fn set_password_hash(
                &self,
                id: UserId,
                hash: Option<&str>,
                now: Timestamp,
            ) -> Result<(), StoreError> {
                let done = self
                    .q(&self.sql.user_set_password)
                    .bind(hash)
                    .bind(conv::ts(now))
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(NO_USER);
                }
                Ok(())
            }

            async fn mark_email_verified(
                &self,
                id: UserId,
                now: Timestamp,
            ) -> Result<(), StoreError> {
                let done = self
                    .q(&self.sql.user_verify_email)
                    .bind(conv::ts(now))
                    .bind(conv::ts(now))
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 0 && !self.user_exists(id).await? {
                    return Err(NO_USER);
                }
                Ok(())
            }

            async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
                // Sessions, tokens, keys, assignments and grants go by ON DELETE CASCADE,
                // in the same statement.
                let done = self
                    .q(&self.sql.user_delete)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl SessionStore for $Store {
            async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
                self.q(&self.sql.session_insert)
                    .bind(session.id.0)
                    .bind(session.user_id.0)
                    .bind(&session.token_hash.0[..])
                    .bind(conv::ts(session.created_at))
                    .bind(conv::ts(session.last_seen_at))
                    .bind(conv::ts(session.idle_expires_at))
                    .bind(conv::ts(session.absolute_expires_at))
                    .bind(session.payload.as_deref())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map(e, Entity::Session, Entity::User))?;
                Ok(())
            }

            /// One round trip when the deadline need not move (the common case with a
            /// `min_step`): the live session by its unique hash. When
            /// [`SlidePolicy::next_deadline`] asks for a write, a second statement moves
            /// the deadline forward only (`idle_expires_at < new`), so concurrent touches
            /// never move it back, and never revive a session that died meanwhile.
            /// When that write loses to a concurrent touch that moved the deadline
            /// further, the session is returned with this call's own deadline (the
            /// stored one is later).
            async fn touch_session(
                &self,
                hash: &TokenHash,
                now: Timestamp,
                policy: SlidePolicy,
            ) -> Result<Option<Session>, StoreError> {
                let row = self
                    .q(&self.sql.session_by_hash)
                    .bind(&hash.0[..])
                    .bind(conv::ts(now))
                    .bind(conv::ts(now))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let mut session = session_from(&row)?;
                if let Some(deadline) = policy.next_deadline(&session, now) {
                    self.q(&self.sql.session_slide)
                        .bind(conv::ts(deadline))
                        .bind(conv::ts(now))
                        .bind(session.id.0)
                        .bind(conv::ts(deadline))
                        .bind(conv::ts(now))
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                    session.idle_expires_at = deadline;
                    session.last_seen_at = now;
                }
                Ok(Some(session))
            }

            async fn session_by_id(
                &self,
                id: SessionId,
                now: Timestamp,
            ) -> Result<Option<Session>, StoreError> {
                let row = self
                    .q(&self.sql.session_by_id)
                    .bind(id.0)
                    .bind(conv::ts(now))
                    .bind(conv::ts(now))
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                row.as_ref().map(session_from).transpose()
            }

            async fn set_session_payload(
                &self,
                id: SessionId,
                payload: Option<&[u8]>,
                now: Timestamp,
            ) -> Result<(), StoreError> {
                let done = self
                    .q(&self.sql.session_set_payload)
                    .bind(payload)
                    .bind(id.0)
                    .bind(conv::ts(now))
                    .bind(conv::ts(now))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::NotFound { what: Entity::Session });
                }
                Ok(())
            }

            async fn revoke_session(&self, id: SessionId) -> Result<bool, StoreError> {
                let done = self
                    .q(&self.sql.session_delete)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_user_sessions(
                &self,
                user: UserId,
                except: Option<SessionId>,
            ) -> Result<u64, StoreError> {
                let query = match except {
                    Some(keep) => self
                        .q(&self.sql.session_delete_user_except)
                        .bind(user.0)
                        .bind(keep.0),
                    None => self.q(&self.sql.session_delete_user).bind(user.0),
                };
                let done = query.execute(&self.pool).await.map_err(backend)?;
                Ok(done.rows_affected())
            }

            async fn list_user_sessions(
                &self,
                user: UserId,
                now: Timestamp,
            ) -> Result<Vec<Session>, StoreError> {
                let rows = self
                    .q(&self.sql.session_list)
                    .bind(user.0)
                    .bind(conv::ts(now))
                    .bind(conv::ts(now))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                rows.iter().map(session_from).collect()
            }

            async fn purge_sessions(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
                let done = self
                    .q(&self.sql.session_purge)
                    .bind(conv::ts(now))
                    .bind(conv::ts(now))
                    .bind(i64::from(limit))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            }
        }

        impl $Store {
            fn bind_refresh(
                &self,
                query: sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments>,
                t: &RefreshToken,
            ) -> sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments> {
                query
                    .bind(t.id.0)
                    .bind(t.family_id.0)
                    .bind(t.user_id.0)
                    .bind(t.token_hash.0.to_vec())
                    .bind(t.audience.clone())
                    .bind(t.profile.clone())
                    .bind(conv::ts(t.chain_started_at))
                    .bind(conv::ts(t.created_at))
                    .bind(conv::ts(t.expires_at))
                    .bind(t.consumed_at.map(conv::ts))
                    .bind(i64::from(t.rotations))
                    .bind(t.revoked_at.map(conv::ts))
            }
        }

        #[async_trait]
        impl TokenStore for $Store {
            async fn create_refresh(&self, token: &RefreshToken) -> Result<(), StoreError> {
                self.bind_refresh(self.q(&self.sql.refresh_insert), token)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map(e, Entity::RefreshToken, Entity::User))?;
                Ok(())
            }

            /// A transaction: the presented row is read with `SELECT … FOR UPDATE`
            /// (PostgreSQL, MySQL) or under SQLite's write lock (`BEGIN IMMEDIATE`), so
            /// concurrent rotations of one token queue on that row and each sees its
            /// predecessor's effect. `rule` runs once, after the locked read. On
            /// PostgreSQL the consume and the successor's insert are one statement, so
            /// a rotation is two statements inside the transaction.
            async fn rotate_refresh(
                &self,
                presented: &TokenHash,
                now: Timestamp,
                rule: RotationRule<'_>,
            ) -> Result<RotationOutcome, StoreError> {
                let (mut tx, row) = self
                    .begin_locked(|| self.q(&self.sql.refresh_lock).bind(presented.0.to_vec()))
                    .await?;
                let Some(row) = row else {
                    tx.rollback().await.map_err(backend)?;
                    return Ok(RotationOutcome::Unknown);
                };
                let before = refresh_from(&row)?;
                let decision = rule(&before);
                match &decision {
                    RotationDecision::Rotate(next) => {
                        if DIALECT == Dialect::Postgres {
                            let query = self
                                .q(&self.sql.refresh_rotate_pg)
                                .bind(conv::ts(now))
                                .bind(before.id.0);
                            self.bind_refresh(query, next)
                                .execute(&mut *tx)
                                .await
                                .map_err(|e| map(e, Entity::RefreshToken, Entity::User))?;
                        } else {
                            self.q(&self.sql.refresh_consume)
                                .bind(conv::ts(now))
                                .bind(before.id.0)
                                .execute(&mut *tx)
                                .await
                                .map_err(backend)?;
                            self.bind_refresh(self.q(&self.sql.refresh_insert), next)
                                .execute(&mut *tx)
                                .await
                                .map_err(|e| map(e, Entity::RefreshToken, Entity::User))?;
                        }
                    }
                    RotationDecision::RevokeFamily => {
                        self.q(&self.sql.refresh_revoke_family)
                            .bind(conv::ts(now))
                            .bind(before.family_id.0)
                            .execute(&mut *tx)
                            .await
                            .map_err(backend)?;
                    }
                    RotationDecision::Reject => {
                        tx.rollback().await.map_err(backend)?;
                        return Ok(RotationOutcome::Decided {
                            presented: before,
                            decision,
                        });
                    }
                }
                tx.commit().await.map_err(backend)?;
                Ok(RotationOutcome::Decided {
                    presented: before,
                    decision,
                })
            }

            async fn revoke_family(
                &self,
                family: FamilyId,
                now: Timestamp,
            ) -> Result<u64, StoreError> {
                let done = self
                    .q(&self.sql.refresh_revoke_family)
                    .bind(conv::ts(now))
                    .bind(family.0)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            }

            async fn revoke_user_refresh(
                &self,
                user: UserId,
                now: Timestamp,
            ) -> Result<u64, StoreError> {
                let done = self
                    .q(&self.sql.refresh_revoke_user)
                    .bind(conv::ts(now))
                    .bind(user.0)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            }

            async fn purge_refresh(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
                let done = self
                    .q(&self.sql.refresh_purge)
                    .bind(conv::ts(now))
                    .bind(i64::from(limit))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            }

            /// A transaction that first locks the user's row, so concurrent issues for
            /// one user queue and the last one leaves exactly one unconsumed token.
            async fn issue_one_time(&self, token: &OneTimeToken) -> Result<(), StoreError> {
                let (mut tx, user) = self
                    .begin_locked(|| self.q(&self.sql.user_lock).bind(token.user_id.0))
                    .await?;
                if user.is_none() {
                    tx.rollback().await.map_err(backend)?;
                    return Err(NO_USER);
                }
                self.q(&self.sql.one_time_delete_unconsumed)
                    .bind(token.user_id.0)
                    .bind(token.purpose.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                self.q(&self.sql.one_time_insert)
                    .bind(token.id.0)
                    .bind(token.user_id.0)
                    .bind(token.purpose.as_str())
                    .bind(&token.token_hash.0[..])
                    .bind(conv::ts(token.created_at))
                    .bind(conv::ts(token.expires_at))
                    .bind(token.consumed_at.map(conv::ts))
                    .bind(i64::from(token.failed_attempts))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map(e, Entity::OneTimeToken, Entity::User))?;
                tx.commit().await.map_err(backend)?;
                Ok(())
            }

            /// One conditional `UPDATE … RETURNING` (PostgreSQL, SQLite): of concurrent
            /// calls, the first to lock the row consumes it and the others' condition no
            /// longer holds. MySQL has no `UPDATE … RETURNING`: the same conditional
            /// update, its affected-row count, and a read of the row inside the
            /// transaction that holds its lock.
            async fn consume_one_time(
                &self,
                hash: &TokenHash,
                purpose: Purpose,
                now: Timestamp,
            ) -> Result<Option<OneTimeToken>, StoreError> {
                if DIALECT != Dialect::MySql {
                    let row = self
                        .q(&self.sql.one_time_consume_returning)
                        .bind(conv::ts(now))
                        .bind(&hash.0[..])
                        .bind(purpose.as_str())
                        .bind(conv::ts(now))
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(backend)?;
                    return row.as_ref().map(one_time_from).transpose();
                }
                let mut tx = self.begin_write().await?;
                let done = self
                    .q(&self.sql.one_time_consume)
                    .bind(conv::ts(now))
                    .bind(&hash.0[..])
                    .bind(purpose.as_str())
                    .bind(conv::ts(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 0 {
                    tx.rollback().await.map_err(backend)?;
                    return Ok(None);
                }
                let row = self
                    .q(&self.sql.one_time_by_hash)
                    .bind(&hash.0[..])
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                row.as_ref().map(one_time_from).transpose()
            }

            /// A transaction around the user's newest live code, read with
            /// `SELECT … FOR UPDATE` (SQLite: under `BEGIN IMMEDIATE`), so concurrent
            /// attempts on one code queue and each failure is counted once.
            async fn attempt_otp(
                &self,
                user: UserId,
                purpose: Purpose,
                now: Timestamp,
                rule: OtpRule<'_>,
            ) -> Result<OtpOutcome, StoreError> {
                let (mut tx, row) = self
                    .begin_locked(|| {
                        self.q(&self.sql.otp_lock_newest)
                            .bind(user.0)
                            .bind(purpose.as_str())
                            .bind(conv::ts(now))
                    })
                    .await?;
                let Some(row) = row else {
                    tx.rollback().await.map_err(backend)?;
                    return Ok(OtpOutcome::NoCode);
                };
                let token = one_time_from(&row)?;
                let decision = rule(&token);
                let change = match decision {
                    OtpDecision::Consume => Some(
                        self.q(&self.sql.otp_accept)
                            .bind(conv::ts(now))
                            .bind(token.id.0),
                    ),
                    OtpDecision::CountFailure => {
                        Some(self.q(&self.sql.otp_fail).bind(token.id.0))
                    }
                    OtpDecision::Leave => None,
                };
                if let Some(query) = change {
                    query.execute(&mut *tx).await.map_err(backend)?;
                }
                tx.commit().await.map_err(backend)?;
                Ok(OtpOutcome::Decided { token, decision })
            }

            async fn purge_one_time(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
                let done = self
                    .q(&self.sql.one_time_purge)
                    .bind(conv::ts(now))
                    .bind(i64::from(limit))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            }
        }

        impl $Store {
            fn bind_key(
                &self,
                query: sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments>,
                key: &ApiKey,
            ) -> Result<
                sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments>,
                StoreError,
            > {
                Ok(query
                    .bind(key.id.0)
                    .bind(key.prefix.clone())
                    .bind(key.key_hash.0.to_vec())
                    .bind(key.key_type.as_str())
                    .bind(key.environment.as_str())
                    .bind(key.owner.map(|o| o.0))
                    .bind(key.organization_id.clone())
                    .bind(key.name.clone())
                    .bind(key.description.clone())
                    .bind(json(&key.scopes)?)
                    .bind(json(&key.allowed_ips)?)
                    .bind(json(&key.metadata)?)
                    .bind(conv::ts(key.created_at))
                    .bind(key.expires_at.map(conv::ts))
                    .bind(key.revoked_at.map(conv::ts))
                    .bind(key.revoked_reason.clone())
                    .bind(count(key.usage_count))
                    .bind(key.last_used_at.map(conv::ts))
                    .bind(key.last_used_ip.map(|ip| ip.to_string())))
            }

            async fn list_keys(
                &self,
                query: sqlx::query::Query<'static, Db, <Db as sqlx::Database>::Arguments>,
            ) -> Result<Vec<ApiKey>, StoreError> {
                let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
                rows.iter().map(key_from).collect()
            }
        }

        #[async_trait]
        impl ApiKeyStore for $Store {
            async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
                self.bind_key(self.q(&self.sql.key_insert), key)?
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map(e, Entity::ApiKey, Entity::User))?;
                Ok(())
            }

            async fn api_key_by_hash(
                &self,
                hash: &TokenHash,
            ) -> Result<Option<ApiKey>, StoreError> {
                let row = self
                    .q(&self.sql.key_by_hash)
                    .bind(&hash.0[..])
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                row.as_ref().map(key_from).transpose()
            }

            async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
                let row = self
                    .q(&self.sql.key_by_id)
                    .bind(id.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(backend)?;
                row.as_ref().map(key_from).transpose()
            }

            async fn list_api_keys(
                &self,
                owner: Option<UserId>,
            ) -> Result<Vec<ApiKey>, StoreError> {
                match owner {
                    Some(owner) => {
                        self.list_keys(self.q(&self.sql.key_list_owner).bind(owner.0))
                            .await
                    }
                    None => self.list_keys(self.q(&self.sql.key_list_service)).await,
                }
            }

            /// A transaction: the row is read under lock, the update applied to it, and
            /// every descriptive field written back.
            async fn update_api_key(
                &self,
                id: ApiKeyId,
                update: &ApiKeyUpdate,
            ) -> Result<ApiKey, StoreError> {
                let (mut tx, row) = self
                    .begin_locked(|| self.q(&self.sql.key_lock).bind(id.0))
                    .await?;
                let Some(row) = row else {
                    tx.rollback().await.map_err(backend)?;
                    return Err(NO_KEY);
                };
                let mut key = key_from(&row)?;
                update.apply_to(&mut key);
                self.q(&self.sql.key_update)
                    .bind(key.name.clone())
                    .bind(key.description.clone())
                    .bind(json(&key.scopes)?)
                    .bind(key.expires_at.map(conv::ts))
                    .bind(json(&key.allowed_ips)?)
                    .bind(json(&key.metadata)?)
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                tx.commit().await.map_err(backend)?;
                Ok(key)
            }

            async fn revoke_api_key(
                &self,
                id: ApiKeyId,
                reason: &str,
                now: Timestamp,
            ) -> Result<bool, StoreError> {
                let done = self
                    .q(&self.sql.key_revoke)
                    .bind(conv::ts(now))
                    .bind(reason)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() > 0 {
                    return Ok(true);
                }
                if self.exists(&self.sql.key_exists, |q| q.bind(id.0)).await? {
                    Ok(false)
                } else {
                    Err(NO_KEY)
                }
            }

            async fn replace_api_key(
                &self,
                old: ApiKeyId,
                new: &ApiKey,
                old_expires_at: Timestamp,
            ) -> Result<(), StoreError> {
                let mut tx = self.begin_write().await?;
                let done = self
                    .q(&self.sql.key_cap_expiry)
                    .bind(conv::ts(old_expires_at))
                    .bind(conv::ts(old_expires_at))
                    .bind(old.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(backend)?;
                if done.rows_affected() == 0 {
                    tx.rollback().await.map_err(backend)?;
                    return Err(NO_KEY);
                }
                self.bind_key(self.q(&self.sql.key_insert), new)?
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map(e, Entity::ApiKey, Entity::User))?;
                tx.commit().await.map_err(backend)?;
                Ok(())
            }

            /// One statement per key, each atomic on its own row: the count is added in
            /// the database (`usage_count = usage_count + n`) and `last_used_at` moves
            /// only forward. Keys that no longer exist match no row.
            async fn record_key_usage(&self, usage: &[KeyUsage]) -> Result<(), StoreError> {
                for entry in usage {
                    self.q(&self.sql.key_usage)
                        .bind(count(entry.uses))
                        .bind(conv::ts(entry.last_used_at))
                        .bind(entry.last_used_ip.map(|ip| ip.to_string()))
                        .bind(conv::ts(entry.last_used_at))
                        .bind(conv::ts(entry.last_used_at))
                        .bind(entry.key_id.0)
                        .execute(&self.pool)
                        .await
                        .map_err(backend)?;
                }
                Ok(())
            }

            async fn delete_api_key(&self, id: ApiKeyId) -> Result<bool, StoreError> {
                let done = self
                    .q(&self.sql.key_delete)
                    .bind(id.0)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }

            async fn purge_api_keys(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
                let done = self
                    .q(&self.sql.key_purge)
                    .bind(conv::ts(now))
                    .bind(i64::from(limit))
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected())
            }
        }

        #[async_trait]
        impl RbacStore for $Store {
            async fn define_item(&self, item: &RbacItem) -> Result<(), StoreError> {
                self.q(&self.sql.item_insert)
                    .bind(item.id.0)
                    .bind(item.kind.as_str())
                    .bind(item.slug.as_str())
                    .bind(item.label.as_str())
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map(e, item.kind.into(), item.kind.into()))?;
                Ok(())
            }

            async fn remove_item(&self, kind: SlugKind, slug: &str) -> Result<bool, StoreError> {
                // Grants and assignments naming it go by ON DELETE CASCADE.
                let done = self
                    .q(&self.sql.item_delete)
                    .bind(kind.as_str())
                    .bind(slug)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }

            async fn list_items(&self, kind: SlugKind) -> Result<Vec<RbacItem>, StoreError> {
                let rows = self
                    .q(&self.sql.item_list)
                    .bind(kind.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                rows.iter().map(item_from).collect()
            }

            async fn missing_items(
                &self,
                kind: SlugKind,
                slugs: &[String],
            ) -> Result<Vec<String>, StoreError> {
                if slugs.is_empty() {
                    return Ok(Vec::new());
                }
                let marks = vec!["?"; slugs.len()].join(", ");
                let sql = self.sql.render.sql(&format!(
                    "SELECT slug FROM {{rbac_items}} WHERE kind = ? AND slug IN ({marks})"
                ));
                let mut query = sqlx::query::<Db>(sql).bind(kind.as_str());
                for slug in slugs {
                    query = query.bind(slug.clone());
                }
                let rows = query.fetch_all(&self.pool).await.map_err(backend)?;
                let found = rows
                    .iter()
                    .map(|row| get::<String>(row, "slug"))
                    .collect::<Result<std::collections::HashSet<_>, _>>()?;
                Ok(slugs
                    .iter()
                    .filter(|slug| !found.contains(*slug))
                    .cloned()
                    .collect())
            }

            async fn grant_to_role(
                &self,
                role: &str,
                kind: GrantKind,
                slug: &str,
            ) -> Result<bool, StoreError> {
                let done = self
                    .q(&self.sql.role_grant)
                    .bind(role)
                    .bind(kind.as_str())
                    .bind(slug)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map(e, Entity::Role, Entity::Role))?;
                if done.rows_affected() > 0 {
                    return Ok(true);
                }
                let role_known = self.item_exists(SlugKind::Role, role).await?;
                let item_known = role_known && self.item_exists(kind.slug_kind(), slug).await?;
                explain_no_insert([
                    (role_known, NO_ROLE),
                    (item_known, StoreError::NotFound { what: kind.into() }),
                ])
            }

            async fn revoke_from_role(
                &self,
                role: &str,
                kind: GrantKind,
                slug: &str,
            ) -> Result<bool, StoreError> {
                let done = self
                    .q(&self.sql.role_revoke)
                    .bind(role)
                    .bind(kind.as_str())
                    .bind(slug)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }

            async fn role_grants(&self, role: &str) -> Result<Vec<RbacItem>, StoreError> {
                let rows = self
                    .q(&self.sql.role_grants)
                    .bind(role)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                if rows.is_empty() {
                    return Err(NO_ROLE);
                }
                let mut items = Vec::new();
                for row in &rows {
                    // The role without grants is one row of NULLs (LEFT JOIN).
                    if get::<Option<String>>(row, "slug")?.is_some() {
                        items.push(item_from(row)?);
                    }
                }
                Ok(items)
            }

            async fn assign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
                let done = self
                    .q(&self.sql.role_assign)
                    .bind(user.0)
                    .bind(role)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map(e, Entity::Role, Entity::User))?;
                if done.rows_affected() > 0 {
                    return Ok(true);
                }
                // Nothing inserted: already assigned, or (MySQL's INSERT IGNORE turns a
                // foreign-key failure into a warning) an unknown user or role.
                let user_known = self.user_exists(user).await?;
                let role_known = user_known && self.item_exists(SlugKind::Role, role).await?;
                explain_no_insert([(user_known, NO_USER), (role_known, NO_ROLE)])
            }

            async fn unassign_role(&self, user: UserId, role: &str) -> Result<bool, StoreError> {
                let done = self
                    .q(&self.sql.role_unassign)
                    .bind(user.0)
                    .bind(role)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }

            async fn grant_to_user(
                &self,
                user: UserId,
                kind: GrantKind,
                slug: &str,
            ) -> Result<bool, StoreError> {
                let done = self
                    .q(&self.sql.user_grant)
                    .bind(user.0)
                    .bind(kind.as_str())
                    .bind(slug)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| map(e, kind.into(), Entity::User))?;
                if done.rows_affected() > 0 {
                    return Ok(true);
                }
                let user_known = self.user_exists(user).await?;
                let item_known = user_known && self.item_exists(kind.slug_kind(), slug).await?;
                explain_no_insert([
                    (user_known, NO_USER),
                    (item_known, StoreError::NotFound { what: kind.into() }),
                ])
            }

            async fn revoke_from_user(
                &self,
                user: UserId,
                kind: GrantKind,
                slug: &str,
            ) -> Result<bool, StoreError> {
                let done = self
                    .q(&self.sql.user_revoke)
                    .bind(user.0)
                    .bind(kind.as_str())
                    .bind(slug)
                    .execute(&self.pool)
                    .await
                    .map_err(backend)?;
                Ok(done.rows_affected() > 0)
            }

            async fn user_grants(&self, user: UserId) -> Result<UserGrants, StoreError> {
                let rows = self
                    .q(&self.sql.user_grants)
                    .bind(user.0)
                    .bind(user.0)
                    .bind(user.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(backend)?;
                let mut grants = UserGrants::default();
                for row in &rows {
                    let slug: String = get(row, "slug")?;
                    match kind_from(row, "kind")? {
                        SlugKind::Role => grants.roles.push(slug),
                        SlugKind::Permission => grants.permissions.push(slug),
                        SlugKind::Ability => grants.abilities.push(slug),
                    }
                }
                Ok(grants)
            }
        }
    };
}

pub(crate) use store_impl;
