//! One event-loop thread: a mio poll over its listeners and a slab of connections.
//!
//! An idle connection costs its socket, a slab slot and its [`ServerConnection`]; it owns no
//! read or write buffer. Reads go through one scratch buffer per worker, and writes are encoded
//! into one shared output buffer and written at once; only bytes the socket would not take are
//! copied into the connection.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use strata_proto_mqtt::packet::{Connect, Publish, Subscribe, Unsubscribe, Will};
use strata_proto_mqtt::topic::SharedFilter;
use strata_proto_mqtt::{
    AcceptOptions, DisconnectReason, Event, PacketId, QoS, ReasonCode, RetainHandling,
    ServerConfig, ServerConnection,
};

use crate::hooks::{Action, AuthDecision, AuthRequest, ClientInfo, Disposition, Reply};
use crate::router::{ConnRef, Delivery, SubscriptionRefused, will_message};
use crate::shared::{Command, Shared};
use crate::topic_tree::SessionKey;
use crate::transport::Transport;

/// Moves everything `conn` has to send into `out` as wire bytes (through its transport, if
/// any) and returns how many bytes were appended. `scratch` holds the plaintext meanwhile.
fn take_output(conn: &mut Conn, out: &mut BytesMut, scratch: &mut BytesMut) -> usize {
    match conn.transport.as_mut() {
        None => conn.proto.poll_transmit(out),
        Some(transport) => {
            scratch.clear();
            let _ = conn.proto.poll_transmit(scratch);
            let before = out.len();
            if let Err(e) = transport.encode(scratch, out) {
                // Encoding into memory cannot fail short of a rustls bug; end the connection
                // rather than send a broken stream.
                tracing::warn!(peer = %conn.peer, error = %e, "TLS encoding failed");
                conn.proto.handle_eof();
            }
            out.len() - before
        }
    }
}

/// What a 5.0 client is told when its CONNECT is refused: what to do next.
fn refusal_text(reason: ReasonCode) -> Option<String> {
    let text = match reason {
        ReasonCode::BadUserNameOrPassword => {
            "unknown or revoked credentials: use a current device access token as the user \
             name or password"
        }
        ReasonCode::NotAuthorized => {
            "credentials needed: a device access token as user name or password, or a \
             registered client certificate (anonymous access is off)"
        }
        ReasonCode::ServerUnavailable => "the server is starting or stopping: try again",
        _ => return None,
    };
    Some(text.to_string())
}

pub(crate) const WAKER: Token = Token(usize::MAX);
const LISTENER_BASE: usize = usize::MAX - 1024;
const SCRATCH_BYTES: usize = 64 * 1024;
/// Reads per connection and readiness event before the others get a turn: a client that
/// sends without pause must not starve the rest of its worker (edge-triggered readiness, so
/// a connection cut short is remembered in `read_again`).
const READS_PER_TURN: usize = 2;
/// Unsent bytes above which QoS 0 messages to a connection are dropped (a slow consumer),
/// as Mosquitto does; QoS 1/2 messages wait in the session's bounded queue instead.
const SLOW_CONSUMER_BYTES: usize = 1024 * 1024;
/// Commands queued for another worker above which QoS 0 deliveries to it are dropped: a
/// worker that cannot keep up must not have its inbox (and the CONNACKs and acknowledgements
/// queued in it) buried under messages.
const MAX_REMOTE_BACKLOG: usize = 64 * 1024;
/// Messages of one connection the platform may be consuming at once (the device API): QoS 0
/// ones, and for 3.1.1 clients (which have no Receive Maximum) QoS 1/2 ones too. At this
/// count reading from the client pauses until the platform catches up, so TCP slows the
/// client down; one read already taken (64 KiB) is still handled, so this bounds the backlog
/// at 64 plus one read.
const MAX_CONSUMING: u32 = 64;

/// What a listener's connections speak under MQTT.
#[derive(Debug, Clone)]
pub enum ListenerKind {
    /// MQTT directly over TCP.
    Tcp,
    /// MQTT over TLS.
    Tls(Arc<rustls::ServerConfig>),
    /// MQTT over WebSocket (path `/mqtt`).
    WebSocket,
    /// MQTT over WebSocket over TLS (path `/mqtt`).
    SecureWebSocket(Arc<rustls::ServerConfig>),
}

impl ListenerKind {
    /// The URL scheme clients use for it.
    pub fn scheme(&self) -> &'static str {
        match self {
            ListenerKind::Tcp => "mqtt",
            ListenerKind::Tls(_) => "mqtts",
            ListenerKind::WebSocket => "ws",
            ListenerKind::SecureWebSocket(_) => "wss",
        }
    }
}

/// A listening socket of one worker and what its connections speak.
#[derive(Debug)]
pub struct Listener {
    socket: TcpListener,
    kind: ListenerKind,
}

impl Listener {
    pub(crate) fn new(socket: TcpListener, kind: ListenerKind) -> Self {
        Self { socket, kind }
    }
}

struct Conn {
    socket: TcpStream,
    /// TLS (or other framing) between the socket and `proto`; `None` for plain TCP.
    transport: Option<Box<Transport>>,
    peer: SocketAddr,
    proto: ServerConnection,
    generation: u64,
    session: Option<SessionKey>,
    client: Option<ClientInfo>,
    /// The CONNECT waiting for the authentication hook.
    connect: Option<Box<Connect>>,
    /// Boxed: most clients have none, and an idle connection should stay small.
    will: Option<Box<Will>>,
    /// Bytes the socket did not take yet.
    unsent: BytesMut,
    writable_registered: bool,
    deadline: Option<u64>,
    dirty: bool,
    /// In `read_again` (so it is queued once).
    read_queued: bool,
    /// Messages handed to the platform and not answered yet (see `MAX_CONSUMING`).
    consuming: u32,
    /// The publish rate limit's bucket, when a limit is configured.
    bucket: Option<Box<Bucket>>,
    closed: bool,
}

