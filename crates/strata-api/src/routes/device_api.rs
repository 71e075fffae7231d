//! The HTTP device API: what devices call, authenticated by their access token.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::Serialize;
use strata_store::DeviceIdentity;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, bearer, body_bytes, parse_json};

/// Ingest answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Points stored (on disk when this answer is sent).
    pub accepted: usize,
}

/// The telemetry payload: an object of key/values, `{"ts": ms, "values": {...}}`, or an array
/// of either. Values are numbers, booleans, strings or JSON.
#[derive(ToSchema)]
#[schema(value_type = Object, example = json!([{"temp": 21.5, "on": true},
    {"ts": 1700000000000i64, "values": {"temp": 21.7}}]))]
#[allow(dead_code)]
pub struct TelemetryPayload(serde_json::Value);

async fn ingest(
    state: &AppState,
    device: DeviceIdentity,
    req: Request,
) -> Result<Json<Accepted>, ApiError> {
    let bytes = body_bytes(req, state).await?;
    let payload: serde_json::Value = parse_json(&bytes)?;
    let accepted = state.platform.ingest_json(&device, payload, "http").await?;
    Ok(Json(Accepted { accepted }))
}

/// Uploads telemetry with the access token in the path (ThingsBoard-compatible).
#[utoipa::path(post, path = "/api/v1/{token}/telemetry", tag = "device-api",
    params(("token" = String, Path, description = "Device access token")),
    request_body = TelemetryPayload,
    responses((status = 200, body = Accepted),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "Unknown or revoked token", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 422, description = "Wrong shape, type or timestamp", body = ErrorBody)))]
pub(crate) async fn telemetry_token_in_path(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    req: Request,
) -> Result<Json<Accepted>, ApiError> {
    let device = state.platform.authenticate_device(&token).await?;
    ingest(&state, device, req).await
}

/// Uploads telemetry with the access token as `Authorization: Bearer <token>`.
#[utoipa::path(post, path = "/api/v1/telemetry", tag = "device-api",
    security(("device_token" = [])), request_body = TelemetryPayload,
    responses((status = 200, body = Accepted), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn telemetry_bearer(
    State(state): State<AppState>,
    req: Request,
) -> Result<Json<Accepted>, ApiError> {
    let (parts, body) = req.into_parts();
    let device = device_from_header(&state, &parts).await?;
    ingest(&state, device, Request::from_parts(parts, body)).await
}

async fn device_from_header(state: &AppState, parts: &Parts) -> Result<DeviceIdentity, ApiError> {
    let token = bearer(parts).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing `Authorization: Bearer <device access token>` header",
        )
    })?;
    Ok(state.platform.authenticate_device(token).await?)
}
