use super::*;
use crate::lwm2m::NoTypes;
use crate::lwm2m::testing::{Model, device, every_kind};
use alloc::vec;

/// LwM2M 1.0 §6.4.3.1 / 1.1 §7.4.3: Read `/3/0` (the resources of Device instance 0).
const DEVICE: &[u8] = &[
    0xC8, 0x00, 0x14, 0x4F, 0x70, 0x65, 0x6E, 0x20, 0x4D, 0x6F, 0x62, 0x69, 0x6C, 0x65, 0x20, 0x41,
    0x6C, 0x6C, 0x69, 0x61, 0x6E, 0x63, 0x65, // 0 Manufacturer
    0xC8, 0x01, 0x16, 0x4C, 0x69, 0x67, 0x68, 0x74, 0x77, 0x65, 0x69, 0x67, 0x68, 0x74, 0x20, 0x4D,
    0x32, 0x4D, 0x20, 0x43, 0x6C, 0x69, 0x65, 0x6E, 0x74, // 1 Model
    0xC8, 0x02, 0x09, 0x33, 0x34, 0x35, 0x30, 0x30, 0x30, 0x31, 0x32, 0x33, // 2 Serial
    0xC3, 0x03, 0x31, 0x2E, 0x30, // 3 Firmware version
    0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05, // 6 Available power sources
    0x88, 0x07, 0x08, 0x42, 0x00, 0x0E, 0xD8, 0x42, 0x01, 0x13, 0x88, // 7 Voltage
    0x87, 0x08, 0x41, 0x00, 0x7D, 0x42, 0x01, 0x03, 0x84, // 8 Current
    0xC1, 0x09, 0x64, // 9 Battery level
    0xC1, 0x0A, 0x0F, // 10 Memory free
    0x83, 0x0B, 0x41, 0x00, 0x00, // 11 Error code
    0xC4, 0x0D, 0x51, 0x82, 0x42, 0x8F, // 13 Current time
    0xC6, 0x0E, 0x2B, 0x30, 0x32, 0x3A, 0x30, 0x30, // 14 UTC offset
    0xC1, 0x10, 0x55, // 16 Binding
];

/// LwM2M 1.0 §6.4.3.2 example B: Read `/2`, two Access Control instances (one ACL
/// resource instance with a 16-bit ID).
const ACCESS_CONTROL: &[u8] = &[
    0x08, 0x00, 0x0E, 0xC1, 0x00, 0x01, 0xC1, 0x01, 0x00, 0x83, 0x02, 0x41, 0x7F, 0x07, 0xC1, 0x03,
    0x7F, 0x08, 0x02, 0x12, 0xC1, 0x00, 0x03, 0xC1, 0x01, 0x00, 0x87, 0x02, 0x41, 0x7F, 0x07, 0x61,
    0x01, 0x36, 0x01, 0xC1, 0x03, 0x7F,
];

/// LwM2M 1.0 §6.4.3.2 example D: Read `/1`, one Server instance.
const SERVER: &[u8] = &[
    0x08, 0x00, 0x0F, 0xC1, 0x00, 0x01, 0xC4, 0x01, 0x00, 0x01, 0x51, 0x80, 0xC1, 0x06, 0x01, 0xC1,
    0x07, 0x55,
];

/// LwM2M 1.0 §6.4.3.3 example 1: Read `/65/0`, with a multiple object-link resource.
const LINKS: &[u8] = &[
    0x88, 0x00, 0x0C, 0x44, 0x00, 0x00, 0x42, 0x00, 0x00, 0x44, 0x01, 0x00, 0x42, 0x00, 0x01, 0xC8,
    0x01, 0x0D, 0x38, 0x36, 0x31, 0x33, 0x38, 0x30, 0x30, 0x37, 0x35, 0x35, 0x35, 0x30, 0x30, 0xC4,
    0x02, 0x12, 0x34, 0x56, 0x78,
];

fn record(path: Path, value: Value) -> Record {
    Record {
        path,
        value,
        time: None,
    }
}

fn round_trip(base: Path, bytes: &[u8]) -> Vec<Record> {
    let records = decode(&base, bytes, &Model).unwrap();
    assert_eq!(
        encode(&base, &records).unwrap(),
        bytes,
        "re-encoding {base}"
    );
    records
}

#[test]
fn spec_device_instance() {
    assert_eq!(round_trip(Path::instance(3, 0), DEVICE), device());
}

#[test]
fn spec_device_object_wraps_the_instance() {
    let mut wrapped = vec![0x08, 0x00, 0x79];
    wrapped.extend_from_slice(DEVICE);
    assert_eq!(round_trip(Path::object(3), &wrapped), device());
    // An instance path accepts the wrapper as well.
    assert_eq!(
        decode(&Path::instance(3, 0), &wrapped, &Model).unwrap(),
        device()
    );
    wrapped[1] = 1;
    assert!(decode(&Path::instance(3, 0), &wrapped, &Model).is_err());
}

