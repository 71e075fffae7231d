//! The shadow document and its rules, with no storage: JSON merge of partial updates (a
//! `null` deletes), per-field timestamps, and the delta between desired and reported.

use serde_json::{Map, Value};

use crate::PlatformError;

/// Largest shadow document (desired, reported and metadata, as JSON text).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Deepest nesting of objects inside `desired` or `reported`.
pub const MAX_DEPTH: usize = 8;
/// Longest `clientToken`.
const MAX_CLIENT_TOKEN: usize = 64;

/// A shadow's state: what the device should have (`desired`), what it says it has
/// (`reported`), and when each field was last set (`metadata`, same shape, leaves
/// `{"timestamp": ms}`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShadowState {
    /// Desired state.
    #[serde(default)]
    pub desired: Map<String, Value>,
    /// Reported state.
    #[serde(default)]
    pub reported: Map<String, Value>,
    /// Per-field timestamps of `desired`.
    #[serde(default)]
    pub desired_metadata: Map<String, Value>,
    /// Per-field timestamps of `reported`.
    #[serde(default)]
    pub reported_metadata: Map<String, Value>,
}

/// A parsed update request: `{"state": {"desired": {...}, "reported": {...}}, "version": n,
/// "clientToken": "..."}`. Either section may be `null` to clear it.
#[derive(Debug, Clone, PartialEq)]
pub struct ShadowUpdate {
    /// Patch for `desired`: `None` leaves it, `Some(Null)` clears it, an object merges.
    pub desired: Option<Value>,
    /// Patch for `reported`, as for `desired`.
    pub reported: Option<Value>,
    /// The version the update was made against; a different current version refuses it.
    pub version: Option<i64>,
    /// Echoed in the answer so a device can match replies to requests.
    pub client_token: Option<String>,
}

impl ShadowUpdate {
    /// Parses and checks an update request.
    pub fn parse(body: Value) -> Result<Self, PlatformError> {
        let Value::Object(mut body) = body else {
            return Err(PlatformError::invalid(
                "a shadow update is a JSON object like {\"state\":{\"desired\":{\"led\":\"on\"}}}",
            ));
        };
        let client_token = match body.remove("clientToken") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) if t.len() <= MAX_CLIENT_TOKEN => Some(t),
            Some(_) => {
                return Err(PlatformError::invalid(format!(
                    "`clientToken` must be a string of at most {MAX_CLIENT_TOKEN} bytes"
                )));
            }
        };
        let version = match body.remove("version") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_i64().filter(|v| *v >= 0).ok_or_else(|| {
                PlatformError::invalid("`version` must be a non-negative integer")
            })?),
            Some(_) => {
                return Err(PlatformError::invalid(
                    "`version` must be a non-negative integer",
                ));
            }
        };
        let Some(Value::Object(mut state)) = body.remove("state") else {
            return Err(PlatformError::invalid(
                "a shadow update needs a `state` object with `desired` and/or `reported`",
            ));
        };
        if let Some(key) = body.keys().next() {
            return Err(PlatformError::invalid(format!(
                "unknown field `{key}` in a shadow update (allowed: state, version, clientToken)"
            )));
        }
        let mut section = |name: &str| -> Result<Option<Value>, PlatformError> {
            match state.remove(name) {
                None => Ok(None),
                Some(v @ Value::Null) => Ok(Some(v)),
                Some(v @ Value::Object(_)) => {
                    if depth(&v) > MAX_DEPTH {
                        return Err(PlatformError::invalid(format!(
                            "`state.{name}` nests deeper than {MAX_DEPTH} levels"
                        )));
                    }
                    Ok(Some(v))
                }
                Some(_) => Err(PlatformError::invalid(format!(
                    "`state.{name}` must be an object (or null to clear it)"
                ))),
            }
        };
        let desired = section("desired")?;
        let reported = section("reported")?;
        if let Some(key) = state.keys().next() {
            return Err(PlatformError::invalid(format!(
                "unknown section `state.{key}` (allowed: desired, reported; `delta` is computed)"
            )));
        }
        if desired.is_none() && reported.is_none() {
            return Err(PlatformError::invalid(
                "`state` must have `desired` and/or `reported`",
            ));
        }
        Ok(Self {
            desired,
            reported,
            version,
            client_token,
        })
    }
}

impl ShadowState {
    /// Applies an update made at `now`.
    pub fn apply(&mut self, update: &ShadowUpdate, now: i64) {
        if let Some(patch) = &update.desired {
            apply_section(&mut self.desired, &mut self.desired_metadata, patch, now);
        }
        if let Some(patch) = &update.reported {
            apply_section(&mut self.reported, &mut self.reported_metadata, patch, now);
        }
    }

    /// The fields of `desired` that `reported` does not match (recursing into objects), or
    /// `None` when the device has what is desired.
    pub fn delta(&self) -> Option<Map<String, Value>> {
        delta(&self.desired, &self.reported)
    }

    /// The timestamps of the fields in `delta`.
    pub fn delta_metadata(&self, delta: &Map<String, Value>) -> Map<String, Value> {
        pick(&self.desired_metadata, delta)
    }
}

fn apply_section(
    target: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
    patch: &Value,
    now: i64,
) {
    match patch {
        Value::Object(patch) => merge(target, metadata, patch, now),
        _ => {
            target.clear();
            metadata.clear();
        }
    }
}

