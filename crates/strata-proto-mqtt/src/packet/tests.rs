//! Framing tests and property-based round trips for every packet type and both versions.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::properties::{PacketProperties, Properties, PropertyContext, PropertyId};
use crate::reason::{ReasonCode, ReasonContext};
use crate::types::{PacketId, QoS};

#[test]
fn needs_more_bytes_at_every_split() {
    let mut full = BytesMut::new();
    Publish {
        packet_id: PacketId::new(7),
        ..Publish::new("a/b", QoS::AtLeastOnce, &b"hello"[..])
    }
    .encode(ProtocolVersion::V5, &mut full)
    .unwrap();
    for split in 0..full.len() {
        let mut part = BytesMut::from(&full[..split]);
        assert_eq!(
            decode(&mut part, ProtocolVersion::V5, 1024),
            Ok(None),
            "split {split}"
        );
        assert_eq!(part.len(), split);
    }
    let mut all = full.clone();
    assert!(
        decode(&mut all, ProtocolVersion::V5, 1024)
            .unwrap()
            .is_some()
    );
    assert!(all.is_empty());
}

#[test]
fn oversize_is_rejected_from_the_fixed_header() {
    // Remaining length 268,435,455 announced, no body present.
    let mut buf = BytesMut::from(&[0x30u8, 0xFF, 0xFF, 0xFF, 0x7F][..]);
    assert_eq!(
        decode(&mut buf, ProtocolVersion::V5, 1 << 20),
        Err(DecodeError::PacketTooLarge {
            size: 268_435_460,
            max: 1 << 20
        })
    );
    assert_eq!(
        DecodeError::PacketTooLarge { size: 0, max: 0 }.reason_code(),
        ReasonCode::PacketTooLarge
    );
    // The limit counts the whole packet: a 2-byte PINGREQ fits in 2, not in 1.
    let mut buf = BytesMut::from(&[0xC0u8, 0x00][..]);
    assert!(decode(&mut buf, ProtocolVersion::V5, 1).is_err());
    let mut buf = BytesMut::from(&[0xC0u8, 0x00][..]);
    assert!(decode(&mut buf, ProtocolVersion::V5, 2).unwrap().is_some());
    // Same for the first CONNECT.
    let mut buf = BytesMut::from(&[0x10u8, 0xFF, 0x7F][..]);
    assert!(matches!(
        decode_connect(&mut buf, 1000),
        Err(DecodeError::PacketTooLarge { .. })
    ));
}

#[test]
fn bad_fixed_headers() {
    let v = ProtocolVersion::V5;
    let cases: &[(&[u8], DecodeError)] = &[
        (&[0x00, 0x00], DecodeError::InvalidPacketType(0)),
        (
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            DecodeError::InvalidVarInt,
        ),
        (&[0x30, 0x80, 0x80, 0x80, 0x80], DecodeError::InvalidVarInt),
        (&[0x62, 0x02, 0x00, 0x00], DecodeError::ZeroPacketId),
        (
            &[0x60, 0x02, 0x00, 0x01],
            DecodeError::InvalidHeaderFlags {
                packet_type: 6,
                flags: 0,
            },
        ),
        (
            &[0x41, 0x02, 0x00, 0x01],
            DecodeError::InvalidHeaderFlags {
                packet_type: 4,
                flags: 1,
            },
        ),
        (
            &[0xE2, 0x00],
            DecodeError::InvalidHeaderFlags {
                packet_type: 14,
                flags: 2,
            },
        ),
        (&[0x40, 0x01, 0x00], DecodeError::UnexpectedEnd),
    ];
    for (bytes, err) in cases {
        assert_eq!(
            &decode(&mut BytesMut::from(*bytes), v, 1024).unwrap_err(),
            err,
            "{bytes:02X?}"
        );
    }
    assert_eq!(
        DecodeError::InvalidVarInt.reason_code(),
        ReasonCode::MalformedPacket
    );
}

