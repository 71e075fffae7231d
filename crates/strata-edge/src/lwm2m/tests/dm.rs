//! Read, Discover, Write, Write-Attributes, Execute, Create, Delete and bad requests.

use super::super::alloc::vec::Vec;
use super::super::objects::Definitions;
use super::super::{Path, Value};
use super::*;
use strata_proto_coap::lwm2m::{self, Record};
use strata_proto_coap::option::format;

fn records(bytes: &[u8], path: &Path) -> Vec<Record> {
    let m = msg(bytes);
    assert_eq!(m.code, Code::CONTENT, "{}", text(bytes));
    lwm2m::decode(m.content_format().unwrap(), path, m.payload, &Definitions).unwrap()
}

fn value(records: &[Record], path: Path) -> Option<Value> {
    records
        .iter()
        .find(|r| r.path == path)
        .map(|r| r.value.clone())
}

#[test]
fn reads_in_every_format_and_refuses_others() {
    let mut net = Net::registered();
    let device = Path::instance(3, 0);
    let tlv = net.get(Req::at("/3/0"));
    assert_eq!(msg(&tlv).content_format(), Some(format::LWM2M_TLV));
    let r = records(&tlv, &device);
    assert_eq!(
        value(&r, Path::resource(3, 0, 0)),
        Some(Value::String("Strata".into()))
    );
    assert_eq!(
        value(&r, Path::resource_instance(3, 0, 11, 0)),
        Some(Value::Integer(0))
    );
    for f in [
        format::SENML_JSON,
        format::SENML_CBOR,
        format::LWM2M_TLV_LEGACY,
    ] {
        let bytes = net.get(Req::at("/3/0").accept(f));
        assert_eq!(msg(&bytes).content_format(), Some(f));
        assert_eq!(records(&bytes, &device), r, "format {f}");
    }
    let units = net.get(Req::at("/3303/0/5701").accept(format::TEXT));
    assert_eq!(text(&units), "Cel");
    // Plain text cannot carry an instance; LwM2M JSON is not spoken.
    assert_eq!(
        msg(&net.get(Req::at("/3/0").accept(format::TEXT))).code,
        Code::NOT_ACCEPTABLE
    );
    assert_eq!(
        msg(&net.get(Req::at("/3/0").accept(format::LWM2M_JSON))).code,
        Code::NOT_ACCEPTABLE
    );
    assert_eq!(
        msg(&net.get(Req::at("/3/0/0").accept(format::OCTET_STREAM))).code,
        Code::NOT_ACCEPTABLE
    );
    // Unknown paths, the Security object, a write-only resource.
    for p in ["/3/1", "/3/0/7", "/9999", "/0/0", "/0"] {
        assert_eq!(msg(&net.get(Req::at(p))).code, Code::NOT_FOUND, "{p}");
    }
    assert_eq!(
        msg(&net.get(Req::at("/5/0/0"))).code,
        Code::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        msg(&net.get(Req::at("/3/0/4"))).code,
        Code::METHOD_NOT_ALLOWED
    );
    // The firmware instance reads without its write-only Package.
    let fw = records(&net.get(Req::at("/5/0")), &Path::instance(5, 0));
    assert_eq!(value(&fw, Path::resource(5, 0, 3)), Some(Value::Integer(0)));
    assert_eq!(value(&fw, Path::resource(5, 0, 9)), Some(Value::Integer(2)));
    assert!(value(&fw, Path::resource(5, 0, 0)).is_none());
}

