//! SenML CBOR (Content-Format 112): reading with minicbor's pull decoder (definite and
//! indefinite lengths, half, single and double floats), writing with integer labels and the
//! shortest integer encodings.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::convert::Infallible;

use minicbor::data::Type;
use minicbor::{Decoder, Encoder};

use super::{Item, Label, Num, Out, Raw, paths, plan, records, time_as_int};
use crate::lwm2m::text::format_objlink;
use crate::lwm2m::{ContentError, Path, Record, Types, Value};

const FORMAT: &str = "SenML CBOR";

/// Decodes a SenML CBOR pack into typed records (see the [module documentation](super)).
pub fn decode_cbor(bytes: &[u8], types: &dyn Types) -> Result<Vec<Record>, ContentError> {
    records(FORMAT, parse(bytes)?, types)
}

/// Decodes the names of a SenML CBOR pack whose records need not carry values, as in
/// Read-Composite and Observe-Composite requests. Names may be objects, instances, resources
/// or resource instances; a trailing `/` is allowed.
pub fn decode_paths_cbor(bytes: &[u8]) -> Result<Vec<Path>, ContentError> {
    paths(FORMAT, parse(bytes)?)
}

/// Encodes `records` as a SenML CBOR pack, one record per value; names are relative to a
/// `bn` of `base` when every record lies strictly below it.
pub fn encode_cbor(base: Option<&Path>, records: &[Record]) -> Result<Vec<u8>, ContentError> {
    let pack = plan(base, records)?;
    let mut e = Encoder::new(Vec::new());
    write(&mut e, &pack).map_err(|e| ContentError::Unsupported(format!("{FORMAT}: {e}")))?;
    Ok(e.into_writer())
}

type Written = Result<(), minicbor::encode::Error<Infallible>>;

