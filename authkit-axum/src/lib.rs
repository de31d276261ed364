//! axum and tower for authkit: one layer that authenticates each request lazily,
//! extractors for the principal, guards as values, responses per RFC 6750, CSRF checks
//! for cookie-authenticated requests and the client address for key allow-lists.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use authkit::{Auth, Config, SigningKey, Stores};
//! use authkit_axum::{AuthLayer, Guard, HttpConfig, UserSession};
//! use axum::Router;
//! use axum::routing::get;
//!
//! async fn me(UserSession(session): UserSession) -> String {
//!     format!("user {}", session.user_id.0)
//! }
//!
//! # fn app(stores: Stores) -> authkit::Result<Router> {
//! let config = Config::new("https://app.example", SigningKey::new([7; 32]));
//! let auth = Arc::new(Auth::builder(stores, config).build()?);
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .route_layer(Guard::login())
//!     .layer(AuthLayer::new(auth, HttpConfig::default()));
//! # Ok(app)
//! # }
//! ```
//!
//! # Which credential
//! The layer takes the first of these a request carries, and only that one:
//! 1. `Authorization: Bearer <access token>`, tried under each of
//!    [`HttpConfig::bearer_audiences`]; an `api` token may be a machine token;
//! 2. an API key in [`HttpConfig::api_key_header`];
//! 3. the session cookie (named by the core's `Config::session.cookie`).
//!
//! Credentials a client attaches on purpose come before the cookie a browser attaches
//! on its own: a page's script calling an API with a key acts as that key, and only the
//! cookie is subject to the cross-origin check.
//!
//! Nothing touches a store until an extractor or a guard asks; the answer is kept for
//! the rest of the request.

mod client;
mod config;
mod csrf;
mod error;
mod extract;
mod flows;
mod guard;
mod layer;

pub use client::client_ip;
pub use config::HttpConfig;
pub use error::Rejection;
pub use extract::{
    Authenticated, CurrentUser, ExtractRejection, Key, MachineToken, UserSession, UserToken,
};
pub use flows::{Mail, MailKind, Mailer, flows};
pub use guard::{Guard, GuardFuture, GuardService};
pub use layer::{AuthLayer, AuthService, Principal, RequestAuth};
