//! From SeaORM errors to [`StoreError`]: unique violations are conflicts, foreign-key
//! violations name the missing row, everything else is a backend error with its source.

use authkit::{Entity, StoreError};
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr, SqlErr};

/// Maps a database error. `conflict` names what collided on a unique violation,
/// `missing` what was absent on a foreign-key violation.
pub(crate) fn map(err: DbErr, conflict: Entity, missing: Entity) -> StoreError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict { what: conflict },
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::NotFound { what: missing },
        _ => StoreError::backend(err),
    }
}

/// Maps an error of a statement that can violate no constraint the caller handles.
pub(crate) fn backend(err: DbErr) -> StoreError {
    StoreError::backend(err)
}

/// A sqlx error from a statement the store ran on sqlx's pool itself, as SeaORM would
/// have reported it: a pool timeout or a closed pool as a failed acquire, anything else
/// as a failed query (so that [`retryable`] and [`map`] read it as they read SeaORM's).
pub(crate) fn from_sqlx(err: sea_orm::sqlx::Error) -> DbErr {
    match err {
        sea_orm::sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sea_orm::sqlx::Error::PoolClosed => {
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)
        }
        err => DbErr::Query(RuntimeErr::SqlxError(err.into())),
    }
}

/// Whether the error is a unique violation (a grant or assignment that already exists).
pub(crate) fn is_unique_violation(err: &DbErr) -> bool {
    matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// A value read from the database that the model cannot hold (an unknown purpose, a
/// hash of the wrong length, a negative counter): the database was written by something
/// else, so it is a backend failure, never a miss.
#[derive(Debug, thiserror::Error)]
#[error("corrupt value in {column}: {detail}")]
pub(crate) struct CorruptValue {
    pub(crate) column: &'static str,
    pub(crate) detail: String,
}

/// A [`CorruptValue`] as a store error.
pub(crate) fn corrupt(column: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::backend(CorruptValue {
        column,
        detail: detail.into(),
    })
}

/// A deadlock or serialization failure (SQLSTATE 40001, PostgreSQL's 40P01): the
/// database rolled the statement or transaction back whole, and running it again may
/// succeed.
pub(crate) fn retryable(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err
    else {
        return false;
    };
    e.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// How many more times [`retrying!`] runs a step that ended in a deadlock.
pub(crate) const RETRIES: u32 = 8;

/// Evaluates `$step` (an expression that awaits one statement or one whole transaction
/// and gives its `Result<_, DbErr>`) until it ends in anything but a deadlock or
/// serialization failure, at most [`RETRIES`] more times. The database rolled the
/// failed run back, so the next starts from nothing. InnoDB reports such deadlocks even
/// between single statements that lock one row through different indexes (a purge
/// scanning a deadline index against a revocation by primary key), and MySQL's manual
/// asks clients to retry them. A macro, so that the step may borrow what it likes.
macro_rules! retrying {
    ($step:expr) => {{
        let mut attempt = 0;
        loop {
            match $step {
                Err(err) if attempt < $crate::error::RETRIES && $crate::error::retryable(&err) => {
                    attempt += 1
                }
                done => break done,
            }
        }
    }};
}
pub(crate) use retrying;