#[test]
fn writes_replace_and_partial_update_with_errors() {
    let mut net = Net::registered();
    let r = net.put(Req::at("/3/0/15").body(format::TEXT, b"Europe/Paris"));
    assert_eq!(msg(&r).code, Code::CHANGED);
    assert_eq!(
        net.client.value(&Path::resource(3, 0, 15)),
        Some(&Value::String("Europe/Paris".into()))
    );
    assert_eq!(
        net.events(),
        [ClientEvent::Written {
            paths: Vec::from([Path::resource(3, 0, 15)])
        }]
    );
    // Partial update of the instance (TLV): only the given resource changes.
    let tz = Record {
        path: Path::resource(3, 0, 14),
        value: Value::String("+01:00".into()),
        time: None,
    };
    let body = lwm2m::encode(format::LWM2M_TLV, &Path::instance(3, 0), &[tz]).unwrap();
    let r = net.post(Req::at("/3/0").body(format::LWM2M_TLV, &body));
    assert_eq!(msg(&r).code, Code::CHANGED);
    assert_eq!(
        net.client.value(&Path::resource(3, 0, 15)),
        Some(&Value::String("Europe/Paris".into()))
    );
    // Replace of the instance removes the optional writable resources not given.
    let r = net.put(Req::at("/3/0").body(format::LWM2M_TLV, &body));
    assert_eq!(msg(&r).code, Code::CHANGED);
    assert_eq!(net.client.value(&Path::resource(3, 0, 15)), None);
    // Read-only, unknown, malformed, unsupported format, no format, an object.
    let ro = net.put(Req::at("/3/0/0").body(format::TEXT, b"x"));
    assert_eq!(msg(&ro).code, Code::METHOD_NOT_ALLOWED);
    let mut ro_in_instance = body.clone();
    ro_in_instance[1] = 0; // resource 14 -> 0 (Manufacturer, read-only)
    let r = net.post(Req::at("/3/0").body(format::LWM2M_TLV, &ro_in_instance));
    assert_eq!(msg(&r).code, Code::METHOD_NOT_ALLOWED);
    assert_eq!(
        msg(&net.put(Req::at("/3/0/99").body(format::TEXT, b"x"))).code,
        Code::NOT_FOUND
    );
    assert_eq!(
        msg(&net.put(Req::at("/1/0/1").body(format::TEXT, b"soon"))).code,
        Code::BAD_REQUEST
    );
    assert_eq!(
        msg(&net.put(Req::at("/3/0").body(format::LWM2M_TLV, &[0xc8]))).code,
        Code::BAD_REQUEST
    );
    assert_eq!(
        msg(&net.put(Req::at("/3/0/15").body(format::LWM2M_JSON, b"{}"))).code,
        Code::UNSUPPORTED_CONTENT_FORMAT
    );
    let mut no_format = Req::at("/3/0/15");
    no_format.payload = b"x".to_vec();
    assert_eq!(msg(&net.put(no_format)).code, Code::BAD_REQUEST);
    assert_eq!(
        msg(&net.put(Req::at("/3").body(format::LWM2M_TLV, &body))).code,
        Code::METHOD_NOT_ALLOWED
    );
}

#[test]
fn execute_reports_and_refuses_non_executables() {
    let mut net = Net::registered();
    let r = net.post(Req::at("/3/0/4"));
    assert_eq!(msg(&r).code, Code::CHANGED);
    let mut with_args = Req::at("/3/0/5");
    with_args.payload = b"0='now'".to_vec();
    assert_eq!(msg(&net.post(with_args)).code, Code::CHANGED);
    assert_eq!(
        net.events(),
        [
            ClientEvent::Executed {
                path: Path::resource(3, 0, 4),
                args: String::new()
            },
            ClientEvent::Executed {
                path: Path::resource(3, 0, 5),
                args: "0='now'".into()
            }
        ]
    );
    assert_eq!(
        msg(&net.post(Req::at("/3/0/0"))).code,
        Code::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        msg(&net.post(Req::at("/3/0/6/0"))).code,
        Code::METHOD_NOT_ALLOWED
    );
    assert_eq!(msg(&net.post(Req::at("/3/7/4"))).code, Code::NOT_FOUND);
    // Reset Min and Max Measured Values of the temperature sensor.
    let t = |r| Path::resource(3303, 0, r);
    net.client
        .set_value(net.now, t(5700), Value::Float(30.0))
        .unwrap();
    net.client
        .set_value(net.now, t(5700), Value::Float(10.0))
        .unwrap();
    assert_eq!(net.client.value(&t(5602)), Some(&Value::Float(30.0)));
    assert_eq!(msg(&net.post(Req::at("/3303/0/5605"))).code, Code::CHANGED);
    assert_eq!(net.client.value(&t(5601)), Some(&Value::Float(10.0)));
    assert_eq!(net.client.value(&t(5602)), Some(&Value::Float(10.0)));
    // The Registration Update Trigger sends an update.
    net.at_server();
    assert_eq!(msg(&net.post(Req::at("/1/0/8"))).code, Code::CHANGED);
    let (_, data) = net.client_request();
    assert_eq!(msg(&data).path().count(), 2);
}

