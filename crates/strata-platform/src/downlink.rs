//! Messages from the platform to devices, and the links that carry them.
//!
//! The platform does not know protocols: a front end (the MQTT broker glue, the HTTP
//! long-poll, later CoAP observe) registers a [`DeviceLink`], and the platform offers each
//! [`Downlink`] to the links in turn.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Map, Value};
use strata_store::{DeviceIdentity, DeviceKey};
use tokio::sync::oneshot;

/// A message for one device.
#[derive(Debug, Clone, PartialEq)]
pub enum Downlink {
    /// A shadow's desired state differs from its reported state.
    ShadowDelta {
        /// Shadow name (`default` for the classic shadow).
        shadow: String,
        /// Shadow version the delta was computed at.
        version: i64,
        /// When (ms).
        timestamp: i64,
        /// The differing desired fields.
        delta: Map<String, Value>,
        /// Their per-field timestamps.
        metadata: Map<String, Value>,
    },
    /// A command to run.
    RpcRequest {
        /// Request id; the answer names it.
        id: i64,
        /// Method name.
        method: String,
        /// Parameters.
        params: Value,
    },
}

/// A way to reach devices (one per protocol front end).
pub trait DeviceLink: Send + Sync {
    /// Hands `message` to `device` if this link reaches it now (for MQTT: the device has a
    /// session subscribed to the message's topic); false if not.
    fn send(&self, device: &DeviceIdentity, message: &Downlink) -> bool;

    /// Ends the device's open connections (its credentials changed or it was deleted), so
    /// it must authenticate again.
    fn disconnect(&self, device: &DeviceIdentity) {
        let _ = device;
    }

    /// The device was deleted: end its connections as `disconnect` does, and drop what the
    /// link keeps for it between connections (for MQTT: its persistent sessions, whose
    /// client identifiers become free).
    fn forget(&self, device: &DeviceIdentity) {
        self.disconnect(device);
    }
}

/// The registered links, and the devices waiting in an HTTP long-poll.
#[derive(Default)]
pub(crate) struct Links {
    links: RwLock<Vec<Arc<dyn DeviceLink>>>,
    pollers: Mutex<HashMap<DeviceKey, VecDeque<oneshot::Sender<Downlink>>>>,
}

impl Links {
    pub(crate) fn add(&self, link: Arc<dyn DeviceLink>) {
        if let Ok(mut links) = self.links.write() {
            links.push(link);
        }
    }

    /// Offers `message` to a waiting long-poll (RPC requests only), then to each link until
    /// one takes it; true if one did. `all` offers it to every link instead (notifications, not commands).
    pub(crate) fn send(&self, device: &DeviceIdentity, message: &Downlink, all: bool) -> bool {
        // Long-polls wait for commands only (HTTP devices read their shadow when they like).
        let mut sent = matches!(message, Downlink::RpcRequest { .. })
            && self.send_to_poller(device.device_key, message);
        if sent && !all {
            return true;
        }
        let links = match self.links.read() {
            Ok(links) => links.clone(),
            Err(_) => return sent,
        };
        for link in links {
            if link.send(device, message) {
                sent = true;
                if !all {
                    break;
                }
            }
        }
        sent
    }

    fn send_to_poller(&self, device: DeviceKey, message: &Downlink) -> bool {
        let Ok(mut pollers) = self.pollers.lock() else {
            return false;
        };
        let Some(waiting) = pollers.get_mut(&device) else {
            return false;
        };
        let mut sent = false;
        while let Some(poller) = waiting.pop_front() {
            // A poller whose request ended (timeout, client gone) refuses: try the next.
            if poller.send(message.clone()).is_ok() {
                sent = true;
                break;
            }
        }
        if waiting.is_empty() {
            pollers.remove(&device);
        }
        sent
    }

    /// Ends the device's connections on every link.
    pub(crate) fn disconnect(&self, device: &DeviceIdentity) {
        self.each(|link| link.disconnect(device));
    }

    /// Forgets a deleted device on every link.
    pub(crate) fn forget(&self, device: &DeviceIdentity) {
        self.each(|link| link.forget(device));
    }

    /// Runs `f` on every link, outside the lock (a link may call back into the platform).
    fn each(&self, f: impl Fn(&dyn DeviceLink)) {
        let links = match self.links.read() {
            Ok(links) => links.clone(),
            Err(_) => return,
        };
        for link in &links {
            f(link.as_ref());
        }
    }

    /// Registers a long-poll waiting for the device's next message.
    pub(crate) fn poll(&self, device: DeviceKey) -> oneshot::Receiver<Downlink> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut pollers) = self.pollers.lock() {
            let waiting = pollers.entry(device).or_default();
            waiting.retain(|p| !p.is_closed());
            waiting.push_back(tx);
        }
        rx
    }
}
