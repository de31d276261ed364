//! Fetching documents: the [`Fetcher`] trait, URL rules, discovery documents and
//! `Cache-Control`.

use std::fmt;

use async_trait::async_trait;
use time::Duration;

use crate::error::{BoxError, Error, Result};

/// The largest document read, in bytes: JWKS and discovery documents are a few KiB.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// An HTTP response as an [`Issuer`](super::Issuer) needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchResponse {
    /// The status code; only 200 is accepted.
    pub status: u16,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl FetchResponse {
    /// A response.
    pub fn new(status: u16, cache_control: Option<String>, body: Vec<u8>) -> Self {
        FetchResponse {
            status,
            cache_control,
            body,
        }
    }
}

/// Where an [`Issuer`](super::Issuer) gets its discovery and JWKS documents: bring your
/// own HTTP client by implementing it, or enable the `http` feature for
/// `HttpFetcher`.
///
/// Contract:
/// - `get` performs one HTTP `GET` of `url` and returns any response it received (the
///   issuer judges the status); transport failures (DNS, TLS, timeout) are `Err`.
/// - It must time out: a fetch that hangs holds up the requests waiting on a refetch.
/// - It should stop reading after [`MAX_DOCUMENT_BYTES`]; the issuer refuses larger
///   bodies anyway.
/// - The URL has already passed the issuer's rules (`https`, or `http` on a loopback
///   host when explicitly allowed); the fetcher must not downgrade it (no redirect from
///   `https` to `http`).
#[async_trait]
pub trait Fetcher: Send + Sync + fmt::Debug + 'static {
    /// Fetches `url`.
    async fn get(&self, url: &str) -> std::result::Result<FetchResponse, BoxError>;
}

/// Checks that `url` may be fetched: `https://host…`, or `http://` on a loopback host
/// (`127.0.0.1`, `[::1]`, `localhost`) when `allow_loopback_http`.
pub(crate) fn check_url(url: &str, allow_loopback_http: bool) -> Result<()> {
    let bad = |why: &str| Err(Error::IssuerDocumentInvalid(format!("URL {url:?}: {why}")));
    let Some((scheme, rest)) = url.split_once("://") else {
        return bad("not an absolute URL");
    };
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host_port.is_empty() || host_port.contains('@') || url.chars().any(char::is_whitespace) {
        return bad("no host, or user info or spaces in it");
    }
    match scheme {
        "https" => Ok(()),
        "http" if allow_loopback_http && is_loopback(host_port) => Ok(()),
        _ => bad("only https is fetched (http on loopback when allowed)"),
    }
}

