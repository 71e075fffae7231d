//! Scenarios for [`ServerConnection`], each run against MQTT 3.1.1 and 5.0 where it applies.

mod util;

use alloc::vec;
use alloc::vec::Vec;
use bytes::Bytes;

use self::util::{Pair, mqtt_test, pid};
use crate::connection::{
    AcceptOptions, DisconnectReason, Event, OutgoingState, ProtocolViolation, PublishError,
    PublishOutcome, ServerConfig, UsageError,
};
use crate::packet::{
    ConnAck, Disconnect, Packet, PingReq, PubAck, PubComp, PubRec, PubRel, Publish, Unsubscribe,
    Will,
};
use crate::properties::PacketProperties;
use crate::reason::ReasonCode;
use crate::types::{ProtocolVersion, QoS};

fn disconnected(events: &[Event]) -> Option<(DisconnectReason, bool)> {
    events.iter().find_map(|e| match e {
        Event::Disconnected {
            reason,
            publish_will,
        } => Some((*reason, *publish_will)),
        _ => None,
    })
}

/// After a protocol violation: 5.0 gets DISCONNECT with `code` and a Reason String naming
/// the violation, 3.1.1 gets nothing.
fn assert_closed_with(pair: &mut Pair, code: ReasonCode) {
    let packets = pair.recv();
    let events = pair.events();
    if pair.is_v5() {
        let mut expected = Disconnect::new(code);
        if let Some(Event::ProtocolError(v)) = events.first() {
            expected.properties.reason_string = Some(v.to_string());
        }
        assert_eq!(packets, [Packet::Disconnect(expected)]);
    } else {
        assert_eq!(packets, []);
    }
    assert!(
        matches!(events.first(), Some(Event::ProtocolError(v)) if v.reason_code() == code),
        "{events:?}"
    );
    assert_eq!(
        disconnected(&events),
        Some((DisconnectReason::ProtocolError(code), true))
    );
    assert!(pair.server.is_closed());
}

mqtt_test!(connect_accept, |pair| {
    assert_eq!(pair.server.protocol_version(), None);
    let connack = pair.connect();
    let Packet::ConnAck(c) = connack else {
        panic!()
    };
    assert!(!c.session_present);
    assert!(pair.server.is_connected());
    assert_eq!(pair.server.protocol_version(), Some(pair.version));
    if pair.is_v5() {
        assert_eq!(c.properties.receive_maximum, Some(64));
        assert_eq!(c.properties.topic_alias_maximum, Some(16));
        assert_eq!(c.properties.maximum_packet_size, Some(1 << 20));
    }
    assert_eq!(pair.server.poll_timeout(), None);
});

mqtt_test!(connect_reject, |pair| {
    let c = pair.connect_packet();
    pair.send(Packet::Connect(alloc::boxed::Box::new(c)));
    assert!(matches!(pair.events().as_slice(), [Event::Connect(_)]));
    pair.server
        .reject_connect(ReasonCode::NotAuthorized)
        .unwrap();
    let expected = if pair.is_v5() { 0x87 } else { 0x05 };
    assert_eq!(
        pair.recv_raw(),
        [0x20, if pair.is_v5() { 3 } else { 2 }, 0, expected]
            .into_iter()
            .chain(pair.is_v5().then_some(0))
            .collect::<Vec<u8>>()
    );
    assert_eq!(
        disconnected(&pair.events()),
        Some((DisconnectReason::Server(ReasonCode::NotAuthorized), false))
    );
    assert!(pair.server.is_closed());
    assert_eq!(
        pair.server.reject_connect(ReasonCode::NotAuthorized),
        Err(UsageError::NoPendingConnect)
    );
});

#[test]
fn unsupported_protocol_version() {
    let mut pair = Pair::new(ProtocolVersion::V311);
    // MQTT 3.1 ("MQIsdp", level 3).
    pair.send_raw(&[
        0x10, 0x0F, 0, 6, b'M', b'Q', b'I', b's', b'd', b'p', 3, 0x02, 0, 0, 0, 1, b'a',
    ]);
    assert_eq!(pair.recv_raw(), ConnAck::unsupported_version());
    let events = pair.events();
    assert_eq!(
        disconnected(&events),
        Some((
            DisconnectReason::ProtocolError(ReasonCode::UnsupportedProtocolVersion),
            false
        ))
    );
}

#[test]
fn malformed_v5_connect_gets_connack_with_reason() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    // Receive Maximum 0 in CONNECT properties: protocol error.
    pair.send_raw(&[
        0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 0, 3, 0x21, 0, 0, 0, 1, b'a',
    ]);
    assert_eq!(
        pair.recv(),
        [Packet::ConnAck(ConnAck::new(
            false,
            ReasonCode::ProtocolError
        ))]
    );
    assert!(pair.server.is_closed());
}

