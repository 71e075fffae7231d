//! Feeds arbitrary datagrams from several peers, with time advancing, to a server endpoint
//! that answers every request; it must never panic.
//!
//! Run with `cargo +nightly fuzz run endpoint` from `crates/strata-proto-coap`. The same
//! function runs on random inputs in the crate's ordinary tests.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_proto_coap::fuzz;

fuzz_target!(|data: &[u8]| fuzz::endpoint(data));