#[test]
fn several_packets_in_one_buffer() {
    let mut buf = BytesMut::from(&[0xC0u8, 0x00, 0xD0, 0x00, 0xE0][..]);
    let v = ProtocolVersion::V311;
    assert_eq!(decode(&mut buf, v, 8), Ok(Some(Packet::PingReq(PingReq))));
    assert_eq!(decode(&mut buf, v, 8), Ok(Some(Packet::PingResp(PingResp))));
    assert_eq!(decode(&mut buf, v, 8), Ok(None));
    assert_eq!(&buf[..], &[0xE0]);
}

#[test]
fn sniffs_connect_version() {
    let mut out = BytesMut::new();
    Connect::new(ProtocolVersion::V5, "c", 0)
        .encode(ProtocolVersion::V5, &mut out)
        .unwrap();
    assert_eq!(sniff_connect_version(&out), Some(ProtocolVersion::V5));
    assert_eq!(sniff_connect_version(&out[..5]), None);
    assert_eq!(sniff_connect_version(&[0xC0, 0x00]), None);
}

#[test]
fn packet_type_and_len() {
    let p = Packet::Disconnect(Disconnect::new(ReasonCode::Success));
    assert_eq!(p.packet_type(), PacketType::Disconnect);
    assert_eq!(p.encoded_len(ProtocolVersion::V5), Ok(2));
}

// ---------------------------------------------------------------------------------------------
// Property-based round trips.

fn arb_string() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 é/]{0,8}"
}

fn arb_topic() -> impl Strategy<Value = String> {
    "[a-z$]{1,4}(/[a-z]{0,4}){0,3}"
}

fn arb_filter() -> impl Strategy<Value = String> {
    prop_oneof![
        arb_topic(),
        "[a-z]{1,3}/\\+(/[a-z]{1,3})?",
        "([a-z]{1,3}/)?#",
        Just(String::from("+")),
        "\\$share/[a-z]{1,3}/[a-z]{1,3}(/#)?",
    ]
}

fn arb_bytes() -> impl Strategy<Value = Bytes> {
    proptest::collection::vec(any::<u8>(), 0..16).prop_map(Bytes::from)
}

fn arb_qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn arb_packet_id() -> impl Strategy<Value = PacketId> {
    (1u16..).prop_map(|v| PacketId::new(v).unwrap_or(PacketId::MIN))
}

fn arb_reason(ctx: ReasonContext) -> impl Strategy<Value = ReasonCode> {
    let codes: Vec<ReasonCode> = ReasonCode::ALL
        .iter()
        .copied()
        .filter(|rc| rc.allowed_in(ctx))
        .collect();
    proptest::sample::select(codes)
}

