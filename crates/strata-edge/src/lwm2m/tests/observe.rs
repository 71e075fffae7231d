//! Observe: notifications on change with attributes, at pmax, cancel by GET and by RST.

use super::super::alloc::vec::Vec;
use super::super::{Path, Value};
use super::*;
use strata_proto_coap::MessageType;
use strata_proto_coap::empty;
use strata_proto_coap::option::format;

const TEMP: Path = Path::resource(3303, 0, 5700);

fn observe(net: &mut Net, path: &'static str, accept: Option<u16>) -> (u32, Vec<u8>) {
    let mut r = Req::at(path);
    r.observe = Some(0);
    r.accept = accept;
    let bytes = net.get(r);
    let m = msg(&bytes);
    assert_eq!(m.code, Code::CONTENT);
    (m.observe().expect("Observe in the response"), bytes)
}

/// Notifications that reached the server: (token, datagram).
fn notifications(net: &mut Net) -> Vec<(Token, Vec<u8>)> {
    net.at_server()
        .into_iter()
        .filter_map(|a| match a {
            AtServer::Response(t, d) => Some((t, d)),
            AtServer::Request(..) => None,
        })
        .collect()
}

#[test]
fn notifies_changes_with_increasing_observe_values() {
    let mut net = Net::registered();
    let (first, _) = observe(&mut net, "/3303/0/5700", Some(format::TEXT));
    assert_eq!(
        net.events(),
        [ClientEvent::ObservationStarted { path: TEMP }]
    );
    net.now = 1_000;
    net.client
        .set_value(net.now, TEMP, Value::Float(21.5))
        .unwrap();
    let n = notifications(&mut net);
    assert_eq!(n.len(), 1);
    let m = msg(&n[0].1);
    assert_eq!((m.code, m.payload), (Code::CONTENT, &b"21.5"[..]));
    assert_eq!(m.content_format(), Some(format::TEXT));
    let second = m.observe().unwrap();
    assert!(second > first);
    // The same value again is no change.
    net.client
        .set_value(net.now, TEMP, Value::Float(21.5))
        .unwrap();
    assert!(notifications(&mut net).is_empty());
    net.client
        .set_value(net.now, TEMP, Value::Float(22.0))
        .unwrap();
    let third = msg(&notifications(&mut net)[0].1).observe().unwrap();
    assert!(third > second);
    // Observing the instance: any resource change notifies, in TLV by default.
    let (_, _) = observe(&mut net, "/3303/0", None);
    net.client
        .set_value(net.now, TEMP, Value::Float(5.0))
        .unwrap();
    let n = notifications(&mut net);
    assert_eq!(n.len(), 2, "resource and instance observations");
    assert!(
        n.iter()
            .any(|(_, d)| msg(d).content_format() == Some(format::LWM2M_TLV))
    );
}

#[test]
fn pmin_pmax_and_step() {
    let mut net = Net::registered();
    let mut attrs = Req::at("/3303/0/5700");
    attrs.queries = Vec::from(["pmin=2", "pmax=10", "st=1"]);
    assert_eq!(msg(&net.put(attrs)).code, Code::CHANGED);
    observe(&mut net, "/3303/0/5700", Some(format::TEXT));
    // A step below st: nothing, even after pmin.
    net.client
        .set_value(net.now, TEMP, Value::Float(0.5))
        .unwrap();
    net.advance(3_000);
    assert!(notifications(&mut net).is_empty());
    // A step of st at 3 s: due at once (pmin passed).
    net.client
        .set_value(net.now, TEMP, Value::Float(1.0))
        .unwrap();
    assert_eq!(text(&notifications(&mut net)[0].1), "1");
    // Another within pmin waits until pmin after the last notification.
    net.now = 4_000;
    net.client
        .set_value(net.now, TEMP, Value::Float(3.0))
        .unwrap();
    assert!(notifications(&mut net).is_empty());
    assert_eq!(net.client.poll_timeout(), Some(5_000));
    net.advance(5_000);
    assert_eq!(text(&notifications(&mut net)[0].1), "3");
    // Nothing changes: pmax forces one 10 s after the last.
    net.advance(14_999);
    assert!(notifications(&mut net).is_empty());
    net.advance(15_000);
    assert_eq!(text(&notifications(&mut net)[0].1), "3");
}

#[test]
fn thresholds_notify_on_crossing() {
    let mut net = Net::registered();
    let mut attrs = Req::at("/3303/0/5700");
    attrs.queries = Vec::from(["gt=25"]);
    net.put(attrs);
    observe(&mut net, "/3303/0/5700", Some(format::TEXT));
    net.client
        .set_value(net.now, TEMP, Value::Float(24.0))
        .unwrap();
    assert!(notifications(&mut net).is_empty());
    net.client
        .set_value(net.now, TEMP, Value::Float(26.0))
        .unwrap();
    assert_eq!(text(&notifications(&mut net)[0].1), "26");
    net.client
        .set_value(net.now, TEMP, Value::Float(27.0))
        .unwrap();
    assert!(notifications(&mut net).is_empty());
    net.client
        .set_value(net.now, TEMP, Value::Float(20.0))
        .unwrap();
    assert_eq!(text(&notifications(&mut net)[0].1), "20");
}

#[test]
fn cancel_by_get_and_by_reset() {
    let mut net = Net::registered();
    observe(&mut net, "/3303/0/5700", Some(format::TEXT));
    net.events();
    // Observe: 1 cancels (and reads).
    let mut cancel = Req::at("/3303/0/5700");
    cancel.observe = Some(1);
    cancel.accept = Some(format::TEXT);
    let r = net.get(cancel);
    assert_eq!((msg(&r).code, msg(&r).observe()), (Code::CONTENT, None));
    assert_eq!(net.client.observation_count(), 0);
    assert_eq!(
        net.events(),
        [ClientEvent::ObservationCancelled { path: TEMP }]
    );
    // RST to a notification cancels too.
    observe(&mut net, "/3303/0/5700", Some(format::TEXT));
    net.client
        .set_value(net.now, TEMP, Value::Float(9.0))
        .unwrap();
    let mut sent = Vec::new();
    while let Some(t) = net.client.poll_transmit() {
        sent.push(t.data);
    }
    let id = msg(&sent[0]).message_id;
    assert_eq!(msg(&sent[0]).mtype, MessageType::Con);
    net.client
        .handle_datagram(net.now, SERVER, &empty(MessageType::Rst, id));
    assert_eq!(net.client.observation_count(), 0);
    // A deleted instance ends its observers with 4.04.
    let mut on_instance = Req::at("/3303/0");
    on_instance.observe = Some(0);
    net.get(on_instance);
    assert_eq!(msg(&net.delete(Req::at("/3303/0"))).code, Code::DELETED);
    let n = notifications(&mut net);
    assert_eq!(msg(&n[0].1).code, Code::NOT_FOUND);
    assert_eq!(net.client.observation_count(), 0);
}
