//! Route handlers and their request/response types, one module per resource.

pub mod alarms;
pub mod auth;
pub mod dashboards;
pub mod device_api;
pub mod devices;
pub mod events;
pub mod live;
pub mod lwm2m;
pub mod mqtt_acl;
pub mod rpc;
pub mod rules;
pub mod shadows;
pub mod system;
pub mod telemetry;
pub mod users;
