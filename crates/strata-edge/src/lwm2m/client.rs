//! [`Client`]: the state, the inputs (datagrams, time-outs, application calls) and the
//! outputs (datagrams, deadlines, events); the operations themselves live in the sibling
//! modules (`registration`, `bootstrap`, `dm`, `firmware`).

use super::alloc::collections::{BTreeMap, VecDeque};
use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::block::{Block1Assembler, BlockValue, block2};
use strata_proto_coap::lwm2m::{Path, Value};
use strata_proto_coap::observe::Sequence;
use strata_proto_coap::{
    Code, Endpoint, Event, Message, Received, RequestId, Token, Transmit, option,
};

use super::attributes::{AttributeStore, NotificationAttributes};
use super::bootstrap::BootstrapSession;
use super::config::{ClientConfig, ClientError, ClientEvent};
use super::firmware::Firmware;
use super::objects::{self, id};
use super::observe::Observations;
use super::registration::Registration;
use super::reply::{self, Reply, SZX};
use super::store::Store;

/// Unfinished Block1 bodies are dropped after this long without a block, ms
/// (EXCHANGE_LIFETIME).
pub(crate) const BLOCK1_IDLE_MS: u64 = 247_000;

/// An LwM2M client over one CoAP endpoint. `P` is the peer address type.
pub struct Client<P: Ord + Copy> {
    pub(crate) config: ClientConfig<P>,
    pub(crate) endpoint: Endpoint<P>,
    pub(crate) store: Store,
    pub(crate) attributes: AttributeStore,
    pub(crate) observations: Observations<P>,
    pub(crate) reg: Registration<P>,
    pub(crate) boot: Option<BootstrapSession<P>>,
    pub(crate) firmware: Firmware<P>,
    pub(crate) blocks: Block1Assembler<(P, Path)>,
    pub(crate) events: VecDeque<ClientEvent>,
    pub(crate) observe_seq: Sequence,
    /// Unix time (s) at `now == 0`, for Current Time (/3/0/13).
    pub(crate) clock: i64,
    /// Queue mode: reachable until then, ms.
    pub(crate) awake_until: u64,
    /// Work to do once the current request is answered.
    pub(crate) deferred: Vec<Deferred>,
}

/// Actions that must wait until the response to the current request went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Deferred {
    /// Send a registration update (trigger, lifetime or object list changed).
    Update,
    /// De-register and stay away for Disable Timeout (/1/x/4).
    Disable,
}

impl<P: Ord + Copy> Client<P> {
    /// A client with its objects set up from `config` (Security and Server instances for
    /// the configured servers, Device, Firmware Update and Temperature instances).
    pub fn new(config: ClientConfig<P>) -> Self {
        let endpoint = Endpoint::new(config.coap.clone());
        let max_body = config.max_body;
        let mut client = Client {
            endpoint,
            store: Store::default(),
            attributes: AttributeStore::default(),
            observations: Observations::new(),
            reg: Registration::new(config.server, config.short_server_id, config.retry_ms),
            boot: None,
            firmware: Firmware::default(),
            blocks: Block1Assembler::new(max_body, 4),
            events: VecDeque::new(),
            observe_seq: Sequence::new(1),
            clock: 0,
            awake_until: 0,
            deferred: Vec::new(),
            config,
        };
        client.populate();
        client
    }

    /// The endpoint client name.
    pub fn endpoint_name(&self) -> &str {
        &self.config.endpoint_name
    }

    /// The settings.
    pub fn config(&self) -> &ClientConfig<P> {
        &self.config
    }

    /// Handles one received datagram.
    pub fn handle_datagram(&mut self, now: u64, peer: P, data: &[u8]) {
        match self.endpoint.handle_datagram(now, peer, data) {
            Received::Request { id, message } => self.on_request(now, &id, &message),
            Received::Response {
                peer,
                token,
                message,
            } => {
                if Some(peer) == self.reg.server {
                    self.awake_until = now.saturating_add(self.config.awake_ms);
                }
                self.on_response(now, peer, token, &message);
            }
            Received::Nothing => {}
        }
        self.drain_endpoint_events(now);
        self.flush_notifications(now);
    }

    /// Runs timers: retransmissions, registration updates, notifications, time-outs. Call
    /// when [`Client::poll_timeout`] is reached.
    pub fn handle_timeout(&mut self, now: u64) {
        self.endpoint.handle_timeout(now);
        self.drain_endpoint_events(now);
        self.blocks.expire(now, BLOCK1_IDLE_MS);
        self.firmware_timeout(now);
        self.bootstrap_timeout(now);
        self.registration_timeout(now);
        self.flush_notifications(now);
    }