mqtt_test!(first_packet_must_be_connect, |pair| {
    pair.send(Packet::PingReq(PingReq));
    assert!(pair.recv_raw().is_empty());
    let events = pair.events();
    assert_eq!(
        disconnected(&events),
        Some((
            DisconnectReason::ProtocolError(ReasonCode::ProtocolError),
            false
        ))
    );
});

mqtt_test!(connect_timeout, |pair| {
    assert_eq!(pair.server.poll_timeout(), Some(10_000));
    pair.advance(9_999);
    assert!(!pair.server.is_closed());
    pair.advance(1);
    assert!(pair.server.is_closed());
    assert!(matches!(
        pair.events().as_slice(),
        [
            Event::ProtocolError(ProtocolViolation::ConnectTimeout),
            Event::Disconnected { .. }
        ]
    ));
});

mqtt_test!(v311_empty_client_id_needs_clean_session, |pair| {
    let mut c = pair.connect_packet();
    c.client_id.clear();
    c.clean_start = false;
    pair.send(Packet::Connect(alloc::boxed::Box::new(c)));
    if pair.is_v5() {
        // Allowed on 5.0: the broker assigns an identifier.
        assert!(matches!(pair.events().as_slice(), [Event::Connect(_)]));
        let opts = AcceptOptions {
            assigned_client_identifier: Some("auto-1".into()),
            ..AcceptOptions::new()
        };
        pair.server.accept_connect(0, opts).unwrap();
        let Some(Packet::ConnAck(c)) = pair.recv().into_iter().next() else {
            panic!()
        };
        assert_eq!(
            c.properties.assigned_client_identifier.as_deref(),
            Some("auto-1")
        );
    } else {
        assert_eq!(pair.recv_raw(), [0x20, 0x02, 0x00, 0x02]);
        assert!(pair.server.is_closed());
    }
});

mqtt_test!(bytes_after_connect_wait_for_accept, |pair| {
    let mut bytes = bytes::BytesMut::new();
    Packet::Connect(alloc::boxed::Box::new(pair.connect_packet()))
        .encode(pair.version, &mut bytes)
        .unwrap();
    Packet::PingReq(PingReq)
        .encode(pair.version, &mut bytes)
        .unwrap();
    pair.send_raw(&bytes);
    assert!(matches!(pair.events().as_slice(), [Event::Connect(_)]));
    assert!(pair.recv().is_empty());
    pair.server.accept_connect(0, AcceptOptions::new()).unwrap();
    let packets = pair.recv();
    assert!(matches!(
        packets.as_slice(),
        [Packet::ConnAck(_), Packet::PingResp(_)]
    ));
});

mqtt_test!(ping, |pair| {
    pair.connect();
    pair.send(Packet::PingReq(PingReq));
    assert_eq!(pair.recv(), [Packet::PingResp(crate::packet::PingResp)]);
});

mqtt_test!(second_connect_is_a_protocol_error, |pair| {
    pair.connect();
    let c = pair.connect_packet();
    pair.send(Packet::Connect(alloc::boxed::Box::new(c)));
    assert_closed_with(&mut pair, ReasonCode::ProtocolError);
});

mqtt_test!(server_only_packets_are_protocol_errors, |pair| {
    pair.connect();
    pair.send(Packet::ConnAck(ConnAck::new(false, ReasonCode::Success)));
    assert_closed_with(&mut pair, ReasonCode::ProtocolError);
});

mqtt_test!(malformed_packet, |pair| {
    pair.connect();
    // PUBACK with reserved flag bits set.
    pair.send_raw(&[0x42, 0x02, 0x00, 0x01]);
    assert_closed_with(&mut pair, ReasonCode::MalformedPacket);
    // Later bytes are ignored.
    pair.send(Packet::PingReq(PingReq));
    assert!(pair.recv().is_empty());
});

mqtt_test!(packet_too_large, |pair| {
    let mut config = ServerConfig::default();
    config.max_packet_size(64);
    pair.server = crate::ServerConnection::new(config, 0);
    pair.connect();
    // Only the fixed header of a 1000-byte PUBLISH arrives.
    pair.send_raw(&[0x30, 0xE5, 0x07]);
    assert_closed_with(&mut pair, ReasonCode::PacketTooLarge);
});

