//! An OMA LwM2M 1.1 client (Core TS and Transport TS 1.1, UDP binding), sans-IO like the CoAP
//! [`Endpoint`](strata_proto_coap::Endpoint) it owns: datagrams and time go in, datagrams,
//! timer deadlines and [`ClientEvent`]s come out. No sockets, clocks or threads.
//!
//! ```text
//!  app --register / deregister / bootstrap / set_value / firmware_*--> Client
//!  datagram --handle_datagram(now, peer, &[u8])--> Client     handle_timeout(now) at poll_timeout()
//!  Client --poll_transmit()--> datagrams      --poll_event()--> ClientEvent
//! ```
//!
//! What it does:
//!
//! - **Registration interface**: Register (`POST /rd?ep=..&lt=..&lwm2m=1.1&b=U`), Update at
//!   half the lifetime and whenever the lifetime, binding or object list changes, re-register
//!   when an Update is refused, De-register; queue mode (`Q`) with notifications held while
//!   asleep and an Update to wake up.
//! - **Client-initiated bootstrap**: `POST /bs?ep=..`, then Bootstrap-Delete, -Write,
//!   -Discover, -Read and -Finish from the bootstrap server.
//! - **Device management and information reporting** on its objects: Read (TLV, SenML
//!   JSON/CBOR, plain text, opaque), Discover, Write (replace and partial update),
//!   Write-Attributes, Execute, Create, Delete, Observe with pmin/pmax/gt/lt/st, cancel;
//!   Block1 request bodies and Block2 responses.
//! - **Objects**: 0 Security, 1 Server, 3 Device, 5 Firmware Update (push and pull, with its
//!   state machine) and 3303 Temperature ([`objects`] holds the static definitions).
//!
//! The application owns the socket and the clock: it calls [`Client::handle_datagram`] for
//! every datagram, [`Client::handle_timeout`] when [`Client::poll_timeout`] is reached, and
//! sends what [`Client::poll_transmit`] returns. It reacts to [`ClientEvent`]s (a reboot, a
//! firmware package to download or install) and updates sensor values with
//! [`Client::set_value`], which notifies observers.
//!
//! # Limits
//!
//! - One management server at a time (the last one bootstrapped or configured), NoSec only
//!   (no DTLS or OSCORE).
//! - No composite operations (Read-Composite, Write-Composite, Observe-Composite: 4.05), no
//!   Send, no Access Control object.
//! - Notifications larger than one datagram are not split into blocks.

extern crate alloc;

mod attributes;
mod bootstrap;
mod client;
mod config;
mod discover;
mod dm;
mod download;
mod firmware;
mod notify;
pub mod objects;
mod observe;
mod registration;
mod reply;
mod setup;
mod store;
pub mod uri;
mod write;

#[cfg(test)]
mod tests;

pub use attributes::NotificationAttributes;
pub use client::Client;
pub use config::{ClientConfig, ClientError, ClientEvent, DeviceInfo};
pub use firmware::{FirmwareState, UpdateResult};
pub use strata_proto_coap::lwm2m::{Path, Value};
