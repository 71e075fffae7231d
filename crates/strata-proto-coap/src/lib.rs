//! Sans-IO CoAP: the message codec (RFC 7252), observe (RFC 7641), block-wise transfers
//! (RFC 7959) and the CoRE link format (RFC 6690).
//!
//! This crate is fully deterministic: it contains **no sockets, no timers and no clock**.
//! Datagrams go in with [`Endpoint::handle_datagram`], datagrams come out of
//! [`Endpoint::poll_transmit`], and time is a `u64` count of milliseconds from any monotonic
//! origin, passed in by the caller. The tokio listener of `strata serve` and the device side
//! in `strata-edge` both pump the same [`Endpoint`]. It works in `no_std` environments with
//! an allocator (disable the default `std` feature).
//!
//! # Principal types
//!
//! - [`Message`]: a zero-copy view of a received datagram, validated in full by
//!   [`Message::decode`] (every RFC 7252 message format error is a [`DecodeError`] that says
//!   whether to answer with RST); [`MessageWriter`] encodes straight into a `Vec<u8>`.
//! - [`Endpoint`]: the exchange layer, server and client side: deduplication, piggybacked
//!   and separate responses, retransmission with randomised exponential back-off, token
//!   matching, notification replacement. [`Received`] says what a datagram means;
//!   [`Event`] reports what happened to confirmable messages this side sent.
//! - [`block`]: Block1/Block2 option values, [`block::block2`] slicing (with late size
//!   negotiation) and [`block::Block1Assembler`].
//! - [`observe`]: sequence numbers and the freshness rule; [`link_format`]: parse and write.
//! - [`lwm2m`]: the LwM2M data model and its content formats (OMA-TLV, SenML JSON and CBOR,
//!   plain text, opaque), dispatched by [`lwm2m::decode`] and [`lwm2m::encode`].
//!
//! # Why not coap-lite's codec
//!
//! coap-lite (the usual Rust choice) decodes into a `BTreeMap` of `LinkedList`s of `Vec`s,
//! several allocations per message on the server's hot path, and it accepts messages RFC 7252
//! calls format errors (a payload marker with no payload). The codec is small, is our
//! product's core, and here it is zero-copy, strict and fuzzed.
//!
//! # Limits of the current version
//!
//! - NSTART is not enforced for outgoing requests: callers keep one request outstanding per
//!   peer, as our clients do.
//! - Congestion control for notifications beyond "one unacknowledged confirmable
//!   notification per observation, replaced by newer ones" is left to the caller.
//!
//! # Testing
//!
//! Unit tests sit beside the code; `endpoint/tests.rs` drives two endpoints against each
//! other in memory with explicit time. `fuzz/` holds cargo-fuzz targets
//! (`cargo +nightly fuzz run decode`, `endpoint`, `lwm2m`) whose bodies also run on random
//! inputs in the ordinary tests.
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod block;
mod code;
pub mod endpoint;
mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod link_format;
pub mod lwm2m;
mod message;
pub mod observe;
pub mod option;

pub use code::{Code, MessageType};
pub use endpoint::{Endpoint, EndpointConfig, Event, Received, RequestId, Token, Transmit};
pub use error::{DecodeError, EncodeError};
pub use message::{Header, MAX_TOKEN_LEN, Message, MessageWriter, Options, empty};