#[test]
fn spec_access_control_and_server() {
    let records = round_trip(Path::object(2), ACCESS_CONTROL);
    assert_eq!(records.len(), 9);
    assert!(records.contains(&record(
        Path::resource_instance(2, 2, 2, 310),
        Value::Integer(1)
    )));
    let records = round_trip(Path::object(1), SERVER);
    assert_eq!(
        records,
        [
            record(Path::resource(1, 0, 0), Value::Integer(1)),
            record(Path::resource(1, 0, 1), Value::Integer(86400)),
            record(Path::resource(1, 0, 6), Value::Boolean(true)),
            record(Path::resource(1, 0, 7), Value::String("U".into())),
        ]
    );
}

#[test]
fn spec_object_links() {
    let records = round_trip(Path::instance(65, 0), LINKS);
    assert_eq!(records[1].value, Value::ObjLink(66, 1));
    assert_eq!(records[3].value, Value::Integer(0x1234_5678));
    let null = [0xC4, 0x02, 0xFF, 0xFF, 0xFF, 0xFF];
    assert_eq!(
        round_trip(Path::instance(66, 1), &null)[0].value,
        Value::ObjLink(65535, 65535)
    );
}

#[test]
fn resource_and_resource_instance_paths() {
    let power = [0x86, 0x06, 0x41, 0x00, 0x01, 0x41, 0x01, 0x05];
    let records = round_trip(Path::resource(3, 0, 6), &power);
    assert_eq!(records, device()[4..6]);
    // A bare list of resource instances decodes the same.
    assert_eq!(
        decode(&Path::resource(3, 0, 6), &power[2..], &Model).unwrap(),
        records
    );
    let one = round_trip(Path::resource_instance(3, 0, 6, 1), &power[5..]);
    assert_eq!(one, device()[5..6]);
    assert_eq!(
        round_trip(Path::resource(3, 0, 0), &DEVICE[..23]),
        device()[..1]
    );
}

#[test]
fn unknown_resources_are_opaque() {
    let records = decode(&Path::instance(3, 0), DEVICE, &NoTypes).unwrap();
    assert_eq!(records.len(), device().len());
    assert_eq!(records[10].path, Path::resource(3, 0, 9));
    assert_eq!(records[10].value, Value::Opaque(vec![100]));
    assert_eq!(encode(&Path::instance(3, 0), &records).unwrap(), DEVICE);
}

#[test]
fn every_kind_round_trips() {
    let records = every_kind();
    for base in [Path::object(9999), Path::instance(9999, 0)] {
        let bytes = encode(&base, &records).unwrap();
        assert_eq!(decode(&base, &bytes, &Model).unwrap(), records);
    }
    for record in &records {
        let base = record.path;
        let bytes = encode(&base, core::slice::from_ref(record)).unwrap();
        assert_eq!(
            decode(&base, &bytes, &Model).unwrap(),
            core::slice::from_ref(record)
        );
    }
}

#[test]
fn shortest_widths_and_long_values() {
    let width = |value: Value| value_bytes(&value).len();
    assert_eq!(width(Value::Integer(127)), 1);
    assert_eq!(width(Value::Integer(-128)), 1);
    assert_eq!(width(Value::Integer(128)), 2);
    assert_eq!(width(Value::Integer(-32769)), 4);
    assert_eq!(width(Value::Integer(1 << 31)), 8);
    assert_eq!(width(Value::UnsignedInteger(255)), 1);
    assert_eq!(width(Value::UnsignedInteger(65536)), 4);
    assert_eq!(width(Value::UnsignedInteger(1 << 32)), 8);
    assert_eq!(width(Value::Float(1.5)), 4);
    assert_eq!(width(Value::Float(0.1)), 8);
    for len in [7, 8, 255, 256, 65535, 65536, MAX_LEN] {
        let record = record(Path::resource(9999, 0, 0x1234), Value::Opaque(vec![7; len]));
        let bytes = encode(&Path::instance(9999, 0), core::slice::from_ref(&record)).unwrap();
        assert_eq!(
            decode(&Path::instance(9999, 0), &bytes, &NoTypes).unwrap(),
            [record]
        );
    }
    let huge = record(
        Path::resource(9999, 0, 5),
        Value::Opaque(vec![0; MAX_LEN + 1]),
    );
    assert!(encode(&Path::instance(9999, 0), &[huge]).is_err());
}

