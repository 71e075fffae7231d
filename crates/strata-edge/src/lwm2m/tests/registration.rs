//! Register, Update, re-registration, De-register, refusals and time-outs.

use super::super::alloc::string::String;
use super::super::alloc::vec::Vec;
use super::*;
use strata_proto_coap::option::format;

fn queries(m: &Message<'_>) -> Vec<String> {
    m.queries()
        .map(|q| String::from_utf8(q.to_vec()).unwrap())
        .collect()
}

fn path(m: &Message<'_>) -> Vec<String> {
    m.path()
        .map(|q| String::from_utf8(q.to_vec()).unwrap())
        .collect()
}

#[test]
fn register_update_deregister() {
    let mut net = Net::new(config());
    assert_eq!(net.client.poll_timeout(), None);
    net.client.register(0).unwrap();
    let (id, data) = net.client_request();
    let m = msg(&data);
    assert_eq!(m.code, Code::POST);
    assert_eq!(path(&m), ["rd"]);
    assert_eq!(m.content_format(), Some(format::LINK_FORMAT));
    assert_eq!(queries(&m), ["ep=node-1", "lt=300", "lwm2m=1.1", "b=U"]);
    assert_eq!(
        text(&data),
        r#"</>;rt="oma.lwm2m";ct="110 112 11542",</1/0>,</3/0>,</5/0>,</3303/0>"#
    );
    net.answer(&id, Code::CREATED, &["rd", "r1"], b"");
    assert_eq!(
        net.events(),
        [ClientEvent::Registered {
            location: "rd/r1".into()
        }]
    );
    assert_eq!(net.client.location().as_deref(), Some("rd/r1"));

    // An update at half the lifetime, with nothing changed: no lt, no payload.
    net.advance(149_999);
    assert!(net.at_server().is_empty());
    net.advance(150_000);
    let (id, data) = net.client_request();
    let m = msg(&data);
    assert_eq!(
        (m.code, path(&m)),
        (Code::POST, Vec::from(["rd".into(), "r1".into()]))
    );
    assert!(queries(&m).is_empty() && m.payload.is_empty());
    net.answer(&id, Code::CHANGED, &[], b"");
    assert_eq!(net.events(), [ClientEvent::Updated]);

    // The server changes the lifetime: an update carries the new one.
    let r = net.put(Req::at("/1/0/1").body(format::TEXT, b"60"));
    assert_eq!(msg(&r).code, Code::CHANGED);
    let (id, data) = net.client_request();
    assert_eq!(queries(&msg(&data)), ["lt=60"]);
    net.answer(&id, Code::CHANGED, &[], b"");
    let at = net.now;
    net.advance(at + 29_999);
    assert!(net.at_server().is_empty());

    // The server forgot us: 4.04 to the update means register again.
    net.advance(at + 30_000);
    let (id, _) = net.client_request();
    net.answer(&id, Code::NOT_FOUND, &[], b"");
    let (id, data) = net.client_request();
    assert_eq!(path(&msg(&data)), ["rd"]);
    assert!(queries(&msg(&data)).contains(&"lt=60".into()));
    net.answer(&id, Code::CREATED, &["rd", "r2"], b"");
    let events = net.events();
    assert!(events.contains(&ClientEvent::Registered {
        location: "rd/r2".into()
    }));

    net.client.deregister(net.now).unwrap();
    let (id, data) = net.client_request();
    let m = msg(&data);
    assert_eq!(
        (m.code, path(&m)),
        (Code::DELETE, Vec::from(["rd".into(), "r2".into()]))
    );
    net.answer(&id, Code::DELETED, &[], b"");
    assert_eq!(net.events(), [ClientEvent::Deregistered]);
    assert!(!net.client.is_registered());
}

#[test]
fn refusal_reports_code_and_diagnostic() {
    let mut net = Net::new(config());
    net.client.register(0).unwrap();
    let (id, _) = net.client_request();
    net.answer(
        &id,
        Code::FORBIDDEN,
        &[],
        b"endpoint \"node-1\" is not assigned",
    );
    assert_eq!(
        net.events(),
        [ClientEvent::RegistrationFailed {
            code: Some(Code::FORBIDDEN),
            diagnostic: "endpoint \"node-1\" is not assigned".into()
        }]
    );
    assert!(!net.client.is_registered());
    // No retry after a refusal.
    assert_eq!(net.client.poll_timeout(), None);
}

#[test]
fn unanswered_registration_is_retried() {
    let mut net = Net::new(config());
    net.client.register(0).unwrap();
    net.advance(100_000);
    let events = net.events();
    assert!(
        matches!(
            events.as_slice(),
            [ClientEvent::RegistrationFailed { code: None, .. }]
        ),
        "{events:?}"
    );
    while net.client.poll_transmit().is_some() {}
    let retry = net.client.poll_timeout().unwrap();
    net.advance(retry);
    let (id, _) = net.client_request();
    net.answer(&id, Code::CREATED, &["rd", "r9"], b"");
    assert!(net.client.is_registered());
    assert_eq!(
        net.client.register(net.now),
        Ok(()),
        "registering again is allowed"
    );
}

#[test]
fn queue_mode_registers_with_q_and_wakes_up_to_notify() {
    let mut c = config();
    c.queue_mode = true;
    c.awake_ms = 10_000;
    let mut net = Net::new(c);
    net.client.register(0).unwrap();
    let (id, data) = net.client_request();
    assert!(queries(&msg(&data)).contains(&"Q".into()));
    net.answer(&id, Code::CREATED, &["rd", "q"], b"");
    net.events();
    let mut observe = Req::at("/3303/0/5700");
    observe.observe = Some(0);
    let first = net.get(observe);
    assert_eq!(msg(&first).code, Code::CONTENT);
    // Asleep: a new value is held, and the client sends an Update to wake up first.
    net.now = 20_000;
    net.client
        .set_value(
            net.now,
            super::super::Path::resource(3303, 0, 5700),
            super::super::Value::Float(30.0),
        )
        .unwrap();
    let (id, data) = net.client_request();
    assert_eq!(path(&msg(&data)), ["rd", "q"]);
    net.answer(&id, Code::CHANGED, &[], b"");
    let notes = net.at_server();
    assert!(
        matches!(notes.as_slice(), [AtServer::Response(_, _)]),
        "the notification follows the update: {notes:?}"
    );
}

#[test]
fn disable_deregisters_and_comes_back() {
    let mut net = Net::registered();
    let r = net.put(Req::at("/1/0/5").body(format::TEXT, b"10"));
    assert_eq!(msg(&r).code, Code::CHANGED);
    assert_eq!(msg(&net.post(Req::at("/1/0/4"))).code, Code::CHANGED);
    let (id, data) = net.client_request();
    assert_eq!(msg(&data).code, Code::DELETE);
    net.answer(&id, Code::DELETED, &[], b"");
    let events = net.events();
    assert!(
        events.contains(&ClientEvent::Disabled { seconds: 10 }),
        "{events:?}"
    );
    assert!(events.contains(&ClientEvent::Deregistered));
    let at = net.now;
    net.advance(at + 9_999);
    assert!(net.at_server().is_empty());
    net.advance(at + 10_000);
    let (id, data) = net.client_request();
    assert_eq!(path(&msg(&data)), ["rd"]);
    net.answer(&id, Code::CREATED, &["rd", "r3"], b"");
    assert!(net.client.is_registered());
}