/// RFC 7386 JSON merge patch, recording when each field was set.
fn merge(
    target: &mut Map<String, Value>,
    metadata: &mut Map<String, Value>,
    patch: &Map<String, Value>,
    now: i64,
) {
    for (key, value) in patch {
        match value {
            Value::Null => {
                target.remove(key);
                metadata.remove(key);
            }
            Value::Object(inner) => {
                let slot = target
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                let meta = metadata
                    .entry(key.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !meta.is_object() || meta.get("timestamp").is_some() {
                    *meta = Value::Object(Map::new());
                }
                if let (Value::Object(slot), Value::Object(meta)) = (slot, meta) {
                    merge(slot, meta, inner, now);
                }
            }
            leaf => {
                target.insert(key.clone(), leaf.clone());
                metadata.insert(key.clone(), serde_json::json!({ "timestamp": now }));
            }
        }
    }
}

fn delta(
    desired: &Map<String, Value>,
    reported: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (key, want) in desired {
        match (want, reported.get(key)) {
            (Value::Object(want), Some(Value::Object(have))) => {
                if let Some(inner) = delta(want, have) {
                    out.insert(key.clone(), Value::Object(inner));
                }
            }
            (want, Some(have)) if want == have => {}
            (want, _) => {
                out.insert(key.clone(), want.clone());
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The part of `metadata` whose keys appear in `shape`.
fn pick(metadata: &Map<String, Value>, shape: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in shape {
        let Some(meta) = metadata.get(key) else {
            continue;
        };
        match (value, meta) {
            (Value::Object(inner), Value::Object(meta)) if meta.get("timestamp").is_none() => {
                out.insert(key.clone(), Value::Object(pick(meta, inner)));
            }
            _ => {
                out.insert(key.clone(), meta.clone());
            }
        }
    }
    out
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn update(body: Value) -> ShadowUpdate {
        ShadowUpdate::parse(body).unwrap()
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn merge_sets_nested_fields_and_null_deletes() {
        let mut s = ShadowState::default();
        s.apply(
            &update(json!({"state":{"desired":{"led":"on","cfg":{"rate":5,"mode":"a"}}}})),
            10,
        );
        s.apply(
            &update(json!({"state":{"desired":{"cfg":{"mode":null,"gain":2},"led":null}}})),
            20,
        );
        assert_eq!(s.desired, obj(json!({"cfg":{"rate":5,"gain":2}})));
        assert_eq!(
            s.desired_metadata,
            obj(json!({"cfg":{"rate":{"timestamp":10},"gain":{"timestamp":20}}}))
        );
        s.apply(&update(json!({"state":{"desired":null}})), 30);
        assert!(s.desired.is_empty() && s.desired_metadata.is_empty());
    }

    #[test]
    fn a_leaf_replaced_by_an_object_and_back() {
        let mut s = ShadowState::default();
        s.apply(&update(json!({"state":{"reported":{"x":1}}})), 1);
        s.apply(&update(json!({"state":{"reported":{"x":{"y":2}}}})), 2);
        assert_eq!(s.reported, obj(json!({"x":{"y":2}})));
        assert_eq!(s.reported_metadata, obj(json!({"x":{"y":{"timestamp":2}}})));
        s.apply(&update(json!({"state":{"reported":{"x":[1,2]}}})), 3);
        assert_eq!(s.reported_metadata, obj(json!({"x":{"timestamp":3}})));
    }

    #[test]
    fn delta_holds_only_what_differs() {
        let mut s = ShadowState::default();
        s.apply(
            &update(json!({"state":{
                "desired":{"led":"on","cfg":{"rate":5,"mode":"a"},"list":[1,2]},
                "reported":{"led":"on","cfg":{"rate":4,"mode":"a"},"list":[1]}}})),
            7,
        );
        let d = s.delta().unwrap();
        assert_eq!(d, obj(json!({"cfg":{"rate":5},"list":[1,2]})));
        assert_eq!(
            s.delta_metadata(&d),
            obj(json!({"cfg":{"rate":{"timestamp":7}},"list":{"timestamp":7}}))
        );
        s.apply(
            &update(json!({"state":{"reported":{"cfg":{"rate":5},"list":[1,2]}}})),
            8,
        );
        assert_eq!(s.delta(), None);
    }

    #[test]
    fn bad_updates_are_refused_with_a_reason() {
        for (body, needle) in [
            (json!([1]), "JSON object"),
            (json!({"state": 1}), "`state` object"),
            (json!({"state": {}}), "desired` and/or"),
            (json!({"state": {"desired": 5}}), "must be an object"),
            (json!({"state": {"delta": {}}}), "computed"),
            (
                json!({"state": {"desired": {}}, "version": -1}),
                "non-negative",
            ),
            (
                json!({"state": {"desired": {}}, "version": "3"}),
                "non-negative",
            ),
            (
                json!({"state": {"desired": {}}, "extra": 1}),
                "unknown field",
            ),
            (
                json!({"state": {"desired": {}}, "clientToken": 5}),
                "clientToken",
            ),
            (
                json!({"state": {"desired": {"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}}}}),
                "deeper",
            ),
        ] {
            let err = ShadowUpdate::parse(body.clone()).unwrap_err();
            assert!(err.message.contains(needle), "{body}: {}", err.message);
        }
        let ok = update(json!({"state":{"reported":null},"version":3,"clientToken":"abc"}));
        assert_eq!(ok.version, Some(3));
        assert_eq!(ok.client_token.as_deref(), Some("abc"));
        assert_eq!(ok.reported, Some(Value::Null));
    }
}
