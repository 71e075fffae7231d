//! The exchange layer (RFC 7252 §4-5): one [`Endpoint`] per UDP socket, server and client
//! side at once.
//!
//! It deduplicates incoming messages by (peer, message ID) and answers duplicates with the
//! reply it already sent, piggybacks responses on the ACK when the application answers in
//! time and otherwise sends an empty ACK and a separate confirmable response, retransmits
//! its own confirmable messages with randomised exponential back-off, matches responses to
//! requests by token, and replaces an unacknowledged notification with a newer one (RFC 7641
//! §4.5.2).
//!
//! ```text
//!  datagram --handle_datagram(now, peer, &[u8])--> Received::{Request, Response, None}
//!  app      --respond / notify / request---------> (queued datagrams)
//!  poll_transmit() -> Transmit    poll_event() -> Event    poll_timeout() / handle_timeout(now)
//! ```

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

use crate::code::{Code, MessageType};
use crate::error::EncodeError;
use crate::message::{Message, MessageWriter, empty};

/// Transmission parameters (RFC 7252 §4.8) and memory bounds.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// Initial retransmission timeout, ms (ACK_TIMEOUT, default 2000).
    pub ack_timeout: u64,
    /// ACK_RANDOM_FACTOR in thousandths (default 1500 = 1.5).
    pub ack_random_factor_permille: u64,
    /// Retransmissions before giving up (MAX_RETRANSMIT, default 4).
    pub max_retransmit: u32,
    /// How long a peer's message IDs are remembered for deduplication, ms
    /// (EXCHANGE_LIFETIME, default 247 s).
    pub exchange_lifetime: u64,
    /// Message IDs remembered per peer (a bound on memory; the newest are kept).
    pub dedup_window: usize,
    /// A confirmable request still unanswered after this long (ms) gets an empty ACK, and
    /// its response then goes out separately as a confirmable message.
    pub separate_response_after: u64,
    /// Seed of the token and jitter generator; give each endpoint a random one.
    pub seed: u64,
    /// Peers remembered at once for deduplication. Messages from further new peers are
    /// dropped (they retransmit) until some fall idle: a flood of datagrams from spoofed
    /// addresses must not grow memory without bound.
    pub max_peers: usize,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            ack_timeout: 2_000,
            ack_random_factor_permille: 1_500,
            max_retransmit: 4,
            exchange_lifetime: 247_000,
            dedup_window: 8,
            separate_response_after: 1_000,
            seed: 0x9e37_79b9_7f4a_7c15,
            max_peers: 100_000,
        }
    }
}

/// A token, 0 to 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Token {
    bytes: [u8; 8],
    len: u8,
}

impl Token {
    /// Copies `bytes`; `None` if longer than 8.
    pub fn new(bytes: &[u8]) -> Option<Token> {
        let mut t = Token::default();
        t.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        t.len = bytes.len() as u8;
        Some(t)
    }

    /// The token bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl core::fmt::Debug for Token {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for b in self.as_slice() {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Names a received request until it is answered with [`Endpoint::respond`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId<P> {
    /// Who sent it.
    pub peer: P,
    /// Its token (also the token of observe notifications for it).
    pub token: Token,
    message_id: u16,
    confirmable: bool,
}

/// What an incoming datagram means to the application.
#[derive(Debug)]
pub enum Received<'a, P> {
    /// A new request: answer it with [`Endpoint::respond`].
    Request {
        /// Pass back to `respond`.
        id: RequestId<P>,
        /// The request.
        message: Message<'a>,
    },
    /// A response or notification for a request sent with [`Endpoint::request`].
    Response {
        /// Who answered.
        peer: P,
        /// The request's token.
        token: Token,
        /// The response.
        message: Message<'a>,
    },
    /// Nothing for the application (an ACK, a duplicate, a ping, a rejected message).
    Nothing,
}

/// What happened to a confirmable message this endpoint sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<P> {
    /// The peer acknowledged it.
    Delivered {
        /// Peer.
        peer: P,
        /// Token of the message.
        token: Token,
    },
    /// The peer rejected it with RST; for a notification, the observer is gone (RFC 7641
    /// §3.6): drop the observation.
    Reset {
        /// Peer.
        peer: P,
        /// Token of the message.
        token: Token,
    },
    /// No acknowledgement after every retransmission.
    TimedOut {
        /// Peer.
        peer: P,
        /// Token of the message.
        token: Token,
    },
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit<P> {
    /// Destination.
    pub peer: P,
    /// The datagram.
    pub data: Vec<u8>,
}

