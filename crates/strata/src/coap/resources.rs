//! The CoAP device API, mirroring the HTTP and MQTT device APIs (ThingsBoard's CoAP paths):
//!
//! | Method | Path | What |
//! |---|---|---|
//! | POST | `/api/v1/{token}/telemetry` | upload telemetry (JSON, as over HTTP) |
//! | POST | `/api/v1/{token}/attributes` | set client attributes |
//! | GET (+Observe) | `/api/v1/{token}/attributes` | read (and watch) client attributes |
//! | GET +Observe | `/api/v1/{token}/rpc` | receive RPC calls as notifications |
//! | POST | `/api/v1/{token}/rpc/{id}` | answer a call |
//! | GET | `/api/v1/{token}/shadows/{name}` | read a shadow |
//! | POST, PATCH | `/api/v1/{token}/shadows/{name}` | update a shadow (usually `reported`) |
//! | DELETE | `/api/v1/{token}/shadows/{name}` | delete a shadow |
//! | GET (+Observe) | `/api/v1/{token}/shadows/{name}/delta` | read (and watch) the delta |
//!
//! Bodies are JSON (Content-Format 50, or none). Errors carry a diagnostic text payload.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use strata_platform::{ErrorCode, PlatformError};
use strata_proto_coap::{Code, link_format, observe, option};
use strata_store::DeviceIdentity;

use super::observations::{Registered, Watched};
use super::{Context, Reply, Request};

/// Link attributes: name and optional value.
type Attributes = &'static [(&'static str, Option<&'static str>)];

/// Resources listed in `/.well-known/core` (RFC 6690).
const LINKS: &[(&str, Attributes)] = &[
    (
        "/api/v1/{token}/telemetry",
        &[("rt", Some("strata.telemetry")), ("ct", Some("50"))],
    ),
    (
        "/api/v1/{token}/attributes",
        &[
            ("rt", Some("strata.attributes")),
            ("ct", Some("50")),
            ("obs", None),
        ],
    ),
    (
        "/api/v1/{token}/rpc",
        &[
            ("rt", Some("strata.rpc")),
            ("ct", Some("50")),
            ("obs", None),
        ],
    ),
    (
        "/api/v1/{token}/shadows/{name}",
        &[("rt", Some("strata.shadow")), ("ct", Some("50"))],
    ),
    (
        "/api/v1/{token}/shadows/{name}/delta",
        &[
            ("rt", Some("strata.shadow.delta")),
            ("ct", Some("50")),
            ("obs", None),
        ],
    ),
];

/// Answers requests that need no platform call, right in the listener task.
pub(crate) fn answer_inline(request: &Request) -> Option<Reply> {
    let path: Vec<&str> = request.path.iter().map(String::as_str).collect();
    match path.as_slice() {
        [".well-known", "core"] => Some(if request.method == Code::GET {
            let mut doc = String::new();
            for (target, attributes) in LINKS {
                link_format::write_link(&mut doc, target, attributes);
            }
            Reply {
                code: Code::CONTENT,
                content_format: Some(option::format::LINK_FORMAT),
                observe: None,
                size1: None,
                location: Vec::new(),
                payload: doc.into_bytes(),
            }
        } else {
            method_not_allowed()
        }),
        [] => Some(if request.method == Code::GET {
            Reply {
                code: Code::CONTENT,
                content_format: Some(option::format::TEXT),
                observe: None,
                size1: None,
                location: Vec::new(),
                payload: b"Strata CoAP device API: GET /.well-known/core lists the resources"
                    .to_vec(),
            }
        } else {
            method_not_allowed()
        }),
        ["api", "v1", _token, ..] => None,
        _ => Some(Reply::error(
            Code::NOT_FOUND,
            "no such resource; GET /.well-known/core lists them",
        )),
    }
}

fn method_not_allowed() -> Reply {
    Reply::error(
        Code::METHOD_NOT_ALLOWED,
        "method not allowed on this resource",
    )
}

/// Maps platform errors to CoAP response codes.
fn error_reply(e: &PlatformError) -> Reply {
    let code = match e.code {
        ErrorCode::InvalidJson | ErrorCode::InvalidPayload | ErrorCode::InvalidParameter => {
            Code::BAD_REQUEST
        }
        ErrorCode::Unauthorized => Code::UNAUTHORIZED,
        ErrorCode::Forbidden => Code::FORBIDDEN,
        ErrorCode::NotFound => Code::NOT_FOUND,
        ErrorCode::Conflict => Code::CONFLICT,
        ErrorCode::PayloadTooLarge => Code::REQUEST_ENTITY_TOO_LARGE,
        ErrorCode::Unavailable | ErrorCode::DeviceUnreachable => Code::SERVICE_UNAVAILABLE,
        ErrorCode::Timeout => Code::GATEWAY_TIMEOUT,
        _ => Code::INTERNAL_SERVER_ERROR,
    };
    Reply::error(code, e.message.clone())
}

