//! From Diesel errors to [`StoreError`]: unique violations are conflicts, foreign-key
//! violations name the missing row, everything else is a backend error with its source.

use authkit::{Entity, StoreError};
use diesel::result::{DatabaseErrorKind, Error};

/// Maps a driver error. `conflict` names what collided on a unique violation,
/// `missing` what was absent on a foreign-key violation.
pub(crate) fn map(err: Error, conflict: Entity, missing: Entity) -> StoreError {
    match &err {
        Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            StoreError::Conflict { what: conflict }
        }
        Error::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) => {
            StoreError::NotFound { what: missing }
        }
        _ => StoreError::backend(err),
    }
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

/// A [`CorruptValue`] as a backend error.
pub(crate) fn corrupt(column: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::backend(CorruptValue {
        column,
        detail: detail.into(),
    })
}

/// The pool could not hand out a connection (the database is unreachable, or every
/// connection stayed busy past the wait timeout).
#[derive(Debug, thiserror::Error)]
#[error("no database connection: {0}")]
pub(crate) struct PoolFailure(pub(crate) String);

/// What a transaction's body fails with: a Diesel error (which the transaction needs to
/// see, to roll back) or a store error decided inside it.
#[derive(Debug)]
pub(crate) enum TxError {
    /// A statement failed.
    Db(Error),
    /// The step failed for a reason of its own (a missing row, a conflict).
    Store(StoreError),
}

impl From<Error> for TxError {
    fn from(err: Error) -> Self {
        TxError::Db(err)
    }
}

impl From<StoreError> for TxError {
    fn from(err: StoreError) -> Self {
        TxError::Store(err)
    }
}

impl TxError {
    /// As a [`StoreError`], a database error mapped by [`map`].
    pub(crate) fn into_store(self, conflict: Entity, missing: Entity) -> StoreError {
        match self {
            TxError::Db(err) => map(err, conflict, missing),
            TxError::Store(err) => err,
        }
    }

    /// A deadlock or serialization failure (see [`retryable`]).
    pub(crate) fn retryable(&self) -> bool {
        matches!(self, TxError::Db(err) if retryable(err))
    }
}

/// A deadlock or serialization failure: the database rolled the statement or
/// transaction back whole, and running it again may succeed. Diesel names
/// serialization failures (SQLSTATE 40001); a PostgreSQL deadlock (40P01) and an InnoDB
/// one (1213) reach it as unknown errors, recognized by their message.
pub(crate) fn retryable(err: &Error) -> bool {
    match err {
        Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        Error::DatabaseError(_, info) => info.message().to_ascii_lowercase().contains("deadlock"),
        _ => false,
    }
}

/// How many more times a step that ended in a deadlock is run ([`retrying!`], and
/// `Store::transaction`).
pub(crate) const RETRIES: u32 = 8;

/// Evaluates `$step` (an expression that awaits one statement and gives its
/// `Result<_, diesel::result::Error>`) until it ends in anything but a deadlock or
/// serialization failure, at most [`RETRIES`] more times. The database rolled the failed
/// statement back, so the next run starts from nothing. InnoDB reports such deadlocks
/// even between single statements that lock one row through different indexes (a
/// touch scanning the deadline index against a revocation by primary key), and MySQL's
/// manual asks clients to retry them. A macro, so that the step may borrow the
/// connection mutably.
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
