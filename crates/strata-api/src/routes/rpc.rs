//! RPC to devices over the management API.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strata_store::RpcCall;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, Auth, JsonBody};

/// A call to make.
#[derive(Debug, Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct RpcInvoke {
    /// Method name (1 to 128 bytes).
    #[schema(example = "setGpio")]
    method: String,
    /// Parameters, any JSON.
    #[schema(value_type = Object, example = json!({"pin": 4, "value": 1}))]
    params: Option<Value>,
    /// No answer expected (default false).
    oneway: Option<bool>,
    /// Keep the call for an offline device until it expires (default false).
    persistent: Option<bool>,
    /// How long a plain two-way call waits for the answer, ms (default 10000, at most 300000).
    timeout_ms: Option<u64>,
    /// How long a persistent call is kept, ms (default one day, at most 30 days).
    expiry_ms: Option<u64>,
}

/// A call and its outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct RpcOut {
    /// Identifier (the device sees it as the request id).
    pub id: i64,
    /// Method name.
    pub method: String,
    /// Parameters.
    #[schema(value_type = Object)]
    pub params: Value,
    /// No answer expected.
    pub oneway: bool,
    /// Kept for an offline device.
    pub persistent: bool,
    /// `queued`, `sent`, `successful`, `failed`, `timeout` or `expired`.
    #[schema(example = "successful")]
    pub status: String,
    /// The device's answer.
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Last status change, ms.
    pub updated_at: i64,
}

impl From<RpcCall> for RpcOut {
    fn from(c: RpcCall) -> Self {
        Self {
            id: c.id,
            method: c.method,
            params: serde_json::from_str(&c.params_json).unwrap_or(Value::Null),
            oneway: c.oneway,
            persistent: c.persistent,
            status: c.status.as_str().to_string(),
            response: c
                .response_json
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok()),
            error: c.error,
            created_at: c.created_at,
            expires_at: c.expires_at,
            updated_at: c.updated_at,
        }
    }
}

/// Calls a device. A plain two-way call answers once the device has answered (504 when it
/// does not in time, 409 `device_unreachable` when it is not connected); one-way and
/// persistent calls answer at once with their status.
#[utoipa::path(post, path = "/api/devices/{id}/rpc", tag = "rpc", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = RpcInvoke,
    responses((status = 200, body = RpcOut), (status = 404, body = ErrorBody),
        (status = 409, description = "Device not reachable", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 504, description = "No answer in time", body = ErrorBody)))]
pub(crate) async fn invoke(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<RpcOut>, ApiError> {
    Ok(Json(state.platform.invoke_rpc(&me, id, body).await?.into()))
}

/// Paging of the call list.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RpcListQuery {
    /// Most calls (1 to 1000, default 100), newest first.
    limit: Option<u32>,
}

/// A device's latest calls, newest first.
#[utoipa::path(get, path = "/api/devices/{id}/rpc", tag = "rpc", security(("bearer" = [])),
    params(("id" = Uuid, Path), RpcListQuery),
    responses((status = 200, body = [RpcOut]), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<RpcListQuery>,
) -> Result<Json<Vec<RpcOut>>, ApiError> {
    let calls = state
        .platform
        .rpc_calls(&me, id, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(calls.into_iter().map(RpcOut::from).collect()))
}

/// One call and its outcome.
#[utoipa::path(get, path = "/api/devices/{id}/rpc/{rpc_id}", tag = "rpc",
    security(("bearer" = [])), params(("id" = Uuid, Path), ("rpc_id" = i64, Path)),
    responses((status = 200, body = RpcOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((id, rpc_id)): ApiPath<(Uuid, i64)>,
) -> Result<Json<RpcOut>, ApiError> {
    Ok(Json(state.platform.rpc_call(&me, id, rpc_id).await?.into()))
}
