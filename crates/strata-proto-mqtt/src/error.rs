//! Codec errors: [`DecodeError`] when the peer sent invalid bytes, [`EncodeError`] when the
//! caller asked to encode a packet that the protocol does not allow, and the crate-wide [`Error`].
//!
//! Every peer-caused error maps to the reason code that MQTT 5.0 requires in the DISCONNECT or
//! CONNACK that answers it, through `reason_code()`; on MQTT 3.1.1 connections the answer is to
//! close the network connection (or, for CONNECT, the CONNACK return code given by
//! [`ReasonCode::to_v3_connack`]).

use crate::connection::{ProtocolViolation, UsageError};
use crate::properties::PropertyId;
use crate::reason::ReasonCode;
use crate::topic::TopicError;
use crate::types::ProtocolVersion;

/// The peer sent bytes that are not a valid MQTT packet for the negotiated version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The packet is larger than the maximum packet size; detected from the fixed header alone.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max} bytes")]
    PacketTooLarge {
        /// Size of the whole packet as announced by its fixed header.
        size: usize,
        /// The limit in force.
        max: usize,
    },
    /// A variable byte integer longer than four bytes.
    #[error("variable byte integer longer than 4 bytes")]
    InvalidVarInt,
    /// Packet type 0, or type 15 (AUTH) on an MQTT 3.1.1 connection.
    #[error("invalid packet type {0}")]
    InvalidPacketType(u8),
    /// Reserved flag bits of the fixed header are not as the specification requires.
    #[error("invalid fixed header flags 0x{flags:X} for packet type {packet_type}")]
    InvalidHeaderFlags {
        /// The packet type (upper nibble of the first byte).
        packet_type: u8,
        /// The flags (lower nibble of the first byte).
        flags: u8,
    },
    /// The remaining length ended before a field that the packet requires.
    #[error("packet ended unexpectedly")]
    UnexpectedEnd,
    /// Bytes were left over after the last field of the packet.
    #[error("{0} unexpected bytes after the end of the packet")]
    TrailingBytes(usize),
    /// A string is not well-formed UTF-8.
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A string contains U+0000.
    #[error("string contains U+0000")]
    NullCharacter,
    /// A QoS of 3, in PUBLISH, a will or a subscription.
    #[error("invalid QoS {0}")]
    InvalidQoS(u8),
    /// DUP set on a QoS 0 PUBLISH.
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupOnQoS0,
    /// A packet identifier of zero.
    #[error("packet identifier is zero")]
    ZeroPacketId,
    /// The CONNECT protocol name is not `MQTT`.
    #[error("protocol name is not MQTT")]
    InvalidProtocolName,
    /// The CONNECT protocol level is not 4 (3.1.1) or 5 (5.0).
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolVersion(u8),
    /// Reserved or inconsistent CONNECT flags or CONNACK acknowledge flags.
    #[error("invalid CONNECT or CONNACK flags 0x{0:02X}")]
    InvalidConnectFlags(u8),
    /// A property identifier this version does not define.
    #[error("unknown property identifier 0x{0:02X}")]
    UnknownProperty(u32),
    /// A property that may appear only once appeared twice.
    #[error("duplicate property {0:?}")]
    DuplicateProperty(PropertyId),
    /// A property that this packet type may not carry.
    #[error("property {0:?} is not allowed in this packet")]
    PropertyNotAllowed(PropertyId),
    /// A property value outside its allowed range (e.g. Receive Maximum 0).
    #[error("invalid value for property {0:?}")]
    InvalidPropertyValue(PropertyId),
    /// A Topic Alias of 0.
    #[error("topic alias 0")]
    ZeroTopicAlias,
    /// A byte that is not a defined reason code.
    #[error("unknown reason code 0x{0:02X}")]
    UnknownReasonCode(u8),
    /// A reason code that this packet type may not carry.
    #[error("reason code {0} is not allowed in this packet")]
    ReasonCodeNotAllowed(ReasonCode),
    /// An invalid PUBLISH topic name (including an empty one without a topic alias).
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// An MQTT 5.0 PUBLISH with an empty topic name and no topic alias.
    #[error("empty topic name without a topic alias")]
    MissingTopic,
    /// Retain Handling 3 in a subscription option.
    #[error("retain handling 3")]
    InvalidRetainHandling,
    /// An invalid topic filter in SUBSCRIBE or UNSUBSCRIBE.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// SUBSCRIBE or UNSUBSCRIBE without any topic filter.
    #[error("no topic filters")]
    NoTopicFilters,
    /// Reserved subscription option bits set, or Retain Handling 3.
    #[error("invalid subscription options 0x{0:02X}")]
    InvalidSubscriptionOptions(u8),
    /// No Local set on a shared subscription.
    #[error("no local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// A packet other than CONNECT where CONNECT was required.
    #[error("expected CONNECT, got packet type {0}")]
    ExpectedConnect(u8),
}

