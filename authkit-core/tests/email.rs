//! Email normalization properties.
#![allow(missing_docs, clippy::unwrap_used)] // test code: a failed unwrap is a failed case

use authkit::normalize_email;
use proptest::prelude::*;

proptest! {
    #[test]
    fn normalizing_is_idempotent(raw in "\\PC{0,80}") {
        if let Ok(once) = normalize_email(&raw) {
            prop_assert_eq!(normalize_email(&once).unwrap(), once);
        }
    }

    #[test]
    fn case_and_surrounding_space_do_not_matter(
        local in "[a-zA-Z0-9._%+-]{1,30}",
        domain in "[a-zA-ZäöüÄÖÜ0-9-]{1,20}\\.[a-zA-Z]{2,6}",
        pad in " {0,3}",
    ) {
        let raw = format!("{pad}{local}@{domain}{pad}");
        let lower = format!("{}@{}", local.to_lowercase(), domain.to_lowercase());
        prop_assert_eq!(normalize_email(&raw).unwrap(), normalize_email(&lower).unwrap());
        prop_assert_eq!(normalize_email(&raw.to_uppercase()).unwrap(), lower);
    }
}

#[test]
fn oversize_and_malformed_are_refused() {
    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_total = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
    let huge = format!("{}@example.com", "a".repeat(1 << 20));
    for bad in [
        "",
        " ",
        "plain",
        "a@b@c",
        "@x.io",
        "x@",
        "a b@x.io",
        "a\u{0}@x.io",
        &long_local,
        &long_total,
        &huge,
    ] {
        assert!(normalize_email(bad).is_err(), "{bad:?}");
    }
}
