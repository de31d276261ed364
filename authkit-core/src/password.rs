//! Argon2id password hashing, always off the async executor.
//!
//! OWASP Password Storage Cheat Sheet: Argon2id with m=19 MiB, t=2, p=1 is the first
//! recommended configuration, salts are unique per hash, and stored parameters are
//! upgraded when a user next logs in. OWASP Authentication Cheat Sheet: a login for an
//! unknown account must cost the same as a wrong password, so we verify against a dummy
//! hash made with the same parameters.
//!
//! # Memory
//!
//! Argon2 works in `m` KiB of memory (19 MiB with the defaults). Instead of allocating
//! that on every hash and verification, as the `argon2` crate's `PasswordHasher` and
//! `PasswordVerifier` do, [`Passwords`] keeps a pool of buffers for the configured
//! parameters: a run takes a free one (or allocates one when none is free) and hands it
//! back when it ends. At most one buffer per available CPU
//! ([`std::thread::available_parallelism`], at least 1) is kept and the rest are freed,
//! so the memory held at rest is at most `available_parallelism × m` KiB (8 × 19 MiB =
//! 152 MiB on an 8-CPU machine with the defaults), reached only once that many runs have
//! overlapped. A run in flight still needs its own `m` KiB, as before. Verifying a hash
//! made with other parameters uses a buffer of that hash's size, freed after the run.
//!
//! The buffers hold state derived from the password, which a later memory disclosure
//! (a core dump, swap, a read past the end of some other buffer) must not expose. Every
//! buffer is zeroized as its run ends, before it is kept or freed, on a panic too. (The
//! `argon2` crate's own path frees its memory without zeroizing it.)

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use argon2::password_hash::phc::{Output, ParamsString, Salt};
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, PasswordHash, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use zeroize::{Zeroize, Zeroizing};

use crate::clock::Randomness;
use crate::config::{PasswordParams, PasswordPolicy};
use crate::error::{BoxError, Error, Result};
use crate::secret::constant_time_eq;

/// Builds Argon2 parameters, or says why they are invalid.
pub(crate) fn argon2_params(p: PasswordParams) -> Result<Params, argon2::Error> {
    Params::new(p.memory_kib, p.iterations, p.parallelism, None)
}

/// Salt bytes in every new hash.
const SALT_LEN: usize = 16;
/// Output bytes in every new hash (the `argon2` crate's default).
const OUTPUT_LEN: usize = Params::DEFAULT_OUTPUT_LEN;

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
    /// Argon2 memory for `params`, shared with the blocking tasks.
    memory: Arc<BlockPool>,
}