mqtt_test!(qos0_publish_is_delivered, |pair| {
    pair.connect();
    pair.publish("a/b", QoS::AtMostOnce, 0);
    let events = pair.events();
    let [Event::Publish(p)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(p.topic, "a/b");
    assert_eq!(p.payload, Bytes::from_static(b"payload"));
    assert!(pair.recv().is_empty());
});

mqtt_test!(qos1_puback_only_after_ack_incoming, |pair| {
    pair.connect();
    pair.publish("a/b", QoS::AtLeastOnce, 7);
    assert!(matches!(pair.events().as_slice(), [Event::Publish(_)]));
    assert!(
        pair.recv().is_empty(),
        "PUBACK before the broker said durable"
    );
    // A re-send before the ack is not reported again.
    pair.publish("a/b", QoS::AtLeastOnce, 7);
    assert!(pair.events().is_empty());
    pair.server.ack_incoming(pid(7)).unwrap();
    assert_eq!(pair.recv(), [Packet::PubAck(PubAck::new(pid(7)))]);
    assert_eq!(
        pair.server.ack_incoming(pid(7)),
        Err(UsageError::UnknownPacketId(7))
    );
});

mqtt_test!(qos2_exactly_once, |pair| {
    pair.connect();
    pair.publish("a/b", QoS::ExactlyOnce, 9);
    assert!(matches!(pair.events().as_slice(), [Event::Publish(_)]));
    assert!(pair.recv().is_empty());
    pair.server.ack_incoming(pid(9)).unwrap();
    assert_eq!(pair.recv(), [Packet::PubRec(PubRec::new(pid(9)))]);
    // The client did not get PUBREC and re-sends with DUP: PUBREC again, no new delivery.
    let mut dup = Publish::new("a/b", QoS::ExactlyOnce, &b"payload"[..]);
    dup.dup = true;
    dup.packet_id = Some(pid(9));
    pair.send(Packet::Publish(dup));
    assert!(pair.events().is_empty());
    assert_eq!(pair.recv(), [Packet::PubRec(PubRec::new(pid(9)))]);
    pair.send(Packet::PubRel(PubRel::new(pid(9))));
    assert_eq!(pair.recv(), [Packet::PubComp(PubComp::new(pid(9)))]);
    // A PUBREL for an unknown id is still completed (with 0x92 on 5.0).
    pair.send(Packet::PubRel(PubRel::new(pid(9))));
    let rc = if pair.is_v5() {
        ReasonCode::PacketIdentifierNotFound
    } else {
        ReasonCode::Success
    };
    assert_eq!(
        pair.recv(),
        [Packet::PubComp(PubComp::with_reason(pid(9), rc))]
    );
    // After completion the same id is a new message.
    pair.publish("a/b", QoS::ExactlyOnce, 9);
    assert!(matches!(pair.events().as_slice(), [Event::Publish(_)]));
});

mqtt_test!(qos2_pubrel_before_pubrec_is_a_protocol_error, |pair| {
    pair.connect();
    pair.publish("a/b", QoS::ExactlyOnce, 3);
    let _ = pair.events();
    pair.send(Packet::PubRel(PubRel::new(pid(3))));
    assert_closed_with(&mut pair, ReasonCode::ProtocolError);
});

#[test]
fn qos2_error_pubrec_ends_the_flow() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    pair.connect();
    pair.publish("a/b", QoS::ExactlyOnce, 4);
    let _ = pair.events();
    pair.server
        .ack_incoming_with(pid(4), ReasonCode::NotAuthorized)
        .unwrap();
    assert_eq!(
        pair.recv(),
        [Packet::PubRec(PubRec::with_reason(
            pid(4),
            ReasonCode::NotAuthorized
        ))]
    );
    // Not awaiting PUBREL: the id is free again.
    pair.publish("a/b", QoS::ExactlyOnce, 4);
    assert!(matches!(pair.events().as_slice(), [Event::Publish(_)]));
    // PUBCOMP is not a valid PUBACK reason.
    assert!(
        pair.server
            .ack_incoming_with(pid(4), ReasonCode::PacketIdentifierNotFound)
            .is_err()
    );
}

mqtt_test!(outgoing_qos1, |pair| {
    pair.connect();
    let outcome = pair
        .server
        .publish(pair.now, Publish::new("t", QoS::AtLeastOnce, &b"x"[..]))
        .unwrap();
    assert_eq!(outcome, PublishOutcome::Sent(Some(pid(1))));
    let packets = pair.recv();
    let [Packet::Publish(p)] = packets.as_slice() else {
        panic!("{packets:?}")
    };
    assert_eq!(p.packet_id, Some(pid(1)));
    assert_eq!(pair.server.inflight_len(), 1);
    pair.send(Packet::PubAck(PubAck::new(pid(1))));
    assert_eq!(
        pair.events(),
        [Event::Delivered {
            packet_id: pid(1),
            reason_code: ReasonCode::Success
        }]
    );
    assert_eq!(pair.server.inflight_len(), 0);
});

mqtt_test!(outgoing_qos2, |pair| {
    pair.connect();
    pair.server
        .publish(pair.now, Publish::new("t", QoS::ExactlyOnce, &b"x"[..]))
        .unwrap();
    assert_eq!(pair.recv().len(), 1);
    // PUBCOMP before PUBREC is ignored.
    pair.send(Packet::PubComp(PubComp::new(pid(1))));
    assert!(pair.events().is_empty());
    pair.send(Packet::PubRec(PubRec::new(pid(1))));
    assert_eq!(pair.recv(), [Packet::PubRel(PubRel::new(pid(1)))]);
    pair.send(Packet::PubComp(PubComp::new(pid(1))));
    assert!(matches!(
        pair.events().as_slice(),
        [Event::Delivered { .. }]
    ));
    assert_eq!(pair.server.inflight_len(), 0);
});

