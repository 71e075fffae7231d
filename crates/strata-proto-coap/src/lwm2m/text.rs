//! Plain text (Content-Format 0) and opaque (42): the value of one single-instance resource or
//! one resource instance (LwM2M Core TS 1.1 §7.4.1-7.4.2).
//!
//! Plain text writes integers, unsigned integers, times (Unix seconds) and floats in decimal,
//! booleans as `0`/`1`, object links as `object:instance`, strings and CoRE links as they are,
//! and opaque values in base64 (standard alphabet, padded; decoding also takes URL-safe and
//! unpadded text). The opaque format carries opaque resources only.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{ContentError, Path, ResourceKind, Value, b64};

const TEXT: &str = "plain text";

/// Decodes a plain-text payload holding the value at `path`, of type `kind`.
pub fn decode_text(path: &Path, bytes: &[u8], kind: ResourceKind) -> Result<Value, ContentError> {
    let text = core::str::from_utf8(bytes)
        .map_err(|_| ContentError::malformed(TEXT, "payload is not UTF-8"))?;
    let not = |what: &str| ContentError::typed(*path, format!("plain text value is not {what}"));
    Ok(match kind {
        ResourceKind::String => Value::String(text.into()),
        ResourceKind::CoreLink => Value::CoreLink(text.into()),
        ResourceKind::Integer => Value::Integer(text.parse().map_err(|_| not("an integer"))?),
        ResourceKind::Time => Value::Time(text.parse().map_err(|_| not("a time in seconds"))?),
        ResourceKind::UnsignedInteger => {
            Value::UnsignedInteger(text.parse().map_err(|_| not("an unsigned integer"))?)
        }
        ResourceKind::Float => Value::Float(parse_float(text).ok_or_else(|| not("a number"))?),
        ResourceKind::Boolean => match text {
            "0" => Value::Boolean(false),
            "1" => Value::Boolean(true),
            _ => return Err(not("0 or 1")),
        },
        ResourceKind::ObjLink => {
            let (object, instance) = parse_objlink(text).ok_or_else(|| not("an object link"))?;
            Value::ObjLink(object, instance)
        }
        ResourceKind::Opaque => Value::Opaque(b64::decode(bytes).ok_or_else(|| not("base64"))?),
        ResourceKind::None => return Err(no_value(path)),
    })
}

/// Encodes `value` as plain text. Non-finite floats have no plain-text form
/// ([`ContentError::Unsupported`]).
pub fn encode_text(value: &Value) -> Result<Vec<u8>, ContentError> {
    Ok(match value {
        Value::String(s) | Value::CoreLink(s) => s.as_bytes().to_vec(),
        Value::Integer(i) | Value::Time(i) => format!("{i}").into_bytes(),
        Value::UnsignedInteger(u) => format!("{u}").into_bytes(),
        Value::Float(f) if f.is_finite() => format!("{f}").into_bytes(),
        Value::Float(f) => {
            return Err(ContentError::Unsupported(format!(
                "{f} has no plain-text form"
            )));
        }
        Value::Boolean(b) => Vec::from(if *b { "1" } else { "0" }),
        Value::ObjLink(object, instance) => format_objlink(*object, *instance).into_bytes(),
        Value::Opaque(bytes) => b64::encode_standard(bytes).into_bytes(),
    })
}

/// Decodes an opaque payload holding the value at `path`; only `kind` Opaque fits.
pub fn decode_opaque(path: &Path, bytes: &[u8], kind: ResourceKind) -> Result<Value, ContentError> {
    match kind {
        ResourceKind::Opaque => Ok(Value::Opaque(bytes.to_vec())),
        ResourceKind::None => Err(no_value(path)),
        other => Err(ContentError::Unsupported(format!(
            "{path} is {other:?}, and the opaque format carries opaque resources only"
        ))),
    }
}

/// Encodes an opaque value as itself; other values are [`ContentError::Unsupported`].
pub fn encode_opaque(value: &Value) -> Result<Vec<u8>, ContentError> {
    match value {
        Value::Opaque(bytes) => Ok(bytes.clone()),
        other => Err(ContentError::Unsupported(format!(
            "the opaque format carries opaque values only, not {:?}",
            other.kind()
        ))),
    }
}

/// Parses `object:instance` (each 0 to 65535: `65535:65535` is the null link).
pub(crate) fn parse_objlink(text: &str) -> Option<(u16, u16)> {
    let (object, instance) = text.split_once(':')?;
    Some((parse_id(object)?, parse_id(instance)?))
}

