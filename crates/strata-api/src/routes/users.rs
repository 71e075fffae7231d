//! Users of a tenant and, for the installation's admins, tenants.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use strata_store::{Role, Tenant, TenantId, User};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, Auth, JsonBody};

/// A user as listed (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// Identifier.
    pub id: Uuid,
    /// Sign-in name.
    pub username: String,
    /// `admin`, `operator` or `viewer`.
    #[schema(value_type = String, example = "viewer")]
    pub role: Role,
    /// Tenant.
    pub tenant_id: i64,
    /// Creation time, ms.
    pub created_at: i64,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            username: u.username,
            role: u.role,
            tenant_id: u.tenant.0,
            created_at: u.created_at,
        }
    }
}

/// A new user of the caller's tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Sign-in name, unique in the installation.
    pub username: String,
    /// At least 8 characters; stored as an Argon2id hash.
    pub password: String,
    /// `admin`, `operator` or `viewer`.
    #[schema(value_type = String, example = "operator")]
    pub role: Role,
}

/// Lists the tenant's users (admins).
#[utoipa::path(get, path = "/api/users", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [UserOut]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> Result<Json<Vec<UserOut>>, ApiError> {
    let users = state.platform.list_users(&me).await?;
    Ok(Json(users.into_iter().map(UserOut::from).collect()))
}

/// Adds a user to the tenant (admins).
#[utoipa::path(post, path = "/api/users", tag = "auth", security(("bearer" = [])),
    request_body = NewUserRequest,
    responses((status = 201, body = UserOut), (status = 403, body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(req): JsonBody<NewUserRequest>,
) -> Result<(StatusCode, Json<UserOut>), ApiError> {
    let user = state
        .platform
        .add_user(&me, &req.username, &req.password, req.role)
        .await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Deletes a user of the tenant with its sessions and API keys (admins; not oneself).
#[utoipa::path(delete, path = "/api/users/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.platform.delete_user(&me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    /// Identifier.
    pub id: i64,
    /// Name.
    pub name: String,
}

impl From<Tenant> for TenantOut {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id.0,
            name: t.name,
        }
    }
}

/// A new tenant with its first admin.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTenantRequest {
    /// Tenant name, unique.
    pub name: String,
    /// Sign-in name of the tenant's first admin.
    pub admin_username: String,
    /// That admin's password (at least 8 characters).
    pub admin_password: String,
}

/// The created tenant and its admin.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreated {
    /// The tenant.
    pub tenant: TenantOut,
    /// Its first admin.
    pub admin: UserOut,
}

/// Lists tenants (admins of the default tenant).
#[utoipa::path(get, path = "/api/tenants", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [TenantOut]), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_tenants(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> Result<Json<Vec<TenantOut>>, ApiError> {
    let tenants = state.platform.list_tenants(&me).await?;
    Ok(Json(tenants.into_iter().map(TenantOut::from).collect()))
}

/// Creates a tenant with its first admin (admins of the default tenant). Tenants see only
/// their own devices, data, rules, alarms, dashboards and users.
#[utoipa::path(post, path = "/api/tenants", tag = "auth", security(("bearer" = [])),
    request_body = NewTenantRequest,
    responses((status = 201, body = TenantCreated), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_tenant(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(req): JsonBody<NewTenantRequest>,
) -> Result<(StatusCode, Json<TenantCreated>), ApiError> {
    let (tenant, admin) = state
        .platform
        .create_tenant(&me, &req.name, &req.admin_username, &req.admin_password)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(TenantCreated {
            tenant: tenant.into(),
            admin: admin.into(),
        }),
    ))
}

/// Deletes a tenant with everything in it: users (signed out at once), devices and their
/// data, rules, access rules, dashboards (admins of the default tenant, which stays).
#[utoipa::path(delete, path = "/api/tenants/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = i64, Path, description = "Tenant id")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "A device was added meanwhile; delete again", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub(crate) async fn delete_tenant(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.platform.delete_tenant(&me, TenantId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
