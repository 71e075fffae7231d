//! Who observes what: CoAP observations of a device's RPC calls, shadow deltas and
//! attributes, and the [`DeviceLink`] that turns platform downlinks into notifications.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::json;
use strata_platform::downlink::{DeviceLink, Downlink};
use strata_proto_coap::Token;
use strata_proto_coap::observe::Sequence;
use strata_store::DeviceIdentity;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::Command;

/// What an observation watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Watched {
    /// RPC calls for the device.
    Rpc,
    /// The delta of one shadow.
    Delta(String),
    /// The device's client attributes.
    Attributes,
}

struct Observation {
    /// The listener (plain or DTLS) the observer talks to.
    commands: mpsc::UnboundedSender<Command>,
    peer: SocketAddr,
    token: Token,
    watched: Watched,
    identity: DeviceIdentity,
    sequence: Sequence,
}

/// Most observations one device may hold (a client that re-registers with fresh tokens
/// without cancelling pushes out its oldest).
const PER_DEVICE: usize = 16;

/// The registry, shared by the listener task, the link and the attribute watcher.
pub(crate) struct Observations {
    inner: Mutex<Inner>,
    max: usize,
    /// Every listener (plain and DTLS), told when a device's credentials change.
    listeners: Mutex<Vec<mpsc::UnboundedSender<Command>>>,
}

#[derive(Default)]
struct Inner {
    by_device: HashMap<Uuid, Vec<Observation>>,
    by_token: HashMap<(SocketAddr, Token), Uuid>,
    count: usize,
}

/// What happened to a registration.
pub(crate) enum Registered {
    /// Stored; the first notification carries this sequence number.
    Yes(u32),
    /// The server holds `coap.max_observations` already.
    Full,
}

