//! Errors of device-management operations, with what the caller should do about them.

use strata_proto_coap::Code;
use strata_proto_coap::lwm2m::ContentError;

use crate::transport::TransportError;

/// Why an operation on a client failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Lwm2mError {
    /// No client is registered under this endpoint name.
    #[error("no LwM2M client is registered as {0:?}")]
    NotRegistered(String),
    /// A queue-mode client did not wake up in time; the operation was not sent.
    #[error("the client is in queue mode and did not wake up within {0} s; retry later")]
    Asleep(u64),
    /// The client answered with an error code.
    #[error("the client answered {code}{}", if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    Client {
        /// The CoAP response code.
        code: Code,
        /// The client's diagnostic payload, if any.
        message: String,
    },
    /// No answer (timeout or reset).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The payload could not be encoded or the answer decoded.
    #[error("{0}")]
    Content(#[from] ContentError),
    /// The request makes no sense (path depth, unknown object, missing values).
    #[error("{0}")]
    Invalid(String),
}
