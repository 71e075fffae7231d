//! What a rule is: its definition as stored and exchanged (JSON), and its checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::PlatformError;

/// What sets a rule off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Telemetry stored (once per timestamp in the upload); `msg` holds the values.
    Telemetry,
    /// Client attributes set; `msg` holds them.
    Attributes,
    /// A shadow updated; `msg` is the shadow document.
    Shadow,
    /// A device connected (MQTT).
    Connect,
    /// A device disconnected (MQTT).
    Disconnect,
    /// A device was not heard from for the rule's `inactivity_ms`.
    Inactivity,
    /// An alarm was created, updated, acknowledged or cleared; `msg` is
    /// `{"change": ..., "alarm": {...}}`.
    Alarm,
}

impl Trigger {
    /// The name in definitions and in `meta.trigger`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Telemetry => "telemetry",
            Self::Attributes => "attributes",
            Self::Shadow => "shadow",
            Self::Connect => "connect",
            Self::Disconnect => "disconnect",
            Self::Inactivity => "inactivity",
            Self::Alarm => "alarm",
        }
    }
}

/// One thing a rule does with a message that passed its filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Stores the (transformed) message as telemetry of the device.
    Store,
    /// Publishes the message envelope on an MQTT topic of this broker.
    Mqtt {
        /// Topic; may use `{device_name}`, `{device_id}`, `{device_type}`, `{trigger}`,
        /// `{rule}`.
        topic: String,
        /// 0 or 1 (default 1).
        #[serde(default = "one")]
        qos: u8,
        /// Retain it.
        #[serde(default)]
        retain: bool,
    },
    /// POSTs the message envelope as JSON to a URL (retried with back-off).
    Webhook {
        /// `http://` or `https://` URL.
        url: String,
        /// Extra request headers (e.g. authorization).
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// Publishes the envelope to an AMQP 0-9-1 broker such as RabbitMQ, with publisher
    /// confirms (retried with back-off).
    Amqp {
        /// `amqp://user:password@host:port/vhost`.
        url: String,
        /// Exchange (empty: the default exchange, where the routing key names a queue).
        #[serde(default)]
        exchange: String,
        /// Routing key; may use the placeholders of `mqtt.topic`.
        routing_key: String,
    },
    /// Sends an e-mail through the server in `[smtp]` (retried with back-off).
    Email {
        /// Recipients.
        to: Vec<String>,
        /// Subject; may use the placeholders of `mqtt.topic`.
        subject: String,
    },
    /// Raises an alarm on the device (one open alarm per type and device).
    CreateAlarm {
        /// Alarm type.
        alarm_type: String,
        /// `critical`, `major`, `minor`, `warning` or `indeterminate`.
        severity: String,
    },
    /// Clears the device's open alarm of a type.
    ClearAlarm {
        /// Alarm type.
        alarm_type: String,
    },
    /// Sends a persistent one-way RPC call to the device.
    Rpc {
        /// Method.
        method: String,
        /// Parameters; the (transformed) message when absent.
        #[serde(default)]
        params: Option<Value>,
        /// Lifetime of the call, ms (default one hour).
        #[serde(default)]
        expiry_ms: Option<u64>,
    },
}

fn one() -> u8 {
    1
}

fn yes() -> bool {
    true
}

/// A rule as defined by a person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Name, unique in the tenant.
    pub name: String,
    /// Switched on (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// What sets it off.
    pub trigger: Trigger,
    /// A Rhai expression over `msg` and `meta` that must be true (default: always).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The filter must hold for at least this long (ms) on a device before the actions
    /// run, once per stretch ("temperature above 30 for 60 s").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_ms: Option<u64>,
    /// For the `inactivity` trigger: how long a device must be silent (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inactivity_ms: Option<u64>,
    /// A Rhai script computing the message the actions get (default: the message as is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<String>,
    /// What to do (at least one).
    pub actions: Vec<Action>,
}

