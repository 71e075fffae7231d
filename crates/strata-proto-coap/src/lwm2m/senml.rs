//! SenML JSON (Content-Format 110) and SenML CBOR (112): RFC 8428 as profiled by LwM2M Core
//! TS 1.1 §7.4.4-7.4.5, the formats of LwM2M 1.1 composite operations and `Send`.
//!
//! A pack is an array of records. Each record names a resource or resource instance
//! (`bn` + `n`, e.g. `"/3/0/"` + `"6/1"`), carries one value (`v` number, `vs` string, `vb`
//! boolean, `vd` data, `vlo` object link `"3:0"`, the LwM2M label) and optionally a time
//! (`bt` + `t`, seconds). `bn`, `bt` and `bv` apply to the record carrying them and every
//! later one until replaced (RFC 8428 §4.6). In CBOR the labels are the integers of RFC 8428
//! §6 (bn -2, bt -3, bv -5, n 0, v 2, vs 3, vb 4, t 6, vd 8; `vd` is a byte string) and
//! `vlo` stays text; in JSON `vd` is base64url without padding (either base64 alphabet is
//! accepted). Units, sums and update times are ignored; a label ending in `_` (must
//! understand) is refused.
//!
//! Numbers carry no exact type, so decoding asks [`Types`]: Integer, UnsignedInteger and
//! Time resources need integral numbers in range, Float resources take any number. A number
//! for a resource `types` does not know becomes an [`Value::Integer`] when it is integral and
//! fits (an [`Value::UnsignedInteger`] above `i64::MAX`), a [`Value::Float`] otherwise.
//!
//! Times are kept as the pack gives them: [`Record::time`] is `bt + t`. RFC 8428 reads values
//! below 2^28 as relative to the time of reading; converting them is left to the caller,
//! who knows "now".

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::text::parse_objlink;
use super::{ContentError, Path, Record, ResourceKind, Types, Value, b64, check_shape};

mod cbor;
mod json;

pub use cbor::{decode_cbor, decode_paths_cbor, encode_cbor};
pub use json::{decode_json, decode_paths_json, encode_json};

/// The SenML version this codec speaks (RFC 8428 `bver`).
const VERSION: i128 = 10;

/// A number as the pack wrote it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            // Saturates beyond f64's range, which i128 never reaches.
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    /// The number as an integer, when it is one.
    fn integral(self) -> Option<i128> {
        match self {
            Num::Int(i) => Some(i),
            Num::Float(f) => {
                // `as` truncates (and saturates); equality proves `f` was integral.
                let i = f as i128;
                (i as f64 == f).then_some(i)
            }
        }
    }

    fn add(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a
                .checked_add(b)
                .map_or(Num::Float(a as f64 + b as f64), Num::Int),
            (a, b) => Num::Float(a.as_f64() + b.as_f64()),
        }
    }
}

/// A label, read from JSON text or a CBOR integer or text.
#[derive(Debug, Clone, PartialEq)]
enum Label {
    BaseName,
    BaseTime,
    BaseValue,
    BaseVersion,
    Name,
    Time,
    Value,
    StringValue,
    BoolValue,
    DataValue,
    LinkValue,
    /// A label to ignore (units, sums, update time, unknown labels).
    Ignored,
    /// A label this codec does not understand but must (RFC 8428 §4.4).
    MustUnderstand(String),
}

impl Label {
    fn from_text(text: &str) -> Label {
        match text {
            "bn" => Label::BaseName,
            "bt" => Label::BaseTime,
            "bv" => Label::BaseValue,
            "bver" => Label::BaseVersion,
            "n" => Label::Name,
            "t" => Label::Time,
            "v" => Label::Value,
            "vs" => Label::StringValue,
            "vb" => Label::BoolValue,
            "vd" => Label::DataValue,
            "vlo" => Label::LinkValue,
            must if must.ends_with('_') => Label::MustUnderstand(must.into()),
            _ => Label::Ignored,
        }
    }

    fn from_int(label: i128) -> Label {
        match label {
            -1 => Label::BaseVersion,
            -2 => Label::BaseName,
            -3 => Label::BaseTime,
            -5 => Label::BaseValue,
            0 => Label::Name,
            2 => Label::Value,
            3 => Label::StringValue,
            4 => Label::BoolValue,
            6 => Label::Time,
            8 => Label::DataValue,
            _ => Label::Ignored,
        }
    }
}

/// A label's value as read, before it is checked against the label.
#[derive(Debug)]
enum Item {
    Num(Num),
    Text(String),
    Bool(bool),
    Bytes(Vec<u8>),
    /// Anything else (null, array, map, tag...).
    Other,
}

/// The value field of a record.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Num(Num),
    Text(String),
    Bool(bool),
    Data(Vec<u8>),
    Link(String),
}

