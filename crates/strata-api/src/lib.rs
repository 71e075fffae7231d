//! Strata's HTTP front end: the management REST API, the HTTP device API, `/healthz`,
//! `/metrics` and the OpenAPI document at `/api/openapi.json`.
//!
//! [`app`] builds the whole [`axum::Router`] from an [`AppState`], so tests can drive it
//! without a socket; [`serve`] runs it on a listener until a shutdown signal.
//!
//! Every error a client can cause is answered with a 4xx and one JSON shape,
//! `{"error": {"code": "...", "message": "..."}}` (see [`error::ApiError`]); handlers never
//! panic on input, and a panic anyway becomes a 500 with that shape instead of a dropped
//! connection.

pub mod error;
pub mod extract;
mod middleware;
pub mod openapi;
pub mod routes;
mod server;
mod webapp;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use metrics_exporter_prometheus::PrometheusHandle;
use strata_platform::Platform;
use tower::ServiceBuilder;

pub use error::ApiError;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The platform services.
    pub platform: Platform,
    /// Renders `/metrics`; `None` serves an empty page.
    pub metrics: Option<PrometheusHandle>,
    /// The LwM2M server, when enabled (its management API answers 503 otherwise).
    pub lwm2m: Option<strata_lwm2m::Lwm2mServer>,
}

