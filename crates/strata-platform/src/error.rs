use strata_store::StoreError;

/// A stable, machine-readable error code; front ends map it to their wire (HTTP status,
/// MQTT reason code, CoAP response code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request body is not valid JSON.
    InvalidJson,
    /// The JSON is well-formed but does not have the expected shape or values.
    InvalidPayload,
    /// A query parameter or path segment is invalid.
    InvalidParameter,
    /// No credentials, or credentials that are unknown, revoked or expired.
    Unauthorized,
    /// Valid credentials without the permission needed.
    Forbidden,
    /// The thing asked for does not exist (in the caller's tenant).
    NotFound,
    /// The request conflicts with existing state (e.g. a duplicate name).
    Conflict,
    /// The body is larger than allowed.
    PayloadTooLarge,
    /// Storage is unavailable; retry later.
    Unavailable,
    /// The device is not connected and the request cannot wait for it.
    DeviceUnreachable,
    /// The device did not answer in time.
    Timeout,
    /// A bug or an unexpected failure inside Strata.
    Internal,
}

impl ErrorCode {
    /// The snake_case name used in error bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidPayload => "invalid_payload",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::DeviceUnreachable => "device_unreachable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Internal => "internal",
        }
    }
}

/// An error from a platform service: a code and a message meant for the caller.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct PlatformError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// What went wrong and, where possible, what to do about it.
    pub message: String,
}

impl PlatformError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The request payload is wrong.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidPayload, message)
    }

    /// A parameter is wrong.
    pub fn parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    /// Something does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// Authentication failed.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthorized, message)
    }

    /// Not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
}

impl From<StoreError> for PlatformError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(message) => PlatformError::new(ErrorCode::Conflict, message),
            StoreError::WriterGone => PlatformError::new(
                ErrorCode::Unavailable,
                "storage is shutting down or has failed; retry later",
            ),
            other => {
                tracing::error!(error = %other, "storage error");
                PlatformError::new(ErrorCode::Internal, "internal storage error")
            }
        }
    }
}
