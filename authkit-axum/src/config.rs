//! What the layer reads from a request, and whom it trusts.

use std::time::Duration;

use authkit::{Audience, Environment};
use axum::http::HeaderName;
use ipnet::IpNet;

/// The HTTP side of authkit: where credentials come from and which proxies may name the
/// client. The session cookie's name and attributes are the core's
/// (`Config::session.cookie`).
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// The header an API key is presented in; default `x-api-key`.
    pub api_key_header: HeaderName,
    /// The audiences a bearer access token may carry, tried in this order; default
    /// `[Bff, Api]`. An `api` bearer may also be a machine token.
    pub bearer_audiences: Vec<Audience>,
    /// The only key environment accepted; default any. Production sets
    /// `Some(Environment::Live)` so that `sk_test_` keys are refused.
    pub key_environment: Option<Environment>,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` entries are believed; default none,
    /// so the client address is the socket's peer and the headers are ignored.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins (`scheme://host[:port]`) besides the request's own that may send
    /// cookie-authenticated unsafe requests; default none.
    pub trusted_origins: Vec<String>,
    /// The `realm` of `WWW-Authenticate` challenges; default none.
    pub realm: Option<String>,
    /// `Retry-After` for a refusal whose end the core does not know (an OTP lock, a
    /// login hook's refusal); default 60 s. A rate limit sends its own.
    pub lock_retry_after: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            api_key_header: HeaderName::from_static("x-api-key"),
            bearer_audiences: vec![Audience::Bff, Audience::Api],
            key_environment: None,
            trusted_proxies: Vec::new(),
            trusted_origins: Vec::new(),
            realm: None,
            lock_retry_after: Duration::from_secs(60),
        }
    }
}
