//! The server side of one MQTT connection, as a sans-IO state machine.
//!
//! A [`ServerConnection`] is driven by a runtime that owns the transport and a timer:
//!
//! ```text
//! loop {
//!     bytes from socket     -> conn.handle_bytes(now, &bytes)
//!     timer fired           -> conn.handle_timeout(now)
//!     while let Some(ev) = conn.poll_event() { broker handles ev, calls back into conn }
//!     conn.poll_transmit(&mut out); write `out` to the socket
//!     re-arm the timer at conn.poll_timeout()
//!     if conn.is_closed() { close the socket after the write, take_session() }
//! }
//! ```
//!
//! ```
//! use bytes::BytesMut;
//! use strata_proto_mqtt::{
//!     AcceptOptions, Connect, Event, Packet, ProtocolVersion, ServerConfig, ServerConnection,
//! };
//!
//! let mut conn = ServerConnection::new(ServerConfig::default(), 0);
//! let mut wire = BytesMut::new();
//! Connect::new(ProtocolVersion::V5, "sensor-1", 30).encode(ProtocolVersion::V5, &mut wire).unwrap();
//! conn.handle_bytes(0, &wire);
//! let Some(Event::Connect(connect)) = conn.poll_event() else { panic!() };
//! assert_eq!(connect.client_id, "sensor-1");
//! conn.accept_connect(0, AcceptOptions::new()).unwrap();
//! let mut out = BytesMut::new();
//! assert!(conn.poll_transmit(&mut out) > 0); // CONNACK
//! assert_eq!(conn.poll_timeout(), Some(45_000)); // 1.5 x keep alive
//! ```

mod config;
mod error;
mod event;
mod session;
#[cfg(test)]
mod tests;

pub use config::{AcceptOptions, ServerConfig};
pub use error::{ProtocolViolation, PublishError, UsageError};
pub use event::{DisconnectReason, Event, PublishOutcome};
pub use session::{InflightMessage, OutgoingState, PendingMessage, SessionState};

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use bytes::BytesMut;

use crate::packet::{
    self, Auth, ConnAck, Connect, Disconnect, Packet, PacketType, PingResp, PubAck, PubComp,
    PubRec, PubRel, Publish, SubAck, Subscribe, UnsubAck,
};
use crate::properties::PacketProperties;
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::{PacketId, ProtocolVersion, QoS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for the first packet, which must be CONNECT.
    AwaitingConnect,
    /// CONNECT received; waiting for the broker's accept or reject.
    ConnectPending,
    /// CONNACK with success sent.
    Connected,
    /// Closed; only buffered output remains.
    Closed,
}

/// What the client announced in CONNECT about what it can receive.
#[derive(Debug, Clone, Copy)]
struct ClientLimits {
    receive_maximum: u16,
    maximum_packet_size: u32,
    topic_alias_maximum: u16,
}

/// Per-connection bookkeeping that most idle connections do not need.
#[derive(Debug, Default)]
struct Tracking {
    /// Incoming QoS 1 packet ids awaiting `ack_incoming`.
    incoming_qos1: BTreeSet<u16>,
    /// Incoming QoS 2 packet ids awaiting `ack_incoming` (PUBREC not sent yet).
    incoming_qos2: BTreeSet<u16>,
    incoming_aliases: BTreeMap<u16, String>,
    outgoing_aliases: BTreeMap<String, u16>,
    /// SUBSCRIBE / UNSUBSCRIBE packet ids awaiting the broker, with their filter counts.
    pending_subacks: BTreeMap<u16, usize>,
    pending_unsubacks: BTreeMap<u16, usize>,
}

impl Tracking {
    fn is_empty(&self) -> bool {
        self.incoming_qos1.is_empty()
            && self.incoming_qos2.is_empty()
            && self.incoming_aliases.is_empty()
            && self.outgoing_aliases.is_empty()
            && self.pending_subacks.is_empty()
            && self.pending_unsubacks.is_empty()
    }
}

/// The server side of one client connection: decodes and validates what the client sends,
/// runs the QoS 1/2 flows, flow control, topic aliases and keep alive, and reports to the broker
/// through [`Event`]s. It performs no I/O and reads no clock; see the [module docs](self).
///
/// Time is a `u64` in milliseconds from any monotonic origin, passed as `now`.
#[derive(Debug)]
pub struct ServerConnection {
    config: ServerConfig,
    state: State,
    version: ProtocolVersion,
    recv: BytesMut,
    transmit: VecDeque<Packet>,
    events: VecDeque<Event>,
    session: SessionState,
    client: ClientLimits,
    /// Packet ids and aliases in use; allocated on first use and freed when empty, so an
    /// idle connection does not carry six empty collections.
    tracking: Option<Box<Tracking>>,
    client_keep_alive: u16,
    /// The latest `now` the caller passed in.
    now: u64,
    keep_alive_ms: u64,
    last_activity: u64,
    connect_deadline: u64,
    session_expiry_zero: bool,
}

