//! Sign-in, sign-out and API keys.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use strata_config::SecureCookies;
use strata_platform::accounts::Principal;
use strata_store::ApiToken;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiPath, Auth, JsonBody, SESSION_COOKIE, cookie};

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

/// The signed-in user.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionUser {
    /// User id.
    pub id: Uuid,
    /// Sign-in name.
    pub username: String,
    /// `admin`, `operator` or `viewer`.
    #[schema(value_type = String, example = "operator")]
    pub role: strata_store::Role,
    /// The user's tenant.
    pub tenant_id: i64,
}

/// A browser session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionInfo {
    /// Who is signed in.
    pub user: SessionUser,
    /// Send as `X-CSRF-Token` with every request that changes something.
    pub csrf_token: String,
    /// Expiry, ms since epoch (null when the session was not opened by this request).
    pub expires_at: Option<i64>,
}

fn session_user(me: &Principal) -> SessionUser {
    SessionUser {
        id: me.user_id,
        username: me.username.clone(),
        role: me.role,
        tenant_id: me.tenant.0,
    }
}

/// Whether the session cookie gets `Secure` (see `http.secure_cookies`).
fn secure_cookie(state: &AppState, headers: &HeaderMap) -> bool {
    match state.platform.config().http.secure_cookies {
        SecureCookies::Always => true,
        SecureCookies::Never => false,
        SecureCookies::Auto => {
            let https = headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("https"));
            https || is_loopback_host(headers)
        }
    }
}

/// Browsers keep `Secure` cookies over plain HTTP only for loopback hosts.
fn is_loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn session_cookie(value: &str, max_age_secs: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    );
    // Session secrets are URL-safe ASCII, so this cannot fail; fall back to clearing.
    HeaderValue::from_str(&text).unwrap_or_else(|_| {
        HeaderValue::from_static("strata_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    })
}

/// Signs in a browser: sets the HttpOnly session cookie and returns the user and the
/// anti-CSRF token. Needs `Content-Type: application/json`, so a form on another site
/// cannot sign a visitor in.
#[utoipa::path(post, path = "/api/auth/session", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; sets the `strata_session` cookie", body = SessionInfo),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
    ))]
pub(crate) async fn open_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, ApiError> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the credentials as JSON with Content-Type: application/json",
        ));
    }
    let issued = state.platform.login(&req.username, &req.password).await?;
    let me = state.platform.authenticate(&issued.secret).await?;
    let ttl = state.platform.config().auth.session_ttl.as_secs();
    let body = SessionInfo {
        user: session_user(&me),
        csrf_token: strata_platform::Platform::csrf_token(&issued.secret),
        expires_at: issued.token.expires_at,
    };
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&issued.secret, ttl, secure_cookie(&state, &headers)),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The current browser session (to restore it after a reload): the user and the
/// anti-CSRF token. 401 when not signed in.
#[utoipa::path(get, path = "/api/auth/session", tag = "auth",
    responses((status = 200, body = SessionInfo), (status = 401, body = ErrorBody)))]
pub(crate) async fn current_session(
    Auth(me): Auth,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secret = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    let body = SessionInfo {
        user: session_user(&me),
        csrf_token: strata_platform::Platform::csrf_token(secret),
        expires_at: None,
    };
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Signs the browser out: ends the session and clears the cookie.
#[utoipa::path(delete, path = "/api/auth/session", tag = "auth",
    responses((status = 204, description = "Signed out"), (status = 401, body = ErrorBody),
        (status = 403, description = "Missing X-CSRF-Token", body = ErrorBody)))]
pub(crate) async fn close_session(
    State(state): State<AppState>,
    Auth(me): Auth,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.platform.logout(&me).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie("", 0, secure_cookie(&state, &headers)),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn loopback_hosts() {
        for yes in [
            "localhost:8080",
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:8080",
            "LOCALHOST",
        ] {
            assert!(is_loopback_host(&host(yes)), "{yes}");
        }
        for no in [
            "192.168.1.10:8080",
            "example.com",
            "[2001:db8::1]:80",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback_host(&host(no)), "{no}");
        }
        assert!(!is_loopback_host(&HeaderMap::new()));
    }

    #[test]
    fn cookie_attributes() {
        let c = session_cookie("sts_abc", 60, true);
        let c = c.to_str().unwrap();
        assert!(c.starts_with("strata_session=sts_abc; Path=/; HttpOnly; SameSite=Strict"));
        assert!(c.ends_with("Max-Age=60; Secure"));
        assert!(
            !session_cookie("x", 0, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}
