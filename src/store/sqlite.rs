//! The SQLite backend: a pool of connections to `<data_dir>/portico.db` in WAL mode,
//! embedded migrations, private file modes and incremental vacuum. Every call runs on
//! the blocking pool, never on an executor thread.

use std::path::Path;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::TransactionBehavior;
use rusqlite_migration::{Migrations, M};

use super::db::Db;
use super::writer::Writer;
use super::{Durability, StoreError};

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../../migrations/0001_initial.sql")),
        M::up(include_str!("../../migrations/0002_security_review.sql")),
        M::up(include_str!("../../migrations/0003_account_email.sql")),
        M::up(include_str!("../../migrations/0004_live_refresh_index.sql")),
        M::up(include_str!(
            "../../migrations/0005_invitations_and_blocks.sql"
        )),
        M::up(include_str!(
            "../../migrations/0006_upstream_connections.sql"
        )),
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
            tracing::warn!(
                path = %path.display(),
                mode = format!("{:o}", mode & 0o777),
                "the data directory was readable by others; restricting it to its owner (0700)"
            );
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
            tracing::warn!(
                path = %p.display(),
                mode = format!("{:o}", mode & 0o777),
                "the database was readable by others; restricting it to its owner (0600)"
            );
        }
        if let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
            tracing::warn!(path = %p.display(), error = %e, "cannot restrict the database file");
        }
    }
}

/// A pool of connections to one database file for reads (and the command line's
/// writes), and the server's one writer (`writer`): every `write` goes through it.
#[derive(Clone)]
pub struct Sqlite {
    pool: r2d2::Pool<SqliteConnectionManager>,
    pub(super) writer: std::sync::Arc<Writer>,
}

type Pooled = r2d2::PooledConnection<SqliteConnectionManager>;

impl Sqlite {
    /// Create the data directory and the database if needed, and migrate to the latest schema.
    pub fn open(
        data_dir: &Path,
        durability: Durability,
        write_queue: usize,
    ) -> Result<Self, StoreError> {
        private_dir(data_dir)?;
        let path = data_dir.join("portico.db");
        let existed = path.exists();
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        let init = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; \
             PRAGMA busy_timeout = 5000; PRAGMA temp_store = MEMORY; \
             PRAGMA journal_size_limit = 67108864;"
        );
        let writer_init = init.clone();
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
        }
        private_files(data_dir, existed);
        let conn = rusqlite::Connection::open(&path)?;
        conn.execute_batch(&writer_init)?;
        let writer = std::sync::Arc::new(Writer::start(conn, write_queue)?);
        Ok(Self { pool, writer })
    }

    fn conn(&self) -> Result<Pooled, StoreError> {
        Ok(self.pool.get()?)
    }

    /// `f` with a connection, outside any explicit transaction (reads).
    pub fn read<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.conn()?;
        f(&mut Db::sqlite(&conn))
    }

    /// `f` in one write transaction on a pooled connection, committed only if `f`
    /// succeeds: the command line's writes (the server's go through the writer). BEGIN
    /// IMMEDIATE takes the write lock up front, so two writers never deadlock on a
    /// read-to-write upgrade.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&mut Db::sqlite(&tx))?;
        tx.commit()?;
        Ok(out)
    }

    /// `f` in a write transaction that is rolled back: what it would do, undone.
    pub fn rehearse<T>(
        &self,
        f: impl FnOnce(&mut Db<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&mut Db::sqlite(&tx))?;
        tx.rollback()?;
        Ok(out)
    }

    /// Return the pages freed by purges to the file system, and the write-ahead log to
    /// its bounded size (a flood of writes can grow it past `journal_size_limit` while
    /// readers hold old snapshots; a TRUNCATE checkpoint brings it back).
    pub fn reclaim_space(&self) -> Result<(), StoreError> {
        let conn = self.conn()?;
        for pragma in [
            "PRAGMA incremental_vacuum",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ] {
            let mut stmt = conn.prepare(pragma)?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
        }
        Ok(())
    }
}

/// Freed pages go back to the file system (review H1: after a flood of anonymous login
/// transactions the file shrank back only with this). A database made before this mode
/// is converted once, by a VACUUM.
fn incremental_auto_vacuum(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode != 2 {
        tracing::info!("switching the database to incremental auto-vacuum (one VACUUM)");
        conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
    }
    Ok(())
}
