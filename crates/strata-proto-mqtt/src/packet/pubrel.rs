//! PUBREL: the response to PUBREC (part 2 of the exactly-once handshake) (MQTT 5.0 section 3.6, MQTT 3.1.1 section 3.6).

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, ack, impl_encode};
use crate::properties::PacketProperties;
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::{PacketId, ProtocolVersion};

/// PUBREL: the response to PUBREC (part 2 of the exactly-once handshake).
///
/// On MQTT 3.1.1 only the packet identifier is sent: `reason_code` must be
/// [`ReasonCode::Success`] and `properties` empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubRel {
    /// The packet identifier being acknowledged.
    pub packet_id: PacketId,
    /// Reason code (5.0); `Success` when absent on the wire.
    pub reason_code: ReasonCode,
    /// Properties (5.0): reason string and user properties.
    pub properties: PacketProperties,
}

impl PubRel {
    /// A successful PUBREL for `packet_id`.
    pub fn new(packet_id: PacketId) -> Self {
        Self::with_reason(packet_id, ReasonCode::Success)
    }

    /// A PUBREL with the given reason code and no properties.
    pub fn with_reason(packet_id: PacketId, reason_code: ReasonCode) -> Self {
        Self {
            packet_id,
            reason_code,
            properties: PacketProperties::default(),
        }
    }

    pub(crate) fn decode_body(body: Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let (packet_id, reason_code, properties) =
            ack::decode(body, version, ReasonContext::PubRel)?;
        Ok(Self {
            packet_id,
            reason_code,
            properties,
        })
    }
}

impl PacketBody for PubRel {
    const TYPE: PacketType = PacketType::PubRel;

    fn flags(&self) -> u8 {
        0b0010
    }
    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        ack::body_len(
            self.reason_code,
            &self.properties,
            version,
            ReasonContext::PubRel,
        )
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        ack::write_body(
            self.packet_id,
            self.reason_code,
            &self.properties,
            version,
            buf,
        );
    }
}

impl_encode!(PubRel);
