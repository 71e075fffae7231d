//! DISCONNECT: the last packet of a connection (MQTT 5.0 section 3.14, MQTT 3.1.1 section 3.14).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::properties::{PacketProperties, PropertyContext, props_len};
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::ProtocolVersion;
use crate::wire::{expect_end, read_u8};

/// DISCONNECT: the sender is closing the connection.
///
/// On MQTT 3.1.1 only clients send it and it carries nothing: `reason_code` must be
/// [`ReasonCode::Success`] and `properties` empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disconnect {
    /// Why the connection is closed; `Success` is a normal disconnection.
    pub reason_code: ReasonCode,
    /// DISCONNECT properties (5.0).
    pub properties: PacketProperties,
}

impl Disconnect {
    /// A DISCONNECT with the given reason code and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            reason_code,
            properties: PacketProperties::default(),
        }
    }

    pub(crate) fn decode_body(
        mut body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let mut d = Self::new(ReasonCode::Success);
        if version.is_v5() {
            if !body.is_empty() {
                let b = read_u8(&mut body)?;
                d.reason_code = ReasonCode::try_from(b).map_err(DecodeError::UnknownReasonCode)?;
                if !d.reason_code.allowed_in(ReasonContext::Disconnect) {
                    return Err(DecodeError::ReasonCodeNotAllowed(d.reason_code));
                }
            }
            if !body.is_empty() {
                d.properties = PacketProperties::decode(&mut body, PropertyContext::Disconnect)?;
            }
        }
        expect_end(&body)?;
        Ok(d)
    }
}

impl PacketBody for Disconnect {
    const TYPE: PacketType = PacketType::Disconnect;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !self.reason_code.allowed_in(ReasonContext::Disconnect)
            || (!version.is_v5() && self.reason_code != ReasonCode::Success)
        {
            return Err(EncodeError::ReasonCodeNotAllowed(self.reason_code));
        }
        let props = props_len(&self.properties, PropertyContext::Disconnect, version)?;
        Ok(if !version.is_v5() {
            0
        } else if !self.properties.is_empty() {
            1 + props
        } else if self.reason_code != ReasonCode::Success {
            1
        } else {
            0
        })
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        if !version.is_v5() {
            return;
        }
        if !self.properties.is_empty() {
            buf.put_u8(self.reason_code.into());
            self.properties.write(PropertyContext::Disconnect, buf);
        } else if self.reason_code != ReasonCode::Success {
            buf.put_u8(self.reason_code.into());
        }
    }
}

impl_encode!(Disconnect);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    fn dec(bytes: &[u8], v: ProtocolVersion) -> Result<Disconnect, DecodeError> {
        match decode(&mut BytesMut::from(bytes), v, 64)? {
            Some(Packet::Disconnect(d)) => Ok(d),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn forms() {
        use ProtocolVersion::{V5, V311};
        assert_eq!(
            dec(&[0xE0, 0x00], V311),
            Ok(Disconnect::new(ReasonCode::Success))
        );
        assert_eq!(
            dec(&[0xE0, 0x01, 0x00], V311),
            Err(DecodeError::TrailingBytes(1))
        );
        assert_eq!(
            dec(&[0xE0, 0x00], V5),
            Ok(Disconnect::new(ReasonCode::Success))
        );
        let d = dec(&[0xE0, 0x01, 0x04], V5).unwrap();
        assert_eq!(d.reason_code, ReasonCode::DisconnectWithWillMessage);
        let d = dec(&[0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x3C], V5).unwrap();
        assert_eq!(d.properties.session_expiry_interval, Some(60));
        let mut out = BytesMut::new();
        d.encode(V5, &mut out).unwrap();
        assert_eq!(
            &out[..],
            &[0xE0, 0x07, 0x00, 0x05, 0x11, 0x00, 0x00, 0x00, 0x3C]
        );
        assert_eq!(
            dec(&[0xE0, 0x01, 0x18], V5),
            Err(DecodeError::ReasonCodeNotAllowed(
                ReasonCode::ContinueAuthentication
            ))
        );
        let mut out = BytesMut::new();
        Disconnect::new(ReasonCode::KeepAliveTimeout)
            .encode(V5, &mut out)
            .unwrap();
        assert_eq!(&out[..], &[0xE0, 0x01, 0x8D]);
        assert!(
            Disconnect::new(ReasonCode::KeepAliveTimeout)
                .encode(V311, &mut out)
                .is_err()
        );
    }
}
