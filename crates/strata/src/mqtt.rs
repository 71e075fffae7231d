//! Connects the MQTT broker to the platform: device tokens authenticate, the device API
//! topics (see [`crate::device_topics`]) feed telemetry, attributes, shadows and RPC answers
//! (acknowledged once durable), the platform reaches devices through [`MqttLink`], and
//! topic access is checked.
//!
//! A device authenticates with its access token as the MQTT user name (or as the password),
//! or with a registered client certificate.
//!
//! Device API subscriptions are filed under the device's private namespace
//! (`$private/{device id}/v1/devices/me/...`, see [`strata_broker::PRIVATE_PREFIX`]), so
//! each device receives only its own RPC requests, shadow replies and deltas.

use std::sync::{Arc, OnceLock};

use serde_json::{Value, json};
use strata_broker::proto::packet::Publish;
use strata_broker::proto::{QoS, ReasonCode, topic};
use strata_broker::{
    Action, AuthDecision, AuthRequest, BrokerHandle, ClientInfo, Disposition, Hooks, PublishResult,
    Reply,
};
use strata_platform::acl::{AclAction, AclTarget};
use strata_platform::downlink::{DeviceLink, Downlink};
use strata_platform::shadow::ShadowUpdate;
use strata_platform::{ErrorCode, Platform, PlatformError};
use strata_store::DeviceIdentity;

use crate::device_topics::{self, DEVICE_PREFIX, ShadowOp, Upload};

pub(crate) struct PlatformHooks {
    pub(crate) platform: Platform,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) allow_anonymous: bool,
    /// Set once the broker runs; replies to devices go through it.
    pub(crate) broker: Arc<OnceLock<BrokerHandle>>,
}

/// A device signed in over MQTT: its identity and, for access rules, its labels at sign-in.
pub(crate) struct MqttDevice {
    identity: DeviceIdentity,
    labels: Vec<String>,
}

fn device(client: &ClientInfo) -> Option<&MqttDevice> {
    client.identity.as_ref()?.downcast_ref::<MqttDevice>()
}

/// The identity to attach to a device's connection.
async fn signed_in(platform: &Platform, identity: DeviceIdentity) -> Arc<MqttDevice> {
    let labels = match platform
        .store()
        .get_device(identity.tenant, identity.device_id)
        .await
    {
        Ok(Some(device)) => device.labels,
        _ => Vec::new(),
    };
    Arc::new(MqttDevice { identity, labels })
}

impl Hooks for PlatformHooks {
    fn authenticate(&self, request: AuthRequest, reply: Reply<AuthDecision>) {
        // A client certificate registered to a device identifies it (TLS listener only); an
        // unregistered one is no identity, and the credentials in CONNECT decide.
        if let Some(fingerprint) = request.certificate_fingerprint.clone() {
            let platform = self.platform.clone();
            let fallback = PlatformHooks {
                platform: self.platform.clone(),
                runtime: self.runtime.clone(),
                allow_anonymous: self.allow_anonymous,
                broker: Arc::clone(&self.broker),
            };
            self.runtime.spawn(async move {
                match platform.authenticate_device_certificate(&fingerprint).await {
                    Ok(identity) => reply.send(AuthDecision::Allow {
                        identity: Some(signed_in(&platform, identity).await),
                        anonymous: false,
                    }),
                    Err(_) => fallback.authenticate(
                        AuthRequest {
                            certificate_fingerprint: None,
                            ..request
                        },
                        reply,
                    ),
                }
            });
            return;
        }
        let mut candidates: Vec<String> = Vec::new();
        if let Some(user) = request.username.filter(|u| !u.is_empty()) {
            candidates.push(user);
        }
        if let Some(password) = request.password.as_ref()
            && let Ok(text) = std::str::from_utf8(password)
            && !text.is_empty()
        {
            candidates.push(text.to_string());
        }
        if candidates.is_empty() {
            let decision = if self.allow_anonymous {
                AuthDecision::Allow {
                    identity: None,
                    anonymous: true,
                }
            } else {
                AuthDecision::Deny(ReasonCode::NotAuthorized)
            };
            reply.send(decision);
            return;
        }
        let platform = self.platform.clone();
        self.runtime.spawn(async move {
            for token in candidates {
                if let Ok(identity) = platform.authenticate_device(&token).await {
                    reply.send(AuthDecision::Allow {
                        identity: Some(signed_in(&platform, identity).await),
                        anonymous: false,
                    });
                    return;
                }
            }
            reply.send(AuthDecision::Deny(ReasonCode::BadUserNameOrPassword));
        });
    }

