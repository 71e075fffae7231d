//! SenML JSON (Content-Format 110): reading through `serde_json::Value`, writing records with
//! keys in sorted order (`bn`, `n`, `t`, `v`...), as the LwM2M examples show them.

use alloc::format;
use alloc::vec::Vec;

use serde_json::{Map, Number, Value as Json};

use super::{Item, Label, Num, Raw, paths, plan, records, time_as_int};
use crate::lwm2m::text::format_objlink;
use crate::lwm2m::{ContentError, Path, Record, Types, Value, b64};

pub(super) const FORMAT: &str = "SenML JSON";

/// Decodes a SenML JSON pack into typed records (see the [module documentation](super)).
pub fn decode_json(bytes: &[u8], types: &dyn Types) -> Result<Vec<Record>, ContentError> {
    records(FORMAT, parse(bytes)?, types)
}

/// Decodes the names of a SenML JSON pack whose records need not carry values, as in
/// Read-Composite and Observe-Composite requests: `[{"n":"/3/0/0"},{"n":"/1/0"}]`. Names may
/// be objects, instances, resources or resource instances; a trailing `/` is allowed.
pub fn decode_paths_json(bytes: &[u8]) -> Result<Vec<Path>, ContentError> {
    paths(FORMAT, parse(bytes)?)
}

/// Encodes `records` as a SenML JSON pack, one record per value; names are relative to a
/// `bn` of `base` when every record lies strictly below it. Non-finite floats and times have
/// no JSON form ([`ContentError::Unsupported`]).
pub fn encode_json(base: Option<&Path>, records: &[Record]) -> Result<Vec<u8>, ContentError> {
    let mut pack = Vec::with_capacity(records.len());
    for out in plan(base, records)? {
        let mut record = Map::new();
        if let Some(bn) = out.base_name {
            record.insert("bn".into(), Json::String(bn));
        }
        if let Some(n) = out.name {
            record.insert("n".into(), Json::String(n));
        }
        let (label, value) = match out.value {
            Value::Integer(i) | Value::Time(i) => ("v", Json::from(*i)),
            Value::UnsignedInteger(u) => ("v", Json::from(*u)),
            Value::Float(f) => ("v", Json::Number(finite(*f)?)),
            Value::Boolean(b) => ("vb", Json::Bool(*b)),
            Value::String(s) | Value::CoreLink(s) => ("vs", Json::String(s.clone())),
            Value::Opaque(bytes) => ("vd", Json::String(b64::encode_url(bytes))),
            Value::ObjLink(o, i) => ("vlo", Json::String(format_objlink(*o, *i))),
        };
        record.insert(label.into(), value);
        if let Some(t) = out.time {
            let t = match time_as_int(t) {
                Some(t) => Json::from(t),
                None => Json::Number(finite(t)?),
            };
            record.insert("t".into(), t);
        }
        pack.push(Json::Object(record));
    }
    serde_json::to_vec(&Json::Array(pack))
        .map_err(|e| ContentError::Unsupported(format!("SenML JSON: {e}")))
}

fn finite(f: f64) -> Result<Number, ContentError> {
    Number::from_f64(f).ok_or_else(|| ContentError::Unsupported(format!("{f} has no JSON form")))
}

fn parse(bytes: &[u8]) -> Result<Vec<Raw>, ContentError> {
    let pack: Json = serde_json::from_slice(bytes)
        .map_err(|e| ContentError::malformed(FORMAT, format!("{e}")))?;
    let Json::Array(items) = pack else {
        return Err(ContentError::malformed(FORMAT, "a pack is an array"));
    };
    items.into_iter().map(record).collect()
}

fn record(item: Json) -> Result<Raw, ContentError> {
    let Json::Object(fields) = item else {
        return Err(ContentError::malformed(FORMAT, "a record is an object"));
    };
    let mut raw = Raw::default();
    for (label, value) in fields {
        raw.set(FORMAT, Label::from_text(&label), item_of(value))?;
    }
    Ok(raw)
}

fn item_of(value: Json) -> Item {
    match value {
        Json::Number(n) => Item::Num(number(&n)),
        Json::String(s) => Item::Text(s),
        Json::Bool(b) => Item::Bool(b),
        _ => Item::Other,
    }
}

fn number(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::Int(i.into())
    } else if let Some(u) = n.as_u64() {
        Num::Int(u.into())
    } else {
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}
