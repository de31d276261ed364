//! A tour of authkit's flows over the in-memory store.
//!
//! Run it with `cargo run -p authkit-memory --example tour`.

use authkit::{Audience, Auth, Config, Error, SigningKey, Stores};
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

    auth.revoke_session(session.id).await?;
    match auth.authenticate_session(issued.secret.expose()).await {
        Err(Error::SessionInvalid) => println!("logged out: the session no longer authenticates"),
        other => println!("unexpected: {other:?}"),
    }
    let purged = auth.purge_expired().await?;
    println!("purge removed {} expired rows", purged.total());
    Ok(())
}