fn write(e: &mut Encoder<Vec<u8>>, pack: &[Out<'_>]) -> Written {
    e.array(pack.len() as u64)?;
    for out in pack {
        let fields = 1
            + u64::from(out.base_name.is_some())
            + u64::from(out.name.is_some())
            + u64::from(out.time.is_some());
        e.map(fields)?;
        if let Some(bn) = &out.base_name {
            e.i8(-2)?.str(bn)?;
        }
        if let Some(n) = &out.name {
            e.u8(0)?.str(n)?;
        }
        match out.value {
            Value::Integer(i) | Value::Time(i) => e.u8(2)?.i64(*i)?,
            Value::UnsignedInteger(u) => e.u8(2)?.u64(*u)?,
            Value::Float(f) => e.u8(2)?.f64(*f)?,
            Value::String(s) | Value::CoreLink(s) => e.u8(3)?.str(s)?,
            Value::Boolean(b) => e.u8(4)?.bool(*b)?,
            Value::Opaque(bytes) => e.u8(8)?.bytes(bytes)?,
            Value::ObjLink(o, i) => e.str("vlo")?.str(&format_objlink(*o, *i))?,
        };
        if let Some(t) = out.time {
            e.u8(6)?;
            match time_as_int(t) {
                Some(t) => e.i64(t)?,
                None => e.f64(t)?,
            };
        }
    }
    Ok(())
}

fn parse(bytes: &[u8]) -> Result<Vec<Raw>, ContentError> {
    let mut d = Decoder::new(bytes);
    let mut raws = Vec::new();
    let len = d.array().map_err(malformed)?;
    let mut read = 0u64;
    while more(&mut d, len, read)? {
        raws.push(record(&mut d)?);
        read += 1;
    }
    if d.position() != bytes.len() {
        return Err(ContentError::malformed(FORMAT, "bytes after the pack"));
    }
    Ok(raws)
}

fn record(d: &mut Decoder<'_>) -> Result<Raw, ContentError> {
    let len = d
        .map()
        .map_err(|_| ContentError::malformed(FORMAT, "a record is a map"))?;
    let mut raw = Raw::default();
    let mut read = 0u64;
    while more(d, len, read)? {
        let label = match item(d)? {
            Item::Num(Num::Int(i)) => Label::from_int(i),
            Item::Text(s) => Label::from_text(&s),
            _ => {
                return Err(ContentError::malformed(
                    FORMAT,
                    "a label is an integer or text",
                ));
            }
        };
        raw.set(FORMAT, label, item(d)?)?;
        read += 1;
    }
    Ok(raw)
}

/// Whether an array or map of `len` items (`None`: indefinite) has more after `read`;
/// consumes the break that ends an indefinite one.
fn more(d: &mut Decoder<'_>, len: Option<u64>, read: u64) -> Result<bool, ContentError> {
    match len {
        Some(len) => Ok(read < len),
        None if d.datatype().map_err(malformed)? == Type::Break => {
            d.set_position(d.position() + 1);
            Ok(false)
        }
        None => Ok(true),
    }
}

/// Reads one data item; arrays, maps, tags, null and the like are skipped as
/// [`Item::Other`].
fn item(d: &mut Decoder<'_>) -> Result<Item, ContentError> {
    Ok(match d.datatype().map_err(malformed)? {
        Type::Bool => Item::Bool(d.bool().map_err(malformed)?),
        Type::U8
        | Type::U16
        | Type::U32
        | Type::U64
        | Type::I8
        | Type::I16
        | Type::I32
        | Type::I64
        | Type::Int => Item::Num(Num::Int(d.int().map_err(malformed)?.into())),
        Type::F16 => Item::Num(Num::Float(half(d)?)),
        Type::F32 | Type::F64 => Item::Num(Num::Float(d.f64().map_err(malformed)?)),
        Type::String | Type::StringIndef => {
            let mut text = String::new();
            for chunk in d.str_iter().map_err(malformed)? {
                text.push_str(chunk.map_err(malformed)?);
            }
            Item::Text(text)
        }
        Type::Bytes | Type::BytesIndef => {
            let mut bytes = Vec::new();
            for chunk in d.bytes_iter().map_err(malformed)? {
                bytes.extend_from_slice(chunk.map_err(malformed)?);
            }
            Item::Bytes(bytes)
        }
        Type::Break | Type::Unknown(_) => {
            return Err(ContentError::malformed(
                FORMAT,
                "unexpected break or reserved byte",
            ));
        }
        _ => {
            d.skip().map_err(malformed)?;
            Item::Other
        }
    })
}

/// Reads a half-precision float (minicbor decodes them only with its `half` feature).
fn half(d: &mut Decoder<'_>) -> Result<f64, ContentError> {
    let at = d.position();
    let Some(&[_, hi, lo]) = d.input().get(at..at + 3) else {
        return Err(ContentError::malformed(FORMAT, "truncated float"));
    };
    d.set_position(at + 3);
    Ok(f16_to_f64(u16::from_be_bytes([hi, lo])))
}

fn f16_to_f64(bits: u16) -> f64 {
    let sign = u64::from(bits >> 15) << 63;
    let exponent = (bits >> 10) & 0x1f;
    let mantissa = u64::from(bits & 0x3ff);
    let magnitude = match exponent {
        // Subnormal: mantissa × 2^-24, exact in f64.
        0 => mantissa as f64 / 16_777_216.0,
        0x1f if mantissa == 0 => f64::INFINITY,
        0x1f => f64::from_bits(0x7ff8_0000_0000_0000 | (mantissa << 42)),
        e => f64::from_bits(((u64::from(e) + 1023 - 15) << 52) | (mantissa << 42)),
    };
    f64::from_bits(magnitude.to_bits() | sign)
}

fn malformed(e: minicbor::decode::Error) -> ContentError {
    ContentError::malformed(FORMAT, format!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 5.960_464_477_539_063e-8);
        assert_eq!(f16_to_f64(0x3555), 0.333_251_953_125);
        assert_eq!(f16_to_f64(0x7c00), f64::INFINITY);
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
        assert!(f16_to_f64(0x7e00).is_nan());
        assert_eq!(f16_to_f64(0x8000).to_bits(), (-0.0f64).to_bits());
    }
}
