//! Route handlers and their request/response types, one module per resource.

pub mod auth;
pub mod device_api;
pub mod devices;
pub mod mqtt_acl;
pub mod rpc;
pub mod shadows;
pub mod system;
pub mod telemetry;
