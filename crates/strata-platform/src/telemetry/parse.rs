//! Telemetry payloads: the JSON shapes devices send, checked before anything is stored.
//!
//! Accepted (the same shapes as ThingsBoard, so existing firmware can move over):
//! - `{"temp": 21.5, "on": true}`: values timestamped with the server's clock;
//! - `{"ts": 1700000000000, "values": {"temp": 21.5}}`: values at a device timestamp (ms);
//! - an array mixing both.
//!
//! Values may be numbers, booleans, strings, or any other JSON (objects and arrays, stored as
//! JSON). `null` is refused: it is not a measurement.

use serde_json::{Map, Value as Json};
use strata_store::{Millis, Value};

use crate::PlatformError;

/// 2000-01-01T00:00:00Z: earlier timestamps are almost always seconds sent as milliseconds.
pub const MIN_TIMESTAMP: Millis = 946_684_800_000;

/// Limits applied while parsing.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Now, in ms.
    pub now: Millis,
    /// Latest timestamp accepted.
    pub max_ts: Millis,
    /// Longest key in bytes.
    pub max_key_bytes: usize,
    /// Most points in one payload.
    pub max_points: usize,
}

/// One parsed value, not yet bound to a device.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedPoint {
    /// Key.
    pub key: String,
    /// Timestamp.
    pub ts: Millis,
    /// Value.
    pub value: Value,
}

/// Parses a payload that is already valid JSON.
pub fn parse_telemetry(payload: Json, limits: &Limits) -> Result<Vec<ParsedPoint>, PlatformError> {
    let mut out = Vec::new();
    match payload {
        Json::Array(items) => {
            if items.is_empty() {
                return Err(PlatformError::invalid(
                    "the array is empty: send at least one value",
                ));
            }
            for (index, item) in items.into_iter().enumerate() {
                match item {
                    Json::Object(map) => parse_object(map, limits, &mut out)
                        .map_err(|e| PlatformError::invalid(format!("item {index}: {e}")))?,
                    other => {
                        return Err(PlatformError::invalid(format!(
                            "item {index}: expected an object, found {}",
                            type_name(&other)
                        )));
                    }
                }
            }
        }
        Json::Object(map) => parse_object(map, limits, &mut out)?,
        other => {
            return Err(PlatformError::invalid(format!(
                "expected a JSON object or array, found {}",
                type_name(&other)
            )));
        }
    }
    if out.is_empty() {
        return Err(PlatformError::invalid("the payload has no values"));
    }
    Ok(out)
}

fn parse_object(
    mut map: Map<String, Json>,
    limits: &Limits,
    out: &mut Vec<ParsedPoint>,
) -> Result<(), PlatformError> {
    let timestamped = map.contains_key("ts") || map.contains_key("values");
    let (ts, values) = if timestamped {
        let ts = map
            .remove("ts")
            .ok_or_else(|| PlatformError::invalid("`values` needs a `ts` beside it"))?;
        let values = map
            .remove("values")
            .ok_or_else(|| PlatformError::invalid("`ts` needs a `values` object beside it"))?;
        if let Some(extra) = map.keys().next() {
            return Err(PlatformError::invalid(format!(
                "unexpected field {extra:?} beside `ts` and `values`"
            )));
        }
        let Json::Object(values) = values else {
            return Err(PlatformError::invalid(format!(
                "`values` must be an object, found {}",
                type_name(&values)
            )));
        };
        (parse_ts(&ts, limits)?, values)
    } else {
        (limits.now, map)
    };
    if values.is_empty() && timestamped {
        return Err(PlatformError::invalid("`values` is empty"));
    }
    for (key, value) in values {
        check_key(&key, limits)?;
        let value = parse_value(value)
            .ok_or_else(|| PlatformError::invalid(format!("value of {key:?} is null")))?;
        if out.len() >= limits.max_points {
            return Err(PlatformError::invalid(format!(
                "too many values in one payload (at most {})",
                limits.max_points
            )));
        }
        out.push(ParsedPoint { key, ts, value });
    }
    Ok(())
}

