//! The CoAP listener: a UDP socket pumping the sans-IO [`strata_proto_coap::Endpoint`], and
//! the device API on top of it ([`resources`]).
//!
//! One task owns the socket and the endpoint; requests that need the platform run in their
//! own tasks and come back as [`Command`]s, so a slow database write never stalls other
//! devices (a confirmable request waiting longer than `coap.separate_response_after` gets
//! an empty ACK, then a separate response).

mod dtls;
mod lwm2m;
mod observations;
mod resources;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use strata_config::CoapConfig;
use strata_lwm2m::{InResponse, Lwm2mServer, OutRequest, TransportError};
use strata_platform::Platform;
use strata_proto_coap::block::{self, Block1Assembler, Block1Outcome, BlockValue};
use strata_proto_coap::{
    Code, Endpoint, EndpointConfig, Event, Message, MessageWriter, Received, RequestId, Token,
    option,
};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

pub(crate) use observations::{CoapLink, Observations};

/// Largest UDP datagram read.
const MAX_DATAGRAM: usize = 65_535;
/// Block size the server uses for Block2 responses it slices (1024 bytes).
const SERVER_SZX: u8 = 6;
/// Unfinished Block1 uploads held at once.
const MAX_BLOCK1_TRANSFERS: usize = 1024;
/// Unfinished Block1 uploads of one peer.
const MAX_BLOCK1_PER_PEER: usize = 4;
/// Bytes all unfinished Block1 uploads may hold together.
const BLOCK1_BUDGET: usize = 64 * 1024 * 1024;
/// An upload whose next block does not come within this long is dropped, ms.
const BLOCK1_IDLE_MS: u64 = 60_000;
/// Request handlers running at once per listener.
const MAX_IN_FLIGHT: usize = 4096;
/// Datagrams handled per wake-up before the task yields.
const BURST: usize = 64;

/// A response or notification built outside the listener task.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) code: Code,
    pub(crate) content_format: Option<u16>,
    /// Observe sequence number (for a registration's first response).
    pub(crate) observe: Option<u32>,
    /// Size1: the largest body accepted (with 4.13, RFC 7959 §2.9.3).
    pub(crate) size1: Option<u32>,
    /// Location-Path segments (a created resource, e.g. `rd/{id}`).
    pub(crate) location: Vec<String>,
    pub(crate) payload: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(code: Code, value: &serde_json::Value) -> Reply {
        Reply {
            code,
            content_format: Some(option::format::JSON),
            observe: None,
            size1: None,
            location: Vec::new(),
            payload: value.to_string().into_bytes(),
        }
    }

    pub(crate) fn empty(code: Code) -> Reply {
        Reply {
            code,
            content_format: None,
            observe: None,
            size1: None,
            location: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// An error with a diagnostic payload (RFC 7252 §5.5.2: text for people).
    pub(crate) fn error(code: Code, message: impl Into<String>) -> Reply {
        Reply {
            code,
            content_format: None,
            observe: None,
            size1: None,
            location: Vec::new(),
            payload: message.into().into_bytes(),
        }
    }
}

/// Work handed to the listener task.
#[derive(Debug)]
pub(crate) enum Command {
    /// Answer a request.
    Respond {
        id: RequestId<SocketAddr>,
        block1: Option<BlockValue>,
        block2: Option<BlockValue>,
        reply: Reply,
        /// Set for non-GET requests: where to keep a response too large for one message,
        /// so the client can fetch its further blocks (RFC 7959 §2.7).
        keep_as: Option<BodyKey>,
    },
    /// Send an observe notification (confirmable, JSON). `event`: never replaced by a
    /// newer one (RPC calls), else the newest state wins (RFC 7641 §4.5.2).
    Notify {
        peer: SocketAddr,
        token: Token,
        sequence: u32,
        payload: Vec<u8>,
        event: bool,
    },
    /// End the DTLS sessions of a device (its credentials were revoked).
    DropDevice { device: uuid::Uuid },
    /// End an observation with 4.01 (the device's credentials were revoked).
    Revoked { peer: SocketAddr, token: Token },
    /// Send a confirmable request to a client (LwM2M server operations).
    Request {
        peer: SocketAddr,
        request: OutRequest,
        reply: oneshot::Sender<Result<InResponse, TransportError>>,
    },
    /// Stop accepting notifications for an observation of ours.
    Forget { peer: SocketAddr, token: Token },
}

/// A request of ours waiting for its response.
struct Pending {
    reply: oneshot::Sender<Result<InResponse, TransportError>>,
    /// Endpoint and path of an observe request.
    observation: Option<(String, strata_proto_coap::lwm2m::Path)>,
}

/// Names a request body or response body of one client: peer and Uri-Path.
pub(crate) type BodyKey = (SocketAddr, Vec<String>);

/// Responses to non-GET requests kept for their further Block2 blocks at most.
const MAX_KEPT_RESPONSES: usize = 1024;
/// How long such a response is kept, ms (EXCHANGE_LIFETIME).
const KEEP_MS: u64 = 247_000;

/// A request as the resource handlers see it (owned: it travels to another task).
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) id: RequestId<SocketAddr>,
    pub(crate) method: Code,
    pub(crate) path: Vec<String>,
    pub(crate) queries: Vec<Vec<u8>>,
    pub(crate) content_format: Option<u16>,
    pub(crate) observe: Option<u32>,
    pub(crate) block1: Option<BlockValue>,
    pub(crate) block2: Option<BlockValue>,
    pub(crate) payload: Vec<u8>,
    /// The device the DTLS session authenticated, if any.
    pub(crate) device: Option<strata_store::DeviceIdentity>,
}