#[test]
fn create_and_delete_instances() {
    let mut net = Net::registered();
    let app = Record {
        path: Path::resource(3303, 4, 5750),
        value: Value::String("fridge".into()),
        time: None,
    };
    let body = lwm2m::encode(format::LWM2M_TLV, &Path::object(3303), &[app]).unwrap();
    let r = net.post(Req::at("/3303").body(format::LWM2M_TLV, &body));
    let m = msg(&r);
    assert_eq!(m.code, Code::CREATED);
    assert_eq!(
        m.option_values(option::LOCATION_PATH).collect::<Vec<_>>(),
        [&b"3303"[..], b"4"]
    );
    assert_eq!(net.client.instances(3303), [0, 4]);
    // The object list changed: an update carries it.
    let (id, data) = net.client_request();
    assert!(
        text(&data).ends_with("</3303/0>,</3303/4>"),
        "{}",
        text(&data)
    );
    net.answer(&id, Code::CHANGED, &[], b"");
    // Bare TLV resources: the client picks the ID.
    let bare = lwm2m::encode(
        format::LWM2M_TLV,
        &Path::instance(3303, 9),
        &[Record {
            path: Path::resource(3303, 9, 5750),
            value: Value::String("oven".into()),
            time: None,
        }],
    )
    .unwrap();
    let r = net.post(Req::at("/3303").body(format::LWM2M_TLV, &bare));
    assert_eq!(msg(&r).code, Code::CREATED);
    assert_eq!(net.client.instances(3303), [0, 1, 4]);
    assert_eq!(
        msg(&net.post(Req::at("/3303").body(format::LWM2M_TLV, &body))).code,
        Code::BAD_REQUEST,
        "instance exists"
    );
    assert_eq!(msg(&net.post(Req::at("/3"))).code, Code::METHOD_NOT_ALLOWED);
    assert_eq!(msg(&net.delete(Req::at("/3303/4"))).code, Code::DELETED);
    assert_eq!(msg(&net.delete(Req::at("/3303/4"))).code, Code::NOT_FOUND);
    assert_eq!(
        msg(&net.delete(Req::at("/3/0"))).code,
        Code::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        msg(&net.delete(Req::at("/3303/0/5700"))).code,
        Code::METHOD_NOT_ALLOWED
    );
    let events = net.events();
    assert!(events.contains(&ClientEvent::Created {
        path: Path::instance(3303, 4)
    }));
    assert!(events.contains(&ClientEvent::Deleted {
        path: Path::instance(3303, 4)
    }));
}

