//! Errors: what a peer sent wrong ([`DecodeError`]) and local misuse ([`EncodeError`]).

use crate::code::MessageType;
use crate::message::{Header, empty};

/// A datagram is not a valid CoAP message (RFC 7252 §3, "message format error").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Fewer than 4 bytes: not even a header. Ignored silently.
    #[error("datagram shorter than the 4-byte CoAP header")]
    TooShort,
    /// Version other than 1. Ignored silently (RFC 7252 §3).
    #[error("unsupported CoAP version {0}")]
    UnsupportedVersion(u8),
    /// Token length 9 to 15, or longer than the datagram.
    #[error("invalid token length")]
    TokenLength(Header),
    /// An empty (0.00) message with a token, options or payload.
    #[error("empty message carries bytes after its header")]
    NonEmptyEmptyMessage(Header),
    /// A code of reserved class 1, 6 or 7.
    #[error("code of a reserved class")]
    ReservedClass(Header),
    /// Malformed option sequence (reserved nibble 15, overflow, truncated value).
    #[error("malformed options")]
    Options(Header),
    /// Payload marker followed by no payload.
    #[error("payload marker without payload")]
    EmptyPayload(Header),
}

impl DecodeError {
    /// The RST a receiver sends for this error: a confirmable message with a format error is
    /// rejected (RFC 7252 §4.2); anything else is ignored.
    pub fn reply_with_reset(&self) -> Option<[u8; 4]> {
        let header = match self {
            Self::TooShort | Self::UnsupportedVersion(_) => return None,
            Self::TokenLength(h)
            | Self::NonEmptyEmptyMessage(h)
            | Self::ReservedClass(h)
            | Self::Options(h)
            | Self::EmptyPayload(h) => h,
        };
        (header.mtype == MessageType::Con).then(|| empty(MessageType::Rst, header.message_id))
    }
}

/// A message this side tried to build is not encodable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// Tokens have at most 8 bytes.
    #[error("token longer than 8 bytes")]
    TokenTooLong,
    /// Options must be written in ascending order.
    #[error("option {number} written after option {after}")]
    OptionOrder {
        /// The option being written.
        number: u16,
        /// The previous option.
        after: u16,
    },
    /// An option written after the payload.
    #[error("option written after the payload")]
    AfterPayload,
    /// An option value longer than 65804 bytes.
    #[error("option {0} value too long")]
    OptionTooLong(u16),
}
