//! `keys …`: service keys. A secret is printed once, by `create` and `rotate`; nothing
//! else prints a secret or a hash.

use authkit::{ApiKey, ApiKeyId, Auth, Environment, KeyType, NewApiKey, Timestamp};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

use super::user_by_email;
use crate::cli::{CreateKeyArgs, EnvArg, KeyCommand, KeyTypeArg};
use crate::fail::Failure;
use crate::output::{Out, list_or_dash, table, ts};

/// A key as listed: never its secret or hash.
#[derive(Debug, Serialize)]
struct KeyView {
    id: String,
    prefix: String,
    name: String,
    #[serde(rename = "type")]
    key_type: &'static str,
    environment: &'static str,
    scopes: Vec<String>,
    state: &'static str,
    created_at: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    revoked_reason: Option<String>,
    usage_count: u64,
    last_used_at: Option<String>,
    last_used_ip: Option<String>,
}

/// A key just issued: the secret, shown this once.
#[derive(Debug, Serialize)]
struct IssuedView {
    secret: String,
    key: KeyView,
}

/// Runs a `keys` subcommand.
pub(crate) async fn run(auth: &Auth, command: KeyCommand, out: Out) -> Result<(), Failure> {
    match command {
        KeyCommand::Create(args) => create(auth, args, out).await,
        KeyCommand::List { user } => list(auth, user.as_deref(), out).await,
        KeyCommand::Rotate { key, grace } => {
            let id = find(auth, &key).await?;
            let grace = time::Duration::seconds(i64::from(grace));
            let issued = auth.rotate_api_key(id, grace).await?;
            show_issued(auth, issued.secret.expose(), &issued.key, out)
        }
        KeyCommand::Revoke { key, reason } => {
            let id = find(auth, &key).await?;
            let revoked = auth.revoke_api_key(id, &reason).await?;
            let key = auth.api_key(id).await?;
            let text = if revoked {
                format!("revoked key {} ({})", key.prefix, key.id)
            } else {
                format!(
                    "unchanged (already revoked): key {} ({})",
                    key.prefix, key.id
                )
            };
            crate::output::emit(&text);
            Ok(())
        }
    }
}

async fn create(auth: &Auth, args: CreateKeyArgs, out: Out) -> Result<(), Failure> {
    let key_type = match args.key_type {
        KeyTypeArg::Publishable => KeyType::Publishable,
        KeyTypeArg::Secret => KeyType::Secret,
        KeyTypeArg::Restricted => KeyType::Restricted,
    };
    let environment = match args.environment {
        EnvArg::Live => Environment::Live,
        EnvArg::Test => Environment::Test,
    };
    let mut new = NewApiKey::new(key_type, environment, None, args.name);
    new.scopes = Some(args.scopes);
    new.description = args.description;
    new.allowed_ips = args.allowed_ips;
    new.expires_at = args.expires_at.as_deref().map(parse_time).transpose()?;
    let issued = auth.create_api_key(new).await?;
    show_issued(auth, issued.secret.expose(), &issued.key, out)
}

fn parse_time(text: &str) -> Result<Timestamp, Failure> {
    Timestamp::parse(text, &Rfc3339)
        .map_err(|e| Failure::usage(format!("bad --expires-at {text:?}: {e} (want RFC 3339)")))
}

fn show_issued(auth: &Auth, secret: &str, key: &ApiKey, out: Out) -> Result<(), Failure> {
    let view = IssuedView {
        secret: secret.to_owned(),
        key: view(key, auth.now()),
    };
    out.show(&view, |v| {
        format!(
            "{}\nkey {} ({}): store the secret above now; it is not shown again",
            v.secret, v.key.prefix, v.key.id
        )
    })
}

async fn list(auth: &Auth, user: Option<&str>, out: Out) -> Result<(), Failure> {
    let owner = match user {
        Some(email) => Some(user_by_email(auth, email).await?.id),
        None => None,
    };
    let now = auth.now();
    let keys: Vec<KeyView> = auth
        .list_api_keys(owner)
        .await?
        .iter()
        .map(|k| view(k, now))
        .collect();
    out.show(&keys, |keys| {
        let rows: Vec<Vec<String>> = keys.iter().map(row).collect();
        let headers = [
            "ID",
            "PREFIX",
            "NAME",
            "SCOPES",
            "STATE",
            "LAST USED",
            "USES",
        ];
        table(&headers, &rows)
    })
}

fn row(k: &KeyView) -> Vec<String> {
    vec![
        k.id.clone(),
        k.prefix.clone(),
        k.name.clone(),
        list_or_dash(&k.scopes),
        k.state.to_owned(),
        k.last_used_at.clone().unwrap_or_else(|| "never".to_owned()),
        k.usage_count.to_string(),
    ]
}

/// The key an argument names: a UUID is an id (any key); anything else is the visible
/// prefix of a service key.
async fn find(auth: &Auth, arg: &str) -> Result<ApiKeyId, Failure> {
    if let Ok(uuid) = arg.parse::<uuid::Uuid>() {
        return Ok(auth.api_key(ApiKeyId(uuid)).await?.id);
    }
    let matching: Vec<ApiKey> = auth
        .list_api_keys(None)
        .await?
        .into_iter()
        .filter(|k| k.prefix == arg)
        .collect();
    match matching.as_slice() {
        [one] => Ok(one.id),
        [] => Err(Failure::not_found(format!(
            "no service key with id or prefix {arg}"
        ))),
        _ => Err(Failure::usage(format!(
            "{} service keys have prefix {arg}; name one by id",
            matching.len()
        ))),
    }
}

/// The state a listing shows: `revoked`, `expired` or `active`.
fn state(key: &ApiKey, now: Timestamp) -> &'static str {
    if key.revoked_at.is_some() {
        "revoked"
    } else if key.expires_at.is_some_and(|at| now >= at) {
        "expired"
    } else {
        "active"
    }
}

fn view(key: &ApiKey, now: Timestamp) -> KeyView {
    KeyView {
        id: key.id.to_string(),
        prefix: key.prefix.clone(),
        name: key.name.clone(),
        key_type: key_type_name(key.key_type),
        environment: key.environment.as_str(),
        scopes: key.scopes.clone(),
        state: state(key, now),
        created_at: ts(key.created_at),
        expires_at: key.expires_at.map(ts),
        revoked_at: key.revoked_at.map(ts),
        revoked_reason: key.revoked_reason.clone(),
        usage_count: key.usage_count,
        last_used_at: key.last_used_at.map(ts),
        last_used_ip: key.last_used_ip.map(|ip| ip.to_string()),
    }
}

fn key_type_name(key_type: KeyType) -> &'static str {
    match key_type {
        KeyType::Publishable => "publishable",
        KeyType::Secret => "secret",
        KeyType::Restricted => "restricted",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_only() {
        assert!(parse_time("2030-01-01T00:00:00Z").is_ok());
        let err = parse_time("tomorrow").err().map(|f| f.code);
        assert_eq!(err, Some(crate::fail::Code::Usage));
    }
}
