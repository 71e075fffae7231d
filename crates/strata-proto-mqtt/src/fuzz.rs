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
