//! Failures: one line on stderr, and a stable exit code.

use std::error::Error as StdError;
use std::fmt;

use authkit::{Error, ErrorKind, StoreError};

/// The exit codes, stable across releases (listed in `--help` and the README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    /// 1: a database or internal failure.
    Failed = 1,
    /// 2: bad usage or invalid input (a malformed slug, email, file, …); clap's own code
    /// for a bad command line.
    Usage = 2,
    /// 3: the database URL is bad or the database cannot be reached.
    Connection = 3,
    /// 4: the live schema differs from the expected one.
    Drift = 4,
    /// 5: something named does not exist (user, role, key, …).
    NotFound = 5,
    /// 6: something to create already exists, or the thing named is in a state that
    /// forbids the change (a revoked or expired key cannot be rotated).
    Conflict = 6,
}

/// Why a command failed: what to print (one line) and how to exit.
#[derive(Debug)]
pub(crate) struct Failure {
    /// How to exit.
    pub(crate) code: Code,
    /// The message, one line.
    pub(crate) message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A usage or input failure.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure::new(Code::Usage, message)
    }

    /// Something named was not found.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Failure::new(Code::NotFound, message)
    }

    /// The message as printed: one line, newlines folded.
    pub(crate) fn line(&self) -> String {
        self.message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line())
    }
}

/// `err` and its sources, joined with `: ` (skipping a source its parent already quotes).
pub(crate) fn chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

impl From<Error> for Failure {
    fn from(err: Error) -> Self {
        let code = match err.kind() {
            ErrorKind::InvalidInput | ErrorKind::Forbidden => Code::Usage,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::Conflict => Code::Conflict,
            _ => Code::Failed,
        };
        // An unregistered slug named by a command is a missing thing, not bad syntax.
        let code = match &err {
            Error::UnknownSlug { .. } | Error::ApiKeyUnknown => Code::NotFound,
            Error::ApiKeyRevoked | Error::ApiKeyExpired => Code::Conflict,
            Error::SchemaDrift(_) => Code::Drift,
            _ => code,
        };
        let message = match &err {
            Error::SchemaDrift(problems) => drift_message(problems),
            Error::ApiKeyUnknown => "unknown API key".to_owned(),
            Error::Store(StoreError::Backend(source)) => {
                format!("database error: {}", chain(source.as_ref()))
            }
            _ => chain(&err),
        };
        Failure::new(code, message)
    }
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Self {
        Failure::from(Error::from(err))
    }
}

/// The one-line message for a drifted schema: every problem, and what to do.
pub(crate) fn drift_message(problems: &[String]) -> String {
    format!(
        "schema drift ({} problem{}): {}; run `authkit schema verify` for the list, \
         `authkit migrate` if migrations are pending",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        problems.join("; ")
    )
}

/// `url` with its password (if any) replaced by `***`, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_a_message() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/app?sslmode=require"),
            "postgres://app:***@db:5432/app?sslmode=require"
        );
        assert_eq!(
            redact("mysql://root@127.0.0.1/test"),
            "mysql://root@127.0.0.1/test"
        );
        assert_eq!(redact("sqlite://a.db"), "sqlite://a.db");
        assert_eq!(redact("postgres://u:p@ss@h/d"), "postgres://u:***@h/d");
    }

    #[test]
    fn errors_keep_their_kind_as_a_code() {
        let unknown = Error::UnknownSlug {
            kind: "role",
            slugs: vec!["admin".into()],
        };
        assert_eq!(Failure::from(unknown).code, Code::NotFound);
        assert_eq!(Failure::from(Error::UserNotFound).code, Code::NotFound);
        assert_eq!(Failure::from(Error::EmailTaken).code, Code::Conflict);
        assert_eq!(Failure::from(Error::ApiKeyRevoked).code, Code::Conflict);
        assert_eq!(Failure::from(Error::ApiKeyUnknown).code, Code::NotFound);
        let slug = Error::InvalidSlug("Bad".into());
        assert_eq!(Failure::from(slug).code, Code::Usage);
        let drift = Failure::from(Error::SchemaDrift(vec!["a: missing table".into()]));
        assert_eq!(drift.code, Code::Drift);
        assert!(drift.line().contains("a: missing table"));
    }

    #[test]
    fn a_backend_failure_names_its_cause_on_one_line() {
        let err = Error::Store(StoreError::backend("connection\nrefused"));
        let failure = Failure::from(err);
        assert_eq!(failure.code, Code::Failed);
        assert_eq!(failure.line(), "database error: connection refused");
    }
}
