//! UNSUBACK: the server's answer to UNSUBSCRIBE (MQTT 5.0 section 3.11, MQTT 3.1.1 section 3.11).

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::properties::{PacketProperties, PropertyContext, props_len, write_props};
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::{expect_end, read_packet_id, read_u8};

/// UNSUBACK: on 5.0 one reason code per filter of the UNSUBSCRIBE; on 3.1.1 no payload
/// (`reason_codes` must be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// UNSUBACK properties (5.0).
    pub properties: PacketProperties,
    /// Outcome per filter (5.0).
    pub reason_codes: Vec<ReasonCode>,
}

impl UnsubAck {
    /// An UNSUBACK without properties.
    pub fn new(packet_id: PacketId, reason_codes: Vec<ReasonCode>) -> Self {
        Self {
            packet_id,
            properties: PacketProperties::default(),
            reason_codes,
        }
    }

    pub(crate) fn decode_body(
        mut body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(&mut body)?;
        let mut properties = PacketProperties::default();
        let mut reason_codes = Vec::new();
        if version.is_v5() {
            properties = PacketProperties::decode(&mut body, PropertyContext::UnsubAck)?;
            while !body.is_empty() {
                let b = read_u8(&mut body)?;
                let rc = ReasonCode::try_from(b).map_err(DecodeError::UnknownReasonCode)?;
                if !rc.allowed_in(ReasonContext::UnsubAck) {
                    return Err(DecodeError::ReasonCodeNotAllowed(rc));
                }
                reason_codes.push(rc);
            }
        }
        expect_end(&body)?;
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }
}

impl PacketBody for UnsubAck {
    const TYPE: PacketType = PacketType::UnsubAck;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if let Some(rc) = self
            .reason_codes
            .iter()
            .find(|rc| !rc.allowed_in(ReasonContext::UnsubAck))
        {
            return Err(EncodeError::ReasonCodeNotAllowed(*rc));
        }
        if !version.is_v5() {
            if !self.reason_codes.is_empty() {
                return Err(EncodeError::NotInVersion(version));
            }
            props_len(&self.properties, PropertyContext::UnsubAck, version)?;
            return Ok(2);
        }
        Ok(
            2 + props_len(&self.properties, PropertyContext::UnsubAck, version)?
                + self.reason_codes.len(),
        )
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            write_props(&self.properties, PropertyContext::UnsubAck, version, buf);
            for rc in &self.reason_codes {
                buf.put_u8((*rc).into());
            }
        }
    }
}

impl_encode!(UnsubAck);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    #[test]
    fn both_versions() {
        let v3: &[u8] = &[0xB0, 0x02, 0x00, 0x0A];
        let Some(Packet::UnsubAck(u)) =
            decode(&mut BytesMut::from(v3), ProtocolVersion::V311, 64).unwrap()
        else {
            panic!()
        };
        assert!(u.reason_codes.is_empty());
        let v5: &[u8] = &[0xB0, 0x05, 0x00, 0x0A, 0x00, 0x00, 0x11];
        let Some(Packet::UnsubAck(u)) =
            decode(&mut BytesMut::from(v5), ProtocolVersion::V5, 64).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            u.reason_codes,
            [ReasonCode::Success, ReasonCode::NoSubscriptionExisted]
        );
        let mut out = BytesMut::new();
        u.encode(ProtocolVersion::V5, &mut out).unwrap();
        assert_eq!(&out[..], v5);
        assert_eq!(
            u.encode(ProtocolVersion::V311, &mut out),
            Err(EncodeError::NotInVersion(ProtocolVersion::V311))
        );
        let extra: &[u8] = &[0xB0, 0x03, 0x00, 0x0A, 0x00];
        assert_eq!(
            decode(&mut BytesMut::from(extra), ProtocolVersion::V311, 64),
            Err(DecodeError::TrailingBytes(1))
        );
    }
}