mqtt_test!(outgoing_flow_control_and_queue, |pair| {
    let mut config = ServerConfig::default();
    config.max_outgoing_inflight(2).max_pending(1);
    pair.server = crate::ServerConnection::new(config, 0);
    pair.connect();
    let msg = |n: u8| Publish::new("t", QoS::AtLeastOnce, vec![n]);
    assert!(matches!(
        pair.server.publish(pair.now, msg(1)),
        Ok(PublishOutcome::Sent(_))
    ));
    assert!(matches!(
        pair.server.publish(pair.now, msg(2)),
        Ok(PublishOutcome::Sent(_))
    ));
    assert_eq!(
        pair.server.publish(pair.now, msg(3)),
        Ok(PublishOutcome::Queued)
    );
    let err = pair.server.publish(pair.now, msg(4)).unwrap_err();
    assert!(matches!(err, PublishError::QueueFull(_)));
    assert_eq!(err.into_inner().payload[..], [4]);
    // QoS 0 is not flow controlled.
    assert_eq!(
        pair.server
            .publish(pair.now, Publish::new("t", QoS::AtMostOnce, vec![0])),
        Ok(PublishOutcome::Sent(None))
    );
    assert_eq!(pair.recv().len(), 3);
    pair.send(Packet::PubAck(PubAck::new(pid(1))));
    let packets = pair.recv();
    let [Packet::Publish(p)] = packets.as_slice() else {
        panic!("{packets:?}")
    };
    assert_eq!((p.packet_id, &p.payload[..]), (Some(pid(3)), &[3u8][..]));
    assert_eq!(pair.server.pending_len(), 0);
});

#[test]
fn client_receive_maximum_limits_inflight() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    let mut c = pair.connect_packet();
    c.properties.receive_maximum = Some(1);
    pair.connect_with(c, AcceptOptions::new());
    let msg = Publish::new("t", QoS::AtLeastOnce, &b"x"[..]);
    assert!(matches!(
        pair.server.publish(pair.now, msg.clone()),
        Ok(PublishOutcome::Sent(_))
    ));
    assert_eq!(
        pair.server.publish(pair.now, msg),
        Ok(PublishOutcome::Queued)
    );
}

#[test]
fn client_maximum_packet_size_drops_large_messages() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    let mut c = pair.connect_packet();
    c.properties.maximum_packet_size = Some(32);
    pair.connect_with(c, AcceptOptions::new());
    let big = Publish::new("t", QoS::AtLeastOnce, vec![0u8; 64]);
    assert_eq!(
        pair.server.publish(pair.now, big),
        Ok(PublishOutcome::DroppedTooLarge)
    );
    let small = Publish::new("t", QoS::AtLeastOnce, vec![0u8; 4]);
    assert!(matches!(
        pair.server.publish(pair.now, small),
        Ok(PublishOutcome::Sent(_))
    ));
    assert_eq!(pair.recv().len(), 1);
}

#[test]
fn outgoing_topic_aliases() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    let mut c = pair.connect_packet();
    c.properties.topic_alias_maximum = Some(1);
    pair.connect_with(c, AcceptOptions::new());
    for topic in ["a/long/topic", "a/long/topic", "other"] {
        pair.server
            .publish(pair.now, Publish::new(topic, QoS::AtMostOnce, &b"x"[..]))
            .unwrap();
    }
    let packets = pair.recv();
    let topics: Vec<(&str, Option<u16>)> = packets
        .iter()
        .map(|p| match p {
            Packet::Publish(p) => (p.topic.as_str(), p.properties.topic_alias),
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        topics,
        [("a/long/topic", Some(1)), ("", Some(1)), ("other", None)]
    );
}

#[test]
fn incoming_topic_aliases() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    pair.connect();
    let mut p = Publish::new("sensors/1", QoS::AtMostOnce, &b"x"[..]);
    p.properties.topic_alias = Some(3);
    pair.send(Packet::Publish(p.clone()));
    p.topic.clear();
    pair.send(Packet::Publish(p.clone()));
    let events = pair.events();
    assert_eq!(events.len(), 2);
    for e in events {
        let Event::Publish(p) = e else { panic!() };
        assert_eq!(p.topic, "sensors/1");
        assert_eq!(p.properties.topic_alias, None);
    }
    // An unmapped alias is a protocol error.
    p.properties.topic_alias = Some(4);
    pair.send(Packet::Publish(p));
    assert_closed_with(&mut pair, ReasonCode::ProtocolError);
}

#[test]
fn incoming_topic_alias_out_of_range() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    pair.connect();
    let mut p = Publish::new("t", QoS::AtMostOnce, &b"x"[..]);
    p.properties.topic_alias = Some(17);
    pair.send(Packet::Publish(p));
    assert_closed_with(&mut pair, ReasonCode::TopicAliasInvalid);
}

