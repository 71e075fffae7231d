//! Firmware update: block-wise push, pull with the client's own Block2 download, the state
//! machine and its refusals.

use super::super::alloc::vec::Vec;
use super::super::{FirmwareState, Path, UpdateResult, Value};
use super::*;
use strata_proto_coap::block::block2;
use strata_proto_coap::option::format;

fn package(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7) as u8).collect()
}

fn state_events(net: &mut Net) -> Vec<(FirmwareState, UpdateResult)> {
    net.events()
        .into_iter()
        .filter_map(|e| match e {
            ClientEvent::FirmwareStateChanged { state, result } => Some((state, result)),
            _ => None,
        })
        .collect()
}

/// Pushes `body` to /5/0/0 in 1024-byte blocks; returns the response codes.
fn push(net: &mut Net, body: &[u8]) -> Vec<Code> {
    let chunks: Vec<&[u8]> = body.chunks(1024).collect();
    let mut codes = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let mut r = Req::at("/5/0/0").body(format::OCTET_STREAM, chunk);
        r.block1 = Some(BlockValue {
            num: i as u32,
            more: i + 1 < chunks.len(),
            szx: 6,
        });
        let answer = net.put(r);
        let m = msg(&answer);
        let echoed = BlockValue::from_message(&m, option::BLOCK1)
            .unwrap()
            .unwrap();
        assert_eq!(echoed.num, i as u32);
        codes.push(m.code);
    }
    codes
}

#[test]
fn block_wise_push_then_update() {
    let mut net = Net::registered();
    // Update with nothing downloaded is not allowed (Core E.6).
    assert_eq!(
        msg(&net.post(Req::at("/5/0/2"))).code,
        Code::METHOD_NOT_ALLOWED
    );
    let body = package(2500);
    assert_eq!(
        push(&mut net, &body),
        [Code::CONTINUE, Code::CONTINUE, Code::CHANGED]
    );
    assert_eq!(net.client.firmware_package(), Some(&body[..]));
    assert_eq!(
        state_events(&mut net),
        [
            (FirmwareState::Downloading, UpdateResult::Initial),
            (FirmwareState::Downloaded, UpdateResult::Initial)
        ]
    );
    net.client
        .set_value(
            net.now,
            Path::resource(5, 0, 7),
            Value::String("2.0.1".into()),
        )
        .unwrap();
    assert_eq!(msg(&net.post(Req::at("/5/0/2"))).code, Code::CHANGED);
    let events = net.events();
    assert!(
        events.contains(&ClientEvent::FirmwareUpdateRequested),
        "{events:?}"
    );
    assert_eq!(net.client.firmware_state(), FirmwareState::Updating);
    // No new package while updating, and no second Update.
    assert_eq!(
        msg(&net.put(Req::at("/5/0/1").body(format::TEXT, b"coap://x/y"))).code,
        Code::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        msg(&net.post(Req::at("/5/0/2"))).code,
        Code::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        net.client.firmware_downloaded(net.now, true, Vec::new()),
        Err(super::super::ClientError::WrongState)
    );
    net.client.firmware_updated(net.now, true).unwrap();
    assert_eq!(
        (net.client.firmware_state(), net.client.firmware_result()),
        (FirmwareState::Idle, UpdateResult::Success)
    );
    assert_eq!(
        net.client.value(&Path::resource(3, 0, 3)),
        Some(&Value::String("2.0.1".into()))
    );
    assert_eq!(net.client.firmware_package(), None);
}

#[test]
fn pull_downloads_block_wise_over_coap() {
    let mut net = Net::registered();
    let uri = "coap://server/fw/abc?v=2";
    let r = net.put(Req::at("/5/0/1").body(format::TEXT, uri.as_bytes()));
    assert_eq!(msg(&r).code, Code::CHANGED);
    let events = net.events();
    assert!(events.contains(&ClientEvent::FirmwareDownloadRequested { uri: uri.into() }));
    assert_eq!(net.client.firmware_state(), FirmwareState::Downloading);
    let body = package(2100);
    net.client.fetch_firmware(net.now, SERVER, uri).unwrap();
    let mut requests = 0;
    while net.client.firmware_state() == FirmwareState::Downloading {
        let (id, data) = net.client_request();
        let m = msg(&data);
        let segments: Vec<&[u8]> = m.path().collect();
        assert_eq!(segments, [&b"fw"[..], b"abc"]);
        assert_eq!(m.query("v"), Some("2"));
        let asked = BlockValue::from_message(&m, option::BLOCK2).map(Result::unwrap);
        // The server uses 512-byte blocks (late negotiation).
        let part = block2(&body, asked, 5).unwrap();
        net.server
            .respond(net.now, &id, Code::CONTENT, |w| {
                w.option(option::ETAG, b"e1")?;
                w.uint_option(option::BLOCK2, part.option.unwrap().encode())?;
                w.payload(part.data);
                Ok(())
            })
            .unwrap();
        net.deliver();
        requests += 1;
        assert!(requests < 10);
    }
    assert_eq!(requests, 5);
    assert_eq!(net.client.firmware_state(), FirmwareState::Downloaded);
    assert_eq!(net.client.firmware_package(), Some(&body[..]));
    // An empty URI cancels: back to Idle, package gone.
    assert_eq!(
        msg(&net.put(Req::at("/5/0/1").body(format::TEXT, b""))).code,
        Code::CHANGED
    );
    assert_eq!(
        (net.client.firmware_state(), net.client.firmware_result()),
        (FirmwareState::Idle, UpdateResult::Initial)
    );
    assert_eq!(net.client.firmware_package(), None);
}

#[test]
fn failed_downloads_and_updates_set_results() {
    let mut net = Net::registered();
    net.put(Req::at("/5/0/1").body(format::TEXT, b"coap://server/missing"));
    net.client
        .fetch_firmware(net.now, SERVER, "coap://server/missing")
        .unwrap();
    let (id, _) = net.client_request();
    net.answer(&id, Code::NOT_FOUND, &[], b"");
    assert_eq!(net.client.firmware_result(), UpdateResult::InvalidUri);
    assert_eq!(net.client.firmware_state(), FirmwareState::Idle);
    // The application's own download failed.
    net.put(Req::at("/5/0/1").body(format::TEXT, b"https://example.com/fw"));
    net.client
        .firmware_downloaded(net.now, false, Vec::new())
        .unwrap();
    assert_eq!(net.client.firmware_result(), UpdateResult::ConnectionLost);
    // A failed install.
    push(&mut net, &package(100));
    net.post(Req::at("/5/0/2"));
    net.client.firmware_updated(net.now, false).unwrap();
    assert_eq!(
        (net.client.firmware_state(), net.client.firmware_result()),
        (FirmwareState::Idle, UpdateResult::UpdateFailed)
    );
    assert_eq!(
        net.client.value(&Path::resource(3, 0, 3)),
        Some(&Value::String("1.0.0".into()))
    );
    // A block out of order ends the push with "connection lost".
    let mut r = Req::at("/5/0/0").body(format::OCTET_STREAM, &[0; 16]);
    r.block1 = Some(BlockValue {
        num: 0,
        more: true,
        szx: 0,
    });
    assert_eq!(msg(&net.put(r.clone())).code, Code::CONTINUE);
    r.block1 = Some(BlockValue {
        num: 5,
        more: true,
        szx: 0,
    });
    assert_eq!(msg(&net.put(r)).code, Code::REQUEST_ENTITY_INCOMPLETE);
    assert_eq!(
        (net.client.firmware_state(), net.client.firmware_result()),
        (FirmwareState::Idle, UpdateResult::ConnectionLost)
    );
}
