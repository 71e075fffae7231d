//! CONNECT: the first packet a client sends (MQTT 5.0 section 3.1, MQTT 3.1.1 section 3.1).

use alloc::string::String;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::properties::{PacketProperties, PropertyContext, props_len, write_props};
use crate::topic::validate_topic_name;
use crate::types::{ProtocolVersion, QoS};
use crate::wire::{
    binary_len, expect_end, read_binary, read_string, read_u8, read_u16, string_len, write_binary,
    write_string,
};

/// CONNECT: a client asks to open a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version the client speaks (protocol level 4 or 5).
    pub protocol_version: ProtocolVersion,
    /// Clean Start (5.0) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 disables it.
    pub keep_alive: u16,
    /// Client identifier; may be empty (the server then assigns one, or rejects it).
    pub client_id: String,
    /// The will message, if any.
    pub will: Option<Will>,
    /// User name, if any.
    pub username: Option<String>,
    /// Password, if any (3.1.1 requires a user name with it).
    pub password: Option<Bytes>,
    /// CONNECT properties (5.0).
    pub properties: PacketProperties,
}

/// A will message, published by the server when the connection ends abnormally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// Topic name of the will message.
    pub topic: String,
    /// Payload of the will message.
    pub payload: Bytes,
    /// QoS of the will message.
    pub qos: QoS,
    /// Whether the will message is retained.
    pub retain: bool,
    /// Will properties (5.0), e.g. the will delay interval.
    pub properties: PacketProperties,
}

impl Connect {
    /// A CONNECT with clean start, the given client identifier and keep alive, and nothing else.
    pub fn new(
        protocol_version: ProtocolVersion,
        client_id: impl Into<String>,
        keep_alive: u16,
    ) -> Self {
        Self {
            protocol_version,
            clean_start: true,
            keep_alive,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            properties: PacketProperties::default(),
        }
    }

    pub(crate) fn decode_body(mut body: Bytes) -> Result<Self, DecodeError> {
        let name = read_binary(&mut body)?;
        let level = read_u8(&mut body)?;
        match &name[..] {
            b"MQTT" => {}
            b"MQIsdp" => return Err(DecodeError::UnsupportedProtocolVersion(level)),
            _ => return Err(DecodeError::InvalidProtocolName),
        }
        let version = ProtocolVersion::from_level(level)
            .ok_or(DecodeError::UnsupportedProtocolVersion(level))?;
        let flags = read_u8(&mut body)?;
        let will_flag = flags & 0x04 != 0;
        let will_qos = (flags >> 3) & 0b11;
        let will_retain = flags & 0x20 != 0;
        let password_flag = flags & 0x40 != 0;
        let username_flag = flags & 0x80 != 0;
        if flags & 0x01 != 0 {
            return Err(DecodeError::InvalidConnectFlags(flags));
        }
        if !will_flag && (will_qos != 0 || will_retain) {
            return Err(DecodeError::InvalidConnectFlags(flags));
        }
        let will_qos = QoS::try_from(will_qos).map_err(DecodeError::InvalidQoS)?;
        if !version.is_v5() && password_flag && !username_flag {
            return Err(DecodeError::InvalidConnectFlags(flags));
        }
        let keep_alive = read_u16(&mut body)?;
        let properties = if version.is_v5() {
            PacketProperties::decode(&mut body, PropertyContext::Connect)?
        } else {
            PacketProperties::default()
        };
        let client_id = read_string(&mut body)?;
        let will = if will_flag {
            let properties = if version.is_v5() {
                PacketProperties::decode(&mut body, PropertyContext::Will)?
            } else {
                PacketProperties::default()
            };
            let topic = read_string(&mut body)?;
            validate_topic_name(&topic).map_err(DecodeError::InvalidTopicName)?;
            let payload = read_binary(&mut body)?;
            Some(Will {
                topic,
                payload,
                qos: will_qos,
                retain: will_retain,
                properties,
            })
        } else {
            None
        };
        let username = if username_flag {
            Some(read_string(&mut body)?)
        } else {
            None
        };
        let password = if password_flag {
            Some(read_binary(&mut body)?)
        } else {
            None
        };
        expect_end(&body)?;
        Ok(Self {
            protocol_version: version,
            clean_start: flags & 0x02 != 0,
            keep_alive,
            client_id,
            will,
            username,
            password,
            properties,
        })
    }

