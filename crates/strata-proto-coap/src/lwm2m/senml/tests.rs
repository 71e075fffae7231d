use super::*;
use crate::lwm2m::NoTypes;
use crate::lwm2m::testing::{Model, device, every_kind, timed};
use alloc::vec;

/// LwM2M Core TS 1.1 §7.4.4: Read `/3/0` in SenML JSON (whitespace removed).
const DEVICE_JSON: &str = concat!(
    r#"[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},"#,
    r#"{"n":"1","vs":"Lightweight M2M Client"},{"n":"2","vs":"345000123"},"#,
    r#"{"n":"3","vs":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},"#,
    r#"{"n":"7/1","v":5000},{"n":"8/0","v":125},{"n":"8/1","v":900},{"n":"9","v":100},"#,
    r#"{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},"#,
    r#"{"n":"14","vs":"+02:00"},{"n":"16","vs":"U"}]"#
);

/// LwM2M Core TS 1.1.1 §7.4.5: the same read in SenML CBOR.
const DEVICE_CBOR: &str = concat!(
    "90a321652f332f302f00613003744f70656e204d6f62696c6520416c6c69616e6365a200613103764c69",
    "676874776569676874204d324d20436c69656e74a20061320369333435303030313233a20061330363312e",
    "30a20063362f300201a20063362f310205a20063372f3002190ed8a20063372f3102191388a20063382f30",
    "02187da20063382f3102190384a2006139021864a200623130020fa2006431312f300200a20062313302",
    "1a5182428fa20062313403662b30323a3030a200623136036155"
);

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn json(text: &str) -> Result<Vec<Record>, ContentError> {
    decode_json(text.as_bytes(), &Model)
}

#[test]
fn spec_device_json() {
    assert_eq!(json(DEVICE_JSON).unwrap(), device());
    let encoded = encode_json(Some(&Path::instance(3, 0)), &device()).unwrap();
    assert_eq!(core::str::from_utf8(&encoded).unwrap(), DEVICE_JSON);
}

#[test]
fn spec_device_cbor() {
    let bytes = hex(DEVICE_CBOR);
    assert_eq!(decode_cbor(&bytes, &Model).unwrap(), device());
    assert_eq!(
        encode_cbor(Some(&Path::instance(3, 0)), &device()).unwrap(),
        bytes
    );
}

