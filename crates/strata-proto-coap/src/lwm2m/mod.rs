//! The OMA LwM2M data model on CoAP (LwM2M 1.0-1.2 Core TS §7): paths, resource types and
//! values, and the content formats that carry them (TLV, SenML JSON/CBOR, plain text,
//! opaque, CoRE link format).
//!
//! The server and the device SDK share this module. It is `no_std` + `alloc`; TLV carries no
//! types, so decoding asks a [`Types`] implementation (an object model) what each resource
//! is.
//!
//! The codecs live in [`tlv`] (OMA-TLV), [`senml`] (SenML JSON and CBOR) and [`text`] (plain
//! text and opaque); [`decode`] and [`encode`] pick one by CoAP Content-Format number. Every
//! codec flattens to (and builds from) a list of [`Record`]s.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::option::format;

mod b64;
pub mod senml;
#[cfg(test)]
mod testing;
pub mod text;
pub mod tlv;

/// A path into the object tree: `/object[/instance[/resource[/resource-instance]]]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path {
    /// Object ID.
    pub object: u16,
    /// Object instance ID.
    pub instance: Option<u16>,
    /// Resource ID (only with an instance).
    pub resource: Option<u16>,
    /// Resource instance ID (only with a resource).
    pub resource_instance: Option<u16>,
}

/// Why a path did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid LwM2M path: use /object[/instance[/resource[/instance]]] with IDs 0 to 65534")]
pub struct PathError;

impl Path {
    /// The path of an object.
    pub const fn object(object: u16) -> Path {
        Path {
            object,
            instance: None,
            resource: None,
            resource_instance: None,
        }
    }

    /// The path of an object instance.
    pub const fn instance(object: u16, instance: u16) -> Path {
        Path {
            object,
            instance: Some(instance),
            resource: None,
            resource_instance: None,
        }
    }

    /// The path of a resource.
    pub const fn resource(object: u16, instance: u16, resource: u16) -> Path {
        Path {
            object,
            instance: Some(instance),
            resource: Some(resource),
            resource_instance: None,
        }
    }

    /// The path of a resource instance.
    pub const fn resource_instance(object: u16, instance: u16, resource: u16, ri: u16) -> Path {
        Path {
            object,
            instance: Some(instance),
            resource: Some(resource),
            resource_instance: Some(ri),
        }
    }

    /// Parses `/3/0/1` (leading slash optional). 65535 is reserved (LwM2M Core §7.1), so IDs
    /// run from 0 to 65534.
    pub fn parse(text: &str) -> Result<Path, PathError> {
        let text = text.strip_prefix('/').unwrap_or(text);
        let mut ids = [None; 4];
        let mut count = 0;
        for segment in text.split('/') {
            if count == 4 || segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PathError);
            }
            let id: u16 = segment.parse().map_err(|_| PathError)?;
            if id == u16::MAX {
                return Err(PathError);
            }
            ids[count] = Some(id);
            count += 1;
        }
        Path::from_ids(&ids[..count])
    }

    /// Builds a path from Uri-Path segments (bytes).
    pub fn from_segments<'a>(
        segments: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Path, PathError> {
        let mut ids = [0u16; 4];
        let mut count = 0;
        for segment in segments {
            let text = core::str::from_utf8(segment).map_err(|_| PathError)?;
            if count == 4 || text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(PathError);
            }
            let id: u16 = text.parse().map_err(|_| PathError)?;
            if id == u16::MAX {
                return Err(PathError);
            }
            ids[count] = id;
            count += 1;
        }
        let opt: [Option<u16>; 4] = core::array::from_fn(|i| (i < count).then_some(ids[i]));
        Path::from_ids(&opt[..count])
    }

    fn from_ids(ids: &[Option<u16>]) -> Result<Path, PathError> {
        let object = ids.first().copied().flatten().ok_or(PathError)?;
        Ok(Path {
            object,
            instance: ids.get(1).copied().flatten(),
            resource: ids.get(2).copied().flatten(),
            resource_instance: ids.get(3).copied().flatten(),
        })
    }

    /// How many IDs the path has (1 to 4).
    pub fn depth(&self) -> usize {
        1 + usize::from(self.instance.is_some())
            + usize::from(self.resource.is_some())
            + usize::from(self.resource_instance.is_some())
    }

    /// Whether `other` is this path or below it.
    pub fn contains(&self, other: &Path) -> bool {
        self.object == other.object
            && (self.instance.is_none() || self.instance == other.instance)
            && (self.resource.is_none() || self.resource == other.resource)
            && (self.resource_instance.is_none()
                || self.resource_instance == other.resource_instance)
    }

    /// The IDs in order, for Uri-Path options.
    pub fn ids(&self) -> impl Iterator<Item = u16> + '_ {
        [
            Some(self.object),
            self.instance,
            self.resource,
            self.resource_instance,
        ]
        .into_iter()
        .map_while(|id| id)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for id in self.ids() {
            write!(f, "/{id}")?;
        }
        Ok(())
    }
}