    fn flags_byte(&self) -> u8 {
        let mut flags = 0u8;
        if self.clean_start {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | (u8::from(will.qos) << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        flags
    }
}

impl PacketBody for Connect {
    const TYPE: PacketType = PacketType::Connect;

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if version != self.protocol_version {
            return Err(EncodeError::VersionMismatch);
        }
        if !version.is_v5() && self.password.is_some() && self.username.is_none() {
            return Err(EncodeError::PasswordWithoutUserName);
        }
        // Protocol name (6), level (1), flags (1), keep alive (2).
        let mut len = 10;
        len += props_len(&self.properties, PropertyContext::Connect, version)?;
        len += string_len(&self.client_id)?;
        if let Some(will) = &self.will {
            validate_topic_name(&will.topic).map_err(EncodeError::InvalidTopicName)?;
            len += props_len(&will.properties, PropertyContext::Will, version)?;
            len += string_len(&will.topic)?;
            len += binary_len(&will.payload)?;
        }
        if let Some(username) = &self.username {
            len += string_len(username)?;
        }
        if let Some(password) = &self.password {
            len += binary_len(password)?;
        }
        Ok(len)
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        write_string(buf, "MQTT");
        buf.put_u8(version.level());
        buf.put_u8(self.flags_byte());
        buf.put_u16(self.keep_alive);
        write_props(&self.properties, PropertyContext::Connect, version, buf);
        write_string(buf, &self.client_id);
        if let Some(will) = &self.will {
            write_props(&will.properties, PropertyContext::Will, version, buf);
            write_string(buf, &will.topic);
            write_binary(buf, &will.payload);
        }
        if let Some(username) = &self.username {
            write_string(buf, username);
        }
        if let Some(password) = &self.password {
            write_binary(buf, password);
        }
    }
}

impl_encode!(Connect);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode, decode_connect};

    #[test]
    fn v311_minimal() {
        // MQTT 3.1.1, clean session, keep alive 60, client id "a".
        let bytes: &[u8] = &[
            0x10, 0x0D, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x01,
            b'a',
        ];
        let mut buf = BytesMut::from(bytes);
        let c = decode_connect(&mut buf, 1024).unwrap().unwrap();
        assert_eq!(c, Connect::new(ProtocolVersion::V311, "a", 60));
        assert!(buf.is_empty());
        let mut out = BytesMut::new();
        c.encode(ProtocolVersion::V311, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
    }

    #[test]
    fn v5_with_will_and_credentials() {
        // MQTT 5.0 section 3.1.2.12 example header, extended with properties, will and login.
        let bytes: &[u8] = &[
            0x10, 0x28, // fixed header, remaining length 40
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, // protocol name and level
            0xEE, // flags: user, password, will retain, will QoS 1, will, clean start
            0x00, 0x0A, // keep alive 10
            0x05, 0x11, 0x00, 0x00, 0x00, 0x0A, // session expiry 10
            0x00, 0x02, b'i', b'd', // client id
            0x05, 0x18, 0x00, 0x00, 0x00, 0x05, // will delay 5
            0x00, 0x01, b'w', // will topic
            0x00, 0x02, 0xDE, 0xAD, // will payload
            0x00, 0x01, b'u', // user name
            0x00, 0x02, b'p', b'w', // password
        ];
        let mut buf = BytesMut::from(bytes);
        let c = decode_connect(&mut buf, 1024).unwrap().unwrap();
        assert_eq!(c.protocol_version, ProtocolVersion::V5);
        assert_eq!(c.properties.session_expiry_interval, Some(10));
        let will = c.will.as_ref().unwrap();
        assert_eq!(will.qos, QoS::AtLeastOnce);
        assert!(will.retain);
        assert_eq!(will.properties.will_delay_interval, Some(5));
        assert_eq!(c.username.as_deref(), Some("u"));
        assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
        let mut out = BytesMut::new();
        c.encode(ProtocolVersion::V5, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
        assert_eq!(c.encoded_len(ProtocolVersion::V5), Ok(bytes.len()));
        assert_eq!(
            c.encode(ProtocolVersion::V311, &mut out),
            Err(EncodeError::VersionMismatch)
        );
    }

    fn connect_err(bytes: &[u8]) -> DecodeError {
        decode_connect(&mut BytesMut::from(bytes), 1024).unwrap_err()
    }

    #[test]
    fn rejects_bad_connects() {
        // Reserved flag bit set.
        let e = connect_err(&[
            0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x03, 0, 0, 0, 1, b'a',
        ]);
        assert_eq!(e, DecodeError::InvalidConnectFlags(0x03));
        // Will QoS without will flag.
        let e = connect_err(&[
            0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x0A, 0, 0, 0, 1, b'a',
        ]);
        assert_eq!(e, DecodeError::InvalidConnectFlags(0x0A));
        // Password without user name in 3.1.1.
        let e = connect_err(&[
            0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x42, 0, 0, 0, 1, b'a',
        ]);
        assert_eq!(e, DecodeError::InvalidConnectFlags(0x42));
        // Protocol level 3 (MQTT 3.1) and 6.
        let e = connect_err(&[
            0x10, 0x0F, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 0x02, 0, 0, 0, 1, b'a',
        ]);
        assert_eq!(e, DecodeError::UnsupportedProtocolVersion(3));
        assert_eq!(
            e.reason_code(),
            crate::ReasonCode::UnsupportedProtocolVersion
        );
        let e = connect_err(&[
            0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 6, 0x02, 0, 0, 0, 1, b'a',
        ]);
        assert_eq!(e, DecodeError::UnsupportedProtocolVersion(6));
        // Wrong protocol name.
        let e = connect_err(&[
            0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'X', 4, 0x02, 0, 0, 0, 1, b'a',
        ]);
        assert_eq!(e, DecodeError::InvalidProtocolName);
        // Not a CONNECT.
        assert_eq!(connect_err(&[0xC0, 0x00]), DecodeError::ExpectedConnect(12));
        // Will topic with a wildcard.
        let e = connect_err(&[
            0x10, 0x12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x06, 0, 0, 0, 1, b'a', 0, 1, b'#', 0, 0,
        ]);
        assert!(matches!(e, DecodeError::InvalidTopicName(_)));
        // Trailing garbage.
        let e = connect_err(&[
            0x10, 0x0E, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 0, 0, 1, b'a', 0xFF,
        ]);
        assert_eq!(e, DecodeError::TrailingBytes(1));
    }

    #[test]
    fn second_connect_decodes_as_packet() {
        let mut out = BytesMut::new();
        Connect::new(ProtocolVersion::V5, "x", 0)
            .encode(ProtocolVersion::V5, &mut out)
            .unwrap();
        let p = decode(&mut out, ProtocolVersion::V5, 1024)
            .unwrap()
            .unwrap();
        assert!(matches!(p, Packet::Connect(_)));
    }
}
