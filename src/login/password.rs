//! Password hashing with argon2id on the blocking pool, with bounded concurrency and a
//! bounded wait queue: past it a login gets a fast 503 instead of a collapsing server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::domain::Password;

/// OWASP's argon2id floor: m = 19 MiB, t = 2, p = 1.
pub fn params() -> Params {
    Params::new(19_456, 2, 1, None).unwrap_or_default()
}

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
}

/// Hash synchronously (the command line, and inside the pool).
pub fn hash_now(password: &str) -> Result<String, String> {
    argon2()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Verify synchronously; an unparsable stored hash simply does not match.
pub fn verify_now(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => argon2().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
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
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, &mut memory[..blocks])
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

#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    inflight: Arc<AtomicUsize>,
    concurrency: usize,
    queue: usize,
    /// A real hash of a random password: unknown e-mails are verified against it so they
    /// cost the same time as known ones (no enumeration by timing).
    dummy: Arc<String>,
    /// Argon2 memory for verification, at most `concurrency` buffers, reused.
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Decrements the in-flight count even if the future is dropped.
struct Inflight<'a>(&'a AtomicUsize);
impl Drop for Inflight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Hasher {
    pub fn new(concurrency: usize, queue: usize) -> Self {
        let dummy = hash_now(&crate::crypto::random_token()).unwrap_or_default();
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            inflight: Arc::new(AtomicUsize::new(0)),
            concurrency: concurrency.max(1),
            queue,
            dummy: Arc::new(dummy),
            memory: Arc::new(Mutex::new(Vec::new())),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        // Admission: `concurrency` hashes run, at most `queue` more wait; the rest are refused.
        if self.inflight.fetch_add(1, Ordering::AcqRel) >= self.concurrency + self.queue {
            self.inflight.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        let _inflight = Inflight(&self.inflight);
        let _permit = self.permits.acquire().await.map_err(|_| Busy)?;
        tokio::task::spawn_blocking(f).await.map_err(|_| Busy)
    }

    pub async fn hash(&self, password: &Password) -> Result<Result<String, String>, Busy> {
        let p = password.clone();
        let pool = self.memory.clone();
        self.run(move || {
            let mut memory = lock(&pool).pop().unwrap_or_default();
            let out = hash_with_memory(p.expose(), &mut memory);
            lock(&pool).push(memory);
            out
        })
        .await
    }

    /// Verify against `stored`, or against the dummy hash when there is no user.
    pub async fn verify(&self, password: &Password, stored: Option<String>) -> Result<bool, Busy> {
        let p = password.clone();
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy.as_ref().clone());
        let pool = self.memory.clone();
        let ok = self
            .run(move || {
                let mut memory = lock(&pool).pop().unwrap_or_default();
                let ok = verify_with_memory(p.expose(), &hash, &mut memory);
                lock(&pool).push(memory);
                ok
            })
            .await?;
        Ok(ok && known)
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
}
