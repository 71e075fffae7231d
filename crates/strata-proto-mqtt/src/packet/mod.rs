//! MQTT control packets, one type per file, and the framing functions [`decode`] and
//! [`decode_connect`].
//!
//! Decoding is zero-copy for payloads: a decoded [`Publish`] payload shares the receive buffer.
//! Every decoder validates the packet completely, so a returned packet is valid for the version
//! it was decoded with, and encodes back to the same bytes (up to the order of properties).

mod ack;
mod auth;
mod connack;
mod connect;
mod disconnect;
mod pingreq;
mod pingresp;
mod puback;
mod pubcomp;
mod publish;
mod pubrec;
mod pubrel;
mod suback;
mod subscribe;
mod unsuback;
mod unsubscribe;

pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use pingreq::PingReq;
pub use pingresp::PingResp;
pub use puback::PubAck;
pub use pubcomp::PubComp;
pub use publish::Publish;
pub use pubrec::PubRec;
pub use pubrel::PubRel;
pub use suback::SubAck;
pub use subscribe::{RetainHandling, Subscribe, Subscription, SubscriptionOptions};
pub use unsuback::UnsubAck;
pub use unsubscribe::Unsubscribe;

use alloc::boxed::Box;
use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::types::ProtocolVersion;
use crate::wire::{VARINT_MAX, parse_varint, varint_len, write_varint};

/// The type of a control packet (upper nibble of the first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
#[non_exhaustive]
pub enum PacketType {
    /// CONNECT (1), client to server.
    Connect = 1,
    /// CONNACK (2), server to client.
    ConnAck = 2,
    /// PUBLISH (3), both directions.
    Publish = 3,
    /// PUBACK (4), both directions.
    PubAck = 4,
    /// PUBREC (5), both directions.
    PubRec = 5,
    /// PUBREL (6), both directions.
    PubRel = 6,
    /// PUBCOMP (7), both directions.
    PubComp = 7,
    /// SUBSCRIBE (8), client to server.
    Subscribe = 8,
    /// SUBACK (9), server to client.
    SubAck = 9,
    /// UNSUBSCRIBE (10), client to server.
    Unsubscribe = 10,
    /// UNSUBACK (11), server to client.
    UnsubAck = 11,
    /// PINGREQ (12), client to server.
    PingReq = 12,
    /// PINGRESP (13), server to client.
    PingResp = 13,
    /// DISCONNECT (14), both directions (server to client only in 5.0).
    Disconnect = 14,
    /// AUTH (15), both directions, MQTT 5.0 only.
    Auth = 15,
}

/// A decoded control packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Packet {
    /// CONNECT (boxed: it is by far the largest packet and rare).
    Connect(Box<Connect>),
    /// CONNACK.
    ConnAck(ConnAck),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubAck),
    /// PUBREC.
    PubRec(PubRec),
    /// PUBREL.
    PubRel(PubRel),
    /// PUBCOMP.
    PubComp(PubComp),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq(PingReq),
    /// PINGRESP.
    PingResp(PingResp),
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (MQTT 5.0 only).
    Auth(Auth),
}

/// Encoding shared by every packet type.
pub(crate) trait PacketBody {
    /// The packet type.
    const TYPE: PacketType;
    /// The lower nibble of the first byte.
    fn flags(&self) -> u8 {
        0
    }
    /// Length of everything after the fixed header; validates the packet for `version`.
    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError>;
    /// Writes everything after the fixed header; only called after `body_len` succeeded.
    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut);
}

pub(crate) fn encoded_len_of<P: PacketBody>(
    p: &P,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    let body = p.body_len(version)?;
    if body > VARINT_MAX as usize {
        return Err(EncodeError::PacketTooLarge);
    }
    Ok(1 + varint_len(body as u32) + body)
}

pub(crate) fn encode_packet<P: PacketBody>(
    p: &P,
    version: ProtocolVersion,
    buf: &mut BytesMut,
) -> Result<(), EncodeError> {
    let body = p.body_len(version)?;
    if body > VARINT_MAX as usize {
        return Err(EncodeError::PacketTooLarge);
    }
    buf.reserve(1 + varint_len(body as u32) + body);
    buf.put_u8(((P::TYPE as u8) << 4) | p.flags());
    write_varint(buf, body as u32);
    let start = buf.len();
    p.write_body(version, buf);
    debug_assert_eq!(
        buf.len() - start,
        body,
        "{:?} body length mismatch",
        P::TYPE
    );
    Ok(())
}

