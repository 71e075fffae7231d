//! OMA-TLV (Content-Format 11542, and 1542 from LwM2M 1.0 clients; LwM2M Core TS 1.1
//! §7.4.3): the binary format every LwM2M 1.0 device speaks.
//!
//! Each entry is a type byte, an 8- or 16-bit identifier, a length (in the type byte's three
//! low bits, or in 1 to 3 following bytes) and the value. Bits 7-6 of the type byte say what
//! the identifier names: an object instance (`00`), a resource instance (`01`), a multiple
//! resource holding resource-instance entries (`10`) or a resource with its value (`11`).
//!
//! TLV carries no types: decoding asks [`Types`] what each resource is. A resource that
//! `types` does not know is decoded as [`Value::Opaque`] (the raw bytes), so nothing is
//! guessed.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{ContentError, Path, Record, ResourceKind, Types, Value, check_shape};

const TLV: &str = "TLV";

const OBJECT_INSTANCE: u8 = 0b00;
const RESOURCE_INSTANCE: u8 = 0b01;
const MULTIPLE_RESOURCE: u8 = 0b10;
const RESOURCE: u8 = 0b11;

/// The largest value a TLV length field can express (24 bits).
const MAX_LEN: usize = 0xff_ffff;

/// One TLV entry, value not yet interpreted.
struct Entry<'a> {
    /// Bits 7-6 of the type byte.
    kind: u8,
    id: u16,
    value: &'a [u8],
}

/// Decodes a TLV payload addressed to `base`.
///
/// The top level depends on how deep `base` is: object instances under an object path;
/// resources and multiple resources under an instance path (a single object-instance entry
/// with the same ID wrapping them is accepted too); the resource itself, as a resource or a
/// multiple resource, or a bare list of its resource instances, under a resource path; the
/// resource instance under a resource-instance path. Bare resources under an object path
/// (an LwM2M 1.0 Create that leaves the instance ID to the client) are refused, as records
/// need an instance: decode them against the instance path the caller picks.
///
/// Values are typed by `types.kind` (see the module documentation for unknown resources):
/// integers and times are 1, 2, 4 or 8 bytes of big-endian two's complement, unsigned
/// integers 1, 2, 4 or 8 bytes, floats 4 or 8 bytes of IEEE 754, booleans one byte 0 or 1,
/// object links 4 bytes (object ID, instance ID), strings and CoRE links UTF-8. A multiple
/// resource with no instances yields no records. The same path twice, or one resource both
/// as a value and as resource instances, is malformed.
pub fn decode(base: &Path, bytes: &[u8], types: &dyn Types) -> Result<Vec<Record>, ContentError> {
    let top = entries(bytes)?;
    let mut out = Vec::new();
    match (base.instance, base.resource, base.resource_instance) {
        (None, _, _) => {
            for entry in &top {
                expect(entry, OBJECT_INSTANCE, "object instance")?;
                let instance = Path::instance(base.object, entry.id);
                resources(&instance, &entries(entry.value)?, types, &mut out)?;
            }
        }
        (Some(instance), None, _) => match top.as_slice() {
            [entry] if entry.kind == OBJECT_INSTANCE => {
                if entry.id != instance {
                    return Err(mismatch(base, entry));
                }
                resources(base, &entries(entry.value)?, types, &mut out)?;
            }
            _ => resources(base, &top, types, &mut out)?,
        },
        (Some(instance), Some(resource), None) => {
            let all_instances = top.iter().all(|e| e.kind == RESOURCE_INSTANCE);
            match top.as_slice() {
                [entry] if entry.kind != RESOURCE_INSTANCE => {
                    if entry.id != resource || entry.kind == OBJECT_INSTANCE {
                        return Err(mismatch(base, entry));
                    }
                    resources(
                        &Path::instance(base.object, instance),
                        &top,
                        types,
                        &mut out,
                    )?;
                }
                [_, ..] if all_instances => {
                    for entry in &top {
                        let path = Path {
                            resource_instance: Some(entry.id),
                            ..*base
                        };
                        value(&path, entry.value, types, &mut out)?;
                    }
                }
                _ => {
                    return Err(ContentError::malformed(
                        TLV,
                        format!("expected {base} alone"),
                    ));
                }
            }
        }
        (Some(_), Some(_), Some(resource_instance)) => match top.as_slice() {
            [entry] if entry.kind == RESOURCE_INSTANCE && entry.id == resource_instance => {
                value(base, entry.value, types, &mut out)?;
            }
            _ => {
                return Err(ContentError::malformed(
                    TLV,
                    format!("expected {base} alone"),
                ));
            }
        },
    }
    check_unique(&out)?;
    Ok(out)
}