/// Placeholders a template may use.
pub(crate) const PLACEHOLDERS: [&str; 5] =
    ["device_name", "device_id", "device_type", "trigger", "rule"];

/// Checks the parts of a rule that need no compiling.
pub(crate) fn check(spec: &RuleSpec) -> Result<(), PlatformError> {
    if spec.name.trim().is_empty() || spec.name.len() > 128 {
        return Err(PlatformError::invalid(
            "a rule name has 1 to 128 characters",
        ));
    }
    if spec.actions.is_empty() {
        return Err(PlatformError::invalid(
            "a rule needs at least one action (store, mqtt, webhook, amqp, email, \
             create_alarm, clear_alarm, rpc)",
        ));
    }
    if spec.actions.len() > 16 {
        return Err(PlatformError::invalid("a rule has at most 16 actions"));
    }
    match (spec.trigger, spec.inactivity_ms) {
        (Trigger::Inactivity, None | Some(0)) => {
            return Err(PlatformError::invalid(
                "an `inactivity` rule needs `inactivity_ms` (how long a device must be silent)",
            ));
        }
        (Trigger::Inactivity, Some(_)) | (_, None) => {}
        (_, Some(_)) => {
            return Err(PlatformError::invalid(
                "`inactivity_ms` applies to the `inactivity` trigger only",
            ));
        }
    }
    if spec.for_ms == Some(0) {
        return Err(PlatformError::invalid("`for_ms` must be at least 1"));
    }
    for action in &spec.actions {
        check_action(spec, action)?;
    }
    Ok(())
}

fn check_action(spec: &RuleSpec, action: &Action) -> Result<(), PlatformError> {
    match action {
        Action::Store => {
            if !matches!(spec.trigger, Trigger::Telemetry | Trigger::Attributes) {
                return Err(PlatformError::invalid(
                    "the `store` action needs a telemetry or attributes trigger",
                ));
            }
        }
        Action::Mqtt { topic, qos, .. } => {
            check_template("mqtt.topic", topic)?;
            if topic.starts_with('$') || topic.contains(['+', '#']) || topic.is_empty() {
                return Err(PlatformError::invalid(
                    "`mqtt.topic` must be a plain topic name (no wildcards, not starting with $)",
                ));
            }
            if *qos > 1 {
                return Err(PlatformError::invalid("`mqtt.qos` is 0 or 1"));
            }
        }
        Action::Webhook { url, .. } => {
            let parsed = reqwest::Url::parse(url).map_err(|e| {
                PlatformError::invalid(format!("`webhook.url` is not a URL ({e}): {url:?}"))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(PlatformError::invalid(
                    "`webhook.url` must be an http:// or https:// URL",
                ));
            }
        }
        Action::Amqp {
            url, routing_key, ..
        } => {
            if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
                return Err(PlatformError::invalid(
                    "`amqp.url` looks like amqp://user:password@host:5672/%2f",
                ));
            }
            check_template("amqp.routing_key", routing_key)?;
        }
        Action::Email { to, subject } => {
            if to.is_empty() {
                return Err(PlatformError::invalid(
                    "`email.to` needs at least one address",
                ));
            }
            for address in to {
                address.parse::<lettre::Address>().map_err(|e| {
                    PlatformError::invalid(format!(
                        "`email.to`: {address:?} is not an address: {e}"
                    ))
                })?;
            }
            check_template("email.subject", subject)?;
        }
        Action::CreateAlarm {
            alarm_type,
            severity,
        } => {
            if spec.trigger == Trigger::Alarm {
                return Err(PlatformError::invalid(
                    "a rule triggered by alarms cannot raise alarms (it would loop)",
                ));
            }
            crate::alarms::check_alarm(alarm_type, severity)?;
        }
        Action::ClearAlarm { alarm_type } => {
            if spec.trigger == Trigger::Alarm {
                return Err(PlatformError::invalid(
                    "a rule triggered by alarms cannot clear alarms (it would loop)",
                ));
            }
            crate::alarms::check_alarm(alarm_type, "indeterminate")?;
        }
        Action::Rpc { method, .. } => {
            if method.is_empty() || method.len() > 128 {
                return Err(PlatformError::invalid("`rpc.method` has 1 to 128 bytes"));
            }
        }
    }
    Ok(())
}

