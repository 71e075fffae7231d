//! Broker settings.

use std::net::SocketAddr;
use std::sync::Arc;

/// Settings of a [`Broker`](crate::Broker). `Default` gives sane values for one node.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Plain TCP listeners.
    pub tcp: Vec<SocketAddr>,
    /// TLS listeners, each with its rustls configuration (see
    /// [`server_config_from_pem`](crate::server_config_from_pem)).
    pub tls: Vec<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// WebSocket listeners (MQTT on path `/mqtt`, subprotocol `mqtt`).
    pub websocket: Vec<SocketAddr>,
    /// WebSocket over TLS listeners.
    pub secure_websocket: Vec<(SocketAddr, Arc<rustls::ServerConfig>)>,
    /// Event-loop threads (0: half the cores, at least one; the rest serve the platform).
    pub workers: usize,
    /// Most simultaneous connections; more are refused at accept.
    pub max_connections: usize,
    /// Largest packet accepted from or sent to a client, in bytes.
    pub max_packet_size: u32,
    /// Outgoing QoS 1/2 messages in flight per client (MQTT 5.0 Receive Maximum for our side).
    pub max_inflight: u16,
    /// Incoming QoS 1/2 messages a client may have unacknowledged (our Receive Maximum).
    pub receive_maximum: u16,
    /// Messages queued per session while offline or while the in-flight window is full.
    pub max_queued_messages: usize,
    /// Retained messages kept at most.
    pub max_retained_messages: usize,
    /// Most levels in a topic filter; deeper ones are refused (5.0: reason 0x8F).
    pub max_topic_levels: usize,
    /// Most subscriptions one session holds; more are refused (5.0: reason 0x97).
    pub max_subscriptions_per_session: usize,
    /// Highest Session Expiry Interval granted, in seconds.
    pub max_session_expiry_secs: u32,
    /// Keep alive the server imposes on 5.0 clients asking for none or a longer one.
    pub server_keep_alive: Option<u16>,
    /// Topic aliases a 5.0 client may use towards the broker.
    pub topic_alias_maximum: u16,
    /// PUBLISH packets per second one client may send (0: no limit); above it the broker
    /// stops reading from the client for a while, so TCP slows it down without loss.
    pub max_publish_rate: u32,
    /// How many PUBLISH packets a client may send at once above the rate.
    pub publish_burst: u32,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            tcp: vec![SocketAddr::from(([127, 0, 0, 1], 1883))],
            tls: Vec::new(),
            websocket: Vec::new(),
            secure_websocket: Vec::new(),
            workers: 0,
            max_connections: 100_000,
            max_packet_size: 1024 * 1024,
            max_inflight: 64,
            receive_maximum: 64,
            max_queued_messages: 1000,
            max_retained_messages: 100_000,
            max_topic_levels: 64,
            max_subscriptions_per_session: 1000,
            max_session_expiry_secs: 7 * 24 * 3600,
            server_keep_alive: None,
            topic_alias_maximum: 64,
            max_publish_rate: 0,
            publish_burst: 100,
        }
    }
}
