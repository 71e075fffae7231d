//! A fixed pool of read-only connections; queries run on tokio's blocking threads.

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
    /// Cancelling while waiting for a connection is harmless; once the query runs, it finishes
    /// on its blocking thread and the connection returns to the pool.
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
        let task = tokio::task::spawn_blocking(move || {
            let conn = inner
                .idle
                .lock()
                .map_err(|_| StoreError::Database("read pool poisoned".into()))?
                .pop()
                .ok_or_else(|| StoreError::Database("read pool empty".into()))?;
            let result = f(&conn);
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
