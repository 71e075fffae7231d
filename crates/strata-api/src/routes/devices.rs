//! The device registry and device credentials.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use strata_platform::PlatformError;
use strata_platform::registry::DeviceSpec;
use strata_store::{Credential, Device, DeviceFilter, DevicePatch};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, Auth, JsonBody};

/// A device.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceOut {
    /// Identifier.
    pub id: Uuid,
    /// Name, unique in the tenant.
    #[schema(example = "boiler-7")]
    pub name: String,
    /// Free-form type.
    #[serde(rename = "type")]
    #[schema(example = "thermostat")]
    pub device_type: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Free-form JSON object.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
    /// Online/offline and when it was last heard from (in reads of existing devices).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectivity: Option<ConnectivityOut>,
}

/// Whether a device is online, and when it was last heard from.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectivityOut {
    /// Connected now (MQTT), or seen within the inactivity timeout (10 minutes) over
    /// HTTP after its last disconnect.
    pub online: bool,
    /// Open MQTT sessions.
    pub connections: u32,
    /// Last message or connection, ms.
    pub last_seen_at: Option<i64>,
    /// Last connection opened, ms.
    pub last_connected_at: Option<i64>,
    /// Last connection closed, ms.
    pub last_disconnected_at: Option<i64>,
}

impl From<strata_platform::connectivity::DeviceStatus> for ConnectivityOut {
    fn from(s: strata_platform::connectivity::DeviceStatus) -> Self {
        Self {
            online: s.online,
            connections: s.connections,
            last_seen_at: s.activity.last_seen_at,
            last_connected_at: s.activity.last_connected_at,
            last_disconnected_at: s.activity.last_disconnected_at,
        }
    }
}

impl From<Device> for DeviceOut {
    fn from(d: Device) -> Self {
        Self {
            id: d.id,
            name: d.name,
            device_type: d.device_type,
            labels: d.labels,
            metadata: d.metadata,
            created_at: d.created_at,
            updated_at: d.updated_at,
            connectivity: None,
        }
    }
}

/// A device with its connectivity.
fn with_status(state: &AppState, device: Device) -> DeviceOut {
    let status = state.platform.device_status(device.key);
    let mut out = DeviceOut::from(device);
    out.connectivity = Some(status.into());
    out
}

/// A new device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceCreate {
    /// Name, unique in the tenant (1 to 128 characters).
    #[schema(example = "boiler-7")]
    pub name: String,
    /// Free-form type; `default` when left out.
    #[serde(rename = "type")]
    pub device_type: Option<String>,
    /// Labels (at most 32).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Free-form JSON object (at most 16 KiB).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// Fields to change; the others stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceUpdate {
    /// New name.
    pub name: Option<String>,
    /// New type.
    #[serde(rename = "type")]
    pub device_type: Option<String>,
    /// New labels (replace the old ones).
    pub labels: Option<Vec<String>>,
    /// New metadata (replaces the old one).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

/// A device credential (secrets are never listed).
#[derive(Debug, Serialize, ToSchema)]
pub struct CredentialOut {
    /// Identifier.
    pub id: Uuid,
    /// `access_token`, `x509_fingerprint` or `psk`.
    #[schema(example = "access_token")]
    pub kind: String,
    /// A non-secret hint, e.g. the first characters of a token.
    pub hint: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Revocation time, ms.
    pub revoked_at: Option<i64>,
}

impl From<Credential> for CredentialOut {
    fn from(c: Credential) -> Self {
        Self {
            id: c.id,
            kind: c.kind.as_str().into(),
            hint: c.hint,
            created_at: c.created_at,
            revoked_at: c.revoked_at,
        }
    }
}

/// A newly generated access token, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessTokenIssued {
    /// The token: devices send it in the URL (`/api/v1/{token}/telemetry`), as a bearer
    /// token, or as MQTT username. Only its hash is stored.
    #[schema(example = "A1b2C3d4E5f6G7h8I9j0")]
    pub access_token: String,
    /// Its record.
    pub credential: CredentialOut,
}

/// A created device with its first access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceCreated {
    /// The device.
    #[serde(flatten)]
    pub device: DeviceOut,
    /// Its access token, shown this once.
    pub credentials: AccessTokenIssued,
}

/// A page of devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct DevicePage {
    /// Devices, sorted by name.
    pub items: Vec<DeviceOut>,
    /// Devices matching the filter in all.
    pub total: u64,
    /// Offset of this page.
    pub offset: u64,
    /// Page size.
    pub limit: u32,
}

