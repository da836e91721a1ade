//! SQLite's one writer: every write transaction goes through one thread and one
//! connection, fed by a bounded queue. It takes every write waiting, runs each in its own
//! savepoint inside one transaction (a failing one rolls back alone), commits once — one
//! fsync with `synchronous = FULL` — and only then answers each caller. No writer ever
//! waits in SQLite's busy handler; a full queue answers at once (`StoreError::Busy`).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use super::db::Db;
use super::StoreError;

/// Writes taken into one transaction at most (a bound on how long the first one waits).
const MAX_BATCH: usize = 256;

/// What the writer needs of a queued write, whatever it returns.
trait Job: Send {
    /// Run inside the batch's transaction; false if it failed (its savepoint is undone).
    fn run(&mut self, db: &mut Db<'_>) -> bool;
    /// The batch is committed (or not): answer the caller.
    fn answer(self: Box<Self>, committed: Result<u64, String>);
}

struct Write<T, F> {
    f: Option<F>,
    out: Option<Result<T, StoreError>>,
    reply: Reply<T>,
}

enum Reply<T> {
    Async(tokio::sync::oneshot::Sender<Result<T, StoreError>>),
    Blocking(std::sync::mpsc::SyncSender<Result<T, StoreError>>),
}

impl<T: Send, F: FnOnce(&mut Db<'_>) -> Result<T, StoreError> + Send> Job for Write<T, F> {
    fn run(&mut self, db: &mut Db<'_>) -> bool {
        let Some(f) = self.f.take() else { return false };
        let out = catch_unwind(AssertUnwindSafe(|| f(db)))
            .unwrap_or_else(|_| Err(StoreError::Join("a write panicked".into())));
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn answer(self: Box<Self>, committed: Result<u64, String>) {
        let result = match (committed, self.out) {
            (_, None) => Err(StoreError::Commit("the write never ran".into())),
            (Ok(_), Some(out)) => out,
            (Err(_), Some(Err(own))) => Err(own),
            (Err(e), Some(Ok(_))) => Err(StoreError::Commit(e)),
        };
        match self.reply {
            Reply::Async(tx) => {
                let _ = tx.send(result);
            }
            Reply::Blocking(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

/// What the writer has done: `/metrics` reads these.
pub struct WriterStats {
    /// Writes waiting in the queue now.
    pub queued: AtomicU64,
    pub batches: AtomicU64,
    pub writes: AtomicU64,
    /// The number of the last committed batch (a write is answered after its batch's).
    pub committed: AtomicU64,
    /// Sizes and commit latencies, for the histograms.
    pub batch_sizes: prometheus::Histogram,
    pub commit_seconds: prometheus::Histogram,
}

impl WriterStats {
    fn new() -> Self {
        let sizes = prometheus::HistogramOpts::new(
            "portico_sqlite_write_batch_size",
            "Writes per SQLite commit (group commit).",
        )
        .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]);
        let commit = prometheus::HistogramOpts::new(
            "portico_sqlite_commit_seconds",
            "Time to run and commit one batch of writes.",
        )
        .buckets(vec![
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
        ]);
        Self {
            queued: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            committed: AtomicU64::new(0),
            batch_sizes: prometheus::Histogram::with_opts(sizes).expect("valid histogram"),
            commit_seconds: prometheus::Histogram::with_opts(commit).expect("valid histogram"),
        }
    }
}

/// The handle every clone of the store shares; the thread ends when the last one drops.
pub struct Writer {
    queue: SyncSender<Box<dyn Job>>,
    pub stats: Arc<WriterStats>,
}

impl Writer {
    /// Start the writer thread on `conn` with room for `capacity` waiting writes.
    pub fn start(conn: rusqlite::Connection, capacity: usize) -> Result<Self, StoreError> {
        let (queue, rx) = sync_channel::<Box<dyn Job>>(capacity.max(1));
        let stats = Arc::new(WriterStats::new());
        let s = stats.clone();
        std::thread::Builder::new()
            .name("portico-sqlite-writer".into())
            .spawn(move || run(conn, rx, &s))
            .map_err(|e| StoreError::Join(format!("cannot start the writer thread: {e}")))?;
        Ok(Self { queue, stats })
    }

    fn submit(&self, job: Box<dyn Job>) -> Result<(), StoreError> {
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        match self.queue.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                Err(StoreError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                Err(StoreError::Join("the writer thread is gone".into()))
            }
        }
    }

    /// Queue `f` and wait for its commit without blocking an executor thread.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(Box::new(Write {
            f: Some(f),
            out: None,
            reply: Reply::Async(tx),
        }))?;
        rx.await
            .map_err(|_| StoreError::Join("the writer dropped a write".into()))?
    }

    /// Queue `f` and block this (non-executor) thread until its commit.
    pub fn write_now<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Db<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(Box::new(Write {
            f: Some(f),
            out: None,
            reply: Reply::Blocking(tx),
        }))?;
        rx.recv()
            .map_err(|_| StoreError::Join("the writer dropped a write".into()))?
    }
}

/// The writer thread: a batch at a time until every handle is gone.
fn run(conn: rusqlite::Connection, rx: Receiver<Box<dyn Job>>, stats: &WriterStats) {
    let mut seq = 0u64;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        stats
            .queued
            .fetch_sub(batch.len() as u64, Ordering::Relaxed);
        let started = Instant::now();
        seq += 1;
        let committed = commit_batch(&conn, &mut batch).map(|()| seq);
        if committed.is_ok() {
            stats.committed.store(seq, Ordering::Release);
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats
            .writes
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        stats.batch_sizes.observe(batch.len() as f64);
        stats
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        // Only now, with the batch durable, does any caller learn its outcome.
        let committed = committed.map_err(|e| e.to_string());
        for job in batch {
            job.answer(committed.clone());
        }
    }
}

/// One transaction: each write in a savepoint of its own, then one commit.
fn commit_batch(conn: &rusqlite::Connection, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        let step = (|| -> Result<(), StoreError> {
            conn.execute_batch("SAVEPOINT w")?;
            let ok = job.run(&mut Db::sqlite(conn));
            if !ok {
                conn.execute_batch("ROLLBACK TO w")?;
            }
            conn.execute_batch("RELEASE w")?;
            Ok(())
        })();
        if let Err(e) = step {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    if let Err(e) = conn.execute_batch("COMMIT") {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e.into());
    }
    Ok(())
}
