/// What can go wrong in a storage call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness rule was broken (e.g. a device name already used in the tenant).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database file was written by a newer Strata than this one.
    #[error(
        "the database schema is version {found}, newer than this build knows ({known}); \
         run a newer strata or restore a backup"
    )]
    SchemaTooNew {
        /// Version found on disk.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// The writer has stopped (shutting down or after a fatal error).
    #[error("the storage writer is not running")]
    WriterGone,
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(String),
    /// Data read back from the database is not what Strata wrote.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Opening the data directory or database failed.
    #[error("cannot open storage at {path}: {message}")]
    Open {
        /// The path tried.
        path: String,
        /// What failed.
        message: String,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(code, msg) = &e
            && code.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()));
        }
        StoreError::Database(e.to_string())
    }
}