    fn authorize(&self, client: &ClientInfo, action: Action, topic: &str) -> bool {
        // Device API topics follow their own rules, which access rules cannot widen: they
        // are never routed between clients (uploads are consumed by the platform, other
        // publishes refused, subscriptions filed in the device's private namespace), so one
        // device's `v1/devices/me/...` message can never reach another device.
        let names_device_api = match action {
            Action::Publish => topic.starts_with(DEVICE_PREFIX),
            Action::Subscribe => filter_names_device_api(topic),
        };
        if names_device_api {
            return match (device(client), action) {
                (Some(_), Action::Publish) => device_topics::parse_upload(topic).is_some(),
                // Wildcards below the prefix are fine (ThingsBoard firmware subscribes to
                // `v1/devices/me/rpc/request/+`): nothing but the platform feeds these.
                (Some(_), Action::Subscribe) => topic.starts_with(DEVICE_PREFIX),
                (None, _) => false,
            };
        }
        // Anything else: access rules decide, a matching deny first; without a matching
        // rule devices get nothing and anonymous clients (when allowed) everything.
        let tenant = match device(client) {
            Some(d) => Some(d.identity.tenant),
            None if client.anonymous => None,
            None => return false,
        };
        let rules = self.platform.acl_rules();
        let applicable = rules.iter().filter(|r| {
            (tenant.is_none() || Some(r.tenant) == tenant)
                && acl_action_matches(r.action, action)
                && match (&r.target, device(client)) {
                    (AclTarget::Everyone, _) => true,
                    (AclTarget::Device(id), Some(d)) => *id == d.identity.device_id,
                    (AclTarget::Label(label), Some(d)) => d.labels.iter().any(|l| l == label),
                    _ => false,
                }
        });
        let mut allowed = None;
        for rule in applicable {
            let hit = match action {
                Action::Publish => topic::matches(&rule.filter, topic),
                // A SUBSCRIBE is allowed when a rule's filter covers everything the requested
                // one can match, and refused when a deny rule's filter overlaps it at all.
                Action::Subscribe if rule.allow => filter_covers(&rule.filter, topic),
                Action::Subscribe => filters_overlap(&rule.filter, topic),
            };
            if hit {
                if !rule.allow {
                    return false;
                }
                allowed = Some(true);
            }
        }
        allowed.unwrap_or(device(client).is_none())
    }

    fn disposition(&self, client: &ClientInfo, publish: &Publish) -> Disposition {
        if device(client).is_some() && device_topics::parse_upload(&publish.topic).is_some() {
            Disposition::Consume
        } else {
            Disposition::Route
        }
    }

