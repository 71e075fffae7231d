//! The OMA LwM2M server of Strata (LwM2M 1.1; 1.0 and 1.2 clients accepted), built on the
//! sans-IO CoAP engine and the LwM2M data model of `strata-proto-coap`.
//!
//! - [`model`]: object definitions loaded from OMA DDF XML files, with the core objects
//!   (0, 1, 3, 4, 5) and common IPSO objects built in.

pub mod model;