    /// When to call [`Client::handle_timeout`] next (ms), if anything is waiting.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        let observations = if self.asleep_at_deadline() {
            None
        } else {
            let defaults = self.default_attributes();
            self.observations
                .next_deadline(&|p| self.attributes.effective(p, &defaults))
        };
        [
            self.endpoint.poll_timeout(),
            self.reg.next_deadline(),
            self.boot.as_ref().map(|b| b.deadline),
            self.firmware.deadline(),
            observations,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next datagram to send. Poll after every other call until `None`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit<P>> {
        self.endpoint.poll_transmit()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// Sets the value of a resource (or, for a multiple resource, a resource instance) as
    /// the application sees it, e.g. a new temperature at /3303/0/5700. Observers are
    /// notified per their attributes. Read-only resources may be set; executables may not.
    pub fn set_value(&mut self, now: u64, path: Path, value: Value) -> Result<(), ClientError> {
        let (Some(instance), Some(resource)) = (path.instance, path.resource) else {
            return Err(ClientError::UnknownPath);
        };
        let def = objects::resource(path.object, resource).ok_or(ClientError::UnknownPath)?;
        if !self.store.has_instance(path.object, instance)
            || def.ops.executable()
            || def.multiple != path.resource_instance.is_some()
        {
            return Err(ClientError::UnknownPath);
        }
        if value.kind() != def.kind {
            return Err(ClientError::WrongType);
        }
        if let (id::DEVICE, 13, Value::Time(t)) = (path.object, resource, &value) {
            // Current Time runs on from the value set.
            self.clock = t - (now / 1000) as i64;
        }
        self.set_internal(path, value);
        if path.object == id::TEMPERATURE && resource == 5700 {
            self.track_min_max(path.object, instance);
        }
        self.flush_notifications(now);
        Ok(())
    }

    /// The value of a resource or resource instance.
    pub fn value(&self, path: &Path) -> Option<&Value> {
        self.store.value(path)
    }

    /// Instance IDs of `object`.
    pub fn instances(&self, object: u16) -> Vec<u16> {
        self.store.instance_ids(object)
    }

    /// Sets the Unix time (s) it is at `now`, for Current Time (/3/0/13).
    pub fn set_unix_time(&mut self, now: u64, unix_seconds: i64) {
        self.clock = unix_seconds - (now / 1000) as i64;
        self.refresh_clock(now);
    }

    /// The attributes written at exactly `path` (Write-Attributes).
    pub fn attributes(&self, path: &Path) -> NotificationAttributes {
        self.attributes.at(path)
    }

    /// How many observations servers hold.
    pub fn observation_count(&self) -> usize {
        self.observations.len()
    }

    /// Sets a value and notes the change for observers (no type or access checks).
    pub(crate) fn set_internal(&mut self, path: Path, value: Value) {
        if self.store.set(&path, value) {
            self.changed(&path);
        }
    }

    /// Updates /3/0/13 from the clock (not a change worth notifying on its own).
    pub(crate) fn refresh_clock(&mut self, now: u64) {
        let t = self.clock + (now / 1000) as i64;
        self.store
            .set(&Path::resource(id::DEVICE, 0, 13), Value::Time(t));
    }

    /// Keeps Min/Max Measured Value (5601/5602) of a temperature instance.
    pub(crate) fn track_min_max(&mut self, object: u16, instance: u16) {
        let value = |r| self.store.number(&Path::resource(object, instance, r));
        let (Some(v), min, max) = (value(5700), value(5601), value(5602)) else {
            return;
        };
        if min.is_none_or(|min| v < min) {
            self.set_internal(Path::resource(object, instance, 5601), Value::Float(v));
        }
        if max.is_none_or(|max| v > max) {
            self.set_internal(Path::resource(object, instance, 5602), Value::Float(v));
        }
    }

    fn on_request(&mut self, now: u64, id: &RequestId<P>, message: &Message<'_>) {
        self.refresh_clock(now);
        if Some(id.peer) == self.reg.server {
            self.awake_until = now.saturating_add(self.config.awake_ms);
        }
        let reply = self.route(now, id, message);
        self.send_reply(now, id, message, &reply);
        for action in core::mem::take(&mut self.deferred) {
            match action {
                Deferred::Update => self.update_soon(now),
                Deferred::Disable => self.disable(now),
            }
        }
    }

    /// Routes a request to the bootstrap or the management handlers.
    fn route(&mut self, now: u64, id: &RequestId<P>, message: &Message<'_>) -> Reply {
        if let Some(n) = message.unknown_critical_option(option::KNOWN) {
            let message = super::alloc::format!("unsupported critical option {n}");
            return Reply::error(Code::BAD_OPTION, &message);
        }
        if self.boot.as_ref().is_some_and(|b| b.peer == id.peer) {
            return self.bootstrap_request(now, id, message);
        }
        if Some(id.peer) != self.reg.server {
            return Reply::error(Code::UNAUTHORIZED, "not this client's LwM2M server");
        }
        self.dm_request(now, id, message)
    }

    /// Reassembles a Block1 body for `path`: `Ok((body, block1))` when whole, `Err(reply)`
    /// to answer now (2.31 Continue, or an error).
    pub(crate) fn request_body(
        &mut self,
        now: u64,
        id: &RequestId<P>,
        message: &Message<'_>,
        path: Path,
    ) -> Result<(Vec<u8>, Option<BlockValue>), Reply> {
        use strata_proto_coap::block::Block1Outcome;
        match BlockValue::from_message(message, option::BLOCK1) {
            None => Ok((message.payload.to_vec(), None)),
            Some(Err(())) => Err(Reply::error(Code::BAD_OPTION, "invalid Block1 option")),
            Some(Ok(block)) => match self
                .blocks
                .push(now, (id.peer, path), block, message.payload)
            {
                Block1Outcome::Continue(b) => {
                    self.body_progress(now, &path, b)?;
                    Err(Reply {
                        block1: Some(b),
                        ..Reply::code(Code::CONTINUE)
                    })
                }
                Block1Outcome::Complete(body, b) => Ok((body, Some(b))),
                Block1Outcome::Error(code) => {
                    self.body_failed(&path, code);
                    let size1 = (code == Code::REQUEST_ENTITY_TOO_LARGE)
                        .then(|| u32::try_from(self.blocks.max_body()).unwrap_or(u32::MAX));
                    Err(Reply {
                        size1,
                        ..Reply::error(
                            code,
                            "block-wise body refused: blocks in order, bounded size",
                        )
                    })
                }
            },
        }
    }

    fn send_reply(&mut self, now: u64, id: &RequestId<P>, message: &Message<'_>, reply: &Reply) {
        let requested = match BlockValue::from_message(message, option::BLOCK2) {
            Some(Ok(b)) => Some(b),
            _ => None,
        };
        let sent = match block2(&reply.payload, requested, SZX) {
            Ok(part) => self.endpoint.respond(now, id, reply.code, |w| {
                reply::write(w, reply, part.option, part.data)
            }),
            Err(code) => self.endpoint.respond(now, id, code, |w| {
                w.payload(b"Block2 number past the end");
                Ok(())
            }),
        };
        // Encoding only fails on option-order bugs; nothing to tell the peer then.
        let _ = sent;
    }

    fn on_response(&mut self, now: u64, peer: P, token: Token, message: &Message<'_>) {
        if self.reg.owns(peer, token) {
            self.registration_response(now, message);
        } else if self.boot.as_ref().is_some_and(|b| b.owns(peer, token)) {
            self.bootstrap_response(now, message);
        } else if self.firmware.owns_download(peer, token) {
            self.download_response(now, message);
        }
    }

    fn drain_endpoint_events(&mut self, now: u64) {
        while let Some(event) = self.endpoint.poll_event() {
            let (peer, token) = match event {
                Event::Reset { peer, token } | Event::TimedOut { peer, token } => (peer, token),
                Event::Delivered { .. } => continue,
            };
            if self.reg.owns(peer, token) {
                self.registration_lost(now);
            } else if self.boot.as_ref().is_some_and(|b| b.owns(peer, token)) {
                self.bootstrap_lost();
            } else if self.firmware.owns_download(peer, token) {
                self.download_lost(now);
            } else if let Some(path) = self.observations.remove(peer, token) {
                self.events
                    .push_back(ClientEvent::ObservationCancelled { path });
            }
        }
    }

    /// Records a finished write for the application.
    pub(crate) fn written(&mut self, paths: Vec<Path>) {
        if !paths.is_empty() {
            self.events.push_back(ClientEvent::Written { paths });
        }
    }

    /// A map of resource instances from `(path, value)` records of one resource.
    pub(crate) fn instances_of(records: &[(Path, Value)]) -> BTreeMap<u16, Value> {
        records
            .iter()
            .filter_map(|(p, v)| Some((p.resource_instance?, v.clone())))
            .collect()
    }

    /// The value of a string resource, empty when absent.
    pub(crate) fn string(&self, path: &Path) -> String {
        match self.store.value(path) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        }
    }
}
