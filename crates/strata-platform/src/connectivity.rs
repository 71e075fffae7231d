//! Connectivity: whether each device is online and when it was last heard from, over every
//! protocol. Front ends report connections opening and closing (MQTT) and every message
//! (all of them); the state lives in memory and is written to the store in batches
//! ([`Platform::run_activity_flush`]), so a busy device costs no write per message.
//!
//! A device is online while it holds a connection, or, for connectionless protocols (HTTP,
//! CoAP), when it was seen within the inactivity timeout and after its last disconnect.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use strata_store::{DeviceActivity, DeviceIdentity, DeviceKey, Millis};
use tokio::sync::mpsc;

use crate::events::Event;
use crate::rules::Trigger;
use crate::{Platform, PlatformError, now_millis};

/// How long a connectionless device counts as online after its last message.
pub const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(600);
/// How often activity is written to the store.
const FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// A device's connectivity as the API shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeviceStatus {
    /// Connected now, or seen lately over a connectionless protocol.
    pub online: bool,
    /// Open connections (MQTT sessions online).
    pub connections: u32,
    /// When it was last heard from, connected and disconnected (ms).
    #[serde(flatten)]
    pub activity: DeviceActivity,
}

#[derive(Debug, Default)]
struct Entry {
    connections: u32,
    activity: DeviceActivity,
    dirty: bool,
}

/// Connection changes waiting for their rules (front ends report them from threads that
/// cannot wait).
const RULE_QUEUE: usize = 65_536;

type RuleEvent = (Trigger, DeviceIdentity, Millis);

#[derive(Debug)]
pub(crate) struct Connectivity {
    devices: Mutex<HashMap<DeviceKey, Entry>>,
    rule_events: mpsc::Sender<RuleEvent>,
    rule_queue: Mutex<Option<mpsc::Receiver<RuleEvent>>>,
    /// Inactivity rules that fired, per device, at the last-seen time they fired for.
    inactive: Mutex<HashMap<(uuid::Uuid, DeviceKey), Millis>>,
}

impl Default for Connectivity {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(RULE_QUEUE);
        Self {
            devices: Mutex::default(),
            rule_events: tx,
            rule_queue: Mutex::new(Some(rx)),
            inactive: Mutex::default(),
        }
    }
}

impl Connectivity {
    fn update(&self, device: DeviceKey, change: impl FnOnce(&mut Entry)) {
        if let Ok(mut devices) = self.devices.lock() {
            let entry = devices.entry(device).or_default();
            change(entry);
            entry.dirty = true;
        }
    }
}

impl Platform {
    /// Loads the recorded activity; call once at start.
    pub(crate) async fn load_activity(&self) -> Result<(), PlatformError> {
        let recorded = self.store().all_activity().await?;
        if let Ok(mut devices) = self.inner.connectivity.devices.lock() {
            for (key, activity) in recorded {
                devices.insert(
                    key,
                    Entry {
                        connections: 0,
                        activity,
                        dirty: false,
                    },
                );
            }
        }
        Ok(())
    }

    /// A device opened a connection (e.g. an MQTT session).
    pub fn device_connected(&self, device: &DeviceIdentity) {
        let now = now_millis();
        self.inner.connectivity.update(device.device_key, |e| {
            e.connections += 1;
            e.activity.last_connected_at = Some(now);
            e.activity.last_seen_at = Some(now);
        });
        metrics::counter!("strata_device_connects_total").increment(1);
        self.connection_changed(Trigger::Connect, device, now);
    }

    fn connection_changed(&self, trigger: Trigger, device: &DeviceIdentity, now: Millis) {
        self.emit(|| Event {
            tenant: device.tenant,
            kind: trigger.as_str(),
            device_id: Some(device.device_id),
            ts: now,
            data: json!({}),
        });
        if self.has_rules(device.tenant, trigger)
            && self
                .inner
                .connectivity
                .rule_events
                .try_send((trigger, *device, now))
                .is_err()
        {
            metrics::counter!("strata_rule_errors_total", "kind" => "connection_queue_full")
                .increment(1);
        }
    }