#[derive(Debug)]
enum Reply {
    /// The application has not answered yet.
    Pending,
    /// Not answered yet, but an empty ACK went out.
    PendingAcked,
    /// This went out last (a piggybacked response, an empty ACK): resend it for duplicates.
    Sent(Vec<u8>),
    /// Nothing to resend (non-confirmable).
    Nothing,
}

struct Recent {
    message_id: u16,
    reply: Reply,
}

struct PeerState {
    recent: VecDeque<Recent>,
    last_seen: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Request,
    Notification,
    SeparateResponse,
}

struct Outgoing<P> {
    peer: P,
    token: Token,
    data: Vec<u8>,
    kind: Kind,
    retransmits: u32,
    timeout: u64,
    due: u64,
}

/// The CoAP message layer for one socket. `P` is the peer address type.
pub struct Endpoint<P: Ord + Copy> {
    config: EndpointConfig,
    rng: u64,
    next_message_id: u16,
    peers: BTreeMap<P, PeerState>,
    outgoing: BTreeMap<(P, u16), Outgoing<P>>,
    timers: BTreeSet<(u64, P, u16)>,
    /// Unacknowledged notification per observation, to replace it with a newer one.
    notifications: BTreeMap<(P, Token), u16>,
    /// Requests this endpoint sent and still expects answers to (bool: observing).
    /// Requests this endpoint sent and still expects answers to: (observing, sent at).
    open_requests: BTreeMap<(P, Token), (bool, u64)>,
    ack_deadlines: VecDeque<(u64, P, u16)>,
    next_sweep: u64,
    /// When a full peer table may next be swept early (see `admit`).
    next_full_sweep: u64,
    transmits: VecDeque<Transmit<P>>,
    events: VecDeque<Event<P>>,
}

