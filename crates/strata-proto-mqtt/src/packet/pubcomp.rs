//! PUBCOMP: the response to PUBREL (part 3 of the exactly-once handshake) (MQTT 5.0 section 3.7, MQTT 3.1.1 section 3.7).

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, ack, impl_encode};
use crate::properties::PacketProperties;
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::{PacketId, ProtocolVersion};

/// PUBCOMP: the response to PUBREL (part 3 of the exactly-once handshake).
///
/// On MQTT 3.1.1 only the packet identifier is sent: `reason_code` must be
/// [`ReasonCode::Success`] and `properties` empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubComp {
    /// The packet identifier being acknowledged.
    pub packet_id: PacketId,
    /// Reason code (5.0); `Success` when absent on the wire.
    pub reason_code: ReasonCode,
    /// Properties (5.0): reason string and user properties.
    pub properties: PacketProperties,
}

impl PubComp {
    /// A successful PUBCOMP for `packet_id`.
    pub fn new(packet_id: PacketId) -> Self {
        Self::with_reason(packet_id, ReasonCode::Success)
    }

    /// A PUBCOMP with the given reason code and no properties.
    pub fn with_reason(packet_id: PacketId, reason_code: ReasonCode) -> Self {
        Self {
            packet_id,
            reason_code,
            properties: PacketProperties::default(),
        }
    }

    pub(crate) fn decode_body(body: Bytes, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let (packet_id, reason_code, properties) =
            ack::decode(body, version, ReasonContext::PubComp)?;
        Ok(Self {
            packet_id,
            reason_code,
            properties,
        })
    }
}

impl PacketBody for PubComp {
    const TYPE: PacketType = PacketType::PubComp;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        ack::body_len(
            self.reason_code,
            &self.properties,
            version,
            ReasonContext::PubComp,
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

impl_encode!(PubComp);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    fn dec(bytes: &[u8], v: ProtocolVersion) -> Result<PubComp, DecodeError> {
        match decode(&mut BytesMut::from(bytes), v, 64)? {
            Some(Packet::PubComp(p)) => Ok(p),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn enc(p: &PubComp, v: ProtocolVersion) -> alloc::vec::Vec<u8> {
        let mut out = BytesMut::new();
        p.encode(v, &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn wire_forms() {
        use ProtocolVersion::{V5, V311};
        let id = PacketId::new(0x1234).unwrap();
        // 3.1.1 and the short 5.0 form: packet identifier only.
        let short: &[u8] = &[0x70, 0x02, 0x12, 0x34];
        assert_eq!(dec(short, V311), Ok(PubComp::new(id)));
        assert_eq!(dec(short, V5), Ok(PubComp::new(id)));
        assert_eq!(enc(&PubComp::new(id), V311), short);
        assert_eq!(enc(&PubComp::new(id), V5), short);
        // 5.0 with a reason code and no properties.
        let coded: &[u8] = &[0x70, 0x03, 0x12, 0x34, 0x92];
        let p = PubComp::with_reason(id, ReasonCode::PacketIdentifierNotFound);
        assert_eq!(dec(coded, V5), Ok(p.clone()));
        assert_eq!(enc(&p, V5), coded);
        // 3.1.1 cannot carry the reason code, and ignores no extra bytes.
        assert!(p.encode(V311, &mut BytesMut::new()).is_err());
        assert_eq!(dec(coded, V311), Err(DecodeError::TrailingBytes(1)));
        // 5.0 with a reason string.
        let mut p = PubComp::new(id);
        p.properties.reason_string = Some("r".into());
        let full: &[u8] = &[0x70, 0x08, 0x12, 0x34, 0x00, 0x04, 0x1F, 0x00, 0x01, b'r'];
        assert_eq!(enc(&p, V5), full);
        assert_eq!(dec(full, V5), Ok(p));
        // Wrong flags, zero packet identifier, unknown reason code.
        assert!(dec(&[0x72, 0x02, 0x12, 0x34], V5).is_err());
        assert_eq!(
            dec(&[0x70, 0x02, 0x00, 0x00], V5),
            Err(DecodeError::ZeroPacketId)
        );
        assert_eq!(
            dec(&[0x70, 0x03, 0x12, 0x34, 0x03], V5),
            Err(DecodeError::UnknownReasonCode(3))
        );
    }
}
