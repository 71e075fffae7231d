//! UNSUBSCRIBE: a client removes subscriptions (MQTT 5.0 section 3.10, MQTT 3.1.1 section 3.10).

use alloc::string::String;
use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::properties::{PacketProperties, PropertyContext, props_len, write_props};
use crate::topic::validate_topic_filter;
use crate::types::{PacketId, ProtocolVersion};
use crate::wire::{read_packet_id, read_string, string_len, write_string};

/// UNSUBSCRIBE: removes one or more subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// Packet identifier, echoed in UNSUBACK.
    pub packet_id: PacketId,
    /// The topic filters to remove, at least one.
    pub filters: Vec<String>,
    /// UNSUBSCRIBE properties (5.0): user properties.
    pub properties: PacketProperties,
}

impl Unsubscribe {
    /// An UNSUBSCRIBE without properties.
    pub fn new(packet_id: PacketId, filters: Vec<String>) -> Self {
        Self {
            packet_id,
            filters,
            properties: PacketProperties::default(),
        }
    }

    pub(crate) fn decode_body(
        mut body: Bytes,
        version: ProtocolVersion,
    ) -> Result<Self, DecodeError> {
        let packet_id = read_packet_id(&mut body)?;
        let properties = if version.is_v5() {
            PacketProperties::decode(&mut body, PropertyContext::Unsubscribe)?
        } else {
            PacketProperties::default()
        };
        let mut filters = Vec::new();
        while !body.is_empty() {
            let filter = read_string(&mut body)?;
            validate_topic_filter(&filter).map_err(DecodeError::InvalidTopicFilter)?;
            filters.push(filter);
        }
        if filters.is_empty() {
            return Err(DecodeError::NoTopicFilters);
        }
        Ok(Self {
            packet_id,
            filters,
            properties,
        })
    }
}

impl PacketBody for Unsubscribe {
    const TYPE: PacketType = PacketType::Unsubscribe;

    fn flags(&self) -> u8 {
        0b0010
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::NoTopicFilters);
        }
        let mut len = 2 + props_len(&self.properties, PropertyContext::Unsubscribe, version)?;
        for f in &self.filters {
            validate_topic_filter(f).map_err(EncodeError::InvalidTopicFilter)?;
            len += string_len(f)?;
        }
        Ok(len)
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        write_props(&self.properties, PropertyContext::Unsubscribe, version, buf);
        for f in &self.filters {
            write_string(buf, f);
        }
    }
}

impl_encode!(Unsubscribe);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    #[test]
    fn v311_and_v5() {
        let bytes: &[u8] = &[0xA2, 0x07, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'+'];
        let Some(Packet::Unsubscribe(u)) =
            decode(&mut BytesMut::from(bytes), ProtocolVersion::V311, 64).unwrap()
        else {
            panic!()
        };
        assert_eq!(u.filters, ["a/+"]);
        let mut out = BytesMut::new();
        u.encode(ProtocolVersion::V311, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
        let mut out = BytesMut::new();
        u.encode(ProtocolVersion::V5, &mut out).unwrap();
        assert_eq!(
            &out[..],
            &[0xA2, 0x08, 0x00, 0x0A, 0x00, 0x00, 0x03, b'a', b'/', b'+']
        );
    }

    #[test]
    fn rejects() {
        let none: &[u8] = &[0xA2, 0x02, 0x00, 0x0A];
        assert_eq!(
            decode(&mut BytesMut::from(none), ProtocolVersion::V311, 64),
            Err(DecodeError::NoTopicFilters)
        );
        let flags: &[u8] = &[0xA0, 0x02, 0x00, 0x0A];
        assert!(decode(&mut BytesMut::from(flags), ProtocolVersion::V311, 64).is_err());
    }
}
