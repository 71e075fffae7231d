//! Sign-in, sign-out and API keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use strata_store::ApiToken;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, Auth, JsonBody};

/// Credentials for signing in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Sign-in name.
    #[schema(example = "admin")]
    pub username: String,
    /// Password.
    pub password: String,
}

/// A session token.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionToken {
    /// Send as `Authorization: Bearer <token>`.
    #[schema(example = "sts_3kW9...")]
    pub token: String,
    /// Expiry, ms since epoch.
    pub expires_at: Option<i64>,
}

/// A new API key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRequest {
    /// A label to recognise the key by.
    #[schema(example = "ci")]
    pub name: String,
    /// Optional expiry, ms since epoch.
    pub expires_at: Option<i64>,
}

/// An API key as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyInfo {
    /// Identifier.
    pub id: Uuid,
    /// Label.
    pub name: String,
    /// First characters of the key.
    pub prefix: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Expiry, ms.
    pub expires_at: Option<i64>,
    /// Revocation time, ms.
    pub revoked_at: Option<i64>,
}

impl From<ApiToken> for ApiKeyInfo {
    fn from(t: ApiToken) -> Self {
        Self {
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            expires_at: t.expires_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A created API key, with its secret shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyCreated {
    /// The key: send as `Authorization: Bearer <key>`. It is not stored and cannot be shown
    /// again.
    pub key: String,
    /// Its record.
    #[serde(flatten)]
    pub info: ApiKeyInfo,
}

/// Signs in with username and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = SessionToken),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Json<SessionToken>, ApiError> {
    let issued = state.platform.login(&req.username, &req.password).await?;
    Ok(Json(SessionToken {
        token: issued.secret,
        expires_at: issued.token.expires_at,
    }))
}

/// Ends the session (or revokes the API key) used for this request.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, body = ErrorBody)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> Result<StatusCode, ApiError> {
    state.platform.logout(&me).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists the tenant's API keys.
#[utoipa::path(get, path = "/api/api-keys", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [ApiKeyInfo]), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
pub(crate) async fn list_api_keys(
    State(state): State<AppState>,
    Auth(me): Auth,
) -> Result<Json<Vec<ApiKeyInfo>>, ApiError> {
    let keys = state.platform.list_api_keys(&me).await?;
    Ok(Json(keys.into_iter().map(ApiKeyInfo::from).collect()))
}

/// Creates an API key; the key is in the answer and nowhere else.
#[utoipa::path(post, path = "/api/api-keys", tag = "auth", security(("bearer" = [])),
    request_body = ApiKeyRequest,
    responses((status = 201, body = ApiKeyCreated), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn create_api_key(
    State(state): State<AppState>,
    Auth(me): Auth,
    JsonBody(req): JsonBody<ApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    let issued = state
        .platform
        .create_api_key(&me, &req.name, req.expires_at)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            key: issued.secret,
            info: issued.token.into(),
        }),
    ))
}

/// Revokes an API key.
#[utoipa::path(delete, path = "/api/api-keys/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "API key id")),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody)))]
pub(crate) async fn revoke_api_key(
    State(state): State<AppState>,
    Auth(me): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state.platform.revoke_api_key(&me, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