/// Adds public `encode` and `encoded_len` methods to a packet type.
macro_rules! impl_encode {
    ($ty:ty) => {
        impl $ty {
            /// Appends the encoded packet to `buf`, after validating it for `version`.
            pub fn encode(
                &self,
                version: $crate::types::ProtocolVersion,
                buf: &mut ::bytes::BytesMut,
            ) -> Result<(), $crate::error::EncodeError> {
                $crate::packet::encode_packet(self, version, buf)
            }

            /// The number of bytes [`Self::encode`] would append, after validating the packet.
            pub fn encoded_len(
                &self,
                version: $crate::types::ProtocolVersion,
            ) -> Result<usize, $crate::error::EncodeError> {
                $crate::packet::encoded_len_of(self, version)
            }
        }
    };
}
pub(crate) use impl_encode;

macro_rules! dispatch {
    ($self:expr, $p:ident => $e:expr) => {
        match $self {
            Packet::Connect($p) => {
                let $p: &Connect = $p;
                $e
            }
            Packet::ConnAck($p) => $e,
            Packet::Publish($p) => $e,
            Packet::PubAck($p) => $e,
            Packet::PubRec($p) => $e,
            Packet::PubRel($p) => $e,
            Packet::PubComp($p) => $e,
            Packet::Subscribe($p) => $e,
            Packet::SubAck($p) => $e,
            Packet::Unsubscribe($p) => $e,
            Packet::UnsubAck($p) => $e,
            Packet::PingReq($p) => $e,
            Packet::PingResp($p) => $e,
            Packet::Disconnect($p) => $e,
            Packet::Auth($p) => $e,
        }
    };
}

impl Packet {
    /// The type of this packet.
    pub fn packet_type(&self) -> PacketType {
        fn ty<P: PacketBody>(_: &P) -> PacketType {
            P::TYPE
        }
        dispatch!(self, p => ty(p))
    }

    /// Appends the encoded packet to `buf`, after validating it for `version`.
    pub fn encode(&self, version: ProtocolVersion, buf: &mut BytesMut) -> Result<(), EncodeError> {
        dispatch!(self, p => encode_packet(p, version, buf))
    }

    /// The number of bytes [`Self::encode`] would append, after validating the packet.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        dispatch!(self, p => encoded_len_of(p, version))
    }
}

/// Checks the first byte of a packet before its body is buffered.
fn check_first_byte(first: u8, version: ProtocolVersion) -> Result<(), DecodeError> {
    let packet_type = first >> 4;
    let flags = first & 0x0F;
    let expected = match packet_type {
        0 => return Err(DecodeError::InvalidPacketType(0)),
        15 if !version.is_v5() => return Err(DecodeError::InvalidPacketType(15)),
        3 => {
            return if (flags >> 1) & 0b11 == 0b11 {
                Err(DecodeError::InvalidQoS(3))
            } else {
                Ok(())
            };
        }
        6 | 8 | 10 => 0b0010,
        _ => 0,
    };
    if flags != expected {
        return Err(DecodeError::InvalidHeaderFlags { packet_type, flags });
    }
    Ok(())
}

/// Splits one complete packet off `buf`, returning its first byte and its body.
fn frame(
    buf: &mut BytesMut,
    max_packet_size: usize,
    check: impl FnOnce(u8) -> Result<(), DecodeError>,
) -> Result<Option<(u8, Bytes)>, DecodeError> {
    let Some(&first) = buf.first() else {
        return Ok(None);
    };
    check(first)?;
    let Some((remaining, len_len)) = parse_varint(&buf[1..])? else {
        return Ok(None);
    };
    let header_len = 1 + len_len;
    let size = header_len + remaining as usize;
    if size > max_packet_size {
        return Err(DecodeError::PacketTooLarge {
            size,
            max: max_packet_size,
        });
    }
    if buf.len() < size {
        buf.reserve(size - buf.len());
        return Ok(None);
    }
    // Copied out rather than split off: a split-off body would share (and pin) the whole
    // receive buffer for as long as any part of the packet lives, e.g. a small message queued
    // for a slow subscriber would keep a 64 KiB read alive. Copying also lets `buf` reuse its
    // allocation.
    let body = Bytes::copy_from_slice(&buf[header_len..size]);
    buf.advance(size);
    Ok(Some((first, body)))
}