fn arb_all_properties() -> impl Strategy<Value = Properties> {
    let a = (
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(arb_string()),
        proptest::option::of(arb_topic()),
        proptest::option::of(arb_bytes()),
        proptest::collection::vec(1u32..=268_435_455, 0..3),
        proptest::option::of(any::<u32>()),
        proptest::option::of(arb_string()),
        proptest::option::of(any::<u16>()),
    );
    let b = (
        proptest::option::of(arb_string()),
        proptest::option::of(arb_bytes()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<u32>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(arb_string()),
        proptest::option::of(arb_string()),
        proptest::option::of(arb_string()),
        proptest::option::of(1u16..),
    );
    let c = (
        proptest::option::of(any::<u16>()),
        proptest::option::of(1u16..),
        proptest::option::of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        proptest::option::of(any::<bool>()),
        proptest::collection::vec((arb_string(), arb_string()), 0..3),
        proptest::option::of(1u32..),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(any::<bool>()),
    );
    (a, b, c).prop_map(|(a, b, c)| Properties {
        payload_format_indicator: a.0,
        message_expiry_interval: a.1,
        content_type: a.2,
        response_topic: a.3,
        correlation_data: a.4,
        subscription_identifiers: a.5,
        session_expiry_interval: a.6,
        assigned_client_identifier: a.7,
        server_keep_alive: a.8,
        authentication_method: b.0,
        authentication_data: b.1,
        request_problem_information: b.2,
        will_delay_interval: b.3,
        request_response_information: b.4,
        response_information: b.5,
        server_reference: b.6,
        reason_string: b.7,
        receive_maximum: b.8,
        topic_alias_maximum: c.0,
        topic_alias: c.1,
        maximum_qos: c.2,
        retain_available: c.3,
        user_properties: c.4,
        maximum_packet_size: c.5,
        wildcard_subscription_available: c.6,
        subscription_identifier_available: c.7,
        shared_subscription_available: c.8,
    })
}

/// Removes what `ctx` does not allow, so the set is valid for it.
fn mask(mut p: Properties, ctx: PropertyContext) -> Properties {
    use PropertyId as P;
    macro_rules! keep {
        ($($id:ident => $field:ident),* $(,)?) => {
            $(if !ctx.allows(P::$id) { p.$field = Default::default(); })*
        };
    }
    keep!(
        PayloadFormatIndicator => payload_format_indicator,
        MessageExpiryInterval => message_expiry_interval,
        ContentType => content_type,
        ResponseTopic => response_topic,
        CorrelationData => correlation_data,
        SubscriptionIdentifier => subscription_identifiers,
        SessionExpiryInterval => session_expiry_interval,
        AssignedClientIdentifier => assigned_client_identifier,
        ServerKeepAlive => server_keep_alive,
        AuthenticationMethod => authentication_method,
        AuthenticationData => authentication_data,
        RequestProblemInformation => request_problem_information,
        WillDelayInterval => will_delay_interval,
        RequestResponseInformation => request_response_information,
        ResponseInformation => response_information,
        ServerReference => server_reference,
        ReasonString => reason_string,
        ReceiveMaximum => receive_maximum,
        TopicAliasMaximum => topic_alias_maximum,
        TopicAlias => topic_alias,
        MaximumQoS => maximum_qos,
        RetainAvailable => retain_available,
        UserProperty => user_properties,
        MaximumPacketSize => maximum_packet_size,
        WildcardSubscriptionAvailable => wildcard_subscription_available,
        SubscriptionIdentifierAvailable => subscription_identifier_available,
        SharedSubscriptionAvailable => shared_subscription_available,
    );
    if ctx != PropertyContext::Publish {
        p.subscription_identifiers.truncate(1);
    }
    if p.authentication_data.is_some() && p.authentication_method.is_none() {
        p.authentication_data = None;
    }
    p
}

fn arb_props(ctx: PropertyContext, v: ProtocolVersion) -> BoxedStrategy<PacketProperties> {
    if v.is_v5() {
        arb_all_properties()
            .prop_map(move |p| PacketProperties::from(mask(p, ctx)))
            .boxed()
    } else {
        Just(PacketProperties::default()).boxed()
    }
}

fn arb_version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}

fn arb_will(v: ProtocolVersion) -> impl Strategy<Value = Will> {
    (
        arb_topic(),
        arb_bytes(),
        arb_qos(),
        any::<bool>(),
        arb_props(PropertyContext::Will, v),
    )
        .prop_map(|(topic, payload, qos, retain, properties)| Will {
            topic,
            payload,
            qos,
            retain,
            properties,
        })
}

fn arb_connect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        any::<u16>(),
        arb_string(),
        proptest::option::of(arb_will(v)),
        proptest::option::of(arb_string()),
        proptest::option::of(arb_bytes()),
        arb_props(PropertyContext::Connect, v),
    )
        .prop_map(
            move |(clean_start, keep_alive, client_id, will, username, password, properties)| {
                let username = if !v.is_v5() && password.is_some() && username.is_none() {
                    Some(String::from("u"))
                } else {
                    username
                };
                Packet::Connect(alloc::boxed::Box::new(Connect {
                    protocol_version: v,
                    clean_start,
                    keep_alive,
                    client_id,
                    will,
                    username,
                    password,
                    properties,
                }))
            },
        )
}

fn arb_connack(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        arb_reason(ReasonContext::ConnAck),
        arb_props(PropertyContext::ConnAck, v),
    )
        .prop_map(move |(sp, rc, properties)| {
            let reason_code = if v.is_v5() {
                rc
            } else {
                ReasonCode::from_v3_connack(rc.to_v3_connack()).unwrap_or(ReasonCode::Success)
            };
            Packet::ConnAck(ConnAck {
                session_present: sp && reason_code == ReasonCode::Success,
                reason_code,
                properties,
            })
        })
}

