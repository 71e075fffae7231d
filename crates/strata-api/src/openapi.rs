//! The OpenAPI 3 document, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    alarms, auth, dashboards, device_api, devices, events, live, lwm2m, mqtt_acl, rpc, rules,
    shadows, system, telemetry, users,
};

/// Strata's REST API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strata API",
        description = "Management REST API (devices, credentials, telemetry queries, shadows, \
                       RPC, rules, alarms, live events, LwM2M) and the HTTP device API. Errors always have the shape \
                       `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`."
    ),
    paths(
        auth::login, auth::logout, auth::list_api_keys, auth::create_api_key,
        auth::revoke_api_key, auth::open_session, auth::current_session, auth::close_session,
        users::list, users::create, users::delete, users::list_tenants, users::create_tenant, users::delete_tenant,
        dashboards::list, dashboards::create, dashboards::get, dashboards::update,
        dashboards::delete,
        devices::create_device, devices::list_devices, devices::get_device,
        devices::update_device, devices::delete_device, devices::list_credentials,
        devices::rotate_access_token, devices::add_x509, devices::add_lwm2m_endpoint,
        devices::add_psk,
        devices::revoke_credential,
        devices::attributes,
        telemetry::latest, telemetry::keys, telemetry::range, telemetry::aggregate,
        telemetry::delete,
        device_api::telemetry_token_in_path, device_api::telemetry_bearer,
        device_api::rpc_poll, device_api::rpc_answer, device_api::shadow_get,
        device_api::shadow_update,
        shadows::list, shadows::get, shadows::update, shadows::delete,
        rpc::invoke, rpc::list, rpc::get,
        rules::list, rules::create, rules::get, rules::update, rules::delete, rules::outbox,
        rules::dead_letters, rules::replay, rules::purge,
        alarms::list, alarms::create, alarms::get, alarms::acknowledge, alarms::clear,
        events::stream, live::socket,
        mqtt_acl::list, mqtt_acl::create, mqtt_acl::delete,
        lwm2m::list_clients, lwm2m::get_client, lwm2m::read, lwm2m::write_replace,
        lwm2m::write_update, lwm2m::execute_or_create, lwm2m::delete, lwm2m::discover,
        lwm2m::write_attributes, lwm2m::observe, lwm2m::cancel_observe, lwm2m::objects,
        lwm2m::upload_firmware, lwm2m::start_firmware, lwm2m::firmware_status,
        system::healthz, system::metrics,
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign-in, browser sessions, users, tenants and API keys"),
        (name = "dashboards", description = "Dashboards of the web app, per tenant"),
        (name = "devices", description = "Device registry and credentials"),
        (name = "mqtt", description = "MQTT broker access rules"),
        (name = "telemetry", description = "Telemetry queries"),
        (name = "shadows", description = "Device shadows: desired and reported state"),
        (name = "rpc", description = "Commands to devices"),
        (name = "rules", description = "Rule engine, sink outbox and dead letters"),
        (name = "alarms", description = "Alarms and their lifecycle"),
        (name = "events", description = "Live event stream (Server-Sent Events and WebSocket)"),
        (name = "device-api", description = "What devices call"),
        (name = "lwm2m", description = "LwM2M clients: registrations, device management, observe, firmware"),
        (name = "system", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token (sts_...) or API key (stk_...)"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "device_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A device access token"))
                    .build(),
            ),
        );
    }
}