impl Observations {
    pub(crate) fn new(max: usize) -> Self {
        Observations {
            inner: Mutex::new(Inner::default()),
            max,
            listeners: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn add_listener(&self, commands: mpsc::UnboundedSender<Command>) {
        if let Ok(mut l) = self.listeners.lock() {
            l.push(commands);
        }
    }

    /// Registers (or re-registers, RFC 7641 §4.1: same peer and token) an observation.
    pub(crate) fn register(
        &self,
        identity: DeviceIdentity,
        commands: &mpsc::UnboundedSender<Command>,
        peer: SocketAddr,
        token: Token,
        watched: Watched,
    ) -> Registered {
        let Ok(mut inner) = self.inner.lock() else {
            return Registered::Full;
        };
        let Inner {
            by_device,
            by_token,
            count,
        } = &mut *inner;
        // The same (peer, token) observing for another device (a gateway reusing tokens):
        // that older observation ends here, or it would linger unreachable.
        if let Some(other) = by_token.get(&(peer, token)).copied()
            && other != identity.device_id
        {
            by_token.remove(&(peer, token));
            if let Some(list) = by_device.get_mut(&other) {
                let before = list.len();
                list.retain(|o| !(o.peer == peer && o.token == token));
                *count -= before - list.len();
                if list.is_empty() {
                    by_device.remove(&other);
                }
            }
        }
        let list = by_device.entry(identity.device_id).or_default();
        if let Some(existing) = list.iter_mut().find(|o| o.peer == peer && o.token == token) {
            existing.watched = watched;
            return Registered::Yes(existing.sequence.next_value());
        }
        if list.len() >= PER_DEVICE {
            let oldest = list.remove(0);
            by_token.remove(&(oldest.peer, oldest.token));
            *count -= 1;
        }
        if *count >= self.max {
            if list.is_empty() {
                by_device.remove(&identity.device_id);
            }
            return Registered::Full;
        }
        by_token.insert((peer, token), identity.device_id);
        let mut sequence = Sequence::new(1);
        let first = sequence.next_value();
        list.push(Observation {
            commands: commands.clone(),
            peer,
            token,
            watched,
            identity,
            sequence,
        });
        *count += 1;
        metrics::gauge!("strata_coap_observations").set(*count as f64);
        Registered::Yes(first)
    }

    /// Drops the observation `(peer, token)` (cancelled, reset or timed out); returns its
    /// device if it was the device's last observation.
    pub(crate) fn remove(&self, peer: SocketAddr, token: Token) -> Option<DeviceIdentity> {
        let mut inner = self.inner.lock().ok()?;
        let Inner {
            by_device,
            by_token,
            count,
        } = &mut *inner;
        let key = by_token.remove(&(peer, token))?;
        let list = by_device.get_mut(&key)?;
        let i = list
            .iter()
            .position(|o| o.peer == peer && o.token == token)?;
        let gone = list.remove(i);
        *count -= 1;
        metrics::gauge!("strata_coap_observations").set(*count as f64);
        if list.is_empty() {
            by_device.remove(&key);
            return Some(gone.identity);
        }
        None
    }

    /// Whether any observation watches the attributes of some device (the attribute
    /// watcher runs only then).
    pub(crate) fn watches_attributes(&self) -> bool {
        self.inner.lock().is_ok_and(|inner| {
            inner
                .by_device
                .values()
                .flatten()
                .any(|o| o.watched == Watched::Attributes)
        })
    }

    /// The identity of a device whose `watched` someone observes.
    pub(crate) fn observed(&self, device: Uuid, watched: &Watched) -> Option<DeviceIdentity> {
        let inner = self.inner.lock().ok()?;
        inner
            .by_device
            .get(&device)?
            .iter()
            .find(|o| &o.watched == watched)
            .map(|o| o.identity)
    }

    /// Sends `payload` to every observation of `device` matching `watched`; true if any.
    pub(crate) fn notify(&self, device: Uuid, watched: &Watched, payload: &[u8]) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        let Some(list) = inner.by_device.get_mut(&device) else {
            return false;
        };
        let mut sent = false;
        for o in list.iter_mut().filter(|o| &o.watched == watched) {
            let command = Command::Notify {
                peer: o.peer,
                token: o.token,
                sequence: o.sequence.next_value(),
                payload: payload.to_vec(),
                event: matches!(watched, Watched::Rpc),
            };
            sent |= o.commands.send(command).is_ok();
        }
        sent
    }

    /// Ends every observation of a device (its credentials changed or it was deleted);
    /// the observers are told with 4.01.
    pub(crate) fn drop_device(&self, device: Uuid) -> usize {
        let Ok(mut inner) = self.inner.lock() else {
            return 0;
        };
        let Some(list) = inner.by_device.remove(&device) else {
            return 0;
        };
        inner.count -= list.len();
        for o in &list {
            inner.by_token.remove(&(o.peer, o.token));
            let _ = o.commands.send(Command::Revoked {
                peer: o.peer,
                token: o.token,
            });
        }
        metrics::gauge!("strata_coap_observations").set(inner.count as f64);
        list.len()
    }
}

/// Delivers RPC calls and shadow deltas to devices observing them over CoAP.
pub(crate) struct CoapLink {
    pub(crate) observations: Arc<Observations>,
}

impl DeviceLink for CoapLink {
    fn send(&self, device: &DeviceIdentity, message: &Downlink) -> bool {
        let (watched, payload) = match message {
            Downlink::RpcRequest { id, method, params } => (
                Watched::Rpc,
                json!({"id": id, "method": method, "params": params}),
            ),
            Downlink::ShadowDelta {
                shadow,
                version,
                timestamp,
                delta,
                metadata,
            } => (
                Watched::Delta(shadow.clone()),
                strata_platform::shadow::delta_json(*version, *timestamp, delta, metadata),
            ),
        };
        self.observations
            .notify(device.device_id, &watched, payload.to_string().as_bytes())
    }

    fn disconnect(&self, device: &DeviceIdentity) {
        if let Ok(listeners) = self.observations.listeners.lock() {
            for l in listeners.iter() {
                let _ = l.send(Command::DropDevice {
                    device: device.device_id,
                });
            }
        }
        let n = self.observations.drop_device(device.device_id);
        if n > 0 {
            tracing::info!(device = %device.device_id, observations = n, "CoAP observations ended: the device's credentials changed");
        }
    }
}
