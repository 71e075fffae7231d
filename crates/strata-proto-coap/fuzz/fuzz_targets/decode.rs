//! Feeds arbitrary bytes to the message decoder and the link-format parser; every message
//! that decodes must round-trip through the writer.
//!
//! Run with `cargo +nightly fuzz run decode` from `crates/strata-proto-coap`. The same
//! function runs on random inputs in the crate's ordinary tests (`decode_never_panics`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_proto_coap::fuzz;

fuzz_target!(|data: &[u8]| fuzz::decode(data));