#[test]
fn every_kind_round_trips() {
    for records in [
        every_kind(),
        timed(every_kind(), 1_700_000_000.0),
        timed(device(), -0.25),
    ] {
        for base in [None, Some(Path::object(9999)), Some(Path::instance(3, 0))] {
            let j = encode_json(base.as_ref(), &records).unwrap();
            assert_eq!(decode_json(&j, &Model).unwrap(), records);
            let c = encode_cbor(base.as_ref(), &records).unwrap();
            assert_eq!(decode_cbor(&c, &Model).unwrap(), records);
        }
    }
    // Full names when the base does not cover every record.
    let j = encode_json(Some(&Path::resource(3, 0, 0)), &device()[..1]).unwrap();
    assert_eq!(j, br#"[{"n":"/3/0/0","vs":"Open Mobile Alliance"}]"#);
}

#[test]
fn base_fields_carry_over() {
    let records = json(concat!(
        r#"[{"bn":"/3/0/","bt":1000,"n":"9","v":1,"t":5},{"n":"10","v":2},"#,
        r#"{"bn":"/1/0","bv":10,"n":"/1","v":3,"t":-1.5},{"n":"/0","v":-4}]"#
    ))
    .unwrap();
    let got: Vec<_> = records
        .iter()
        .map(|r| (r.path, r.value.clone(), r.time))
        .collect();
    assert_eq!(
        got,
        [
            (Path::resource(3, 0, 9), Value::Integer(1), Some(1005.0)),
            (Path::resource(3, 0, 10), Value::Integer(2), Some(1000.0)),
            (Path::resource(1, 0, 1), Value::Integer(13), Some(998.5)),
            (Path::resource(1, 0, 0), Value::Integer(6), Some(1000.0)),
        ]
    );
    // Units, sums and unknown labels are ignored; a version up to 10 is fine.
    let ok = r#"[{"bver":10,"n":"/3/0/9","u":"%","v":7,"s":1,"x":[1]}]"#;
    assert_eq!(json(ok).unwrap()[0].value, Value::Integer(7));
}

#[test]
fn numbers_follow_the_model() {
    let one = |text: &str, types: &dyn Types| {
        decode_json(text.as_bytes(), types).map(|r| r[0].value.clone())
    };
    // Float resource: integers become floats. Time resource: integral floats are fine.
    assert_eq!(
        one(r#"[{"n":"/9999/0/3","v":2}]"#, &Model).unwrap(),
        Value::Float(2.0)
    );
    assert_eq!(
        one(r#"[{"n":"/9999/0/6","v":2.0}]"#, &Model).unwrap(),
        Value::Time(2)
    );
    assert_eq!(
        one(r#"[{"n":"/9999/0/2","v":18446744073709551615}]"#, &Model).unwrap(),
        Value::UnsignedInteger(u64::MAX)
    );
    assert_eq!(
        one(r#"[{"n":"/9999/0/8","vs":"</1>"}]"#, &Model).unwrap(),
        Value::CoreLink("</1>".into())
    );
    // Unknown resources: integral numbers are integers, the rest floats.
    let unknown = [
        (r#"[{"n":"/7/0/0","v":-3}]"#, Value::Integer(-3)),
        (r#"[{"n":"/7/0/0","v":3.0}]"#, Value::Integer(3)),
        (r#"[{"n":"/7/0/0","v":3.5}]"#, Value::Float(3.5)),
        (r#"[{"n":"/7/0/0","v":1e300}]"#, Value::Float(1e300)),
        (
            r#"[{"n":"/7/0/0","v":18446744073709551615}]"#,
            Value::UnsignedInteger(u64::MAX),
        ),
        (r#"[{"n":"/7/0/0","vs":"x"}]"#, Value::String("x".into())),
        (r#"[{"n":"/7/0/0","vb":false}]"#, Value::Boolean(false)),
        (
            r#"[{"n":"/7/0/0","vd":"-_8"}]"#,
            Value::Opaque(vec![0xfb, 0xff]),
        ),
        (
            r#"[{"n":"/7/0/0","vd":"+/8="}]"#,
            Value::Opaque(vec![0xfb, 0xff]),
        ),
        (r#"[{"n":"/7/0/0","vlo":"3:0"}]"#, Value::ObjLink(3, 0)),
    ];
    for (text, value) in unknown {
        assert_eq!(one(text, &NoTypes).unwrap(), value, "{text}");
    }
}

#[test]
fn composite_request_paths() {
    let text = r#"[{"n":"/3/0/0"},{"n":"/1/0"},{"bn":"/5/","n":""},{"bn":"/3/0/","n":"6/1"}]"#;
    let expected = [
        Path::resource(3, 0, 0),
        Path::instance(1, 0),
        Path::object(5),
        Path::resource_instance(3, 0, 6, 1),
    ];
    assert_eq!(decode_paths_json(text.as_bytes()).unwrap(), expected);
    // The same pack in CBOR, with an indefinite-length array and a value to ignore.
    let mut cbor = vec![0x9f];
    for (bn, n) in [
        (None, "/3/0/0"),
        (None, "/1/0"),
        (Some("/5/"), ""),
        (Some("/3/0/"), "6/1"),
    ] {
        cbor.push(if bn.is_some() { 0xa2 } else { 0xa1 });
        if let Some(bn) = bn {
            cbor.push(0x21);
            cbor.push(0x60 + bn.len() as u8);
            cbor.extend_from_slice(bn.as_bytes());
        }
        cbor.push(0x00);
        cbor.push(0x60 + n.len() as u8);
        cbor.extend_from_slice(n.as_bytes());
    }
    cbor.push(0xff);
    assert_eq!(decode_paths_cbor(&cbor).unwrap(), expected);
    for bad in [
        r#"[{"n":"/3/a"}]"#,
        r#"[{"v":1}]"#,
        r#"{"n":"/3"}"#,
        r#"[{"n":"/3//"}]"#,
    ] {
        assert!(decode_paths_json(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn cbor_variants_decode() {
    // [{0: "/9999/0/3", 2: f16 1.5}, {0: indefinite "/9999/0/" "5", 8: indefinite h'01' h'02'},
    //  {_ 0: "/9999/0/3", 2: f32 0.5, 6: f64 1.25}]
    let mut bytes =
        hex("83a200692f393939392f302f3302f93e00a2007f682f393939392f302f6135ff085f41014102ff");
    bytes.extend(hex(
        "bf00692f393939392f302f3302fa3f00000006fb3ff4000000000000ff",
    ));
    let records = decode_cbor(&bytes, &Model).unwrap();
    assert_eq!(records[0].value, Value::Float(1.5));
    assert_eq!(records[1].value, Value::Opaque(vec![1, 2]));
    assert_eq!(records[2].value, Value::Float(0.5));
    assert_eq!(records[2].time, Some(1.25));
    // [{0: "/66/0/2", "vlo": "3:0", 100: 1(0)}]: a text label, and a tagged item under an
    // unknown label (ignored).
    let bytes = hex("81a300672f36362f302f3263766c6f63333a301864c100");
    assert_eq!(
        decode_cbor(&bytes, &Model).unwrap()[0].value,
        Value::ObjLink(3, 0)
    );
}

#[test]
fn malformed_json_is_an_error() {
    let bad = [
        "",
        "{",
        r#"{"n":"/3/0/9","v":1}"#,
        "[1]",
        r#"[{"n":3,"v":1}]"#,
        r#"[{"n":"/3/0/9","v":"1"}]"#,
        r#"[{"n":"/3/0/9","v":1,"vs":"1"}]"#,
        r#"[{"n":"/3/0/9"}]"#,
        r#"[{"n":"/3/0","v":1}]"#,
        r#"[{"n":"3/0/x","v":1}]"#,
        r#"[{"v":1}]"#,
        r#"[{"n":"/7/0/0","vd":"!!"}]"#,
        r#"[{"n":"/7/0/0","vlo":"3"}]"#,
        r#"[{"n":"/7/0/0","vlo":"3:0:1"}]"#,
        r#"[{"n":"/3/0/9","v":1,"x_":1}]"#,
        r#"[{"bver":11,"n":"/3/0/9","v":1}]"#,
        r#"[{"n":"/3/0/9","vs":"1"}]"#,
        r#"[{"n":"/3/0/9","v":1.5}]"#,
        r#"[{"n":"/3/0/9","v":9223372036854775808}]"#,
        r#"[{"n":"/9999/0/2","v":-1}]"#,
        r#"[{"n":"/3/0/4","v":1}]"#,
        r#"[{"n":"/3/0/6","v":1}]"#,
        r#"[{"n":"/3/0/9/0","v":1}]"#,
        r#"[{"n":"/3/0/0","vb":true}]"#,
        r#"[{"n":"/3/0/9","t":"now","v":1}]"#,
        r#"[{"n":"/3/0/9","v":1e999}]"#,
    ];
    for text in bad {
        assert!(json(text).is_err(), "{text}");
    }
}

#[test]
fn malformed_cbor_is_an_error() {
    let bad = [
        "",
        "90",                         // array of 16, nothing in it
        "a0",                         // a map, not an array
        "8101",                       // a record that is not a map
        "81a1",                       // truncated map
        "81a14100f5",                 // byte-string label
        "81a20066",                   // truncated text
        "81a2006261ff02f5",           // "a\xff" is not UTF-8
        "80ff",                       // bytes after the pack
        "9fa0",                       // indefinite array without its break
        "81a200662f332f302f39026131", // v given as text
        "81a200662f332f302f39ff",     // a break inside a definite map
        "81a200662f332f302f3908613f", // vd as text in CBOR
    ];
    for text in bad {
        assert!(decode_cbor(&hex(text), &Model).is_err(), "{text}");
    }
}

#[test]
fn unencodable_records_are_errors() {
    let nan = [Record {
        path: Path::resource(9999, 0, 3),
        value: Value::Float(f64::NAN),
        time: None,
    }];
    assert!(encode_json(None, &nan).is_err());
    let c = encode_cbor(None, &nan).unwrap();
    assert!(matches!(decode_cbor(&c, &Model).unwrap()[0].value, Value::Float(f) if f.is_nan()));
    let not_a_resource = [Record {
        path: Path::instance(3, 0),
        value: Value::Integer(1),
        time: None,
    }];
    assert!(encode_json(None, &not_a_resource).is_err());
    assert!(encode_cbor(None, &not_a_resource).is_err());
    assert_eq!(encode_json(None, &[]).unwrap(), b"[]");
    assert_eq!(encode_cbor(None, &[]).unwrap(), [0x80]);
}

proptest::proptest! {
    #[test]
    fn decoding_random_bytes_never_panics(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96),
    ) {
        let _ = decode_json(&bytes, &Model);
        let _ = decode_cbor(&bytes, &Model);
        let _ = decode_cbor(&bytes, &NoTypes);
        let _ = decode_paths_json(&bytes);
        let _ = decode_paths_cbor(&bytes);
    }

    #[test]
    fn decoding_random_json_never_panics(text in r#"\[(\{("(bn|n|v|vs|vd|vb|vlo|t|bt|bv)":("[/0-9:a-z_-]{0,8}"|-?[0-9]{1,3}(\.[0-9])?|true|null),?){0,4}\},?){0,3}\]"#) {
        let _ = decode_json(text.as_bytes(), &Model);
        let _ = decode_json(text.as_bytes(), &NoTypes);
        let _ = decode_paths_json(text.as_bytes());
    }
}
