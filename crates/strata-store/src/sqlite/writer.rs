//! The single writer thread: group commit of every write.
//!
//! SQLite allows one writer at a time, and a durable commit costs an fsync. So all writes
//! (telemetry and registry changes alike) are jobs sent to one thread, which drains whatever
//! has queued, runs it in one transaction, commits once, and only then tells each caller the
//! outcome. Under load, many requests share each fsync; idle, a lone write commits at once.

use std::collections::HashMap;
use std::time::Instant;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::telemetry::LatestUpdate;
use crate::StoreError;

/// Called after the commit with its error, if it failed.
pub(crate) type Completion = Box<dyn FnOnce(Option<&str>) + Send>;

/// Work for the writer: runs inside the batch transaction.
pub(crate) struct Job {
    /// Rows this job writes, for sizing batches.
    pub(crate) rows: usize,
    /// Runs the job; what it returns is called once the commit outcome is known.
    pub(crate) run: Box<dyn FnOnce(&mut WriteCtx<'_>) -> Completion + Send>,
}

/// What a job sees: the open transaction and writer-local caches.
pub(crate) struct WriteCtx<'a> {
    pub(crate) conn: &'a Connection,
    /// Telemetry key name -> id.
    pub(crate) key_ids: &'a mut HashMap<String, i64>,
    /// Key names inserted in this transaction (forgotten again if it fails).
    pub(crate) new_keys: Vec<String>,
    /// Newest point per (device, key) in this batch, upserted before the commit.
    pub(crate) latest: HashMap<(i64, i64), LatestUpdate>,
}

impl WriteCtx<'_> {
    /// Runs `f` in a savepoint, so its failure leaves the rest of the batch intact.
    pub(crate) fn isolated<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn.execute_batch("SAVEPOINT job")?;
        let keys_before = self.new_keys.len();
        match f(self) {
            Ok(v) => {
                self.conn.execute_batch("RELEASE job")?;
                Ok(v)
            }
            Err(e) => {
                self.conn.execute_batch("ROLLBACK TO job; RELEASE job")?;
                for key in self.new_keys.drain(keys_before..) {
                    self.key_ids.remove(&key);
                }
                Err(e)
            }
        }
    }
}

/// Handle for sending jobs to the writer thread.
#[derive(Clone)]
pub(crate) struct WriterHandle {
    sender: mpsc::Sender<Job>,
}

impl WriterHandle {
    /// Starts the writer thread on `conn`.
    pub(crate) fn spawn(
        conn: Connection,
        queue: usize,
        max_batch_rows: usize,
    ) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::channel(queue);
        std::thread::Builder::new()
            .name("strata-sqlite-writer".into())
            .spawn(move || run(conn, receiver, max_batch_rows))?;
        Ok(Self { sender })
    }

    /// Queues a job.
    ///
    /// # Cancel safety
    /// Dropping the future before the job is queued writes nothing; after, the job runs anyway.
    pub(crate) async fn submit(&self, job: Job) -> Result<(), StoreError> {
        self.sender
            .send(job)
            .await
            .map_err(|_| StoreError::WriterGone)
    }

    /// Runs `f` in the next batch, isolated in a savepoint, and returns its result once the
    /// batch is committed.
    pub(crate) async fn exec<T, F>(&self, rows: usize, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut WriteCtx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job = Job {
            rows,
            run: Box::new(move |ctx| {
                let result = ctx.isolated(f);
                Box::new(move |commit_error| {
                    let outcome = match commit_error {
                        Some(e) => Err(StoreError::Database(e.to_string())),
                        None => result,
                    };
                    let _ = tx.send(outcome);
                })
            }),
        };
        self.submit(job).await?;
        rx.await.map_err(|_| StoreError::WriterGone)?
    }
}

fn run(mut conn: Connection, mut receiver: mpsc::Receiver<Job>, max_batch_rows: usize) {
    let mut key_ids: HashMap<String, i64> = HashMap::new();
    let mut batch: Vec<Job> = Vec::new();
    while let Some(first) = receiver.blocking_recv() {
        let mut rows = first.rows;
        batch.push(first);
        while rows < max_batch_rows {
            match receiver.try_recv() {
                Ok(job) => {
                    rows += job.rows;
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let jobs = batch.len();
        commit_batch(&mut conn, &mut key_ids, &mut batch);
        metrics::histogram!("strata_store_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("strata_store_commit_rows").record(rows as f64);
        metrics::counter!("strata_store_commits_total").increment(1);
        tracing::trace!(jobs, rows, elapsed = ?started.elapsed(), "committed batch");
    }
    tracing::debug!("storage writer stopped");
}

fn commit_batch(conn: &mut Connection, key_ids: &mut HashMap<String, i64>, batch: &mut Vec<Job>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin a write transaction");
            // Dropping the jobs drops their reply channels: callers see a failed write.
            batch.clear();
            return;
        }
    };
    let mut ctx = WriteCtx {
        conn: &tx,
        key_ids,
        new_keys: Vec::new(),
        latest: HashMap::new(),
    };
    let completions: Vec<Completion> = batch.drain(..).map(|job| (job.run)(&mut ctx)).collect();
    let latest = std::mem::take(&mut ctx.latest);
    let new_keys = std::mem::take(&mut ctx.new_keys);
    let outcome = super::telemetry::upsert_latest(&tx, latest)
        .and_then(|()| tx.commit().map_err(StoreError::from));
    let error = outcome.err().map(|e| {
        tracing::error!(error = %e, "write batch failed");
        for key in &new_keys {
            key_ids.remove(key);
        }
        e.to_string()
    });
    for completion in completions {
        completion(error.as_deref());
    }
}
