//! Email normalization: what makes `Alice@X.io` and `alice@x.io` one user.

use crate::error::{Error, Result};

/// The longest email accepted, in bytes (RFC 5321 §4.5.3.1.3 limits a path to 256
/// octets including the angle brackets, so an address has at most 254).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Trims surrounding whitespace and lowercases the whole address (Unicode-aware), then
/// checks its shape: one `@`, a non-empty local part of at most 64 bytes (RFC 5321
/// §4.5.3.1.1), a non-empty domain without spaces, at most [`MAX_EMAIL_BYTES`] in all.
///
/// Normalizing is idempotent: `normalize_email(normalize_email(x)?) == normalize_email(x)`.
/// Lowercasing the local part is a deliberate choice (providers treat it
/// case-insensitively in practice, and two accounts differing only in case are a
/// phishing aid); no other rewriting (dots, `+tags`) is done.
///
/// ```
/// assert_eq!(authkit::normalize_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
/// assert!(authkit::normalize_email("no-at-sign").is_err());
/// ```
pub fn normalize_email(raw: &str) -> Result<String> {
    // Refuse absurd inputs before allocating for them (lowercasing can grow a string,
    // but never beyond three times its bytes).
    if raw.len() > 3 * MAX_EMAIL_BYTES + 64 {
        return Err(Error::InvalidEmail("longer than 254 bytes"));
    }
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(Error::InvalidEmail("empty"));
    }
    if email.len() > MAX_EMAIL_BYTES {
        return Err(Error::InvalidEmail("longer than 254 bytes"));
    }
    let (local, domain) = email.split_once('@').ok_or(Error::InvalidEmail("no @"))?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return Err(Error::InvalidEmail("expected local@domain"));
    }
    if local.len() > 64 {
        return Err(Error::InvalidEmail("local part longer than 64 bytes"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::InvalidEmail(
            "contains whitespace or control characters",
        ));
    }
    Ok(email)
}
