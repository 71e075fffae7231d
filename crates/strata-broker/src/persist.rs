//! Persistent sessions and retained messages as bytes, for the platform to store.
//!
//! Everything is written with the MQTT 5.0 codec itself, so no second serialisation format
//! exists: a session is a sequence of SUBSCRIBE packets (one per subscription, carrying its
//! options and subscription identifier) followed by PUBLISH packets (its queued messages,
//! with their remaining Message Expiry Interval), and a retained message is one PUBLISH.

use bytes::BytesMut;
use strata_proto_mqtt::packet::{self, Packet, Publish, Subscribe, Subscription};
use strata_proto_mqtt::{PacketId, ProtocolVersion, QoS, SubscriptionOptions};

const V5: ProtocolVersion = ProtocolVersion::V5;
/// Larger than any packet the broker accepts (the MQTT maximum).
const MAX_STORED_PACKET: usize = 268_435_460;

/// One persistent session as the platform stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedSession {
    /// MQTT client identifier.
    pub client_id: String,
    /// Session Expiry Interval in seconds (`u32::MAX`: never).
    pub expiry_secs: u32,
    /// Wall-clock time (ms since the Unix epoch) the session ends if its client stays away.
    pub expires_at_ms: Option<u64>,
    /// Subscriptions and queued messages (see the module docs).
    pub state: Vec<u8>,
    /// Who may resume it ([`crate::Hooks::session_owner`]).
    pub owner: Option<String>,
}

/// The broker state that outlives a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersistedState {
    /// Sessions with a non-zero expiry interval.
    pub sessions: Vec<PersistedSession>,
    /// Retained messages: (topic, encoded PUBLISH).
    pub retained: Vec<(String, Vec<u8>)>,
}

/// A session's contents, decoded.
#[derive(Debug, Default)]
pub(crate) struct SessionContents {
    pub(crate) subscriptions: Vec<(String, SubscriptionOptions, Option<u32>)>,
    pub(crate) messages: Vec<Publish>,
}

/// A stored blob that does not decode (a bug or a damaged database); the session or
/// message is skipped with a warning rather than stopping the broker.
#[derive(Debug, thiserror::Error)]
#[error("stored MQTT state does not decode: {0}")]
pub(crate) struct CorruptState(String);

pub(crate) fn encode_session(contents: &SessionContents) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let id = PacketId::new(1).unwrap_or(PacketId::MIN);
    for (filter, options, subscription_id) in &contents.subscriptions {
        let mut subscribe = Subscribe::new(
            id,
            vec![Subscription {
                filter: filter.clone(),
                options: *options,
            }],
        );
        subscribe.properties.subscription_identifiers = subscription_id.iter().copied().collect();
        // Filters were validated when subscribed; one that fails to encode is left out.
        let mark = buf.len();
        if Packet::Subscribe(subscribe).encode(V5, &mut buf).is_err() {
            buf.truncate(mark);
        }
    }
    for message in &contents.messages {
        push_publish(&mut buf, message.clone());
    }
    buf.to_vec()
}

pub(crate) fn decode_session(state: &[u8]) -> Result<SessionContents, CorruptState> {
    let mut buf = BytesMut::from(state);
    let mut contents = SessionContents::default();
    while !buf.is_empty() {
        match packet::decode(&mut buf, V5, MAX_STORED_PACKET) {
            Ok(Some(Packet::Subscribe(s))) => {
                let id = s.properties.subscription_identifiers.first().copied();
                for sub in s.filters {
                    contents.subscriptions.push((sub.filter, sub.options, id));
                }
            }
            Ok(Some(Packet::Publish(mut p))) => {
                p.packet_id = None;
                contents.messages.push(p);
            }
            Ok(Some(other)) => {
                return Err(CorruptState(format!(
                    "unexpected {:?} packet",
                    other.packet_type()
                )));
            }
            Ok(None) => return Err(CorruptState("truncated packet".into())),
            Err(e) => return Err(CorruptState(e.to_string())),
        }
    }
    Ok(contents)
}

pub(crate) fn encode_message(message: &Publish) -> Vec<u8> {
    let mut buf = BytesMut::new();
    push_publish(&mut buf, message.clone());
    buf.to_vec()
}

pub(crate) fn decode_message(bytes: &[u8]) -> Result<Publish, CorruptState> {
    let mut buf = BytesMut::from(bytes);
    match packet::decode(&mut buf, V5, MAX_STORED_PACKET) {
        Ok(Some(Packet::Publish(mut p))) => {
            p.packet_id = None;
            Ok(p)
        }
        Ok(_) => Err(CorruptState("not a PUBLISH".into())),
        Err(e) => Err(CorruptState(e.to_string())),
    }
}

fn push_publish(buf: &mut BytesMut, mut message: Publish) {
    // QoS 1/2 PUBLISH packets need an identifier to encode; it is not kept.
    message.packet_id = (message.qos != QoS::AtMostOnce)
        .then(|| PacketId::new(1))
        .flatten();
    message.dup = false;
    message.properties.topic_alias = None;
    let mark = buf.len();
    if Packet::Publish(message).encode(V5, buf).is_err() {
        buf.truncate(mark);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use bytes::Bytes;
    use strata_proto_mqtt::RetainHandling;

    use super::*;

    #[test]
    fn sessions_and_messages_round_trip() {
        let mut options = SubscriptionOptions::new(QoS::ExactlyOnce);
        options.no_local = true;
        options.retain_handling = RetainHandling::DoNotSend;
        let mut expiring = Publish::new("a/b", QoS::AtLeastOnce, Bytes::from_static(b"x"));
        expiring.properties.message_expiry_interval = Some(30);
        expiring.properties.user_properties = vec![("k".into(), "v".into())];
        let contents = SessionContents {
            subscriptions: vec![
                ("a/#".into(), options, Some(7)),
                (
                    "$share/g/c".into(),
                    SubscriptionOptions::new(QoS::AtMostOnce),
                    None,
                ),
            ],
            messages: vec![
                expiring.clone(),
                Publish::new("c", QoS::ExactlyOnce, Bytes::from_static(b"")),
            ],
        };
        let back = decode_session(&encode_session(&contents)).unwrap();
        assert_eq!(back.subscriptions, contents.subscriptions);
        assert_eq!(back.messages.len(), 2);
        assert_eq!(back.messages[0].topic, "a/b");
        assert_eq!(back.messages[0].qos, QoS::AtLeastOnce);
        assert_eq!(
            back.messages[0].properties.message_expiry_interval,
            Some(30)
        );
        assert_eq!(
            back.messages[0].properties.user_properties,
            expiring.properties.user_properties
        );
        assert_eq!(back.messages[1].qos, QoS::ExactlyOnce);

        let mut retained = Publish::new("r", QoS::AtMostOnce, Bytes::from_static(b"kept"));
        retained.retain = true;
        let back = decode_message(&encode_message(&retained)).unwrap();
        assert_eq!(
            (back.topic.as_str(), &back.payload[..], back.retain),
            ("r", &b"kept"[..], true)
        );
    }

    #[test]
    fn damage_is_reported_not_panicked_on() {
        assert!(decode_session(&[0x82, 0x05, 0x00]).is_err());
        assert!(decode_session(&[0xF0, 0x00]).is_err());
        assert!(decode_message(&[]).is_err());
        assert!(decode_message(&[0x30, 0x03, 0x00, 0x01]).is_err());
    }
}