/// A token bucket for the per-client publish rate limit. Tokens may go below zero (a read
/// can carry many PUBLISH packets); reading from the client then pauses until the bucket is
/// back at zero, so TCP flow control slows the client down and nothing is dropped.
struct Bucket {
    tokens: f64,
    at: u64,
    /// Waiting in `Worker::throttled`.
    paused: bool,
}

impl Bucket {
    fn refill(&mut self, now: u64, rate: u32, burst: u32) {
        let elapsed = now.saturating_sub(self.at) as f64 / 1000.0;
        self.tokens = (self.tokens + elapsed * f64::from(rate)).min(f64::from(burst.max(1)));
        self.at = now;
    }

    /// Milliseconds until the bucket is back at zero (0: reading may go on).
    fn wait_ms(&self, rate: u32) -> u64 {
        if self.tokens >= 0.0 || rate == 0 {
            0
        } else {
            ((-self.tokens) * 1000.0 / f64::from(rate)).ceil() as u64
        }
    }
}

/// Counters flushed into `metrics` once a second.
#[derive(Default)]
struct Counters {
    received: u64,
    sent: u64,
    dropped: u64,
    refused_connections: u64,
    throttled: u64,
    /// Reading paused because the platform was consuming `MAX_CONSUMING` messages.
    consume_paused: u64,
}

/// An event-loop thread of the broker; run it with [`Worker::run`].
pub struct Worker {
    index: usize,
    poll: Poll,
    listeners: Vec<Listener>,
    conns: Slab<Conn>,
    shared: Arc<Shared>,
    proto_config: ServerConfig,
    epoch: Instant,
    scratch: Vec<u8>,
    /// Application bytes a transport decoded from `scratch`.
    plain: Vec<u8>,
    out: BytesMut,
    /// Wire bytes a transport encoded from `out`.
    wire: BytesMut,
    commands: Vec<Command>,
    dirty: Vec<usize>,
    timers: BinaryHeap<Reverse<(u64, usize, u64)>>,
    next_generation: u64,
    deliveries: Vec<Delivery>,
    remote: Vec<Vec<Command>>,
    counters: Counters,
    last_tick: u64,
    /// Connections that still had bytes to read when their turn ended.
    read_again: Vec<usize>,
    /// Connections paused by the publish rate limit: (resume at, token, generation).
    throttled: BinaryHeap<Reverse<(u64, usize, u64)>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("index", &self.index)
            .field("connections", &self.conns.len())
            .finish_non_exhaustive()
    }
}

impl Worker {
    pub(crate) fn new(
        index: usize,
        poll: Poll,
        listeners: Vec<Listener>,
        shared: Arc<Shared>,
        proto_config: ServerConfig,
        epoch: Instant,
    ) -> io::Result<Self> {
        let mut listeners = listeners;
        for (i, listener) in listeners.iter_mut().enumerate() {
            poll.registry().register(
                &mut listener.socket,
                Token(LISTENER_BASE + i),
                Interest::READABLE,
            )?;
        }
        let workers = shared.inboxes.len();
        Ok(Self {
            index,
            poll,
            listeners,
            // Reserved up front for the same reason as the router's session table.
            conns: Slab::with_capacity(
                shared
                    .config
                    .max_connections
                    .min(crate::MAX_RESERVED_CONNECTIONS),
            ),
            shared,
            proto_config,
            epoch,
            scratch: vec![0; SCRATCH_BYTES],
            plain: Vec::new(),
            out: BytesMut::with_capacity(SCRATCH_BYTES),
            wire: BytesMut::new(),
            commands: Vec::new(),
            dirty: Vec::new(),
            timers: BinaryHeap::new(),
            next_generation: 1,
            deliveries: Vec::new(),
            remote: (0..workers).map(|_| Vec::new()).collect(),
            counters: Counters::default(),
            last_tick: 0,
            read_again: Vec::new(),
            throttled: BinaryHeap::new(),
        })
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Runs the event loop until the broker shuts down.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let now = self.now();
            let next = self
                .timers
                .peek()
                .map(|Reverse((t, _, _))| t.saturating_sub(now))
                .unwrap_or(1000)
                .min(1000);
            // Connections cut short last turn are read again at once.
            let next = if self.read_again.is_empty() { next } else { 0 };
            let next = match self.throttled.peek() {
                Some(Reverse((due, _, _))) => next.min(due.saturating_sub(now)),
                None => next,
            };
            if let Err(e) = self
                .poll
                .poll(&mut events, Some(Duration::from_millis(next)))
            {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let mut shutdown = false;
            for event in events.iter() {
                match event.token() {
                    WAKER => shutdown |= self.drain_inbox(),
                    Token(t) if t >= LISTENER_BASE => self.accept(t - LISTENER_BASE),
                    Token(t) => {
                        let readable =
                            event.is_readable() || event.is_read_closed() || event.is_error();
                        self.on_socket(t, readable, event.is_writable());
                    }
                }
            }
            for token in std::mem::take(&mut self.read_again) {
                if let Some(conn) = self.conns.get_mut(token) {
                    conn.read_queued = false;
                    self.read(token);
                }
            }
            let now = self.now();
            self.fire_timers(now);
            while let Some(&Reverse((due, token, generation))) = self.throttled.peek() {
                if due > now {
                    break;
                }
                self.throttled.pop();
                if let Some(conn) = self.conns.get_mut(token)
                    && conn.generation == generation
                {
                    if let Some(bucket) = conn.bucket.as_mut() {
                        bucket.paused = false;
                    }
                    self.read(token);
                }
            }
            if now >= self.last_tick + 1000 {
                self.last_tick = now;
                self.tick(now);
            }
            self.flush_dirty();
            self.send_remote();
            if shutdown || self.shared.is_shutting_down() {
                self.shut_down();
                return Ok(());
            }
        }
    }

