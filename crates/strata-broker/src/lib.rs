//! Strata's MQTT 3.1.1 and 5.0 broker.
//!
//! The protocol itself (framing, validation, QoS flows, keep alive, topic aliases, flow
//! control) lives in the sans-IO [`strata_proto_mqtt::ServerConnection`]; this crate owns the
//! sockets and the broker's shared state:
//!
//! - [`Broker::bind`] opens the listeners and returns a [`BrokerHandle`] plus one [`Worker`]
//!   per event-loop thread; the caller runs each worker on a thread of its choosing.
//! - Each worker is a mio event loop over a slab of connections (no task or buffer per idle
//!   connection), all sharing one port through `SO_REUSEPORT`.
//! - The router (sessions, the subscription tree with `+`/`#`/`$share`, retained messages,
//!   offline queues, delayed wills) is shared; workers hold its lock only to decide where a
//!   message goes, and hand messages for other workers' connections through their inboxes.
//! - [`Hooks`] is the platform's side: authentication (asynchronous), authorisation, and
//!   publishes the platform consumes itself (the device API), acknowledged once durable.
//!
//! This crate does not parse or store telemetry and knows nothing about devices: the hooks do.

mod config;
mod hooks;
mod persist;
mod router;
mod shared;
mod topic_tree;
mod transport;
mod websocket;
mod worker;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use mio::Poll;
use mio::net::TcpListener;
use socket2::{Domain, Socket, Type};
use strata_proto_mqtt::ServerConfig;
use strata_proto_mqtt::packet::Publish;

pub use config::BrokerConfig;
pub use hooks::{
    Action, AllowAll, AuthDecision, AuthRequest, ClientInfo, Disposition, Hooks, PublishResult,
    Reply,
};
pub use persist::{PersistedSession, PersistedState};
pub use strata_proto_mqtt as proto;
pub use transport::{
    FingerprintClientVerifier, TlsConfigError, fingerprint, server_config_from_pem,
};
pub use worker::{Listener, ListenerKind, Worker};

use router::{Router, RouterLimits};
use shared::{Command, Inbox, Shared};

/// Topics under this prefix form private namespaces, `$private/{owner}/{topic}`: clients can
/// neither publish nor subscribe there themselves; [`Hooks::mount`] files a client's
/// subscription there, and deliveries drop the `$private/{owner}/` part. The platform
/// publishes to `$private/{owner}/{topic}` to reach exactly one client's `{topic}`
/// subscription (as `$` topics, wildcards at the first level never match them).
pub const PRIVATE_PREFIX: &str = "$private/";

/// Whether a topic or filter (possibly `$share/{group}/...`) names a private namespace.
pub fn is_private(topic: &str) -> bool {
    let plain = match topic.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or("", |(_, f)| f),
        None => topic,
    };
    plain.starts_with(PRIVATE_PREFIX)
}

/// The topic a subscriber of a private namespace sees: `$private/{owner}/` dropped.
pub(crate) fn unmounted(topic: &str) -> Option<&str> {
    let rest = topic.strip_prefix(PRIVATE_PREFIX)?;
    rest.split_once('/').map(|(_, t)| t)
}

/// Connections (and sessions) the broker reserves table room for at start; beyond this the
/// tables grow as usual.
const MAX_RESERVED_CONNECTIONS: usize = 1 << 20;

/// The broker's constructor.
#[derive(Debug)]
pub struct Broker;

impl Broker {
    /// Binds every listener and prepares the workers. Run each returned [`Worker`] on its own
    /// thread; they stop after [`BrokerHandle::shutdown`].
    pub fn bind(
        config: BrokerConfig,
        hooks: Arc<dyn Hooks>,
    ) -> io::Result<(BrokerHandle, Vec<Worker>)> {
        let workers = if config.workers == 0 {
            // Half the cores: the broker shares the machine with the platform (HTTP, the
            // storage writer, ingest), and an event loop that has to wait for a core costs
            // latency. Measured on 2 cores: one loop has a third of the p99 latency of two
            // at nearly the same throughput (BENCHMARKS.md).
            std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
        } else {
            config.workers
        };
        // Bind each address once to learn the real port (when 0 was asked), then every other
        // worker binds the same port with SO_REUSEPORT and the kernel spreads connections.
        let mut per_worker: Vec<Vec<Listener>> = (0..workers).map(|_| Vec::new()).collect();
        let mut local_addrs = Vec::new();
        let mut endpoints = Vec::new();
        let listeners = config
            .tcp
            .iter()
            .map(|addr| (*addr, ListenerKind::Tcp))
            .chain(
                config
                    .tls
                    .iter()
                    .map(|(addr, tls)| (*addr, ListenerKind::Tls(Arc::clone(tls)))),
            )
            .chain(
                config
                    .websocket
                    .iter()
                    .map(|addr| (*addr, ListenerKind::WebSocket)),
            )
            .chain(
                config
                    .secure_websocket
                    .iter()
                    .map(|(addr, tls)| (*addr, ListenerKind::SecureWebSocket(Arc::clone(tls)))),
            );
        for (addr, kind) in listeners {
            let first = reuseport_listener(addr)?;
            let actual = first.local_addr()?;
            if matches!(kind, ListenerKind::Tcp) {
                local_addrs.push(actual);
            }
            endpoints.push((kind.scheme(), actual));
            per_worker[0].push(Listener::new(TcpListener::from_std(first), kind.clone()));
            for listeners in per_worker.iter_mut().skip(1) {
                listeners.push(Listener::new(
                    TcpListener::from_std(reuseport_listener(actual)?),
                    kind.clone(),
                ));
            }
        }
        let mut polls = Vec::with_capacity(workers);
        let mut inboxes = Vec::with_capacity(workers);
        for _ in 0..workers {
            let poll = Poll::new()?;
            let waker = mio::Waker::new(poll.registry(), worker::WAKER)?;
            inboxes.push(Inbox::new(waker));
            polls.push(poll);
        }
        let router = Router::new(RouterLimits {
            max_queued: config.max_queued_messages,
            max_retained: config.max_retained_messages,
            expected_sessions: config.max_connections.min(MAX_RESERVED_CONNECTIONS),
            max_topic_levels: config.max_topic_levels,
            max_subscriptions: config.max_subscriptions_per_session,
        });
        let mut proto = ServerConfig::default();
        proto
            .max_packet_size(config.max_packet_size)
            .receive_maximum(config.receive_maximum)
            .topic_alias_maximum(config.topic_alias_maximum)
            .server_keep_alive(config.server_keep_alive)
            .max_outgoing_inflight(config.max_inflight)
            .max_pending(config.max_queued_messages);
        let shared = Arc::new(Shared::new(router, inboxes, hooks, config));
        let epoch = Instant::now();
        let mut built = Vec::with_capacity(workers);
        for (index, (poll, listeners)) in polls.into_iter().zip(per_worker).enumerate() {
            built.push(Worker::new(
                index,
                poll,
                listeners,
                Arc::clone(&shared),
                proto.clone(),
                epoch,
            )?);
        }
        Ok((
            BrokerHandle {
                shared,
                local_addrs,
                endpoints,
                epoch,
            },
            built,
        ))
    }
}

fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn reuseport_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    #[cfg(unix)]
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}

/// Controls a running broker. Cheap to clone.
#[derive(Clone)]
pub struct BrokerHandle {
    shared: Arc<Shared>,
    local_addrs: Vec<SocketAddr>,
    endpoints: Vec<(&'static str, SocketAddr)>,
    /// The workers' clock origin.
    epoch: Instant,
}

impl std::fmt::Debug for BrokerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerHandle")
            .field("local_addrs", &self.local_addrs)
            .field("endpoints", &self.endpoints)
            .finish_non_exhaustive()
    }
}

impl BrokerHandle {
    /// The TCP addresses listened on (with real ports when 0 was configured).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// Every listener as (URL scheme: `mqtt`, `mqtts`, `ws`, `wss`; address with the real
    /// port when 0 was configured).
    pub fn endpoints(&self) -> &[(&'static str, SocketAddr)] {
        &self.endpoints
    }

    /// Open connections.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Publishes a message from the platform to subscribers (and the retained store).
    pub fn publish(&self, publish: Publish) {
        self.shared.send(0, Command::Inject(publish));
    }

    /// Disconnects every connection whose session belongs to `owner` (e.g. a device whose
    /// credentials were revoked), with `reason` (5.0 clients see it). Returns how many.
    pub fn disconnect_owner(&self, owner: &str, reason: proto::ReasonCode) -> usize {
        let conns = self.shared.router().online_of_owner(owner);
        self.kick(&conns, reason)
    }

    /// Has each connection's worker close it with `reason`; returns how many.
    fn kick(&self, conns: &[router::ConnRef], reason: proto::ReasonCode) -> usize {
        for conn in conns {
            self.shared.send(
                conn.worker,
                Command::Kick {
                    token: conn.token,
                    generation: conn.generation,
                    reason,
                },
            );
        }
        conns.len()
    }

    /// Ends every session of `owner` (e.g. a deleted device): offline sessions now, with
    /// their queued messages, so their client identifiers are free for others at once;
    /// online ones are disconnected with `reason` and end with their connection, whatever
    /// session expiry the client asked for. Wills go out as at any session's end. Returns how
    /// many connections were closed.
    pub fn end_sessions_of_owner(&self, owner: &str, reason: proto::ReasonCode) -> usize {
        let now = self.epoch.elapsed().as_millis() as u64;
        let (conns, wills) = self.shared.router().end_sessions_of_owner(owner, now);
        for will in wills {
            self.publish(router::will_message(will));
        }
        self.kick(&conns, reason)
    }

    /// Whether any session (online, or offline and persistent) subscribes to a filter
    /// matching `topic`, so a publish to it now reaches someone.
    pub fn has_subscribers(&self, topic: &str) -> bool {
        self.shared.router().has_subscribers(topic)
    }

    /// Loads persisted sessions and retained messages; call it before the workers run.
    /// Returns how many sessions and retained messages came back.
    pub fn restore(&self, state: PersistedState) -> (usize, usize) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.shared.router().restore(state, now, wall_clock_ms())
    }

    /// The persistent sessions and retained messages as they are now, for storage.
    ///
    /// Sessions whose client is connected are taken with their subscriptions only (their
    /// in-flight messages live in the connection until it closes); after [`Self::shutdown`]
    /// and the workers' return, every session is offline and complete.
    pub fn snapshot(&self) -> PersistedState {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.shared.router().snapshot(now, wall_clock_ms())
    }

    /// Like [`Self::snapshot`], but only if anything changed since the reading in
    /// `last_change` (which is updated); for periodic saving.
    pub fn snapshot_if_changed(&self, last_change: &mut u64) -> Option<PersistedState> {
        let now = self.epoch.elapsed().as_millis() as u64;
        let router = self.shared.router();
        let changes = router.changes();
        if changes == *last_change {
            return None;
        }
        *last_change = changes;
        Some(router.snapshot(now, wall_clock_ms()))
    }

    /// Stops accepting, disconnects clients (5.0 clients get reason 0x8B, server shutting
    /// down) and ends the workers' loops.
    pub fn shutdown(&self) {
        self.shared.shutting_down.store(true, Ordering::Relaxed);
        for worker in 0..self.shared.inboxes.len() {
            self.shared.send(worker, Command::Shutdown);
        }
    }
}