/// Device list filters and paging.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeviceListQuery {
    /// Only devices with this label.
    pub label: Option<String>,
    /// Only devices whose name contains this text (case-insensitive).
    pub search: Option<String>,
    /// Only devices of this type.
    #[serde(rename = "type")]
    pub device_type: Option<String>,
    /// `online` or `offline`: only devices connected (or heard from within the inactivity
    /// timeout) now, or only the others.
    #[param(value_type = Option<String>)]
    pub status: Option<StatusFilter>,
    /// Devices to skip (default 0).
    pub offset: Option<u64>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

/// Connectivity filter of the device list.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusFilter {
    /// Connected or recently heard from.
    Online,
    /// The others.
    Offline,
}

/// Registers a device and generates its access token.
#[utoipa::path(post, path = "/api/devices", tag = "devices", security(("bearer" = [])),
    request_body = DeviceCreate,
    responses((status = 201, body = DeviceCreated), (status = 401, body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create_device(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(req): JsonBody<DeviceCreate>,
) -> Result<(StatusCode, Json<DeviceCreated>), ApiError> {
    let created = state
        .platform
        .create_device(
            &me,
            DeviceSpec {
                name: req.name,
                device_type: req.device_type,
                labels: req.labels,
                metadata: req.metadata,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceCreated {
            device: created.device.into(),
            credentials: AccessTokenIssued {
                access_token: created.access_token,
                credential: created.credential.into(),
            },
        }),
    ))
}

/// Lists devices, with paging, label filter and name search.
#[utoipa::path(get, path = "/api/devices", tag = "devices", security(("bearer" = [])),
    params(DeviceListQuery),
    responses((status = 200, body = DevicePage), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub(crate) async fn list_devices(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiQuery(q): ApiQuery<DeviceListQuery>,
) -> Result<Json<DevicePage>, ApiError> {
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(100);
    let filter = DeviceFilter {
        label: q.label,
        name_contains: q.search.filter(|s| !s.is_empty()),
        device_type: q.device_type,
        keys: None,
    };
    let online = q.status.map(|s| matches!(s, StatusFilter::Online));
    let page = state
        .platform
        .list_devices_by_status(&me, &filter, online, offset, limit)
        .await?;
    Ok(Json(DevicePage {
        items: page
            .items
            .into_iter()
            .map(|d| with_status(&state, d))
            .collect(),
        total: page.total,
        offset,
        limit,
    }))
}

/// Gets one device.
#[utoipa::path(get, path = "/api/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = DeviceOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_device(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<DeviceOut>, ApiError> {
    let device = state.platform.device(&me, id).await?;
    Ok(Json(with_status(&state, device)))
}

/// Changes some fields of a device.
#[utoipa::path(patch, path = "/api/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = DeviceUpdate,
    responses((status = 200, body = DeviceOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update_device(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    JsonBody(req): JsonBody<DeviceUpdate>,
) -> Result<Json<DeviceOut>, ApiError> {
    let patch = DevicePatch {
        name: req.name,
        device_type: req.device_type,
        labels: req.labels,
        metadata: req.metadata,
    };
    Ok(Json(
        state.platform.update_device(&me, id, patch).await?.into(),
    ))
}

/// Deletes a device with its credentials and telemetry, and ends its MQTT sessions.
#[utoipa::path(delete, path = "/api/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete_device(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.platform.delete_device(&me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists a device's credentials (without secrets).
#[utoipa::path(get, path = "/api/devices/{id}/credentials", tag = "devices",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = [CredentialOut]), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_credentials(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<CredentialOut>>, ApiError> {
    let creds = state.platform.list_credentials(&me, id).await?;
    Ok(Json(creds.into_iter().map(CredentialOut::from).collect()))
}

/// Generates a new access token, revoking the previous one (rotation).
#[utoipa::path(post, path = "/api/devices/{id}/credentials/access-token", tag = "devices",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 201, body = AccessTokenIssued), (status = 404, body = ErrorBody)))]
pub(crate) async fn rotate_access_token(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<AccessTokenIssued>), ApiError> {
    let (token, credential) = state.platform.issue_access_token(&me, id).await?;
    Ok((
        StatusCode::CREATED,
        Json(AccessTokenIssued {
            access_token: token,
            credential: credential.into(),
        }),
    ))
}

/// An X.509 client certificate to register: the certificate itself or its fingerprint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct X509Register {
    /// The certificate in PEM (`-----BEGIN CERTIFICATE-----` ...); only its SHA-256
    /// fingerprint is kept.
    pub certificate_pem: Option<String>,
    /// Or the SHA-256 fingerprint: 64 hex digits, `:` separators allowed.
    #[schema(example = "3f:a1:...")]
    pub fingerprint_sha256: Option<String>,
}

/// A DTLS pre-shared key for a device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PskRegister {
    /// The PSK identity the device sends in its DTLS handshake.
    #[schema(example = "sensor-17")]
    pub identity: String,
    /// The key in hex (16 to 64 bytes); omit it to have a random 16-byte key made.
    pub key_hex: Option<String>,
}

