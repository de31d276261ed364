//! `users …`: show (never a hash), revoke credentials, delete.

use authkit::Auth;
use serde::Serialize;

use super::user_by_email;
use crate::cli::UserCommand;
use crate::fail::Failure;
use crate::output::{Out, list_or_dash, ts, ts_or_dash};

/// A user as shown: whether it has a password, never the hash.
#[derive(Debug, Serialize)]
struct UserView {
    id: String,
    email: String,
    email_verified_at: Option<String>,
    has_password: bool,
    created_at: String,
    updated_at: String,
    roles: Vec<String>,
    permissions: Vec<String>,
    abilities: Vec<String>,
    live_sessions: usize,
    api_keys: usize,
}

/// What `users revoke` ended.
#[derive(Debug, Serialize)]
struct Revoked {
    sessions: u64,
    refresh_tokens: u64,
    api_keys: u64,
}

/// Runs a `users` subcommand.
pub(crate) async fn run(auth: &Auth, command: UserCommand, out: Out) -> Result<(), Failure> {
    match command {
        UserCommand::Show { email } => show(auth, &email, out).await,
        UserCommand::Revoke { email, keys } => revoke(auth, &email, keys.as_deref(), out).await,
        UserCommand::Delete { email, yes } => {
            let user = user_by_email(auth, &email).await?;
            if !yes {
                return Err(Failure::usage(format!(
                    "refusing to delete {} without --yes",
                    user.email
                )));
            }
            auth.delete_user(user.id).await?;
            out.done(true, &format!("deleted user {} ({})", user.email, user.id))
        }
    }
}

async fn show(auth: &Auth, email: &str, out: Out) -> Result<(), Failure> {
    let user = user_by_email(auth, email).await?;
    let grants = auth.user_grants(user.id).await?;
    let view = UserView {
        id: user.id.to_string(),
        email: user.email.clone(),
        email_verified_at: user.email_verified_at.map(ts),
        has_password: user.password_hash.is_some(),
        created_at: ts(user.created_at),
        updated_at: ts(user.updated_at),
        roles: grants.roles,
        permissions: grants.permissions,
        abilities: grants.abilities,
        live_sessions: auth.list_sessions(user.id).await?.len(),
        api_keys: auth.list_api_keys(Some(user.id)).await?.len(),
    };
    out.show(&view, |v| {
        let verified = ts_or_dash(user.email_verified_at);
        [
            format!("id              {}", v.id),
            format!("email           {}", v.email),
            format!("email verified  {verified}"),
            format!(
                "password        {}",
                if v.has_password { "set" } else { "none" }
            ),
            format!("created         {}", v.created_at),
            format!("updated         {}", v.updated_at),
            format!("roles           {}", list_or_dash(&v.roles)),
            format!("permissions     {}", list_or_dash(&v.permissions)),
            format!("abilities       {}", list_or_dash(&v.abilities)),
            format!("live sessions   {}", v.live_sessions),
            format!("api keys        {}", v.api_keys),
        ]
        .join("\n")
    })
}

async fn revoke(auth: &Auth, email: &str, keys: Option<&str>, out: Out) -> Result<(), Failure> {
    let user = user_by_email(auth, email).await?;
    let mut revoked = Revoked {
        sessions: auth.revoke_other_sessions(user.id, None).await?,
        refresh_tokens: auth.revoke_user_refresh(user.id).await?,
        api_keys: 0,
    };
    if let Some(reason) = keys {
        for key in auth.list_api_keys(Some(user.id)).await? {
            if auth.revoke_api_key(key.id, reason).await? {
                revoked.api_keys += 1;
            }
        }
    }
    out.show(&revoked, |r| {
        format!(
            "revoked {} sessions, {} refresh tokens, {} API keys of {}",
            r.sessions, r.refresh_tokens, r.api_keys, user.email
        )
    })
}
