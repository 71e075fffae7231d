//! Sans-IO MQTT 3.1.1 and 5.0: a strict codec and a per-connection server state machine.
//!
//! This crate is fully deterministic. It contains **no networking code, no timers and no clock**:
//! bytes that arrive on a connection are handed in, bytes to send are handed out, and time is a
//! `u64` count of milliseconds passed in by the caller (`now`), from any monotonic origin. A
//! runtime crate (e.g. one built on tokio or mio) owns the sockets and timers and only pumps the
//! calls below, as `quinn` does for `quinn-proto`. It works in `no_std` environments with an
//! allocator (disable the default `std` feature).
//!
//! # Principal types
//!
//! - [`packet`]: one type per control packet ([`Connect`], [`Publish`], [`Subscribe`], ...), the
//!   [`Packet`] enum, and the framing functions [`packet::decode`] (the `Decoder` shape:
//!   `Ok(None)` means "need more bytes") and [`packet::decode_connect`] (learns the
//!   [`ProtocolVersion`] from the first packet). Every packet has
//!   `encode(version, &mut BytesMut)` and `encoded_len(version)`.
//! - [`Properties`]: every MQTT 5.0 property, typed; [`ReasonCode`]: every reason code.
//! - [`topic`]: topic name and filter validation, `$share/` parsing, and [`topic::matches`].
//! - [`ServerConnection`]: the server side of one client connection. It enforces the protocol
//!   (keep alive, packet identifiers, QoS 1/2 flows, flow control, topic aliases) and reports
//!   what the broker must decide through [`Event`]s.
//! - [`SessionState`]: what survives a reconnection (in-flight QoS 1/2 messages, incoming QoS 2
//!   identifiers awaiting PUBREL); taken out of a closed connection and put into the next one.
//! - Errors: [`DecodeError`] and [`ProtocolViolation`] when the peer misbehaved (each maps to the
//!   reason code the specification requires via `reason_code()`), [`EncodeError`] and
//!   [`UsageError`] for local misuse, and [`Error`] combining them.
//!
//! # Data flow
//!
//! ```text
//!            socket bytes                               socket bytes
//!                 |                                          ^
//!   handle_bytes(now, &[u8])                     poll_transmit(&mut BytesMut)
//!                 v                                          |
//!        +-----------------------------------------------------------+
//!        |                    ServerConnection                       |
//!        |  decode -> validate -> QoS / alias / flow state -> encode  |
//!        +-----------------------------------------------------------+
//!         |  poll_event() -> Event        ^ accept_connect, publish, ack_incoming,
//!         v  poll_timeout() -> deadline   | suback, unsuback, disconnect, handle_timeout(now)
//!                         broker (routing, sessions, storage)
//! ```
//!
//! # Feature flags
//!
//! - `std` (default): implements `std::error::Error` for the error types. Without it the crate
//!   is `no_std` and needs only `alloc`; `nostd-check/` next to this crate proves that
//!   (`cargo check` there fails if std creeps into the dependency graph).
//!
//! # Limits of the current version
//!
//! - MQTT 5.0 enhanced authentication during CONNECT (AUTH before CONNACK) is not supported:
//!   bytes after CONNECT are held until the broker decides, so a broker should reject a CONNECT
//!   carrying an Authentication Method with `BadAuthenticationMethod`. Re-authentication after
//!   CONNACK is reported as [`Event::Auth`].
//! - Outgoing topic aliases are assigned first come, first served and never replaced.
//! - Will delay, session expiry and retained messages are the broker's business: the connection
//!   reports them (in [`Connect`] and [`Event::Disconnected`]) but does not act on them.
//!
//! # Testing
//!
//! Unit tests sit beside each packet with byte vectors from the specifications; `proptest`
//! round-trips every packet type on both versions; `connection/tests` drives a
//! [`ServerConnection`] through an in-memory client with explicit time, running each scenario
//! on 3.1.1 and 5.0. `fuzz/` holds cargo-fuzz targets (`cargo +nightly fuzz run decode`) whose
//! bodies also run on random inputs in the ordinary tests.
//!
//! # Example: decoding a packet
//!
//! ```
//! use bytes::BytesMut;
//! use strata_proto_mqtt::{packet, Packet, ProtocolVersion};
//!
//! let mut buf = BytesMut::from(&[0xC0u8, 0x00][..]);
//! let p = packet::decode(&mut buf, ProtocolVersion::V5, 1024).unwrap();
//! assert!(matches!(p, Some(Packet::PingReq(_))));
//! ```
#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod connection;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod packet;
pub mod properties;
pub mod reason;
pub mod topic;
mod types;
mod wire;

pub use connection::{
    AcceptOptions, DisconnectReason, Event, InflightMessage, OutgoingState, PendingMessage,
    ProtocolViolation, PublishError, PublishOutcome, ServerConfig, ServerConnection, SessionState,
    UsageError,
};
pub use error::{DecodeError, EncodeError, Error};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, PingReq, PingResp, PubAck, PubComp,
    PubRec, PubRel, Publish, RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions,
    UnsubAck, Unsubscribe, Will,
};
pub use properties::{PacketProperties, Properties, PropertyId};
pub use reason::ReasonCode;
pub use types::{PacketId, ProtocolVersion, QoS};
