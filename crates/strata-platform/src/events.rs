//! The live event stream: what happens on the platform (telemetry, attributes, shadow
//! changes, connections, alarms), for WebSocket/SSE clients such as dashboards.
//!
//! A broadcast channel: publishing never waits, and a subscriber too slow to keep up loses
//! the oldest events (and is told how many) rather than slowing ingest down.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use strata_store::TenantId;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::Platform;

/// Events a slow subscriber may fall behind by before it loses some.
const CAPACITY: usize = 4096;

/// One event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Whose it is (never sent to other tenants).
    #[serde(skip)]
    pub tenant: TenantId,
    /// `telemetry`, `attributes`, `shadow`, `connect`, `disconnect`, `alarm`.
    pub kind: &'static str,
    /// The device it is about.
    pub device_id: Option<Uuid>,
    /// When (ms).
    pub ts: i64,
    /// What happened.
    pub data: Value,
}

pub(crate) struct EventBus {
    sender: broadcast::Sender<Arc<Event>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Platform {
    /// Subscribes to the live event stream (all tenants: filter by [`Event::tenant`]).
    pub fn events(&self) -> broadcast::Receiver<Arc<Event>> {
        self.inner.events.sender.subscribe()
    }

    /// Whether anyone listens (so callers can skip building an event nobody reads).
    pub(crate) fn has_listeners(&self) -> bool {
        self.inner.events.sender.receiver_count() > 0
    }

    /// Publishes an event; built only if someone listens.
    pub fn emit(&self, build: impl FnOnce() -> Event) {
        if self.has_listeners() {
            let _ = self.inner.events.sender.send(Arc::new(build()));
        }
    }
}

impl Platform {
    /// Publishes stored telemetry (one event per timestamp).
    pub(crate) fn emit_telemetry(
        &self,
        device: &strata_store::DeviceIdentity,
        messages: &crate::telemetry::Messages,
    ) {
        for (ts, values) in messages {
            self.emit(|| Event {
                tenant: device.tenant,
                kind: "telemetry",
                device_id: Some(device.device_id),
                ts: *ts,
                data: Value::Object(values.clone()),
            });
        }
    }
}