#[test]
fn malformed_payloads_are_errors() {
    let instance = Path::instance(3, 0);
    let cases: [(Path, &[u8]); 20] = [
        (instance, &[0xC8]),
        (instance, &[0xC8, 0x00]),
        (instance, &[0xC8, 0x00, 0x14, 0x4F]),
        (instance, &[0xF0, 0x00]),             // 24-bit length cut short
        (instance, &[0xE1, 0xFF, 0xFF, 0x00]), // identifier 65535
        (instance, &[0xC2, 0x00, 0xFF, 0xFE]), // manufacturer not UTF-8
        (instance, &[0xC3, 0x09, 0x00, 0x00, 0x01]), // 3-byte integer
        (instance, &[0xC0, 0x09]),             // empty integer
        (instance, &[0xC1, 0x06, 0x01]),       // multiple resource as a value
        (instance, &[0x83, 0x09, 0x41, 0x00, 0x01]), // single resource as instances
        (instance, &[0x41, 0x00, 0x01]),       // resource instance at top level
        (instance, &[0x82, 0x06, 0x00, 0x00]), // object instance in a multiple resource
        (instance, &[0xC1, 0x09, 0x64, 0xC1, 0x09, 0x64]), // duplicate
        (instance, &[0xC1, 0x04, 0x01]),       // executable resource with a value
        (Path::instance(1, 0), &[0xC1, 0x06, 0x02]), // boolean 2
        (Path::instance(1, 0), &[0xC2, 0x06, 0x00, 0x01]), // 2-byte boolean
        (Path::resource(3, 0, 9), &[0xC1, 0x0A, 0x0F]), // another resource
        (Path::resource(3, 0, 9), &[]),
        (Path::resource_instance(3, 0, 6, 1), &[0x41, 0x00, 0x01]),
        (Path::object(3), &DEVICE[..23]), // resources where instances belong
    ];
    for (base, bytes) in cases {
        assert!(decode(&base, bytes, &Model).is_err(), "{base} {bytes:02x?}");
    }
    let floats: [&[u8]; 3] = [
        &[0xC2, 0x03, 0, 0],
        &[0xC0, 0x03],
        &[0xC5, 0x03, 0, 0, 0, 0, 0],
    ];
    for bytes in floats {
        assert!(decode(&Path::instance(9999, 0), bytes, &Model).is_err());
    }
    let link = [0xC3, 0x07, 0, 0, 0];
    assert!(decode(&Path::instance(9999, 0), &link, &Model).is_err());
    // Without a model, a resource can still not be both a value and instances.
    let both = [0xC1, 0x06, 0x01, 0x83, 0x06, 0x41, 0x00, 0x01];
    assert!(decode(&instance, &both, &NoTypes).is_err());
}

#[test]
fn unencodable_records_are_errors() {
    let base = Path::instance(3, 0);
    let value = Value::Integer(1);
    let cases = [
        vec![record(Path::resource(3, 1, 9), value.clone())],
        vec![record(Path::instance(3, 0), value.clone())],
        vec![
            record(Path::resource(3, 0, 9), value.clone()),
            record(Path::resource(3, 0, 9), value.clone()),
        ],
        vec![
            record(Path::resource(3, 0, 6), value.clone()),
            record(Path::resource_instance(3, 0, 6, 0), value.clone()),
        ],
    ];
    for records in cases {
        assert!(encode(&base, &records).is_err(), "{records:?}");
    }
    assert!(encode(&Path::resource(3, 0, 9), &[]).is_err());
    assert_eq!(encode(&base, &[]).unwrap(), b"");
}

#[test]
fn every_prefix_of_the_spec_example_decodes_or_errors() {
    for end in 0..DEVICE.len() {
        let _ = decode(&Path::instance(3, 0), &DEVICE[..end], &Model);
    }
}

proptest::proptest! {
    #[test]
    fn decoding_random_bytes_never_panics(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96),
    ) {
        for base in crate::fuzz::BASES {
            let _ = decode(&base, &bytes, &Model);
            let _ = decode(&base, &bytes, &NoTypes);
        }
    }

    #[test]
    fn round_trips_hold(
        values in proptest::collection::vec((0u16..12, 0u16..300, proptest::prelude::any::<i64>()), 0..12),
    ) {
        let mut records = Vec::new();
        for (resource, ri, n) in values {
            let path = if resource >= 10 {
                Path::resource_instance(9999, 0, resource, ri)
            } else {
                Path::resource(9999, 0, resource)
            };
            let value = match resource {
                0 => Value::String(format!("{n}")),
                2 => Value::UnsignedInteger(n.unsigned_abs()),
                3 => Value::Float(n as f64 / 7.0),
                4 => Value::Boolean(n % 2 == 0),
                5 | 11 => Value::Opaque(n.to_be_bytes().to_vec()),
                6 => Value::Time(n),
                7 => Value::ObjLink(ri, ri),
                8 => Value::CoreLink(format!("</{ri}>")),
                9 => continue,
                _ => Value::Integer(n),
            };
            if records.iter().all(|r: &Record| r.path != path) {
                records.push(record(path, value));
            }
        }
        records.sort_by_key(|r| r.path);
        let bytes = encode(&Path::object(9999), &records).unwrap();
        proptest::prop_assert_eq!(decode(&Path::object(9999), &bytes, &Model).unwrap(), records);
    }
}
