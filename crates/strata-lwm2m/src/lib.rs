//! The OMA LwM2M server of Strata (LwM2M 1.1; 1.0 and 1.2 clients accepted), built on the
//! sans-IO CoAP engine and the LwM2M data model of `strata-proto-coap`.
//!
//! The CoAP listener of `strata serve` owns the socket: it hands `/rd` and `/bs` requests to
//! [`Lwm2mServer::handle_rd`] and [`Lwm2mServer::handle_bootstrap`], carries the server's
//! requests to clients through the [`Transport`] trait and passes notifications back to
//! [`Lwm2mServer::notification`].
//!
//! - [`model`]: object definitions loaded from OMA DDF XML files, with the core objects
//!   (0, 1, 3, 4, 5) and common IPSO objects built in.
//! - [`registration`]: the registration interface's requests, checked and parsed.
//! - [`registry`]: registrations by ID and endpoint, lifetimes, queue mode.
//! - [`Lwm2mServer`]: registration handling, device management and information reporting
//!   (operations), bootstrap, firmware update (`firmware`).

mod bootstrap;
pub mod error;
pub mod firmware;
pub mod model;
mod operations;
pub mod registration;
pub mod registry;
mod server;
pub mod transport;

pub use error::Lwm2mError;
pub use operations::WriteMode;
pub use server::{ClientInfo, Lwm2mConfig, Lwm2mServer, RdReply, value_json};
pub use transport::{InResponse, OutRequest, Transport, TransportError};
