//! An in-memory client/server pair: a tiny client-side encoder drives a [`ServerConnection`]
//! with explicit time, like quinn-proto's `Pair`.

use alloc::vec::Vec;
use bytes::BytesMut;

use crate::connection::{AcceptOptions, Event, ServerConfig, ServerConnection};
use crate::packet::{self, Connect, Packet, Publish, Subscribe, Subscription};
use crate::reason::ReasonCode;
use crate::types::{PacketId, ProtocolVersion, QoS};

pub(super) fn pid(v: u16) -> PacketId {
    PacketId::new(v).unwrap()
}

pub(super) struct Pair {
    pub(super) server: ServerConnection,
    pub(super) version: ProtocolVersion,
    /// Milliseconds since the pair was created.
    pub(super) now: u64,
    /// Bytes sent by the server and not yet decoded by the client.
    from_server: BytesMut,
}

impl Pair {
    pub(super) fn new(version: ProtocolVersion) -> Self {
        Self::with_config(version, ServerConfig::default())
    }

    pub(super) fn with_config(version: ProtocolVersion, config: ServerConfig) -> Self {
        Self {
            server: ServerConnection::new(config, 0),
            version,
            now: 0,
            from_server: BytesMut::new(),
        }
    }

    pub(super) fn connect_packet(&self) -> Connect {
        Connect::new(self.version, "client", 0)
    }

    /// CONNECT with `connect`, accept it with `options`, and return the CONNACK.
    pub(super) fn connect_with(&mut self, connect: Connect, options: AcceptOptions) -> Packet {
        self.send(Packet::Connect(alloc::boxed::Box::new(connect)));
        let events = self.events();
        assert!(
            matches!(events.as_slice(), [Event::Connect(_)]),
            "expected Connect, got {events:?}"
        );
        self.server.accept_connect(self.now, options).unwrap();
        let mut packets = self.recv();
        assert!(
            matches!(packets.first(), Some(Packet::ConnAck(c)) if c.reason_code == ReasonCode::Success)
        );
        packets.remove(0)
    }

    /// Connects with a default CONNECT and a new session.
    pub(super) fn connect(&mut self) -> Packet {
        let c = self.connect_packet();
        self.connect_with(c, AcceptOptions::new())
    }

    /// The client encodes `packet` and the server receives it.
    pub(super) fn send(&mut self, packet: Packet) {
        let mut buf = BytesMut::new();
        packet.encode(self.version, &mut buf).unwrap();
        self.send_raw(&buf);
    }

    pub(super) fn send_raw(&mut self, bytes: &[u8]) {
        self.server.handle_bytes(self.now, bytes);
    }

    pub(super) fn publish(&mut self, topic: &str, qos: QoS, id: u16) {
        let mut p = Publish::new(topic, qos, &b"payload"[..]);
        if qos != QoS::AtMostOnce {
            p.packet_id = Some(pid(id));
        }
        self.send(Packet::Publish(p));
    }

    pub(super) fn subscribe(&mut self, id: u16, filters: &[&str]) {
        let subs = filters
            .iter()
            .map(|f| Subscription::new(*f, QoS::AtLeastOnce))
            .collect();
        self.send(Packet::Subscribe(Subscribe::new(pid(id), subs)));
    }

    /// Everything the server sent since the last call, decoded by the client.
    pub(super) fn recv(&mut self) -> Vec<Packet> {
        let _ = self.server.poll_transmit(&mut self.from_server);
        let mut out = Vec::new();
        while let Some(p) = packet::decode(&mut self.from_server, self.version, usize::MAX).unwrap()
        {
            out.push(p);
        }
        assert!(self.from_server.is_empty(), "partial packet from server");
        out
    }

    /// Raw bytes the server sent since the last call.
    pub(super) fn recv_raw(&mut self) -> Vec<u8> {
        let _ = self.server.poll_transmit(&mut self.from_server);
        self.from_server.split().to_vec()
    }

    pub(super) fn events(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        while let Some(e) = self.server.poll_event() {
            out.push(e);
        }
        out
    }

    /// Advances time by `ms` and lets the server handle any timeout that fired.
    pub(super) fn advance(&mut self, ms: u64) {
        self.now += ms;
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
    }

    pub(super) fn is_v5(&self) -> bool {
        self.version.is_v5()
    }
}

/// Runs a scenario against both protocol versions, like ripgrep's `rgtest!`.
macro_rules! mqtt_test {
    ($name:ident, |$pair:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn scenario(mut $pair: Pair) $body

            #[test]
            fn v311() {
                scenario(Pair::new(ProtocolVersion::V311));
            }

            #[test]
            fn v5() {
                scenario(Pair::new(ProtocolVersion::V5));
            }
        }
    };
}
pub(super) use mqtt_test;
