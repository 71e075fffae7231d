//! The OMA LwM2M data model on CoAP (LwM2M 1.0-1.2 Core TS §7): paths, resource types and
//! values, and the content formats that carry them (TLV, SenML JSON/CBOR, plain text,
//! opaque, CoRE link format).
//!
//! The server and the device SDK share this module. It is `no_std` + `alloc`; TLV carries no
//! types, so decoding asks a [`Types`] implementation (an object model) what each resource
//! is.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

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
    pub fn from_segments<'a>(segments: impl IntoIterator<Item = &'a [u8]>) -> Result<Path, PathError> {
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
            && (self.resource_instance.is_none() || self.resource_instance == other.resource_instance)
    }

    /// The IDs in order, for Uri-Path options.
    pub fn ids(&self) -> impl Iterator<Item = u16> + '_ {
        [Some(self.object), self.instance, self.resource, self.resource_instance]
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

/// Knows nothing: decoders fall back to what the wire says (TLV values become opaque or
/// integers where the length allows nothing else).
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
}
