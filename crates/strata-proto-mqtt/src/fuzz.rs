//! Entry points shared by the cargo-fuzz targets in `fuzz/` and the plain random-input tests,
//! so the fuzz harness is compile-checked and exercised on the stable toolchain.
//!
//! Not part of the stable API.

use bytes::BytesMut;

use crate::packet::{self, Packet};
use crate::types::ProtocolVersion;

/// Decodes `data` as a stream of packets for `version` until it is exhausted or invalid.
///
/// Every packet that decodes must encode again and decode to an equal packet; a mismatch panics
/// (that is the bug the fuzzer looks for). The first packet is also tried as a CONNECT.
pub fn decode_all(data: &[u8], version: ProtocolVersion) {
    let mut first = BytesMut::from(data);
    if let Ok(Some(connect)) = packet::decode_connect(&mut first, data.len()) {
        let v = connect.protocol_version;
        check_round_trip(&Packet::Connect(alloc::boxed::Box::new(connect)), v);
    }
    let mut buf = BytesMut::from(data);
    while let Ok(Some(p)) = packet::decode(&mut buf, version, 1 << 20) {
        check_round_trip(&p, version);
    }
}

fn check_round_trip(p: &Packet, version: ProtocolVersion) {
    let mut out = BytesMut::new();
    let encoded = p.encode(version, &mut out);
    assert!(
        encoded.is_ok(),
        "decoded packet does not encode: {encoded:?} {p:?}"
    );
    let again = match p {
        Packet::Connect(_) => packet::decode_connect(&mut out, usize::MAX)
            .map(|c| c.map(|c| Packet::Connect(alloc::boxed::Box::new(c)))),
        _ => packet::decode(&mut out, version, usize::MAX),
    };
    assert_eq!(
        again.as_ref().ok().and_then(|p| p.as_ref()),
        Some(p),
        "round trip mismatch"
    );
}

/// Drives a [`ServerConnection`](crate::ServerConnection) with `data`: the first byte picks the
/// protocol version and chunking, a valid CONNECT is sent, then the rest of `data` arrives in
/// chunks. The broker side accepts everything, acknowledges every message, answers every
/// subscription and publishes back. Nothing may panic.
pub fn drive_server(data: &[u8]) {
    use crate::connection::{AcceptOptions, Event, ServerConfig, ServerConnection};
    use crate::packet::Connect;
    use crate::reason::ReasonCode;
    use alloc::vec;

    let (first, rest) = data.split_first().unwrap_or((&0, &[]));
    let version = if first & 1 == 0 {
        ProtocolVersion::V311
    } else {
        ProtocolVersion::V5
    };
    let chunk = usize::from(first >> 1).max(1);
    let mut config = ServerConfig::default();
    config
        .receive_maximum(4)
        .max_outgoing_inflight(2)
        .max_pending(4);
    let mut conn = ServerConnection::new(config, 0);
    let mut connect = BytesMut::new();
    let mut c = Connect::new(version, "fuzz", 5);
    c.properties.topic_alias_maximum = version.is_v5().then_some(2);
    let _ = c.encode(version, &mut connect);
    let mut now = 0u64;
    let mut out = BytesMut::new();
    conn.handle_bytes(now, &connect);
    for piece in rest.chunks(chunk) {
        conn.handle_bytes(now, piece);
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Connect(_) => {
                    let _ = conn.accept_connect(now, AcceptOptions::new());
                }
                Event::Publish(p) => {
                    if let Some(id) = p.packet_id {
                        let _ = conn.ack_incoming(id);
                    }
                    let _ = conn.publish(now, p);
                }
                Event::Subscribe(s) => {
                    let codes = vec![ReasonCode::GrantedQoS1; s.filters.len()];
                    let _ = conn.suback(s.packet_id, codes);
                }
                Event::Unsubscribe(u) => {
                    let codes = vec![ReasonCode::Success; u.filters.len()];
                    let _ = conn.unsuback(u.packet_id, codes);
                }
                _ => {}
            }
        }
        let _ = conn.poll_transmit(&mut out);
        out.clear();
        now += 1_000;
        conn.handle_timeout(now);
    }
    conn.handle_eof();
    while conn.poll_event().is_some() {}
    let _ = conn.take_session();
}
