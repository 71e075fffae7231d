//! The server side of one MQTT connection (temporary stub).
mod error;
pub use error::{ProtocolViolation, PublishError, UsageError};
