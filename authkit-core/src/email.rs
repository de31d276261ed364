//! Email normalization: what makes `Alice@X.io` and `alice@x.io` one user.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::{Error, Result};

/// The longest email accepted, in bytes (RFC 5321 §4.5.3.1.3 limits a path to 256
/// octets including the angle brackets, so an address has at most 254).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Puts an address in its one stored form, so one person has one account: trims
/// surrounding whitespace, normalizes to NFC (Unicode canonical composition, UAX #15),
/// lowercases the whole address (Unicode-aware) and normalizes to NFC again, then checks
/// its shape: one `@`, a non-empty local part of at most 64 bytes (RFC 5321 §4.5.3.1.1),
/// a non-empty domain without spaces, at most [`MAX_EMAIL_BYTES`] in all.
///
/// Refused as [`Error::InvalidEmail`]: whitespace and control characters inside, and
/// invisible format characters (Unicode category Cf: zero-width spaces and joiners,
/// bidirectional controls, the soft hyphen, the byte-order mark), which would let two
/// addresses that look identical be two accounts.
///
/// Kept distinct on purpose:
/// - **Confusables across scripts** (a Cyrillic `а` for a Latin `a`): mapping them
///   (UTS #39 skeletons) would merge addresses that really differ, and cannot be undone.
///   An application that fears look-alike sign-ups can compare skeletons itself.
/// - **An internationalized domain and its punycode** (`bücher.example` and
///   `xn--bcher-kva.example`): converting needs IDNA processing (UTS #46), whose results
///   depend on the Unicode version; the address is kept as the user typed it.
/// - **Provider-specific rewrites** (dots and `+tags` in Gmail addresses): they are
///   the provider's rules, not the address's.
///
/// Lowercasing the local part is a deliberate choice (providers treat it
/// case-insensitively in practice, and two accounts differing only in case are a
/// phishing aid). Normalizing is idempotent:
/// `normalize_email(normalize_email(x)?) == normalize_email(x)`.
///
/// ```
/// assert_eq!(authkit::normalize_email("  Alice@Example.COM ").unwrap(), "alice@example.com");
/// // NFD (e + combining acute) and NFC (é) spellings are one address.
/// assert_eq!(
///     authkit::normalize_email("Jose\u{301}@example.com").unwrap(),
///     authkit::normalize_email("jos\u{e9}@example.com").unwrap(),
/// );
/// assert!(authkit::normalize_email("ali\u{200b}ce@example.com").is_err());
/// assert!(authkit::normalize_email("no-at-sign").is_err());
/// ```
pub fn normalize_email(raw: &str) -> Result<String> {
    // Refuse absurd inputs before allocating for them (lowercasing can grow a string,
    // but never beyond three times its bytes).
    if raw.len() > 3 * MAX_EMAIL_BYTES + 64 {
        return Err(Error::InvalidEmail("longer than 254 bytes"));
    }
    let composed: String = raw.trim().nfc().collect();
    let email: String = composed.to_lowercase().nfc().collect();
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
    if email
        .chars()
        .any(|c| c.general_category() == GeneralCategory::Format)
    {
        return Err(Error::InvalidEmail("contains invisible format characters"));
    }
    Ok(email)
}
