//! A `no_std` user of strata-proto-coap; see Cargo.toml.
#![no_std]

use strata_proto_coap::lwm2m::{self, NoTypes, Path};
use strata_proto_coap::option::format;
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

/// Decodes an LwM2M payload in every content format and re-encodes it, so the codecs (and
/// their serde_json, minicbor and base64 dependencies) are linked.
pub fn lwm2m_smoke(data: &[u8]) -> usize {
    let base = Path::instance(3, 0);
    let formats = [
        format::LWM2M_TLV,
        format::SENML_JSON,
        format::SENML_CBOR,
        format::TEXT,
    ];
    formats
        .into_iter()
        .filter_map(|f| lwm2m::decode(f, &base, data, &NoTypes).ok().map(|r| (f, r)))
        .filter_map(|(f, records)| lwm2m::encode(f, &base, &records).ok())
        .map(|bytes| bytes.len())
        .sum()
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}
