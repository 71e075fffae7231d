//! Storage for Strata: the traits every backend implements, and the embedded SQLite backend.
//!
//! Callers (the platform services) hold an `Arc<dyn Backend>` and never learn which database
//! is behind it, so a PostgreSQL backend can be added without touching them.
//!
//! - [`AccountStore`]: tenants, users, API keys and session tokens.
//! - [`DeviceStore`]: the device registry and device credentials.
//! - [`TelemetryStore`]: time-series points, latest values, range and aggregate queries.
//! - [`AttributeStore`], [`ShadowStore`], [`RpcStore`], [`ActivityStore`]: device attributes,
//!   shadows, RPC calls and when devices were last heard from.
//! - [`RuleStore`], [`OutboxStore`], [`AlarmStore`]: rules, the durable queue for external
//!   sinks with its dead letters, and alarms with their history.
//! - [`sqlite::SqliteStore`]: the embedded default (WAL, one writer thread doing group commits,
//!   versioned migrations). See `architecture.md` in this crate for the table layout.
//!
//! Every entity row carries its tenant, and every query takes the tenant it runs for; telemetry
//! rows hang off a device, which is tenant-scoped, and are reached only through it.
//!
//! A write method returning `Ok` means the data is committed to disk with the configured
//! durability; that is what lets the API answer 2xx only for data that survives a crash.
//!
#![doc = include_str!("../architecture.md")]

mod error;
pub mod sqlite;
mod traits;
mod types;

pub use error::StoreError;
pub use traits::{
    AccountStore, ActivityStore, AlarmStore, AttributeStore, Backend, DashboardStore, DeviceStore,
    MqttStateStore, OutboxStore, Raised, RpcStore, RuleStore, ShadowStore, TelemetryStore,
};
pub use types::*;