/// One record's fields as read, base fields not yet applied.
#[derive(Debug, Default)]
struct Raw {
    base_name: Option<String>,
    base_time: Option<f64>,
    base_value: Option<Num>,
    name: Option<String>,
    time: Option<f64>,
    value: Option<Field>,
}

impl Raw {
    /// Stores `item` under `label`, checking its type.
    fn set(&mut self, format: &'static str, label: Label, item: Item) -> Result<(), ContentError> {
        let wrong = || ContentError::malformed(format, format!("{label:?} has the wrong type"));
        let field = match (&label, item) {
            (Label::BaseName, Item::Text(s)) => return put(format, &mut self.base_name, s),
            (Label::Name, Item::Text(s)) => return put(format, &mut self.name, s),
            (Label::BaseTime, Item::Num(n)) => return put(format, &mut self.base_time, n.as_f64()),
            (Label::Time, Item::Num(n)) => return put(format, &mut self.time, n.as_f64()),
            (Label::BaseValue, Item::Num(n)) => return put(format, &mut self.base_value, n),
            (Label::BaseVersion, Item::Num(n)) => {
                return match n.integral() {
                    Some(v) if v <= VERSION => Ok(()),
                    _ => Err(ContentError::malformed(format, "unsupported SenML version")),
                };
            }
            (Label::Ignored, _) => return Ok(()),
            (Label::MustUnderstand(name), _) => {
                return Err(ContentError::malformed(
                    format,
                    format!("label {} must be understood", short(name)),
                ));
            }
            (Label::Value, Item::Num(n)) => Field::Num(n),
            (Label::StringValue, Item::Text(s)) => Field::Text(s),
            (Label::BoolValue, Item::Bool(b)) => Field::Bool(b),
            (Label::DataValue, Item::Bytes(b)) => Field::Data(b),
            (Label::DataValue, Item::Text(s)) if format == json::FORMAT => Field::Data(
                b64::decode(s.as_bytes())
                    .ok_or_else(|| ContentError::malformed(format, "vd is not base64"))?,
            ),
            (Label::LinkValue, Item::Text(s)) => Field::Link(s),
            _ => return Err(wrong()),
        };
        put(format, &mut self.value, field)
    }
}

fn put<T>(format: &'static str, slot: &mut Option<T>, value: T) -> Result<(), ContentError> {
    if slot.is_some() {
        return Err(ContentError::malformed(
            format,
            "a record repeats a label or value",
        ));
    }
    *slot = Some(value);
    Ok(())
}

/// A record with its base fields applied.
struct Resolved {
    name: String,
    time: Option<f64>,
    value: Option<Field>,
}

/// Applies base name, base time and base value (RFC 8428 §4.6).
fn resolve(raws: Vec<Raw>) -> Vec<Resolved> {
    let (mut base_name, mut base_time, mut base_value) = (String::new(), None, None);
    raws.into_iter()
        .map(|raw| {
            if let Some(bn) = raw.base_name {
                base_name = bn;
            }
            base_time = raw.base_time.or(base_time);
            base_value = raw.base_value.or(base_value);
            let mut name = base_name.clone();
            name.push_str(raw.name.as_deref().unwrap_or_default());
            let time = match (base_time, raw.time) {
                (Some(bt), Some(t)) => Some(bt + t),
                (bt, t) => bt.or(t),
            };
            let value = match (raw.value, base_value) {
                (Some(Field::Num(v)), Some(bv)) => Some(Field::Num(bv.add(v))),
                (value, _) => value,
            };
            Resolved { name, time, value }
        })
        .collect()
}

/// Typed records from a pack; every record must carry a value.
fn records(
    format: &'static str,
    raws: Vec<Raw>,
    types: &dyn Types,
) -> Result<Vec<Record>, ContentError> {
    resolve(raws)
        .into_iter()
        .map(|r| {
            let path = name_to_path(format, &r.name, false)?;
            let field = r.value.ok_or_else(|| {
                ContentError::malformed(format, format!("record {path} has no value"))
            })?;
            check_shape(types, &path)?;
            let kind = path.resource.and_then(|res| types.kind(path.object, res));
            Ok(Record {
                path,
                value: typed(&path, kind, field)?,
                time: r.time,
            })
        })
        .collect()
}

/// The names of a pack, values ignored (Read-Composite and Observe-Composite requests).
fn paths(format: &'static str, raws: Vec<Raw>) -> Result<Vec<Path>, ContentError> {
    resolve(raws)
        .iter()
        .map(|r| name_to_path(format, &r.name, true))
        .collect()
}