/// Encodes `records` (which must all lie under `base`) as the TLV payload for `base`.
///
/// Under an object path the resources are grouped into object-instance entries; resource
/// instances of one resource are grouped into a multiple-resource entry; entries come in
/// ID order. Integers use the shortest of 1, 2, 4 or 8 bytes that holds them, floats 4 bytes
/// when that is exact and 8 otherwise. A resource or resource-instance path with no record,
/// a path given twice, a record that is not a resource value, or a value longer than 16 MiB
/// is [`ContentError::Unsupported`].
pub fn encode(base: &Path, records: &[Record]) -> Result<Vec<u8>, ContentError> {
    for record in records {
        if record.path.resource.is_none() || !base.contains(&record.path) {
            return Err(ContentError::Unsupported(format!(
                "{} is not a resource value under {base}",
                record.path
            )));
        }
    }
    if base.resource.is_some() && records.is_empty() {
        return Err(ContentError::Unsupported(format!("no value for {base}")));
    }
    let mut out = Vec::new();
    match base.resource_instance {
        Some(id) => match records {
            [record] => write_entry(&mut out, RESOURCE_INSTANCE, id, &value_bytes(&record.value))?,
            _ => return Err(ContentError::Unsupported(format!("{base} given twice"))),
        },
        None if base.instance.is_some() => write_resources(&mut out, records.iter())?,
        None => {
            let mut instances: BTreeMap<u16, Vec<&Record>> = BTreeMap::new();
            for record in records {
                let instance = record.path.instance.unwrap_or_default();
                instances.entry(instance).or_default().push(record);
            }
            for (id, group) in instances {
                let mut inner = Vec::new();
                write_resources(&mut inner, group.into_iter())?;
                write_entry(&mut out, OBJECT_INSTANCE, id, &inner)?;
            }
        }
    }
    Ok(out)
}

/// Splits `bytes` into entries.
fn entries(mut bytes: &[u8]) -> Result<Vec<Entry<'_>>, ContentError> {
    let mut out = Vec::new();
    while let Some((&type_byte, rest)) = bytes.split_first() {
        let id_len = if type_byte & 0x20 == 0 { 1 } else { 2 };
        let (id, rest) = take(rest, id_len)?;
        let id = u16::try_from(big_endian(id))
            .ok()
            .filter(|id| *id != u16::MAX)
            .ok_or_else(|| ContentError::malformed(TLV, "identifier 65535 is reserved"))?;
        let (len, rest) = match usize::from((type_byte >> 3) & 0b11) {
            0 => (usize::from(type_byte & 0b111), rest),
            n => {
                let (len, rest) = take(rest, n)?;
                let len = usize::try_from(big_endian(len))
                    .map_err(|_| ContentError::malformed(TLV, "length too large"))?;
                (len, rest)
            }
        };
        let (value, rest) = take(rest, len)?;
        out.push(Entry {
            kind: type_byte >> 6,
            id,
            value,
        });
        bytes = rest;
    }
    Ok(out)
}

fn take(bytes: &[u8], n: usize) -> Result<(&[u8], &[u8]), ContentError> {
    if bytes.len() < n {
        return Err(ContentError::malformed(TLV, "truncated entry"));
    }
    Ok(bytes.split_at(n))
}

/// Up to 3 bytes, big endian.
fn big_endian(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0, |acc, b| (acc << 8) | u32::from(*b))
}

fn expect(entry: &Entry<'_>, kind: u8, what: &str) -> Result<(), ContentError> {
    if entry.kind == kind {
        return Ok(());
    }
    Err(ContentError::malformed(
        TLV,
        format!("expected {what} entries, found type {:02b}", entry.kind),
    ))
}

fn mismatch(base: &Path, entry: &Entry<'_>) -> ContentError {
    ContentError::malformed(
        TLV,
        format!(
            "entry {} (type {:02b}) does not match {base}",
            entry.id, entry.kind
        ),
    )
}