/// Decodes one packet from the front of `buf`.
///
/// Returns `Ok(None)` if `buf` does not yet hold a complete packet (more bytes are needed); the
/// buffer is then left untouched apart from reserving room for the rest of the packet. A packet
/// whose fixed header announces more than `max_packet_size` bytes (the whole packet, as MQTT 5.0
/// counts Maximum Packet Size) is rejected before its body arrives. On success the packet's bytes
/// are removed from `buf`. After an error the connection must be closed; the buffer state is
/// unspecified.
pub fn decode(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max_packet_size: usize,
) -> Result<Option<Packet>, DecodeError> {
    let Some((first, body)) = frame(buf, max_packet_size, |b| check_first_byte(b, version))? else {
        return Ok(None);
    };
    let flags = first & 0x0F;
    let v = version;
    let packet = match first >> 4 {
        1 => Packet::Connect(Box::new(Connect::decode_body(body)?)),
        2 => Packet::ConnAck(ConnAck::decode_body(body, v)?),
        3 => Packet::Publish(Publish::decode_body(flags, body, v)?),
        4 => Packet::PubAck(PubAck::decode_body(body, v)?),
        5 => Packet::PubRec(PubRec::decode_body(body, v)?),
        6 => Packet::PubRel(PubRel::decode_body(body, v)?),
        7 => Packet::PubComp(PubComp::decode_body(body, v)?),
        8 => Packet::Subscribe(Subscribe::decode_body(body, v)?),
        9 => Packet::SubAck(SubAck::decode_body(body, v)?),
        10 => Packet::Unsubscribe(Unsubscribe::decode_body(body, v)?),
        11 => Packet::UnsubAck(UnsubAck::decode_body(body, v)?),
        12 => Packet::PingReq(PingReq::decode_body(body)?),
        13 => Packet::PingResp(PingResp::decode_body(body)?),
        14 => Packet::Disconnect(Disconnect::decode_body(body, v)?),
        15 => Packet::Auth(Auth::decode_body(body)?),
        other => return Err(DecodeError::InvalidPacketType(other)),
    };
    Ok(Some(packet))
}

/// Decodes the first packet of a connection, which must be CONNECT, learning the protocol
/// version from it ([`Connect::protocol_version`]).
///
/// Same contract as [`decode`]. Any other packet type is [`DecodeError::ExpectedConnect`]; an
/// unknown protocol level is [`DecodeError::UnsupportedProtocolVersion`], which a server answers
/// with CONNACK return code 1 / reason code 0x84 (see [`ConnAck::unsupported_version`]).
pub fn decode_connect(
    buf: &mut BytesMut,
    max_packet_size: usize,
) -> Result<Option<Connect>, DecodeError> {
    let check = |first: u8| {
        if first >> 4 != PacketType::Connect as u8 {
            return Err(DecodeError::ExpectedConnect(first >> 4));
        }
        check_first_byte(first, ProtocolVersion::V5)
    };
    match frame(buf, max_packet_size, check)? {
        Some((_, body)) => Connect::decode_body(body).map(Some),
        None => Ok(None),
    }
}

/// Reads the protocol level of a CONNECT at the start of `bytes`, if it is complete enough.
///
/// Lets a server pick the CONNACK format for a CONNECT that failed to decode.
pub fn sniff_connect_version(bytes: &[u8]) -> Option<ProtocolVersion> {
    if bytes.first()? >> 4 != PacketType::Connect as u8 {
        return None;
    }
    let (_, len_len) = parse_varint(bytes.get(1..)?).ok()??;
    let rest = bytes.get(1 + len_len..)?;
    // Protocol name "MQTT" (2 + 4 bytes), then the level.
    if rest.get(..6)? != b"\x00\x04MQTT" {
        return None;
    }
    ProtocolVersion::from_level(*rest.get(6)?)
}

#[cfg(test)]
pub(crate) mod tests;
