//! Cross-site request forgery: a cookie-authenticated request with an unsafe method must
//! come from the application's own origin.
//!
//! The check follows the OWASP CSRF Prevention Cheat Sheet ("Fetch Metadata headers",
//! "Verifying Origin with standard headers") in the order Go's
//! `net/http.CrossOriginProtection` uses:
//! 1. safe methods (`GET`, `HEAD`, `OPTIONS`, `TRACE`) pass;
//! 2. an origin in [`HttpConfig::trusted_origins`](crate::HttpConfig) passes;
//! 3. `Sec-Fetch-Site: same-origin` or `none` (the user typed the address) passes, any
//!    other value fails;
//! 4. without `Sec-Fetch-Site`, an `Origin` whose host is the request's host passes and
//!    any other `Origin` (`null` included) fails;
//! 5. a request with neither header passes: browsers send one of them on every
//!    cross-origin unsafe request since 2020 (Chrome 76, Firefox 70, Safari 16.4 for
//!    Fetch metadata; `Origin` on `POST` long before), so such a request does not come
//!    from a page in a browser.
//!
//! Requests authenticated by a bearer token or an API key are not checked: a browser
//! never attaches those on its own.

use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, Uri};

const SEC_FETCH_SITE: &str = "sec-fetch-site";

/// Whether a cookie-authenticated request may go on; see the module docs.
pub(crate) fn allowed(method: &Method, uri: &Uri, headers: &HeaderMap, trusted: &[String]) -> bool {
    if is_safe(method) {
        return true;
    }
    let origin = headers.get(ORIGIN).and_then(|v| v.to_str().ok());
    if origin.is_some_and(|o| trusted.iter().any(|t| t.eq_ignore_ascii_case(o))) {
        return true;
    }
    if let Some(site) = headers.get(SEC_FETCH_SITE) {
        return matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    match origin {
        None => !headers.contains_key(ORIGIN),
        Some(origin) => same_host(origin, request_host(uri, headers)),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The host the client addressed: the URI's authority (HTTP/2, absolute form), else the
/// `Host` header.
fn request_host<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    match uri.authority() {
        Some(authority) => Some(authority.as_str()),
        None => headers.get(HOST).and_then(|v| v.to_str().ok()),
    }
}

/// Whether `origin` (`scheme://host[:port]`) names `host` (`host[:port]`).
fn same_host(origin: &str, host: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    let Ok(origin) = origin.parse::<Uri>() else {
        return false;
    };
    origin
        .authority()
        .is_some_and(|a| a.as_str().eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn check(method: Method, pairs: &[(&'static str, &str)], trusted: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("app.example"));
        for (name, value) in pairs {
            let value = HeaderValue::from_str(value).unwrap_or_else(|e| panic!("{e}"));
            headers.insert(*name, value);
        }
        let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
        allowed(&method, &Uri::from_static("/x"), &headers, &trusted)
    }

    #[test]
    fn safe_methods_pass_from_anywhere() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE] {
            assert!(check(method, &[("sec-fetch-site", "cross-site")], &[]));
        }
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        assert!(check(
            Method::POST,
            &[("sec-fetch-site", "same-origin")],
            &[]
        ));
        assert!(check(Method::POST, &[("sec-fetch-site", "none")], &[]));
        for site in ["same-site", "cross-site", "garbage"] {
            assert!(
                !check(Method::POST, &[("sec-fetch-site", site)], &[]),
                "{site}"
            );
        }
        // A same-host Origin does not rescue a cross-site fetch.
        let both = [
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://app.example"),
        ];
        assert!(!check(Method::DELETE, &both, &[]));
    }

    #[test]
    fn without_fetch_metadata_the_origin_decides() {
        assert!(check(
            Method::POST,
            &[("origin", "https://app.example")],
            &[]
        ));
        assert!(!check(
            Method::POST,
            &[("origin", "https://evil.example")],
            &[]
        ));
        assert!(!check(Method::POST, &[("origin", "null")], &[]));
        assert!(!check(
            Method::PUT,
            &[("origin", "https://app.example:8443")],
            &[]
        ));
    }

    #[test]
    fn trusted_origins_pass_even_cross_site() {
        let from = [
            ("sec-fetch-site", "same-site"),
            ("origin", "https://admin.example"),
        ];
        assert!(check(Method::POST, &from, &["https://admin.example"]));
        assert!(!check(Method::POST, &from, &["https://other.example"]));
    }

    #[test]
    fn neither_header_passes() {
        assert!(check(Method::POST, &[], &[]));
    }
}
