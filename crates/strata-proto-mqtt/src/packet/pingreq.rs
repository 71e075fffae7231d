//! PINGREQ: a client checks that the server is alive (and keeps the connection alive) (MQTT 5.0 section 3.12, MQTT 3.1.1 section 3.12).

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::types::ProtocolVersion;
use crate::wire::expect_end;

/// PINGREQ: a client checks that the server is alive (and keeps the connection alive). It has no variable header or payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PingReq;

impl PingReq {
    pub(crate) fn decode_body(body: Bytes) -> Result<Self, DecodeError> {
        expect_end(&body)?;
        Ok(Self)
    }
}

impl PacketBody for PingReq {
    const TYPE: PacketType = PacketType::PingReq;

    fn body_len(&self, _version: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(0)
    }

    fn write_body(&self, _version: ProtocolVersion, _buf: &mut BytesMut) {}
}

impl_encode!(PingReq);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    #[test]
    fn bytes() {
        let mut out = BytesMut::new();
        PingReq.encode(ProtocolVersion::V311, &mut out).unwrap();
        assert_eq!(&out[..], &[0xC0, 0x00]);
        assert_eq!(
            decode(&mut out, ProtocolVersion::V5, 2),
            Ok(Some(Packet::PingReq(PingReq)))
        );
        let bad: &[u8] = &[0xC0, 0x01, 0x00];
        assert_eq!(
            decode(&mut BytesMut::from(bad), ProtocolVersion::V5, 8),
            Err(DecodeError::TrailingBytes(1))
        );
        let flags: &[u8] = &[0xC1, 0x00];
        assert!(decode(&mut BytesMut::from(flags), ProtocolVersion::V5, 8).is_err());
    }
}