/// What the handlers share.
pub(crate) struct Context {
    /// Bounds the request handlers running at once (a flood gets 5.03, not unbounded tasks).
    pub(crate) in_flight: Arc<tokio::sync::Semaphore>,
    pub(crate) platform: Platform,
    pub(crate) lwm2m: Option<Lwm2mServer>,
    pub(crate) observations: Arc<Observations>,
    pub(crate) commands: mpsc::UnboundedSender<Command>,
    attribute_watcher: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Binds the socket, registers the CoAP device link and spawns the listener task.
pub(crate) async fn start(
    config: &CoapConfig,
    platform: &Platform,
    lwm2m: Option<Lwm2mServer>,
) -> anyhow::Result<Started> {
    let socket = UdpSocket::bind(config.listen).await.with_context(|| {
        format!(
            "cannot listen for CoAP on udp {} (in use? choose another with --coap-listen, or \
             set coap.enabled = false)",
            config.listen
        )
    })?;
    let local = socket.local_addr()?;
    let observations = Arc::new(Observations::new(config.max_observations));
    platform.add_device_link(Arc::new(CoapLink {
        observations: Arc::clone(&observations),
    }));
    let plain = spawn_listener(config, platform, lwm2m.clone(), &observations, socket, None);
    if let Some(server) = &lwm2m {
        // LwM2M traffic of ours goes over plain CoAP (LwM2M over DTLS is not offered yet).
        server.set_transport(Arc::new(lwm2m::CoapTransport { commands: plain }));
        platform.add_device_link(Arc::new(lwm2m::Lwm2mLink {
            server: server.clone(),
        }));
    }
    let mut secure = None;
    if config.dtls.enabled {
        let socket = UdpSocket::bind(config.dtls.listen).await.with_context(|| {
            format!(
                "cannot listen for CoAP over DTLS on udp {} (in use? choose another with \
                 --coaps-listen, or set coap.dtls.enabled = false)",
                config.dtls.listen
            )
        })?;
        secure = Some(socket.local_addr()?);
        let layer = dtls::DtlsLayer::new(
            platform.clone(),
            &config.dtls.cert_file,
            &config.dtls.key_file,
            config.dtls.max_sessions,
            config.dtls.session_idle,
        )?;
        spawn_listener(config, platform, None, &observations, socket, Some(layer));
    }
    Ok(Started {
        plain: local,
        secure,
    })
}

/// Where the listeners listen.
pub(crate) struct Started {
    /// Plain CoAP.
    pub(crate) plain: SocketAddr,
    /// CoAP over DTLS, when enabled.
    pub(crate) secure: Option<SocketAddr>,
}

fn spawn_listener(
    config: &CoapConfig,
    platform: &Platform,
    lwm2m: Option<Lwm2mServer>,
    observations: &Arc<Observations>,
    socket: UdpSocket,
    dtls: Option<dtls::DtlsLayer>,
) -> mpsc::UnboundedSender<Command> {
    let (commands, rx) = mpsc::unbounded_channel();
    observations.add_listener(commands.clone());
    let context = Arc::new(Context {
        in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        platform: platform.clone(),
        lwm2m,
        observations: Arc::clone(observations),
        commands: commands.clone(),
        attribute_watcher: std::sync::Mutex::new(None),
    });
    let endpoint = Endpoint::new(EndpointConfig {
        separate_response_after: config.separate_response_after.as_millis() as u64,
        seed: rand::random(),
        max_peers: config.max_peers,
        ..EndpointConfig::default()
    });
    let listener = Listener {
        socket,
        endpoint,
        started: Instant::now(),
        blocks: Block1Assembler::new(config.max_body_bytes, MAX_BLOCK1_TRANSFERS),
        kept: HashMap::new(),
        pending: HashMap::new(),
        context,
        dtls,
        // Handles looked up once: the registry lookup per datagram showed in profiles.
        received: metrics::counter!("strata_coap_datagrams_received_total"),
        sent: metrics::counter!("strata_coap_datagrams_sent_total"),
    };
    tokio::spawn(listener.run(rx));
    commands
}

struct Listener {
    socket: UdpSocket,
    endpoint: Endpoint<SocketAddr>,
    started: Instant,
    blocks: Block1Assembler<BodyKey>,
    kept: HashMap<BodyKey, (u64, Reply)>,
    /// Requests of ours waiting for their response.
    pending: HashMap<(SocketAddr, Token), Pending>,
    context: Arc<Context>,
    /// DTLS sessions, on the `coaps://` listener.
    dtls: Option<dtls::DtlsLayer>,
    received: metrics::Counter,
    sent: metrics::Counter,
}

impl Listener {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        // DTLS handshakes create no CoAP timers: their expiry runs on a clock of its own.
        let mut dtls_tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let deadline = self
                .endpoint
                .poll_timeout()
                .map(|ms| self.started + Duration::from_millis(ms));
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, peer)) => {
                        self.receive(peer, &buf[..n]).await;
                        // Drain what else is queued before sending (fewer wake-ups).
                        for _ in 1..BURST {
                            match self.socket.try_recv_from(&mut buf) {
                                Ok((n, peer)) => self.receive(peer, &buf[..n]).await,
                                Err(_) => break,
                            }
                        }
                    }
                    Err(e) => {
                        // ICMP port unreachable from an earlier send shows up here on
                        // Linux; it concerns one peer, never the socket.
                        tracing::debug!(error = %e, "CoAP receive error");
                    }
                },
                command = commands.recv() => match command {
                    Some(command) => {
                        self.command(command);
                        while let Ok(more) = commands.try_recv() {
                            self.command(more);
                        }
                    }
                    None => return,
                },
                _ = dtls_tick.tick(), if self.dtls.is_some() => {
                    if let Some(layer) = &mut self.dtls {
                        layer.expire();
                    }
                }
                () = sleep_until(deadline) => {
                    let now = self.now();
                    self.endpoint.handle_timeout(now);
                    self.blocks.expire(now, BLOCK1_IDLE_MS);
                    if let Some(layer) = &mut self.dtls {
                        layer.expire();
                    }
                    self.kept.retain(|_, (at, _)| now.saturating_sub(*at) < KEEP_MS);
                }
            }
            self.flush().await;
        }
    }

    async fn flush(&mut self) {
        while let Some(event) = self.endpoint.poll_event() {
            match event {
                Event::Reset { peer, token } | Event::TimedOut { peer, token } => {
                    if let Some(pending) = self.pending.remove(&(peer, token)) {
                        let _ = pending
                            .reply
                            .send(Err(if matches!(event, Event::Reset { .. }) {
                                TransportError::Reset
                            } else {
                                TransportError::TimedOut
                            }));
                    } else if self.context.observations.remove(peer, token).is_some() {
                        tracing::debug!(%peer, "CoAP observer gone");
                    }
                }
                Event::Delivered { .. } => {}
            }
        }
        while let Some(transmit) = self.endpoint.poll_transmit() {
            self.sent.increment(1);
            let records = match &mut self.dtls {
                Some(layer) => layer.outgoing(transmit.peer, &transmit.data),
                None => vec![transmit.data],
            };
            for data in records {
                if let Err(e) = self.socket.send_to(&data, transmit.peer).await {
                    tracing::debug!(peer = %transmit.peer, error = %e, "CoAP send failed");
                }
            }
        }
    }

    /// A datagram from the socket: decrypted first on the DTLS listener.
    async fn receive(&mut self, peer: SocketAddr, data: &[u8]) {
        let Some(layer) = &mut self.dtls else {
            self.datagram(peer, data);
            return;
        };
        let out = layer.incoming(peer, data);
        for reply in &out.replies {
            if let Err(e) = self.socket.send_to(reply, peer).await {
                tracing::debug!(%peer, error = %e, "DTLS send failed");
            }
        }
        for message in &out.plaintext {
            self.datagram(peer, message);
        }
    }

    fn datagram(&mut self, peer: SocketAddr, data: &[u8]) {
        self.received.increment(1);
        let now = self.now();
        let (id, message) = match self.endpoint.handle_datagram(now, peer, data) {
            Received::Request { id, message } => (id, message),
            Received::Response {
                peer,
                token,
                message,
            } => {
                let response = lwm2m::in_response(token, &message);
                if let Some(pending) = self.pending.remove(&(peer, token)) {
                    if let (Some((endpoint, path)), Some(server)) =
                        (&pending.observation, &self.context.lwm2m)
                        && response.code.is_success()
                        && response.observe.is_some()
                    {
                        // Known before any notification can arrive.
                        server.observation_started(peer, token, endpoint, *path);
                    }
                    let _ = pending.reply.send(Ok(response));
                } else if !self
                    .context
                    .lwm2m
                    .as_ref()
                    .is_some_and(|server| server.notification(peer, response))
                {
                    // Nobody wants it any more: the next notification gets RST.
                    self.endpoint.cancel(peer, token);
                }
                return;
            }
            Received::Nothing => return,
        };
        if let Some(server) = &self.context.lwm2m {
            server.heard_from(peer);
        }
        if let Some(reply) = self.reject(&message) {
            self.respond(now, &id, None, None, reply);
            return;
        }
        let path: Vec<String> = message
            .path()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        let block2 = match BlockValue::from_message(&message, option::BLOCK2) {
            Some(Err(())) => {
                self.respond(
                    now,
                    &id,
                    None,
                    None,
                    Reply::error(Code::BAD_OPTION, "invalid Block2 option"),
                );
                return;
            }
            other => other.and_then(Result::ok),
        };
        if message.code != Code::GET
            && let Some(b2) = block2
            && b2.num > 0
        {
            // A further block of the response to an earlier POST/PUT/PATCH.
            let reply = match self.kept.get(&(peer, path.clone())) {
                Some((_, kept)) => Reply {
                    code: kept.code,
                    content_format: kept.content_format,
                    observe: None,
                    size1: None,
                    location: Vec::new(),
                    payload: kept.payload.clone(),
                },
                None => Reply::error(
                    Code::REQUEST_ENTITY_INCOMPLETE,
                    "no earlier response to continue; send the request again",
                ),
            };
            self.respond(now, &id, None, Some(b2), reply);
            return;
        }
        let mut block1 = None;
        let mut payload = message.payload.to_vec();
        match BlockValue::from_message(&message, option::BLOCK1) {
            None => {}
            Some(Err(())) => {
                self.respond(
                    now,
                    &id,
                    None,
                    None,
                    Reply::error(Code::BAD_OPTION, "invalid Block1 option"),
                );
                return;
            }
            Some(Ok(block)) => {
                if block.num == 0
                    && (self.blocks.count(|k| k.0 == peer) >= MAX_BLOCK1_PER_PEER
                        || self.blocks.held_bytes() > BLOCK1_BUDGET)
                {
                    // Uploads are reassembled before the token is checked: bound what one
                    // peer, and everyone together, can make the server hold.
                    self.respond(
                        now,
                        &id,
                        None,
                        None,
                        Reply::error(
                            Code::SERVICE_UNAVAILABLE,
                            "too many block-wise uploads in progress; retry later",
                        ),
                    );
                    return;
                }
                match self
                    .blocks
                    .push(now, (peer, path.clone()), block, message.payload)
                {
                    Block1Outcome::Continue(block) => {
                        self.respond(now, &id, Some(block), None, Reply::empty(Code::CONTINUE));
                        return;
                    }
                    Block1Outcome::Complete(body, block) => {
                        block1 = Some(block);
                        payload = body;
                    }
                    Block1Outcome::Error(code) => {
                        let max = self.blocks.max_body();
                        let reply = Reply {
                            size1: (code == Code::REQUEST_ENTITY_TOO_LARGE)
                                .then_some(max.min(u32::MAX as usize) as u32),
                            ..Reply::error(
                                code,
                                format!(
                                    "block-wise upload refused ({code}); bodies up to {max} bytes, blocks in order"
                                ),
                            )
                        };
                        self.respond(now, &id, None, None, reply);
                        return;
                    }
                }
            }
        }
        let request = Request {
            id,
            method: message.code,
            path,
            queries: message.queries().map(<[u8]>::to_vec).collect(),
            content_format: message.content_format(),
            observe: message.observe(),
            block1,
            block2,
            payload,
            device: self.dtls.as_ref().and_then(|d| d.device(peer)),
        };
        let Some(request) = self.lwm2m_request(now, request) else {
            return;
        };
        if let Some(reply) = resources::answer_inline(&request) {
            self.respond(now, &request.id, request.block1, request.block2, reply);
            return;
        }
        let keep_as = (request.method != Code::GET).then(|| (peer, request.path.clone()));
        let Some(permit) = self.permit_or_busy(now, &request) else {
            return;
        };
        let context = Arc::clone(&self.context);
        tokio::spawn(async move {
            let _permit = permit;
            let (id, block1, block2) = (request.id, request.block1, request.block2);
            let (reply, after) = resources::handle(&context, request).await;
            let _ = context.commands.send(Command::Respond {
                id,
                block1,
                block2,
                reply,
                keep_as,
            });
            match after {
                Some(resources::After::QueuedRpc(device)) => {
                    if let Err(e) = context.platform.deliver_queued_rpc(&device).await {
                        tracing::warn!(device = %device.device_id, error = %e, "queued RPC not delivered");
                    }
                }
                None => {}
            }
        });
    }

    /// Requests refused before any routing: unknown critical options (RFC 7252 §5.4.1).
    fn reject(&self, message: &Message<'_>) -> Option<Reply> {
        message
            .unknown_critical_option(option::KNOWN)
            .map(|n| Reply::error(Code::BAD_OPTION, format!("unsupported critical option {n}")))
    }

    fn command(&mut self, command: Command) {
        let now = self.now();
        match command {
            Command::Respond {
                id,
                block1,
                block2,
                reply,
                keep_as,
            } => {
                let large = reply.payload.len() > 1usize << (SERVER_SZX + 4) || block2.is_some();
                match keep_as {
                    Some(key)
                        if large
                            && (self.kept.len() < MAX_KEPT_RESPONSES
                                || self.kept.contains_key(&key)) =>
                    {
                        let copy = Reply {
                            code: reply.code,
                            content_format: reply.content_format,
                            observe: None,
                            size1: None,
                            location: Vec::new(),
                            payload: reply.payload.clone(),
                        };
                        self.respond(now, &id, block1, block2, reply);
                        self.kept.insert(key, (now, copy));
                    }
                    _ => self.respond(now, &id, block1, block2, reply),
                }
            }
            Command::Notify {
                peer,
                token,
                sequence,
                payload,
                event,
            } => {
                let build = |w: &mut MessageWriter<'_>| {
                    w.uint_option(option::OBSERVE, sequence)?;
                    w.uint_option(option::CONTENT_FORMAT, u32::from(option::format::JSON))?;
                    w.payload(&payload);
                    Ok(())
                };
                let sent = if event {
                    self.endpoint
                        .notify_event(now, peer, token, Code::CONTENT, build)
                } else {
                    self.endpoint
                        .notify(now, peer, token, true, Code::CONTENT, build)
                };
                if let Err(e) = sent {
                    tracing::warn!(%peer, error = %e, "CoAP notification not encodable");
                }
            }
            Command::Request {
                peer,
                request,
                reply,
            } => {
                let observe = request.observe == Some(0);
                match self
                    .endpoint
                    .request(now, peer, true, request.method, observe, |w| {
                        lwm2m::write_request(w, &request)
                    }) {
                    Ok(token) => {
                        let observation = request.observation;
                        self.pending
                            .insert((peer, token), Pending { reply, observation });
                    }
                    Err(_) => {
                        let _ = reply.send(Err(TransportError::Encode));
                    }
                }
            }
            Command::DropDevice { device } => {
                if let Some(layer) = &mut self.dtls {
                    let n = layer.drop_device(device);
                    if n > 0 {
                        tracing::info!(%device, sessions = n, "DTLS sessions ended: the device's credentials changed");
                    }
                }
            }
            Command::Forget { peer, token } => {
                self.pending.remove(&(peer, token));
                self.endpoint.cancel(peer, token);
            }
            Command::Revoked { peer, token } => {
                self.endpoint.forget_notifications(peer, token);
                let _ = self
                    .endpoint
                    .notify(now, peer, token, true, Code::UNAUTHORIZED, |w| {
                        w.payload(b"device credentials revoked");
                        Ok(())
                    });
            }
        }
    }

    fn respond(
        &mut self,
        now: u64,
        id: &RequestId<SocketAddr>,
        block1: Option<BlockValue>,
        block2: Option<BlockValue>,
        reply: Reply,
    ) {
        let tag = etag(&reply.payload);
        self.respond_with(now, id, block1, block2, &reply, &reply.payload, tag);
    }

    /// Answers with `body` (sliced into a Block2 block when needed) and the options of
    /// `reply`; `tag` is the ETag of the whole body.
    #[allow(clippy::too_many_arguments)]
    fn respond_with(
        &mut self,
        now: u64,
        id: &RequestId<SocketAddr>,
        block1: Option<BlockValue>,
        block2: Option<BlockValue>,
        reply: &Reply,
        body: &[u8],
        tag: [u8; 4],
    ) {
        let result = match block::block2(body, block2, SERVER_SZX) {
            Ok(part) => self.endpoint.respond(now, id, reply.code, |w| {
                write_reply(w, reply, block1, part.option.map(|b| (b, body.len(), tag)))?;
                w.payload(part.data);
                Ok(())
            }),
            Err(code) => self.endpoint.respond(now, id, code, |w| {
                w.payload(b"Block2 number past the end of the representation");
                Ok(())
            }),
        };
        if let Err(e) = result {
            tracing::warn!(peer = %id.peer, error = %e, "CoAP response not encodable");
        }
    }

    /// A permit to handle `request` in a task of its own, or `None` after answering 5.03
    /// when `MAX_IN_FLIGHT` are running.
    fn permit_or_busy(
        &mut self,
        now: u64,
        request: &Request,
    ) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match Arc::clone(&self.context.in_flight).try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                self.respond(
                    now,
                    &request.id,
                    None,
                    None,
                    Reply::error(Code::SERVICE_UNAVAILABLE, "server busy; retry later"),
                );
                None
            }
        }
    }

    /// Routes LwM2M traffic: registrations, bootstrap requests, firmware downloads. Returns
    /// the request back when it is not LwM2M.
    fn lwm2m_request(&mut self, now: u64, request: Request) -> Option<Request> {
        let Some(server) = self.context.lwm2m.clone() else {
            return Some(request);
        };
        match request.path.first().map(String::as_str) {
            Some("rd") => {
                let permit = self.permit_or_busy(now, &request)?;
                let context = Arc::clone(&self.context);
                tokio::spawn(async move {
                    let _permit = permit;
                    let r = server
                        .handle_rd(
                            request.id.peer,
                            request.method,
                            &request.path,
                            &request.queries,
                            request.content_format,
                            &request.payload,
                        )
                        .await;
                    let reply = Reply {
                        location: r.location,
                        ..Reply::error(r.code, String::from_utf8_lossy(&r.payload))
                    };
                    let _ = context.commands.send(Command::Respond {
                        id: request.id,
                        block1: request.block1,
                        block2: None,
                        reply,
                        keep_as: None,
                    });
                });
                None
            }
            Some("bs") if request.path.len() == 1 => {
                // Anyone can send these: they take a permit like registrations do, so a flood
                // cannot spawn without bound.
                let permit = self.permit_or_busy(now, &request)?;
                let context = Arc::clone(&self.context);
                tokio::spawn(async move {
                    let _permit = permit;
                    let r = server
                        .handle_bootstrap(request.id.peer, request.method, &request.queries)
                        .await;
                    let _ = context.commands.send(Command::Respond {
                        id: request.id,
                        block1: None,
                        block2: None,
                        reply: Reply::error(r.code, String::from_utf8_lossy(&r.payload)),
                        keep_as: None,
                    });
                });
                None
            }
            Some("fw") if request.path.len() == 2 => {
                match (request.method, server.firmware_image(&request.path[1])) {
                    (Code::GET, Some(image)) => {
                        let meta = Reply {
                            content_format: Some(option::format::OCTET_STREAM),
                            ..Reply::empty(Code::CONTENT)
                        };
                        // The image ID is unique per package: a fine ETag, and no hashing
                        // of the whole package for every block.
                        let tag = etag(image.id.as_bytes());
                        let block2 = request.block2.or(Some(BlockValue {
                            num: 0,
                            more: false,
                            szx: SERVER_SZX,
                        }));
                        self.respond_with(now, &request.id, None, block2, &meta, &image.bytes, tag);
                    }
                    (Code::GET, None) => self.respond(
                        now,
                        &request.id,
                        None,
                        None,
                        Reply::error(Code::NOT_FOUND, "no such firmware package"),
                    ),
                    _ => self.respond(
                        now,
                        &request.id,
                        None,
                        None,
                        Reply::error(Code::METHOD_NOT_ALLOWED, "download packages with GET"),
                    ),
                }
                None
            }
            _ => Some(request),
        }
    }
}

