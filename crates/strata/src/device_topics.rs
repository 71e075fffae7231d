//! The MQTT device API's topic scheme (`v1/devices/me/...`), in one place.
//!
//! | direction | topic | payload |
//! |---|---|---|
//! | up | `v1/devices/me/telemetry` | telemetry JSON, as over HTTP |
//! | up | `v1/devices/me/attributes` | client attributes, a JSON object |
//! | down | `v1/devices/me/rpc/request/{id}` | `{"method": "...", "params": ...}` |
//! | up | `v1/devices/me/rpc/response/{id}` | the answer (JSON; other text is kept as a string) |
//! | up | `{shadow}/get`, `{shadow}/update`, `{shadow}/delete` | update: `{"state": {...}, "version"?, "clientToken"?}` |
//! | down | `{shadow}/{get,update,delete}/accepted`, `.../rejected` | the document / `{"code", "message"}` |
//! | down | `{shadow}/update/delta` | `{"state": delta, "metadata", "version", "timestamp"}` |
//!
//! `{shadow}` is `v1/devices/me/shadow` for the classic shadow (named `default`) and
//! `v1/devices/me/shadow/name/{name}` for a named one. The telemetry, attributes and RPC
//! topics are ThingsBoard's, so existing firmware works unchanged; the shadow topics follow
//! AWS IoT's.

/// Prefix of every device API topic.
pub(crate) const DEVICE_PREFIX: &str = "v1/devices/me/";
const SHADOW_PREFIX: &str = "v1/devices/me/shadow";
const RPC_REQUEST_PREFIX: &str = "v1/devices/me/rpc/request/";
const RPC_RESPONSE_PREFIX: &str = "v1/devices/me/rpc/response/";

/// What a shadow request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShadowOp {
    Get,
    Update,
    Delete,
}

impl ShadowOp {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ShadowOp::Get => "get",
            ShadowOp::Update => "update",
            ShadowOp::Delete => "delete",
        }
    }
}

/// A topic a device publishes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Upload<'a> {
    Telemetry,
    Attributes,
    RpcResponse(i64),
    Shadow { name: &'a str, op: ShadowOp },
}

/// Parses a topic a device publishes to; `None` for anything else.
pub(crate) fn parse_upload(topic: &str) -> Option<Upload<'_>> {
    let rest = topic.strip_prefix(DEVICE_PREFIX)?;
    match rest {
        "telemetry" => return Some(Upload::Telemetry),
        "attributes" => return Some(Upload::Attributes),
        _ => {}
    }
    if let Some(id) = topic.strip_prefix(RPC_RESPONSE_PREFIX) {
        return id
            .parse()
            .ok()
            .filter(|id| *id > 0)
            .map(Upload::RpcResponse);
    }
    let rest = topic.strip_prefix(SHADOW_PREFIX)?.strip_prefix('/')?;
    let (name, op) = match rest.strip_prefix("name/") {
        Some(named) => named.split_once('/')?,
        None => (strata_platform::shadow::DEFAULT_SHADOW, rest),
    };
    let op = match op {
        "get" => ShadowOp::Get,
        "update" => ShadowOp::Update,
        "delete" => ShadowOp::Delete,
        _ => return None,
    };
    strata_platform::shadow::check_name(name).ok()?;
    Some(Upload::Shadow { name, op })
}

/// The topic prefix of a shadow's requests and replies.
pub(crate) fn shadow_topic(name: &str) -> String {
    if name == strata_platform::shadow::DEFAULT_SHADOW {
        SHADOW_PREFIX.to_string()
    } else {
        format!("{SHADOW_PREFIX}/name/{name}")
    }
}

/// The topic an RPC request is sent on.
pub(crate) fn rpc_request_topic(id: i64) -> String {
    format!("{RPC_REQUEST_PREFIX}{id}")
}

/// Whether a subscription filter receives RPC requests.
pub(crate) fn receives_rpc(filter: &str) -> bool {
    strata_broker::proto::topic::matches(filter, &rpc_request_topic(1))
}

/// Whether a subscription filter may receive shadow deltas.
pub(crate) fn receives_deltas(filter: &str) -> bool {
    filter.starts_with(SHADOW_PREFIX) || filter == "v1/devices/me/#" || filter == "v1/devices/+/#"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_recognised() {
        assert_eq!(
            parse_upload("v1/devices/me/telemetry"),
            Some(Upload::Telemetry)
        );
        assert_eq!(
            parse_upload("v1/devices/me/rpc/response/42"),
            Some(Upload::RpcResponse(42))
        );
        assert_eq!(
            parse_upload("v1/devices/me/shadow/update"),
            Some(Upload::Shadow {
                name: "default",
                op: ShadowOp::Update
            })
        );
        assert_eq!(
            parse_upload("v1/devices/me/shadow/name/cfg-1/get"),
            Some(Upload::Shadow {
                name: "cfg-1",
                op: ShadowOp::Get
            })
        );
        for topic in [
            "v1/devices/me/rpc/response/x",
            "v1/devices/me/rpc/response/0",
            "v1/devices/me/rpc/request/1",
            "v1/devices/me/shadow/update/accepted",
            "v1/devices/me/shadow/name//get",
            "v1/devices/me/shadow/name/a b/get",
            "v1/devices/me/shadow",
            "v1/devices/me/other",
            "v1/devices/other/telemetry",
        ] {
            assert_eq!(parse_upload(topic), None, "{topic}");
        }
    }

    #[test]
    fn filters_for_requests_and_deltas() {
        assert!(receives_rpc("v1/devices/me/rpc/request/+"));
        assert!(receives_rpc("v1/devices/me/#"));
        assert!(!receives_rpc("v1/devices/me/rpc/response/+"));
        assert!(receives_deltas("v1/devices/me/shadow/update/delta"));
        assert!(receives_deltas("v1/devices/me/shadow/name/+/update/delta"));
        assert!(!receives_deltas("v1/devices/me/rpc/request/+"));
    }
}
