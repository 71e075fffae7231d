//! PUBLISH: an application message (MQTT 5.0 section 3.3, MQTT 3.1.1 section 3.3).

use alloc::string::String;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::properties::{PacketProperties, PropertyContext, props_len, write_props};
use crate::topic::{TopicError, validate_topic_name};
use crate::types::{PacketId, ProtocolVersion, QoS};
use crate::wire::{read_packet_id, read_string, string_len, write_string};

/// PUBLISH: carries an application message in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// DUP: this may be a re-delivery (only with QoS 1 or 2).
    pub dup: bool,
    /// Quality of service.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// Topic name; empty only on 5.0 when `properties.topic_alias` is set.
    pub topic: String,
    /// Packet identifier: present exactly when `qos` is 1 or 2.
    pub packet_id: Option<PacketId>,
    /// PUBLISH properties (5.0).
    pub properties: PacketProperties,
    /// Application payload; decoded payloads share the receive buffer.
    pub payload: Bytes,
}

impl Publish {
    /// A message with no packet identifier, DUP, RETAIN or properties.
    ///
    /// A QoS 1 or 2 message needs a packet identifier before it can be encoded;
    /// [`ServerConnection::publish`](crate::ServerConnection::publish) assigns one.
    pub fn new(topic: impl Into<String>, qos: QoS, payload: impl Into<Bytes>) -> Self {
        Self {
            dup: false,
            qos,
            retain: false,
            topic: topic.into(),
            packet_id: None,
            properties: PacketProperties::default(),
            payload: payload.into(),
        }
    }

    pub(crate) fn decode_body(
        flags: u8,
        mut body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let dup = flags & 0x08 != 0;
        let qos = QoS::try_from((flags >> 1) & 0b11).map_err(DecodeError::InvalidQoS)?;
        let retain = flags & 0x01 != 0;
        if dup && qos == QoS::AtMostOnce {
            return Err(DecodeError::DupOnQoS0);
        }
        let topic = read_string(&mut body)?;
        let packet_id = if qos == QoS::AtMostOnce {
            None
        } else {
            Some(read_packet_id(&mut body)?)
        };
        let properties = if version.is_v5() {
            PacketProperties::decode(&mut body, PropertyContext::Publish)?
        } else {
            PacketProperties::default()
        };
        match validate_topic_name(&topic) {
            Ok(()) => {}
            Err(TopicError::Empty) if version.is_v5() => {
                if properties.topic_alias.is_none() {
                    return Err(DecodeError::MissingTopic);
                }
            }
            Err(e) => return Err(DecodeError::InvalidTopicName(e)),
        }
        Ok(Self {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            properties,
            payload: body,
        })
    }
}

impl PacketBody for Publish {
    const TYPE: PacketType = PacketType::Publish;

    fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | (u8::from(self.qos) << 1) | u8::from(self.retain)
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        match validate_topic_name(&self.topic) {
            Ok(()) => {}
            Err(TopicError::Empty) if version.is_v5() && self.properties.topic_alias.is_some() => {}
            Err(e) => return Err(EncodeError::InvalidTopicName(e)),
        }
        if self.packet_id.is_some() != (self.qos != QoS::AtMostOnce) {
            return Err(EncodeError::PacketIdMismatch);
        }
        if self.dup && self.qos == QoS::AtMostOnce {
            return Err(EncodeError::DupOnQoS0);
        }
        let id_len = if self.packet_id.is_some() { 2 } else { 0 };
        Ok(string_len(&self.topic)?
            + id_len
            + props_len(&self.properties, PropertyContext::Publish, version)?
            + self.payload.len())
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        write_string(buf, &self.topic);
        if let Some(id) = self.packet_id {
            buf.put_u16(id.get());
        }
        write_props(&self.properties, PropertyContext::Publish, version, buf);
        buf.put_slice(&self.payload);
    }
}

impl_encode!(Publish);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    fn dec(bytes: &[u8], v: ProtocolVersion) -> Result<Publish, DecodeError> {
        match decode(&mut BytesMut::from(bytes), v, 1024)? {
            Some(Packet::Publish(p)) => Ok(p),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn v311_qos1() {
        let bytes: &[u8] = &[0x33, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0A, b'x'];
        let p = dec(bytes, ProtocolVersion::V311).unwrap();
        assert!(p.retain);
        assert_eq!(p.qos, QoS::AtLeastOnce);
        assert_eq!(p.topic, "a/b");
        assert_eq!(p.packet_id, PacketId::new(10));
        assert_eq!(&p.payload[..], b"x");
        let mut out = BytesMut::new();
        p.encode(ProtocolVersion::V311, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
    }

    #[test]
    fn v5_with_alias_and_empty_topic() {
        let bytes: &[u8] = &[0x30, 0x07, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, b'x'];
        let p = dec(bytes, ProtocolVersion::V5).unwrap();
        assert_eq!(p.topic, "");
        assert_eq!(p.properties.topic_alias, Some(1));
        let mut out = BytesMut::new();
        p.encode(ProtocolVersion::V5, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
    }

    #[test]
    fn rejects() {
        use ProtocolVersion::{V5, V311};
        // QoS 3 is caught from the first byte alone.
        let mut buf = BytesMut::from(&[0x36u8][..]);
        assert_eq!(decode(&mut buf, V5, 1024), Err(DecodeError::InvalidQoS(3)));
        // DUP on QoS 0.
        assert_eq!(
            dec(&[0x38, 0x03, 0x00, 0x01, b'a'], V311),
            Err(DecodeError::DupOnQoS0)
        );
        // Packet id 0.
        assert_eq!(
            dec(&[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00], V311),
            Err(DecodeError::ZeroPacketId)
        );
        // Wildcard in topic name.
        assert_eq!(
            dec(&[0x30, 0x03, 0x00, 0x01, b'+'], V311),
            Err(DecodeError::InvalidTopicName(TopicError::WildcardInName))
        );
        // Empty topic: invalid on 3.1.1, protocol error without alias on 5.0.
        assert_eq!(
            dec(&[0x30, 0x02, 0x00, 0x00], V311),
            Err(DecodeError::InvalidTopicName(TopicError::Empty))
        );
        assert_eq!(
            dec(&[0x30, 0x03, 0x00, 0x00, 0x00], V5),
            Err(DecodeError::MissingTopic)
        );
        // Topic alias 0.
        assert_eq!(
            dec(&[0x30, 0x06, 0x00, 0x00, 0x03, 0x23, 0x00, 0x00], V5),
            Err(DecodeError::ZeroTopicAlias)
        );
        // Properties not allowed in PUBLISH.
        assert!(matches!(
            dec(
                &[0x30, 0x08, 0x00, 0x01, b'a', 0x03, 0x21, 0x00, 0x01, 0x00],
                V5
            ),
            Err(DecodeError::PropertyNotAllowed(_))
        ));
        // Invalid UTF-8 topic.
        assert_eq!(
            dec(&[0x30, 0x03, 0x00, 0x01, 0xFF], V311),
            Err(DecodeError::InvalidUtf8)
        );
    }

    #[test]
    fn encode_checks() {
        let mut p = Publish::new("a", QoS::AtLeastOnce, &b"x"[..]);
        let mut out = BytesMut::new();
        assert_eq!(
            p.encode(ProtocolVersion::V5, &mut out),
            Err(EncodeError::PacketIdMismatch)
        );
        p.packet_id = PacketId::new(1);
        p.properties.topic_alias = Some(2);
        assert!(matches!(
            p.encode(ProtocolVersion::V311, &mut out),
            Err(EncodeError::PropertyNotAllowed(_))
        ));
        assert!(out.is_empty());
    }
}