/// The data type of a resource (LwM2M Core Appendix C).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    /// UTF-8 string.
    String,
    /// Signed integer (up to 64 bits).
    Integer,
    /// Unsigned integer (LwM2M 1.1).
    UnsignedInteger,
    /// IEEE 754 float (32 or 64 bits on the wire).
    Float,
    /// Boolean.
    Boolean,
    /// Bytes.
    Opaque,
    /// Unix time in seconds (signed integer on the wire).
    Time,
    /// Object link `object:instance`.
    ObjLink,
    /// CoRE link (a string in link format).
    CoreLink,
    /// No value: executable resources.
    None,
}

/// A resource value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// UTF-8 string.
    String(String),
    /// Signed integer.
    Integer(i64),
    /// Unsigned integer.
    UnsignedInteger(u64),
    /// Float.
    Float(f64),
    /// Boolean.
    Boolean(bool),
    /// Bytes.
    Opaque(Vec<u8>),
    /// Unix time, seconds.
    Time(i64),
    /// Object link `object:instance`.
    ObjLink(u16, u16),
    /// CoRE link text.
    CoreLink(String),
}

impl Value {
    /// The kind of this value.
    pub fn kind(&self) -> ResourceKind {
        match self {
            Value::String(_) => ResourceKind::String,
            Value::Integer(_) => ResourceKind::Integer,
            Value::UnsignedInteger(_) => ResourceKind::UnsignedInteger,
            Value::Float(_) => ResourceKind::Float,
            Value::Boolean(_) => ResourceKind::Boolean,
            Value::Opaque(_) => ResourceKind::Opaque,
            Value::Time(_) => ResourceKind::Time,
            Value::ObjLink(..) => ResourceKind::ObjLink,
            Value::CoreLink(_) => ResourceKind::CoreLink,
        }
    }
}

/// One value at a full resource (or resource instance) path, as every content format
/// flattens to: `/3/0/0 = "Strata"`, `/3/0/6/1 = 5`.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Resource or resource-instance path.
    pub path: Path,
    /// The value.
    pub value: Value,
    /// Measurement time (Unix seconds), when the format carries one (SenML `t`/`bt`).
    pub time: Option<f64>,
}

/// What decoders need to know about resources: TLV and SenML numbers carry no exact type.
pub trait Types {
    /// The kind of resource `resource` of object `object`, if known.
    fn kind(&self, object: u16, resource: u16) -> Option<ResourceKind>;
    /// Whether that resource has multiple instances, if known.
    fn multiple(&self, object: u16, resource: u16) -> Option<bool>;
}

/// Knows nothing: decoders fall back to what the wire says. TLV values become
/// [`Value::Opaque`], SenML numbers become [`Value::Integer`] when integral (else
/// [`Value::Float`]), plain text becomes [`Value::String`].
pub struct NoTypes;