fn arb_publish(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        arb_qos(),
        any::<bool>(),
        prop_oneof![arb_topic(), Just(String::new())],
        arb_packet_id(),
        arb_props(PropertyContext::Publish, v),
        arb_bytes(),
    )
        .prop_map(
            move |(dup, qos, retain, topic, id, mut properties, payload)| {
                let topic = if topic.is_empty() {
                    if v.is_v5() {
                        properties.topic_alias.get_or_insert(1);
                        topic
                    } else {
                        String::from("t")
                    }
                } else {
                    topic
                };
                let has_id = qos != QoS::AtMostOnce;
                Packet::Publish(Publish {
                    dup: dup && has_id,
                    qos,
                    retain,
                    topic,
                    packet_id: has_id.then_some(id),
                    properties,
                    payload,
                })
            },
        )
}

fn arb_ack(
    v: ProtocolVersion,
    ctx: ReasonContext,
) -> impl Strategy<Value = (PacketId, ReasonCode, PacketProperties)> {
    (
        arb_packet_id(),
        arb_reason(ctx),
        arb_props(PropertyContext::Ack, v),
    )
        .prop_map(move |(id, rc, p)| {
            if v.is_v5() {
                (id, rc, p)
            } else {
                (id, ReasonCode::Success, p)
            }
        })
}

fn arb_subscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    let sub = (
        arb_filter(),
        arb_qos(),
        any::<bool>(),
        any::<bool>(),
        0u8..3,
    )
        .prop_map(move |(filter, qos, nl, rap, rh)| {
            let mut s = Subscription::new(filter, qos);
            if v.is_v5() {
                s.options.no_local = nl && !s.filter.starts_with("$share/");
                s.options.retain_as_published = rap;
                s.options.retain_handling = match rh {
                    0 => RetainHandling::SendAtSubscribe,
                    1 => RetainHandling::SendAtSubscribeIfNew,
                    _ => RetainHandling::DoNotSend,
                };
            }
            s
        });
    (
        arb_packet_id(),
        proptest::collection::vec(sub, 1..4),
        arb_props(PropertyContext::Subscribe, v),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn arb_suback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        arb_packet_id(),
        proptest::collection::vec(arb_reason(ReasonContext::SubAck), 0..4),
        arb_props(PropertyContext::SubAck, v),
    )
        .prop_map(move |(packet_id, codes, properties)| {
            let reason_codes = codes
                .into_iter()
                .map(|rc| {
                    if v.is_v5() || !rc.is_error() {
                        rc
                    } else {
                        ReasonCode::UnspecifiedError
                    }
                })
                .collect();
            Packet::SubAck(SubAck {
                packet_id,
                properties,
                reason_codes,
            })
        })
}

fn arb_unsubscribe(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        arb_packet_id(),
        proptest::collection::vec(arb_filter(), 1..4),
        arb_props(PropertyContext::Unsubscribe, v),
    )
        .prop_map(|(packet_id, filters, properties)| {
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties,
            })
        })
}

fn arb_unsuback(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        arb_packet_id(),
        proptest::collection::vec(arb_reason(ReasonContext::UnsubAck), 0..4),
        arb_props(PropertyContext::UnsubAck, v),
    )
        .prop_map(move |(packet_id, codes, properties)| {
            Packet::UnsubAck(UnsubAck {
                packet_id,
                properties,
                reason_codes: if v.is_v5() { codes } else { Vec::new() },
            })
        })
}

fn arb_disconnect(v: ProtocolVersion) -> impl Strategy<Value = Packet> {
    (
        arb_reason(ReasonContext::Disconnect),
        arb_props(PropertyContext::Disconnect, v),
    )
        .prop_map(move |(rc, properties)| {
            Packet::Disconnect(Disconnect {
                reason_code: if v.is_v5() { rc } else { ReasonCode::Success },
                properties,
            })
        })
}

