//! CONNACK: the server's answer to CONNECT (MQTT 5.0 section 3.2, MQTT 3.1.1 section 3.2).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::properties::{PacketProperties, PropertyContext, props_len, write_props};
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::ProtocolVersion;
use crate::wire::{expect_end, read_u8};

/// CONNACK: accepts or rejects a CONNECT.
///
/// On MQTT 3.1.1 the reason code is sent as the closest CONNACK return code
/// ([`ReasonCode::to_v3_connack`]), and decoding a 3.1.1 CONNACK yields
/// [`ReasonCode::from_v3_connack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnAck {
    /// Whether the server resumed an existing session; must be false on failure.
    pub session_present: bool,
    /// Success, or why the connection is refused.
    pub reason_code: ReasonCode,
    /// CONNACK properties (5.0).
    pub properties: PacketProperties,
}

impl ConnAck {
    /// A CONNACK with the given outcome and no properties.
    pub fn new(session_present: bool, reason_code: ReasonCode) -> Self {
        Self {
            session_present,
            reason_code,
            properties: PacketProperties::default(),
        }
    }

    /// The bytes a server sends for a CONNECT with an unsupported protocol level before closing
    /// the connection: a 3.1.1-format CONNACK with return code 1 ("unacceptable protocol
    /// version"), the one answer that clients of every version can parse.
    pub fn unsupported_version() -> [u8; 4] {
        [0x20, 0x02, 0x00, 0x01]
    }

    pub(crate) fn decode_body(
        mut body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let flags = read_u8(&mut body)?;
        if flags & 0xFE != 0 {
            return Err(DecodeError::InvalidConnectFlags(flags));
        }
        let code = read_u8(&mut body)?;
        let reason_code = if version.is_v5() {
            let rc = ReasonCode::try_from(code).map_err(DecodeError::UnknownReasonCode)?;
            if !rc.allowed_in(ReasonContext::ConnAck) {
                return Err(DecodeError::ReasonCodeNotAllowed(rc));
            }
            rc
        } else {
            ReasonCode::from_v3_connack(code).ok_or(DecodeError::UnknownReasonCode(code))?
        };
        let session_present = flags & 0x01 != 0;
        if session_present && reason_code != ReasonCode::Success {
            return Err(DecodeError::InvalidConnectFlags(flags));
        }
        let properties = if version.is_v5() {
            PacketProperties::decode(&mut body, PropertyContext::ConnAck)?
        } else {
            PacketProperties::default()
        };
        expect_end(&body)?;
        Ok(Self {
            session_present,
            reason_code,
            properties,
        })
    }
}

impl PacketBody for ConnAck {
    const TYPE: PacketType = PacketType::ConnAck;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !self.reason_code.allowed_in(ReasonContext::ConnAck)
            || (self.session_present && self.reason_code != ReasonCode::Success)
        {
            return Err(EncodeError::ReasonCodeNotAllowed(self.reason_code));
        }
        Ok(2 + props_len(&self.properties, PropertyContext::ConnAck, version)?)
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u8(u8::from(self.session_present));
        if version.is_v5() {
            buf.put_u8(self.reason_code.into());
        } else {
            buf.put_u8(self.reason_code.to_v3_connack());
        }
        write_props(&self.properties, PropertyContext::ConnAck, version, buf);
    }
}

impl_encode!(ConnAck);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    fn round_trip(bytes: &[u8], version: ProtocolVersion) -> ConnAck {
        let mut buf = BytesMut::from(bytes);
        let Some(Packet::ConnAck(c)) = decode(&mut buf, version, 1024).unwrap() else {
            panic!("not a CONNACK");
        };
        let mut out = BytesMut::new();
        c.encode(version, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
        c
    }

    #[test]
    fn v311() {
        let c = round_trip(&[0x20, 0x02, 0x01, 0x00], ProtocolVersion::V311);
        assert!(c.session_present);
        let c = round_trip(&[0x20, 0x02, 0x00, 0x05], ProtocolVersion::V311);
        assert_eq!(c.reason_code, ReasonCode::NotAuthorized);
        assert_eq!(&ConnAck::unsupported_version(), &[0x20, 0x02, 0x00, 0x01]);
        let mut buf = BytesMut::from(&[0x20, 0x02, 0x00, 0x06][..]);
        assert_eq!(
            decode(&mut buf, ProtocolVersion::V311, 1024),
            Err(DecodeError::UnknownReasonCode(6))
        );
    }

    #[test]
    fn v5() {
        let c = round_trip(&[0x20, 0x03, 0x00, 0x00, 0x00], ProtocolVersion::V5);
        assert_eq!(c, ConnAck::new(false, ReasonCode::Success));
        let c = round_trip(
            &[0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x0A],
            ProtocolVersion::V5,
        );
        assert_eq!(c.properties.receive_maximum, Some(10));
        // Session present with a failure code.
        let mut buf = BytesMut::from(&[0x20, 0x03, 0x01, 0x87, 0x00][..]);
        assert!(decode(&mut buf, ProtocolVersion::V5, 1024).is_err());
        // Reason code not allowed in CONNACK.
        let mut buf = BytesMut::from(&[0x20, 0x03, 0x00, 0x8E, 0x00][..]);
        assert_eq!(
            decode(&mut buf, ProtocolVersion::V5, 1024),
            Err(DecodeError::ReasonCodeNotAllowed(
                ReasonCode::SessionTakenOver
            ))
        );
        // Reserved acknowledge flag bits.
        let mut buf = BytesMut::from(&[0x20, 0x03, 0x02, 0x00, 0x00][..]);
        assert!(decode(&mut buf, ProtocolVersion::V5, 1024).is_err());
    }
}