fn check_template(field: &str, template: &str) -> Result<(), PlatformError> {
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(PlatformError::invalid(format!(
                "`{field}`: a `{{` without its `}}`"
            )));
        };
        let name = &after[..end];
        if !PLACEHOLDERS.contains(&name) {
            return Err(PlatformError::invalid(format!(
                "`{field}`: unknown placeholder {{{name}}}; use one of {}",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
            )));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// Fills a template's placeholders.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> Result<RuleSpec, PlatformError> {
        let spec: RuleSpec =
            serde_json::from_value(v).map_err(|e| PlatformError::invalid(e.to_string()))?;
        check(&spec)?;
        Ok(spec)
    }

    #[test]
    fn good_rules_pass() {
        let s = spec(
            json!({"name": "hot", "trigger": "telemetry", "filter": "msg.t > 30",
            "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/x"},
                        {"type": "mqtt", "topic": "alerts/{device_name}"},
                        {"type": "create_alarm", "alarm_type": "Hot", "severity": "major"}]}),
        )
        .unwrap();
        assert!(s.enabled);
        assert_eq!(
            fill(
                "a/{device_name}/{rule}",
                &[("device_name", "d1"), ("rule", "r")]
            ),
            "a/d1/r"
        );
    }

    #[test]
    fn bad_rules_say_why() {
        for (v, needle) in [
            (
                json!({"name": "x", "trigger": "telemetry", "actions": []}),
                "at least one action",
            ),
            (
                json!({"name": "x", "trigger": "nope", "actions": [{"type": "store"}]}),
                "unknown variant",
            ),
            (
                json!({"name": "x", "trigger": "connect", "actions": [{"type": "store"}]}),
                "store",
            ),
            (
                json!({"name": "x", "trigger": "telemetry", "actions": [{"type": "mqtt", "topic": "a/#"}]}),
                "wildcards",
            ),
            (
                json!({"name": "x", "trigger": "telemetry", "actions": [{"type": "mqtt", "topic": "a/{nope}"}]}),
                "placeholder",
            ),
            (
                json!({"name": "x", "trigger": "telemetry", "actions": [{"type": "webhook", "url": "ftp://x"}]}),
                "http",
            ),
            (
                json!({"name": "x", "trigger": "telemetry", "actions": [{"type": "amqp", "url": "http://x", "routing_key": "k"}]}),
                "amqp://",
            ),
            (
                json!({"name": "x", "trigger": "telemetry", "actions": [{"type": "email", "to": ["nope"], "subject": "s"}]}),
                "not an address",
            ),
            (
                json!({"name": "x", "trigger": "alarm", "actions": [{"type": "create_alarm", "alarm_type": "A", "severity": "major"}]}),
                "loop",
            ),
            (
                json!({"name": "x", "trigger": "telemetry", "actions": [{"type": "create_alarm", "alarm_type": "A", "severity": "huge"}]}),
                "severity",
            ),
            (
                json!({"name": "x", "trigger": "inactivity", "actions": [{"type": "clear_alarm", "alarm_type": "A"}]}),
                "inactivity_ms",
            ),
            (
                json!({"name": "x", "trigger": "telemetry", "inactivity_ms": 5, "actions": [{"type": "store"}]}),
                "inactivity",
            ),
            (
                json!({"name": "x", "trigger": "telemetry", "actions": [{"type": "mqtt", "topic": "a", "extra": 1}]}),
                "unknown field",
            ),
        ] {
            let err = spec(v.clone()).expect_err(&v.to_string());
            assert!(err.message.contains(needle), "{v}: {}", err.message);
        }
    }
}