/// Writes `object:instance`.
pub(crate) fn format_objlink(object: u16, instance: u16) -> String {
    format!("{object}:{instance}")
}

fn parse_id(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A finite decimal number (`-1.5`, `2e3`); no `inf`, `NaN` or surrounding blanks.
fn parse_float(text: &str) -> Option<f64> {
    let decimal = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'));
    let value: f64 = text.parse().ok().filter(|_| decimal)?;
    value.is_finite().then_some(value)
}

fn no_value(path: &Path) -> ContentError {
    ContentError::typed(*path, "an executable resource has no value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const P: Path = Path::resource(3, 0, 1);

    #[test]
    fn every_kind_round_trips() {
        let values = [
            Value::String("Strata ünïcode".into()),
            Value::CoreLink("</3/0>;ver=1.1".into()),
            Value::Integer(-42),
            Value::Integer(i64::MIN),
            Value::Time(1_367_491_215),
            Value::UnsignedInteger(u64::MAX),
            Value::Float(-1.5),
            Value::Float(1e300),
            Value::Float(3.0),
            Value::Boolean(true),
            Value::Boolean(false),
            Value::ObjLink(3, 0),
            Value::ObjLink(65535, 65535),
            Value::Opaque(vec![0, 1, 2, 0xff]),
            Value::Opaque(vec![]),
        ];
        for value in values {
            let bytes = encode_text(&value).unwrap();
            assert_eq!(
                decode_text(&P, &bytes, value.kind()).unwrap(),
                value,
                "{value:?}"
            );
        }
    }

    #[test]
    fn spec_shapes() {
        assert_eq!(encode_text(&Value::Boolean(true)).unwrap(), b"1");
        assert_eq!(encode_text(&Value::ObjLink(3, 0)).unwrap(), b"3:0");
        assert_eq!(encode_text(&Value::Float(3.0)).unwrap(), b"3");
        assert_eq!(
            encode_text(&Value::Opaque(vec![0xfb, 0xff])).unwrap(),
            b"+/8="
        );
        assert_eq!(
            decode_text(&P, b"-_8", ResourceKind::Opaque).unwrap(),
            Value::Opaque(vec![0xfb, 0xff])
        );
        assert_eq!(
            decode_text(&P, b"2.5e1", ResourceKind::Float).unwrap(),
            Value::Float(25.0)
        );
        assert_eq!(
            decode_text(&P, b"7", ResourceKind::Float).unwrap(),
            Value::Float(7.0)
        );
    }

    #[test]
    fn malformed_values_are_errors() {
        let bad: [(&[u8], ResourceKind); 17] = [
            (b"\xff", ResourceKind::String),
            (b"", ResourceKind::Integer),
            (b"1.5", ResourceKind::Integer),
            (b" 1", ResourceKind::Integer),
            (b"9223372036854775808", ResourceKind::Integer),
            (b"-1", ResourceKind::UnsignedInteger),
            (b"1.0", ResourceKind::Time),
            (b"inf", ResourceKind::Float),
            (b"NaN", ResourceKind::Float),
            (b"1e999", ResourceKind::Float),
            (b"", ResourceKind::Float),
            (b"true", ResourceKind::Boolean),
            (b"2", ResourceKind::Boolean),
            (b"3", ResourceKind::ObjLink),
            (b"3:+0", ResourceKind::ObjLink),
            (b"3:65536", ResourceKind::ObjLink),
            (b"a b", ResourceKind::Opaque),
        ];
        for (bytes, kind) in bad {
            assert!(
                decode_text(&P, bytes, kind).is_err(),
                "{bytes:?} as {kind:?}"
            );
        }
        assert!(decode_text(&P, b"", ResourceKind::None).is_err());
        assert!(encode_text(&Value::Float(f64::NAN)).is_err());
    }

    #[test]
    fn opaque_only_for_opaque() {
        assert_eq!(
            decode_opaque(&P, b"\x00\xff", ResourceKind::Opaque).unwrap(),
            Value::Opaque(vec![0, 0xff])
        );
        assert!(matches!(
            decode_opaque(&P, b"1", ResourceKind::Integer),
            Err(ContentError::Unsupported(_))
        ));
        assert_eq!(encode_opaque(&Value::Opaque(vec![7])).unwrap(), [7]);
        assert!(encode_opaque(&Value::Integer(7)).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoding_random_bytes_never_panics(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..32),
        ) {
            for kind in crate::fuzz::KINDS {
                let _ = decode_text(&P, &bytes, kind);
                let _ = decode_opaque(&P, &bytes, kind);
            }
        }
    }
}
