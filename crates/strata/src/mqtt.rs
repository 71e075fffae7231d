//! Connects the MQTT broker to the platform: device tokens authenticate, the device API
//! topics feed telemetry ingest (acknowledged once durable), and topic access is checked.
//!
//! Device topics (ThingsBoard-compatible, so existing firmware works unchanged):
//! - `v1/devices/me/telemetry`: the same JSON shapes as the HTTP device API.
//!
//! A device authenticates with its access token as the MQTT user name (or as the password).

use std::sync::Arc;

use strata_broker::proto::ReasonCode;
use strata_broker::proto::packet::Publish;
use strata_broker::{
    Action, AuthDecision, AuthRequest, ClientInfo, Disposition, Hooks, PublishResult, Reply,
};
use strata_platform::{ErrorCode, Platform};
use strata_store::DeviceIdentity;

/// Prefix of the device API topics.
pub(crate) const DEVICE_PREFIX: &str = "v1/devices/me/";
/// Telemetry upload topic.
pub(crate) const TELEMETRY_TOPIC: &str = "v1/devices/me/telemetry";

pub(crate) struct PlatformHooks {
    pub(crate) platform: Platform,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) allow_anonymous: bool,
}

fn device(client: &ClientInfo) -> Option<&DeviceIdentity> {
    client.identity.as_ref()?.downcast_ref::<DeviceIdentity>()
}

impl Hooks for PlatformHooks {
    fn authenticate(&self, request: AuthRequest, reply: Reply<AuthDecision>) {
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
                        identity: Some(Arc::new(identity)),
                        anonymous: false,
                    });
                    return;
                }
            }
            reply.send(AuthDecision::Deny(ReasonCode::BadUserNameOrPassword));
        });
    }

    fn authorize(&self, client: &ClientInfo, action: Action, topic: &str) -> bool {
        let device_api = topic.starts_with(DEVICE_PREFIX);
        match device(client) {
            // A device uses its own device API; wider access comes with ACL rules (planned).
            Some(_) => match action {
                Action::Publish => device_api,
                Action::Subscribe => device_api && !topic.contains('#') && !topic.contains('+'),
            },
            // Anonymous clients (only when allowed) get plain pub/sub, never the device API.
            None => client.anonymous && !device_api && !topic.starts_with("$share/v1/devices/me"),
        }
    }

    fn disposition(&self, client: &ClientInfo, publish: &Publish) -> Disposition {
        if device(client).is_some() && publish.topic == TELEMETRY_TOPIC {
            Disposition::Consume
        } else {
            Disposition::Route
        }
    }

    fn consume(&self, client: ClientInfo, publish: Publish, reply: Reply<PublishResult>) {
        let Some(identity) = device(&client).copied() else {
            reply.send(Err(ReasonCode::NotAuthorized));
            return;
        };
        let payload = match serde_json::from_slice::<serde_json::Value>(&publish.payload) {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(device = %identity.device_id, error = %e, "telemetry is not JSON");
                metrics_reject("invalid_json");
                reply.send(Err(ReasonCode::PayloadFormatInvalid));
                return;
            }
        };
        let platform = self.platform.clone();
        self.runtime.spawn(async move {
            let result = match platform.ingest_json(&identity, payload, "mqtt").await {
                Ok(_) => Ok(()),
                Err(e) => {
                    tracing::debug!(device = %identity.device_id, error = %e, "telemetry refused");
                    metrics_reject(e.code.as_str());
                    Err(match e.code {
                        ErrorCode::InvalidPayload | ErrorCode::InvalidJson => {
                            ReasonCode::PayloadFormatInvalid
                        }
                        ErrorCode::Unavailable => ReasonCode::ServerUnavailable,
                        _ => ReasonCode::UnspecifiedError,
                    })
                }
            };
            reply.send(result);
        });
    }
}

fn metrics_reject(code: &str) {
    metrics::counter!("strata_ingest_rejected_total", "transport" => "mqtt", "code" => code.to_string())
        .increment(1);
}
