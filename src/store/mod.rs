//! The SQLite store: pool, migrations, and one module per table. Nothing outside this
//! folder names rusqlite. Every call from a request runs on the blocking pool via `run`.
//!
//! Durability: WAL with `synchronous = NORMAL` by default. A commit is durable against a
//! crash or kill of the process (the WAL is written before the response), and the database
//! is never corrupted; only an OS crash or power loss may lose the last few commits, which
//! for an authorization server means a user signs in again. `[store] synchronous = "full"`
//! fsyncs every commit for deployments that want power-loss durability too.

pub mod audit;
pub mod codes;
pub mod keys;
pub mod refresh;
pub mod sessions;
pub mod throttle;
pub mod transactions;
pub mod users;

use std::path::Path;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, TransactionBehavior};
use rusqlite_migration::{Migrations, M};

pub type Conn = Connection;

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

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(include_str!(
        "../../migrations/0001_initial.sql"
    ))])
}

/// How hard SQLite syncs each commit to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    Normal,
    Full,
}

/// A pool of connections to `<data_dir>/portico.db`.
#[derive(Clone)]
pub struct Store {
    pool: r2d2::Pool<SqliteConnectionManager>,
}

impl Store {
    /// Create the data directory and the database if needed, and migrate to the latest schema.
    pub fn open(data_dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join("portico.db");
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        let init = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY;"
        );
        let manager =
            SqliteConnectionManager::file(&path).with_init(move |c| c.execute_batch(&init));
        let pool = r2d2::Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .build(manager)?;
        {
            let mut conn = pool.get()?;
            migrations().to_latest(&mut conn)?;
        }
        Ok(Self { pool })
    }

    /// A connection for synchronous callers (the command line, the blocking pool).
    pub fn conn(&self) -> Result<r2d2::PooledConnection<SqliteConnectionManager>, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Run `f` with a connection on the blocking pool, never on an executor thread.
    pub async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// `run` inside one write transaction (BEGIN IMMEDIATE: takes the write lock up front,
    /// so two writers never deadlock on a read-to-write upgrade).
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.run(move |conn| write_tx(conn, f)).await
    }

    pub async fn ping(&self) -> bool {
        self.run(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .is_ok()
    }
}

/// One write transaction on a connection: committed only if `f` succeeds.
pub fn write_tx<T>(
    conn: &mut Conn,
    f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let out = f(&tx)?;
    tx.commit()?;
    Ok(out)
}

/// Delete what has expired: codes, transactions, sessions, refresh families, revoked jtis.
pub fn purge_expired(conn: &Conn, now: i64) -> Result<usize, StoreError> {
    let mut n = 0;
    n += conn.execute(
        "DELETE FROM authorization_codes WHERE expires_at < ?1",
        [now],
    )?;
    n += conn.execute(
        "DELETE FROM login_transactions WHERE expires_at < ?1",
        [now],
    )?;
    n += conn.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
    n += conn.execute("DELETE FROM refresh_tokens WHERE expires_at < ?1", [now])?;
    n += conn.execute(
        "DELETE FROM revoked_access_tokens WHERE expires_at < ?1",
        [now],
    )?;
    n += conn.execute(
        "DELETE FROM login_failures WHERE (locked_until IS NULL OR locked_until < ?1) AND window_start < ?1 - 86400",
        [now],
    )?;
    Ok(n)
}
