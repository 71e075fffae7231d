//! Client-initiated bootstrap: request, delete, write, discover, read, finish.

use super::super::alloc::vec::Vec;
use super::super::{Path, Value};
use super::*;
use strata_proto_coap::lwm2m::{self, Record};
use strata_proto_coap::option::format;

fn bs_config() -> ClientConfig<u8> {
    let mut c = config();
    c.server = None;
    c.bootstrap_server = Some(BS);
    c.bootstrap_uri = "coap://bs".into();
    c
}

fn tlv(instance: Path, values: &[(u16, Value)]) -> Vec<u8> {
    let records: Vec<Record> = values
        .iter()
        .map(|(r, v)| Record {
            path: Path::resource(instance.object, instance.instance.unwrap(), *r),
            value: v.clone(),
            time: None,
        })
        .collect();
    lwm2m::encode(format::LWM2M_TLV, &instance, &records).unwrap()
}

fn bs(net: &mut Net, code: Code, req: Req) -> Code {
    msg(&net.with(code, BS, req)).code
}

#[test]
fn bootstrap_then_register() {
    let mut net = Net::new(bs_config());
    assert_eq!(
        net.client.register(0),
        Err(super::super::ClientError::NoServer)
    );
    net.client.bootstrap(0).unwrap();
    let got = net.at_server_from(BS);
    let [AtServer::Request(id, data)] = got.as_slice() else {
        panic!("{got:?}");
    };
    let m = msg(data);
    assert_eq!(m.path().collect::<Vec<_>>(), [&b"bs"[..]]);
    assert_eq!(m.query("ep"), Some("node-1"));
    let id = *id;
    net.server
        .respond(0, &id, Code::CHANGED, |_| Ok(()))
        .unwrap();
    net.deliver_from(BS);
    assert!(net.client.is_bootstrapping());

    // Discover shows the bootstrap account and the objects.
    let d = net.with(Code::GET, BS, Req::at("").accept(format::LINK_FORMAT));
    let listing = text(&d);
    assert!(
        listing.starts_with("</>;lwm2m=1.1,</0/0>,</1>,</3/0>"),
        "{listing}"
    );
    // Delete everything deletable: the bootstrap account stays.
    assert_eq!(bs(&mut net, Code::DELETE, Req::at("")), Code::DELETED);
    assert_eq!(net.client.instances(0), [0]);
    assert_eq!(net.client.instances(3), [0]);
    let security = tlv(
        Path::instance(0, 1),
        &[
            (0, Value::String("coap://dm:5683".into())),
            (1, Value::Boolean(false)),
            (2, Value::Integer(3)),
            (3, Value::Opaque(Vec::new())),
            (4, Value::Opaque(Vec::new())),
            (5, Value::Opaque(Vec::new())),
            (10, Value::Integer(101)),
        ],
    );
    // Finish before a server account exists is refused.
    assert_eq!(
        bs(&mut net, Code::POST, Req::at("/bs")),
        Code::NOT_ACCEPTABLE
    );
    let w = Req::at("/0/1").body(format::LWM2M_TLV, &security);
    assert_eq!(bs(&mut net, Code::PUT, w), Code::CHANGED);
    let server = tlv(
        Path::instance(1, 0),
        &[
            (0, Value::Integer(101)),
            (1, Value::Integer(120)),
            (6, Value::Boolean(true)),
            (7, Value::String("U".into())),
        ],
    );
    let w = Req::at("/1/0").body(format::LWM2M_TLV, &server);
    assert_eq!(bs(&mut net, Code::PUT, w), Code::CHANGED);
    // Bootstrap-Read of the Server object.
    let r = net.with(Code::GET, BS, Req::at("/1/0").accept(format::SENML_JSON));
    assert!(text(&r).contains("120"), "{}", text(&r));
    assert_eq!(bs(&mut net, Code::GET, Req::at("/3/0")), Code::BAD_REQUEST);
    let d = text(&net.with(Code::GET, BS, Req::at("/0").accept(format::LINK_FORMAT)));
    assert_eq!(
        d,
        r#"</>;lwm2m=1.1,</0/0>,</0/1>;ssid=101;uri="coap://dm:5683""#
    );
    assert_eq!(
        bs(&mut net, Code::DELETE, Req::at("/0/0")),
        Code::BAD_REQUEST
    );
    assert_eq!(bs(&mut net, Code::POST, Req::at("/bs")), Code::CHANGED);
    let events = net.events();
    assert!(
        events.contains(&ClientEvent::Bootstrapped {
            server_uri: "coap://dm:5683".into()
        }),
        "{events:?}"
    );
    assert!(!net.client.is_bootstrapping());
    // Requests from the bootstrap server are no longer accepted.
    assert_eq!(bs(&mut net, Code::GET, Req::at("/3/0")), Code::UNAUTHORIZED);

    // Register with the new server and its lifetime.
    net.client.register_at(net.now, SERVER).unwrap();
    let (id, data) = net.client_request();
    assert_eq!(msg(&data).query("lt"), Some("120"));
    net.answer(&id, Code::CREATED, &["rd", "b1"], b"");
    assert!(net.client.is_registered());
}

#[test]
fn refused_bootstrap_is_reported() {
    let mut net = Net::new(bs_config());
    net.client.bootstrap(0).unwrap();
    let got = net.at_server_from(BS);
    let [AtServer::Request(id, _)] = got.as_slice() else {
        panic!("{got:?}");
    };
    let id = *id;
    net.server
        .respond(0, &id, Code::BAD_REQUEST, |w| {
            w.payload(b"who?");
            Ok(())
        })
        .unwrap();
    net.deliver_from(BS);
    assert_eq!(
        net.events(),
        [ClientEvent::BootstrapFailed {
            code: Some(Code::BAD_REQUEST),
            diagnostic: "who?".into()
        }]
    );
    assert!(!net.client.is_bootstrapping());
}