#[test]
fn incoming_receive_maximum() {
    let mut config = ServerConfig::default();
    config.receive_maximum(2);
    let mut pair = Pair::with_config(ProtocolVersion::V5, config);
    pair.connect();
    pair.publish("t", QoS::AtLeastOnce, 1);
    pair.publish("t", QoS::ExactlyOnce, 2);
    assert_eq!(pair.events().len(), 2);
    pair.publish("t", QoS::AtLeastOnce, 3);
    assert_closed_with(&mut pair, ReasonCode::ReceiveMaximumExceeded);
}

#[test]
fn incoming_receive_maximum_frees_slots() {
    let mut config = ServerConfig::default();
    config.receive_maximum(1);
    let mut pair = Pair::with_config(ProtocolVersion::V5, config);
    pair.connect();
    for id in 1..=3 {
        pair.publish("t", QoS::AtLeastOnce, id);
        assert!(matches!(pair.events().as_slice(), [Event::Publish(_)]));
        pair.server.ack_incoming(pid(id)).unwrap();
    }
    assert_eq!(pair.recv().len(), 3);
}

#[test]
fn qos_and_retain_limits() {
    let mut config = ServerConfig::default();
    config.maximum_qos(QoS::AtLeastOnce).retain_available(false);
    let mut pair = Pair::with_config(ProtocolVersion::V5, config.clone());
    let Packet::ConnAck(c) = pair.connect() else {
        panic!()
    };
    assert_eq!(c.properties.maximum_qos, Some(QoS::AtLeastOnce));
    assert_eq!(c.properties.retain_available, Some(false));
    pair.publish("t", QoS::ExactlyOnce, 1);
    assert_closed_with(&mut pair, ReasonCode::QoSNotSupported);

    let mut pair = Pair::with_config(ProtocolVersion::V5, config);
    pair.connect();
    let mut p = Publish::new("t", QoS::AtMostOnce, &b"x"[..]);
    p.retain = true;
    pair.send(Packet::Publish(p));
    assert_closed_with(&mut pair, ReasonCode::RetainNotSupported);
}

mqtt_test!(keep_alive_timeout, |pair| {
    let mut c = pair.connect_packet();
    c.keep_alive = 10;
    pair.connect_with(c, AcceptOptions::new());
    assert_eq!(pair.server.keep_alive(), 10);
    assert_eq!(pair.server.poll_timeout(), Some(15_000));
    pair.advance(14_000);
    pair.send(Packet::PingReq(PingReq));
    assert_eq!(pair.recv().len(), 1);
    assert_eq!(pair.server.poll_timeout(), Some(29_000));
    pair.advance(14_999);
    assert!(pair.server.is_connected());
    pair.advance(1);
    assert_closed_with(&mut pair, ReasonCode::KeepAliveTimeout);
    assert_eq!(pair.server.poll_timeout(), None);
});

mqtt_test!(keep_alive_zero_never_times_out, |pair| {
    pair.connect();
    pair.advance(u64::from(u32::MAX));
    assert!(pair.server.is_connected());
});

#[test]
fn server_keep_alive_overrides_v5_only() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut config = ServerConfig::default();
        config.server_keep_alive(Some(4));
        let mut pair = Pair::with_config(version, config);
        let mut c = pair.connect_packet();
        c.keep_alive = 100;
        let Packet::ConnAck(ack) = pair.connect_with(c, AcceptOptions::new()) else {
            panic!()
        };
        if version.is_v5() {
            assert_eq!(ack.properties.server_keep_alive, Some(4));
            assert_eq!(pair.server.poll_timeout(), Some(6_000));
        } else {
            assert_eq!(pair.server.poll_timeout(), Some(150_000));
        }
    }
}

mqtt_test!(client_disconnect_discards_will, |pair| {
    let mut c = pair.connect_packet();
    c.will = Some(Will {
        topic: "status".into(),
        payload: Bytes::from_static(b"gone"),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: PacketProperties::default(),
    });
    pair.connect_with(c, AcceptOptions::new());
    pair.send(Packet::Disconnect(Disconnect::new(ReasonCode::Success)));
    assert_eq!(
        disconnected(&pair.events()),
        Some((
            DisconnectReason::Client {
                reason_code: ReasonCode::Success,
                session_expiry_interval: None
            },
            false
        ))
    );
    assert!(pair.server.is_closed());
});

#[test]
fn v5_disconnect_with_will() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    pair.connect();
    pair.send(Packet::Disconnect(Disconnect::new(
        ReasonCode::DisconnectWithWillMessage,
    )));
    let (_, will) = disconnected(&pair.events()).unwrap();
    assert!(will);
}