fn arb_auth() -> impl Strategy<Value = Packet> {
    (
        arb_reason(ReasonContext::Auth),
        arb_props(PropertyContext::Auth, ProtocolVersion::V5),
    )
        .prop_map(|(reason_code, properties)| {
            Packet::Auth(Auth {
                reason_code,
                properties,
            })
        })
}

pub(crate) fn arb_packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut options = alloc::vec![
        arb_connect(v).boxed(),
        arb_connack(v).boxed(),
        arb_publish(v).boxed(),
        arb_ack(v, ReasonContext::PubAck)
            .prop_map(
                |(packet_id, reason_code, properties)| Packet::PubAck(PubAck {
                    packet_id,
                    reason_code,
                    properties
                })
            )
            .boxed(),
        arb_ack(v, ReasonContext::PubRec)
            .prop_map(
                |(packet_id, reason_code, properties)| Packet::PubRec(PubRec {
                    packet_id,
                    reason_code,
                    properties
                })
            )
            .boxed(),
        arb_ack(v, ReasonContext::PubRel)
            .prop_map(
                |(packet_id, reason_code, properties)| Packet::PubRel(PubRel {
                    packet_id,
                    reason_code,
                    properties
                })
            )
            .boxed(),
        arb_ack(v, ReasonContext::PubComp)
            .prop_map(
                |(packet_id, reason_code, properties)| Packet::PubComp(PubComp {
                    packet_id,
                    reason_code,
                    properties
                })
            )
            .boxed(),
        arb_subscribe(v).boxed(),
        arb_suback(v).boxed(),
        arb_unsubscribe(v).boxed(),
        arb_unsuback(v).boxed(),
        Just(Packet::PingReq(PingReq)).boxed(),
        Just(Packet::PingResp(PingResp)).boxed(),
        arb_disconnect(v).boxed(),
    ];
    if v.is_v5() {
        options.push(arb_auth().boxed());
    }
    proptest::strategy::Union::new(options).boxed()
}

fn round_trip(packet: &Packet, v: ProtocolVersion) -> Result<(), TestCaseError> {
    let mut buf = BytesMut::new();
    packet
        .encode(v, &mut buf)
        .map_err(|e| TestCaseError::fail(alloc::format!("{e}")))?;
    prop_assert_eq!(packet.encoded_len(v), Ok(buf.len()));
    let len = buf.len();
    let decoded = if let Packet::Connect(_) = packet {
        decode_connect(&mut buf, len).map(|c| c.map(|c| Packet::Connect(alloc::boxed::Box::new(c))))
    } else {
        decode(&mut buf, v, len)
    };
    prop_assert_eq!(decoded, Ok(Some(packet.clone())));
    prop_assert!(buf.is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip_v311(packet in arb_packet(ProtocolVersion::V311)) {
        round_trip(&packet, ProtocolVersion::V311)?;
    }

    #[test]
    fn round_trip_v5(packet in arb_packet(ProtocolVersion::V5)) {
        round_trip(&packet, ProtocolVersion::V5)?;
    }

    #[test]
    fn decoding_garbage_never_panics(
        v in arb_version(),
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        crate::fuzz::decode_all(&bytes, v);
    }

    #[test]
    fn mutated_packets_never_panic(
        v in arb_version(),
        packet in arb_version().prop_flat_map(arb_packet),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut buf = BytesMut::new();
        if packet.encode(v, &mut buf).is_ok() {
            for (at, byte) in flips {
                let i = at % buf.len();
                buf[i] ^= byte;
            }
            crate::fuzz::decode_all(&buf, v);
        }
    }

    #[test]
    fn truncated_packets_ask_for_more(v in arb_version(), packet in arb_version().prop_flat_map(arb_packet), cut in 0usize..64) {
        let mut buf = BytesMut::new();
        if packet.encode(v, &mut buf).is_ok() && cut < buf.len() {
            let mut part = BytesMut::from(&buf[..cut]);
            let res = if let Packet::Connect(_) = packet {
                decode_connect(&mut part, usize::MAX).map(|c| c.map(|c| Packet::Connect(alloc::boxed::Box::new(c))))
            } else {
                decode(&mut part, v, usize::MAX)
            };
            prop_assert_eq!(res, Ok(None));
        }
    }
}
