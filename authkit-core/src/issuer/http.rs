//! [`HttpFetcher`]: the default [`Fetcher`], on `reqwest` with rustls (feature `http`).

use std::time::Duration;

use async_trait::async_trait;

use super::fetch::{FetchResponse, Fetcher, MAX_DOCUMENT_BYTES};
use crate::error::{BoxError, Error, Result};

/// Fetches over HTTPS with `reqwest` and rustls (Mozilla's root certificates, no system
/// OpenSSL): 5 s to connect, 10 s in all, at most 5 redirects and only to `https`,
/// bodies over [`MAX_DOCUMENT_BYTES`] refused while reading.
#[derive(Clone, Debug)]
pub struct HttpFetcher {
    client: reqwest::Client,
}

impl HttpFetcher {
    /// A fetcher with the limits above.
    ///
    /// Errors: [`Error::Internal`] when the TLS client cannot be built.
    pub fn new() -> Result<Self> {
        let redirects = reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 5 || attempt.url().scheme() != "https" {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(redirects)
            .user_agent(concat!("authkit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::internal("HTTP client", e))?;
        Ok(HttpFetcher { client })
    }

    /// A fetcher on the application's own client (its proxy, roots, timeouts). It must
    /// time out and must not follow redirects from `https` to `http`.
    pub fn with_client(client: reqwest::Client) -> Self {
        HttpFetcher { client }
    }
}

#[async_trait]
impl Fetcher for HttpFetcher {
    async fn get(&self, url: &str) -> std::result::Result<FetchResponse, BoxError> {
        let mut response = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await?;
        let status = response.status().as_u16();
        let cache_control = response
            .headers()
            .get(reqwest::header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if response
            .content_length()
            .is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(format!("GET {url}: body over {MAX_DOCUMENT_BYTES} bytes").into());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: body over {MAX_DOCUMENT_BYTES} bytes").into());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(FetchResponse::new(status, cache_control, body))
    }
}