/// Work to do once the response is queued (so notifications follow it).
pub(crate) enum After {
    /// Deliver RPC calls that waited for the device.
    QueuedRpc(DeviceIdentity),
}

/// Handles a device API request.
pub(crate) async fn handle(context: &Arc<Context>, request: Request) -> (Reply, Option<After>) {
    let platform = &context.platform;
    let (device, rest) = match (request.device, request.path.as_slice()) {
        // Over DTLS the session names the device: no token in the path.
        (Some(device), [_, _, first, rest @ ..])
            if matches!(
                first.as_str(),
                "telemetry" | "attributes" | "rpc" | "shadows"
            ) =>
        {
            (device, &request.path[2..])
        }
        (_, [_, _, token, rest @ ..]) => match platform.authenticate_device(token).await {
            Ok(d) => (d, rest),
            Err(e) => return (error_reply(&e), None),
        },
        _ => return (Reply::error(Code::NOT_FOUND, "no such resource"), None),
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let result = match (request.method, rest.as_slice()) {
        (Code::POST, ["telemetry"]) => match body(&request) {
            Ok(v) => platform
                .ingest_json(&device, v, "coap")
                .await
                .map(|n| Reply::json(Code::CHANGED, &json!({"accepted": n}))),
            Err(r) => Ok(r),
        },
        (Code::POST, ["attributes"]) => match body(&request) {
            Ok(v) => platform
                .set_client_attributes(&device, v)
                .await
                .map(|n| Reply::json(Code::CHANGED, &json!({"accepted": n}))),
            Err(r) => Ok(r),
        },
        (Code::GET, ["attributes"]) => {
            platform.device_seen(&device);
            let observed = observe_request(context, &request, &device, Watched::Attributes);
            if observed.is_some() {
                context.ensure_attribute_watcher();
            }
            attributes(context, &device).await.map(|v| Reply {
                observe: observed,
                ..Reply::json(Code::CONTENT, &v)
            })
        }
        (Code::GET, ["rpc"]) => {
            platform.device_seen(&device);
            if request.observe.is_none() {
                Ok(Reply::error(
                    Code::BAD_REQUEST,
                    "observe this resource (Observe: 0) to receive RPC calls",
                ))
            } else {
                let observed = observe_request(context, &request, &device, Watched::Rpc);
                let reply = Reply {
                    observe: observed,
                    ..Reply::empty(Code::CONTENT)
                };
                return (reply, observed.map(|_| After::QueuedRpc(device)));
            }
        }
        (Code::POST, ["rpc", id]) => match (id.parse::<i64>(), body(&request)) {
            (Ok(id), Ok(answer)) => platform
                .rpc_response(&device, id, answer)
                .await
                .map(|()| Reply::empty(Code::CHANGED)),
            (Err(_), _) => Ok(Reply::error(
                Code::BAD_REQUEST,
                "the RPC id must be a number",
            )),
            (_, Err(r)) => Ok(r),
        },
        (Code::GET, ["shadows", name]) => {
            platform.device_seen(&device);
            platform
                .device_shadow(&device, name)
                .await
                .map(|s| Reply::json(Code::CONTENT, &s.to_json()))
        }
        (Code::POST | Code::PATCH | Code::IPATCH, ["shadows", name]) => match body(&request) {
            Ok(v) => match strata_platform::shadow::ShadowUpdate::parse(v) {
                Ok(update) => {
                    platform.device_seen(&device);
                    platform
                        .apply_shadow_update(&device, name, &update)
                        .await
                        .map(|s| Reply::json(Code::CHANGED, &s.to_json()))
                }
                Err(e) => Err(e),
            },
            Err(r) => Ok(r),
        },
        (Code::DELETE, ["shadows", name]) => platform
            .device_delete_shadow(&device, name)
            .await
            .map(|()| Reply::empty(Code::DELETED)),
        (Code::GET, ["shadows", name, "delta"]) => {
            platform.device_seen(&device);
            let observed = observe_request(
                context,
                &request,
                &device,
                Watched::Delta((*name).to_string()),
            );
            delta(context, &device, name).await.map(|v| Reply {
                observe: observed,
                ..Reply::json(Code::CONTENT, &v)
            })
        }
        (
            _,
            ["telemetry" | "attributes" | "rpc"]
            | ["rpc", _]
            | ["shadows", _]
            | ["shadows", _, "delta"],
        ) => Ok(method_not_allowed()),
        _ => Ok(Reply::error(
            Code::NOT_FOUND,
            "no such resource; GET /.well-known/core lists them",
        )),
    };
    (result.unwrap_or_else(|e| error_reply(&e)), None)
}

/// Registers or cancels an observation as the request's Observe option says; the
/// sequence number to answer with when it is registered.
fn observe_request(
    context: &Context,
    request: &Request,
    device: &DeviceIdentity,
    watched: Watched,
) -> Option<u32> {
    match request.observe {
        Some(observe::REGISTER) => {
            match context.observations.register(
                *device,
                &context.commands,
                request.id.peer,
                request.id.token,
                watched,
            ) {
                Registered::Yes(sequence) => Some(sequence),
                // Answer without Observe: the client knows it is not observing (RFC 7641
                // §4.1).
                Registered::Full => {
                    tracing::warn!("coap.max_observations reached; observation refused");
                    None
                }
            }
        }
        Some(observe::DEREGISTER) => {
            context
                .observations
                .remove(request.id.peer, request.id.token);
            None
        }
        _ => None,
    }
}

/// The request body as JSON, or the error reply to send.
fn body(request: &Request) -> Result<Value, Reply> {
    match request.content_format {
        None | Some(option::format::JSON) | Some(option::format::TEXT) => {}
        Some(other) => {
            return Err(Reply::error(
                Code::UNSUPPORTED_CONTENT_FORMAT,
                format!("Content-Format {other} not supported; send JSON (50)"),
            ));
        }
    }
    if request.payload.is_empty() {
        return Err(Reply::error(
            Code::BAD_REQUEST,
            "empty body; send a JSON document",
        ));
    }
    serde_json::from_slice(&request.payload)
        .map_err(|e| Reply::error(Code::BAD_REQUEST, format!("body is not valid JSON: {e}")))
}

/// The device's client attributes as one JSON object.
pub(crate) async fn attributes(
    context: &Context,
    device: &DeviceIdentity,
) -> Result<Value, PlatformError> {
    let stored = context
        .platform
        .store()
        .attributes(device.device_key)
        .await?;
    let map: Map<String, Value> = stored
        .into_iter()
        .map(|a| {
            let value = serde_json::from_str(&a.value_json).unwrap_or(Value::Null);
            (a.key, value)
        })
        .collect();
    Ok(Value::Object(map))
}

/// The delta of a shadow in the notification shape (`{"state": {}}` when in sync).
async fn delta(
    context: &Context,
    device: &DeviceIdentity,
    name: &str,
) -> Result<Value, PlatformError> {
    match context.platform.device_shadow(device, name).await {
        Ok(shadow) => {
            let delta = shadow.state.delta().unwrap_or_default();
            let metadata = shadow.state.delta_metadata(&delta);
            Ok(strata_platform::shadow::delta_json(
                shadow.version,
                shadow.updated_at,
                &delta,
                &metadata,
            ))
        }
        Err(e) if e.code == ErrorCode::NotFound => Ok(json!({"state": {}, "version": 0})),
        Err(e) => Err(e),
    }
}

impl Context {
    /// Starts the task that turns attribute changes into notifications, unless it runs.
    fn ensure_attribute_watcher(self: &Arc<Self>) {
        let Ok(mut slot) = self.attribute_watcher.lock() else {
            return;
        };
        if slot.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let context = Arc::clone(self);
        *slot = Some(tokio::spawn(async move {
            let mut events = context.platform.events();
            loop {
                let event = match events.recv().await {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                };
                if !context.observations.watches_attributes() {
                    // Listening costs every ingest an event; stop when nobody watches. The
                    // check is repeated under the slot's lock, which a new observer takes
                    // to decide whether to start a watcher: no observer is left without one.
                    if let Ok(mut slot) = context.attribute_watcher.lock() {
                        if context.observations.watches_attributes() {
                            continue;
                        }
                        *slot = None;
                    }
                    return;
                }
                if event.kind != "attributes" {
                    continue;
                }
                let Some(device_id) = event.device_id else {
                    continue;
                };
                let Some(identity) = context
                    .observations
                    .observed(device_id, &Watched::Attributes)
                else {
                    continue;
                };
                match attributes(&context, &identity).await {
                    Ok(v) => {
                        context.observations.notify(
                            device_id,
                            &Watched::Attributes,
                            v.to_string().as_bytes(),
                        );
                    }
                    Err(e) => {
                        tracing::warn!(device = %device_id, error = %e, "attributes not read for a notification")
                    }
                }
            }
        }));
    }
}
