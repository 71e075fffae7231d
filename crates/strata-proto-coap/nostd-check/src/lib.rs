//! A `no_std` user of strata-proto-coap; see Cargo.toml.
#![no_std]

use strata_proto_coap::{Code, Endpoint, EndpointConfig, Message};

/// Decodes a datagram and drives an endpoint, so both paths are linked.
pub fn smoke(data: &[u8]) -> usize {
    let decoded = Message::decode(data).is_ok();
    let mut endpoint: Endpoint<u8> = Endpoint::new(EndpointConfig::default());
    let _ = endpoint.request(0, 1, true, Code::GET, false, |w| {
        w.path("a/b")?;
        Ok(())
    });
    let _ = endpoint.handle_datagram(0, 1, data);
    usize::from(decoded) + usize::from(endpoint.poll_transmit().is_some())
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