/// The full router.
pub fn app(state: AppState) -> Router {
    let http = &state.platform.config().http;
    let body_limit = http.max_body_bytes;
    let timeout = http.request_timeout;
    let api = Router::new()
        .route("/api/auth/login", post(routes::auth::login))
        .route("/api/auth/logout", post(routes::auth::logout))
        .route(
            "/api/auth/session",
            post(routes::auth::open_session)
                .get(routes::auth::current_session)
                .delete(routes::auth::close_session),
        )
        .route(
            "/api/users",
            get(routes::users::list).post(routes::users::create),
        )
        .route("/api/users/{id}", delete(routes::users::delete))
        .route(
            "/api/tenants",
            get(routes::users::list_tenants).post(routes::users::create_tenant),
        )
        .route("/api/tenants/{id}", delete(routes::users::delete_tenant))
        .route(
            "/api/dashboards",
            get(routes::dashboards::list).post(routes::dashboards::create),
        )
        .route(
            "/api/dashboards/{id}",
            get(routes::dashboards::get)
                .put(routes::dashboards::update)
                .delete(routes::dashboards::delete),
        )
        .route("/api/ws", get(routes::live::socket))
        .route(
            "/api/api-keys",
            get(routes::auth::list_api_keys).post(routes::auth::create_api_key),
        )
        .route("/api/api-keys/{id}", delete(routes::auth::revoke_api_key))
        .route(
            "/api/devices",
            get(routes::devices::list_devices).post(routes::devices::create_device),
        )
        .route(
            "/api/devices/{id}",
            get(routes::devices::get_device)
                .patch(routes::devices::update_device)
                .delete(routes::devices::delete_device),
        )
        .route(
            "/api/devices/{id}/attributes",
            get(routes::devices::attributes),
        )
        .route(
            "/api/devices/{id}/credentials",
            get(routes::devices::list_credentials),
        )
        .route(
            "/api/devices/{id}/credentials/access-token",
            post(routes::devices::rotate_access_token),
        )
        .route(
            "/api/mqtt/acl",
            get(routes::mqtt_acl::list).post(routes::mqtt_acl::create),
        )
        .route("/api/mqtt/acl/{id}", delete(routes::mqtt_acl::delete))
        .route(
            "/api/devices/{id}/credentials/x509",
            post(routes::devices::add_x509),
        )
        .route(
            "/api/devices/{id}/credentials/lwm2m",
            post(routes::devices::add_lwm2m_endpoint),
        )
        .route(
            "/api/devices/{id}/credentials/psk",
            post(routes::devices::add_psk),
        )
        .route(
            "/api/devices/{id}/credentials/{credential_id}",
            delete(routes::devices::revoke_credential),
        )
        .route(
            "/api/devices/{id}/telemetry",
            get(routes::telemetry::range).delete(routes::telemetry::delete),
        )
        .route(
            "/api/devices/{id}/telemetry/latest",
            get(routes::telemetry::latest),
        )
        .route(
            "/api/devices/{id}/telemetry/keys",
            get(routes::telemetry::keys),
        )
        .route(
            "/api/devices/{id}/telemetry/aggregate",
            get(routes::telemetry::aggregate),
        )
        .route(
            "/api/v1/{token}/telemetry",
            post(routes::device_api::telemetry_token_in_path),
        )
        .route("/api/devices/{id}/shadows", get(routes::shadows::list))
        .route(
            "/api/devices/{id}/shadows/{name}",
            get(routes::shadows::get)
                .patch(routes::shadows::update)
                .delete(routes::shadows::delete),
        )
        .route(
            "/api/devices/{id}/rpc",
            get(routes::rpc::list).post(routes::rpc::invoke),
        )
        .route("/api/devices/{id}/rpc/{rpc_id}", get(routes::rpc::get))
        .route(
            "/api/rules",
            get(routes::rules::list).post(routes::rules::create),
        )
        .route("/api/rules/outbox", get(routes::rules::outbox))
        .route("/api/rules/dead-letters", get(routes::rules::dead_letters))
        .route(
            "/api/rules/dead-letters/replay",
            post(routes::rules::replay),
        )
        .route("/api/rules/dead-letters/delete", post(routes::rules::purge))
        .route(
            "/api/rules/{id}",
            get(routes::rules::get)
                .put(routes::rules::update)
                .delete(routes::rules::delete),
        )
        .route(
            "/api/alarms",
            get(routes::alarms::list).post(routes::alarms::create),
        )
        .route("/api/alarms/{id}", get(routes::alarms::get))
        .route("/api/alarms/{id}/ack", post(routes::alarms::acknowledge))
        .route("/api/alarms/{id}/clear", post(routes::alarms::clear))
        .route("/api/events", get(routes::events::stream))
        .route("/api/v1/{token}/rpc", get(routes::device_api::rpc_poll))
        .route(
            "/api/v1/{token}/rpc/{id}",
            post(routes::device_api::rpc_answer),
        )
        .route(
            "/api/v1/{token}/shadows/{name}",
            get(routes::device_api::shadow_get).patch(routes::device_api::shadow_update),
        )
        .route(
            "/api/v1/telemetry",
            post(routes::device_api::telemetry_bearer),
        )
        .route("/api/lwm2m/clients", get(routes::lwm2m::list_clients))
        .route(
            "/api/lwm2m/clients/{endpoint}",
            get(routes::lwm2m::get_client),
        )
        .route(
            "/api/lwm2m/clients/{endpoint}/objects/{*path}",
            get(routes::lwm2m::read)
                .put(routes::lwm2m::write_replace)
                .patch(routes::lwm2m::write_update)
                .post(routes::lwm2m::execute_or_create)
                .delete(routes::lwm2m::delete),
        )
        .route(
            "/api/lwm2m/clients/{endpoint}/discover/{*path}",
            get(routes::lwm2m::discover),
        )
        .route(
            "/api/lwm2m/clients/{endpoint}/attributes/{*path}",
            put(routes::lwm2m::write_attributes),
        )
        .route(
            "/api/lwm2m/clients/{endpoint}/observe/{*path}",
            post(routes::lwm2m::observe).delete(routes::lwm2m::cancel_observe),
        )
        .route(
            "/api/lwm2m/clients/{endpoint}/firmware",
            get(routes::lwm2m::firmware_status).post(routes::lwm2m::start_firmware),
        )
        .route("/api/lwm2m/objects", get(routes::lwm2m::objects))
        .route(
            "/api/lwm2m/firmware",
            post(routes::lwm2m::upload_firmware)
                .layer(DefaultBodyLimit::max(strata_lwm2m::firmware::MAX_PACKAGE)),
        )
        .route("/api/openapi.json", get(routes::system::openapi))
        .route("/healthz", get(routes::system::healthz))
        .route("/metrics", get(routes::system::metrics));

    api.fallback(webapp::serve)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(
            ServiceBuilder::new()
                .layer(tower_http::catch_panic::CatchPanicLayer::custom(
                    middleware::panic_response,
                ))
                .layer(axum::middleware::from_fn(middleware::record))
                .layer(HandleErrorLayer::new(middleware::timeout_response))
                .layer(tower::timeout::TimeoutLayer::new(timeout)),
        )
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let http = state.platform.config().http.clone();
    server::serve(
        listener,
        app(state),
        http.header_timeout,
        http.max_connections,
        shutdown,
    )
    .await
}

/// Histogram buckets (seconds) for HTTP latency.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
