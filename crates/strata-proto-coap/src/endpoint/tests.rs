//! Two endpoints driven against each other in memory, with explicit time.

use alloc::vec::Vec;

use super::*;
use crate::option;

const CLIENT: u8 = 1;
const SERVER: u8 = 2;

fn endpoint(seed: u64) -> Endpoint<u8> {
    Endpoint::new(EndpointConfig {
        seed,
        ..EndpointConfig::default()
    })
}

fn drain(e: &mut Endpoint<u8>) -> Vec<Transmit<u8>> {
    core::iter::from_fn(|| e.poll_transmit()).collect()
}

fn get_temp(client: &mut Endpoint<u8>, now: u64, observe: bool) -> Token {
    client
        .request(now, SERVER, true, Code::GET, observe, |w| {
            if observe {
                w.uint_option(option::OBSERVE, 0)?;
            }
            w.path("sensors/temp")?;
            Ok(())
        })
        .unwrap()
}

#[test]
fn piggybacked_response_and_duplicate_request() {
    let (mut client, mut server) = (endpoint(1), endpoint(2));
    let token = get_temp(&mut client, 0, false);
    let request = drain(&mut client).remove(0).data;
    let id = match server.handle_datagram(10, CLIENT, &request) {
        Received::Request { id, message } => {
            assert_eq!(
                message.path().collect::<Vec<_>>(),
                [&b"sensors"[..], b"temp"]
            );
            id
        }
        other => panic!("{other:?}"),
    };
    server
        .respond(11, &id, Code::CONTENT, |w| {
            w.payload(b"21.5");
            Ok(())
        })
        .unwrap();
    let response = drain(&mut server).remove(0).data;
    assert_eq!(Message::decode(&response).unwrap().mtype, MessageType::Ack);
    // The request is retransmitted (ACK lost): the server resends its answer without
    // bothering the application.
    assert!(matches!(
        server.handle_datagram(2500, CLIENT, &request),
        Received::Nothing
    ));
    assert_eq!(drain(&mut server)[0].data, response);
    match client.handle_datagram(12, SERVER, &response) {
        Received::Response {
            token: t, message, ..
        } => {
            assert_eq!(t, token);
            assert_eq!(message.payload, b"21.5");
        }
        other => panic!("{other:?}"),
    }
    // Nothing left to retransmit.
    client.handle_timeout(100_000);
    assert!(drain(&mut client).is_empty());
}

#[test]
fn slow_answer_goes_out_as_separate_confirmable_response() {
    let (mut client, mut server) = (endpoint(3), endpoint(4));
    let token = get_temp(&mut client, 0, false);
    let request = drain(&mut client).remove(0).data;
    let Received::Request { id, .. } = server.handle_datagram(0, CLIENT, &request) else {
        panic!("request expected");
    };
    assert_eq!(server.poll_timeout(), Some(1_000));
    server.handle_timeout(1_000);
    let ack = drain(&mut server).remove(0).data;
    assert_eq!(
        ack,
        empty(
            MessageType::Ack,
            Message::decode(&request).unwrap().message_id
        )
    );
    assert!(matches!(
        client.handle_datagram(1_001, SERVER, &ack),
        Received::Nothing
    ));
    // The client stops retransmitting once the empty ACK came.
    client.handle_timeout(10_000);
    assert!(drain(&mut client).is_empty());
    server
        .respond(5_000, &id, Code::CONTENT, |w| {
            w.payload(b"late");
            Ok(())
        })
        .unwrap();
    let separate = drain(&mut server).remove(0).data;
    assert_eq!(Message::decode(&separate).unwrap().mtype, MessageType::Con);
    match client.handle_datagram(5_001, SERVER, &separate) {
        Received::Response {
            token: t, message, ..
        } => {
            assert_eq!((t, message.payload), (token, &b"late"[..]));
        }
        other => panic!("{other:?}"),
    }
    let client_ack = drain(&mut client).remove(0).data;
    assert!(matches!(
        server.handle_datagram(5_002, CLIENT, &client_ack),
        Received::Nothing
    ));
    assert_eq!(
        server.poll_event(),
        Some(Event::Delivered {
            peer: CLIENT,
            token
        })
    );
    // A retransmitted request now gets the empty ACK again, not a second response.
    assert!(matches!(
        server.handle_datagram(5_003, CLIENT, &request),
        Received::Nothing
    ));
    assert_eq!(drain(&mut server)[0].data, ack);
}

#[test]
fn retransmits_with_doubling_timeouts_then_gives_up() {
    let mut client = endpoint(5);
    let token = get_temp(&mut client, 0, false);
    let first = drain(&mut client).remove(0).data;
    let mut sent_at = Vec::new();
    while let Some(now) = client.poll_timeout() {
        client.handle_timeout(now);
        for tx in drain(&mut client) {
            assert_eq!(tx.data, first);
            sent_at.push(now);
        }
        if let Some(event) = client.poll_event() {
            assert_eq!(
                event,
                Event::TimedOut {
                    peer: SERVER,
                    token
                }
            );
            break;
        }
        assert!(now < 200_000, "never gave up");
    }
    assert_eq!(sent_at.len(), 4, "{sent_at:?}");
    // First timeout 2-3 s, then doubling.
    assert!((2_000..3_000).contains(&sent_at[0]), "{sent_at:?}");
    let gaps: Vec<u64> = sent_at.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps[1], gaps[0] * 2);
    assert_eq!(gaps[2], gaps[1] * 2);
}

