//! The client against an in-memory server: a plain CoAP [`Endpoint`] playing the LwM2M
//! (and bootstrap) server, datagrams carried by hand, time explicit.

mod bootstrap;
mod dm;
mod firmware;
mod observe;
mod registration;

use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::block::BlockValue;
use strata_proto_coap::{
    Code, Endpoint, EndpointConfig, Message, Received, RequestId, Token, option,
};

use super::{Client, ClientConfig, ClientEvent};

pub(super) const CLIENT: u8 = 1;
pub(super) const SERVER: u8 = 2;
pub(super) const BS: u8 = 3;

/// A request the test server sends, options written in ascending order.
#[derive(Debug, Clone, Default)]
pub(super) struct Req {
    pub(super) observe: Option<u32>,
    pub(super) path: &'static str,
    pub(super) content_format: Option<u16>,
    pub(super) queries: Vec<&'static str>,
    pub(super) accept: Option<u16>,
    pub(super) block2: Option<BlockValue>,
    pub(super) block1: Option<BlockValue>,
    pub(super) payload: Vec<u8>,
}

impl Req {
    pub(super) fn at(path: &'static str) -> Req {
        Req {
            path,
            ..Req::default()
        }
    }

    pub(super) fn accept(self, format: u16) -> Req {
        Req {
            accept: Some(format),
            ..self
        }
    }

    pub(super) fn body(self, format: u16, payload: &[u8]) -> Req {
        Req {
            content_format: Some(format),
            payload: payload.to_vec(),
            ..self
        }
    }
}

/// What reached the server endpoint.
#[derive(Debug)]
pub(super) enum AtServer {
    /// A request from the client (registration interface).
    Request(RequestId<u8>, Vec<u8>),
    /// A response or notification for a request of the server.
    Response(Token, Vec<u8>),
}

/// Client, server endpoint and the clock.
pub(super) struct Net {
    pub(super) client: Client<u8>,
    pub(super) server: Endpoint<u8>,
    pub(super) now: u64,
    /// What reached the server during [`Net::send_from`] besides its response.
    inbox: Vec<AtServer>,
}

pub(super) fn config() -> ClientConfig<u8> {
    let mut c = ClientConfig::new("node-1");
    c.server = Some(SERVER);
    c.server_uri = "coap://server".into();
    c.coap = EndpointConfig {
        seed: 7,
        ..EndpointConfig::default()
    };
    c
}

impl Net {
    pub(super) fn new(config: ClientConfig<u8>) -> Net {
        Net {
            client: Client::new(config),
            server: Endpoint::new(EndpointConfig {
                seed: 99,
                ..EndpointConfig::default()
            }),
            now: 0,
            inbox: Vec::new(),
        }
    }

    /// A registered client.
    pub(super) fn registered() -> Net {
        let mut net = Net::new(config());
        net.register();
        net
    }

    /// Delivers the client's datagrams to the server (as `from`).
    pub(super) fn at_server_from(&mut self, to: u8) -> Vec<AtServer> {
        let mut out = core::mem::take(&mut self.inbox);
        while let Some(t) = self.client.poll_transmit() {
            if t.peer != to {
                continue;
            }
            match self.server.handle_datagram(self.now, CLIENT, &t.data) {
                Received::Request { id, .. } => out.push(AtServer::Request(id, t.data)),
                Received::Response { token, .. } => out.push(AtServer::Response(token, t.data)),
                Received::Nothing => {}
            }
        }
        out
    }

    pub(super) fn at_server(&mut self) -> Vec<AtServer> {
        self.at_server_from(SERVER)
    }

    /// Delivers the server's datagrams to the client (as `from`).
    pub(super) fn deliver_from(&mut self, from: u8) {
        while let Some(t) = self.server.poll_transmit() {
            self.client.handle_datagram(self.now, from, &t.data);
        }
    }

    pub(super) fn deliver(&mut self) {
        self.deliver_from(SERVER);
    }