impl<P: Ord + Copy> Endpoint<P> {
    /// A new endpoint.
    pub fn new(config: EndpointConfig) -> Self {
        let rng = config.seed | 1;
        let mut e = Endpoint {
            config,
            rng,
            next_message_id: 0,
            peers: BTreeMap::new(),
            outgoing: BTreeMap::new(),
            timers: BTreeSet::new(),
            notifications: BTreeMap::new(),
            open_requests: BTreeMap::new(),
            ack_deadlines: VecDeque::new(),
            next_sweep: 0,
            next_full_sweep: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        e.next_message_id = e.random() as u16;
        e
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: jitter and tokens need spread, not cryptographic strength (DTLS
        // protects secured exchanges; plain CoAP tokens are a match key, RFC 7252 §5.3.1).
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn message_id(&mut self) -> u16 {
        let id = self.next_message_id;
        self.next_message_id = self.next_message_id.wrapping_add(1);
        id
    }

    fn sweep_interval(&self) -> u64 {
        (self.config.exchange_lifetime / 16).max(1_000)
    }

    /// Known peers (each remembered for the exchange lifetime after its last message).
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Handles one received datagram.
    pub fn handle_datagram<'a>(&mut self, now: u64, peer: P, data: &'a [u8]) -> Received<'a, P> {
        let message = match Message::decode(data) {
            Ok(m) => m,
            Err(e) => {
                if let Some(rst) = e.reply_with_reset() {
                    self.send(peer, rst.to_vec());
                }
                return Received::Nothing;
            }
        };
        if message.code.is_empty() {
            self.handle_empty(peer, &message);
            return Received::Nothing;
        }
        if message.code.is_request() {
            return self.handle_request(now, peer, message);
        }
        self.handle_response(now, peer, message)
    }

    fn handle_empty(&mut self, peer: P, message: &Message<'_>) {
        match message.mtype {
            // A CoAP ping: answer with RST (RFC 7252 §4.3).
            MessageType::Con => {
                self.send(peer, empty(MessageType::Rst, message.message_id).to_vec())
            }
            MessageType::Ack | MessageType::Rst => {
                let Some(out) = self.outgoing.remove(&(peer, message.message_id)) else {
                    return;
                };
                self.timers.remove(&(out.due, peer, message.message_id));
                if out.kind == Kind::Notification {
                    self.notifications.remove(&(peer, out.token));
                }
                if message.mtype == MessageType::Rst {
                    if out.kind == Kind::Request {
                        self.open_requests.remove(&(peer, out.token));
                    }
                    self.events.push_back(Event::Reset {
                        peer,
                        token: out.token,
                    });
                } else if out.kind != Kind::Request {
                    // An empty ACK to our request means "separate response follows".
                    self.events.push_back(Event::Delivered {
                        peer,
                        token: out.token,
                    });
                }
            }
            MessageType::Non => {}
        }
    }

    /// Whether a message from `peer` can be taken: a known peer's always, a new peer's while
    /// fewer than `max_peers` are remembered. A full table first forgets its idle peers,
    /// at most once a second (the scan is linear).
    fn admit(&mut self, now: u64, peer: P) -> bool {
        if self.peers.len() < self.config.max_peers || self.peers.contains_key(&peer) {
            return true;
        }
        if now >= self.next_full_sweep {
            let lifetime = self.config.exchange_lifetime;
            self.peers
                .retain(|_, p| now.saturating_sub(p.last_seen) < lifetime);
            self.next_full_sweep = now + 1_000;
        }
        self.peers.len() < self.config.max_peers
    }

    /// Remembers `message_id` from `peer`; returns the reply to resend when it is a
    /// duplicate (`Some(None)`: duplicate with nothing to resend).
    fn deduplicate(
        &mut self,
        now: u64,
        peer: P,
        message_id: u16,
        reply: Reply,
    ) -> Option<Option<Vec<u8>>> {
        let window = self.config.dedup_window.max(1);
        if self.peers.is_empty() {
            self.next_sweep = now + self.sweep_interval();
        }
        let state = self.peers.entry(peer).or_insert_with(|| PeerState {
            recent: VecDeque::new(),
            last_seen: now,
        });
        state.last_seen = now;
        if let Some(seen) = state.recent.iter().find(|r| r.message_id == message_id) {
            return Some(match &seen.reply {
                Reply::Sent(bytes) => Some(bytes.clone()),
                Reply::PendingAcked => Some(empty(MessageType::Ack, message_id).to_vec()),
                Reply::Pending | Reply::Nothing => None,
            });
        }
        if state.recent.len() >= window {
            // Forget the oldest answered message; requests still waiting for the
            // application are kept (up to a hard bound) so their answers can piggyback.
            match state
                .recent
                .iter()
                .position(|r| !matches!(r.reply, Reply::Pending | Reply::PendingAcked))
            {
                Some(i) => {
                    state.recent.remove(i);
                }
                None if state.recent.len() >= window * 4 => {
                    state.recent.pop_front();
                }
                None => {}
            }
        }
        state.recent.push_back(Recent { message_id, reply });
        None
    }

    fn handle_request<'a>(&mut self, now: u64, peer: P, message: Message<'a>) -> Received<'a, P> {
        let confirmable = match message.mtype {
            MessageType::Con => true,
            MessageType::Non => false,
            // A request in an ACK or RST is a format error; nothing sensible to answer.
            MessageType::Ack | MessageType::Rst => return Received::Nothing,
        };
        let reply = if confirmable {
            Reply::Pending
        } else {
            Reply::Nothing
        };
        if !self.admit(now, peer) {
            return Received::Nothing;
        }
        if let Some(resend) = self.deduplicate(now, peer, message.message_id, reply) {
            if let Some(bytes) = resend {
                self.send(peer, bytes);
            }
            return Received::Nothing;
        }
        let Some(token) = Token::new(message.token) else {
            return Received::Nothing;
        };
        if confirmable {
            self.ack_deadlines.push_back((
                now + self.config.separate_response_after,
                peer,
                message.message_id,
            ));
        }
        Received::Request {
            id: RequestId {
                peer,
                token,
                message_id: message.message_id,
                confirmable,
            },
            message,
        }
    }

    fn handle_response<'a>(&mut self, now: u64, peer: P, message: Message<'a>) -> Received<'a, P> {
        let Some(token) = Token::new(message.token) else {
            return Received::Nothing;
        };
        match message.mtype {
            MessageType::Ack => {
                if let Some(out) = self.outgoing.remove(&(peer, message.message_id)) {
                    self.timers.remove(&(out.due, peer, message.message_id));
                }
            }
            MessageType::Con | MessageType::Non => {
                let ack = (message.mtype == MessageType::Con)
                    .then(|| empty(MessageType::Ack, message.message_id).to_vec());
                let known = self.open_requests.contains_key(&(peer, token));
                let reply = match (&ack, known) {
                    (Some(a), true) => Reply::Sent(a.clone()),
                    _ => Reply::Nothing,
                };
                // Answers to this endpoint's own requests always get in.
                if !known && !self.admit(now, peer) {
                    return Received::Nothing;
                }
                if let Some(resend) = self.deduplicate(now, peer, message.message_id, reply) {
                    if let Some(bytes) = resend {
                        self.send(peer, bytes);
                    }
                    return Received::Nothing;
                }
                if !known {
                    // Unknown token, e.g. a notification after we stopped observing:
                    // RST tells the sender to stop (RFC 7641 §3.6).
                    self.send(peer, empty(MessageType::Rst, message.message_id).to_vec());
                    return Received::Nothing;
                }
                if let Some(ack) = ack {
                    self.send(peer, ack);
                }
            }
            MessageType::Rst => return Received::Nothing,
        }
        match self.open_requests.get(&(peer, token)) {
            None => Received::Nothing,
            Some((observing, _)) => {
                // One answer ends a plain request; an observation stays open while the
                // responses carry Observe.
                if !*observing || message.observe().is_none() || !message.code.is_success() {
                    self.open_requests.remove(&(peer, token));
                    self.forget_outgoing_request(peer, token);
                }
                Received::Response {
                    peer,
                    token,
                    message,
                }
            }
        }
    }

    fn forget_outgoing_request(&mut self, peer: P, token: Token) {
        let stale: Vec<(P, u16)> = self
            .outgoing
            .range((peer, 0)..=(peer, u16::MAX))
            .filter(|(_, o)| o.kind == Kind::Request && o.token == token)
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            if let Some(out) = self.outgoing.remove(&key) {
                self.timers.remove(&(out.due, key.0, key.1));
            }
        }
    }

    /// Answers a request. Piggybacked on the ACK when the request was confirmable and no
    /// empty ACK went out yet; otherwise a separate response (confirmable for a
    /// confirmable request, retransmitted until acknowledged). `build` adds options and
    /// payload.
    pub fn respond<F>(
        &mut self,
        now: u64,
        id: &RequestId<P>,
        code: Code,
        build: F,
    ) -> Result<(), EncodeError>
    where
        F: FnOnce(&mut MessageWriter<'_>) -> Result<(), EncodeError>,
    {
        let state = self
            .peers
            .get_mut(&id.peer)
            .and_then(|p| p.recent.iter_mut().find(|r| r.message_id == id.message_id));
        let piggyback =
            id.confirmable && matches!(state.as_ref().map(|r| &r.reply), Some(Reply::Pending));
        let mut data = Vec::new();
        if piggyback {
            let mut w = MessageWriter::new(
                &mut data,
                MessageType::Ack,
                code,
                id.message_id,
                id.token.as_slice(),
            )?;
            build(&mut w)?;
            if let Some(recent) = state {
                recent.reply = Reply::Sent(data.clone());
            }
            self.send(id.peer, data);
            return Ok(());
        }
        if let Some(recent) = state
            && id.confirmable
        {
            recent.reply = Reply::Sent(empty(MessageType::Ack, id.message_id).to_vec());
        }
        let mtype = if id.confirmable {
            MessageType::Con
        } else {
            MessageType::Non
        };
        let message_id = self.message_id();
        let mut w = MessageWriter::new(&mut data, mtype, code, message_id, id.token.as_slice())?;
        build(&mut w)?;
        if id.confirmable {
            self.track(
                now,
                id.peer,
                id.token,
                message_id,
                data,
                Kind::SeparateResponse,
            );
        } else {
            self.send(id.peer, data);
        }
        Ok(())
    }

    /// Sends an observe notification (or any unsolicited response) with `token`. A newer
    /// confirmable notification replaces one still unacknowledged, which keeps its
    /// retransmission state (RFC 7641 §4.5.2). Watch [`Event::Reset`] and
    /// [`Event::TimedOut`] to drop the observation.
    pub fn notify<F>(
        &mut self,
        now: u64,
        peer: P,
        token: Token,
        confirmable: bool,
        code: Code,
        build: F,
    ) -> Result<(), EncodeError>
    where
        F: FnOnce(&mut MessageWriter<'_>) -> Result<(), EncodeError>,
    {
        let message_id = self.message_id();
        let mtype = if confirmable {
            MessageType::Con
        } else {
            MessageType::Non
        };
        let mut data = Vec::new();
        let mut w = MessageWriter::new(&mut data, mtype, code, message_id, token.as_slice())?;
        build(&mut w)?;
        if !confirmable {
            self.send(peer, data);
            return Ok(());
        }
        if let Some(old_id) = self.notifications.get(&(peer, token)).copied()
            && let Some(mut old) = self.outgoing.remove(&(peer, old_id))
        {
            // Same schedule, newer content under a new message ID.
            self.timers.remove(&(old.due, peer, old_id));
            old.data = data.clone();
            self.timers.insert((old.due, peer, message_id));
            self.outgoing.insert((peer, message_id), old);
            self.notifications.insert((peer, token), message_id);
            self.send(peer, data);
            return Ok(());
        }
        self.notifications.insert((peer, token), message_id);
        self.track(now, peer, token, message_id, data, Kind::Notification);
        Ok(())
    }

    /// Sends a confirmable notification that is an event, not a state: it is never replaced
    /// by a later one (each is retransmitted until acknowledged), so none is lost. RPC calls
    /// delivered over observe need this.
    pub fn notify_event<F>(
        &mut self,
        now: u64,
        peer: P,
        token: Token,
        code: Code,
        build: F,
    ) -> Result<(), EncodeError>
    where
        F: FnOnce(&mut MessageWriter<'_>) -> Result<(), EncodeError>,
    {
        let message_id = self.message_id();
        let mut data = Vec::new();
        let mut w = MessageWriter::new(
            &mut data,
            MessageType::Con,
            code,
            message_id,
            token.as_slice(),
        )?;
        build(&mut w)?;
        self.track(now, peer, token, message_id, data, Kind::Notification);
        Ok(())
    }

    /// Sends a request with a fresh random token (returned). With `observe` the endpoint
    /// keeps accepting notifications for it until [`Endpoint::cancel`].
    pub fn request<F>(
        &mut self,
        now: u64,
        peer: P,
        confirmable: bool,
        code: Code,
        observe: bool,
        build: F,
    ) -> Result<Token, EncodeError>
    where
        F: FnOnce(&mut MessageWriter<'_>) -> Result<(), EncodeError>,
    {
        let mut token = self.random().to_be_bytes();
        // Avoid colliding with an open request to the same peer.
        while self
            .open_requests
            .contains_key(&(peer, Token::new(&token).unwrap_or_default()))
        {
            token = self.random().to_be_bytes();
        }
        let token = Token::new(&token).unwrap_or_default();
        let message_id = self.message_id();
        let mtype = if confirmable {
            MessageType::Con
        } else {
            MessageType::Non
        };
        let mut data = Vec::new();
        let mut w = MessageWriter::new(&mut data, mtype, code, message_id, token.as_slice())?;
        build(&mut w)?;
        self.open_requests.insert((peer, token), (observe, now));
        if self.next_sweep <= now {
            self.next_sweep = now + self.sweep_interval();
        }
        if confirmable {
            self.track(now, peer, token, message_id, data, Kind::Request);
        } else {
            self.send(peer, data);
        }
        Ok(token)
    }

    /// Stops expecting answers for a request (later notifications get RST).
    pub fn cancel(&mut self, peer: P, token: Token) {
        self.open_requests.remove(&(peer, token));
        self.forget_outgoing_request(peer, token);
    }

    /// Drops every message still being retransmitted to `peer` with `token`.
    pub fn forget_notifications(&mut self, peer: P, token: Token) {
        if let Some(id) = self.notifications.remove(&(peer, token))
            && let Some(out) = self.outgoing.remove(&(peer, id))
        {
            self.timers.remove(&(out.due, peer, id));
        }
    }

    fn track(
        &mut self,
        now: u64,
        peer: P,
        token: Token,
        message_id: u16,
        data: Vec<u8>,
        kind: Kind,
    ) {
        let spread = self.config.ack_timeout
            * self.config.ack_random_factor_permille.saturating_sub(1000)
            / 1000;
        let timeout = self.config.ack_timeout
            + if spread > 0 {
                self.random() % spread
            } else {
                0
            };
        let due = now + timeout;
        self.timers.insert((due, peer, message_id));
        self.outgoing.insert(
            (peer, message_id),
            Outgoing {
                peer,
                token,
                data: data.clone(),
                kind,
                retransmits: 0,
                timeout,
                due,
            },
        );
        self.send(peer, data);
    }

    fn send(&mut self, peer: P, data: Vec<u8>) {
        self.transmits.push_back(Transmit { peer, data });
    }

    /// Retransmits, sends overdue empty ACKs and forgets idle peers. Call when
    /// [`Endpoint::poll_timeout`] is reached.
    pub fn handle_timeout(&mut self, now: u64) {
        while let Some(&(deadline, peer, message_id)) = self.ack_deadlines.front() {
            if deadline > now {
                break;
            }
            self.ack_deadlines.pop_front();
            let pending = self
                .peers
                .get_mut(&peer)
                .and_then(|p| p.recent.iter_mut().find(|r| r.message_id == message_id));
            if let Some(recent) = pending
                && matches!(recent.reply, Reply::Pending)
            {
                recent.reply = Reply::PendingAcked;
                self.send(peer, empty(MessageType::Ack, message_id).to_vec());
            }
        }
        while let Some(&(due, peer, message_id)) = self.timers.first() {
            if due > now {
                break;
            }
            self.timers.pop_first();
            let Some(out) = self.outgoing.get_mut(&(peer, message_id)) else {
                continue;
            };
            if out.retransmits >= self.config.max_retransmit {
                if let Some(out) = self.outgoing.remove(&(peer, message_id)) {
                    match out.kind {
                        Kind::Request => {
                            self.open_requests.remove(&(peer, out.token));
                        }
                        Kind::Notification => {
                            self.notifications.remove(&(peer, out.token));
                        }
                        Kind::SeparateResponse => {}
                    }
                    self.events.push_back(Event::TimedOut {
                        peer: out.peer,
                        token: out.token,
                    });
                }
                continue;
            }
            out.retransmits += 1;
            out.timeout *= 2;
            out.due = now + out.timeout;
            let (due, data) = (out.due, out.data.clone());
            self.timers.insert((due, peer, message_id));
            self.send(peer, data);
        }
        if now >= self.next_sweep {
            let lifetime = self.config.exchange_lifetime;
            self.peers
                .retain(|_, p| now.saturating_sub(p.last_seen) < lifetime);
            // A request acknowledged empty whose separate response never came (the peer
            // rebooted) would wait for ever: give up after the exchange lifetime.
            let stale: Vec<(P, Token)> = self
                .open_requests
                .iter()
                .filter(|(_, (observing, sent))| {
                    !*observing && now.saturating_sub(*sent) >= lifetime
                })
                .map(|(k, _)| *k)
                .collect();
            for (peer, token) in stale {
                self.open_requests.remove(&(peer, token));
                self.forget_outgoing_request(peer, token);
                self.events.push_back(Event::TimedOut { peer, token });
            }
            self.next_sweep = now + self.sweep_interval();
        }
    }

    /// When to call [`Endpoint::handle_timeout`] next (ms), if anything is waiting.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<u64> {
        let mut next = self.ack_deadlines.front().map(|d| d.0);
        if let Some(t) = self.timers.first() {
            next = Some(next.map_or(t.0, |n| n.min(t.0)));
        }
        if !self.peers.is_empty() || !self.open_requests.is_empty() {
            next = Some(next.map_or(self.next_sweep, |n| n.min(self.next_sweep)));
        }
        next
    }

    /// The next datagram to send. Poll after every other call until `None`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit<P>> {
        self.transmits.pop_front()
    }

    /// The next delivery outcome of a confirmable message.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event<P>> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests;