impl Passwords {
    pub(crate) fn new(policy: PasswordPolicy, rng: &dyn Randomness) -> Result<Self> {
        let params = argon2_params(policy.params)
            .map_err(|e| Error::InvalidConfig(vec![format!("password.params: {e}")]))?;
        let cap = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Passwords {
            dummy: dummy_phc(&params, rng),
            memory: Arc::new(BlockPool::new(params.block_count(), cap)),
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
        let mut salt = [0u8; SALT_LEN];
        rng.fill(&mut salt);
        let params = self.params.clone();
        let memory = self.memory.clone();
        let password = Zeroizing::new(password.to_owned());
        blocking(move || hash_phc(&params, &memory, password.as_bytes(), &salt)).await
    }

    /// Checks `password` against a stored PHC string on a blocking thread. A hash that
    /// does not parse counts as a mismatch (and as outdated, so a later set replaces it).
    pub(crate) async fn verify(&self, password: &str, phc: &str) -> Result<Verified> {
        let params = self.params.clone();
        let memory = self.memory.clone();
        let password = Zeroizing::new(password.to_owned());
        let phc = phc.to_owned();
        blocking(move || {
            let Ok(parsed) = PasswordHash::new(&phc) else {
                return Ok(Verified {
                    ok: false,
                    outdated: true,
                });
            };
            Ok(Verified {
                ok: matches(&memory, password.as_bytes(), &parsed),
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

/// Hashes `password` with Argon2id v19 under `params` in pooled memory, into the PHC
/// string the `argon2` crate's `hash_password_with_salt` makes:
/// `$argon2id$v=19$m=…,t=…,p=…$<salt>$<32-byte output>`.
fn hash_phc(params: &Params, pool: &BlockPool, password: &[u8], salt: &[u8]) -> Result<String> {
    fn failed(e: impl Into<BoxError>) -> Error {
        Error::internal("argon2 hashing", e)
    }
    let mut output = [0u8; OUTPUT_LEN];
    {
        let mut memory = pool.take(params.block_count()).map_err(failed)?;
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
            .hash_password_into_with_memory(password, salt, &mut output, memory.blocks())
            .map_err(failed)?;
    }
    let phc = PasswordHash {
        algorithm: ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(failed)?,
        salt: Some(Salt::new(salt).map_err(failed)?),
        hash: Some(Output::new(&output).map_err(failed)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` hashes to `hash`'s output under `hash`'s own algorithm, version,
/// parameters, salt and output length, in pooled memory. This is the check the `argon2`
/// crate's `PasswordVerifier` makes, with the same outcome for every input: whatever
/// it rejects (an algorithm other than the three Argon2 ones, an unknown version,
/// invalid parameters, no salt or output, memory that cannot be allocated) is a
/// mismatch here, as `verify_password(..).is_ok()` was before.
fn matches(pool: &BlockPool, password: &[u8], hash: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::new(hash.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = hash.version.map(Version::try_from).transpose() else {
        return false;
    };
    // Carries the output length of `expected`, which Argon2 hashes in.
    let Ok(params) = Params::try_from(hash) else {
        return false;
    };
    let mut output = [0u8; Output::MAX_LENGTH];
    let Some(output) = output.get_mut(..expected.len()) else {
        return false;
    };
    let Ok(mut memory) = pool.take(params.block_count()) else {
        return false;
    };
    Argon2::new(algorithm, version.unwrap_or_default(), params)
        .hash_password_into_with_memory(password, salt.as_ref(), output, memory.blocks())
        .is_ok()
        && constant_time_eq(output, expected.as_bytes())
}

/// Argon2 memory buffers of one size (the configured parameters'), kept between runs.
///
/// At most `cap` buffers are kept; a run that finds none free allocates one, and a
/// buffer handed back when `cap` are already kept is freed. Buffers of another size are
/// allocated for their run and freed after it. Every buffer is zeroized before it is
/// kept or freed (see the module documentation).
struct BlockPool {
    /// Blocks (KiB) per kept buffer.
    block_count: usize,
    /// Most buffers kept at rest.
    cap: usize,
    /// The kept buffers, all zeroed.
    free: Mutex<Vec<Box<[Block]>>>,
    /// Buffers allocated so far, of any size.
    allocated: AtomicUsize,
}

impl fmt::Debug for BlockPool {
    // The buffers themselves are never printed: between runs they are zero, and during
    // one they are none of a log's business.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockPool")
            .field("block_count", &self.block_count)
            .field("cap", &self.cap)
            .field("kept", &self.kept())
            .field("allocated", &self.allocated.load(Ordering::Relaxed))
            .finish()
    }
}

impl BlockPool {
    fn new(block_count: usize, cap: usize) -> Self {
        BlockPool {
            block_count,
            cap: cap.max(1),
            free: Mutex::new(Vec::new()),
            allocated: AtomicUsize::new(0),
        }
    }

    /// A buffer of `block_count` blocks for one run: a kept one if the size is this
    /// pool's and one is free, else a new one. `OutOfMemory` when allocating fails (an
    /// absurd `m` in a stored hash must not abort the process).
    fn take(&self, block_count: usize) -> Result<Memory<'_>, argon2::Error> {
        let kept = if block_count == self.block_count {
            self.lock().pop()
        } else {
            None
        };
        let blocks = match kept {
            Some(blocks) => blocks,
            None => {
                let mut blocks = Vec::new();
                blocks
                    .try_reserve_exact(block_count)
                    .map_err(|_| argon2::Error::OutOfMemory)?;
                blocks.resize(block_count, Block::new());
                self.allocated.fetch_add(1, Ordering::Relaxed);
                blocks.into_boxed_slice()
            }
        };
        Ok(Memory { blocks, pool: self })
    }

    /// Keeps a zeroized buffer if it has this pool's size and fewer than `cap` are
    /// kept; frees it otherwise.
    fn put(&self, blocks: Box<[Block]>) {
        if blocks.len() != self.block_count {
            return;
        }
        let rejected = {
            let mut free = self.lock();
            if free.len() < self.cap {
                free.push(blocks);
                None
            } else {
                Some(blocks)
            }
        };
        // Freed outside the lock.
        drop(rejected);
    }

    /// How many buffers are kept.
    fn kept(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Box<[Block]>>> {
        // Only push and pop run under the lock, so a poisoned list is still whole.
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One run's Argon2 memory. Dropping it zeroizes the blocks and hands them back to the
/// pool, which keeps or frees them.
struct Memory<'a> {
    blocks: Box<[Block]>,
    pool: &'a BlockPool,
}

impl Memory<'_> {
    fn blocks(&mut self) -> &mut [Block] {
        &mut self.blocks
    }
}

impl Drop for Memory<'_> {
    fn drop(&mut self) {
        // Zeroizing gives back a little of what reuse saves. On a loaded 2-CPU Xeon VM,
        // one Argon2 run with the defaults on a tokio blocking thread took (medians of
        // three runs of 30) 27-34 ms in a fresh allocation, as the `argon2` crate
        // makes, 23.5-23.8 ms in a reused buffer and 23.8-24.8 ms in a reused buffer
        // zeroized after; zeroizing 19 MiB alone took about 1.6 ms. A fresh allocation
        // is zeroed too (calloc), and depending on the allocator's state page-faulted
        // in as well (4864 faults a run on the main thread, 33-37 ms).
        //
        // Block by block through `[u64]`, which zeroize fills in bulk behind an
        // optimization barrier; `Box<[Block]>::zeroize` writes one volatile u64 at a
        // time and measured about 35% slower (2.3 ms against 1.7 ms).
        for block in self.blocks.iter_mut() {
            block.as_mut().zeroize();
        }
        self.pool.put(std::mem::take(&mut self.blocks));
    }
}

/// An Argon2id PHC string with the configured parameters and a random salt and output.
/// Verifying any password against it costs one real verification (Argon2 recomputes the
/// hash with the parameters in the string) and never matches. Building it runs no
/// Argon2 at all, so it is ready before the first request and the first unknown-email
/// login costs what every other login costs.
fn dummy_phc(params: &Params, rng: &dyn Randomness) -> String {
    let mut salt = [0u8; SALT_LEN];
    let mut output = [0u8; OUTPUT_LEN];
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
    let want_len = want.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    if hash.hash.is_none_or(|output| output.len() != want_len) {
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
    use argon2::{ParamsBuilder, PasswordHasher, PasswordVerifier};

    use super::*;
    use crate::clock::SeededRandomness;

    const PASSWORD: &str = "correct horse battery staple";

    /// Small parameters, so that the tests run fast unoptimized.
    fn small() -> PasswordParams {
        PasswordParams::new(256, 1, 1)
    }

    fn passwords(params: PasswordParams, seed: u64) -> Passwords {
        let policy = PasswordPolicy {
            params,
            ..PasswordPolicy::default()
        };
        Passwords::new(policy, &SeededRandomness::new(seed)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A PHC string made by the `argon2` crate alone.
    fn crate_phc(algorithm: Algorithm, version: Version, params: Params, password: &str) -> String {
        Argon2::new(algorithm, version, params)
            .hash_password_with_salt(password.as_bytes(), b"a 16 byte salt!!")
            .unwrap_or_else(|e| panic!("{e}"))
            .to_string()
    }

    fn params(m: u32, t: u32, p: u32) -> Params {
        Params::new(m, t, p, None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// What `verify` answered before it used pooled memory.
    fn verify_as_before(password: &str, phc: &str, want: &Params) -> Verified {
        match PasswordHash::new(phc) {
            Err(_) => Verified {
                ok: false,
                outdated: true,
            },
            Ok(parsed) => Verified {
                ok: Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok(),
                outdated: is_outdated(&parsed, want),
            },
        }
    }

    #[tokio::test]
    async fn a_new_hash_is_the_argon2_crates_hash() {
        let passwords = passwords(small(), 3);
        let phc = passwords
            .hash(PASSWORD, &SeededRandomness::new(4))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(phc.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{phc}");
        let parsed = PasswordHash::new(&phc).unwrap_or_else(|e| panic!("{phc}: {e}"));
        assert_eq!(parsed.salt.map(|s| s.len()), Some(SALT_LEN));
        assert_eq!(parsed.hash.map(|h| h.len()), Some(OUTPUT_LEN));
        let salt = parsed.salt.unwrap_or_else(|| panic!("{phc}"));
        let theirs = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            passwords.params.clone(),
        )
        .hash_password_with_salt(PASSWORD.as_bytes(), &salt)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
        assert_eq!(phc, theirs);
        assert!(
            Argon2::default()
                .verify_password(PASSWORD.as_bytes(), &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"correct horse battery stapler", &parsed)
                .is_err()
        );
    }

    #[tokio::test]
    async fn an_argon2_crate_hash_verifies() {
        let passwords = passwords(small(), 5);
        let phc = crate_phc(
            Algorithm::Argon2id,
            Version::V0x13,
            passwords.params.clone(),
            PASSWORD,
        );
        let right = passwords.verify(PASSWORD, &phc).await;
        assert!(matches!(
            right,
            Ok(Verified {
                ok: true,
                outdated: false
            })
        ));
        let wrong = passwords.verify("Correct horse battery staple", &phc).await;
        assert!(matches!(
            wrong,
            Ok(Verified {
                ok: false,
                outdated: false
            })
        ));
    }

    #[tokio::test]
    async fn other_parameters_verify_and_are_outdated() {
        let passwords = passwords(small(), 6);
        let others = [
            crate_phc(
                Algorithm::Argon2id,
                Version::V0x13,
                params(512, 2, 2),
                PASSWORD,
            ),
            crate_phc(
                Algorithm::Argon2id,
                Version::V0x13,
                params(256, 2, 1),
                PASSWORD,
            ),
            crate_phc(
                Algorithm::Argon2id,
                Version::V0x10,
                params(256, 1, 1),
                PASSWORD,
            ),
            crate_phc(
                Algorithm::Argon2i,
                Version::V0x13,
                params(256, 1, 1),
                PASSWORD,
            ),
            crate_phc(
                Algorithm::Argon2d,
                Version::V0x13,
                params(128, 1, 1),
                PASSWORD,
            ),
            // The configured m, t and p, but a 16-byte output.
            crate_phc(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(256, 1, 1, Some(16)).unwrap_or_else(|e| panic!("{e}")),
                PASSWORD,
            ),
        ];
        for phc in &others {
            let right = passwords.verify(PASSWORD, phc).await;
            assert!(
                matches!(
                    right,
                    Ok(Verified {
                        ok: true,
                        outdated: true
                    })
                ),
                "{phc}: {right:?}"
            );
            let wrong = passwords.verify("wrong password", phc).await;
            assert!(
                matches!(
                    wrong,
                    Ok(Verified {
                        ok: false,
                        outdated: true
                    })
                ),
                "{phc}: {wrong:?}"
            );
        }
        // One buffer of the configured size (256 blocks) serves the 256-block hashes;
        // the 512- and 128-block ones get a buffer of their own per run, then freed.
        assert_eq!(
            passwords.memory.allocated.load(Ordering::Relaxed),
            1 + 2 + 2
        );
        assert_eq!(passwords.memory.kept(), 1);
    }

    #[tokio::test]
    async fn every_hash_gets_the_answer_it_got_before() {
        let passwords = passwords(small(), 7);
        let want = passwords.params.clone();
        let data = ParamsBuilder::new()
            .m_cost(256)
            .t_cost(1)
            .p_cost(1)
            .data(argon2::AssociatedData::new(b"context").unwrap_or_else(|e| panic!("{e}")))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let ours = passwords
            .hash(PASSWORD, &SeededRandomness::new(8))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let salt = STANDARD_NO_PAD.encode(b"a 16 byte salt!!");
        let output = STANDARD_NO_PAD.encode([7u8; 32]);
        let phcs = [
            ours,
            passwords.dummy.clone(),
            crate_phc(Algorithm::Argon2id, Version::V0x13, want.clone(), PASSWORD),
            crate_phc(Algorithm::Argon2id, Version::V0x13, data, PASSWORD),
            crate_phc(Algorithm::Argon2i, Version::V0x10, params(64, 3, 2), PASSWORD),
            crate_phc(Algorithm::Argon2d, Version::V0x13, params(256, 1, 1), PASSWORD),
            // No version: 0x13 is assumed.
            crate_phc(Algorithm::Argon2id, Version::V0x13, want.clone(), PASSWORD)
                .replace("$v=19", ""),
            // No output, no salt, a salt too short, an unknown version or parameter.
            format!("$argon2id$v=19$m=256,t=1,p=1${salt}"),
            "$argon2id$v=19$m=256,t=1,p=1".to_owned(),
            format!("$argon2id$v=19$m=256,t=1,p=1$c2FsdA${output}"),
            format!("$argon2id$v=18$m=256,t=1,p=1${salt}${output}"),
            format!("$argon2id$v=19$m=256,t=1,p=1,x=2${salt}${output}"),
            // Parameters Argon2 refuses: m below 8 per lane, t = 0.
            format!("$argon2id$v=19$m=8,t=1,p=2${salt}${output}"),
            format!("$argon2id$v=19$m=256,t=0,p=1${salt}${output}"),
            // Other algorithms, and no hash at all.
            format!("$argon2x$v=19$m=256,t=1,p=1${salt}${output}"),
            "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"
                .to_owned(),
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".to_owned(),
            String::new(),
            "not a hash".to_owned(),
        ];
        for phc in &phcs {
            for password in [PASSWORD, "wrong password", ""] {
                let now = passwords.verify(password, phc).await;
                let before = verify_as_before(password, phc, &want);
                assert!(
                    matches!(now, Ok(v) if v == before),
                    "{phc} / {password:?}: {now:?}, before {before:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_second_verification_reuses_the_buffer() {
        let passwords = passwords(small(), 9);
        let phc = passwords
            .hash(PASSWORD, &SeededRandomness::new(10))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(passwords.memory.allocated.load(Ordering::Relaxed), 1);
        assert_eq!(passwords.memory.kept(), 1);
        for _ in 0..2 {
            let verified = passwords.verify(PASSWORD, &phc).await;
            assert!(matches!(verified, Ok(Verified { ok: true, .. })));
            assert!(passwords.verify_dummy(PASSWORD).await.is_ok());
        }
        assert_eq!(passwords.memory.allocated.load(Ordering::Relaxed), 1);
        assert_eq!(passwords.memory.kept(), 1);
    }

    #[test]
    fn the_pool_keeps_at_most_cap_buffers() {
        let pool = BlockPool::new(16, 2);
        let taken: Vec<_> = (0..3)
            .map(|_| pool.take(16).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(pool.allocated.load(Ordering::Relaxed), 3);
        drop(taken);
        assert_eq!(pool.kept(), 2);
        let again: Vec<_> = (0..2)
            .map(|_| pool.take(16).unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(pool.allocated.load(Ordering::Relaxed), 3);
        assert_eq!(pool.kept(), 0);
        drop(again);
        assert_eq!(pool.kept(), 2);
    }

    #[test]
    fn the_pool_frees_buffers_of_another_size() {
        let pool = BlockPool::new(16, 2);
        let other = pool.take(32).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(other.blocks.len(), 32);
        drop(other);
        assert_eq!(pool.kept(), 0);
    }

    #[test]
    fn a_kept_buffer_is_zeroized() {
        let pool = BlockPool::new(16, 1);
        let mut memory = pool.take(16).unwrap_or_else(|e| panic!("{e}"));
        for block in memory.blocks() {
            block.as_mut().fill(u64::MAX);
        }
        let address = memory.blocks.as_ptr();
        drop(memory);
        let memory = pool.take(16).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(memory.blocks.as_ptr(), address, "not the kept buffer");
        assert!(
            memory
                .blocks
                .iter()
                .all(|block| block.as_ref().iter().all(|&word| word == 0))
        );
    }

    /// Argon2 writes every block before it reads it, so what a buffer held before does
    /// not change the output (the pool zeroizes anyway, for secrecy, not correctness).
    #[test]
    fn argon2_does_not_read_stale_memory() {
        let params = params(64, 2, 2);
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut fresh = [0u8; 32];
        argon2
            .hash_password_into(PASSWORD.as_bytes(), b"a 16 byte salt!!", &mut fresh)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut stale = vec![Block::new(); params.block_count()];
        for (i, block) in stale.iter_mut().enumerate() {
            block
                .as_mut()
                .fill(0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1));
        }
        let mut out = [0u8; 32];
        argon2
            .hash_password_into_with_memory(
                PASSWORD.as_bytes(),
                b"a 16 byte salt!!",
                &mut out,
                &mut stale,
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out, fresh);
    }

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
