//! AUTH: extended authentication exchange, MQTT 5.0 only (MQTT 5.0 section 3.15).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::properties::{PacketProperties, PropertyContext};
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::ProtocolVersion;
use crate::wire::{expect_end, read_u8};

/// AUTH: one step of an extended authentication or re-authentication exchange (5.0 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// Success, Continue authentication or Re-authenticate.
    pub reason_code: ReasonCode,
    /// AUTH properties: authentication method and data, reason string, user properties.
    pub properties: PacketProperties,
}

impl Auth {
    /// An AUTH with the given reason code and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            reason_code,
            properties: PacketProperties::default(),
        }
    }

    pub(crate) fn decode_body(mut body: Bytes) -> Result<Self, DecodeError> {
        let mut a = Self::new(ReasonCode::Success);
        if !body.is_empty() {
            let b = read_u8(&mut body)?;
            a.reason_code = ReasonCode::try_from(b).map_err(DecodeError::UnknownReasonCode)?;
            if !a.reason_code.allowed_in(ReasonContext::Auth) {
                return Err(DecodeError::ReasonCodeNotAllowed(a.reason_code));
            }
        }
        if !body.is_empty() {
            a.properties = PacketProperties::decode(&mut body, PropertyContext::Auth)?;
        }
        expect_end(&body)?;
        Ok(a)
    }
}

impl PacketBody for Auth {
    const TYPE: PacketType = PacketType::Auth;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Err(EncodeError::NotInVersion(version));
        }
        if !self.reason_code.allowed_in(ReasonContext::Auth) {
            return Err(EncodeError::ReasonCodeNotAllowed(self.reason_code));
        }
        let props = self.properties.encoded_len(PropertyContext::Auth)?;
        Ok(if !self.properties.is_empty() {
            1 + props
        } else if self.reason_code != ReasonCode::Success {
            1
        } else {
            0
        })
    }

    fn write_body(&self, _version: ProtocolVersion, buf: &mut BytesMut) {
        if !self.properties.is_empty() {
            buf.put_u8(self.reason_code.into());
            self.properties.write(PropertyContext::Auth, buf);
        } else if self.reason_code != ReasonCode::Success {
            buf.put_u8(self.reason_code.into());
        }
    }
}

impl_encode!(Auth);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    #[test]
    fn v5_only() {
        let bytes: &[u8] = &[0xF0, 0x08, 0x18, 0x06, 0x15, 0x00, 0x03, b'k', b'e', b'y'];
        let Some(Packet::Auth(a)) =
            decode(&mut BytesMut::from(bytes), ProtocolVersion::V5, 64).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.reason_code, ReasonCode::ContinueAuthentication);
        assert_eq!(a.properties.authentication_method.as_deref(), Some("key"));
        let mut out = BytesMut::new();
        a.encode(ProtocolVersion::V5, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
        assert_eq!(
            decode(&mut BytesMut::from(bytes), ProtocolVersion::V311, 64),
            Err(DecodeError::InvalidPacketType(15))
        );
        assert_eq!(
            a.encode(ProtocolVersion::V311, &mut out),
            Err(EncodeError::NotInVersion(ProtocolVersion::V311))
        );
    }
}