#[test]
fn observe_notifications_until_the_client_cancels() {
    let (mut client, mut server) = (endpoint(6), endpoint(7));
    let token = get_temp(&mut client, 0, true);
    let request = drain(&mut client).remove(0).data;
    let Received::Request { id, message } = server.handle_datagram(0, CLIENT, &request) else {
        panic!("request expected");
    };
    assert_eq!(message.observe(), Some(0));
    server
        .respond(0, &id, Code::CONTENT, |w| {
            w.uint_option(option::OBSERVE, 1)?;
            w.payload(b"1");
            Ok(())
        })
        .unwrap();
    for tx in drain(&mut server) {
        assert!(matches!(
            client.handle_datagram(1, SERVER, &tx.data),
            Received::Response { .. }
        ));
    }
    // Two notifications before the first is acknowledged: the second replaces the first.
    for (seq, value) in [(2u32, &b"2"[..]), (3, b"3")] {
        server
            .notify(10, CLIENT, id.token, true, Code::CONTENT, |w| {
                w.uint_option(option::OBSERVE, seq)?;
                w.payload(value);
                Ok(())
            })
            .unwrap();
    }
    let notes = drain(&mut server);
    assert_eq!(notes.len(), 2);
    let mut payloads = Vec::new();
    for note in &notes {
        if let Received::Response { message, .. } = client.handle_datagram(11, SERVER, &note.data) {
            payloads.push(message.payload.to_vec());
        }
    }
    assert_eq!(payloads, [b"2".to_vec(), b"3".to_vec()]);
    for ack in drain(&mut client) {
        let _ = server.handle_datagram(12, CLIENT, &ack.data);
    }
    assert_eq!(
        server.poll_event(),
        Some(Event::Delivered {
            peer: CLIENT,
            token
        })
    );
    server.handle_timeout(100_000);
    assert!(
        drain(&mut server).is_empty(),
        "the replaced notification is not retransmitted"
    );
    // The client forgets the observation: the next notification is rejected with RST and
    // the server learns the observer is gone.
    client.cancel(SERVER, token);
    server
        .notify(200_000, CLIENT, id.token, true, Code::CONTENT, |w| {
            w.uint_option(option::OBSERVE, 4)?;
            Ok(())
        })
        .unwrap();
    let note = drain(&mut server).remove(0).data;
    assert!(matches!(
        client.handle_datagram(200_001, SERVER, &note),
        Received::Nothing
    ));
    let rst = drain(&mut client).remove(0).data;
    assert_eq!(Message::decode(&rst).unwrap().mtype, MessageType::Rst);
    let _ = server.handle_datagram(200_002, CLIENT, &rst);
    assert_eq!(
        server.poll_event(),
        Some(Event::Reset {
            peer: CLIENT,
            token
        })
    );
}

#[test]
fn malformed_confirmable_and_ping_get_reset() {
    let mut server = endpoint(8);
    // CON with a truncated option.
    assert!(matches!(
        server.handle_datagram(0, CLIENT, &[0x40, 1, 0, 9, 0xb5, b'a']),
        Received::Nothing
    ));
    assert_eq!(drain(&mut server)[0].data, empty(MessageType::Rst, 9));
    // NON format errors are dropped silently.
    assert!(matches!(
        server.handle_datagram(0, CLIENT, &[0x50, 1, 0, 9, 0xff]),
        Received::Nothing
    ));
    assert!(drain(&mut server).is_empty());
    let ping = empty(MessageType::Con, 77);
    assert!(matches!(
        server.handle_datagram(0, CLIENT, &ping),
        Received::Nothing
    ));
    assert_eq!(drain(&mut server)[0].data, empty(MessageType::Rst, 77));
}

#[test]
fn idle_peers_are_forgotten_after_the_exchange_lifetime() {
    let (mut client, mut server) = (endpoint(9), endpoint(10));
    get_temp(&mut client, 0, false);
    let request = drain(&mut client).remove(0).data;
    let Received::Request { id, .. } = server.handle_datagram(0, CLIENT, &request) else {
        panic!("request expected");
    };
    server.respond(0, &id, Code::CONTENT, |_| Ok(())).unwrap();
    assert_eq!(server.peer_count(), 1);
    server.handle_timeout(1_000);
    server.handle_timeout(300_000);
    assert_eq!(server.peer_count(), 0);
}

#[test]
fn new_peers_beyond_the_bound_are_dropped_until_others_fall_idle() {
    let mut server = Endpoint::new(EndpointConfig {
        max_peers: 2,
        ..EndpointConfig::default()
    });
    let mut client = endpoint(11);
    get_temp(&mut client, 0, false);
    let request = drain(&mut client).remove(0).data;
    for peer in [1, 2] {
        assert!(matches!(
            server.handle_datagram(0, peer, &request),
            Received::Request { .. }
        ));
    }
    // A third address (a flood of spoofed ones, say) is not remembered or answered...
    assert!(matches!(
        server.handle_datagram(10, 3, &request),
        Received::Nothing
    ));
    assert_eq!(server.peer_count(), 2);
    // ...while the known ones still are.
    get_temp(&mut client, 20, false);
    let next = drain(&mut client).remove(0).data;
    assert!(matches!(
        server.handle_datagram(20, 1, &next),
        Received::Request { .. }
    ));
    // Once the others are idle for the exchange lifetime, the new peer gets in.
    assert!(matches!(
        server.handle_datagram(300_000, 3, &request),
        Received::Request { .. }
    ));
    assert_eq!(server.peer_count(), 1);
}