/// Decodes the resource and multiple-resource entries of `instance`.
fn resources(
    instance: &Path,
    entries_: &[Entry<'_>],
    types: &dyn Types,
    out: &mut Vec<Record>,
) -> Result<(), ContentError> {
    for entry in entries_ {
        let path = Path {
            resource: Some(entry.id),
            ..*instance
        };
        match entry.kind {
            RESOURCE => value(&path, entry.value, types, out)?,
            MULTIPLE_RESOURCE => {
                for inner in entries(entry.value)? {
                    expect(&inner, RESOURCE_INSTANCE, "resource instance")?;
                    let path = Path {
                        resource_instance: Some(inner.id),
                        ..path
                    };
                    value(&path, inner.value, types, out)?;
                }
            }
            _ => expect(entry, RESOURCE, "resource")?,
        }
    }
    Ok(())
}

fn value(
    path: &Path,
    bytes: &[u8],
    types: &dyn Types,
    out: &mut Vec<Record>,
) -> Result<(), ContentError> {
    check_shape(types, path)?;
    let kind = path.resource.and_then(|r| types.kind(path.object, r));
    out.push(Record {
        path: *path,
        value: decode_value(path, kind, bytes)?,
        time: None,
    });
    Ok(())
}

fn decode_value(
    path: &Path,
    kind: Option<ResourceKind>,
    bytes: &[u8],
) -> Result<Value, ContentError> {
    let wrong =
        |what: &str| ContentError::typed(*path, format!("{} bytes are not {what}", bytes.len()));
    let text = || {
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ContentError::typed(*path, "string is not UTF-8"))
    };
    Ok(match kind {
        None | Some(ResourceKind::Opaque) => Value::Opaque(bytes.to_vec()),
        Some(ResourceKind::String) => Value::String(text()?),
        Some(ResourceKind::CoreLink) => Value::CoreLink(text()?),
        Some(ResourceKind::Integer) => {
            Value::Integer(signed(bytes).ok_or_else(|| wrong("an integer"))?)
        }
        Some(ResourceKind::Time) => Value::Time(signed(bytes).ok_or_else(|| wrong("a time"))?),
        Some(ResourceKind::UnsignedInteger) => {
            Value::UnsignedInteger(unsigned(bytes).ok_or_else(|| wrong("an unsigned integer"))?)
        }
        Some(ResourceKind::Float) => match bytes.len() {
            4 => Value::Float(f64::from(f32::from_be_bytes(array(bytes)?))),
            8 => Value::Float(f64::from_be_bytes(array(bytes)?)),
            _ => return Err(wrong("a float")),
        },
        Some(ResourceKind::Boolean) => match bytes {
            [0] => Value::Boolean(false),
            [1] => Value::Boolean(true),
            _ => return Err(ContentError::typed(*path, "a boolean is one byte, 0 or 1")),
        },
        Some(ResourceKind::ObjLink) => match *bytes {
            [o1, o2, i1, i2] => {
                Value::ObjLink(u16::from_be_bytes([o1, o2]), u16::from_be_bytes([i1, i2]))
            }
            _ => return Err(wrong("an object link")),
        },
        Some(ResourceKind::None) => {
            return Err(ContentError::typed(
                *path,
                "an executable resource has no value",
            ));
        }
    })
}

fn array<const N: usize>(bytes: &[u8]) -> Result<[u8; N], ContentError> {
    bytes
        .try_into()
        .map_err(|_| ContentError::malformed(TLV, "value length"))
}

fn signed(bytes: &[u8]) -> Option<i64> {
    Some(match bytes.len() {
        1 => i8::from_be_bytes(array(bytes).ok()?).into(),
        2 => i16::from_be_bytes(array(bytes).ok()?).into(),
        4 => i32::from_be_bytes(array(bytes).ok()?).into(),
        8 => i64::from_be_bytes(array(bytes).ok()?),
        _ => return None,
    })
}

fn unsigned(bytes: &[u8]) -> Option<u64> {
    match bytes.len() {
        1 | 2 | 4 | 8 => Some(bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b))),
        _ => None,
    }
}

