//! Device shadows over the management API.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, Auth, JsonBody};

/// A shadow document. `delta` is present while `desired` differs from `reported`;
/// `metadata` mirrors the state with `{"timestamp": ms}` leaves.
#[derive(ToSchema)]
#[schema(value_type = Object, example = json!({
    "name": "default",
    "state": {"desired": {"led": "on", "rate": 5}, "reported": {"led": "off", "rate": 5},
              "delta": {"led": "on"}},
    "metadata": {"desired": {"led": {"timestamp": 1700000000000i64},
                             "rate": {"timestamp": 1700000000000i64}},
                 "reported": {"led": {"timestamp": 1699999990000i64},
                              "rate": {"timestamp": 1699999990000i64}}},
    "version": 4, "timestamp": 1700000000000i64}))]
#[allow(dead_code)]
pub struct ShadowDoc(Value);

/// A shadow update: a JSON merge patch of `desired` and/or `reported` (`null` deletes a
/// field; a section set to `null` is cleared), optionally naming the version it was made
/// against (a stale version is refused with 409).
#[derive(ToSchema)]
#[schema(value_type = Object, example = json!({
    "state": {"desired": {"led": "on", "old_setting": null}}, "version": 3}))]
#[allow(dead_code)]
pub struct ShadowPatch(Value);

/// A device's shadows (the classic one is named `default`).
#[utoipa::path(get, path = "/api/devices/{id}/shadows", tag = "shadows",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = [ShadowDoc]), (status = 404, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let shadows = state.platform.shadows(&me, id).await?;
    Ok(Json(shadows.iter().map(|s| s.to_json()).collect()))
}

/// One shadow.
#[utoipa::path(get, path = "/api/devices/{id}/shadows/{name}", tag = "shadows",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("name" = String, Path, description = "`default` or a name")),
    responses((status = 200, body = ShadowDoc), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((id, name)): ApiPath<(Uuid, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.platform.shadow(&me, id, &name).await?.to_json()))
}

/// Updates (or creates) a shadow; the device is sent the delta when the desired state
/// differs from the reported one.
#[utoipa::path(patch, path = "/api/devices/{id}/shadows/{name}", tag = "shadows",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("name" = String, Path, description = "`default` or a name")),
    request_body = ShadowPatch,
    responses((status = 200, body = ShadowDoc), (status = 400, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "Version conflict", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((id, name)): ApiPath<(Uuid, String)>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let shadow = state.platform.update_shadow(&me, id, &name, body).await?;
    Ok(Json(shadow.to_json()))
}

/// Deletes a shadow.
#[utoipa::path(delete, path = "/api/devices/{id}/shadows/{name}", tag = "shadows",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath((id, name)): ApiPath<(Uuid, String)>,
) -> Result<StatusCode, ApiError> {
    state.platform.delete_shadow(&me, id, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
