//! Argon2id password hashing, always off the async executor.
//!
//! OWASP Password Storage Cheat Sheet: Argon2id with m=19 MiB, t=2, p=1 is the first
//! recommended configuration, salts are unique per hash, and stored parameters are
//! upgraded when a user next logs in. OWASP Authentication Cheat Sheet: a login for an
//! unknown account must cost the same as a wrong password, so we verify against a dummy
//! hash made with the same parameters.

use argon2::{
    ARGON2ID_IDENT, Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier,
    Version,
};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::clock::Randomness;
use crate::config::{PasswordParams, PasswordPolicy};
use crate::error::{Error, Result};

/// Builds Argon2 parameters, or says why they are invalid.
pub(crate) fn argon2_params(p: PasswordParams) -> Result<Params, argon2::Error> {
    Params::new(p.memory_kib, p.iterations, p.parallelism, None)
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The password matches.
    pub(crate) ok: bool,
    /// The hash was made with other parameters than the configured ones.
    pub(crate) outdated: bool,
}

/// Hashes and verifies passwords under one policy.
#[derive(Debug)]
pub(crate) struct Passwords {
    policy: PasswordPolicy,
    params: Params,
    dummy: OnceCell<String>,
}

impl Passwords {
    pub(crate) fn new(policy: PasswordPolicy) -> Result<Self> {
        let params = argon2_params(policy.params)
            .map_err(|e| Error::InvalidConfig(vec![format!("password.params: {e}")]))?;
        Ok(Passwords {
            policy,
            params,
            dummy: OnceCell::new(),
        })
    }

    /// Length rules: at least `min_chars` characters, at most `max_bytes` bytes.
    pub(crate) fn check_policy(&self, password: &str) -> Result<()> {
        if password.len() > self.policy.max_bytes {
            return Err(Error::PasswordTooLong {
                max: self.policy.max_bytes,
            });
        }
        if password.chars().count() < self.policy.min_chars {
            return Err(Error::PasswordTooShort {
                min: self.policy.min_chars,
            });
        }
        Ok(())
    }

    /// A PHC string for `password` with a fresh 16-byte salt, computed on a blocking thread.
    pub(crate) async fn hash(&self, password: &str, rng: &dyn Randomness) -> Result<String> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let params = self.params.clone();
        let password = Zeroizing::new(password.to_owned());
        blocking(move || {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_with_salt(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::internal("argon2 hashing", e.to_string()))
        })
        .await
    }

    /// Checks `password` against a stored PHC string on a blocking thread. A hash that
    /// does not parse counts as a mismatch (and as outdated, so a later set replaces it).
    pub(crate) async fn verify(&self, password: &str, phc: &str) -> Result<Verified> {
        let params = self.params.clone();
        let password = Zeroizing::new(password.to_owned());
        let phc = phc.to_owned();
        blocking(move || {
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return Ok(Verified {
                    ok: false,
                    outdated: true,
                });
            };
            let ok = Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok();
            Ok(Verified {
                ok,
                outdated: is_outdated(&parsed, &params),
            })
        })
        .await
    }

    /// Spends the time of one verification against a hash nobody can match, for logins
    /// of unknown or passwordless accounts. Always a mismatch.
    pub(crate) async fn verify_dummy(&self, password: &str, rng: &dyn Randomness) -> Result<()> {
        let dummy = self
            .dummy
            .get_or_try_init(|| async {
                let mut filler = [0u8; 32];
                rng.fill(&mut filler);
                self.hash(&format!("{filler:02x?}"), rng).await
            })
            .await?;
        self.verify(password, dummy).await.map(|_| ())
    }
}

fn is_outdated(hash: &PasswordHash, want: &Params) -> bool {
    if hash.algorithm != ARGON2ID_IDENT || hash.version != Some(Version::V0x13.into()) {
        return true;
    }
    match Params::try_from(hash) {
        Ok(have) => {
            have.m_cost() != want.m_cost()
                || have.t_cost() != want.t_cost()
                || have.p_cost() != want.p_cost()
        }
        Err(_) => true,
    }
}

/// Runs CPU-heavy work on tokio's blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::internal("blocking task", e))?
}
