//! SUBSCRIBE: a client subscribes to topic filters (MQTT 5.0 section 3.8, MQTT 3.1.1 section 3.8).

use alloc::string::String;
use alloc::vec::Vec;
use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::packet::{PacketBody, PacketType, impl_encode};
use crate::properties::{PacketProperties, PropertyContext, props_len, write_props};
use crate::topic::{SharedFilter, validate_topic_filter};
use crate::types::{PacketId, ProtocolVersion, QoS};
use crate::wire::{read_packet_id, read_string, read_u8, string_len, write_string};

/// Whether retained messages are sent when a subscription is made (MQTT 5.0 section 3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// 0: send retained messages at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: send retained messages only if the subscription did not already exist.
    SendAtSubscribeIfNew = 1,
    /// 2: do not send retained messages.
    DoNotSend = 2,
}

/// The options of one subscription.
///
/// On MQTT 3.1.1 only `qos` exists; the other fields must keep their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS the client wants to receive.
    pub qos: QoS,
    /// 5.0: do not forward messages published by this same client.
    pub no_local: bool,
    /// 5.0: keep the RETAIN flag of forwarded messages as published.
    pub retain_as_published: bool,
    /// 5.0: when to send retained messages.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with the given QoS and every 5.0 option at its default.
    pub fn new(qos: QoS) -> Self {
        Self {
            qos,
            ..Self::default()
        }
    }

    fn to_byte(self) -> u8 {
        u8::from(self.qos)
            | (u8::from(self.no_local) << 2)
            | (u8::from(self.retain_as_published) << 3)
            | ((self.retain_handling as u8) << 4)
    }

    fn from_byte(b: u8, version: ProtocolVersion) -> Result<Self, DecodeError> {
        let reserved = if version.is_v5() { 0xC0 } else { 0xFC };
        if b & reserved != 0 {
            return Err(DecodeError::InvalidSubscriptionOptions(b));
        }
        let qos = QoS::try_from(b & 0b11).map_err(DecodeError::InvalidQoS)?;
        let retain_handling = match (b >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendAtSubscribeIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::InvalidRetainHandling),
        };
        Ok(Self {
            qos,
            no_local: b & 0x04 != 0,
            retain_as_published: b & 0x08 != 0,
            retain_handling,
        })
    }
}

/// One topic filter of a SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The topic filter, possibly a `$share/` filter.
    pub filter: String,
    /// The subscription options.
    pub options: SubscriptionOptions,
}

impl Subscription {
    /// A subscription to `filter` with the given QoS and default 5.0 options.
    pub fn new(filter: impl Into<String>, qos: QoS) -> Self {
        Self {
            filter: filter.into(),
            options: SubscriptionOptions::new(qos),
        }
    }
}

/// SUBSCRIBE: adds one or more subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// Packet identifier, echoed in SUBACK.
    pub packet_id: PacketId,
    /// The subscriptions, at least one.
    pub filters: Vec<Subscription>,
    /// SUBSCRIBE properties (5.0): subscription identifier and user properties.
    pub properties: PacketProperties,
}

impl Subscribe {
    /// A SUBSCRIBE without properties.
    pub fn new(packet_id: PacketId, filters: Vec<Subscription>) -> Self {
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
            PacketProperties::decode(&mut body, PropertyContext::Subscribe)?
        } else {
            PacketProperties::default()
        };
        let mut filters = Vec::new();
        while !body.is_empty() {
            let filter = read_string(&mut body)?;
            let options = SubscriptionOptions::from_byte(read_u8(&mut body)?, version)?;
            validate_topic_filter(&filter).map_err(DecodeError::InvalidTopicFilter)?;
            if options.no_local && matches!(SharedFilter::parse(&filter), Ok(Some(_))) {
                return Err(DecodeError::NoLocalOnSharedSubscription);
            }
            filters.push(Subscription { filter, options });
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

impl PacketBody for Subscribe {
    const TYPE: PacketType = PacketType::Subscribe;

    fn flags(&self) -> u8 {
        0b0010
    }

    fn body_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(EncodeError::NoTopicFilters);
        }
        let mut len = 2 + props_len(&self.properties, PropertyContext::Subscribe, version)?;
        for sub in &self.filters {
            validate_topic_filter(&sub.filter).map_err(EncodeError::InvalidTopicFilter)?;
            let o = sub.options;
            if !version.is_v5() && o != SubscriptionOptions::new(o.qos) {
                return Err(EncodeError::NotInVersion(version));
            }
            if o.no_local && matches!(SharedFilter::parse(&sub.filter), Ok(Some(_))) {
                return Err(EncodeError::NoLocalOnSharedSubscription);
            }
            len += string_len(&sub.filter)? + 1;
        }
        Ok(len)
    }

