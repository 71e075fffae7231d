//! The client's settings, the events it reports and the errors of its API.

use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::lwm2m::Path;
use strata_proto_coap::{Code, EncodeError, EndpointConfig};

use super::firmware::{FirmwareState, UpdateResult};
use super::uri::UriError;

/// What the Device object (3) says about the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// /3/0/0 Manufacturer.
    pub manufacturer: String,
    /// /3/0/1 Model Number.
    pub model: String,
    /// /3/0/2 Serial Number.
    pub serial: String,
    /// /3/0/3 Firmware Version.
    pub firmware_version: String,
    /// /3/0/17 Device Type.
    pub device_type: String,
    /// /3/0/18 Hardware Version.
    pub hardware_version: String,
    /// /3/0/19 Software Version.
    pub software_version: String,
}

impl Default for DeviceInfo {
    fn default() -> Self {
        DeviceInfo {
            manufacturer: "Strata".into(),
            model: "strata-edge".into(),
            serial: "0".into(),
            firmware_version: "1.0.0".into(),
            device_type: "sensor".into(),
            hardware_version: "1.0".into(),
            software_version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// Client settings. `P` is the peer address type of the socket.
#[derive(Debug, Clone)]
pub struct ClientConfig<P> {
    /// Endpoint client name (`ep`).
    pub endpoint_name: String,
    /// Registration lifetime, s (the Server object's Lifetime until a server changes it).
    pub lifetime: u32,
    /// LwM2M enabler version sent as `lwm2m` ("1.1").
    pub version: String,
    /// Binding mode (`b`, "U"; the Server object's Binding until a server changes it).
    pub binding: String,
    /// Queue mode: register with `Q`, hold notifications while asleep.
    pub queue_mode: bool,
    /// How long the client stays reachable after talking to the server in queue mode, ms
    /// (MAX_TRANSMIT_WAIT, 93 s by default).
    pub awake_ms: u64,
    /// The management server to register with.
    pub server: Option<P>,
    /// Its URI, kept in the Security object (informational; `server` is what is used).
    pub server_uri: String,
    /// Short Server ID of that server.
    pub short_server_id: u16,
    /// The bootstrap server.
    pub bootstrap_server: Option<P>,
    /// Its URI, kept in the Security object's bootstrap account.
    pub bootstrap_uri: String,
    /// Device object values.
    pub device: DeviceInfo,
    /// Temperature (3303) instances created at start.
    pub temperature_sensors: u16,
    /// Send notifications confirmable (an observer that is gone is noticed by RST or time-out).
    pub confirmable_notifications: bool,
    /// Largest request body (Block1) and firmware package accepted, bytes.
    pub max_body: usize,
    /// Delay before registering again after a registration got no answer, ms (doubling up
    /// to 16 times this).
    pub retry_ms: u64,
    /// CoAP transmission parameters.
    pub coap: EndpointConfig,
}

impl<P> ClientConfig<P> {
    /// Defaults for endpoint `endpoint_name`: lifetime 300 s, LwM2M 1.1, binding U, no
    /// queue mode, no server yet.
    pub fn new(endpoint_name: impl Into<String>) -> Self {
        ClientConfig {
            endpoint_name: endpoint_name.into(),
            lifetime: 300,
            version: "1.1".into(),
            binding: "U".into(),
            queue_mode: false,
            awake_ms: 93_000,
            server: None,
            server_uri: String::new(),
            short_server_id: 1,
            bootstrap_server: None,
            bootstrap_uri: String::new(),
            device: DeviceInfo::default(),
            temperature_sensors: 1,
            confirmable_notifications: true,
            max_body: 1024 * 1024,
            retry_ms: 30_000,
            coap: EndpointConfig::default(),
        }
    }
}

/// Something the application may want to act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// Registered; `location` is the registration's path, e.g. `rd/5a3f`.
    Registered {
        /// Location-Path segments joined by `/`.
        location: String,
    },
    /// A registration update was accepted.
    Updated,
    /// The server refused the registration (`code`), or never answered (`None`; the
    /// client tries again later).
    RegistrationFailed {
        /// Response code, `None` when the request timed out.
        code: Option<Code>,
        /// The server's diagnostic payload.
        diagnostic: String,
    },
    /// De-registered (or the de-registration went unanswered).
    Deregistered,
    /// Bootstrap finished; register with the server at `server_uri` (see
    /// [`Client::register_at`](super::Client::register_at)).
    Bootstrapped {
        /// The management server's URI (Security /0/x/0).
        server_uri: String,
    },
    /// The bootstrap request was refused or the bootstrap server never finished.
    BootstrapFailed {
        /// Response code, `None` on time-out.
        code: Option<Code>,
        /// Diagnostic.
        diagnostic: String,
    },
    /// A resource was executed (e.g. /3/0/4 Reboot).
    Executed {
        /// The resource.
        path: Path,
        /// The arguments as sent (empty when none).
        args: String,
    },
    /// A server wrote these resources.
    Written {
        /// Paths written.
        paths: Vec<Path>,
    },
    /// A server created an object instance.
    Created {
        /// The new instance.
        path: Path,
    },
    /// A server deleted an object instance.
    Deleted {
        /// The instance.
        path: Path,
    },
    /// A server started observing `path`.
    ObservationStarted {
        /// Observed path.
        path: Path,
    },
    /// An observation ended (cancelled, reset or timed out).
    ObservationCancelled {
        /// Observed path.
        path: Path,
    },
    /// A Package URI was written: download it, then call
    /// [`Client::firmware_downloaded`](super::Client::firmware_downloaded) (or let the
    /// client fetch a `coap://` URI with
    /// [`Client::fetch_firmware`](super::Client::fetch_firmware)).
    FirmwareDownloadRequested {
        /// The Package URI.
        uri: String,
    },
    /// Update was executed with a package downloaded: install it, then call
    /// [`Client::firmware_updated`](super::Client::firmware_updated).
    FirmwareUpdateRequested,
    /// The Firmware Update state or result changed.
    FirmwareStateChanged {
        /// /5/0/3.
        state: FirmwareState,
        /// /5/0/5.
        result: UpdateResult,
    },
    /// The server executed Disable (/1/x/4): the client de-registered and registers again
    /// after `seconds`.
    Disabled {
        /// Disable Timeout.
        seconds: u32,
    },
}

/// A call the client cannot carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// No server (or bootstrap server) peer configured.
    NoServer,
    /// Not registered.
    NotRegistered,
    /// A registration or bootstrap request is already in flight.
    Busy,
    /// No such object instance or resource.
    UnknownPath,
    /// The value's type is not the resource's.
    WrongType,
    /// Not possible in the current firmware update state.
    WrongState,
    /// The URI does not parse.
    InvalidUri(UriError),
    /// A message could not be encoded.
    Encode(EncodeError),
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::NoServer => f.write_str("no LwM2M server configured"),
            ClientError::NotRegistered => f.write_str("not registered"),
            ClientError::Busy => f.write_str("a registration request is already in flight"),
            ClientError::UnknownPath => f.write_str("no such object instance or resource"),
            ClientError::WrongType => f.write_str("value type does not match the resource"),
            ClientError::WrongState => f.write_str("not possible in this firmware update state"),
            ClientError::InvalidUri(e) => write!(f, "{e}"),
            ClientError::Encode(e) => write!(f, "cannot encode a CoAP message: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClientError {}

impl From<EncodeError> for ClientError {
    fn from(e: EncodeError) -> Self {
        ClientError::Encode(e)
    }
}
