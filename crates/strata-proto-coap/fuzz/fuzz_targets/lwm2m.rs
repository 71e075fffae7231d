//! Feeds arbitrary bytes to every LwM2M content-format decoder (TLV, SenML JSON and CBOR,
//! plain text, opaque) at every path depth; whatever decodes and re-encodes must be stable.
//!
//! Run with `cargo +nightly fuzz run lwm2m` from `crates/strata-proto-coap`. The same
//! function runs on random inputs in the crate's ordinary tests (`lwm2m_never_panics`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_proto_coap::fuzz;

fuzz_target!(|data: &[u8]| fuzz::lwm2m(data));