/// A record name as a path; `any_depth` allows objects and instances (with a trailing `/`).
fn name_to_path(format: &'static str, name: &str, any_depth: bool) -> Result<Path, ContentError> {
    let text = match name.strip_suffix('/') {
        Some(trimmed) if any_depth => trimmed,
        _ => name,
    };
    let path = Path::parse(text).map_err(|_| {
        ContentError::malformed(format, format!("name {} is not an LwM2M path", short(name)))
    })?;
    if !any_depth && path.resource.is_none() {
        return Err(ContentError::malformed(
            format,
            format!("a value needs a resource path, not {path}"),
        ));
    }
    Ok(path)
}

/// At most 40 characters of peer text, for error messages.
fn short(text: &str) -> &str {
    text.char_indices()
        .nth(40)
        .map_or(text, |(end, _)| &text[..end])
}

/// The value of `field` for a resource of `kind`.
fn typed(path: &Path, kind: Option<ResourceKind>, field: Field) -> Result<Value, ContentError> {
    use ResourceKind as K;
    let integral = |n: Num, what: &str| {
        n.integral()
            .ok_or_else(|| ContentError::typed(*path, format!("{} is not {what}", n.as_f64())))
    };
    let range = |what: &str| ContentError::typed(*path, format!("number out of range for {what}"));
    Ok(match (field, kind) {
        (_, Some(K::None)) => {
            return Err(ContentError::typed(
                *path,
                "an executable resource has no value",
            ));
        }
        (Field::Num(n), Some(K::Integer)) => Value::Integer(
            i64::try_from(integral(n, "an integer")?).map_err(|_| range("an integer"))?,
        ),
        (Field::Num(n), Some(K::Time)) => Value::Time(
            i64::try_from(integral(n, "a time in seconds")?).map_err(|_| range("a time"))?,
        ),
        (Field::Num(n), Some(K::UnsignedInteger)) => Value::UnsignedInteger(
            u64::try_from(integral(n, "an unsigned integer")?)
                .map_err(|_| range("an unsigned integer"))?,
        ),
        (Field::Num(n), Some(K::Float)) => Value::Float(n.as_f64()),
        (Field::Num(n), None) => {
            let i = n.integral();
            if let Some(i) = i.and_then(|i| i64::try_from(i).ok()) {
                Value::Integer(i)
            } else if let Some(u) = i.and_then(|i| u64::try_from(i).ok()) {
                Value::UnsignedInteger(u)
            } else {
                Value::Float(n.as_f64())
            }
        }
        (Field::Text(s), Some(K::String) | None) => Value::String(s),
        (Field::Text(s), Some(K::CoreLink)) => Value::CoreLink(s),
        (Field::Bool(b), Some(K::Boolean) | None) => Value::Boolean(b),
        (Field::Data(d), Some(K::Opaque) | None) => Value::Opaque(d),
        (Field::Link(l), Some(K::ObjLink) | None) => {
            let (object, instance) = parse_objlink(&l)
                .ok_or_else(|| ContentError::typed(*path, "vlo is not object:instance"))?;
            Value::ObjLink(object, instance)
        }
        (field, Some(kind)) => {
            return Err(ContentError::typed(
                *path,
                format!("{} value for a {kind:?} resource", field_label(&field)),
            ));
        }
    })
}

fn field_label(field: &Field) -> &'static str {
    match field {
        Field::Num(_) => "v",
        Field::Text(_) => "vs",
        Field::Bool(_) => "vb",
        Field::Data(_) => "vd",
        Field::Link(_) => "vlo",
    }
}

/// One record to write.
struct Out<'a> {
    /// Set on the first record only.
    base_name: Option<String>,
    name: Option<String>,
    value: &'a Value,
    time: Option<f64>,
}

/// Names for `records`: relative to `base` (written once as `bn`, with a trailing `/`) when
/// every record lies strictly below it, full paths otherwise.
fn plan<'a>(base: Option<&Path>, records: &'a [Record]) -> Result<Vec<Out<'a>>, ContentError> {
    if let Some(r) = records.iter().find(|r| r.path.resource.is_none()) {
        return Err(ContentError::Unsupported(format!(
            "{} is not a resource value",
            r.path
        )));
    }
    let base = base.filter(|b| records.iter().all(|r| b.contains(&r.path) && **b != r.path));
    let prefix = base.map(|b| format!("{b}/"));
    Ok(records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let full = format!("{}", r.path);
            let name = match &prefix {
                Some(p) => full.get(p.len()..).map(String::from),
                None => Some(full),
            };
            Out {
                base_name: prefix.clone().filter(|_| i == 0),
                name,
                value: &r.value,
                time: r.time,
            }
        })
        .collect())
}

/// A time as an integer when it is one (and exact in f64), for compact packs.
fn time_as_int(t: f64) -> Option<i64> {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let n = i64::try_from(Num::Float(t).integral()?).ok()?;
    (-EXACT..=EXACT).contains(&t).then_some(n)
}

#[cfg(test)]
mod tests;