    fn accept(&mut self, listener: usize) {
        loop {
            let Some(l) = self.listeners.get(listener) else {
                return;
            };
            let kind = l.kind.clone();
            let (mut socket, peer) = match l.socket.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // Out of file descriptors and the like: try again on the next event.
                    tracing::warn!(error = %e, "accept failed");
                    return;
                }
            };
            let open = self.shared.connections.fetch_add(1, Ordering::Relaxed);
            if open >= self.shared.config.max_connections {
                self.shared.connections.fetch_sub(1, Ordering::Relaxed);
                self.counters.refused_connections += 1;
                drop(socket);
                continue;
            }
            let _ = socket.set_nodelay(true);
            let layers = match kind {
                ListenerKind::Tcp => None,
                ListenerKind::Tls(config) => Some(Transport::new(Some(config), false)),
                ListenerKind::WebSocket => Some(Transport::new(None, true)),
                ListenerKind::SecureWebSocket(config) => Some(Transport::new(Some(config), true)),
            };
            let transport = match layers.transpose() {
                Ok(t) => t.map(Box::new),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start TLS for a connection");
                    self.shared.connections.fetch_sub(1, Ordering::Relaxed);
                    continue;
                }
            };
            let entry = self.conns.vacant_entry();
            let token = entry.key();
            if let Err(e) =
                self.poll
                    .registry()
                    .register(&mut socket, Token(token), Interest::READABLE)
            {
                tracing::warn!(error = %e, "cannot register a connection");
                self.shared.connections.fetch_sub(1, Ordering::Relaxed);
                continue;
            }
            let generation = self.next_generation;
            self.next_generation += 1;
            let now = self.epoch.elapsed().as_millis() as u64;
            entry.insert(Conn {
                socket,
                transport,
                peer,
                proto: ServerConnection::new(self.proto_config.clone(), now),
                generation,
                session: None,
                client: None,
                connect: None,
                will: None,
                unsent: BytesMut::new(),
                writable_registered: false,
                deadline: None,
                dirty: false,
                read_queued: false,
                consuming: 0,
                bucket: (self.shared.config.max_publish_rate > 0).then(|| {
                    Box::new(Bucket {
                        tokens: f64::from(self.shared.config.publish_burst.max(1)),
                        at: now,
                        paused: false,
                    })
                }),
                closed: false,
            });
            self.update_deadline(token);
        }
    }

    fn on_socket(&mut self, token: usize, readable: bool, writable: bool) {
        if readable {
            self.read(token);
        }
        if writable {
            self.mark_dirty(token);
        }
    }

    fn read(&mut self, token: usize) {
        for turn in 0.. {
            if turn == READS_PER_TURN {
                if let Some(conn) = self.conns.get_mut(token)
                    && !conn.read_queued
                {
                    conn.read_queued = true;
                    self.read_again.push(token);
                }
                return;
            }
            let now = self.now();
            let Some(conn) = self.conns.get_mut(token) else {
                return;
            };
            // While the authentication hook decides, leave further bytes in the socket (the
            // state machine would buffer them without bound); reading resumes after.
            if conn.closed || conn.proto.is_closed() || conn.connect.is_some() {
                return;
            }
            // `on_consumed` reads again once the platform caught up.
            if conn.consuming >= MAX_CONSUMING {
                return;
            }
            if let Some(bucket) = conn.bucket.as_mut() {
                if bucket.paused {
                    return;
                }
                let (rate, burst) = (
                    self.shared.config.max_publish_rate,
                    self.shared.config.publish_burst,
                );
                bucket.refill(now, rate, burst);
                let wait = bucket.wait_ms(rate);
                if wait > 0 {
                    bucket.paused = true;
                    self.throttled
                        .push(Reverse((now + wait, token, conn.generation)));
                    self.counters.throttled += 1;
                    return;
                }
            }
            match conn.socket.read(&mut self.scratch) {
                Ok(0) => {
                    conn.proto.handle_eof();
                    self.process(token);
                    return;
                }
                Ok(n) => match conn.transport.as_mut() {
                    None => {
                        conn.proto.handle_bytes(now, &self.scratch[..n]);
                        self.process(token);
                    }
                    Some(transport) => {
                        self.plain.clear();
                        match transport.decode(&self.scratch[..n], &mut self.plain) {
                            Ok(received) => {
                                conn.proto.handle_bytes(now, &self.plain);
                                if received.closed {
                                    conn.proto.handle_eof();
                                }
                            }
                            Err(e) => {
                                // What the layer queued (a TLS alert, an HTTP refusal, a
                                // WebSocket close) goes out with the final flush.
                                tracing::debug!(peer = %conn.peer, error = %e, "transport failed");
                                conn.proto.handle_eof();
                            }
                        }
                        // Handshake messages may be waiting even without MQTT output.
                        self.process(token);
                    }
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    conn.proto.handle_eof();
                    self.process(token);
                    return;
                }
            }
        }
    }

    /// Handles every event the connection has ready, then schedules a flush.
    fn process(&mut self, token: usize) {
        loop {
            let Some(event) = self.conns.get_mut(token).and_then(|c| c.proto.poll_event()) else {
                break;
            };
            self.on_event(token, event);
        }
        self.update_deadline(token);
        self.mark_dirty(token);
    }

    fn mark_dirty(&mut self, token: usize) {
        if let Some(conn) = self.conns.get_mut(token)
            && !conn.dirty
        {
            conn.dirty = true;
            self.dirty.push(token);
        }
    }

    fn update_deadline(&mut self, token: usize) {
        if let Some(conn) = self.conns.get_mut(token) {
            let deadline = conn.proto.poll_timeout();
            if deadline != conn.deadline {
                conn.deadline = deadline;
                if let Some(d) = deadline {
                    self.timers.push(Reverse((d, token, conn.generation)));
                }
            }
        }
    }

    fn fire_timers(&mut self, now: u64) {
        while let Some(&Reverse((due, token, generation))) = self.timers.peek() {
            if due > now {
                break;
            }
            self.timers.pop();
            let Some(conn) = self.conns.get_mut(token) else {
                continue;
            };
            if conn.generation != generation || conn.deadline != Some(due) {
                continue;
            }
            if conn.consuming >= MAX_CONSUMING {
                // The broker is not reading, not the client silent: its PINGREQs wait in
                // the socket. Its keep-alive is judged once reading resumes.
                let again = now + 1000;
                conn.deadline = Some(again);
                self.timers.push(Reverse((again, token, generation)));
                continue;
            }
            conn.deadline = None;
            conn.proto.handle_timeout(now);
            self.process(token);
        }
    }

    fn on_event(&mut self, token: usize, event: Event) {
        match event {
            Event::Connect(connect) => self.on_connect(token, connect),
            Event::Publish(publish) => self.on_publish(token, publish),
            Event::Subscribe(subscribe) => self.on_subscribe(token, subscribe),
            Event::Unsubscribe(unsubscribe) => self.on_unsubscribe(token, unsubscribe),
            Event::Delivered { .. } => {}
            Event::Auth(_) => {
                // CONNECTs with an authentication method are refused, so no connection has
                // one: AUTH is a protocol error (5.0 4.12.0-1).
                if let Some(conn) = self.conns.get_mut(token) {
                    conn.proto.disconnect_with(
                        ReasonCode::ProtocolError,
                        Some("AUTH without an authentication method in CONNECT".into()),
                    );
                }
            }
            Event::ProtocolError(violation) => {
                tracing::debug!(token, %violation, "protocol violation");
                metrics::counter!("strata_mqtt_protocol_errors_total").increment(1);
            }
            Event::Disconnected {
                reason,
                publish_will,
            } => self.on_disconnected(token, reason, publish_will),
            _ => {}
        }
    }

    fn on_connect(&mut self, token: usize, connect: Box<Connect>) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if self.shared.is_shutting_down() {
            let _ = conn.proto.reject_connect(ReasonCode::ServerUnavailable);
            return;
        }
        if connect.properties.authentication_method.is_some() {
            let _ = conn
                .proto
                .reject_connect(ReasonCode::BadAuthenticationMethod);
            return;
        }
        let request = AuthRequest {
            client_id: connect.client_id.clone(),
            username: connect.username.clone(),
            password: connect.password.clone(),
            peer: conn.peer,
            certificate_fingerprint: conn.transport.as_ref().and_then(|t| t.client_fingerprint()),
        };
        conn.connect = Some(connect);
        let generation = conn.generation;
        let reply = Reply::new(Arc::clone(&self.shared), self.index, move |decision| {
            Command::Authenticated {
                token,
                generation,
                decision,
                after_takeover: false,
            }
        });
        self.shared.hooks.authenticate(request, reply);
    }

    fn on_authenticated(
        &mut self,
        token: usize,
        generation: u64,
        decision: AuthDecision,
        after_takeover: bool,
    ) {
        let now = self.now();
        let index = self.index;
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if conn.generation != generation {
            return;
        }
        let Some(connect) = conn.connect.take() else {
            return;
        };
        let (identity, anonymous) = match decision {
            AuthDecision::Allow {
                identity,
                anonymous,
            } => (identity, anonymous),
            AuthDecision::Deny(reason) => {
                metrics::counter!("strata_mqtt_auth_failures_total").increment(1);
                let _ = conn.proto.reject_connect_with(reason, refusal_text(reason));
                self.process(token);
                self.read(token);
                return;
            }
        };
        let v5 = connect.protocol_version.is_v5();
        let mut assigned = None;
        let client_id = if connect.client_id.is_empty() {
            if !v5 && !connect.clean_start {
                // MQTT 3.1.1 3.1.3-8: a zero-length id needs CleanSession = 1.
                let _ = conn
                    .proto
                    .reject_connect(ReasonCode::ClientIdentifierNotValid);
                self.process(token);
                return;
            }
            let id = format!("strata-{index}-{generation:x}-{now:x}");
            assigned = v5.then(|| id.clone());
            id
        } else {
            connect.client_id.clone()
        };
        let max_expiry = self.shared.config.max_session_expiry_secs;
        let requested = if v5 {
            connect.properties.session_expiry_interval.unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            u32::MAX
        };
        let expiry = requested.min(max_expiry);
        let info = ClientInfo {
            client_id: client_id.clone(),
            username: connect.username.clone(),
            anonymous,
            identity: identity.clone(),
        };
        // A session belongs to whoever opened it: another identity may neither resume it
        // (its subscriptions and queued messages are not theirs) nor take it over.
        let owner = self.shared.hooks.session_owner(&info);
        let foreign = self
            .shared
            .router()
            .owner(&client_id)
            .is_some_and(|o| Some(o) != owner.as_deref());
        if foreign {
            metrics::counter!("strata_mqtt_auth_failures_total").increment(1);
            let _ = conn.proto.reject_connect_with(
                ReasonCode::ClientIdentifierNotValid,
                Some(format!(
                    "client identifier {client_id:?} belongs to another client's session; \
                     use another one"
                )),
            );
            self.process(token);
            return;
        }
        // A will is a publish made on the client's behalf later: it needs the same right
        // to its topic now (as in Mosquitto), or it could reach what the client may not.
        if let Some(will) = connect.will.as_ref()
            && (crate::is_private(&will.topic)
                || !self
                    .shared
                    .hooks
                    .authorize(&info, Action::Publish, &will.topic))
        {
            metrics::counter!("strata_mqtt_publish_denied_total").increment(1);
            let _ = conn.proto.reject_connect_with(
                ReasonCode::NotAuthorized,
                Some(format!(
                    "not authorised to publish to the will topic {:?}",
                    will.topic
                )),
            );
            self.process(token);
            return;
        }
        let me = ConnRef {
            worker: index,
            token,
            generation,
        };
        // A takeover: close the old connection first, so its complete session state
        // (in-flight messages with their packet identifiers, a QoS 2 flow waiting for
        // PUBCOMP) goes back to the session and this connection resumes it exactly, instead
        // of getting copies of unfinished messages. On this worker that happens at once; on
        // another, that worker closes it and hands the decision back (reading stays paused
        // meanwhile). Should the session be online elsewhere again by then, the old
        // connection's messages are handed over as it closes.
        let old = self.shared.router().online(&client_id);
        if let Some(old) = old
            && old != me
        {
            if old.worker == index {
                self.kick(old, ReasonCode::SessionTakenOver);
            } else if !after_takeover {
                if let Some(conn) = self.conns.get_mut(token) {
                    conn.connect = Some(connect);
                }
                if let Some(queue) = self.remote.get_mut(old.worker) {
                    queue.push(Command::TakeOver {
                        token: old.token,
                        generation: old.generation,
                        requester: me,
                        decision: AuthDecision::Allow {
                            identity,
                            anonymous,
                        },
                    });
                }
                return;
            }
        }
        // Under one lock with the check: a deletion comes either before (refused here) or
        // after (it finds this session online and ends it).
        let attached = {
            let mut router = self.shared.router();
            if owner.as_deref().is_some_and(|o| router.owner_ended(o, now)) {
                None
            } else {
                Some(router.connect(
                    &client_id,
                    connect.clean_start,
                    expiry,
                    me,
                    owner.as_deref(),
                ))
            }
        };
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let Some(attached) = attached else {
            metrics::counter!("strata_mqtt_auth_failures_total").increment(1);
            let _ = conn.proto.reject_connect_with(
                ReasonCode::NotAuthorized,
                Some("this device was deleted".into()),
            );
            self.process(token);
            return;
        };
        let mut options = match attached.resumed {
            Some(state) if attached.session_present => AcceptOptions::resume(state),
            _ => AcceptOptions::new(),
        };
        options.assigned_client_identifier = assigned;
        if v5 && expiry != requested {
            options.properties.session_expiry_interval = Some(expiry);
        }
        conn.session = Some(attached.key);
        conn.will = connect.will.map(Box::new);
        conn.client = Some(info);
        if let Err(e) = conn.proto.accept_connect(now, options) {
            tracing::warn!(error = %e, "cannot accept a CONNECT");
        }
        if let Some(client) = conn.client.as_ref() {
            self.shared.hooks.connected(client);
        }
        // Only now, with this connection accepted: the old one's unacknowledged messages
        // are handed over to it as the old one closes (at once when it is on this worker).
        if let Some(old) = attached.taken_over {
            self.kick(old, ReasonCode::SessionTakenOver);
        }
        if let Some(will) = attached.ended_will {
            self.route(None, &will_message(will));
        }
        metrics::counter!("strata_mqtt_connects_total").increment(1);
        self.process(token);
        self.read(token);
    }

    fn kick(&mut self, target: ConnRef, reason: ReasonCode) {
        if target.worker == self.index {
            if let Some(conn) = self.conns.get_mut(target.token)
                && conn.generation == target.generation
            {
                conn.proto.disconnect(reason);
                self.process(target.token);
            }
        } else if let Some(queue) = self.remote.get_mut(target.worker) {
            queue.push(Command::Kick {
                token: target.token,
                generation: target.generation,
                reason,
            });
        }
    }

    fn on_publish(&mut self, token: usize, publish: Publish) {
        self.counters.received += 1;
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if let Some(bucket) = conn.bucket.as_mut() {
            bucket.tokens -= 1.0;
        }
        let Some(client) = conn.client.as_ref() else {
            return;
        };
        let v5 = conn.proto.protocol_version().is_some_and(|v| v.is_v5());
        let packet_id = publish.packet_id;
        if crate::is_private(&publish.topic)
            || !self
                .shared
                .hooks
                .authorize(client, Action::Publish, &publish.topic)
        {
            metrics::counter!("strata_mqtt_publish_denied_total").increment(1);
            if let Some(id) = packet_id {
                // 5.0 tells the client; 3.1.1 has no way to, so the message is acknowledged
                // and dropped (3.1.1 section 3.3.5).
                let _ = if v5 {
                    conn.proto.ack_incoming_with(id, ReasonCode::NotAuthorized)
                } else {
                    conn.proto.ack_incoming(id)
                };
            }
            return;
        }
        if self.shared.hooks.disposition(client, &publish) == Disposition::Consume {
            let client = client.clone();
            let generation = conn.generation;
            // A 5.0 client's QoS 1/2 messages are bounded by our Receive Maximum already.
            if packet_id.is_none() || !v5 {
                conn.consuming += 1;
                if conn.consuming == MAX_CONSUMING {
                    self.counters.consume_paused += 1;
                }
            }
            let reply = Reply::new(Arc::clone(&self.shared), self.index, move |result| {
                Command::Consumed {
                    token,
                    generation,
                    packet_id,
                    result,
                }
            });
            self.shared.hooks.consume(client, publish, reply);
            return;
        }
        let session = conn.session;
        let retain_refused = self.route(session, &publish);
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if let Some(id) = packet_id {
            let _ = if retain_refused && v5 {
                conn.proto.ack_incoming_with(id, ReasonCode::QuotaExceeded)
            } else {
                conn.proto.ack_incoming(id)
            };
        }
    }

    /// Routes a message to subscribers (and the retained store); returns true when the
    /// retained store refused it for being full.
    fn route(&mut self, publisher: Option<SessionKey>, publish: &Publish) -> bool {
        let now = self.now();
        let mut deliveries = std::mem::take(&mut self.deliveries);
        let mut retain_refused = false;
        {
            let mut router = self.shared.router();
            if publish.retain {
                retain_refused = !router.retain(publish, now);
            }
            self.counters.dropped += router.route(now, publisher, publish, &mut deliveries);
        }
        for delivery in deliveries.drain(..) {
            self.deliver(delivery.to, delivery.publish);
        }
        self.deliveries = deliveries;
        retain_refused
    }

    fn deliver(&mut self, to: ConnRef, publish: Publish) {
        if to.worker != self.index {
            if let Some(queue) = self.remote.get_mut(to.worker) {
                let backlog = queue.len()
                    + self
                        .shared
                        .inboxes
                        .get(to.worker)
                        .map_or(0, |inbox| inbox.backlog());
                if publish.qos == QoS::AtMostOnce && backlog >= MAX_REMOTE_BACKLOG {
                    self.counters.dropped += 1;
                    return;
                }
                queue.push(Command::Deliver {
                    token: to.token,
                    generation: to.generation,
                    publish,
                });
            }
            return;
        }
        self.deliver_local(to.token, to.generation, publish);
    }

    fn deliver_local(&mut self, token: usize, generation: u64, publish: Publish) {
        let now = self.now();
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if conn.generation != generation {
            return;
        }
        if publish.qos == QoS::AtMostOnce && conn.unsent.len() >= SLOW_CONSUMER_BYTES {
            self.counters.dropped += 1;
            return;
        }
        match conn.proto.publish(now, publish) {
            Ok(_) => self.counters.sent += 1,
            Err(_) => self.counters.dropped += 1,
        }
        self.mark_dirty(token);
    }

    fn on_subscribe(&mut self, token: usize, subscribe: Subscribe) {
        let now = self.now();
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let (Some(client), Some(session)) = (conn.client.as_ref(), conn.session) else {
            return;
        };
        let generation = conn.generation;
        let subscription_id = subscribe
            .properties
            .subscription_identifiers
            .first()
            .copied();
        let mut reasons = Vec::with_capacity(subscribe.filters.len());
        let mut retained = Vec::new();
        let mut router = self.shared.router();
        let mut granted = Vec::with_capacity(subscribe.filters.len());
        for sub in &subscribe.filters {
            if crate::is_private(&sub.filter)
                || !self
                    .shared
                    .hooks
                    .authorize(client, Action::Subscribe, &sub.filter)
            {
                reasons.push(ReasonCode::NotAuthorized);
                continue;
            }
            let mounted = self.shared.hooks.mount(client, &sub.filter);
            let filter = mounted.as_deref().unwrap_or(&sub.filter);
            if let Err(refused) = router.check_subscription(session, filter) {
                reasons.push(match refused {
                    SubscriptionRefused::TooDeep => ReasonCode::TopicFilterInvalid,
                    SubscriptionRefused::TooMany => ReasonCode::QuotaExceeded,
                });
                continue;
            }
            let mut options = sub.options;
            options.qos = options.qos.min(QoS::ExactlyOnce);
            let existed = router.subscribe(session, filter, options, subscription_id);
            granted.push(sub.filter.clone());
            reasons.push(match options.qos {
                QoS::AtMostOnce => ReasonCode::Success,
                QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
            });
            let shared = matches!(SharedFilter::parse(&sub.filter), Ok(Some(_)));
            let send_retained = match options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendAtSubscribeIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
            if send_retained && !shared {
                retained.extend(router.retained_for(filter, options.qos, subscription_id, now));
            }
        }
        drop(router);
        if let Err(e) = conn.proto.suback(subscribe.packet_id, reasons) {
            tracing::debug!(error = %e, "suback failed");
        }
        if !granted.is_empty() {
            self.shared.hooks.subscribed(client, &granted);
        }
        for publish in retained {
            self.deliver_local(token, generation, publish);
        }
    }

    fn on_unsubscribe(&mut self, token: usize, unsubscribe: Unsubscribe) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        let (Some(session), Some(client)) = (conn.session, conn.client.as_ref()) else {
            return;
        };
        let reasons = {
            let mut router = self.shared.router();
            unsubscribe
                .filters
                .iter()
                .map(|f| {
                    let mounted = self.shared.hooks.mount(client, f);
                    if router.unsubscribe(session, mounted.as_deref().unwrap_or(f)) {
                        ReasonCode::Success
                    } else {
                        ReasonCode::NoSubscriptionExisted
                    }
                })
                .collect()
        };
        if let Err(e) = conn.proto.unsuback(unsubscribe.packet_id, reasons) {
            tracing::debug!(error = %e, "unsuback failed");
        }
    }

    fn on_disconnected(&mut self, token: usize, reason: DisconnectReason, publish_will: bool) {
        let now = self.now();
        let index = self.index;
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        conn.closed = true;
        if let Some(client) = conn.client.as_ref() {
            self.shared.hooks.disconnected(client);
        }
        let state = conn.proto.take_session();
        let will = if publish_will {
            conn.will.take().map(|w| *w)
        } else {
            None
        };
        let expiry_override = match reason {
            DisconnectReason::Client {
                session_expiry_interval,
                ..
            } => session_expiry_interval,
            _ => None,
        };
        let me = ConnRef {
            worker: index,
            token,
            generation: conn.generation,
        };
        let mut redeliver = Vec::new();
        let due = match conn.session {
            Some(key) => {
                let max = self.shared.config.max_session_expiry_secs;
                self.shared.router().disconnect(
                    key,
                    me,
                    state,
                    expiry_override.map(|e| e.min(max)),
                    will,
                    now,
                    &mut redeliver,
                )
            }
            None => will,
        };
        for delivery in redeliver {
            self.deliver(delivery.to, delivery.publish);
        }
        if let Some(will) = due {
            self.route(None, &will_message(will));
        }
    }

    /// Handles commands from other threads; returns true on shutdown.
    fn drain_inbox(&mut self) -> bool {
        let mut commands = std::mem::take(&mut self.commands);
        if let Some(inbox) = self.shared.inboxes.get(self.index) {
            inbox.take(&mut commands);
        }
        let mut shutdown = false;
        for command in commands.drain(..) {
            match command {
                Command::Deliver {
                    token,
                    generation,
                    publish,
                } => self.deliver_local(token, generation, publish),
                Command::Authenticated {
                    token,
                    generation,
                    decision,
                    after_takeover,
                } => self.on_authenticated(token, generation, decision, after_takeover),
                Command::TakeOver {
                    token,
                    generation,
                    requester,
                    decision,
                } => {
                    self.kick(
                        ConnRef {
                            worker: self.index,
                            token,
                            generation,
                        },
                        ReasonCode::SessionTakenOver,
                    );
                    self.shared.send(
                        requester.worker,
                        Command::Authenticated {
                            token: requester.token,
                            generation: requester.generation,
                            decision,
                            after_takeover: true,
                        },
                    );
                }
                Command::Consumed {
                    token,
                    generation,
                    packet_id,
                    result,
                } => self.on_consumed(token, generation, packet_id, result),
                Command::Kick {
                    token,
                    generation,
                    reason,
                } => self.kick(
                    ConnRef {
                        worker: self.index,
                        token,
                        generation,
                    },
                    reason,
                ),
                Command::Inject(publish) => {
                    self.route(None, &publish);
                }
                Command::Shutdown => shutdown = true,
            }
        }
        self.commands = commands;
        shutdown
    }

    fn on_consumed(
        &mut self,
        token: usize,
        generation: u64,
        packet_id: Option<PacketId>,
        result: Result<(), ReasonCode>,
    ) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        if conn.generation != generation {
            return;
        }
        let v5 = conn.proto.protocol_version().is_some_and(|v| v.is_v5());
        if packet_id.is_none() || !v5 {
            let was_full = conn.consuming >= MAX_CONSUMING;
            conn.consuming = conn.consuming.saturating_sub(1);
            if was_full && conn.consuming < MAX_CONSUMING && !conn.read_queued {
                // Reading paused with bytes possibly left in the socket: readiness is
                // edge-triggered, so no new event would come for them.
                conn.read_queued = true;
                self.read_again.push(token);
            }
        }
        let Some(id) = packet_id else {
            return;
        };
        let outcome = match result {
            Ok(()) => conn.proto.ack_incoming(id),
            // The platform could not take it now: no acknowledgement (the message is not
            // durable), and the connection ends so the client sends it again on reconnect.
            Err(ReasonCode::ServerUnavailable) => {
                conn.proto.disconnect(ReasonCode::ServerUnavailable);
                Ok(())
            }
            Err(reason) if v5 => conn.proto.ack_incoming_with(id, reason),
            // 3.1.1 cannot refuse a PUBLISH: the refusal is logged, the message acknowledged.
            Err(_) => conn.proto.ack_incoming(id),
        };
        if let Err(e) = outcome {
            // A reason code the acknowledgement cannot carry: never leave the client waiting
            // for an acknowledgement that will not come.
            tracing::debug!(error = %e, "acknowledgement after consume failed");
            conn.proto.disconnect(ReasonCode::UnspecifiedError);
        }
        self.process(token);
    }

    fn tick(&mut self, now: u64) {
        let open = self.shared.connections.load(Ordering::Relaxed);
        metrics::counter!("strata_mqtt_messages_received_total")
            .increment(std::mem::take(&mut self.counters.received));
        metrics::counter!("strata_mqtt_messages_sent_total")
            .increment(std::mem::take(&mut self.counters.sent));
        metrics::counter!("strata_mqtt_messages_dropped_total")
            .increment(std::mem::take(&mut self.counters.dropped));
        metrics::counter!("strata_mqtt_connections_refused_total")
            .increment(std::mem::take(&mut self.counters.refused_connections));
        metrics::counter!("strata_mqtt_consume_paused_total")
            .increment(std::mem::take(&mut self.counters.consume_paused));
        metrics::counter!("strata_mqtt_throttled_total")
            .increment(std::mem::take(&mut self.counters.throttled));
        if self.index != 0 {
            return;
        }
        let (wills, sessions, subscriptions, retained, queued) = {
            let mut router = self.shared.router();
            let wills = router.tick(now);
            (
                wills,
                router.session_count(),
                router.subscription_count(),
                router.retained_count(),
                router.queued_count(),
            )
        };
        metrics::gauge!("strata_mqtt_connections").set(open as f64);
        metrics::gauge!("strata_mqtt_sessions").set(sessions as f64);
        metrics::gauge!("strata_mqtt_subscriptions").set(subscriptions as f64);
        metrics::gauge!("strata_mqtt_retained_messages").set(retained as f64);
        metrics::gauge!("strata_mqtt_queued_messages").set(queued as f64);
        for will in wills {
            self.route(None, &will_message(will));
        }
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for token in dirty.drain(..) {
            self.flush(token);
        }
        // Flushing can close connections, which can route wills and dirty others.
        if !self.dirty.is_empty() {
            let again = std::mem::take(&mut self.dirty);
            for token in again {
                self.flush(token);
            }
        }
        self.dirty = dirty;
    }

    fn flush(&mut self, token: usize) {
        let Some(conn) = self.conns.get_mut(token) else {
            return;
        };
        conn.dirty = false;
        let mut failed = false;
        loop {
            // Previously unsent bytes go first, then whatever the state machine has now.
            if conn.unsent.is_empty() {
                self.out.clear();
                if take_output(conn, &mut self.out, &mut self.wire) == 0 {
                    break;
                }
            }
            let data: &[u8] = if conn.unsent.is_empty() {
                &self.out
            } else {
                &conn.unsent
            };
            match conn.socket.write(data) {
                Ok(n) if n == data.len() => {
                    if conn.unsent.is_empty() {
                        self.out.clear();
                    } else {
                        conn.unsent = BytesMut::new();
                    }
                }
                Ok(n) => {
                    if conn.unsent.is_empty() {
                        conn.unsent.extend_from_slice(&self.out[n..]);
                    } else {
                        conn.unsent.advance(n);
                    }
                    // Everything else waits here too, so `unsent` measures the backlog
                    // that slow-consumer dropping looks at.
                    let mut unsent = std::mem::take(&mut conn.unsent);
                    take_output(conn, &mut unsent, &mut self.wire);
                    conn.unsent = unsent;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if conn.unsent.is_empty() {
                        conn.unsent.extend_from_slice(&self.out);
                    }
                    let mut unsent = std::mem::take(&mut conn.unsent);
                    take_output(conn, &mut unsent, &mut self.wire);
                    conn.unsent = unsent;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                    if conn.unsent.is_empty() {
                        conn.unsent.extend_from_slice(&self.out);
                    }
                }
                Err(_) => {
                    failed = true;
                    conn.unsent = BytesMut::new();
                    break;
                }
            }
        }
        let want_write = !conn.unsent.is_empty();
        if want_write != conn.writable_registered {
            let interest = if want_write {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            let _ = self
                .poll
                .registry()
                .reregister(&mut conn.socket, Token(token), interest);
            conn.writable_registered = want_write;
        }
        if failed && !conn.closed {
            conn.proto.handle_eof();
            self.process(token);
            return;
        }
        let finished = conn.proto.is_closed() && conn.unsent.is_empty();
        if finished && let Some(transport) = conn.transport.as_mut() {
            // A clean TLS end (close_notify), best effort: the socket closes right after.
            transport.close();
            self.out.clear();
            if transport.encode(&[], &mut self.out).is_ok() {
                let _ = conn.socket.write(&self.out);
            }
        }
        if finished {
            if !conn.closed {
                // Closed by the state machine without a Disconnected event drained yet.
                self.process(token);
            }
            self.remove(token);
        }
    }

    fn remove(&mut self, token: usize) {
        if self.conns.contains(token) {
            let mut conn = self.conns.remove(token);
            let _ = self.poll.registry().deregister(&mut conn.socket);
            self.shared.connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn send_remote(&mut self) {
        for (worker, queue) in self.remote.iter_mut().enumerate() {
            if !queue.is_empty() {
                self.shared.send_all(worker, queue.drain(..));
            }
        }
    }

    fn shut_down(&mut self) {
        let tokens: Vec<usize> = self.conns.iter().map(|(t, _)| t).collect();
        for token in &tokens {
            if let Some(conn) = self.conns.get_mut(*token) {
                if conn.proto.is_connected() {
                    conn.proto.disconnect(ReasonCode::ServerShuttingDown);
                } else {
                    conn.proto.handle_eof();
                }
            }
            self.process(*token);
        }
        self.flush_dirty();
        self.send_remote();
        for token in tokens {
            self.remove(token);
        }
    }
}