    /// Runs connect/disconnect rules, and inactivity rules every second, forever.
    pub async fn run_connectivity_rules(self) {
        let Some(mut queue) = self
            .inner
            .connectivity
            .rule_queue
            .lock()
            .ok()
            .and_then(|mut q| q.take())
        else {
            return;
        };
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                event = queue.recv() => {
                    let Some((trigger, device, at)) = event else { return };
                    self.run_device_rules(trigger, &device, || json!({"at": at})).await;
                }
                _ = tick.tick() => self.check_inactivity().await,
            }
        }
    }

    /// Fires inactivity rules for devices silent for longer than the rule says, once per
    /// silence.
    async fn check_inactivity(&self) {
        let now = now_millis();
        let silent: Vec<(DeviceKey, Millis)> = match self.inner.connectivity.devices.lock() {
            Ok(devices) => devices
                .iter()
                .filter(|(_, e)| e.connections == 0)
                .filter_map(|(k, e)| e.activity.last_seen_at.map(|seen| (*k, seen)))
                .collect(),
            Err(_) => return,
        };
        // Looked up once per tenant and sweep, not once per device.
        let mut by_tenant: HashMap<strata_store::TenantId, Vec<(uuid::Uuid, u64)>> = HashMap::new();
        for (key, seen) in silent {
            let device = match self.device_info(key).await {
                Ok(Some(device)) => device,
                // Deleted meanwhile: stop looking at it.
                Ok(None) => {
                    self.forget_device(key);
                    continue;
                }
                Err(_) => continue,
            };
            let rules = by_tenant
                .entry(device.tenant)
                .or_insert_with(|| self.inactivity_rules(device.tenant));
            for &(rule, after) in rules.iter() {
                if now - seen < after as Millis {
                    continue;
                }
                let first = self
                    .inner
                    .connectivity
                    .inactive
                    .lock()
                    .map(|mut fired| fired.insert((rule, key), seen) != Some(seen))
                    .unwrap_or(false);
                if first {
                    let msg = json!({"last_seen_at": seen, "silent_ms": now - seen});
                    self.run_one_rule(rule, &device, msg).await;
                }
            }
        }
    }

    /// A device's connection closed.
    pub fn device_disconnected(&self, device: &DeviceIdentity) {
        let now = now_millis();
        self.inner.connectivity.update(device.device_key, |e| {
            e.connections = e.connections.saturating_sub(1);
            e.activity.last_disconnected_at = Some(now);
            e.activity.last_seen_at = Some(now);
        });
        self.connection_changed(Trigger::Disconnect, device, now);
    }

    /// Forgets a deleted device's connectivity and rule state.
    pub(crate) fn forget_device(&self, key: DeviceKey) {
        if let Ok(mut devices) = self.inner.connectivity.devices.lock() {
            devices.remove(&key);
        }
        if let Ok(mut fired) = self.inner.connectivity.inactive.lock() {
            fired.retain(|(_, k), _| *k != key);
        }
        self.forget_device_holds(key);
    }

    /// A device sent something.
    pub fn device_seen(&self, device: &DeviceIdentity) {
        let now = now_millis();
        self.inner.connectivity.update(device.device_key, |e| {
            e.activity.last_seen_at = Some(now);
        });
    }

    /// A device's connectivity now.
    pub fn device_status(&self, device: DeviceKey) -> DeviceStatus {
        let now = now_millis();
        let Ok(devices) = self.inner.connectivity.devices.lock() else {
            return DeviceStatus::default();
        };
        let Some(entry) = devices.get(&device) else {
            return DeviceStatus::default();
        };
        DeviceStatus {
            online: is_online(entry, now),
            connections: entry.connections,
            activity: entry.activity,
        }
    }

    /// The devices online now (any tenant).
    pub fn online_devices(&self) -> Vec<DeviceKey> {
        let now = now_millis();
        let Ok(devices) = self.inner.connectivity.devices.lock() else {
            return Vec::new();
        };
        devices
            .iter()
            .filter(|(_, entry)| is_online(entry, now))
            .map(|(key, _)| *key)
            .collect()
    }

    /// Writes changed activity to the store every few seconds, forever.
    pub async fn run_activity_flush(self) {
        let mut tick = tokio::time::interval(FLUSH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.flush_activity().await {
                tracing::warn!(error = %e, "cannot record device activity; will retry");
            }
        }
    }

    /// Writes changed activity to the store now (also at a clean stop).
    pub async fn flush_activity(&self) -> Result<(), PlatformError> {
        let changed: Vec<(DeviceKey, DeviceActivity)> = match self.inner.connectivity.devices.lock()
        {
            Ok(mut devices) => devices
                .iter_mut()
                .filter(|(_, e)| e.dirty)
                .map(|(k, e)| {
                    e.dirty = false;
                    (*k, e.activity)
                })
                .collect(),
            Err(_) => return Ok(()),
        };
        if changed.is_empty() {
            return Ok(());
        }
        let keys: Vec<DeviceKey> = changed.iter().map(|(k, _)| *k).collect();
        if let Err(e) = self.store().record_activity(changed).await {
            // Mark them again so the next flush retries.
            if let Ok(mut devices) = self.inner.connectivity.devices.lock() {
                for key in keys {
                    if let Some(entry) = devices.get_mut(&key) {
                        entry.dirty = true;
                    }
                }
            }
            return Err(e.into());
        }
        Ok(())
    }
}

fn is_online(entry: &Entry, now: Millis) -> bool {
    if entry.connections > 0 {
        return true;
    }
    let timeout = INACTIVITY_TIMEOUT.as_millis() as Millis;
    match entry.activity.last_seen_at {
        Some(seen) => {
            now - seen < timeout
                && entry
                    .activity
                    .last_disconnected_at
                    .is_none_or(|gone| seen > gone)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn online_rules() {
        let mut e = Entry::default();
        assert!(!is_online(&e, 1_000_000));
        e.connections = 1;
        assert!(is_online(&e, 1_000_000));
        e.connections = 0;
        e.activity.last_seen_at = Some(1_000_000);
        e.activity.last_disconnected_at = Some(1_000_000);
        assert!(!is_online(&e, 1_000_001), "a disconnect ends being online");
        e.activity.last_seen_at = Some(1_000_500);
        assert!(
            is_online(&e, 1_001_000),
            "seen over HTTP after the disconnect"
        );
        assert!(
            !is_online(&e, 1_000_500 + 600_000),
            "inactive for the timeout"
        );
    }
}
