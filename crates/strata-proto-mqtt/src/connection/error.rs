//! Connection-level errors: [`ProtocolViolation`] (the peer misbehaved) and [`UsageError`] /
//! [`PublishError`] (the local caller misused the API).

use core::fmt;

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketType, Publish};
use crate::reason::ReasonCode;

/// The client broke the protocol; the connection is closed with the reason code from
/// [`ProtocolViolation::reason_code`] (MQTT 5.0 DISCONNECT or CONNACK) or silently (3.1.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// The bytes did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A packet that a client may not send, or not in the current state (e.g. a second CONNECT).
    #[error("unexpected {0:?} packet")]
    UnexpectedPacket(PacketType),
    /// A Topic Alias greater than the Topic Alias Maximum the server announced.
    #[error("topic alias {0} exceeds the maximum")]
    TopicAliasOutOfRange(u16),
    /// A PUBLISH with an empty topic and a Topic Alias that has no mapping yet.
    #[error("topic alias {0} is not mapped")]
    UnknownTopicAlias(u16),
    /// More unacknowledged QoS 1/2 PUBLISH packets than the server's Receive Maximum.
    #[error("receive maximum exceeded")]
    ReceiveMaximumExceeded,
    /// A PUBLISH with a QoS above the server's Maximum QoS.
    #[error("QoS not supported")]
    QoSNotSupported,
    /// A retained PUBLISH when the server announced Retain Available = 0.
    #[error("retain not supported")]
    RetainNotSupported,
    /// A SUBSCRIBE with a subscription identifier when the server does not support them.
    #[error("subscription identifiers not supported")]
    SubscriptionIdentifiersNotSupported,
    /// A PUBLISH from the client carrying a Subscription Identifier (only servers send them).
    #[error("subscription identifier in a PUBLISH from the client")]
    SubscriptionIdentifierInPublish,
    /// A DISCONNECT setting a non-zero Session Expiry Interval after CONNECT set zero.
    #[error("session expiry interval changed from zero")]
    SessionExpiryChanged,
    /// No packet within one and a half times the keep alive.
    #[error("keep alive timeout")]
    KeepAliveTimeout,
    /// No CONNECT within the connect timeout.
    #[error("no CONNECT received in time")]
    ConnectTimeout,
    /// A 3.1.1 CONNECT with an empty client identifier and Clean Session 0.
    #[error("empty client identifier without clean session")]
    EmptyClientId,
}

impl ProtocolViolation {
    /// The reason code MQTT 5.0 requires when answering this violation.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Decode(e) => e.reason_code(),
            Self::UnexpectedPacket(_)
            | Self::UnknownTopicAlias(_)
            | Self::SessionExpiryChanged
            | Self::SubscriptionIdentifierInPublish
            | Self::ConnectTimeout => ReasonCode::ProtocolError,
            Self::TopicAliasOutOfRange(_) => ReasonCode::TopicAliasInvalid,
            Self::ReceiveMaximumExceeded => ReasonCode::ReceiveMaximumExceeded,
            Self::QoSNotSupported => ReasonCode::QoSNotSupported,
            Self::RetainNotSupported => ReasonCode::RetainNotSupported,
            Self::SubscriptionIdentifiersNotSupported => {
                ReasonCode::SubscriptionIdentifiersNotSupported
            }
            Self::EmptyClientId => ReasonCode::ClientIdentifierNotValid,
            Self::KeepAliveTimeout => ReasonCode::KeepAliveTimeout,
        }
    }
}

/// The caller used the connection API at the wrong time or with wrong arguments (local misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// `accept_connect` or `reject_connect` without a pending CONNECT.
    #[error("no CONNECT is waiting for a decision")]
    NoPendingConnect,
    /// The connection is not (or no longer) connected.
    #[error("connection is not connected")]
    NotConnected,
    /// No incoming exchange with this packet identifier awaits the call.
    #[error("unknown packet identifier {0}")]
    UnknownPacketId(u16),
    /// The number of reason codes does not match the number of filters.
    #[error("expected {expected} reason codes, got {got}")]
    ReasonCodeCount {
        /// Filters in the SUBSCRIBE or UNSUBSCRIBE.
        expected: usize,
        /// Reason codes given.
        got: usize,
    },
    /// The packet to send did not encode.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// [`ServerConnection::publish`](crate::ServerConnection::publish) could not take the message;
/// the message is given back.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The connection is not connected; queue the message in the session instead.
    #[error("connection is not connected")]
    NotConnected(Publish),
    /// The pending queue is full (backpressure); retry after deliveries complete.
    #[error("pending queue is full")]
    QueueFull(Publish),
    /// The message is invalid (e.g. bad topic, properties not allowed).
    #[error("invalid message: {1}")]
    Invalid(Publish, EncodeError),
}

impl PublishError {
    /// Gives back the message that was not sent.
    pub fn into_inner(self) -> Publish {
        match self {
            Self::NotConnected(p) | Self::QueueFull(p) | Self::Invalid(p, _) => p,
        }
    }
}

impl fmt::Debug for PublishError {
    /// Does not print the payload.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotConnected(p) => f.debug_tuple("NotConnected").field(&p.topic).finish(),
            Self::QueueFull(p) => f.debug_tuple("QueueFull").field(&p.topic).finish(),
            Self::Invalid(p, e) => f.debug_tuple("Invalid").field(&p.topic).field(e).finish(),
        }
    }
}