fn parse_ts(ts: &Json, limits: &Limits) -> Result<Millis, PlatformError> {
    let ts = match ts {
        Json::Number(n) => n.as_i64().ok_or_else(|| {
            PlatformError::invalid(format!(
                "`ts` must be a whole number of milliseconds since 1970, found {n}"
            ))
        })?,
        other => {
            return Err(PlatformError::invalid(format!(
                "`ts` must be a number of milliseconds, found {}",
                type_name(other)
            )));
        }
    };
    if ts < MIN_TIMESTAMP {
        let hint = if ts > 946_684_800 && ts < 10_000_000_000 {
            " (it looks like seconds; timestamps are milliseconds)"
        } else {
            ""
        };
        return Err(PlatformError::invalid(format!(
            "`ts` {ts} is before 2000-01-01{hint}"
        )));
    }
    if ts > limits.max_ts {
        return Err(PlatformError::invalid(format!(
            "`ts` {ts} is too far in the future (server time is {}); check the device clock",
            limits.now
        )));
    }
    Ok(ts)
}

fn check_key(key: &str, limits: &Limits) -> Result<(), PlatformError> {
    if key.is_empty() {
        return Err(PlatformError::invalid("a key is empty"));
    }
    if key.len() > limits.max_key_bytes {
        return Err(PlatformError::invalid(format!(
            "key {:?}… is longer than {} bytes",
            key.chars().take(32).collect::<String>(),
            limits.max_key_bytes
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(PlatformError::invalid(format!(
            "key {key:?} contains control characters"
        )));
    }
    Ok(())
}

fn parse_value(value: Json) -> Option<Value> {
    Some(match value {
        Json::Null => return None,
        Json::Bool(b) => Value::Bool(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64()?),
        },
        Json::String(s) => Value::Str(s),
        other => Value::Json(other),
    })
}

fn type_name(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: Millis = 1_700_000_000_000;

    fn limits() -> Limits {
        Limits {
            now: NOW,
            max_ts: NOW + 86_400_000,
            max_key_bytes: 16,
            max_points: 10,
        }
    }

    fn parse(v: Json) -> Result<Vec<ParsedPoint>, String> {
        parse_telemetry(v, &limits()).map_err(|e| e.message)
    }

    #[test]
    fn accepts_every_shape() {
        let p = parse(json!({"temp": 21.5, "on": true, "n": 3, "s": "x", "o": {"a": 1}})).unwrap();
        assert_eq!(p.len(), 5);
        assert!(p.iter().all(|p| p.ts == NOW));
        assert!(p.contains(&ParsedPoint {
            key: "n".into(),
            ts: NOW,
            value: Value::Int(3)
        }));
        let p = parse(json!({"ts": NOW - 5, "values": {"temp": 1}})).unwrap();
        assert_eq!(p[0].ts, NOW - 5);
        let p = parse(json!([{"ts": NOW - 5, "values": {"a": 1}}, {"b": [1, 2]}])).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].value, Value::Json(json!([1, 2])));
        let p = parse(json!({"big": 1e300, "u": 18446744073709551615u64})).unwrap();
        assert!(matches!(p[0].value, Value::Float(_)));
        assert!(matches!(p[1].value, Value::Float(_)));
    }

    #[test]
    fn refuses_bad_shapes_precisely() {
        let cases = [
            (json!(5), "expected a JSON object or array"),
            (json!([]), "empty"),
            (json!([1]), "item 0: expected an object"),
            (json!({}), "no values"),
            (json!({"a": null}), "null"),
            (json!({"ts": NOW}), "`ts` needs a `values`"),
            (json!({"values": {}}), "needs a `ts`"),
            (
                json!({"ts": NOW, "values": 3}),
                "`values` must be an object",
            ),
            (
                json!({"ts": NOW, "values": {"a": 1}, "x": 1}),
                "unexpected field",
            ),
            (json!({"ts": "now", "values": {"a": 1}}), "found a string"),
            (json!({"ts": 1.5, "values": {"a": 1}}), "whole number"),
            (
                json!({"ts": 1_700_000_000, "values": {"a": 1}}),
                "looks like seconds",
            ),
            (json!({"ts": -1, "values": {"a": 1}}), "before 2000"),
            (
                json!({"ts": NOW + 86_400_001, "values": {"a": 1}}),
                "future",
            ),
            (json!({"": 1}), "key is empty"),
            (json!({"aaaaaaaaaaaaaaaaaaaa": 1}), "longer than"),
            (json!({"a\u{1}": 1}), "control"),
            (
                json!({"a":1,"b":1,"c":1,"d":1,"e":1,"f":1,"g":1,"h":1,"i":1,"j":1,"k":1}),
                "too many",
            ),
        ];
        for (input, expected) in cases {
            let err = parse(input.clone()).unwrap_err();
            assert!(err.contains(expected), "{input}: {err}");
        }
    }
}