    fn write_body(&self, version: ProtocolVersion, buf: &mut BytesMut) {
        buf.put_u16(self.packet_id.get());
        write_props(&self.properties, PropertyContext::Subscribe, version, buf);
        for sub in &self.filters {
            write_string(buf, &sub.filter);
            buf.put_u8(sub.options.to_byte());
        }
    }
}

impl_encode!(Subscribe);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{Packet, decode};

    fn dec(bytes: &[u8], v: ProtocolVersion) -> Result<Subscribe, DecodeError> {
        match decode(&mut BytesMut::from(bytes), v, 1024)? {
            Some(Packet::Subscribe(p)) => Ok(p),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn v311_two_filters() {
        // MQTT 3.1.1 section 3.8.3 example: "a/b" QoS 1, "c/d" QoS 2.
        let bytes: &[u8] = &[
            0x82, 0x0E, 0x00, 0x0A, 0x00, 0x03, b'a', b'/', b'b', 0x01, 0x00, 0x03, b'c', b'/',
            b'd', 0x02,
        ];
        let s = dec(bytes, ProtocolVersion::V311).unwrap();
        assert_eq!(s.filters[1], Subscription::new("c/d", QoS::ExactlyOnce));
        let mut out = BytesMut::new();
        s.encode(ProtocolVersion::V311, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
    }

    #[test]
    fn v5_options_and_identifier() {
        let bytes: &[u8] = &[
            0x82, 0x09, 0x00, 0x01, 0x02, 0x0B, 0x07, 0x00, 0x01, b'#', 0x2E,
        ];
        let s = dec(bytes, ProtocolVersion::V5).unwrap();
        assert_eq!(s.properties.subscription_identifiers, [7]);
        let o = s.filters[0].options;
        assert_eq!(o.qos, QoS::ExactlyOnce);
        assert!(o.no_local && o.retain_as_published);
        assert_eq!(o.retain_handling, RetainHandling::DoNotSend);
        let mut out = BytesMut::new();
        s.encode(ProtocolVersion::V5, &mut out).unwrap();
        assert_eq!(&out[..], bytes);
    }

    #[test]
    fn rejects() {
        use ProtocolVersion::{V5, V311};
        // Wrong fixed header flags.
        let mut buf = BytesMut::from(&[0x80u8, 0x00][..]);
        assert!(matches!(
            decode(&mut buf, V311, 1024),
            Err(DecodeError::InvalidHeaderFlags { .. })
        ));
        // No filters.
        assert_eq!(
            dec(&[0x82, 0x02, 0x00, 0x01], V311),
            Err(DecodeError::NoTopicFilters)
        );
        // Empty filter.
        assert!(matches!(
            dec(&[0x82, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00], V311),
            Err(DecodeError::InvalidTopicFilter(_))
        ));
        // Misplaced wildcard.
        assert!(matches!(
            dec(
                &[0x82, 0x07, 0x00, 0x01, 0x00, 0x02, b'#', b'a', 0x00],
                V311
            ),
            Err(DecodeError::InvalidTopicFilter(_))
        ));
        // QoS 3 and reserved bits.
        assert_eq!(
            dec(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x03], V311),
            Err(DecodeError::InvalidQoS(3))
        );
        assert_eq!(
            dec(&[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x04], V311),
            Err(DecodeError::InvalidSubscriptionOptions(0x04))
        );
        assert_eq!(
            dec(&[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x30], V5),
            Err(DecodeError::InvalidRetainHandling)
        );
        // Packet id 0.
        assert_eq!(
            dec(&[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'a', 0x00], V311),
            Err(DecodeError::ZeroPacketId)
        );
        // No local on a shared subscription.
        let mut bytes = alloc::vec![0x82, 0x00, 0x00, 0x01, 0x00, 0x00, 0x0C];
        bytes.extend_from_slice(b"$share/g/a/b");
        bytes.push(0x04);
        bytes[1] = (bytes.len() - 2) as u8;
        assert_eq!(
            dec(&bytes, V5),
            Err(DecodeError::NoLocalOnSharedSubscription)
        );
        // Subscription identifier 0.
        assert!(matches!(
            dec(
                &[0x82, 0x08, 0x00, 0x01, 0x02, 0x0B, 0x00, 0x00, 0x01, b'a'],
                V5
            ),
            Err(DecodeError::InvalidPropertyValue(_) | DecodeError::UnexpectedEnd)
        ));
    }
}