/// A PSK credential with its key (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct PskCreated {
    /// The credential.
    pub credential: CredentialOut,
    /// The key in hex: configure it on the device; it is not shown again.
    pub key_hex: String,
}

/// Adds a DTLS pre-shared key: a device completing a DTLS-PSK handshake on the CoAP DTLS
/// listener with this identity is authenticated as this device.
#[utoipa::path(post, path = "/api/devices/{id}/credentials/psk", tag = "devices",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = PskRegister,
    responses((status = 201, body = PskCreated), (status = 404, body = ErrorBody),
        (status = 409, description = "Identity registered to a device already", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn add_psk(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    JsonBody(req): JsonBody<PskRegister>,
) -> Result<(StatusCode, Json<PskCreated>), ApiError> {
    let key = match req.key_hex {
        Some(h) => Some(hex::decode(h.trim()).map_err(|_| {
            PlatformError::invalid("`key_hex` must be hex digits, e.g. 000102...0f")
        })?),
        None => None,
    };
    let (credential, key) = state.platform.add_psk(&me, id, &req.identity, key).await?;
    Ok((
        StatusCode::CREATED,
        Json(PskCreated {
            credential: credential.into(),
            key_hex: hex::encode(key),
        }),
    ))
}

/// An LwM2M endpoint name to register as a device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lwm2mEndpointRegister {
    /// The client's endpoint name (the `ep` of its registration).
    #[schema(example = "urn:dev:ops:004815-Sensor-1234")]
    pub endpoint: String,
}

/// Lets an LwM2M client with this endpoint name register as the device (NoSec mode).
#[utoipa::path(post, path = "/api/devices/{id}/credentials/lwm2m", tag = "devices",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = Lwm2mEndpointRegister,
    responses((status = 201, body = CredentialOut), (status = 404, body = ErrorBody),
        (status = 409, description = "Registered to a device already", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn add_lwm2m_endpoint(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    JsonBody(req): JsonBody<Lwm2mEndpointRegister>,
) -> Result<(StatusCode, Json<CredentialOut>), ApiError> {
    let credential = state
        .platform
        .add_lwm2m_endpoint(&me, id, &req.endpoint)
        .await?;
    Ok((StatusCode::CREATED, Json(credential.into())))
}

/// Registers an X.509 client certificate as a device credential: a device presenting it on
/// the MQTT TLS listener is authenticated as this device.
#[utoipa::path(post, path = "/api/devices/{id}/credentials/x509", tag = "devices",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = X509Register,
    responses((status = 201, body = CredentialOut), (status = 404, body = ErrorBody),
        (status = 409, description = "Registered to a device already", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn add_x509(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    JsonBody(req): JsonBody<X509Register>,
) -> Result<(StatusCode, Json<CredentialOut>), ApiError> {
    let fingerprint = match (req.certificate_pem, req.fingerprint_sha256) {
        (Some(pem), None) => strata_platform::registry::x509_fingerprint_from_pem(&pem)
            .ok_or_else(|| {
                PlatformError::invalid(
                    "`certificate_pem` holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                )
            })?,
        (None, Some(fingerprint)) => fingerprint,
        _ => {
            return Err(PlatformError::invalid(
                "give exactly one of `certificate_pem` and `fingerprint_sha256`",
            )
            .into());
        }
    };
    let credential = state
        .platform
        .add_x509_fingerprint(&me, id, &fingerprint)
        .await?;
    Ok((StatusCode::CREATED, Json(credential.into())))
}

/// Revokes one credential; the device can no longer use it.
#[utoipa::path(delete, path = "/api/devices/{id}/credentials/{credential_id}", tag = "devices",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("credential_id" = Uuid, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_credential(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((id, credential_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    state
        .platform
        .revoke_credential(&me, id, credential_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A client attribute.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributeOut {
    /// Name.
    pub key: String,
    /// Value (any JSON).
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
    /// When it was last set, ms.
    pub updated_at: i64,
}

/// A device's client attributes (what it reported about itself over
/// `v1/devices/me/attributes`).
#[utoipa::path(get, path = "/api/devices/{id}/attributes", tag = "devices",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = [AttributeOut]), (status = 404, body = ErrorBody)))]
pub(crate) async fn attributes(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<AttributeOut>>, ApiError> {
    let values = state.platform.client_attributes(&me, id).await?;
    Ok(Json(
        values
            .into_iter()
            .map(|a| AttributeOut {
                key: a.key,
                value: a.value,
                updated_at: a.updated_at,
            })
            .collect(),
    ))
}
