//! SUBACK: the server's answer to SUBSCRIBE (MQTT 5.0 section 3.9, MQTT 3.1.1 section 3.9).

use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::properties::{PacketProperties, PropertyContext, props_len, write_props};
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::{read_packet_id, read_u8};

/// SUBACK: one reason code per filter of the SUBSCRIBE, in order.
///
/// On MQTT 3.1.1 the return codes are 0, 1, 2 (granted QoS) and 0x80 (failure); every error
/// reason code is sent as 0x80 and 0x80 decodes as [`ReasonCode::UnspecifiedError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// SUBACK properties (5.0).
    pub properties: PacketProperties,
    /// Granted QoS or failure, per filter.
    pub reason_codes: Vec<ReasonCode>,
}

impl SubAck {
    /// A SUBACK without properties.
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
        let properties = if version.is_v5() {
            PacketProperties::decode(&mut body, PropertyContext::SubAck)?
        } else {
            PacketProperties::default()
        };
        let mut reason_codes = Vec::with_capacity(body.len());
        while !body.is_empty() {
            let b = read_u8(&mut body)?;
            let rc = if version.is_v5() {
                let rc = ReasonCode::try_from(b).map_err(DecodeError::UnknownReasonCode)?;
                if !rc.allowed_in(ReasonContext::SubAck) {
                    return Err(DecodeError::ReasonCodeNotAllowed(rc));
                }
                rc
            } else {
                match b {
                    0 => ReasonCode::Success,
                    1 => ReasonCode::GrantedQoS1,
                    2 => ReasonCode::GrantedQoS2,
                    0x80 => ReasonCode::UnspecifiedError,
                    other => return Err(DecodeError::UnknownReasonCode(other)),
                }
            };
            reason_codes.push(rc);
        }
        Ok(Self {
            packet_id,
            properties,
            reason_codes,
        })
    }
}

impl PacketBody for SubAck {
    const TYPE: PacketType = PacketType::SubAck;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if let Some(rc) = self
            .reason_codes
            .iter()
            .find(|rc| !rc.allowed_in(ReasonContext::SubAck))
        {
            return Err(EncodeError::ReasonCodeNotAllowed(*rc));
        }
        Ok(
            2 + props_len(&self.properties, PropertyContext::SubAck, version)?
                + self.reason_codes.len(),
        )
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        write_props(&self.properties, PropertyContext::SubAck, version, buf);
        for rc in &self.reason_codes {
            if version.is_v5() || !rc.is_error() {
                buf.put_u8((*rc).into());
            } else {
                buf.put_u8(0x80);
            }
        }
    }
}

impl_encode!(SubAck);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    #[test]
    fn v311_codes() {
        let bytes: &[u8] = &[0x90, 0x05, 0x00, 0x0A, 0x00, 0x02, 0x80];
        let Some(Packet::SubAck(s)) =
            decode(&mut BytesMut::from(bytes), ProtocolVersion::V311, 64).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            s.reason_codes,
            [
                ReasonCode::Success,
                ReasonCode::GrantedQoS2,
                ReasonCode::UnspecifiedError
            ]
        );
        let mut out = BytesMut::new();
        s.encode(ProtocolVersion::V311, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
        // Any error maps to 0x80 on 3.1.1.
        let mut out = BytesMut::new();
        SubAck::new(PacketId::MIN, alloc::vec![ReasonCode::NotAuthorized])
            .encode(ProtocolVersion::V311, &mut out)
            .unwrap();
        assert_eq!(&out[..], &[0x90, 0x03, 0x00, 0x01, 0x80]);
        let bad: &[u8] = &[0x90, 0x03, 0x00, 0x0A, 0x03];
        assert_eq!(
            decode(&mut BytesMut::from(bad), ProtocolVersion::V311, 64),
            Err(DecodeError::UnknownReasonCode(3))
        );
    }

    #[test]
    fn v5_codes() {
        let bytes: &[u8] = &[0x90, 0x05, 0x00, 0x0A, 0x00, 0x01, 0xA2];
        let Some(Packet::SubAck(s)) =
            decode(&mut BytesMut::from(bytes), ProtocolVersion::V5, 64).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            s.reason_codes,
            [
                ReasonCode::GrantedQoS1,
                ReasonCode::WildcardSubscriptionsNotSupported
            ]
        );
        let bad: &[u8] = &[0x90, 0x04, 0x00, 0x0A, 0x00, 0x92];
        assert!(decode(&mut BytesMut::from(bad), ProtocolVersion::V5, 64).is_err());
    }
}
