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

/// How long an RPC long-poll waits.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct PollQuery {
    /// Most time to wait for a call, ms (default 20000; capped below the HTTP request
    /// timeout).
    timeout: Option<u64>,
}

/// A call for the device.
#[derive(Debug, Serialize, ToSchema)]
pub struct RpcRequestOut {
    /// Request id; answer with `POST /api/v1/{token}/rpc/{id}`.
    pub id: i64,
    /// Method name.
    pub method: String,
    /// Parameters.
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
}

/// Waits for the device's next RPC call (long-poll, ThingsBoard-compatible): 200 with the
/// call, or 204 when none came in time (poll again).
#[utoipa::path(get, path = "/api/v1/{token}/rpc", tag = "device-api",
    params(("token" = String, Path, description = "Device access token"), PollQuery),
    responses((status = 200, body = RpcRequestOut), (status = 204, description = "No call"),
        (status = 401, body = ErrorBody)))]
pub(crate) async fn rpc_poll(
    State(state): State<AppState>,
    ApiPath(token): ApiPath<String>,
    crate::extract::ApiQuery(q): crate::extract::ApiQuery<PollQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let device = state.platform.authenticate_device(&token).await?;
    let limit = state
        .platform
        .config()
        .http
        .request_timeout
        .saturating_sub(std::time::Duration::from_secs(1))
        .max(std::time::Duration::from_millis(1));
    let wait = std::time::Duration::from_millis(q.timeout.unwrap_or(20_000)).min(limit);
    match state.platform.poll_rpc(&device, wait).await? {
        Some(strata_platform::downlink::Downlink::RpcRequest { id, method, params }) => {
            Ok(Json(RpcRequestOut { id, method, params }).into_response())
        }
        _ => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Answers an RPC call (any JSON body).
#[utoipa::path(post, path = "/api/v1/{token}/rpc/{id}", tag = "device-api",
    params(("token" = String, Path), ("id" = i64, Path)),
    request_body(content = Object, description = "The answer, any JSON"),
    responses((status = 200), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Already answered, expired or one-way", body = ErrorBody)))]
pub(crate) async fn rpc_answer(
    State(state): State<AppState>,
    ApiPath((token, id)): ApiPath<(String, i64)>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    let device = state.platform.authenticate_device(&token).await?;
    let bytes = body_bytes(req, &state).await?;
    let answer: serde_json::Value = parse_json(&bytes)?;
    state.platform.rpc_response(&device, id, answer).await?;
    Ok(StatusCode::OK)
}

/// Reads one of the device's shadows.
#[utoipa::path(get, path = "/api/v1/{token}/shadows/{name}", tag = "device-api",
    params(("token" = String, Path), ("name" = String, Path, description = "`default` or a name")),
    responses((status = 200, body = crate::routes::shadows::ShadowDoc),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn shadow_get(
    State(state): State<AppState>,
    ApiPath((token, name)): ApiPath<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let device = state.platform.authenticate_device(&token).await?;
    state.platform.device_seen(&device);
    Ok(Json(
        state
            .platform
            .device_shadow(&device, &name)
            .await?
            .to_json(),
    ))
}

/// Updates one of the device's shadows (usually its `reported` state).
#[utoipa::path(patch, path = "/api/v1/{token}/shadows/{name}", tag = "device-api",
    params(("token" = String, Path), ("name" = String, Path)),
    request_body = crate::routes::shadows::ShadowPatch,
    responses((status = 200, body = crate::routes::shadows::ShadowDoc),
        (status = 401, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn shadow_update(
    State(state): State<AppState>,
    ApiPath((token, name)): ApiPath<(String, String)>,
    req: Request,
) -> Result<Json<serde_json::Value>, ApiError> {
    let device = state.platform.authenticate_device(&token).await?;
    state.platform.device_seen(&device);
    let bytes = body_bytes(req, &state).await?;
    let body: serde_json::Value = parse_json(&bytes)?;
    let update = strata_platform::shadow::ShadowUpdate::parse(body)?;
    let shadow = state
        .platform
        .apply_shadow_update(&device, &name, &update)
        .await?;
    Ok(Json(shadow.to_json()))
}