#[test]
fn discover_and_write_attributes() {
    let mut net = Net::registered();
    let mut attrs = Req::at("/3303/0/5700");
    attrs.queries = Vec::from(["pmin=10", "pmax=60", "gt=25.5"]);
    assert_eq!(msg(&net.put(attrs)).code, Code::CHANGED);
    let mut on_instance = Req::at("/3303/0");
    on_instance.queries = Vec::from(["pmax=120"]);
    assert_eq!(msg(&net.put(on_instance)).code, Code::CHANGED);
    let d = net.get(Req::at("/3303/0").accept(format::LINK_FORMAT));
    assert_eq!(msg(&d).content_format(), Some(format::LINK_FORMAT));
    let listing = text(&d);
    assert!(
        listing.starts_with("</3303/0>;pmax=120,</3303/0/5603>"),
        "{listing}"
    );
    assert!(
        listing.contains("</3303/0/5700>;pmin=10;pmax=60;gt=25.5"),
        "{listing}"
    );
    let d = text(&net.get(Req::at("/3/0/11").accept(format::LINK_FORMAT)));
    assert_eq!(d, "</3/0/11>;dim=1");
    let d = text(&net.get(Req::at("/5").accept(format::LINK_FORMAT)));
    assert!(
        d.starts_with("</5>,</5/0>,</5/0/0>,</5/0/1>,</5/0/2>"),
        "{d}"
    );
    // Inherited attributes show on the resource.
    let d = text(&net.get(Req::at("/3303/0/5700").accept(format::LINK_FORMAT)));
    assert_eq!(d, "</3303/0/5700>;pmin=10;pmax=60;gt=25.5");
    // gt on an instance, pmax below pmin, unknown attribute, unknown path.
    for (path, q) in [
        ("/3303/0", "gt=1"),
        ("/3303/0/5700", "pmax=5"),
        ("/3303/0/5700", "foo=1"),
        ("/3303/0/5701", "st=1"),
    ] {
        let mut r = Req::at(path);
        r.queries = Vec::from([q]);
        assert_eq!(msg(&net.put(r)).code, Code::BAD_REQUEST, "{path}?{q}");
    }
    let mut r = Req::at("/3303/7");
    r.queries = Vec::from(["pmin=1"]);
    assert_eq!(msg(&net.put(r)).code, Code::NOT_FOUND);
}

#[test]
fn bad_requests() {
    let mut net = Net::registered();
    // Composite operations are not supported.
    assert_eq!(
        msg(&net.with(
            Code::FETCH,
            SERVER,
            Req::at("/").body(format::SENML_JSON, b"[]")
        ))
        .code,
        Code::METHOD_NOT_ALLOWED
    );
    // A stranger is not this client's server.
    assert_eq!(
        msg(&net.with(Code::GET, 9, Req::at("/3/0"))).code,
        Code::UNAUTHORIZED
    );
    // Not a path at all.
    assert_eq!(msg(&net.get(Req::at("/abc"))).code, Code::NOT_FOUND);
    // An unknown critical option.
    let token = net
        .server
        .request(net.now, CLIENT, true, Code::GET, false, |w| {
            w.path("3/0")?;
            w.option(2049, b"x")?;
            Ok(())
        })
        .unwrap();
    net.deliver();
    let got = net.at_server();
    match got.as_slice() {
        [AtServer::Response(t, data)] if *t == token => {
            assert_eq!(msg(data).code, Code::BAD_OPTION)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn large_reads_go_block_wise() {
    let mut c = config();
    c.temperature_sensors = 30;
    let mut net = Net::new(c);
    net.register();
    let first = net.get(Req::at("/3303").accept(format::SENML_JSON));
    let m = msg(&first);
    let b = BlockValue::from_message(&m, option::BLOCK2)
        .unwrap()
        .unwrap();
    assert!(b.more && b.num == 0 && m.payload.len() == 1024);
    let total = m.uint_option(option::SIZE2).unwrap() as usize;
    let mut body = m.payload.to_vec();
    let mut num = 1;
    while body.len() < total {
        let mut next = Req::at("/3303").accept(format::SENML_JSON);
        next.block2 = Some(BlockValue {
            num,
            more: false,
            szx: 6,
        });
        let r = net.get(next);
        body.extend_from_slice(msg(&r).payload);
        num += 1;
    }
    let records =
        lwm2m::decode(format::SENML_JSON, &Path::object(3303), &body, &Definitions).unwrap();
    assert_eq!(
        records
            .iter()
            .filter(|r| r.path.resource == Some(5700))
            .count(),
        30
    );
}
