//! The embedded SQLite backend: one database file, WAL journal, one writer thread with group
//! commit, and a small pool of read-only connections for queries.

mod accounts;
mod activity;
mod alarms;
mod attributes;
mod dashboards;
mod devices;
mod migrations;
mod mqtt;
mod outbox;
mod pool;
mod rpc;
mod rules;
mod shadows;
mod telemetry;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;
use pool::ReadPool;
use writer::WriterHandle;

/// The schema version this build creates and understands.
pub const SCHEMA_VERSION: i64 = migrations::LATEST;

/// Durability of each commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// fsync every commit (survives power loss).
    Full,
    /// fsync at checkpoints (survives a process crash).
    Normal,
}

/// Settings for [`SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Database file.
    pub path: PathBuf,
    /// Commit durability.
    pub sync: Sync,
    /// Most rows in one group commit.
    pub max_batch_rows: usize,
    /// Jobs that may wait for the writer.
    pub writer_queue: usize,
    /// Read-only connections.
    pub read_connections: usize,
}

impl SqliteOptions {
    /// Defaults for a database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            sync: Sync::Full,
            max_batch_rows: 50_000,
            writer_queue: 4096,
            read_connections: 4,
        }
    }
}

/// The embedded SQLite store. Cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    writer: WriterHandle,
    readers: ReadPool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database, applies migrations and starts the writer.
    ///
    /// Must be called inside a tokio runtime (queries run on its blocking pool).
    pub fn open(options: &SqliteOptions) -> Result<Self, StoreError> {
        let open_error = |e: &dyn std::fmt::Display| StoreError::Open {
            path: options.path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = options.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_error(&e))?;
        }
        let mut writer = Connection::open(&options.path).map_err(|e| open_error(&e))?;
        configure(&writer, options.sync)?;
        migrations::migrate(&mut writer)?;
        let readers = (0..options.read_connections.max(1))
            .map(|_| open_reader(&options.path))
            .collect::<Result<Vec<_>, _>>()?;
        let writer = WriterHandle::spawn(writer, options.writer_queue, options.max_batch_rows)
            .map_err(|e| open_error(&e))?;
        Ok(Self {
            writer,
            readers: ReadPool::new(readers),
        })
    }
}

fn configure(conn: &Connection, sync: Sync) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Database(format!(
            "could not switch to WAL journal mode (got {mode})"
        )));
    }
    let sync = match sync {
        Sync::Full => "FULL",
        Sync::Normal => "NORMAL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync};
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -8192;"
    ))?;
    Ok(())
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA cache_size = -16384; PRAGMA query_only = ON;")?;
    Ok(conn)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub(crate) fn open_temp() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&SqliteOptions::new(dir.path().join("t.db"))).unwrap();
        (dir, store)
    }
}
