//! Feeds arbitrary bytes, split at arbitrary points, to a `ServerConnection` that accepts every
//! CONNECT and acknowledges every message; it must never panic.
//!
//! Run with `cargo +nightly fuzz run server_connection` from `crates/strata-proto-mqtt`. The same
//! function runs on random inputs in the crate's ordinary tests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_proto_mqtt::fuzz;

fuzz_target!(|data: &[u8]| {
    fuzz::drive_server(data);
});