impl Types for NoTypes {
    fn kind(&self, _: u16, _: u16) -> Option<ResourceKind> {
        None
    }

    fn multiple(&self, _: u16, _: u16) -> Option<bool> {
        None
    }
}

/// A payload in a content format could not be decoded or encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// Malformed bytes (answer 4.00 Bad Request).
    #[error("malformed {format} payload: {reason}")]
    Malformed {
        /// Content format name.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The format cannot carry this (e.g. several values as plain text; answer 4.06 or 4.15).
    #[error("{0}")]
    Unsupported(String),
    /// A value does not fit the resource's type.
    #[error("{path}: {reason}")]
    Type {
        /// Where.
        path: Path,
        /// What is wrong.
        reason: String,
    },
}

impl ContentError {
    /// A [`ContentError::Malformed`] for `format`.
    pub(crate) fn malformed(format: &'static str, reason: impl Into<String>) -> ContentError {
        ContentError::Malformed {
            format,
            reason: reason.into(),
        }
    }

    /// A [`ContentError::Type`] at `path`.
    pub(crate) fn typed(path: Path, reason: impl Into<String>) -> ContentError {
        ContentError::Type {
            path,
            reason: reason.into(),
        }
    }
}

/// Checks a decoded value's path against the object model: a resource that `types` calls
/// multiple-instance must come as resource instances, a single-instance one as a resource.
pub(crate) fn check_shape(types: &dyn Types, path: &Path) -> Result<(), ContentError> {
    let Some(resource) = path.resource else {
        return Err(ContentError::typed(*path, "a value needs a resource path"));
    };
    match (
        types.multiple(path.object, resource),
        path.resource_instance,
    ) {
        (Some(true), None) => Err(ContentError::typed(
            *path,
            "multiple-instance resource given a single value",
        )),
        (Some(false), Some(_)) => Err(ContentError::typed(
            *path,
            "single-instance resource given resource instances",
        )),
        _ => Ok(()),
    }
}

/// Whether [`decode`] and [`encode`] handle Content-Format `format`: plain text, opaque,
/// SenML JSON, SenML CBOR and OMA-TLV (both numbers).
pub fn is_supported(format: u16) -> bool {
    matches!(
        format,
        format::TEXT
            | format::OCTET_STREAM
            | format::SENML_JSON
            | format::SENML_CBOR
            | format::LWM2M_TLV
            | format::LWM2M_TLV_LEGACY
    )
}

/// Decodes a payload in Content-Format `format` addressed to `base` (the request's path).
///
/// - TLV: see [`tlv::decode`]; the records are below `base` by construction.
/// - SenML JSON/CBOR: names are absolute, and every record must lie under `base` (a
///   [`ContentError::Malformed`] otherwise). Composite operations, which have no single base
///   path, call [`senml::decode_json`]/[`senml::decode_cbor`] directly.
/// - Plain text and opaque: `base` must be a resource or resource instance; the kind comes
///   from `types` (plain text of an unknown kind is a [`Value::String`], opaque of an unknown
///   kind a [`Value::Opaque`]). A resource that `types` calls multiple-instance cannot be
///   carried as one value ([`ContentError::Unsupported`]).
///
/// Any other format is [`ContentError::Unsupported`].
pub fn decode(
    format: u16,
    base: &Path,
    bytes: &[u8],
    types: &dyn Types,
) -> Result<Vec<Record>, ContentError> {
    let (name, records) = match format {
        format::LWM2M_TLV | format::LWM2M_TLV_LEGACY => return tlv::decode(base, bytes, types),
        format::SENML_JSON => ("SenML JSON", senml::decode_json(bytes, types)?),
        format::SENML_CBOR => ("SenML CBOR", senml::decode_cbor(bytes, types)?),
        format::TEXT | format::OCTET_STREAM => {
            let resource = single_value_path(base, types)?;
            check_shape(types, base)?;
            let kind = types.kind(base.object, resource);
            let value = if format == format::TEXT {
                text::decode_text(base, bytes, kind.unwrap_or(ResourceKind::String))?
            } else {
                text::decode_opaque(base, bytes, kind.unwrap_or(ResourceKind::Opaque))?
            };
            return Ok(vec![Record {
                path: *base,
                value,
                time: None,
            }]);
        }
        other => return Err(unsupported(other)),
    };
    match records.iter().find(|r| !base.contains(&r.path)) {
        Some(r) => Err(ContentError::malformed(
            name,
            format!("{} is not under {base}", r.path),
        )),
        None => Ok(records),
    }
}