impl ServerConnection {
    /// A connection whose transport was just established at `now`.
    pub fn new(config: ServerConfig, now: u64) -> Self {
        let connect_deadline = now.saturating_add(config.connect_timeout_ms);
        Self {
            config,
            state: State::AwaitingConnect,
            version: ProtocolVersion::V5,
            recv: BytesMut::new(),
            transmit: VecDeque::new(),
            events: VecDeque::new(),
            session: SessionState::default(),
            client: ClientLimits {
                receive_maximum: u16::MAX,
                maximum_packet_size: u32::MAX,
                topic_alias_maximum: 0,
            },
            tracking: None,
            client_keep_alive: 0,
            now,
            keep_alive_ms: 0,
            last_activity: now,
            connect_deadline,
            session_expiry_zero: true,
        }
    }

    // --- Queries ---------------------------------------------------------------------------

    /// The protocol version, once CONNECT has been received.
    pub fn protocol_version(&self) -> Option<ProtocolVersion> {
        match self.state {
            State::AwaitingConnect => None,
            _ => Some(self.version),
        }
    }

    /// Whether CONNECT was accepted and the connection is not closed.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Whether the connection is closed. Output may still be waiting in `poll_transmit`.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Outgoing QoS 1/2 messages in flight (sent, not completed).
    pub fn inflight_len(&self) -> usize {
        self.session.inflight.len()
    }

    /// Outgoing QoS 1/2 messages waiting for an in-flight slot.
    pub fn pending_len(&self) -> usize {
        self.session.pending.len()
    }

    /// The keep alive in force, in seconds (0 = none), once the connection is accepted.
    pub fn keep_alive(&self) -> u16 {
        (self.keep_alive_ms / 1500) as u16
    }

    // --- Input -----------------------------------------------------------------------------

    /// Processes bytes received from the client at `now`.
    ///
    /// Poll `poll_event`, `poll_transmit` and `poll_timeout` afterwards. Bytes after a CONNECT
    /// are buffered until the broker accepts it; bytes after the connection closed are ignored.
    /// Any received byte counts as activity for keep alive.
    pub fn handle_bytes(&mut self, now: u64, data: &[u8]) {
        if self.state == State::Closed || data.is_empty() {
            return;
        }
        self.now = now;
        self.last_activity = now;
        self.recv.extend_from_slice(data);
        self.process();
    }

    /// Handles the passing of time: keep alive and connect timeouts.
    ///
    /// Call it when the deadline from `poll_timeout` is reached (calling it early is harmless),
    /// then poll `poll_event` and `poll_transmit`.
    pub fn handle_timeout(&mut self, now: u64) {
        self.now = now;
        match self.state {
            State::AwaitingConnect if now >= self.connect_deadline => {
                self.violation(ProtocolViolation::ConnectTimeout);
            }
            State::Connected
                if self.keep_alive_ms > 0
                    && now >= self.last_activity.saturating_add(self.keep_alive_ms) =>
            {
                self.violation(ProtocolViolation::KeepAliveTimeout);
            }
            _ => {}
        }
    }

    /// The transport was closed by the peer or failed.
    pub fn handle_eof(&mut self) {
        if self.state != State::Closed {
            let publish_will = self.state == State::Connected;
            self.close(DisconnectReason::TransportClosed, publish_will);
        }
    }

    // --- Output ----------------------------------------------------------------------------