fn check_unique(records: &[Record]) -> Result<(), ContentError> {
    let paths: BTreeSet<Path> = records.iter().map(|r| r.path).collect();
    if paths.len() != records.len() {
        return Err(ContentError::malformed(TLV, "a path appears twice"));
    }
    // Sorted, a resource comes right before its own resource instances.
    let paths: Vec<&Path> = paths.iter().collect();
    match paths.windows(2).find(|w| w[0].contains(w[1])) {
        Some(w) => Err(ContentError::malformed(
            TLV,
            format!("{} is both a value and a multiple resource", w[0]),
        )),
        None => Ok(()),
    }
}

/// Writes the resources of one instance: single values, and multiple resources grouping
/// resource instances.
fn write_resources<'a>(
    out: &mut Vec<u8>,
    records: impl Iterator<Item = &'a Record>,
) -> Result<(), ContentError> {
    let mut by_resource: BTreeMap<u16, Vec<&Record>> = BTreeMap::new();
    for record in records {
        let resource = record.path.resource.unwrap_or_default();
        by_resource.entry(resource).or_default().push(record);
    }
    for (id, group) in by_resource {
        if let [single] = group.as_slice()
            && single.path.resource_instance.is_none()
        {
            write_entry(out, RESOURCE, id, &value_bytes(&single.value))?;
            continue;
        }
        let mut instances = BTreeMap::new();
        for record in &group {
            let fresh = match record.path.resource_instance {
                Some(ri) => instances.insert(ri, &record.value).is_none(),
                None => false,
            };
            if !fresh {
                return Err(ContentError::Unsupported(format!(
                    "{} given twice, or both as a value and as resource instances",
                    record.path
                )));
            }
        }
        let mut inner = Vec::new();
        for (ri, value) in instances {
            write_entry(&mut inner, RESOURCE_INSTANCE, ri, &value_bytes(value))?;
        }
        write_entry(out, MULTIPLE_RESOURCE, id, &inner)?;
    }
    Ok(())
}

fn write_entry(out: &mut Vec<u8>, kind: u8, id: u16, value: &[u8]) -> Result<(), ContentError> {
    let len = value.len();
    if len > MAX_LEN {
        return Err(ContentError::Unsupported(format!(
            "a TLV value holds at most {MAX_LEN} bytes, not {len}"
        )));
    }
    let len_bytes = u32::try_from(len).unwrap_or_default().to_be_bytes();
    let (len_type, len_field): (u8, &[u8]) = match len {
        0..=7 => (0, &[]),
        8..=0xff => (1, &len_bytes[3..]),
        0x100..=0xffff => (2, &len_bytes[2..]),
        _ => (3, &len_bytes[1..]),
    };
    let id_bytes = id.to_be_bytes();
    let (id_flag, id_field) = if id > 0xff {
        (0x20, &id_bytes[..])
    } else {
        (0, &id_bytes[1..])
    };
    let short_len = if len_type == 0 { len_bytes[3] } else { 0 };
    out.push((kind << 6) | id_flag | (len_type << 3) | short_len);
    out.extend_from_slice(id_field);
    out.extend_from_slice(len_field);
    out.extend_from_slice(value);
    Ok(())
}

fn value_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::Integer(i) | Value::Time(i) => {
            let i = *i;
            if let Ok(v) = i8::try_from(i) {
                v.to_be_bytes().to_vec()
            } else if let Ok(v) = i16::try_from(i) {
                v.to_be_bytes().to_vec()
            } else if let Ok(v) = i32::try_from(i) {
                v.to_be_bytes().to_vec()
            } else {
                i.to_be_bytes().to_vec()
            }
        }
        Value::UnsignedInteger(u) => {
            let bytes = u.to_be_bytes();
            let keep = match *u {
                0..=0xff => 1,
                0x100..=0xffff => 2,
                0x1_0000..=0xffff_ffff => 4,
                _ => 8,
            };
            bytes[8 - keep..].to_vec()
        }
        Value::Float(f) => {
            let narrow = *f as f32;
            if f64::from(narrow) == *f {
                narrow.to_be_bytes().to_vec()
            } else {
                f.to_be_bytes().to_vec()
            }
        }
        Value::Boolean(b) => alloc::vec![u8::from(*b)],
        Value::ObjLink(object, instance) => {
            let mut bytes = object.to_be_bytes().to_vec();
            bytes.extend_from_slice(&instance.to_be_bytes());
            bytes
        }
        Value::String(s) | Value::CoreLink(s) => s.as_bytes().to_vec(),
        Value::Opaque(bytes) => bytes.clone(),
    }
}

#[cfg(test)]
mod tests;