/// Encodes `records` for a response (or request) about `base` in Content-Format `format`.
///
/// - TLV: see [`tlv::encode`].
/// - SenML JSON/CBOR: one SenML record per value; `bn` is `base` when every record lies
///   strictly below it.
/// - Plain text and opaque: exactly one record, at `base`.
///
/// Any other format is [`ContentError::Unsupported`].
pub fn encode(format: u16, base: &Path, records: &[Record]) -> Result<Vec<u8>, ContentError> {
    match format {
        format::LWM2M_TLV | format::LWM2M_TLV_LEGACY => tlv::encode(base, records),
        format::SENML_JSON => senml::encode_json(Some(base), records),
        format::SENML_CBOR => senml::encode_cbor(Some(base), records),
        format::TEXT | format::OCTET_STREAM => {
            let [record] = records else {
                return Err(ContentError::Unsupported(format!(
                    "plain text and opaque carry exactly one value, not {}",
                    records.len()
                )));
            };
            if record.path != *base {
                return Err(ContentError::Unsupported(format!(
                    "{} is not the requested path {base}",
                    record.path
                )));
            }
            if format == format::TEXT {
                text::encode_text(&record.value)
            } else {
                text::encode_opaque(&record.value)
            }
        }
        other => Err(unsupported(other)),
    }
}

/// The resource ID of `base` when plain text or opaque can carry its value.
fn single_value_path(base: &Path, types: &dyn Types) -> Result<u16, ContentError> {
    match base.resource {
        Some(resource)
            if base.resource_instance.is_some()
                || types.multiple(base.object, resource) != Some(true) =>
        {
            Ok(resource)
        }
        _ => Err(ContentError::Unsupported(format!(
            "plain text and opaque carry a single value, and {base} is not one"
        ))),
    }
}