    /// The one request the client sent to the server.
    pub(super) fn client_request(&mut self) -> (RequestId<u8>, Vec<u8>) {
        let mut got = self.at_server();
        match (got.pop(), got.is_empty()) {
            (Some(AtServer::Request(id, data)), true) => (id, data),
            other => panic!("expected one request, got {other:?}"),
        }
    }

    /// The server answers `id`.
    pub(super) fn answer(
        &mut self,
        id: &RequestId<u8>,
        code: Code,
        location: &[&str],
        payload: &[u8],
    ) {
        self.server
            .respond(self.now, id, code, |w| {
                for s in location {
                    w.option(option::LOCATION_PATH, s.as_bytes())?;
                }
                w.payload(payload);
                Ok(())
            })
            .unwrap();
        self.deliver();
    }

    /// Registers; the server answers 2.01 at `rd/r1`.
    pub(super) fn register(&mut self) {
        self.client.register(self.now).unwrap();
        let (id, _) = self.client_request();
        self.answer(&id, Code::CREATED, &["rd", "r1"], b"");
        assert_eq!(
            self.events(),
            [ClientEvent::Registered {
                location: "rd/r1".into()
            }]
        );
    }

    /// The server sends `req` from `from`; returns the client's response datagram.
    pub(super) fn send_from(&mut self, from: u8, code: Code, req: &Req) -> Vec<u8> {
        let observe = req.observe == Some(0);
        let token = self
            .server
            .request(self.now, CLIENT, true, code, observe, |w| {
                if let Some(o) = req.observe {
                    w.uint_option(option::OBSERVE, o)?;
                }
                w.path(req.path)?;
                if let Some(cf) = req.content_format {
                    w.uint_option(option::CONTENT_FORMAT, u32::from(cf))?;
                }
                for q in &req.queries {
                    w.option(option::URI_QUERY, q.as_bytes())?;
                }
                if let Some(a) = req.accept {
                    w.uint_option(option::ACCEPT, u32::from(a))?;
                }
                if let Some(b) = req.block2 {
                    w.uint_option(option::BLOCK2, b.encode())?;
                }
                if let Some(b) = req.block1 {
                    w.uint_option(option::BLOCK1, b.encode())?;
                }
                w.payload(&req.payload);
                Ok(())
            })
            .unwrap();
        self.deliver_from(from);
        let mut answer = None;
        for a in self.at_server_from(from) {
            match a {
                AtServer::Response(t, data) if t == token && answer.is_none() => {
                    answer = Some(data)
                }
                other => self.inbox.push(other),
            }
        }
        answer.unwrap_or_else(|| panic!("no response to {req:?}"))
    }
}

impl Net {
    pub(super) fn get(&mut self, req: Req) -> Vec<u8> {
        self.with(Code::GET, SERVER, req)
    }

    pub(super) fn put(&mut self, req: Req) -> Vec<u8> {
        self.with(Code::PUT, SERVER, req)
    }

    pub(super) fn post(&mut self, req: Req) -> Vec<u8> {
        self.with(Code::POST, SERVER, req)
    }

    pub(super) fn delete(&mut self, req: Req) -> Vec<u8> {
        self.with(Code::DELETE, SERVER, req)
    }

    pub(super) fn with(&mut self, code: Code, from: u8, req: Req) -> Vec<u8> {
        self.send_from(from, code, &req)
    }

    /// Every event so far.
    pub(super) fn events(&mut self) -> Vec<ClientEvent> {
        core::iter::from_fn(|| self.client.poll_event()).collect()
    }

    /// Advances the clock to `to` and runs the client's timers on the way.
    pub(super) fn advance(&mut self, to: u64) {
        while let Some(t) = self.client.poll_timeout().filter(|t| *t <= to) {
            self.now = t.max(self.now);
            self.client.handle_timeout(self.now);
        }
        self.now = to;
        self.client.handle_timeout(to);
    }
}

/// Decodes a response datagram.
pub(super) fn msg(bytes: &[u8]) -> Message<'_> {
    Message::decode(bytes).unwrap()
}

/// The payload as text.
pub(super) fn text(bytes: &[u8]) -> String {
    String::from_utf8(msg(bytes).payload.to_vec()).unwrap()
}
