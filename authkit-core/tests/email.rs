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

#[test]
fn canonically_equivalent_spellings_are_one_address() {
    let nfc = normalize_email("jos\u{e9}@caf\u{e9}.example").unwrap();
    let nfd = normalize_email("Jose\u{301}@CAFE\u{301}.example").unwrap();
    assert_eq!(nfd, nfc);
    assert_eq!(nfc, "jos\u{e9}@caf\u{e9}.example", "stored composed (NFC)");
    // A Hangul syllable written as its jamo composes too.
    let jamo = normalize_email("\u{1100}\u{1161}@example.com").unwrap();
    assert_eq!(jamo, "\u{ac00}@example.com");
}

#[test]
fn invisible_format_characters_are_refused() {
    for invisible in [
        '\u{200b}', // zero-width space
        '\u{200c}', // zero-width non-joiner
        '\u{200d}', // zero-width joiner
        '\u{2060}', // word joiner
        '\u{202e}', // right-to-left override
        '\u{2066}', // left-to-right isolate
        '\u{00ad}', // soft hyphen
        '\u{feff}', // byte-order mark
    ] {
        let raw = format!("ali{invisible}ce@example.com");
        assert!(
            matches!(normalize_email(&raw), Err(authkit::Error::InvalidEmail(_))),
            "{:?} accepted",
            invisible
        );
    }
}

#[test]
fn look_alikes_and_punycode_stay_distinct() {
    let latin = normalize_email("paypal@example.com").unwrap();
    let cyrillic_a = normalize_email("p\u{430}yp\u{430}l@example.com").unwrap();
    assert_ne!(latin, cyrillic_a, "confusables are not folded");
    let unicode = normalize_email("user@b\u{fc}cher.example").unwrap();
    let puny = normalize_email("user@xn--bcher-kva.example").unwrap();
    assert_ne!(unicode, puny, "IDN and punycode are kept as typed");
}
