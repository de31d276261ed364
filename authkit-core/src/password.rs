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
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
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
    /// A PHC string nobody can match, ready from construction (see [`dummy_phc`]).
    dummy: String,
}

impl Passwords {
    pub(crate) fn new(policy: PasswordPolicy, rng: &dyn Randomness) -> Result<Self> {
        let params = argon2_params(policy.params)
            .map_err(|e| Error::InvalidConfig(vec![format!("password.params: {e}")]))?;
        Ok(Passwords {
            dummy: dummy_phc(&params, rng),
            policy,
            params,
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
    pub(crate) async fn verify_dummy(&self, password: &str) -> Result<()> {
        self.verify(password, &self.dummy).await.map(|_| ())
    }
}

/// An Argon2id PHC string with the configured parameters and a random salt and output.
/// Verifying any password against it costs one real verification (Argon2 recomputes the
/// hash with the parameters in the string) and never matches. Building it runs no
/// Argon2 at all, so it is ready before the first request and the first unknown-email
/// login costs what every other login costs.
fn dummy_phc(params: &Params, rng: &dyn Randomness) -> String {
    let mut salt = [0u8; 16];
    let mut output = [0u8; 32];
    rng.fill(&mut salt);
    rng.fill(&mut output);
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(output)
    )
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SeededRandomness;

    #[test]
    fn dummy_parses_with_the_configured_parameters() {
        let params =
            argon2_params(PasswordParams::new(1024, 1, 1)).unwrap_or_else(|e| panic!("{e}"));
        let phc = dummy_phc(&params, &SeededRandomness::new(1));
        let parsed = PasswordHash::new(&phc).unwrap_or_else(|e| panic!("{phc}: {e}"));
        assert!(!is_outdated(&parsed, &params), "{phc}");
        assert_eq!(parsed.hash.map(|h| h.len()), Some(32));
    }

    #[tokio::test]
    async fn dummy_never_matches() {
        let policy = PasswordPolicy {
            params: PasswordParams::new(1024, 1, 1),
            ..PasswordPolicy::default()
        };
        let passwords =
            Passwords::new(policy, &SeededRandomness::new(2)).unwrap_or_else(|e| panic!("{e}"));
        let verified = passwords.verify("anything at all", &passwords.dummy).await;
        assert!(matches!(
            verified,
            Ok(Verified {
                ok: false,
                outdated: false
            })
        ));
    }
}
