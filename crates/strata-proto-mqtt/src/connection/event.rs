//! What a [`ServerConnection`](crate::ServerConnection) reports to the broker.

use alloc::boxed::Box;

use super::error::ProtocolViolation;
use crate::packet::{Auth, Connect, Publish, Subscribe, Unsubscribe};
use crate::reason::ReasonCode;
use crate::types::PacketId;

/// Something the broker must know about or act on, from
/// [`ServerConnection::poll_event`](crate::ServerConnection::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A valid CONNECT arrived: authenticate it, then call `accept_connect` or `reject_connect`.
    /// Until then, further bytes from the client are buffered but not processed.
    Connect(Box<Connect>),
    /// An application message from the client, with any topic alias resolved (the topic is
    /// always set and `properties.topic_alias` is `None`). For QoS 1 and 2 call
    /// `ack_incoming(packet_id)` once the message is durable; PUBACK / PUBREC is sent then.
    /// A QoS 2 message is reported once even if the client re-sends it.
    Publish(Publish),
    /// A SUBSCRIBE: apply it, then call `suback` with one reason code per filter.
    Subscribe(Subscribe),
    /// An UNSUBSCRIBE: apply it, then call `unsuback` with one reason code per filter.
    Unsubscribe(Unsubscribe),
    /// An outgoing QoS 1/2 message was acknowledged (PUBACK, PUBCOMP, or PUBREC with an error
    /// code) and left the session.
    Delivered {
        /// The packet identifier it was sent with.
        packet_id: PacketId,
        /// The client's reason code (`Success` on 3.1.1).
        reason_code: ReasonCode,
    },
    /// An AUTH packet (5.0 re-authentication); answer with `send_auth` or `disconnect`.
    Auth(Auth),
    /// The client broke the protocol; a [`Event::Disconnected`] follows.
    ProtocolError(ProtocolViolation),
    /// The connection is closed. Flush `poll_transmit`, close the transport, and take the
    /// session with `take_session`. This is the last event.
    Disconnected {
        /// Why the connection ended.
        reason: DisconnectReason,
        /// Whether the will message of the CONNECT (if any) must be published: true unless the
        /// client disconnected normally or the connection was never accepted.
        publish_will: bool,
    },
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client sent DISCONNECT.
    Client {
        /// The client's reason code (`Success` on 3.1.1).
        reason_code: ReasonCode,
        /// A new Session Expiry Interval from the DISCONNECT properties (5.0).
        session_expiry_interval: Option<u32>,
    },
    /// The client broke the protocol (including keep alive and connect timeouts); the reason
    /// code was sent in DISCONNECT or CONNACK on 5.0.
    ProtocolError(ReasonCode),
    /// The broker called `disconnect` or `reject_connect` with this reason code.
    Server(ReasonCode),
    /// The transport was closed (`handle_eof`).
    TransportClosed,
}

/// What [`ServerConnection::publish`](crate::ServerConnection::publish) did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PublishOutcome {
    /// Queued for transmission now; QoS 1/2 messages carry their packet identifier.
    Sent(Option<PacketId>),
    /// Waiting in the pending queue for an in-flight slot (client's Receive Maximum).
    Queued,
    /// Discarded because it exceeds the client's Maximum Packet Size; MQTT 5.0 treats this as
    /// if it had been delivered.
    DroppedTooLarge,
}
