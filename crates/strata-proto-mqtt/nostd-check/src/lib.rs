//! A `no_std` user of strata-proto-mqtt; see Cargo.toml.
#![no_std]

use strata_proto_mqtt::{ProtocolVersion, ServerConfig, ServerConnection, packet};

/// Decodes one packet and feeds bytes to a connection, so both paths are linked.
pub fn smoke(data: &[u8]) -> usize {
    let mut buf = bytes::BytesMut::from(data);
    let decoded = packet::decode(&mut buf, ProtocolVersion::V5, 1024).is_ok();
    let mut conn = ServerConnection::new(ServerConfig::default(), 0);
    conn.handle_bytes(0, data);
    usize::from(decoded) + usize::from(conn.is_closed())
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
