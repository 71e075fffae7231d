//! Extractors that turn every client mistake into an [`ApiError`] with the JSON error shape.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use strata_platform::accounts::Principal;

use crate::AppState;
use crate::error::ApiError;

/// The management API caller, from `Authorization: Bearer <token>` or, for the web app,
/// the session cookie (with the `X-CSRF-Token` header on every request that changes
/// something).
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

/// The web app's session cookie.
pub const SESSION_COOKIE: &str = "strata_session";
/// The header carrying the anti-CSRF token of a cookie session.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of a cookie of the request, if any.
pub(crate) fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// Compares without an early exit, so timing does not reveal a matching prefix.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks the anti-CSRF header of a cookie-authenticated request that changes something.
pub(crate) fn check_csrf(parts: &Parts, session_secret: &str) -> Result<(), ApiError> {
    if parts.method.is_safe() {
        return Ok(());
    }
    let expected = strata_platform::Platform::csrf_token(session_secret);
    let sent = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if same_secret(sent.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "missing or wrong X-CSRF-Token header: send the csrf_token from \
             GET /api/auth/session with every change made with the session cookie",
        ))
    }
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(parts: &Parts) -> Option<&str> {
    bearer_header(&parts.headers)
}

/// The bearer token in request headers, if any.
pub(crate) fn bearer_header(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(token) = bearer(parts) {
            return Ok(Auth(state.platform.authenticate(token).await?));
        }
        if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            // Only session tokens ride in cookies; an API key there is a misuse.
            if !secret.starts_with(strata_platform::accounts::SESSION_PREFIX) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "the session cookie holds no session; sign in again",
                ));
            }
            check_csrf(parts, secret)?;
            return Ok(Auth(state.platform.authenticate(secret).await?));
        }
        Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing `Authorization: Bearer <token>` header; sign in with \
             POST /api/auth/login (or POST /api/auth/session in a browser) or use an API key",
        ))
    }
}

/// A JSON body: 413 when over the size limit, 400 `invalid_json` when not JSON, 422
/// `invalid_payload` when the JSON has the wrong shape.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// Reads the body bytes, mapping the size limit to 413.
pub(crate) async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|e| match e {
        BytesRejection::FailedToBufferBody(inner)
            if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
        {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the body is larger than {} bytes (http.max_body_bytes); split it into \
                     several requests",
                    state.platform.config().http.max_body_bytes
                ),
            )
        }
        other => ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", other.body_text()),
    })
}

/// Parses JSON, telling syntax errors (400) from shape errors (422).
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_payload",
                e.to_string(),
            ),
            _ => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {e}"),
            ),
        }
    })
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        Ok(JsonBody(parse_json(&bytes)?))
    }
}

/// Query parameters; a bad one is a 400 `invalid_parameter`.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| ApiQuery(v))
            .map_err(|e: QueryRejection| ApiError::parameter(e.body_text()))
    }
}

/// Path parameters; a bad one (e.g. a malformed UUID) is a 400 `invalid_parameter`.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| ApiPath(v))
            .map_err(|e: PathRejection| ApiError::parameter(e.body_text()))
    }
}
