//! Dashboards of the web app, saved per tenant.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use strata_platform::dashboards::{Dashboard, Widget};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, Auth, JsonBody};

/// A dashboard's name and widgets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardRequest {
    /// Name, unique in the tenant.
    pub name: String,
    /// Widgets in display order (at most 50): `{"id", "type": "timeseries" | "gauge" |
    /// "value" | "table" | "alarms", "title", "device_id"?, "keys"?, "options"?}`.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub widgets: Vec<Widget>,
}

/// A dashboard as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardSummary {
    /// Identifier.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Number of widgets.
    pub widgets: usize,
    /// Last change, ms.
    pub updated_at: i64,
}

/// A dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardOut {
    /// Identifier.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Widgets in display order.
    #[schema(value_type = Vec<Object>)]
    pub widgets: Vec<Widget>,
    /// Creation time, ms.
    pub created_at: i64,
    /// Last change, ms.
    pub updated_at: i64,
}

impl From<Dashboard> for DashboardOut {
    fn from(d: Dashboard) -> Self {
        Self {
            id: d.id,
            name: d.name,
            widgets: d.widgets,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// Lists the tenant's dashboards.
#[utoipa::path(get, path = "/api/dashboards", tag = "dashboards", security(("bearer" = [])),
    responses((status = 200, body = [DashboardSummary]), (status = 401, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> Result<Json<Vec<DashboardSummary>>, ApiError> {
    let all = state.platform.list_dashboards(&me).await?;
    Ok(Json(
        all.into_iter()
            .map(|d| DashboardSummary {
                id: d.id,
                name: d.name,
                widgets: d.widgets.len(),
                updated_at: d.updated_at,
            })
            .collect(),
    ))
}

/// Creates a dashboard (operators and admins).
#[utoipa::path(post, path = "/api/dashboards", tag = "dashboards", security(("bearer" = [])),
    request_body = DashboardRequest,
    responses((status = 201, body = DashboardOut), (status = 403, body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(req): JsonBody<DashboardRequest>,
) -> Result<(StatusCode, Json<DashboardOut>), ApiError> {
    let d = state
        .platform
        .create_dashboard(&me, &req.name, req.widgets)
        .await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

/// One dashboard.
#[utoipa::path(get, path = "/api/dashboards/{id}", tag = "dashboards", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Dashboard id")),
    responses((status = 200, body = DashboardOut), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<DashboardOut>, ApiError> {
    Ok(Json(state.platform.dashboard(&me, id).await?.into()))
}

/// Replaces a dashboard's name and widgets (operators and admins).
#[utoipa::path(put, path = "/api/dashboards/{id}", tag = "dashboards", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Dashboard id")),
    request_body = DashboardRequest,
    responses((status = 200, body = DashboardOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
    JsonBody(req): JsonBody<DashboardRequest>,
) -> Result<Json<DashboardOut>, ApiError> {
    let d = state
        .platform
        .update_dashboard(&me, id, &req.name, req.widgets)
        .await?;
    Ok(Json(d.into()))
}

/// Deletes a dashboard (operators and admins).
#[utoipa::path(delete, path = "/api/dashboards/{id}", tag = "dashboards", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Dashboard id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.platform.delete_dashboard(&me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
