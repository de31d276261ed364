//! From sqlx errors to [`StoreError`]: unique violations are conflicts, foreign-key
//! violations name the missing row, everything else is a backend error with its source.

use authkit::{Entity, StoreError};
use sqlx::error::ErrorKind;

/// Maps a driver error. `conflict` names what collided on a unique violation,
/// `missing` what was absent on a foreign-key violation.
pub(crate) fn map(err: sqlx::Error, conflict: Entity, missing: Entity) -> StoreError {
    if let Some(db) = err.as_database_error() {
        match db.kind() {
            ErrorKind::UniqueViolation => return StoreError::Conflict { what: conflict },
            ErrorKind::ForeignKeyViolation => return StoreError::NotFound { what: missing },
            _ => {}
        }
    }
    StoreError::backend(err)
}

/// Maps an error of a statement that can violate no constraint the caller handles.
pub(crate) fn backend(err: sqlx::Error) -> StoreError {
    StoreError::backend(err)
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

pub(crate) fn corrupt(column: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::backend(CorruptValue {
        column,
        detail: detail.into(),
    })
}

/// A deadlock or serialization failure (SQLSTATE 40001, PostgreSQL's 40P01): the
/// database rolled the statement or transaction back whole, and running it again may
/// succeed.
pub(crate) fn retryable(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// How many more times [`retrying!`] runs a step that ended in a deadlock.
pub(crate) const RETRIES: u32 = 8;

/// Evaluates `$step` (an expression that awaits one statement or one whole transaction
/// and gives its `Result<_, sqlx::Error>`) until it ends in anything but a deadlock or
/// serialization failure, at most [`RETRIES`] more times. The database rolled the
/// failed run back, so the next starts from nothing. InnoDB reports such deadlocks even
/// between single statements that lock one row through different indexes (a purge
/// scanning a deadline index against a revocation by primary key), and MySQL's manual
/// asks clients to retry them.
///
/// A macro rather than a function taking a closure: the step often borrows a
/// connection mutably, which a closure called repeatedly from a `Send` future cannot
/// lend.
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
