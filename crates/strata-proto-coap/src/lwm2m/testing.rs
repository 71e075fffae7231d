//! Test fixtures shared by the codec tests: a small object model and the Device object
//! instance of the LwM2M specification's examples.

use alloc::vec::Vec;

use super::{Path, Record, ResourceKind, Types, Value};

/// Objects 1 (Server), 2 (Access Control), 3 (Device), 65 and 66 (the object-link examples of
/// LwM2M 1.0 §6.4.3.3) and 9999, which has a resource of every kind:
/// 0 String, 1 Integer, 2 UnsignedInteger, 3 Float, 4 Boolean, 5 Opaque, 6 Time, 7 ObjLink,
/// 8 CoreLink, 9 executable, 10 multiple Integer, 11 multiple Opaque.
pub(crate) struct Model;

impl Types for Model {
    fn kind(&self, object: u16, resource: u16) -> Option<ResourceKind> {
        use ResourceKind::*;
        Some(match (object, resource) {
            (1, 0..=3 | 5) => Integer,
            (1, 4 | 8) => None,
            (1, 6) => Boolean,
            (1, 7) => String,
            (2, 0..=3) => Integer,
            (3, 0..=3 | 14..=19) => String,
            (3, 4 | 5 | 12) => None,
            (3, 6..=11 | 20 | 21) => Integer,
            (3, 13) => Time,
            (3, 22) => ObjLink,
            (65, 0) | (66, 2) => ObjLink,
            (65, 1) | (66, 0 | 1) => String,
            (65, 2) => Integer,
            (9999, r) => [
                String,
                Integer,
                UnsignedInteger,
                Float,
                Boolean,
                Opaque,
                Time,
                ObjLink,
                CoreLink,
                None,
                Integer,
                Opaque,
            ]
            .get(usize::from(r))
            .copied()?,
            _ => return Option::None,
        })
    }

    fn multiple(&self, object: u16, resource: u16) -> Option<bool> {
        self.kind(object, resource)?;
        Some(matches!(
            (object, resource),
            (2, 2) | (3, 6..=8 | 11 | 22) | (65, 0) | (9999, 10 | 11)
        ))
    }
}

fn record(path: Path, value: Value) -> Record {
    Record {
        path,
        value,
        time: None,
    }
}

/// `/3/0` as in the specification's TLV, SenML JSON and SenML CBOR examples.
pub(crate) fn device() -> Vec<Record> {
    let r = |id| Path::resource(3, 0, id);
    let ri = |id, i| Path::resource_instance(3, 0, id, i);
    alloc::vec![
        record(r(0), Value::String("Open Mobile Alliance".into())),
        record(r(1), Value::String("Lightweight M2M Client".into())),
        record(r(2), Value::String("345000123".into())),
        record(r(3), Value::String("1.0".into())),
        record(ri(6, 0), Value::Integer(1)),
        record(ri(6, 1), Value::Integer(5)),
        record(ri(7, 0), Value::Integer(3800)),
        record(ri(7, 1), Value::Integer(5000)),
        record(ri(8, 0), Value::Integer(125)),
        record(ri(8, 1), Value::Integer(900)),
        record(r(9), Value::Integer(100)),
        record(r(10), Value::Integer(15)),
        record(ri(11, 0), Value::Integer(0)),
        record(r(13), Value::Time(1_367_491_215)),
        record(r(14), Value::String("+02:00".into())),
        record(r(16), Value::String("U".into())),
    ]
}

/// One record of every kind under `/9999/0`, including resource instances.
pub(crate) fn every_kind() -> Vec<Record> {
    let r = |id| Path::resource(9999, 0, id);
    let ri = |id, i| Path::resource_instance(9999, 0, id, i);
    alloc::vec![
        record(r(0), Value::String("héllo".into())),
        record(r(1), Value::Integer(-300)),
        record(r(2), Value::UnsignedInteger(u64::MAX)),
        record(r(3), Value::Float(-2.5e-3)),
        record(r(4), Value::Boolean(true)),
        record(r(5), Value::Opaque(alloc::vec![0, 0xfb, 0xff])),
        record(r(6), Value::Time(-1)),
        record(r(7), Value::ObjLink(65535, 65535)),
        record(r(8), Value::CoreLink("</3/0>".into())),
        record(ri(10, 0), Value::Integer(i64::MIN)),
        record(ri(10, 1), Value::Integer(i64::MAX)),
        record(ri(11, 300), Value::Opaque(alloc::vec![1; 300])),
    ]
}

/// The device records with a different time, for SenML.
pub(crate) fn timed(records: Vec<Record>, time: f64) -> Vec<Record> {
    records
        .into_iter()
        .map(|r| Record {
            time: Some(time),
            ..r
        })
        .collect()
}