#[test]
fn v5_disconnect_cannot_set_session_expiry_from_zero() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    pair.connect();
    let mut d = Disconnect::new(ReasonCode::Success);
    d.properties.session_expiry_interval = Some(60);
    pair.send(Packet::Disconnect(d));
    assert_closed_with(&mut pair, ReasonCode::ProtocolError);
}

mqtt_test!(eof_publishes_will, |pair| {
    pair.connect();
    pair.server.handle_eof();
    assert_eq!(
        disconnected(&pair.events()),
        Some((DisconnectReason::TransportClosed, true))
    );
    // Nothing happens twice.
    pair.server.handle_eof();
    assert!(pair.events().is_empty());
});

mqtt_test!(server_disconnect, |pair| {
    pair.connect();
    pair.server.disconnect(ReasonCode::SessionTakenOver);
    if pair.is_v5() {
        assert_eq!(
            pair.recv(),
            [Packet::Disconnect(Disconnect::new(
                ReasonCode::SessionTakenOver
            ))]
        );
    } else {
        assert!(pair.recv().is_empty());
    }
    assert_eq!(
        disconnected(&pair.events()),
        Some((DisconnectReason::Server(ReasonCode::SessionTakenOver), true))
    );
    assert!(matches!(
        pair.server
            .publish(pair.now, Publish::new("t", QoS::AtMostOnce, &b""[..])),
        Err(PublishError::NotConnected(_))
    ));
});