fn is_loopback(host_port: &str) -> bool {
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks an issuer identifier: a URL with no query or fragment (OpenID Connect
/// Discovery §2, RFC 8414 §2).
pub(crate) fn check_issuer_url(issuer: &str, allow_loopback_http: bool) -> Result<()> {
    check_url(issuer, allow_loopback_http)?;
    if issuer.contains(['?', '#']) {
        return Err(Error::IssuerDocumentInvalid(format!(
            "issuer {issuer:?} has a query or fragment"
        )));
    }
    Ok(())
}

/// OpenID Connect Discovery 1.0 §4.1: the issuer, its trailing `/` removed, then
/// `/.well-known/openid-configuration`.
pub(crate) fn openid_configuration_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// RFC 8414 §3.1: the well-known path goes between the host and the issuer's path
/// (`https://h/t1` → `https://h/.well-known/oauth-authorization-server/t1`), a terminating
/// `/` of the path removed.
pub(crate) fn oauth_metadata_url(issuer: &str) -> String {
    let (scheme, rest) = issuer.split_once("://").unwrap_or(("https", issuer));
    let (host, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    format!(
        "{scheme}://{host}/.well-known/oauth-authorization-server{}",
        path.trim_end_matches('/')
    )
}

/// The members of a discovery or metadata document an issuer needs.
#[derive(serde::Deserialize)]
struct Metadata {
    issuer: Option<String>,
    jwks_uri: Option<String>,
}

/// Reads `jwks_uri` from a discovery (or RFC 8414 metadata) document after checking
/// that its `issuer` equals `expected` exactly, character for character (Discovery
/// §4.3, RFC 8414 §3.3: no normalisation, so a trailing `/` matters).
pub(crate) fn jwks_uri_from_metadata(
    body: &[u8],
    expected: &str,
    allow_loopback_http: bool,
) -> Result<String> {
    let doc: Metadata = serde_json::from_slice(body)
        .map_err(|e| Error::IssuerDocumentInvalid(format!("metadata is not JSON: {e}")))?;
    let found = doc
        .issuer
        .ok_or_else(|| Error::IssuerDocumentInvalid("metadata names no issuer".into()))?;
    if found != expected {
        return Err(Error::IssuerMismatch {
            expected: expected.to_owned(),
            found,
        });
    }
    let jwks_uri = doc
        .jwks_uri
        .ok_or_else(|| Error::IssuerDocumentInvalid("metadata names no jwks_uri".into()))?;
    check_url(&jwks_uri, allow_loopback_http)?;
    Ok(jwks_uri)
}

/// Fetches `url` and returns the body of a 200 response no larger than
/// [`MAX_DOCUMENT_BYTES`], with its `Cache-Control`.
pub(crate) async fn fetch_document(
    fetcher: &dyn Fetcher,
    url: &str,
) -> std::result::Result<FetchResponse, BoxError> {
    let response = fetcher.get(url).await?;
    if response.status != 200 {
        return Err(format!("GET {url}: status {}", response.status).into());
    }
    if response.body.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("GET {url}: body over {MAX_DOCUMENT_BYTES} bytes").into());
    }
    Ok(response)
}

/// The lifetime a `Cache-Control` value grants: `max-age` (RFC 9111 §5.2.2.1) clamped to
/// `[min, max]`; `default` when the header is absent, has no valid `max-age`, or says
/// `no-cache` or `no-store` (we must keep the keys for some time regardless, or every
/// token would fetch).
pub(crate) fn cache_lifetime(
    header: Option<&str>,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Duration {
    let Some(header) = header else {
        return default;
    };
    let mut max_age = None;
    for directive in header.split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return default;
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = value.and_then(|v| v.parse::<u64>().ok());
        }
    }
    match max_age {
        Some(secs) => {
            let secs = i64::try_from(secs).unwrap_or(i64::MAX);
            Duration::seconds(secs).clamp(min, max)
        }
        None => default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls() {
        assert_eq!(
            openid_configuration_url("https://id.example.com/"),
            "https://id.example.com/.well-known/openid-configuration"
        );
        assert_eq!(
            openid_configuration_url("https://id.example.com/tenant"),
            "https://id.example.com/tenant/.well-known/openid-configuration"
        );
        // RFC 8414 §3.1's own example.
        assert_eq!(
            oauth_metadata_url("https://example.com/issuer1"),
            "https://example.com/.well-known/oauth-authorization-server/issuer1"
        );
        assert_eq!(
            oauth_metadata_url("https://example.com"),
            "https://example.com/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn url_rules() {
        assert!(check_url("https://id.example.com/jwks", false).is_ok());
        assert!(check_url("http://id.example.com/jwks", true).is_err());
        assert!(check_url("http://127.0.0.1:8080/jwks", false).is_err());
        assert!(check_url("http://127.0.0.1:8080/jwks", true).is_ok());
        assert!(check_url("http://[::1]:8080/jwks", true).is_ok());
        assert!(check_url("http://localhost/jwks", true).is_ok());
        assert!(check_url("http://127.0.0.1.evil.com/jwks", true).is_err());
        assert!(check_url("https://user@id.example.com/", false).is_err());
        assert!(check_url("file:///etc/passwd", true).is_err());
        assert!(check_url("/relative", true).is_err());
        assert!(check_issuer_url("https://id.example.com/?x=1", false).is_err());
    }

    #[test]
    fn cache_control() {
        let (d, min, max) = (
            Duration::minutes(10),
            Duration::minutes(1),
            Duration::hours(24),
        );
        let life = |h| cache_lifetime(h, d, min, max);
        assert_eq!(life(None), d);
        assert_eq!(life(Some("public, max-age=3600")), Duration::hours(1));
        assert_eq!(life(Some("MAX-AGE=\"120\"")), Duration::minutes(2));
        assert_eq!(life(Some("max-age=5")), min);
        assert_eq!(life(Some("max-age=999999999999")), max);
        assert_eq!(life(Some("no-cache, max-age=3600")), d);
        assert_eq!(life(Some("no-store")), d);
        assert_eq!(life(Some("max-age=abc")), d);
        assert_eq!(life(Some("private")), d);
    }

    #[test]
    fn issuer_must_match_exactly() {
        let doc = br#"{"issuer":"https://id.example.com/","jwks_uri":"https://id.example.com/k"}"#;
        assert!(matches!(
            jwks_uri_from_metadata(doc, "https://id.example.com", false),
            Err(Error::IssuerMismatch { .. })
        ));
        assert_eq!(
            jwks_uri_from_metadata(doc, "https://id.example.com/", false).ok(),
            Some("https://id.example.com/k".to_owned())
        );
        let http = br#"{"issuer":"https://a","jwks_uri":"http://a/k"}"#;
        assert!(matches!(
            jwks_uri_from_metadata(http, "https://a", false),
            Err(Error::IssuerDocumentInvalid(_))
        ));
    }
}