impl DecodeError {
    /// The reason code MQTT 5.0 requires when answering this error with CONNACK or DISCONNECT.
    pub fn reason_code(&self) -> ReasonCode {
        use DecodeError as E;
        match self {
            E::PacketTooLarge { .. } => ReasonCode::PacketTooLarge,
            E::InvalidVarInt
            | E::InvalidPacketType(_)
            | E::InvalidHeaderFlags { .. }
            | E::UnexpectedEnd
            | E::TrailingBytes(_)
            | E::InvalidUtf8
            | E::NullCharacter
            | E::InvalidQoS(_)
            | E::DupOnQoS0
            | E::InvalidConnectFlags(_)
            | E::UnknownProperty(_)
            | E::UnknownReasonCode(_)
            | E::InvalidSubscriptionOptions(_) => ReasonCode::MalformedPacket,
            E::ZeroPacketId
            | E::DuplicateProperty(_)
            | E::PropertyNotAllowed(_)
            | E::InvalidPropertyValue(_)
            | E::ReasonCodeNotAllowed(_)
            | E::NoTopicFilters
            | E::MissingTopic
            | E::InvalidRetainHandling
            | E::NoLocalOnSharedSubscription
            | E::ExpectedConnect(_) => ReasonCode::ProtocolError,
            E::InvalidProtocolName | E::UnsupportedProtocolVersion(_) => {
                ReasonCode::UnsupportedProtocolVersion
            }
            E::ZeroTopicAlias => ReasonCode::TopicAliasInvalid,
            E::InvalidTopicName(_) => ReasonCode::TopicNameInvalid,
            E::InvalidTopicFilter(_) => ReasonCode::TopicFilterInvalid,
        }
    }
}

/// The caller asked to encode a packet that the protocol does not allow (local misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The remaining length would exceed 268,435,455 bytes.
    #[error("packet too large to encode")]
    PacketTooLarge,
    /// A string or binary field longer than 65,535 bytes.
    #[error("field of {0} bytes is longer than 65535 bytes")]
    FieldTooLong(usize),
    /// A string containing U+0000.
    #[error("string contains U+0000")]
    NullCharacter,
    /// An invalid topic name.
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// An invalid topic filter.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// QoS 0 with a packet identifier, or QoS 1/2 without one.
    #[error("packet identifier presence does not match QoS")]
    PacketIdMismatch,
    /// DUP set on a QoS 0 PUBLISH.
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupOnQoS0,
    /// A property the packet type may not carry (MQTT 5.0) or any property (MQTT 3.1.1 has none).
    #[error("property {0:?} is not allowed in this packet")]
    PropertyNotAllowed(PropertyId),
    /// A property value outside its allowed range.
    #[error("invalid value for property {0:?}")]
    InvalidPropertyValue(PropertyId),
    /// A reason code the packet type may not carry.
    #[error("reason code {0} is not allowed in this packet")]
    ReasonCodeNotAllowed(ReasonCode),
    /// A packet type or feature that does not exist in this protocol version (e.g. AUTH in 3.1.1).
    #[error("not supported in {0:?}")]
    NotInVersion(ProtocolVersion),
    /// SUBSCRIBE or UNSUBSCRIBE without any topic filter.
    #[error("no topic filters")]
    NoTopicFilters,
    /// A CONNECT whose `protocol_version` differs from the version asked to encode with.
    #[error("CONNECT protocol version does not match the encoding version")]
    VersionMismatch,
    /// A 3.1.1 CONNECT with a password but no user name.
    #[error("password without user name")]
    PasswordWithoutUserName,
    /// No Local requested on a shared subscription.
    #[error("no local set on a shared subscription")]
    NoLocalOnSharedSubscription,
}

/// Any error of this crate, split by who is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The peer sent bytes that do not decode (peer misbehaved).
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The peer broke the protocol at the connection level (peer misbehaved).
    #[error(transparent)]
    Protocol(#[from] ProtocolViolation),
    /// The caller tried to encode an invalid packet (local misuse).
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The caller used the connection API incorrectly (local misuse).
    #[error(transparent)]
    Usage(#[from] UsageError),
}

impl Error {
    /// Whether the peer is at fault (as opposed to the local caller).
    pub fn is_peer_fault(&self) -> bool {
        matches!(self, Self::Decode(_) | Self::Protocol(_))
    }

    /// The reason code to send to the peer for a peer fault, or `ImplementationSpecificError`
    /// for local misuse.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            Self::Decode(e) => e.reason_code(),
            Self::Protocol(e) => e.reason_code(),
            Self::Encode(_) | Self::Usage(_) => ReasonCode::ImplementationSpecificError,
        }
    }
}
