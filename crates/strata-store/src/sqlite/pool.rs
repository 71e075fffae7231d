//! A fixed pool of read-only connections; queries run on tokio's blocking threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::StoreError;

#[derive(Clone)]
pub(crate) struct ReadPool {
    inner: Arc<Inner>,
}

struct Inner {
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl ReadPool {
    pub(crate) fn new(connections: Vec<Connection>) -> Self {
        let permits = Arc::new(Semaphore::new(connections.len()));
        Self {
            inner: Arc::new(Inner {
                idle: Mutex::new(connections),
                permits,
            }),
        }
    }

    /// Runs `f` on an idle connection.
    ///
    /// # Cancel safety
    /// Cancelling while waiting for a connection is harmless. Cancelling once the query runs
    /// (a request timing out, a client going away) interrupts it, so a long scan nobody waits
    /// for any more does not hold a connection; the connection returns to the pool either way.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Database("read pool closed".into()))?;
        let inner = Arc::clone(&self.inner);
        let cancelled = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(Arc::clone(&cancelled));
        let task = tokio::task::spawn_blocking(move || {
            let conn = inner
                .idle
                .lock()
                .map_err(|_| StoreError::Database("read pool poisoned".into()))?
                .pop()
                .ok_or_else(|| StoreError::Database("read pool empty".into()))?;
            // SQLite asks the handler every few thousand steps; true interrupts the statement.
            conn.progress_handler(
                CANCEL_CHECK_STEPS,
                Some(move || cancelled.load(Ordering::Relaxed)),
            );
            let result = f(&conn);
            conn.progress_handler(0, None::<fn() -> bool>);
            if let Ok(mut idle) = inner.idle.lock() {
                idle.push(conn);
            }
            // The permit follows the connection, even if the caller stopped waiting.
            drop(permit);
            result
        });
        task.await
            .map_err(|e| StoreError::Database(format!("query task failed: {e}")))?
    }
}

/// Virtual-machine steps between two looks at the cancel flag: microseconds of work.
const CANCEL_CHECK_STEPS: i32 = 10_000;

/// Tells the query its caller stopped waiting; after the query ended it changes nothing.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn a_query_nobody_waits_for_is_interrupted() {
        let pool = ReadPool::new(vec![Connection::open_in_memory().unwrap()]);
        let outcome = Arc::new(Mutex::new(None));
        let seen = Arc::clone(&outcome);
        let (started_tx, started) = tokio::sync::oneshot::channel();
        // Counts to a trillion: minutes of work unless interrupted.
        let endless = pool.read(move |conn| {
            let _ = started_tx.send(());
            let result = conn.query_row(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
                 WHERE i < 1000000000000) SELECT count(*) FROM n",
                [],
                |row| row.get::<_, i64>(0),
            );
            *seen.lock().unwrap() = Some(result.map_err(|e| e.sqlite_error_code()));
            Ok(())
        });
        // The caller gives up once the query runs.
        tokio::select! {
            _ = endless => panic!("the endless query ended"),
            _ = started => {}
        }
        // The pool's only connection: this runs once the abandoned query has ended.
        let one = pool
            .read(|conn| Ok(conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?))
            .await
            .unwrap();
        assert_eq!(one, 1);
        assert_eq!(
            *outcome.lock().unwrap(),
            Some(Err(Some(rusqlite::ErrorCode::OperationInterrupted)))
        );
    }
}
