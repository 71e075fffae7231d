//! Server configuration shared by every connection, and the per-connection accept decision.

use alloc::string::String;

use super::session::SessionState;
use crate::properties::Properties;
use crate::types::QoS;

/// Limits and capabilities a server applies to every connection.
///
/// Values that MQTT 5.0 lets a server announce are sent in CONNACK when they differ from the
/// protocol defaults. Construct with [`ServerConfig::default`] and adjust with the setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    pub(crate) max_packet_size: u32,
    pub(crate) receive_maximum: u16,
    pub(crate) topic_alias_maximum: u16,
    pub(crate) maximum_qos: QoS,
    pub(crate) retain_available: bool,
    pub(crate) wildcard_subscription_available: bool,
    pub(crate) subscription_identifiers_available: bool,
    pub(crate) shared_subscription_available: bool,
    pub(crate) server_keep_alive: Option<u16>,
    pub(crate) connect_timeout_ms: u64,
    pub(crate) max_outgoing_inflight: u16,
    pub(crate) max_pending: usize,
    pub(crate) outgoing_topic_aliases: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_packet_size: 1 << 20,
            receive_maximum: 64,
            topic_alias_maximum: 16,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            wildcard_subscription_available: true,
            subscription_identifiers_available: true,
            shared_subscription_available: true,
            server_keep_alive: None,
            connect_timeout_ms: 10_000,
            max_outgoing_inflight: 64,
            max_pending: 1024,
            outgoing_topic_aliases: true,
        }
    }
}

impl ServerConfig {
    /// Largest incoming packet, in bytes, counting the whole packet (default 1 MiB).
    ///
    /// Larger packets are rejected from their fixed header alone (DISCONNECT 0x95 on 5.0), so
    /// this also bounds the receive buffer. Announced to 5.0 clients as Maximum Packet Size.
    pub fn max_packet_size(&mut self, bytes: u32) -> &mut Self {
        self.max_packet_size = bytes.max(2);
        self
    }

    /// How many incoming QoS 1/2 messages may await acknowledgement at once (default 64,
    /// minimum 1). Announced to 5.0 clients as Receive Maximum; a 5.0 client exceeding it is
    /// disconnected with 0x93. Not enforced on 3.1.1, which has no such limit.
    ///
    /// Each unacknowledged message holds its packet identifier (a few bytes), the broker holds
    /// the message itself.
    pub fn receive_maximum(&mut self, value: u16) -> &mut Self {
        self.receive_maximum = value.max(1);
        self
    }

    /// Highest topic alias a 5.0 client may use (default 16; 0 disables incoming aliases).
    ///
    /// Each alias holds one topic string for the life of the connection.
    pub fn topic_alias_maximum(&mut self, value: u16) -> &mut Self {
        self.topic_alias_maximum = value;
        self
    }

    /// Highest QoS accepted from 5.0 clients (default 2); higher QoS is disconnected with 0x9B.
    pub fn maximum_qos(&mut self, qos: QoS) -> &mut Self {
        self.maximum_qos = qos;
        self
    }

    /// Whether retained messages are supported (default true); if not, a retained PUBLISH from
    /// a 5.0 client is disconnected with 0x9A.
    pub fn retain_available(&mut self, value: bool) -> &mut Self {
        self.retain_available = value;
        self
    }

    /// Whether wildcard subscriptions are supported (default true). Only announced: the broker
    /// answers such filters with SUBACK 0xA2.
    pub fn wildcard_subscription_available(&mut self, value: bool) -> &mut Self {
        self.wildcard_subscription_available = value;
        self
    }

    /// Whether subscription identifiers are supported (default true); if not, a SUBSCRIBE with
    /// one is disconnected with 0xA1.
    pub fn subscription_identifiers_available(&mut self, value: bool) -> &mut Self {
        self.subscription_identifiers_available = value;
        self
    }

    /// Whether shared subscriptions are supported (default true). Only announced: the broker
    /// answers `$share/` filters with SUBACK 0x9E.
    pub fn shared_subscription_available(&mut self, value: bool) -> &mut Self {
        self.shared_subscription_available = value;
        self
    }

    /// Keep alive, in seconds, imposed on 5.0 clients through Server Keep Alive (default: none,
    /// the client's value is used). 0 disables keep alive. 3.1.1 clients keep their own value.
    pub fn server_keep_alive(&mut self, seconds: Option<u16>) -> &mut Self {
        self.server_keep_alive = seconds;
        self
    }

    /// How long a new connection may take to send CONNECT, in milliseconds (default 10 s).
    pub fn connect_timeout_ms(&mut self, ms: u64) -> &mut Self {
        self.connect_timeout_ms = ms;
        self
    }

    /// Most outgoing QoS 1/2 messages in flight at once (default 64, minimum 1); the effective
    /// limit is the smaller of this and the client's Receive Maximum. Messages beyond it wait
    /// in the pending queue.
    pub fn max_outgoing_inflight(&mut self, value: u16) -> &mut Self {
        self.max_outgoing_inflight = value.max(1);
        self
    }

    /// Most outgoing QoS 1/2 messages waiting for an in-flight slot (default 1024); beyond it
    /// [`ServerConnection::publish`](crate::ServerConnection::publish) returns
    /// [`PublishError::QueueFull`](crate::PublishError::QueueFull).
    ///
    /// Each pending message holds a clone of its [`Publish`](crate::Publish) (the payload is
    /// shared, not copied).
    pub fn max_pending(&mut self, value: usize) -> &mut Self {
        self.max_pending = value;
        self
    }

    /// Whether outgoing messages use topic aliases when the 5.0 client allows them (default
    /// true). Aliases are assigned first come, first served until the client's maximum.
    pub fn outgoing_topic_aliases(&mut self, value: bool) -> &mut Self {
        self.outgoing_topic_aliases = value;
        self
    }
}

/// The broker's decision to accept a CONNECT, passed to
/// [`ServerConnection::accept_connect`](crate::ServerConnection::accept_connect).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AcceptOptions {
    /// The resumed session, or `None` for a new one (CONNACK Session Present follows this).
    pub session: Option<SessionState>,
    /// The client identifier assigned by the server when the client sent an empty one (5.0).
    pub assigned_client_identifier: Option<String>,
    /// Extra CONNACK properties (5.0), e.g. session expiry, reason string, user properties,
    /// response information. Capability properties from [`ServerConfig`] are added on top.
    pub properties: Properties,
}

impl AcceptOptions {
    /// Accepts with a new, empty session.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts resuming `session`.
    pub fn resume(session: SessionState) -> Self {
        Self {
            session: Some(session),
            ..Self::default()
        }
    }
}