mqtt_test!(subscribe_and_unsubscribe, |pair| {
    pair.connect();
    pair.subscribe(5, &["a/+", "b/#"]);
    let events = pair.events();
    let [Event::Subscribe(s)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(s.filters.len(), 2);
    assert_eq!(
        pair.server.suback(pid(5), vec![ReasonCode::GrantedQoS1]),
        Err(UsageError::ReasonCodeCount {
            expected: 2,
            got: 1
        })
    );
    pair.server
        .suback(
            pid(5),
            vec![ReasonCode::GrantedQoS1, ReasonCode::NotAuthorized],
        )
        .unwrap();
    let packets = pair.recv();
    let [Packet::SubAck(ack)] = packets.as_slice() else {
        panic!("{packets:?}")
    };
    let expected_err = if pair.is_v5() {
        ReasonCode::NotAuthorized
    } else {
        ReasonCode::UnspecifiedError
    };
    assert_eq!(ack.reason_codes, [ReasonCode::GrantedQoS1, expected_err]);
    assert_eq!(
        pair.server.suback(pid(5), vec![ReasonCode::GrantedQoS1]),
        Err(UsageError::UnknownPacketId(5))
    );

    pair.send(Packet::Unsubscribe(Unsubscribe::new(
        pid(6),
        vec!["a/+".into()],
    )));
    assert!(matches!(pair.events().as_slice(), [Event::Unsubscribe(_)]));
    pair.server
        .unsuback(pid(6), vec![ReasonCode::Success])
        .unwrap();
    let packets = pair.recv();
    let [Packet::UnsubAck(ack)] = packets.as_slice() else {
        panic!("{packets:?}")
    };
    assert_eq!(ack.reason_codes.len(), usize::from(pair.is_v5()));
});

#[test]
fn subscription_identifiers_can_be_refused() {
    let mut config = ServerConfig::default();
    config.subscription_identifiers_available(false);
    let mut pair = Pair::with_config(ProtocolVersion::V5, config);
    pair.connect();
    let mut s = crate::packet::Subscribe::new(
        pid(1),
        vec![crate::packet::Subscription::new("a", QoS::AtMostOnce)],
    );
    s.properties.subscription_identifiers.push(3);
    pair.send(Packet::Subscribe(s));
    assert_closed_with(&mut pair, ReasonCode::SubscriptionIdentifiersNotSupported);
}

mqtt_test!(session_survives_reconnection, |pair| {
    let version = pair.version;
    // Outgoing: one QoS 1 unacknowledged, one QoS 2 at PUBREL stage, one pending.
    let mut config = ServerConfig::default();
    config.max_outgoing_inflight(2);
    pair.server = crate::ServerConnection::new(config.clone(), 0);
    pair.connect();
    pair.server
        .publish(pair.now, Publish::new("q1", QoS::AtLeastOnce, &b"1"[..]))
        .unwrap();
    pair.server
        .publish(pair.now, Publish::new("q2", QoS::ExactlyOnce, &b"2"[..]))
        .unwrap();
    pair.server
        .publish(pair.now, Publish::new("q3", QoS::AtLeastOnce, &b"3"[..]))
        .unwrap();
    assert_eq!(pair.recv().len(), 2);
    pair.send(Packet::PubRec(PubRec::new(pid(2))));
    assert_eq!(pair.recv(), [Packet::PubRel(PubRel::new(pid(2)))]);
    // Incoming: a QoS 2 message acknowledged with PUBREC, PUBREL not yet received.
    pair.publish("in", QoS::ExactlyOnce, 42);
    let _ = pair.events();
    pair.server.ack_incoming(pid(42)).unwrap();
    assert_eq!(pair.recv().len(), 1);

    assert_eq!(pair.server.take_session(), None, "still open");
    pair.server.handle_eof();
    let _ = pair.events();
    let session = pair.server.take_session().unwrap();
    assert_eq!(session.inflight.len(), 2);
    assert_eq!(session.inflight[1].state, OutgoingState::AwaitingPubComp);
    assert_eq!(session.pending.len(), 1);
    assert!(session.incoming_awaiting_pubrel.contains(&42));

    // Reconnect with the session.
    let mut pair = Pair::with_config(version, config);
    let mut c = pair.connect_packet();
    c.clean_start = false;
    pair.send(Packet::Connect(alloc::boxed::Box::new(c)));
    let _ = pair.events();
    pair.server
        .accept_connect(0, AcceptOptions::resume(session))
        .unwrap();
    let packets = pair.recv();
    assert!(matches!(&packets[0], Packet::ConnAck(c) if c.session_present));
    let Packet::Publish(p) = &packets[1] else {
        panic!("{packets:?}")
    };
    assert!(p.dup);
    assert_eq!((p.topic.as_str(), p.packet_id), ("q1", Some(pid(1))));
    assert_eq!(packets[2], Packet::PubRel(PubRel::new(pid(2))));
    assert_eq!(packets.len(), 3, "pending waits for a free slot");
    // The client re-sends the incoming QoS 2 message: PUBREC, no re-delivery.
    let mut dup = Publish::new("in", QoS::ExactlyOnce, &b"payload"[..]);
    dup.dup = true;
    dup.packet_id = Some(pid(42));
    pair.send(Packet::Publish(dup));
    assert!(pair.events().is_empty());
    assert_eq!(pair.recv(), [Packet::PubRec(PubRec::new(pid(42)))]);
    pair.send(Packet::PubRel(PubRel::new(pid(42))));
    assert_eq!(pair.recv(), [Packet::PubComp(PubComp::new(pid(42)))]);
    // Completing q1 lets the pending q3 go out with a fresh packet id.
    pair.send(Packet::PubAck(PubAck::new(pid(1))));
    let packets = pair.recv();
    let [Packet::Publish(p)] = packets.as_slice() else {
        panic!("{packets:?}")
    };
    assert_eq!((p.topic.as_str(), p.dup), ("q3", false));
    assert_eq!(p.packet_id, Some(pid(3)));
});

mqtt_test!(usage_errors_before_connect, |pair| {
    assert_eq!(
        pair.server.accept_connect(0, AcceptOptions::new()),
        Err(UsageError::NoPendingConnect)
    );
    assert_eq!(
        pair.server.ack_incoming(pid(1)),
        Err(UsageError::NotConnected)
    );
    assert!(matches!(
        pair.server
            .publish(pair.now, Publish::new("t", QoS::AtLeastOnce, &b""[..])),
        Err(PublishError::NotConnected(_))
    ));
});

#[test]
fn invalid_outgoing_message_is_given_back() {
    let mut pair = Pair::new(ProtocolVersion::V311);
    pair.connect();
    let err = pair
        .server
        .publish(pair.now, Publish::new("bad/#", QoS::AtMostOnce, &b""[..]))
        .unwrap_err();
    assert!(matches!(err, PublishError::Invalid(..)));
    assert_eq!(err.into_inner().topic, "bad/#");
}

#[test]
fn byte_at_a_time() {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        let mut pair = Pair::new(version);
        let mut bytes = bytes::BytesMut::new();
        Packet::Connect(alloc::boxed::Box::new(pair.connect_packet()))
            .encode(version, &mut bytes)
            .unwrap();
        for b in bytes.iter() {
            pair.send_raw(&[*b]);
        }
        assert!(matches!(pair.events().as_slice(), [Event::Connect(_)]));
    }
}

#[test]
fn random_input_never_panics() {
    use proptest::prelude::*;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::default();
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..256), |data| {
            crate::fuzz::drive_server(&data);
            Ok(())
        })
        .unwrap();
}

#[test]
fn memory_footprint() {
    // Stored per in-flight or queued message: keep it small (properties are out of line).
    assert!(
        core::mem::size_of::<Publish>() <= 80,
        "{}",
        core::mem::size_of::<Publish>()
    );
    assert_eq!(
        core::mem::size_of::<PacketProperties>(),
        core::mem::size_of::<usize>()
    );
    assert!(
        core::mem::size_of::<Packet>() <= 96,
        "{}",
        core::mem::size_of::<Packet>()
    );
}

mqtt_test!(
    second_connect_with_bad_level_is_still_a_protocol_error,
    |pair| {
        pair.connect();
        pair.send_raw(&[
            0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 9, 0x02, 0, 0, 0, 1, b'a',
        ]);
        assert_closed_with(&mut pair, ReasonCode::ProtocolError);
    }
);

