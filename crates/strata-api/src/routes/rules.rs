//! Rules, and the outbox of messages they route to external sinks (with its dead letters).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use strata_platform::rules::Rule;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, ApiQuery, Auth, JsonBody};

/// A rule definition. `trigger`: telemetry, attributes, shadow, connect, disconnect,
/// inactivity (with `inactivity_ms`) or alarm. `filter` is a Rhai expression over `msg` and
/// `meta` (`device_id`, `device_name`, `device_type`, `labels`, `trigger`, `ts`); `for_ms`
/// makes it hold that long first; `transform` is a Rhai script whose value is the message
/// the actions get. Actions: `store`, `mqtt` (topic, qos, retain), `webhook` (url,
/// headers), `amqp` (url, exchange, routing_key), `email` (to, subject), `create_alarm`
/// (alarm_type, severity), `clear_alarm` (alarm_type), `rpc` (method, params, expiry_ms).
/// Topics, routing keys and subjects may use `{device_name}`, `{device_id}`,
/// `{device_type}`, `{trigger}`, `{rule}`.
#[derive(ToSchema)]
#[schema(value_type = Object, example = json!({
    "name": "boiler-overheat",
    "trigger": "telemetry",
    "filter": "\"temp\" in msg && msg.temp > 90",
    "for_ms": 30000,
    "transform": "#{temp: msg.temp, limit: 90}",
    "actions": [
        {"type": "create_alarm", "alarm_type": "Overheat", "severity": "critical"},
        {"type": "webhook", "url": "https://ops.example.com/hooks/strata",
         "headers": {"authorization": "Bearer ..."}},
        {"type": "amqp", "url": "amqp://guest:guest@127.0.0.1:5672/%2f",
         "exchange": "", "routing_key": "alerts"},
        {"type": "mqtt", "topic": "alerts/{device_name}"}
    ]}))]
#[allow(dead_code)]
pub struct RuleDefinition(Value);

/// A rule: its definition plus `id`, `created_at`, `updated_at`.
#[derive(ToSchema)]
#[schema(value_type = Object)]
#[allow(dead_code)]
pub struct RuleOut(Value);

fn rule_json(rule: &Rule) -> Value {
    serde_json::to_value(rule).unwrap_or(Value::Null)
}

/// Lists the rules.
#[utoipa::path(get, path = "/api/rules", tag = "rules", security(("bearer" = [])),
    responses((status = 200, body = [RuleOut])))]
pub(crate) async fn list(State(state): State<AppState>, Auth(me): Auth) -> Json<Vec<Value>> {
    Json(state.platform.rules(&me).iter().map(rule_json).collect())
}

/// Creates a rule (its scripts are compiled and checked first).
#[utoipa::path(post, path = "/api/rules", tag = "rules", security(("bearer" = [])),
    request_body = RuleDefinition,
    responses((status = 201, body = RuleOut), (status = 409, body = ErrorBody),
        (status = 422, description = "Invalid definition or script", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(body): JsonBody<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let rule = state.platform.create_rule(&me, body).await?;
    Ok((StatusCode::CREATED, Json(rule_json(&rule))))
}

/// One rule.
#[utoipa::path(get, path = "/api/rules/{id}", tag = "rules", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RuleOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(rule_json(&state.platform.rule(&me, id)?)))
}

/// Replaces a rule's definition.
#[utoipa::path(put, path = "/api/rules/{id}", tag = "rules", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = RuleDefinition,
    responses((status = 200, body = RuleOut), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(rule_json(
        &state.platform.update_rule(&me, id, body).await?,
    )))
}

/// Deletes a rule.
#[utoipa::path(delete, path = "/api/rules/{id}", tag = "rules", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.platform.delete_rule(&me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Messages waiting for external sinks, and given up on.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxOut {
    /// Waiting for delivery (or a retry).
    pub pending: u64,
    /// In the dead-letter store.
    pub dead: u64,
}

/// How many routed messages wait for their sinks, and how many were given up on.
#[utoipa::path(get, path = "/api/rules/outbox", tag = "rules", security(("bearer" = [])),
    responses((status = 200, body = OutboxOut)))]
pub(crate) async fn outbox(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> Result<Json<OutboxOut>, ApiError> {
    let (pending, dead) = state.platform.outbox_counts(&me).await?;
    Ok(Json(OutboxOut { pending, dead }))
}

/// A message a sink never took.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadLetterOut {
    /// Identifier (also the delivery id the sink would have seen).
    pub id: i64,
    /// The rule that routed it.
    pub rule_id: Uuid,
    /// The sink.
    #[schema(value_type = Object)]
    pub sink: Value,
    /// The message.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure.
    pub last_error: Option<String>,
    /// Routed, ms.
    pub created_at: i64,
}

/// Paging.
#[derive(Debug, Deserialize, IntoParams)]
pub struct DeadLetterQuery {
    /// Most messages (1 to 1000, default 100), oldest first.
    limit: Option<u32>,
}

/// Lists dead letters.
#[utoipa::path(get, path = "/api/rules/dead-letters", tag = "rules",
    security(("bearer" = [])), params(DeadLetterQuery),
    responses((status = 200, body = [DeadLetterOut])))]
pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiQuery(q): ApiQuery<DeadLetterQuery>,
) -> Result<Json<Vec<DeadLetterOut>>, ApiError> {
    let rows = state
        .platform
        .dead_letters(&me, q.limit.unwrap_or(100))
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| DeadLetterOut {
                id: r.id,
                rule_id: r.rule_id,
                sink: serde_json::from_str(&r.sink).unwrap_or(Value::Null),
                payload: serde_json::from_slice(&r.payload)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.payload).into())),
                attempts: r.attempts,
                last_error: r.last_error,
                created_at: r.created_at,
            })
            .collect(),
    ))
}

/// Which dead letters.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterSelection {
    /// Their ids; empty or absent for all.
    #[serde(default)]
    pub ids: Vec<i64>,
}

/// How many were affected.
#[derive(Debug, Serialize, ToSchema)]
pub struct Affected {
    /// Count.
    pub count: u64,
}

/// Puts dead letters back in the queue of their sinks (in their original order).
#[utoipa::path(post, path = "/api/rules/dead-letters/replay", tag = "rules",
    security(("bearer" = [])), request_body = DeadLetterSelection,
    responses((status = 200, body = Affected)))]
pub(crate) async fn replay(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(selection): JsonBody<DeadLetterSelection>,
) -> Result<Json<Affected>, ApiError> {
    let count = state
        .platform
        .replay_dead_letters(&me, selection.ids)
        .await?;
    Ok(Json(Affected { count }))
}

/// Deletes dead letters.
#[utoipa::path(post, path = "/api/rules/dead-letters/delete", tag = "rules",
    security(("bearer" = [])), request_body = DeadLetterSelection,
    responses((status = 200, body = Affected)))]
pub(crate) async fn purge(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(selection): JsonBody<DeadLetterSelection>,
) -> Result<Json<Affected>, ApiError> {
    let count = state
        .platform
        .delete_dead_letters(&me, selection.ids)
        .await?;
    Ok(Json(Affected { count }))
}
