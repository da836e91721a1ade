//! Password hashing with argon2id on the blocking pool, with bounded concurrency and a
//! bounded wait queue: past it a login gets a fast 503 instead of a collapsing server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};
use tokio::sync::Semaphore;

use crate::domain::{normalize_password, Password};

/// OWASP's argon2id floor: m = 19 MiB, t = 2, p = 1.
pub fn params() -> Params {
    Params::new(19_456, 2, 1, None).unwrap_or_default()
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Hash synchronously (the command line, and inside the pool). The password is
/// NFKC-normalised first (NIST SP 800-63B 5.1.1.2).
pub fn hash_now(password: &str) -> Result<String, String> {
    argon2()
        .hash_password(normalize_password(password).as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Verify synchronously; an unparsable stored hash simply does not match.
pub fn verify_now(password: &str, stored: &str) -> bool {
    let mut memory = Vec::new();
    verify_forms(password, stored, &mut memory).matched
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verification {
    pub matched: bool,
    /// Matched, but the hash should be replaced: older parameters, or a hash of the
    /// password as typed from before passwords were normalised.
    pub rehash: bool,
}

/// Check the NFKC form first; hashes made before normalisation hold the password as
/// typed, which differs only for some non-ASCII passwords, so only those pay a second
/// hash, once: a match in the old form asks for a rehash in the new one.
fn verify_forms(password: &str, stored: &str, memory: &mut Vec<Block>) -> Verification {
    let normal = normalize_password(password);
    if verify_with_memory(&normal, stored, memory) {
        return Verification {
            matched: true,
            rehash: needs_rehash(stored),
        };
    }
    let legacy = normal != password && verify_with_memory(password, stored, memory);
    Verification {
        matched: legacy,
        rehash: legacy,
    }
}

/// `verify_now` computed in caller-provided argon2 memory, reused from one login to the
/// next. Allocating 19 MiB per hash on whichever blocking thread runs it made glibc keep
/// a copy in every thread's arena (1.2 GB RSS under the login benchmark) and cost page
/// faults on every hash. Same algorithm, version, parameters and salt as the stored hash,
/// and a constant-time comparison, exactly as `PasswordVerifier` does.
pub fn verify_with_memory(password: &str, stored: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(h) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&h.salt, &h.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(h.algorithm.as_str()) else {
        return false;
    };
    let Ok(version) = h.version.map(Version::try_from).transpose() else {
        return false;
    };
    let Ok(params) = Params::try_from(&h) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut buf = [0u8; Output::MAX_LENGTH];
    let Some(out) = buf.get_mut(..expected.len()) else {
        return false;
    };
    Argon2::new(algorithm, version.unwrap_or_default(), params)
        .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
        .is_ok()
        && crate::crypto::ct_eq(out, expected.as_bytes())
}

/// `hash_now` computed in caller-provided memory (see `verify_with_memory`): a fresh
/// 16-byte salt, argon2id with `params()`, encoded as the same PHC string.
pub fn hash_with_memory(password: &str, memory: &mut Vec<Block>) -> Result<String, String> {
    use argon2::password_hash::phc::{Ident, ParamsString, Salt};
    use rand::RngExt;
    let params = params();
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let salt: [u8; 16] = rand::rng().random();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2()
        .hash_password_into_with_memory(
            normalize_password(password).as_bytes(),
            &salt,
            &mut out,
            &mut memory[..blocks],
        )
        .map_err(|e| e.to_string())?;
    let phc = PasswordHash {
        algorithm: Ident::new("argon2id").map_err(|e| e.to_string())?,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(&salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// True when the stored hash was made with other (older) parameters: rehash on login.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(h) = PasswordHash::new(stored) else {
        return true;
    };
    if h.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(&h) {
        Ok(p) => {
            let want = params();
            p.m_cost() < want.m_cost() || p.t_cost() < want.t_cost() || p.p_cost() != want.p_cost()
        }
        Err(_) => true,
    }
}

/// The hashing pool is full: answer 503 with Retry-After.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("password hashing is saturated")]
pub struct Busy;

/// Who asks for a hash. Sign-ups get a fixed share of the queue, so a flood of them
/// (anonymous, unlike logins to existing accounts) never leaves logins only 503s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Login,
    Signup,
}

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    inflight: Arc<AtomicUsize>,
    signups: Arc<AtomicUsize>,
    concurrency: usize,
    queue: usize,
    /// A real hash of a random password: unknown e-mails are verified against it so they
    /// cost the same time as known ones (no enumeration by timing).
    dummy: Arc<String>,
    /// Argon2 memory, at most `concurrency` buffers, reused.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A place in the hashing queue, taken before anything is charged to an account or an
/// address: a login that gets no place is answered 503 and counts as nothing.
pub struct Ticket {
    hasher: Hasher,
    lane: Lane,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.hasher.inflight.fetch_sub(1, Ordering::AcqRel);
        if self.lane == Lane::Signup {
            self.hasher.signups.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Hasher {
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let dummy = hash_now(&crate::crypto::random_token()).unwrap_or_default();
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            inflight: Arc::new(AtomicUsize::new(0)),
            signups: Arc::new(AtomicUsize::new(0)),
            concurrency: concurrency.max(1),
            queue,
            dummy: Arc::new(dummy),
            memory: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The most sign-ups hashing or waiting at once: a quarter of the pool and queue.
    fn signup_share(&self) -> usize {
        ((self.concurrency + self.queue) / 4).max(1)
    }

    /// Admission: `concurrency` hashes run, at most `queue` more wait (sign-ups at most
    /// their share of both); the rest are refused at once.
    pub fn admit(&self, lane: Lane) -> Result<Ticket, Busy> {
        if lane == Lane::Signup
            && self.signups.fetch_add(1, Ordering::AcqRel) >= self.signup_share()
        {
            self.signups.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        if self.inflight.fetch_add(1, Ordering::AcqRel) >= self.concurrency + self.queue {
            self.inflight.fetch_sub(1, Ordering::AcqRel);
            if lane == Lane::Signup {
                self.signups.fetch_sub(1, Ordering::AcqRel);
            }
            return Err(Busy);
        }
        Ok(Ticket {
            hasher: self.clone(),
            lane,
        })
    }

    /// Admit a login and hash (convenience for callers with nothing to charge first).
    pub async fn hash(&self, password: &Password) -> Result<Result<String, String>, Busy> {
        self.admit(Lane::Login)?.hash(password).await
    }

    /// Admit a login and verify (see `Ticket::verify`).
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<String>,
    ) -> Result<Verification, Busy> {
        self.admit(Lane::Login)?.verify(password, stored).await
    }
}

impl Ticket {
    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let _permit = self.hasher.permits.acquire().await.map_err(|_| Busy)?;
        let pool = self.hasher.memory.clone();
        tokio::task::spawn_blocking(move || {
            let mut memory = lock(&pool).pop().unwrap_or_default();
            let out = f(&mut memory);
            lock(&pool).push(memory);
            out
        })
        .await
        .map_err(|_| Busy)
    }

    pub async fn hash(self, password: &Password) -> Result<Result<String, String>, Busy> {
        let p = password.clone();
        self.run(move |memory| hash_with_memory(p.expose(), memory))
            .await
    }

    /// Verify against `stored`, or against the dummy hash when there is no user (same
    /// cost, never a match).
    pub async fn verify(
        self,
        password: &Password,
        stored: Option<String>,
    ) -> Result<Verification, Busy> {
        let p = password.clone();
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.hasher.dummy.as_ref().clone());
        let v = self
            .run(move |memory| verify_forms(p.expose(), &hash, memory))
            .await?;
        Ok(if known {
            v
        } else {
            Verification {
                matched: false,
                rehash: false,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = hash_now("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_now("correct horse battery", &h));
        assert!(!verify_now("wrong", &h));
        assert!(!needs_rehash(&h));
    }

    #[test]
    fn hashing_in_reused_memory_gives_standard_phc_strings() {
        let mut memory = Vec::new();
        let a = hash_with_memory("correct horse battery", &mut memory).unwrap();
        let b = hash_with_memory("correct horse battery", &mut memory).unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b, "fresh salt each time");
        assert!(verify_now("correct horse battery", &a) && verify_now("correct horse battery", &b));
        assert!(!verify_now("wrong", &a));
        assert!(!needs_rehash(&a));
    }

    #[test]
    fn weaker_hashes_are_upgraded() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw")
        .unwrap()
        .to_string();
        assert!(needs_rehash(&weak));
        assert!(verify_now("pw", &weak));
    }

    #[test]
    fn verification_in_reused_memory_matches_the_crate() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8192, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw")
        .unwrap()
        .to_string();
        let strong = hash_now("correct horse battery").unwrap();
        // One buffer, dirtied by each hash before the next: smaller, larger, smaller.
        let mut memory = Vec::new();
        for _ in 0..2 {
            assert!(verify_with_memory("pw", &weak, &mut memory));
            assert!(!verify_with_memory("pW", &weak, &mut memory));
            assert!(verify_with_memory(
                "correct horse battery",
                &strong,
                &mut memory
            ));
            assert!(!verify_with_memory(
                "correct horse batterY",
                &strong,
                &mut memory
            ));
        }
        assert!(!verify_with_memory("pw", "not a hash", &mut memory));
        assert!(!verify_with_memory(
            "pw",
            "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHQ",
            &mut memory
        ));
    }

    #[test]
    fn passwords_are_hashed_normalised_and_legacy_hashes_upgrade_once() {
        let typed = "\u{ff50}\u{ff41}\u{ff53}\u{ff53}-horse-battery";
        let legacy = argon2()
            .hash_password(typed.as_bytes())
            .unwrap()
            .to_string();
        let mut memory = Vec::new();
        let v = verify_forms(typed, &legacy, &mut memory);
        assert_eq!(
            v,
            Verification {
                matched: true,
                rehash: true
            }
        );
        assert!(!verify_forms("wrong", &legacy, &mut memory).matched);

        let new = hash_now(typed).unwrap();
        let v = verify_forms(typed, &new, &mut memory);
        assert_eq!(
            v,
            Verification {
                matched: true,
                rehash: false
            }
        );
        // Typed on another keyboard, the same password.
        assert!(verify_forms("pass-horse-battery", &new, &mut memory).matched);
    }

    #[test]
    fn sign_ups_get_a_quarter_of_the_queue_and_logins_the_rest() {
        let h = Hasher::new(1, 7);
        let s1 = h.admit(Lane::Signup).unwrap();
        let _s2 = h.admit(Lane::Signup).unwrap();
        assert!(h.admit(Lane::Signup).is_err(), "share of 2 used up");
        let logins: Vec<_> = (0..6).map(|_| h.admit(Lane::Login).unwrap()).collect();
        assert!(h.admit(Lane::Login).is_err(), "8 in all");
        drop(s1);
        assert!(h.admit(Lane::Signup).is_ok(), "a place came back");
        drop(logins);
    }
}
