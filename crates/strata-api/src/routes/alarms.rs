//! Alarms.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strata_platform::alarms::{AlarmQuery, AlarmStep};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, Auth, JsonBody};

/// An alarm.
#[derive(ToSchema)]
#[schema(value_type = Object, example = json!({
    "id": "0b8f5c1e-4a43-4b8e-9a1c-2f7d8e9a1b2c", "device_id": "5710fdf4-e2f6-494a-92fc-47bcedf0adda",
    "device_name": "boiler-7", "type": "Overheat", "severity": "critical", "status": "active",
    "acknowledged": false, "cleared": false, "details": {"temp": 93.5}, "repeats": 3,
    "created_at": 1700000000000i64, "updated_at": 1700000030000i64,
    "acknowledged_at": null, "cleared_at": null}))]
#[allow(dead_code)]
pub struct AlarmOut(Value);

/// Which alarms.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AlarmListQuery {
    /// Only this device's.
    device_id: Option<Uuid>,
    /// `active`, `acknowledged`, `open` (either) or `cleared`.
    status: Option<String>,
    /// `critical`, `major`, `minor`, `warning` or `indeterminate`.
    severity: Option<String>,
    /// Only this type.
    #[serde(rename = "type")]
    alarm_type: Option<String>,
    /// Most alarms (1 to 1000, default 100), newest first.
    limit: Option<u32>,
}

/// Lists alarms, newest first.
#[utoipa::path(get, path = "/api/alarms", tag = "alarms", security(("bearer" = [])),
    params(AlarmListQuery),
    responses((status = 200, body = [AlarmOut]), (status = 400, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiQuery(q): ApiQuery<AlarmListQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let alarms = state
        .platform
        .alarms(
            &me,
            AlarmQuery {
                device_id: q.device_id,
                status: q.status,
                severity: q.severity,
                alarm_type: q.alarm_type,
                limit: q.limit.unwrap_or(100),
            },
        )
        .await?;
    Ok(Json(
        alarms
            .iter()
            .map(|a| serde_json::to_value(a).unwrap_or(Value::Null))
            .collect(),
    ))
}

/// An alarm raised by hand (or by another system).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlarmCreate {
    /// The device.
    pub device_id: Uuid,
    /// Type.
    #[serde(rename = "type")]
    #[schema(example = "DoorOpen")]
    pub alarm_type: String,
    /// Severity.
    #[schema(example = "major")]
    pub severity: String,
    /// Details.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub details: Value,
}

/// Raises an alarm (or updates the open one of that type on the device).
#[utoipa::path(post, path = "/api/alarms", tag = "alarms", security(("bearer" = [])),
    request_body = AlarmCreate,
    responses((status = 200, body = AlarmOut), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(body): JsonBody<AlarmCreate>,
) -> Result<Json<Value>, ApiError> {
    let alarm = state
        .platform
        .create_alarm(
            &me,
            body.device_id,
            &body.alarm_type,
            &body.severity,
            body.details,
        )
        .await?;
    Ok(Json(serde_json::to_value(alarm).unwrap_or(Value::Null)))
}

/// An alarm with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmDetail {
    /// The alarm.
    #[schema(value_type = Object)]
    pub alarm: Value,
    /// Its history, oldest first: `{"at", "event", "details"}`.
    #[schema(value_type = Vec<Object>)]
    pub history: Vec<Value>,
}

fn step_json(step: &AlarmStep) -> Value {
    serde_json::to_value(step).unwrap_or(Value::Null)
}

/// One alarm and its history.
#[utoipa::path(get, path = "/api/alarms/{id}", tag = "alarms", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AlarmDetail), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AlarmDetail>, ApiError> {
    let (alarm, history) = state.platform.alarm(&me, id).await?;
    Ok(Json(AlarmDetail {
        alarm: serde_json::to_value(alarm).unwrap_or(Value::Null),
        history: history.iter().map(step_json).collect(),
    }))
}

/// Acknowledges an alarm.
#[utoipa::path(post, path = "/api/alarms/{id}/ack", tag = "alarms", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AlarmOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Value>, ApiError> {
    let alarm = state.platform.update_alarm(&me, id, false).await?;
    Ok(Json(serde_json::to_value(alarm).unwrap_or(Value::Null)))
}

/// Clears an alarm.
#[utoipa::path(post, path = "/api/alarms/{id}/clear", tag = "alarms",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = AlarmOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn clear(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let alarm = state.platform.update_alarm(&me, id, true).await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::to_value(alarm).unwrap_or(Value::Null)),
    ))
}
