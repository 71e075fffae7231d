//! PINGRESP: the server's answer to PINGREQ (MQTT 5.0 section 3.13, MQTT 3.1.1 section 3.13).

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::types::ProtocolVersion;
use crate::wire::expect_end;

/// PINGRESP: the server's answer to PINGREQ. It has no variable header or payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PingResp;

impl PingResp {
    pub(crate) fn decode_body(body: Bytes) -> Result<Self, DecodeError> {
        expect_end(&body)?;
        Ok(Self)
    }
}

impl PacketBody for PingResp {
    const TYPE: PacketType = PacketType::PingResp;

    fn body_len(&self, _version: ProtocolVersion) -> Result<usize, EncodeError> {
        Ok(0)
    }

    fn write_body(&self, _version: ProtocolVersion, _buf: &mut BytesMut) {}
}

impl_encode!(PingResp);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    #[test]
    fn bytes() {
        let mut out = BytesMut::new();
        PingResp.encode(ProtocolVersion::V5, &mut out).unwrap();
        assert_eq!(&out[..], &[0xD0, 0x00]);
        assert_eq!(
            decode(&mut out, ProtocolVersion::V311, 2),
            Ok(Some(Packet::PingResp(PingResp)))
        );
    }
}
