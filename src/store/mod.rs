//! The store: one module per table, written once against `db::Db`, over the SQLite
//! backend (`sqlite`). Nothing outside this folder names a database driver; callers hand
//! a closure to `read` or `write` and it runs on the blocking pool.
//!
//! Durability: WAL with `synchronous = NORMAL` by default. A commit is durable against a
//! crash or kill of the process (the WAL is written before the response), and the database
//! is never corrupted; only an OS crash or power loss may lose the last few commits, which
//! for an authorization server means a user signs in again. `[store] synchronous = "full"`
//! fsyncs every commit for deployments that want power-loss durability too.

pub mod audit;
pub mod codes;
pub mod db;
pub mod keys;
pub mod refresh;
pub mod sessions;
mod sqlite;
pub mod throttle;
pub mod transactions;
pub mod users;

use std::path::Path;

use db::args;
pub use db::Db;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database pool error: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("blocking task failed: {0}")]
    Join(String),
}

impl StoreError {
    /// A unique or foreign-key constraint refused the write (e.g. a taken e-mail).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Sqlite(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation)
    }
}

/// How hard SQLite syncs each commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Normal,
    Full,
}

/// The database behind Portico.
#[derive(Clone)]
pub struct Store {
    backend: sqlite::Sqlite,
}

impl Store {
    /// Create the data directory and the database if needed, and migrate to the latest
    /// schema (every command does this, so `users create` works before the first `serve`).
    pub fn open(data_dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        let backend = sqlite::Sqlite::open(data_dir, durability)?;
        let store = Self { backend };
        store.write_now(users::backfill_email_keys)?;
        Ok(store)
    }

    /// `read` on the calling thread (the command line, start-up, the blocking pool).
    pub fn read_now<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.read(f)
    }

    /// `write` on the calling thread.
    pub fn write_now<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.backend.write(f)
    }

    /// Read on the blocking pool, never on an executor thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || backend.read(f))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// One write transaction on the blocking pool: committed only if `f` succeeds.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || backend.write(f))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// `f` in a write transaction that is rolled back (what a purge would delete, say).
    pub async fn rehearse<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || backend.rehearse(f))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
    }

    pub async fn ping(&self) -> bool {
        self.read(|db| db.scalar("SELECT 1", &[])).await.is_ok()
    }

    /// Return the pages freed by purges to the file system.
    pub async fn reclaim_space(&self) -> Result<(), StoreError> {
        let backend = self.backend.clone();
        tokio::task::spawn_blocking(move || backend.reclaim_space())
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
    }
}

/// Delete what has expired: codes, transactions, sessions, refresh families, revoked
/// jtis, and audit events older than the retention.
pub fn purge_expired(db: &mut Db<'_>, now: i64, audit_retention: i64) -> Result<usize, StoreError> {
    let mut n = 0;
    for sql in [
        "DELETE FROM authorization_codes WHERE expires_at < $1",
        "DELETE FROM login_transactions WHERE expires_at < $1",
        "DELETE FROM sessions WHERE expires_at < $1",
        "DELETE FROM refresh_tokens WHERE expires_at < $1",
        "DELETE FROM revoked_access_tokens WHERE expires_at < $1",
        "DELETE FROM login_failures WHERE (locked_until IS NULL OR locked_until < $1) AND window_start < $1 - 86400",
    ] {
        n += db.execute(sql, args![now])?;
    }
    n += db.execute(
        "DELETE FROM audit_events WHERE at < $1",
        args![now.saturating_sub(audit_retention)],
    )?;
    Ok(n)
}