    fn consume(&self, client: ClientInfo, publish: Publish, reply: Reply<PublishResult>) {
        let Some(identity) = device(&client).map(|d| d.identity) else {
            reply.send(Err(ReasonCode::NotAuthorized));
            return;
        };
        let platform = self.platform.clone();
        let broker = Arc::clone(&self.broker);
        self.runtime.spawn(async move {
            let result = match device_topics::parse_upload(&publish.topic) {
                Some(Upload::Telemetry) => {
                    store_upload(&platform, identity, &publish.payload, false).await
                }
                Some(Upload::Attributes) => {
                    store_upload(&platform, identity, &publish.payload, true).await
                }
                Some(Upload::RpcResponse(id)) => {
                    // Firmware answers with JSON as a rule; anything else is kept as text.
                    let answer = serde_json::from_slice(&publish.payload).unwrap_or_else(|_| {
                        Value::String(String::from_utf8_lossy(&publish.payload).into_owned())
                    });
                    match platform.rpc_response(&identity, id, answer).await {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            tracing::debug!(device = %identity.device_id, id, error = %e, "RPC answer refused");
                            Err(reason_for(&e))
                        }
                    }
                }
                Some(Upload::Shadow { name, op }) => {
                    let replies = shadow_request(&platform, &identity, name, op, &publish.payload)
                        .await;
                    if let Some(handle) = broker.get() {
                        let (outcome, payload) = replies;
                        let topic = format!(
                            "{}{}/{}/{}/{outcome}",
                            strata_broker::PRIVATE_PREFIX,
                            identity.device_id,
                            device_topics::shadow_topic(name),
                            op.as_str()
                        );
                        handle.publish(Publish::new(topic, QoS::AtLeastOnce, payload.to_string()));
                    }
                    // The answer (accepted or rejected) is on the reply topic.
                    Ok(())
                }
                None => Err(ReasonCode::TopicNameInvalid),
            };
            reply.send(result);
        });
    }

    fn mount(&self, client: &ClientInfo, filter: &str) -> Option<String> {
        let device = device(client)?;
        filter.starts_with(DEVICE_PREFIX).then(|| {
            format!(
                "{}{}/{filter}",
                strata_broker::PRIVATE_PREFIX,
                device.identity.device_id
            )
        })
    }

    fn session_owner(&self, client: &ClientInfo) -> Option<String> {
        device(client).map(|d| format!("device:{}", d.identity.device_id))
    }

    fn connected(&self, client: &ClientInfo) {
        if let Some(device) = device(client) {
            self.platform.device_connected(&device.identity);
        }
    }

    fn disconnected(&self, client: &ClientInfo) {
        if let Some(device) = device(client) {
            self.platform.device_disconnected(&device.identity);
        }
    }

    fn subscribed(&self, client: &ClientInfo, filters: &[String]) {
        let Some(device) = device(client) else {
            return;
        };
        let rpc = filters.iter().any(|f| device_topics::receives_rpc(f));
        let deltas = filters.iter().any(|f| device_topics::receives_deltas(f));
        if !rpc && !deltas {
            return;
        }
        // Reachable now: hand over what waited for the device.
        let platform = self.platform.clone();
        let identity = device.identity;
        self.runtime.spawn(async move {
            if rpc && let Err(e) = platform.deliver_queued_rpc(&identity).await {
                tracing::warn!(device = %identity.device_id, error = %e, "queued RPC not delivered");
            }
            if deltas && let Err(e) = platform.send_pending_deltas(&identity).await {
                tracing::warn!(device = %identity.device_id, error = %e, "shadow delta not sent");
            }
        });
    }
}

/// Stores telemetry or attributes; the result is the acknowledgement's.
async fn store_upload(
    platform: &Platform,
    identity: DeviceIdentity,
    payload: &[u8],
    attributes: bool,
) -> PublishResult {
    let payload = match serde_json::from_slice::<Value>(payload) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(device = %identity.device_id, error = %e, "upload is not JSON");
            metrics_reject("invalid_json");
            return Err(ReasonCode::PayloadFormatInvalid);
        }
    };
    let stored = if attributes {
        platform.set_client_attributes(&identity, payload).await
    } else {
        platform.ingest_json(&identity, payload, "mqtt").await
    };
    stored.map(|_| ()).map_err(|e| {
        tracing::debug!(device = %identity.device_id, error = %e, "upload refused");
        metrics_reject(e.code.as_str());
        reason_for(&e)
    })
}

/// The MQTT 5 reason code for a refused upload.
fn reason_for(e: &PlatformError) -> ReasonCode {
    match e.code {
        ErrorCode::InvalidPayload | ErrorCode::InvalidJson => ReasonCode::PayloadFormatInvalid,
        // Not stored, but could be later: the broker disconnects without an
        // acknowledgement, so the client sends it again.
        ErrorCode::Unavailable => ReasonCode::ServerUnavailable,
        ErrorCode::NotFound | ErrorCode::Conflict => ReasonCode::ImplementationSpecificError,
        ErrorCode::PayloadTooLarge => ReasonCode::QuotaExceeded,
        _ => ReasonCode::UnspecifiedError,
    }
}

