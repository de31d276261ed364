//! A tour of authkit's flows over the in-memory store.
//!
//! Run it with `cargo run -p authkit-memory --example tour`.

use authkit::{
    Audience, Auth, Config, Environment, Error, GrantKind, KeyType, NewApiKey, Predicate,
    SigningKey, SlugKind, Stores, Subject,
};
use authkit_memory::MemoryStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // In a real service the key comes from a secret store, never from source code.
    let config = Config::new(
        "https://auth.example.com",
        SigningKey::new(*b"an-example-key-of-32-bytes-long!"),
    );
    let auth = Auth::builder(Stores::from_backend(MemoryStore::new()), config).build()?;

    let user = auth.create_user("  Alice@Example.COM ").await?;
    println!("registered {} as {}", user.id, user.email);
    auth.set_password(user.id, "correct horse battery staple")
        .await?;

    match auth
        .login_password("alice@example.com", "wrong password")
        .await
    {
        Err(Error::InvalidCredentials) => println!("wrong password refused"),
        other => println!("unexpected: {other:?}"),
    }
    let user = auth
        .login_password("ALICE@example.com", "correct horse battery staple")
        .await?;
    println!("logged in as {}", user.email);

    let issued = auth.issue_session(user.id).await?;
    println!(
        "session cookie: {}",
        auth.session_cookie(&issued)
            .replace(issued.secret.expose(), "ses_…")
    );
    let session = auth.authenticate_session(issued.secret.expose()).await?;
    println!(
        "session {} idle until {}",
        session.id, session.idle_expires_at
    );

    let pair = auth.issue_token_pair(user.id).await?;
    let claims = auth.verify_access(&pair.access_token, Audience::Bff)?;
    println!(
        "access token for {} expires at unix {}",
        claims.sub, claims.exp
    );
    match auth.verify_access(&pair.access_token, Audience::Api) {
        Err(Error::WrongAudience) => println!("the bff token is refused by the api audience"),
        other => println!("unexpected: {other:?}"),
    }

    let next = auth.refresh(pair.refresh_token.expose()).await?;
    println!("refresh rotated within family {}", next.family_id);
    match auth.refresh(pair.refresh_token.expose()).await {
        Err(Error::RefreshReused { family, .. }) => {
            println!("reuse detected: family {family} revoked")
        }
        other => println!("unexpected: {other:?}"),
    }

    // One-time tokens: the application emails the secret; authkit stores its hash.
    let link = auth.request_email_verification(user.id).await?;
    let verified = auth.verify_email(link.secret.expose()).await?;
    println!("email verified at {:?}", verified.email_verified_at);
    let otp = auth
        .request_email_otp("alice@example.com")
        .await?
        .expect("known email");
    match auth
        .login_email_otp("alice@example.com", "not-the-code")
        .await
    {
        Err(Error::OtpInvalid { attempts_left }) => {
            println!("wrong OTP: {attempts_left} attempts left")
        }
        other => println!("unexpected: {other:?}"),
    }
    auth.login_email_otp("alice@example.com", otp.secret.expose())
        .await?;
    println!("OTP login accepted");
    let silent = auth.request_password_reset("nobody@example.com").await?;
    println!(
        "reset for an unknown email answers silently: {}",
        silent.is_none()
    );

    // RBAC: register slugs, grant through a role, check a predicate checked at start-up.
    auth.define(SlugKind::Role, "editor", "Editor").await?;
    auth.define(SlugKind::Permission, "posts:write", "Write posts")
        .await?;
    auth.define(SlugKind::Ability, "reports:export", "Export reports")
        .await?;
    auth.grant_to_role("editor", GrantKind::Permission, "posts:write")
        .await?;
    auth.assign_role(user.id, "editor").await?;
    let can_write = auth
        .check_predicate(Predicate::has_permission("posts:write"))
        .await?;
    println!(
        "alice may write posts: {}",
        auth.is_allowed(Subject::User(user.id), &can_write).await?
    );

    // API keys: shown once, checksummed, scoped; a service key's scopes are abilities.
    let mut new_key = NewApiKey::new(KeyType::Secret, Environment::Live, Some(user.id), "ci");
    new_key.scopes = Some(vec!["posts:*".into()]);
    let issued_key = auth.create_api_key(new_key).await?;
    let key = auth
        .verify_api_key(issued_key.secret.expose(), Some("posts:write"), None)
        .await?;
    println!("API key {} verified for posts:write", key.prefix);
    match auth
        .verify_api_key(issued_key.secret.expose(), Some("users:delete"), None)
        .await
    {
        Err(Error::ScopeMissing(scope)) => println!("API key lacks {scope}"),
        other => println!("unexpected: {other:?}"),
    }
    let mut service = NewApiKey::new(KeyType::Secret, Environment::Live, None, "exporter");
    service.scopes = Some(vec!["reports:export".into()]);
    let service = auth.create_api_key(service).await?;
    let can_export = auth
        .check_predicate(Predicate::has_ability("reports:export"))
        .await?;
    println!(
        "service key may export: {}",
        auth.is_allowed(Subject::Key(&service.key), &can_export)
            .await?
    );
    auth.flush_key_usage().await?;
    println!(
        "API key uses recorded: {}",
        auth.api_key(key.id).await?.usage_count
    );

    auth.revoke_session(session.id).await?;
    match auth.authenticate_session(issued.secret.expose()).await {
        Err(Error::SessionInvalid) => println!("logged out: the session no longer authenticates"),
        other => println!("unexpected: {other:?}"),
    }
    let purged = auth.purge_expired().await?;
    println!("purge removed {} expired rows", purged.total());
    Ok(())
}