#[test]
fn v5_will_qos_above_maximum_is_refused() {
    let mut config = ServerConfig::default();
    config.maximum_qos(QoS::AtMostOnce);
    let mut pair = Pair::with_config(ProtocolVersion::V5, config);
    let mut c = pair.connect_packet();
    c.will = Some(Will {
        topic: "w".into(),
        payload: Bytes::new(),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: PacketProperties::default(),
    });
    pair.send(Packet::Connect(alloc::boxed::Box::new(c)));
    assert_eq!(
        pair.recv(),
        [Packet::ConnAck(ConnAck::new(
            false,
            ReasonCode::QoSNotSupported
        ))]
    );
    assert!(pair.server.is_closed());
}

#[test]
fn valid_packet_sequences_never_panic() {
    use proptest::prelude::*;
    use proptest::test_runner::TestRunner;
    let strategy = (any::<bool>(), 1u8..64).prop_flat_map(|(v5, chunk)| {
        let version = if v5 {
            ProtocolVersion::V5
        } else {
            ProtocolVersion::V311
        };
        (
            Just((version, chunk)),
            proptest::collection::vec(crate::packet::tests::arb_packet(version), 0..12),
        )
    });
    let mut runner = TestRunner::default();
    runner
        .run(&strategy, |((version, chunk), packets)| {
            // First byte: version in bit 0, chunk size in the rest (see fuzz::drive_server).
            let mut data = vec![u8::from(version.is_v5()) | (chunk << 1)];
            let mut buf = bytes::BytesMut::new();
            // Only packets a client may send, so sequences run long before any violation.
            let client_packets = packets.iter().filter(|p| {
                !matches!(
                    p,
                    Packet::Connect(_)
                        | Packet::ConnAck(_)
                        | Packet::SubAck(_)
                        | Packet::UnsubAck(_)
                        | Packet::PingResp(_)
                )
            });
            for p in client_packets {
                let _ = p.encode(version, &mut buf);
            }
            data.extend_from_slice(&buf);
            crate::fuzz::drive_server(&data);
            Ok(())
        })
        .unwrap();
}

#[test]
fn pending_messages_expire() {
    let mut config = ServerConfig::default();
    config.max_outgoing_inflight(1);
    let mut pair = Pair::with_config(ProtocolVersion::V5, config);
    pair.connect();
    let expiring = |secs| {
        let mut p = Publish::new("t", QoS::AtLeastOnce, &b"x"[..]);
        p.properties.message_expiry_interval = Some(secs);
        p
    };
    pair.server.publish(0, expiring(100)).unwrap();
    assert_eq!(
        pair.server.publish(0, expiring(5)),
        Ok(PublishOutcome::Queued)
    );
    assert_eq!(
        pair.server.publish(0, expiring(60)),
        Ok(PublishOutcome::Queued)
    );
    assert_eq!(pair.recv().len(), 1);
    pair.now = 10_000;
    pair.send(Packet::PubAck(PubAck::new(pid(1))));
    let packets = pair.recv();
    // The 5 s message expired while queued; the 60 s one has 50 s left.
    let [Packet::Publish(p)] = packets.as_slice() else {
        panic!("{packets:?}")
    };
    assert_eq!(p.properties.message_expiry_interval, Some(50));
}

#[test]
fn v311_drops_properties_of_outgoing_messages() {
    let mut pair = Pair::new(ProtocolVersion::V311);
    pair.connect();
    let mut p = Publish::new("t", QoS::AtMostOnce, &b"x"[..]);
    p.properties.user_properties.push(("k".into(), "v".into()));
    assert_eq!(pair.server.publish(0, p), Ok(PublishOutcome::Sent(None)));
    assert_eq!(pair.recv().len(), 1);
}

#[test]
fn v5_session_resumed_on_v311_drops_properties() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    pair.connect();
    let mut p = Publish::new("t", QoS::AtLeastOnce, &b"x"[..]);
    p.properties.user_properties.push(("k".into(), "v".into()));
    pair.server.publish(0, p).unwrap();
    pair.server.handle_eof();
    let session = pair.server.take_session().unwrap();

    let mut pair = Pair::new(ProtocolVersion::V311);
    let c = pair.connect_packet();
    pair.send(Packet::Connect(alloc::boxed::Box::new(c)));
    let _ = pair.events();
    pair.server
        .accept_connect(0, AcceptOptions::resume(session))
        .unwrap();
    let packets = pair.recv();
    assert!(matches!(&packets[1], Packet::Publish(p) if p.dup && p.properties.is_empty()));
}

#[test]
fn client_publish_with_subscription_identifier() {
    let mut pair = Pair::new(ProtocolVersion::V5);
    pair.connect();
    let mut p = Publish::new("t", QoS::AtMostOnce, &b"x"[..]);
    p.properties.subscription_identifiers.push(1);
    pair.send(Packet::Publish(p));
    assert_closed_with(&mut pair, ReasonCode::ProtocolError);
}