/// Handles a shadow request; returns `accepted` or `rejected` and the reply payload.
async fn shadow_request(
    platform: &Platform,
    identity: &DeviceIdentity,
    name: &str,
    op: ShadowOp,
    payload: &[u8],
) -> (&'static str, Value) {
    platform.device_seen(identity);
    // Get and delete take an empty payload or `{"clientToken": "..."}`.
    let body: Option<Value> = if payload.is_empty() {
        None
    } else {
        match serde_json::from_slice(payload) {
            Ok(v) => Some(v),
            Err(e) => {
                let e = PlatformError::new(ErrorCode::InvalidJson, format!("not JSON: {e}"));
                return ("rejected", rejection(&e, None));
            }
        }
    };
    let token = body
        .as_ref()
        .and_then(|b| b.get("clientToken"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let result = match op {
        ShadowOp::Get => platform
            .device_shadow(identity, name)
            .await
            .map(|s| s.to_json()),
        ShadowOp::Delete => platform
            .device_delete_shadow(identity, name)
            .await
            .map(|()| json!({"timestamp": strata_platform::now_millis()})),
        ShadowOp::Update => match ShadowUpdate::parse(body.unwrap_or(Value::Null)) {
            Ok(update) => platform
                .apply_shadow_update(identity, name, &update)
                .await
                .map(|s| s.to_json()),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(mut answer) => {
            if let Some(token) = token {
                answer["clientToken"] = Value::String(token);
            }
            ("accepted", answer)
        }
        Err(e) => ("rejected", rejection(&e, token)),
    }
}

/// A rejected shadow request: `{"code": HTTP-like status, "message", "clientToken"?}`.
fn rejection(e: &PlatformError, token: Option<String>) -> Value {
    let code = match e.code {
        ErrorCode::InvalidJson | ErrorCode::InvalidPayload | ErrorCode::InvalidParameter => 400,
        ErrorCode::NotFound => 404,
        ErrorCode::Conflict => 409,
        ErrorCode::PayloadTooLarge => 413,
        ErrorCode::Unavailable => 503,
        _ => 500,
    };
    let mut body = json!({
        "code": code,
        "error": e.code.as_str(),
        "message": e.message,
        "timestamp": strata_platform::now_millis(),
    });
    if let Some(token) = token {
        body["clientToken"] = Value::String(token);
    }
    body
}

/// Publishes what `mqtt` rule actions route.
pub(crate) struct MqttRepublisher {
    pub(crate) broker: BrokerHandle,
}

impl strata_platform::rules::Republisher for MqttRepublisher {
    fn publish(&self, topic: String, payload: Vec<u8>, qos: u8, retain: bool) {
        if topic.starts_with('$') || topic.contains(['+', '#']) {
            return;
        }
        let qos = if qos == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        let mut message = Publish::new(topic, qos, payload);
        message.retain = retain;
        self.broker.publish(message);
    }
}

/// Reaches devices over their MQTT sessions: a message goes to the device's private
/// namespace, and only if a session of the device subscribes to its topic (a persistent
/// session that is offline counts: the broker queues it).
pub(crate) struct MqttLink {
    pub(crate) broker: BrokerHandle,
}

impl DeviceLink for MqttLink {
    fn send(&self, device: &DeviceIdentity, message: &Downlink) -> bool {
        let (topic, payload) = match message {
            Downlink::RpcRequest { id, method, params } => (
                device_topics::rpc_request_topic(*id),
                json!({"method": method, "params": params}),
            ),
            Downlink::ShadowDelta {
                shadow,
                version,
                timestamp,
                delta,
                metadata,
            } => (
                format!("{}/update/delta", device_topics::shadow_topic(shadow)),
                strata_platform::shadow::delta_json(*version, *timestamp, delta, metadata),
            ),
        };
        let topic = format!(
            "{}{}/{topic}",
            strata_broker::PRIVATE_PREFIX,
            device.device_id
        );
        if !self.broker.has_subscribers(&topic) {
            return false;
        }
        self.broker
            .publish(Publish::new(topic, QoS::AtLeastOnce, payload.to_string()));
        true
    }

    fn disconnect(&self, device: &DeviceIdentity) {
        let owner = format!("device:{}", device.device_id);
        let n = self
            .broker
            .disconnect_owner(&owner, ReasonCode::AdministrativeAction);
        if n > 0 {
            tracing::info!(device = %device.device_id, connections = n, "device disconnected: its credentials changed");
        }
    }

    fn forget(&self, device: &DeviceIdentity) {
        let owner = format!("device:{}", device.device_id);
        let n = self
            .broker
            .end_sessions_of_owner(&owner, ReasonCode::AdministrativeAction);
        tracing::info!(device = %device.device_id, connections = n, "device deleted: its MQTT sessions ended");
    }
}

fn acl_action_matches(rule: AclAction, action: Action) -> bool {
    matches!(
        (rule, action),
        (AclAction::All, _)
            | (AclAction::Publish, Action::Publish)
            | (AclAction::Subscribe, Action::Subscribe)
    )
}

/// Drops a `$share/{group}/` prefix.
fn plain_filter(filter: &str) -> &str {
    match filter.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or("", |(_, f)| f),
        None => filter,
    }
}

/// Whether every topic `inner` matches is also matched by `outer`.
fn filter_covers(outer: &str, inner: &str) -> bool {
    let mut o = outer.split('/');
    let mut i = plain_filter(inner).split('/');
    loop {
        match (o.next(), i.next()) {
            (Some("#"), _) => return true,
            (None, None) => return true,
            (Some("+"), Some(level)) if level != "#" => {}
            (Some(a), Some(b)) if a == b && a != "+" && a != "#" => {}
            _ => return false,
        }
    }
}

/// Whether some topic is matched by both filters.
fn filters_overlap(a: &str, b: &str) -> bool {
    let mut x = a.split('/');
    let mut y = plain_filter(b).split('/');
    loop {
        match (x.next(), y.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (None, None) => return true,
            (Some("+"), Some(_)) | (Some(_), Some("+")) => {}
            (Some(p), Some(q)) if p == q => {}
            _ => return false,
        }
    }
}

/// Whether a subscription filter (possibly `$share/{group}/...`) names the device API.
///
/// Wildcard filters such as `#` stay allowed: device API topics are never routed between
/// clients (see `authorize`), so they can never deliver a device's traffic.
fn filter_names_device_api(filter: &str) -> bool {
    let filter = match filter.strip_prefix("$share/") {
        Some(rest) => rest.split_once('/').map_or("", |(_, f)| f),
        None => filter,
    };
    filter.starts_with(DEVICE_PREFIX)
}

/// The broker's persisted state from the store's rows.
pub(crate) fn from_store(state: strata_store::MqttState) -> strata_broker::PersistedState {
    strata_broker::PersistedState {
        sessions: state
            .sessions
            .into_iter()
            .map(|s| strata_broker::PersistedSession {
                client_id: s.client_id,
                expiry_secs: s.expiry_secs,
                expires_at_ms: s.expires_at.and_then(|at| u64::try_from(at).ok()),
                state: s.state,
                owner: s.owner,
            })
            .collect(),
        retained: state.retained,
    }
}

/// The store's rows for the broker's persisted state.
pub(crate) fn to_store(state: strata_broker::PersistedState) -> strata_store::MqttState {
    strata_store::MqttState {
        sessions: state
            .sessions
            .into_iter()
            .map(|s| strata_store::MqttSessionRow {
                client_id: s.client_id,
                expiry_secs: s.expiry_secs,
                expires_at: s.expires_at_ms.and_then(|at| i64::try_from(at).ok()),
                state: s.state,
                owner: s.owner,
            })
            .collect(),
        retained: state.retained,
    }
}

/// Saves the broker's sessions and retained messages whenever they changed, at most once
/// per `interval`, so a crash loses at most that much of them (a clean stop saves all).
pub(crate) async fn save_periodically(
    handle: strata_broker::BrokerHandle,
    platform: Platform,
    interval: std::time::Duration,
) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_change = 0;
    loop {
        tick.tick().await;
        let reader = handle.clone();
        let mut seen = last_change;
        // The snapshot holds the router lock while it encodes: off the async workers.
        let Ok((snapshot, seen)) = tokio::task::spawn_blocking(move || {
            let s = reader.snapshot_if_changed(&mut seen);
            (s, seen)
        })
        .await
        else {
            continue;
        };
        last_change = seen;
        if let Some(state) = snapshot
            && let Err(e) = platform.store().save_mqtt_state(to_store(state)).await
        {
            tracing::warn!(error = %e, "cannot save the MQTT sessions; will try again");
            // Force a new attempt at the next tick.
            last_change = last_change.wrapping_sub(1);
        }
    }
}

fn metrics_reject(code: &str) {
    metrics::counter!("strata_ingest_rejected_total", "transport" => "mqtt", "code" => code.to_string())
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::filter_names_device_api as names;

    #[test]
    fn filters_naming_the_device_api_are_recognised() {
        for f in [
            "v1/devices/me/#",
            "v1/devices/me/attributes",
            "$share/g/v1/devices/me/#",
            "$share/g/v1/devices/me/telemetry",
        ] {
            assert!(names(f), "{f}");
        }
        for f in [
            "#",
            "+/devices/me/#",
            "v1/devices/me",
            "sensors/#",
            "$share/g",
            "$share/g/#",
        ] {
            assert!(!names(f), "{f}");
        }
    }
}
