//! The authkit demo: the whole product behind one small web service. Server-rendered
//! pages sign up, verify the email (an outbox page stands in for mail), log in with a
//! password, a magic link or a code, list and revoke sessions, create and revoke API
//! keys, and call a JSON endpoint with a key. The pages' scripts call the same router of
//! flows and sit behind the same guards an application would use
//! ([`authkit_axum::flows`], [`authkit_axum::Guard`]).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use authkit::{Auth, BoxError, Config, Randomness as _, SigningKey, Stores};
use authkit_axum::{AuthLayer, Guard, HttpConfig, Key, Mail, Mailer, flows};
use authkit_sqlx::{MySqlStore, PgStore, SqliteStore};
use axum::Router;
use axum::handler::Handler;
use axum::routing::get;

mod pages;

/// How to run the demo.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// `sqlite://file.db` (created if missing), `postgres://…` or `mysql://…`.
    pub database_url: String,
    /// Mark the session cookie `Secure` and name it `__Host-authkit_session`: for a
    /// deployment behind TLS. Off by default, since the demo serves plain HTTP on
    /// loopback.
    pub secure_cookies: bool,
    /// `session.cache_ttl`: how long a verified session is answered from memory; default
    /// zero (every request asks the store).
    pub session_cache: time::Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            database_url: "sqlite://authkit-demo.db".into(),
            secure_cookies: false,
            session_cache: time::Duration::ZERO,
        }
    }
}

/// The mail the flows asked to send, newest last: the outbox page shows it.
#[derive(Debug, Default)]
pub struct Outbox(Mutex<Vec<Mail>>);

#[async_trait::async_trait]
impl Mailer for Outbox {
    async fn send(&self, mail: Mail) -> Result<(), BoxError> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(mail);
        Ok(())
    }
}

/// What the pages share.
#[derive(Clone)]
struct Demo {
    auth: Arc<Auth>,
    outbox: Arc<Outbox>,
}

/// The demo's router, its store connected and migrated.
///
/// # Errors
/// The store's, when the database cannot be reached or its schema is not authkit's.
pub async fn app(options: &DemoOptions) -> Result<Router, authkit::Error> {
    let stores = stores(&options.database_url).await?;
    let mut config = Config::new("http://127.0.0.1", SigningKey::new(random_key()));
    config.session.cache_ttl = options.session_cache;
    let cookie = &mut config.session.cookie;
    cookie.secure = options.secure_cookies;
    if options.secure_cookies {
        cookie.name = "__Host-authkit_session".into();
    }
    let auth = Arc::new(Auth::builder(stores, config).build()?);
    let outbox = Arc::new(Outbox::default());
    let demo = Demo {
        auth: auth.clone(),
        outbox: outbox.clone(),
    };
    let pages = Router::new()
        .merge(pages_for_guests())
        .merge(pages_for_users())
        .merge(open_pages())
        .merge(api())
        .with_state(demo);
    Ok(pages
        .nest("/auth", flows(auth.clone(), outbox))
        .layer(AuthLayer::new(auth, HttpConfig::default())))
}

fn pages_for_guests() -> Router<Demo> {
    Router::new()
        .route("/signup", get(pages::signup))
        .route("/login", get(pages::login))
        .route_layer(Guard::guest("/"))
}

fn pages_for_users() -> Router<Demo> {
    Router::new()
        .route("/sessions", get(pages::sessions))
        .route("/keys", get(pages::keys))
        .route_layer(Guard::login_page("/login"))
}

fn open_pages() -> Router<Demo> {
    Router::new()
        .route("/", get(pages::home))
        .route("/outbox", get(pages::outbox))
        .route("/verify", get(pages::verify))
        .route("/magic", get(pages::magic))
        .route("/reset", get(pages::reset))
        .route("/console", get(pages::console))
        .route("/app.js", get(pages::script))
}

/// The JSON endpoint an API key calls, and a twin pair of trivial routes, one behind the
/// login guard, for the load run (`scripts/load.sh`) to price the guard. The guard is put
/// on that one handler (`Handler::layer`), as an application guards a single route: a
/// `route_layer` would add a boxed service of axum's own to each request, which the load
/// run priced at about 0.5 µs, nearly as much as the guard itself.
fn api() -> Router<Demo> {
    Router::new()
        .route("/api/hello", get(hello))
        .route_layer(Guard::login())
        .route("/ping/guarded", get(ping.layer(Guard::login())))
        .route("/ping/open", get(ping))
}

async fn ping() -> &'static str {
    "pong"
}

async fn hello(Key(key): Key) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "hello": key.name,
        "key": key.prefix,
        "owner": key.owner.map(|u| u.0.to_string()),
    }))
}

/// The store the URL names, migrated.
async fn stores(url: &str) -> Result<Stores, authkit::Error> {
    let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase());
    Ok(match scheme.as_deref() {
        Some("postgres" | "postgresql") => Stores::from_backend(PgStore::connect(url).await?),
        Some("mysql" | "mariadb") => Stores::from_backend(MySqlStore::connect(url).await?),
        Some("sqlite") => Stores::from_backend(SqliteStore::connect(url).await?),
        _ => {
            return Err(authkit::Error::InvalidInput(
                "database URL must start with sqlite://, postgres:// or mysql://",
            ));
        }
    })
}

/// A fresh signing key per start: access tokens die with the process, sessions (stored)
/// do not.
fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    authkit::OsRandomness.fill(&mut key);
    key
}

/// Serves `app` on `listen` until the process is stopped, with each request's peer
/// address available to the layer.
///
/// # Errors
/// When `listen` cannot be bound.
pub async fn serve(app: Router, listen: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    serve_on(app, listener).await
}

/// [`serve`] on a listener already bound (tests bind port 0).
///
/// # Errors
/// When the listener fails.
pub async fn serve_on(app: Router, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, service).await
}
