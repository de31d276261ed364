//! Scopes (`admin:users`, `admin:*`) and RBAC slugs, and how they are checked.

use crate::error::{Error, Result};

/// The longest slug, in bytes.
pub const MAX_SLUG_BYTES: usize = 64;

/// The longest scope, in bytes.
pub const MAX_SCOPE_BYTES: usize = 128;

/// Checks an RBAC slug: `^[a-z][a-z0-9_:-]*$`, at most [`MAX_SLUG_BYTES`] bytes.
///
/// ```
/// assert!(authkit::check_slug("billing:read").is_ok());
/// assert!(authkit::check_slug("Billing").is_err());
/// ```
pub fn check_slug(slug: &str) -> Result<()> {
    let mut chars = slug.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_:-".contains(c));
    if first_ok && rest_ok && slug.len() <= MAX_SLUG_BYTES {
        Ok(())
    } else {
        Err(Error::InvalidSlug(truncated(slug)))
    }
}

/// Checks a scope: `*`, or segments of `[a-z0-9_-]` joined by `:`, the last of which may
/// be `*` (a wildcard over everything below it); at most [`MAX_SCOPE_BYTES`] bytes.
pub fn check_scope(scope: &str) -> Result<()> {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
    };
    let segments: Vec<&str> = scope.split(':').collect();
    let (last, init) = segments.split_last().unwrap_or((&"", &[]));
    let ok = scope.len() <= MAX_SCOPE_BYTES
        && init.iter().all(|s| segment_ok(s))
        && (segment_ok(last) || *last == "*");
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidScope(truncated(scope)))
    }
}

/// Whether a granted scope covers a required one: equal, `*`, or `prefix:*` where the
/// required scope starts with `prefix:` (`admin:*` covers `admin:users` and
/// `admin:users:read`, not `admin` nor `administrator`).
pub fn scope_covers(granted: &str, required: &str) -> bool {
    if granted == required || granted == "*" {
        return true;
    }
    match granted.strip_suffix('*') {
        Some(prefix) if prefix.ends_with(':') => required.starts_with(prefix),
        _ => false,
    }
}

/// Whether any of `granted` covers `required`.
pub fn scopes_cover(granted: &[String], required: &str) -> bool {
    granted.iter().any(|g| scope_covers(g, required))
}

/// Keeps error messages short when the offending input is huge.
fn truncated(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_what_is_below_them() {
        assert!(scope_covers("admin:*", "admin:users"));
        assert!(scope_covers("admin:*", "admin:users:read"));
        assert!(scope_covers("*", "anything:at_all"));
        assert!(!scope_covers("admin:*", "admin"));
        assert!(!scope_covers("admin:*", "administrator:x"));
        assert!(!scope_covers("admin:users", "admin:users:read"));
    }

    #[test]
    fn slugs_and_scopes_are_checked() {
        for good in ["a", "billing:read", "x-1_y:z"] {
            assert!(check_slug(good).is_ok(), "{good}");
        }
        let long = "a".repeat(65);
        for bad in ["", "1a", "Admin", "a b", "ä", "a*", long.as_str()] {
            assert!(
                matches!(check_slug(bad), Err(Error::InvalidSlug(_))),
                "{bad}"
            );
        }
        for good in ["*", "admin:*", "read", "a:b:c"] {
            assert!(check_scope(good).is_ok(), "{good}");
        }
        for bad in ["", ":", "a:", "*:a", "a*", "A", "a::b"] {
            assert!(
                matches!(check_scope(bad), Err(Error::InvalidScope(_))),
                "{bad}"
            );
        }
    }
}