fn unsupported(format: u16) -> ContentError {
    ContentError::Unsupported(format!(
        "content format {format} is not an LwM2M data format"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn paths_parse_and_print() {
        let p = Path::parse("/3/0/1").unwrap();
        assert_eq!(p, Path::resource(3, 0, 1));
        assert_eq!(p.to_string(), "/3/0/1");
        assert_eq!(Path::parse("3303").unwrap(), Path::object(3303));
        assert_eq!(Path::parse("/3/0/6/1").unwrap().depth(), 4);
        for bad in ["", "/", "/a", "/3//1", "/1/2/3/4/5", "/65535", "/3/0/70000"] {
            assert!(Path::parse(bad).is_err(), "{bad}");
        }
        assert!(Path::object(3).contains(&Path::resource(3, 0, 1)));
        assert!(!Path::instance(3, 1).contains(&Path::resource(3, 0, 1)));
        let segs: [&[u8]; 3] = [b"5", b"0", b"1"];
        assert_eq!(Path::from_segments(segs).unwrap(), Path::resource(5, 0, 1));
    }

    #[test]
    fn dispatch_by_content_format() {
        use testing::{Model, device};
        let instance = Path::instance(3, 0);
        for f in [
            format::LWM2M_TLV,
            format::LWM2M_TLV_LEGACY,
            format::SENML_JSON,
            format::SENML_CBOR,
        ] {
            assert!(is_supported(f));
            let bytes = encode(f, &instance, &device()).unwrap();
            assert_eq!(
                decode(f, &instance, &bytes, &Model).unwrap(),
                device(),
                "{f}"
            );
        }
        let battery = Path::resource(3, 0, 9);
        let bytes = encode(format::TEXT, &battery, &device()[10..11]).unwrap();
        assert_eq!(bytes, b"100");
        assert_eq!(
            decode(format::TEXT, &battery, &bytes, &Model).unwrap(),
            device()[10..11]
        );
        // Unknown kinds: plain text is a string, opaque is bytes.
        let unknown = Path::resource(7, 0, 0);
        assert_eq!(
            decode(format::TEXT, &unknown, b"100", &NoTypes).unwrap()[0].value,
            Value::String("100".into())
        );
        assert_eq!(
            decode(format::OCTET_STREAM, &unknown, b"\x00", &NoTypes).unwrap()[0].value,
            Value::Opaque(vec![0])
        );
        let opaque = Path::resource(9999, 0, 5);
        let records = decode(format::OCTET_STREAM, &opaque, b"\x01\x02", &Model).unwrap();
        assert_eq!(
            encode(format::OCTET_STREAM, &opaque, &records).unwrap(),
            b"\x01\x02"
        );
    }

    #[test]
    fn dispatch_refuses_what_a_format_cannot_carry() {
        use testing::{Model, device};
        for f in [format::LINK_FORMAT, format::LWM2M_JSON, format::CBOR, 9999] {
            assert!(!is_supported(f));
            assert!(matches!(
                decode(f, &Path::object(3), b"", &NoTypes),
                Err(ContentError::Unsupported(_))
            ));
            assert!(matches!(
                encode(f, &Path::object(3), &[]),
                Err(ContentError::Unsupported(_))
            ));
        }
        // Plain text and opaque: one single-instance value, at the requested path.
        let power = Path::resource(3, 0, 6);
        assert!(decode(format::TEXT, &power, b"1", &Model).is_err());
        assert!(decode(format::TEXT, &Path::instance(3, 0), b"1", &Model).is_err());
        assert!(decode(format::OCTET_STREAM, &Path::resource(3, 0, 9), b"1", &Model).is_err());
        assert!(
            decode(
                format::TEXT,
                &Path::resource_instance(3, 0, 9, 0),
                b"1",
                &Model
            )
            .is_err()
        );
        assert!(
            decode(
                format::TEXT,
                &Path::resource_instance(3, 0, 6, 0),
                b"1",
                &Model
            )
            .is_ok()
        );
        assert!(encode(format::TEXT, &Path::resource(3, 0, 0), &device()[..2]).is_err());
        assert!(encode(format::TEXT, &Path::resource(3, 0, 1), &device()[..1]).is_err());
        assert!(
            encode(
                format::OCTET_STREAM,
                &Path::resource(3, 0, 0),
                &device()[..1]
            )
            .is_err()
        );
        // SenML names are absolute: they must lie under the request's path.
        let json = br#"[{"n":"/1/0/1","v":60}]"#;
        assert!(decode(format::SENML_JSON, &Path::instance(3, 0), json, &Model).is_err());
        assert!(decode(format::SENML_JSON, &Path::object(1), json, &Model).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn lwm2m_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96)) {
            crate::fuzz::lwm2m(&bytes);
        }

        #[test]
        fn mutated_payloads_never_panic(
            which in 0usize..4,
            edits in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..4),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let records = testing::device();
            let f = [format::LWM2M_TLV, format::SENML_JSON, format::SENML_CBOR, format::TEXT][which];
            let mut bytes = match f {
                format::TEXT => b"1367491215".to_vec(),
                _ => encode(f, &Path::instance(3, 0), &records).unwrap(),
            };
            for (at, byte) in edits {
                let at = at % bytes.len();
                bytes[at] = byte;
            }
            bytes.truncate(bytes.len() - cut % 4);
            crate::fuzz::lwm2m(&bytes);
        }
    }
}
