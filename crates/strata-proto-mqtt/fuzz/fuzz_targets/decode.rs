//! Feeds arbitrary bytes to the packet decoders of both protocol versions; every packet that
//! decodes must round-trip through the encoder.
//!
//! Run with `cargo +nightly fuzz run decode` from `crates/strata-proto-mqtt`. The same function
//! runs on random inputs in the crate's ordinary tests (`decoding_garbage_never_panics`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_proto_mqtt::{ProtocolVersion, fuzz};

fuzz_target!(|data: &[u8]| {
    fuzz::decode_all(data, ProtocolVersion::V311);
    fuzz::decode_all(data, ProtocolVersion::V5);
});