/// Writes a reply's options in ascending order: ETag (4), Observe (6), Location-Path (8),
/// Content-Format (12),
/// Block2 (23), Block1 (27), Size2 (28), Size1 (60).
fn write_reply(
    w: &mut MessageWriter<'_>,
    reply: &Reply,
    block1: Option<BlockValue>,
    block2: Option<(BlockValue, usize, [u8; 4])>,
) -> Result<(), strata_proto_coap::EncodeError> {
    if let Some((_, _, tag)) = block2 {
        // Lets the client notice that the representation changed between blocks.
        w.option(option::ETAG, &tag)?;
    }
    if let Some(seq) = reply.observe {
        w.uint_option(option::OBSERVE, seq)?;
    }
    for segment in &reply.location {
        w.option(option::LOCATION_PATH, segment.as_bytes())?;
    }
    if let Some(cf) = reply.content_format {
        w.uint_option(option::CONTENT_FORMAT, u32::from(cf))?;
    }
    if let Some((b2, _, _)) = block2 {
        w.uint_option(option::BLOCK2, b2.encode())?;
    }
    if let Some(b1) = block1 {
        w.uint_option(option::BLOCK1, b1.encode())?;
    }
    if let Some((b2, total, _)) = block2
        && b2.num == 0
    {
        w.uint_option(option::SIZE2, total as u32)?;
    }
    if let Some(size1) = reply.size1 {
        w.uint_option(option::SIZE1, size1)?;
    }
    Ok(())
}

/// A short hash of a representation (FNV-1a, 4 bytes): enough to tell versions apart.
fn etag(body: &[u8]) -> [u8; 4] {
    let mut h: u32 = 0x811c_9dc5;
    for b in body {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h.to_be_bytes()
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
