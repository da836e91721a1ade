//! The store: one module per table, written once against `db::Db`, over SQLite (the
//! embedded default, `sqlite`) or PostgreSQL (`[store] url`, `postgres`: many replicas,
//! one database). Nothing outside this folder names a database driver; callers hand a
//! closure to `read` or `write` and it runs on the blocking pool.
//!
//! Durability: WAL with `synchronous = NORMAL` by default. A commit is durable against a
//! crash or kill of the process (the WAL is written before the response), and the database
//! is never corrupted; only an OS crash or power loss may lose the last few commits, which
//! for an authorization server means a user signs in again. `[store] synchronous = "full"`
//! fsyncs every commit for deployments that want power-loss durability too.

pub mod audit;
pub mod codes;
pub mod copy;
pub mod db;
pub mod email_tokens;
pub mod invitations;
pub mod keys;
pub mod mail_jobs;
mod postgres;
pub mod refresh;
pub mod sessions;
mod sqlite;
pub mod throttle;
pub mod transactions;
pub mod upstream_flows;
pub mod users;
pub mod writer;

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
    #[error("database error: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[error("{0}")]
    Config(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("blocking task failed: {0}")]
    Join(String),
    /// A precondition failed inside a transaction: everything it wrote is rolled back.
    #[error("abandoned: {0}")]
    Aborted(&'static str),
    /// The write queue is full: answer "busy, retry" at once (HTTP 503).
    #[error("the store is busy; retry in a moment")]
    Busy,
    /// The batch this write was part of could not be committed.
    #[error("the commit failed: {0}")]
    Commit(String),
}

impl StoreError {
    /// A unique or foreign-key constraint refused the write (e.g. a taken e-mail).
    pub fn is_conflict(&self) -> bool {
        match self {
            Self::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => {
                e.code == rusqlite::ErrorCode::ConstraintViolation
            }
            Self::Postgres(e) => e.code().is_some_and(|c| {
                *c == ::postgres::error::SqlState::UNIQUE_VIOLATION
                    || *c == ::postgres::error::SqlState::FOREIGN_KEY_VIOLATION
            }),
            _ => false,
        }
    }
}

/// How hard SQLite syncs each commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Normal,
    Full,
}

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum Location {
    /// `<data_dir>/portico.db`.
    Sqlite {
        data_dir: std::path::PathBuf,
        durability: Durability,
        /// Writes allowed to wait for the writer; beyond, `StoreError::Busy`.
        write_queue: usize,
    },
    /// A PostgreSQL URL (`postgres://...`).
    Postgres { url: String },
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// The database behind Portico.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

impl Store {
    /// Create the database if needed and migrate to the latest schema (every command
    /// does this, so `users create` works before the first `serve`).
    pub fn open(location: &Location) -> Result<Self, StoreError> {
        let backend = match location {
            Location::Sqlite {
                data_dir,
                durability,
                write_queue,
            } => Backend::Sqlite(sqlite::Sqlite::open(data_dir, *durability, *write_queue)?),
            Location::Postgres { url } => Backend::Postgres(postgres::Postgres::open(url)?),
        };
        let store = Self { backend };
        store.write_now(users::backfill_email_keys)?;
        Ok(store)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// `read` on the calling thread (the command line, start-up, the blocking pool).
    pub fn read_now<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.read(f),
            Backend::Postgres(b) => b.read(f),
        }
    }

    /// `write` on the calling thread.
    pub fn write_now<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.write(f),
            Backend::Postgres(b) => b.write(f),
        }
    }

    /// `f` in a write transaction that is rolled back, on the calling thread.
    pub fn rehearse_now<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.rehearse(f),
            Backend::Postgres(b) => b.rehearse(f),
        }
    }

    /// Run `f(store)` on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// Read on the blocking pool, never on an executor thread.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.blocking(move |s| s.read_now(f)).await
    }

    /// One write transaction, committed only if `f` succeeds, and answered only once it
    /// is durable. SQLite: through the one writer (group commit; `Busy` when its queue is
    /// full); PostgreSQL: its own transaction on the blocking pool.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        match &self.backend {
            Backend::Sqlite(b) => b.writer.write(f).await,
            Backend::Postgres(_) => self.blocking(move |s| s.write_now(f)).await,
        }
    }

    /// The SQLite writer's counters (queue, batches, commits); none on PostgreSQL.
    pub fn writer_stats(&self) -> Option<std::sync::Arc<writer::WriterStats>> {
        match &self.backend {
            Backend::Sqlite(b) => Some(b.writer.stats.clone()),
            Backend::Postgres(_) => None,
        }
    }

    /// `f` in a write transaction that is rolled back (what a purge would delete, say).
    pub async fn rehearse<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.blocking(move |s| s.rehearse_now(f)).await
    }

    pub async fn ping(&self) -> bool {
        self.read(|db| db.scalar("SELECT 1", &[])).await.is_ok()
    }

    /// Return the pages freed by purges to the file system (SQLite; PostgreSQL's
    /// autovacuum does this on its own).
    pub async fn reclaim_space(&self) -> Result<(), StoreError> {
        self.blocking(|s| match &s.backend {
            Backend::Sqlite(b) => b.reclaim_space(),
            Backend::Postgres(_) => Ok(()),
        })
        .await
    }
}

/// Delete what has expired: codes, transactions, sessions, refresh families, revoked
/// jtis, e-mail links, finished mail jobs, and audit events older than the retention.
pub fn purge_expired(db: &mut Db<'_>, now: i64, audit_retention: i64) -> Result<usize, StoreError> {
    let mut n = 0;
    for sql in [
        "DELETE FROM authorization_codes WHERE expires_at < $1",
        "DELETE FROM login_transactions WHERE expires_at < $1",
        "DELETE FROM sessions WHERE expires_at < $1",
        "DELETE FROM refresh_tokens WHERE expires_at < $1",
        "DELETE FROM revoked_access_tokens WHERE expires_at < $1",
        "DELETE FROM upstream_flows WHERE expires_at < $1",
    ] {
        n += db.execute(sql, args![now])?;
    }
    n += db.execute(
        "DELETE FROM login_failures WHERE (locked_until IS NULL OR locked_until < $1) AND window_start < $2",
        args![now, now - 86_400],
    )?;
    // Used or expired links go a day after expiry; finished mail jobs after a week.
    n += db.execute(
        "DELETE FROM email_tokens WHERE expires_at < $1",
        args![now - 86_400],
    )?;
    n += db.execute(
        "DELETE FROM mail_jobs WHERE state <> 'pending' AND done_at < $1",
        args![now - 7 * 86_400],
    )?;
    n += db.execute(
        "DELETE FROM audit_events WHERE at < $1",
        args![now.saturating_sub(audit_retention)],
    )?;
    Ok(n)
}