    /// The next event for the broker.
    ///
    /// Poll after `handle_bytes`, `handle_timeout`, `handle_eof`, `accept_connect` (which
    /// processes buffered bytes) and `disconnect`, until it returns `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() > 0 {
            // Idle connections keep no queue allocation (see `poll_transmit`).
            self.events = VecDeque::new();
        }
        event
    }

    /// Appends every byte waiting to be sent to `buf` and returns how many were appended.
    ///
    /// Poll after any other call. When [`is_closed`](Self::is_closed) is true and this returns
    /// 0, the transport can be closed.
    #[must_use]
    pub fn poll_transmit(&mut self, buf: &mut BytesMut) -> usize {
        let start = buf.len();
        while let Some(packet) = self.transmit.pop_front() {
            // Packets are validated when queued; one that still fails to encode is skipped
            // rather than sent half-written.
            let mark = buf.len();
            if packet.encode(self.version, buf).is_err() {
                buf.truncate(mark);
            }
        }
        if self.transmit.capacity() > 0 {
            // An idle connection should cost its state and nothing more: free the queue's
            // allocation (about 300 bytes) rather than keep it for the next packet.
            self.transmit = VecDeque::new();
        }
        buf.len() - start
    }

    /// When `handle_timeout` must next be called, if ever.
    ///
    /// Poll after any other call.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            State::AwaitingConnect => Some(self.connect_deadline),
            State::Connected if self.keep_alive_ms > 0 => {
                Some(self.last_activity.saturating_add(self.keep_alive_ms))
            }
            _ => None,
        }
    }

    // --- Broker decisions ------------------------------------------------------------------

    /// Accepts the pending CONNECT: sends CONNACK, re-sends the resumed session's in-flight
    /// messages, and processes any bytes the client sent after CONNECT.
    pub fn accept_connect(&mut self, now: u64, options: AcceptOptions) -> Result<(), UsageError> {
        if self.state != State::ConnectPending {
            return Err(UsageError::NoPendingConnect);
        }
        let session_present = options.session.is_some();
        let mut connack = ConnAck::new(session_present, ReasonCode::Success);
        let mut keep_alive = self.client_keep_alive;
        if self.version.is_v5() {
            connack.properties = options.properties.into();
            let p = &mut *connack.properties;
            let c = &self.config;
            if c.receive_maximum != u16::MAX {
                p.receive_maximum = Some(c.receive_maximum);
            }
            p.maximum_packet_size = Some(c.max_packet_size);
            if c.topic_alias_maximum > 0 {
                p.topic_alias_maximum = Some(c.topic_alias_maximum);
            }
            if c.maximum_qos != QoS::ExactlyOnce {
                p.maximum_qos = Some(c.maximum_qos);
            }
            if !c.retain_available {
                p.retain_available = Some(false);
            }
            if !c.wildcard_subscription_available {
                p.wildcard_subscription_available = Some(false);
            }
            if !c.subscription_identifiers_available {
                p.subscription_identifier_available = Some(false);
            }
            if !c.shared_subscription_available {
                p.shared_subscription_available = Some(false);
            }
            if let Some(ka) = c.server_keep_alive {
                p.server_keep_alive = Some(ka);
                keep_alive = ka;
            }
            if let Some(id) = options.assigned_client_identifier {
                p.assigned_client_identifier = Some(id);
            }
        }
        connack.encoded_len(self.version)?;
        self.transmit.push_back(Packet::ConnAck(connack));
        self.state = State::Connected;
        self.now = now;
        self.keep_alive_ms = u64::from(keep_alive) * 1500;
        self.last_activity = now;
        self.session = options.session.unwrap_or_default();
        self.resend_session();
        self.fill_inflight();
        self.process();
        Ok(())
    }

    /// Rejects the pending CONNECT with `reason` (e.g. `NotAuthorized`, `BadUserNameOrPassword`)
    /// and closes the connection. On 3.1.1 the closest CONNACK return code is sent.
    pub fn reject_connect(&mut self, reason: ReasonCode) -> Result<(), UsageError> {
        self.reject_connect_with(reason, None)
    }

    /// Like [`reject_connect`](Self::reject_connect), with a human-readable Reason String for
    /// 5.0 clients (dropped if it would exceed the client's Maximum Packet Size).
    pub fn reject_connect_with(
        &mut self,
        reason: ReasonCode,
        reason_string: Option<String>,
    ) -> Result<(), UsageError> {
        if self.state != State::ConnectPending {
            return Err(UsageError::NoPendingConnect);
        }
        if !reason.is_error() {
            return Err(crate::EncodeError::ReasonCodeNotAllowed(reason).into());
        }
        self.send_connack_error_with(reason, reason_string);
        self.close(DisconnectReason::Server(reason), false);
        Ok(())
    }

    /// Sends an application message to the client at `now`.
    ///
    /// QoS 1/2 messages get a packet identifier and are tracked until acknowledged; when the
    /// client's Receive Maximum (or [`ServerConfig::max_outgoing_inflight`]) is reached they
    /// wait in the pending queue, where their Message Expiry Interval counts down (the broker
    /// accounts for the time the message spent in the broker before this call). The message's
    /// `packet_id`, `dup` and topic alias are managed here and overwritten; on 3.1.1 its
    /// properties are dropped. A message larger than the client's Maximum Packet Size is
    /// dropped, as MQTT 5.0 requires.
    pub fn publish(
        &mut self,
        now: u64,
        mut message: Publish,
    ) -> Result<PublishOutcome, PublishError> {
        if self.state != State::Connected {
            return Err(PublishError::NotConnected(message));
        }
        self.now = self.now.max(now);
        message.dup = false;
        message.properties.topic_alias = None;
        if !self.version.is_v5() {
            message.properties = PacketProperties::new();
        }
        message.packet_id = (message.qos != QoS::AtMostOnce).then_some(PacketId::MAX);
        let size = match message.encoded_len(self.version) {
            Ok(size) => size,
            Err(e) => return Err(PublishError::Invalid(message, e)),
        };
        if size > self.client.maximum_packet_size as usize {
            return Ok(PublishOutcome::DroppedTooLarge);
        }
        if message.qos == QoS::AtMostOnce {
            self.send_publish(message);
            return Ok(PublishOutcome::Sent(None));
        }
        message.packet_id = None;
        if self.session.inflight.len() < self.inflight_limit()
            && self.session.pending.is_empty()
            && let Some(id) = self.start_inflight(message.clone())
        {
            return Ok(PublishOutcome::Sent(Some(id)));
        }
        if self.session.pending.len() >= self.config.max_pending {
            return Err(PublishError::QueueFull(message));
        }
        self.session.pending.push_back(PendingMessage {
            message,
            queued_at: now,
        });
        Ok(PublishOutcome::Queued)
    }

    /// Acknowledges an incoming QoS 1/2 message (from [`Event::Publish`]) once it is durable:
    /// sends PUBACK (QoS 1) or PUBREC (QoS 2) with `Success`.
    pub fn ack_incoming(&mut self, packet_id: PacketId) -> Result<(), UsageError> {
        self.ack_incoming_with(packet_id, ReasonCode::Success)
    }

    /// Like [`ack_incoming`](Self::ack_incoming) with a reason code (5.0), e.g.
    /// `NoMatchingSubscribers`, or an error such as `NotAuthorized` or `QuotaExceeded`, which
    /// ends a QoS 2 flow at PUBREC. On 3.1.1 the reason code is not sent.
    pub fn ack_incoming_with(
        &mut self,
        packet_id: PacketId,
        reason_code: ReasonCode,
    ) -> Result<(), UsageError> {
        if self.state != State::Connected {
            return Err(UsageError::NotConnected);
        }
        let rc = if self.version.is_v5() {
            reason_code
        } else {
            ReasonCode::Success
        };
        let id = packet_id.get();
        if self.tracking().incoming_qos1.contains(&id) {
            if !rc.allowed_in(ReasonContext::PubAck) {
                return Err(crate::EncodeError::ReasonCodeNotAllowed(rc).into());
            }
            self.tracking().incoming_qos1.remove(&id);
            self.send(Packet::PubAck(PubAck::with_reason(packet_id, rc)));
        } else if self.tracking().incoming_qos2.contains(&id) {
            if !rc.allowed_in(ReasonContext::PubRec) {
                return Err(crate::EncodeError::ReasonCodeNotAllowed(rc).into());
            }
            self.tracking().incoming_qos2.remove(&id);
            if !rc.is_error() {
                self.session.incoming_awaiting_pubrel.insert(id);
            }
            self.send(Packet::PubRec(PubRec::with_reason(packet_id, rc)));
        } else {
            return Err(UsageError::UnknownPacketId(id));
        }
        Ok(())
    }

    /// Answers an [`Event::Subscribe`] with one reason code per filter, in order
    /// (`Success`/`GrantedQoS1`/`GrantedQoS2` or an error code).
    pub fn suback(
        &mut self,
        packet_id: PacketId,
        reason_codes: Vec<ReasonCode>,
    ) -> Result<(), UsageError> {
        if self.state != State::Connected {
            return Err(UsageError::NotConnected);
        }
        let expected = *self
            .tracking()
            .pending_subacks
            .get(&packet_id.get())
            .ok_or(UsageError::UnknownPacketId(packet_id.get()))?;
        if expected != reason_codes.len() {
            return Err(UsageError::ReasonCodeCount {
                expected,
                got: reason_codes.len(),
            });
        }
        let suback = SubAck::new(packet_id, reason_codes);
        suback.encoded_len(self.version)?;
        self.tracking().pending_subacks.remove(&packet_id.get());
        self.send(Packet::SubAck(suback));
        Ok(())
    }

    /// Answers an [`Event::Unsubscribe`] with one reason code per filter (5.0; `Success` or
    /// `NoSubscriptionExisted` or an error). On 3.1.1 the codes are checked and not sent.
    pub fn unsuback(
        &mut self,
        packet_id: PacketId,
        reason_codes: Vec<ReasonCode>,
    ) -> Result<(), UsageError> {
        if self.state != State::Connected {
            return Err(UsageError::NotConnected);
        }
        let expected = *self
            .tracking()
            .pending_unsubacks
            .get(&packet_id.get())
            .ok_or(UsageError::UnknownPacketId(packet_id.get()))?;
        if expected != reason_codes.len() {
            return Err(UsageError::ReasonCodeCount {
                expected,
                got: reason_codes.len(),
            });
        }
        let codes = if self.version.is_v5() {
            reason_codes
        } else {
            Vec::new()
        };
        let unsuback = UnsubAck::new(packet_id, codes);
        unsuback.encoded_len(self.version)?;
        self.tracking().pending_unsubacks.remove(&packet_id.get());
        self.send(Packet::UnsubAck(unsuback));
        Ok(())
    }

    /// Sends an AUTH packet (5.0 re-authentication).
    pub fn send_auth(&mut self, auth: Auth) -> Result<(), UsageError> {
        if self.state != State::Connected {
            return Err(UsageError::NotConnected);
        }
        auth.encoded_len(self.version)?;
        self.send(Packet::Auth(auth));
        Ok(())
    }

    /// Closes the connection from the server side: sends DISCONNECT with `reason` on 5.0
    /// (e.g. `SessionTakenOver`, `ServerShuttingDown`; a code DISCONNECT does not allow is sent
    /// as `UnspecifiedError`), nothing on 3.1.1. The will is to be published.
    ///
    /// Before the CONNECT is accepted, use `reject_connect` instead; called then, this closes
    /// the connection without a CONNACK.
    pub fn disconnect(&mut self, reason: ReasonCode) {
        self.disconnect_with(reason, None);
    }

    /// Like [`disconnect`](Self::disconnect), with a Reason String for 5.0 clients.
    pub fn disconnect_with(&mut self, reason: ReasonCode, reason_string: Option<String>) {
        match self.state {
            State::Closed => {}
            State::Connected => {
                self.send_disconnect_with(reason, reason_string);
                self.close(DisconnectReason::Server(reason), true);
            }
            State::AwaitingConnect | State::ConnectPending => {
                self.close(DisconnectReason::Server(reason), false);
            }
        }
    }

    /// Takes the session state out of a closed connection (once; later calls return `None`).
    ///
    /// Returns `None` while the connection is open.
    pub fn take_session(&mut self) -> Option<SessionState> {
        if self.state != State::Closed {
            return None;
        }
        Some(core::mem::take(&mut self.session))
    }

    // --- Internals -------------------------------------------------------------------------

    fn send(&mut self, packet: Packet) {
        self.transmit.push_back(packet);
    }

    fn inflight_limit(&self) -> usize {
        usize::from(
            self.client
                .receive_maximum
                .min(self.config.max_outgoing_inflight),
        )
    }

    /// Decodes and handles as many buffered packets as the state allows.
    fn process(&mut self) {
        loop {
            match self.state {
                State::AwaitingConnect => {
                    let sniffed = packet::sniff_connect_version(&self.recv);
                    match packet::decode_connect(
                        &mut self.recv,
                        self.config.max_packet_size as usize,
                    ) {
                        Ok(Some(connect)) => self.on_connect(connect),
                        Ok(None) => break,
                        Err(e) => {
                            self.on_connect_error(e, sniffed);
                            break;
                        }
                    }
                }
                State::Connected => {
                    let first = self.recv.first().copied();
                    match packet::decode(
                        &mut self.recv,
                        self.version,
                        self.config.max_packet_size as usize,
                    ) {
                        Ok(Some(p)) => self.on_packet(p),
                        Ok(None) => break,
                        Err(_) if first.is_some_and(|b| b >> 4 == PacketType::Connect as u8) => {
                            // A second CONNECT is a protocol error whatever its content.
                            self.violation(ProtocolViolation::UnexpectedPacket(
                                PacketType::Connect,
                            ));
                            break;
                        }
                        Err(e) => {
                            self.violation(e.into());
                            break;
                        }
                    }
                }
                State::ConnectPending | State::Closed => break,
            }
        }
        if self.tracking.as_ref().is_some_and(|t| t.is_empty()) {
            self.tracking = None;
        }
        // Give back the receive buffer once it is empty: an idle connection then holds no
        // buffer at all (a busy one pays one allocation per read, small next to the read).
        if self.recv.is_empty() && self.recv.capacity() > 0 {
            self.recv = BytesMut::new();
        }
    }

    fn on_connect_error(&mut self, error: crate::DecodeError, sniffed: Option<ProtocolVersion>) {
        use crate::DecodeError as E;
        let code = error.reason_code();
        match (&error, sniffed) {
            (E::UnsupportedProtocolVersion(_) | E::InvalidProtocolName, _) => {
                // A 3.1.1-format CONNACK with return code 1 is understood by every version.
                self.version = ProtocolVersion::V311;
                self.send_connack_error(ReasonCode::UnsupportedProtocolVersion);
            }
            (_, Some(ProtocolVersion::V5)) if !matches!(error, E::ExpectedConnect(_)) => {
                self.version = ProtocolVersion::V5;
                self.send_connack_error(code);
            }
            _ => {}
        }
        self.events
            .push_back(Event::ProtocolError(ProtocolViolation::Decode(error)));
        self.close(DisconnectReason::ProtocolError(code), false);
    }

    fn send_connack_error(&mut self, reason: ReasonCode) {
        self.send_connack_error_with(reason, None);
    }

    /// A refusing CONNACK; on 5.0 with `reason_string` as a Reason String, when the client's
    /// Maximum Packet Size leaves room for it.
    fn send_connack_error_with(&mut self, reason: ReasonCode, reason_string: Option<String>) {
        let reason = if reason.allowed_in(ReasonContext::ConnAck) && reason.is_error() {
            reason
        } else {
            ReasonCode::UnspecifiedError
        };
        let mut connack = ConnAck::new(false, reason);
        if self.version.is_v5() {
            connack.properties.reason_string = reason_string;
            if connack
                .encoded_len(self.version)
                .is_ok_and(|n| n > self.client.maximum_packet_size as usize)
            {
                connack.properties.reason_string = None;
            }
        }
        self.send(Packet::ConnAck(connack));
    }

    /// DISCONNECT on 5.0 (nothing on 3.1.1), with a Reason String saying what went wrong
    /// when the client's Maximum Packet Size leaves room for it (5.0 3.14.2.2.3).
    fn send_disconnect_with(&mut self, reason: ReasonCode, reason_string: Option<String>) {
        if self.version.is_v5() {
            let reason = if reason.allowed_in(ReasonContext::Disconnect) {
                reason
            } else {
                ReasonCode::UnspecifiedError
            };
            let mut disconnect = Disconnect::new(reason);
            disconnect.properties.reason_string = reason_string;
            if disconnect
                .encoded_len(self.version)
                .is_ok_and(|n| n > self.client.maximum_packet_size as usize)
            {
                disconnect.properties.reason_string = None;
            }
            self.send(Packet::Disconnect(disconnect));
        }
    }

    fn on_connect(&mut self, connect: Connect) {
        self.version = connect.protocol_version;
        if !self.version.is_v5() && connect.client_id.is_empty() && !connect.clean_start {
            self.send_connack_error(ReasonCode::ClientIdentifierNotValid);
            self.events
                .push_back(Event::ProtocolError(ProtocolViolation::EmptyClientId));
            self.close(
                DisconnectReason::ProtocolError(ReasonCode::ClientIdentifierNotValid),
                false,
            );
            return;
        }
        if self.version.is_v5()
            && let Some(will) = &connect.will
        {
            let refused = if will.qos > self.config.maximum_qos {
                Some(ProtocolViolation::QoSNotSupported)
            } else if will.retain && !self.config.retain_available {
                Some(ProtocolViolation::RetainNotSupported)
            } else {
                None
            };
            if let Some(v) = refused {
                let code = v.reason_code();
                self.send_connack_error(code);
                self.events.push_back(Event::ProtocolError(v));
                self.close(DisconnectReason::ProtocolError(code), false);
                return;
            }
        }
        let p = &connect.properties;
        self.client = ClientLimits {
            receive_maximum: p.receive_maximum.unwrap_or(u16::MAX),
            maximum_packet_size: p.maximum_packet_size.unwrap_or(u32::MAX),
            topic_alias_maximum: if self.config.outgoing_topic_aliases {
                p.topic_alias_maximum.unwrap_or(0)
            } else {
                0
            },
        };
        self.session_expiry_zero = p.session_expiry_interval.unwrap_or(0) == 0;
        self.client_keep_alive = connect.keep_alive;
        self.state = State::ConnectPending;
        self.events.push_back(Event::Connect(Box::new(connect)));
    }

    fn on_packet(&mut self, packet: Packet) {
        match packet {
            Packet::Publish(p) => self.on_publish(p),
            Packet::PubAck(a) => {
                self.on_outgoing_ack(a.packet_id, a.reason_code, PacketType::PubAck)
            }
            Packet::PubRec(a) => {
                self.on_outgoing_ack(a.packet_id, a.reason_code, PacketType::PubRec)
            }
            Packet::PubComp(a) => {
                self.on_outgoing_ack(a.packet_id, a.reason_code, PacketType::PubComp)
            }
            Packet::PubRel(r) => self.on_pubrel(r.packet_id),
            Packet::Subscribe(s) => self.on_subscribe(s),
            Packet::Unsubscribe(u) => {
                self.tracking()
                    .pending_unsubacks
                    .insert(u.packet_id.get(), u.filters.len());
                self.events.push_back(Event::Unsubscribe(u));
            }
            Packet::PingReq(_) => self.send(Packet::PingResp(PingResp)),
            Packet::Disconnect(d) => {
                let expiry = d.properties.session_expiry_interval;
                if self.session_expiry_zero && expiry.is_some_and(|v| v != 0) {
                    self.violation(ProtocolViolation::SessionExpiryChanged);
                    return;
                }
                let publish_will = self.version.is_v5() && d.reason_code != ReasonCode::Success;
                self.close(
                    DisconnectReason::Client {
                        reason_code: d.reason_code,
                        session_expiry_interval: expiry,
                    },
                    publish_will,
                );
            }
            Packet::Auth(a) => self.events.push_back(Event::Auth(a)),
            other => self.violation(ProtocolViolation::UnexpectedPacket(other.packet_type())),
        }
    }

    fn incoming_inflight(&self) -> usize {
        self.tracking
            .as_ref()
            .map_or(0, |t| t.incoming_qos1.len() + t.incoming_qos2.len())
            + self.session.incoming_awaiting_pubrel.len()
    }

    /// The bookkeeping, allocated on first use.
    fn tracking(&mut self) -> &mut Tracking {
        self.tracking.get_or_insert_with(Box::default)
    }

    fn on_publish(&mut self, mut p: Publish) {
        if self.version.is_v5() {
            if p.qos > self.config.maximum_qos {
                return self.violation(ProtocolViolation::QoSNotSupported);
            }
            if p.retain && !self.config.retain_available {
                return self.violation(ProtocolViolation::RetainNotSupported);
            }
            if !p.properties.subscription_identifiers.is_empty() {
                return self.violation(ProtocolViolation::SubscriptionIdentifierInPublish);
            }
            if let Some(alias) = p.properties.topic_alias.take() {
                if alias > self.config.topic_alias_maximum {
                    return self.violation(ProtocolViolation::TopicAliasOutOfRange(alias));
                }
                if p.topic.is_empty() {
                    match self.tracking().incoming_aliases.get(&alias) {
                        Some(topic) => p.topic.clone_from(topic),
                        None => return self.violation(ProtocolViolation::UnknownTopicAlias(alias)),
                    }
                } else {
                    self.tracking()
                        .incoming_aliases
                        .insert(alias, p.topic.clone());
                }
            }
        }
        let Some(id) = p.packet_id else {
            self.events.push_back(Event::Publish(p));
            return;
        };
        let raw = id.get();
        let enforce_max = self.version.is_v5();
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                if self.tracking().incoming_qos1.contains(&raw) {
                    // Re-sent before the broker acknowledged it: already reported.
                    return;
                }
                if enforce_max
                    && self.incoming_inflight() >= usize::from(self.config.receive_maximum)
                {
                    return self.violation(ProtocolViolation::ReceiveMaximumExceeded);
                }
                self.tracking().incoming_qos1.insert(raw);
            }
            QoS::ExactlyOnce => {
                if self.session.incoming_awaiting_pubrel.contains(&raw) {
                    // Already received and acknowledged: acknowledge again, do not re-deliver.
                    self.send(Packet::PubRec(PubRec::new(id)));
                    return;
                }
                if self.tracking().incoming_qos2.contains(&raw) {
                    return;
                }
                if enforce_max
                    && self.incoming_inflight() >= usize::from(self.config.receive_maximum)
                {
                    return self.violation(ProtocolViolation::ReceiveMaximumExceeded);
                }
                self.tracking().incoming_qos2.insert(raw);
            }
        }
        self.events.push_back(Event::Publish(p));
    }

    fn on_pubrel(&mut self, id: PacketId) {
        if self.session.incoming_awaiting_pubrel.remove(&id.get()) {
            self.send(Packet::PubComp(PubComp::new(id)));
        } else if self.tracking().incoming_qos2.contains(&id.get()) {
            // PUBREL before the PUBREC was sent.
            self.violation(ProtocolViolation::UnexpectedPacket(PacketType::PubRel));
        } else {
            let rc = if self.version.is_v5() {
                ReasonCode::PacketIdentifierNotFound
            } else {
                ReasonCode::Success
            };
            self.send(Packet::PubComp(PubComp::with_reason(id, rc)));
        }
    }

    fn on_subscribe(&mut self, s: Subscribe) {
        if !self.config.subscription_identifiers_available
            && !s.properties.subscription_identifiers.is_empty()
        {
            return self.violation(ProtocolViolation::SubscriptionIdentifiersNotSupported);
        }
        self.tracking()
            .pending_subacks
            .insert(s.packet_id.get(), s.filters.len());
        self.events.push_back(Event::Subscribe(s));
    }

    /// PUBACK, PUBREC or PUBCOMP for an outgoing message.
    fn on_outgoing_ack(&mut self, id: PacketId, rc: ReasonCode, kind: PacketType) {
        let Some(index) = self.session.find_inflight(id) else {
            if kind == PacketType::PubRec {
                let rc = if self.version.is_v5() {
                    ReasonCode::PacketIdentifierNotFound
                } else {
                    ReasonCode::Success
                };
                self.send(Packet::PubRel(PubRel::with_reason(id, rc)));
            }
            return;
        };
        let state = self.session.inflight[index].state;
        let complete = match (kind, state) {
            (PacketType::PubAck, OutgoingState::AwaitingPubAck) => true,
            (PacketType::PubComp, OutgoingState::AwaitingPubComp) => true,
            (PacketType::PubRec, OutgoingState::AwaitingPubRec) if rc.is_error() => true,
            (
                PacketType::PubRec,
                OutgoingState::AwaitingPubRec | OutgoingState::AwaitingPubComp,
            ) => {
                self.session.inflight[index].state = OutgoingState::AwaitingPubComp;
                self.send(Packet::PubRel(PubRel::new(id)));
                false
            }
            // An acknowledgement of the wrong kind: ignore it.
            _ => false,
        };
        if complete {
            self.session.inflight.remove(index);
            self.events.push_back(Event::Delivered {
                packet_id: id,
                reason_code: rc,
            });
            self.fill_inflight();
        }
    }

    /// Assigns a packet id to `message`, records it in flight and sends it.
    fn start_inflight(&mut self, mut message: Publish) -> Option<PacketId> {
        let id = self.session.allocate_packet_id()?;
        message.packet_id = Some(id);
        let state = if message.qos == QoS::ExactlyOnce {
            OutgoingState::AwaitingPubRec
        } else {
            OutgoingState::AwaitingPubAck
        };
        self.session.inflight.push_back(InflightMessage {
            packet_id: id,
            message: message.clone(),
            state,
        });
        self.send_publish(message);
        Some(id)
    }

    /// Moves pending messages into free in-flight slots, discarding expired ones.
    fn fill_inflight(&mut self) {
        while self.session.inflight.len() < self.inflight_limit() {
            let Some(PendingMessage {
                mut message,
                queued_at,
            }) = self.session.pending.pop_front()
            else {
                break;
            };
            if !SessionState::age_message(&mut message, queued_at, self.now) {
                continue;
            }
            if !self.version.is_v5() {
                message.properties = PacketProperties::new();
            }
            let mut sized = message.clone();
            sized.packet_id = Some(PacketId::MAX);
            let fits = sized
                .encoded_len(self.version)
                .is_ok_and(|size| size <= self.client.maximum_packet_size as usize);
            if !fits {
                // Too large for this client (or invalid for this version): drop it.
                continue;
            }
            if self.start_inflight(message.clone()).is_none() {
                self.session.pending.push_front(PendingMessage {
                    message,
                    queued_at: self.now,
                });
                break;
            }
        }
    }

    /// Re-sends the in-flight messages of a resumed session.
    fn resend_session(&mut self) {
        let mut resend = Vec::with_capacity(self.session.inflight.len());
        for m in &self.session.inflight {
            resend.push(match m.state {
                OutgoingState::AwaitingPubAck | OutgoingState::AwaitingPubRec => {
                    let mut p = m.message.clone();
                    p.dup = true;
                    if !self.version.is_v5() {
                        // The session may come from a 5.0 connection.
                        p.properties = PacketProperties::new();
                    }
                    Packet::Publish(p)
                }
                OutgoingState::AwaitingPubComp => Packet::PubRel(PubRel::new(m.packet_id)),
            });
        }
        self.transmit.extend(resend);
    }

    /// Queues a PUBLISH, using a topic alias when the client allows it.
    fn send_publish(&mut self, mut p: Publish) {
        if self.version.is_v5() && self.client.topic_alias_maximum > 0 {
            if let Some(&alias) = self.tracking().outgoing_aliases.get(&p.topic) {
                p.properties.topic_alias = Some(alias);
                p.topic.clear();
            } else if let Ok(next) = u16::try_from(self.tracking().outgoing_aliases.len() + 1)
                && next <= self.client.topic_alias_maximum
            {
                self.tracking()
                    .outgoing_aliases
                    .insert(p.topic.clone(), next);
                p.properties.topic_alias = Some(next);
            }
        }
        self.send(Packet::Publish(p));
    }

    /// The client broke the protocol: report it, tell the client (5.0) and close.
    fn violation(&mut self, v: ProtocolViolation) {
        let code = v.reason_code();
        let connected = self.state == State::Connected;
        if connected {
            self.send_disconnect_with(code, Some(v.to_string()));
        }
        self.events.push_back(Event::ProtocolError(v));
        self.close(DisconnectReason::ProtocolError(code), connected);
    }

    fn close(&mut self, reason: DisconnectReason, publish_will: bool) {
        self.state = State::Closed;
        self.recv = BytesMut::new();
        self.tracking = None;
        self.events.push_back(Event::Disconnected {
            reason,
            publish_will,
        });
    }
}
