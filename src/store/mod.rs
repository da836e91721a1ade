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
    Migrations::new(vec![
        M::up(include_str!("../../migrations/0001_initial.sql")),
        M::up(include_str!("../../migrations/0002_security_review.sql")),
    ])
}

/// The data directory holds the signing keys and password hashes: owner only (review M7).
/// A directory or file others can read is tightened, with a warning.
fn private_dir(path: &Path) -> Result<(), StoreError> {
    let err = |source| StoreError::DataDir {
        path: path.display().to_string(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !path.exists() {
            return std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(path)
                .map_err(err);
        }
        let mode = std::fs::metadata(path).map_err(err)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "the data directory was readable by others; restricting it to its owner (0700)");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(path).map_err(err)
}

/// The database and its WAL files: owner only. `warn` when the files existed before (an
/// upgrade from a version that left them 0644); new files are tightened silently.
fn private_files(data_dir: &Path, warn: bool) {
    #[cfg(unix)]
    for name in ["portico.db", "portico.db-wal", "portico.db-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let p = data_dir.join(name);
        let Ok(meta) = std::fs::metadata(&p) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 == 0 {
            continue;
        }
        if warn {
            tracing::warn!(path = %p.display(), mode = format!("{:o}", mode & 0o777), "the database was readable by others; restricting it to its owner (0600)");
        }
        if let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(path = %p.display(), error = %e, "cannot restrict the database file");
        }
    }
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
        private_dir(data_dir)?;
        let path = data_dir.join("portico.db");
        let existed = path.exists();
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
            incremental_auto_vacuum(&conn)?;
            migrations().to_latest(&mut conn)?;
            users::backfill_email_keys(&mut conn)?;
        }
        private_files(data_dir, existed);
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

/// Freed pages go back to the file system (review H1: after a flood of anonymous login
/// transactions the file shrank back only with this). A database made before this mode
/// is converted once, by a VACUUM.
fn incremental_auto_vacuum(conn: &Conn) -> Result<(), StoreError> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode != 2 {
        tracing::info!("switching the database to incremental auto-vacuum (one VACUUM)");
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
    }
    Ok(())
}

/// Return the pages freed by purges to the file system.
pub fn reclaim_space(conn: &Conn) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("PRAGMA incremental_vacuum")?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}

/// Delete what has expired: codes, transactions, sessions, refresh families, revoked
/// jtis, and audit events older than the retention.
pub fn purge_expired(conn: &Conn, now: i64, audit_retention: i64) -> Result<usize, StoreError> {
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
    n += conn.execute(
        "DELETE FROM audit_events WHERE at < ?1",
        [now.saturating_sub(audit_retention)],
    )?;
    Ok(n)
}
