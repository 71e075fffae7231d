//! Bodies of the cargo-fuzz targets in `fuzz/`, also run on random inputs by the unit tests.

use alloc::vec::Vec;

use crate::lwm2m::{self, NoTypes, Path, ResourceKind, Types};
use crate::message::Message;
use crate::option::format;

/// Decodes `data` and, when it is a message, walks every accessor and re-encodes it: nothing
/// may panic, and a decoded message must survive a round trip unchanged.
pub fn decode(data: &[u8]) {
    match Message::decode(data) {
        Ok(m) => {
            let options: Vec<(u16, &[u8])> = m.options().collect();
            let _ = (m.content_format(), m.accept(), m.observe(), m.query("ep"));
            let _ = crate::block::BlockValue::from_message(&m, crate::option::BLOCK2);
            let mut buf = Vec::new();
            if let Ok(mut w) =
                crate::message::MessageWriter::new(&mut buf, m.mtype, m.code, m.message_id, m.token)
            {
                for (n, v) in &options {
                    if w.option(*n, v).is_err() {
                        return;
                    }
                }
                w.payload(m.payload);
                let again = Message::decode(&buf).expect("re-encoded message decodes");
                assert_eq!(again.options().collect::<Vec<_>>(), options);
                assert_eq!(again.payload, m.payload);
            }
        }
        Err(e) => {
            let _ = e.reply_with_reset();
        }
    }
    let _ = crate::link_format::parse(data);
}

/// Splits `data` into datagrams (a length byte, a peer byte, a time step byte, then the
/// datagram) and feeds them to a server endpoint that answers every request at once, every
/// other one late; then runs its timers to the end.
pub fn endpoint(data: &[u8]) {
    use crate::{Code, Endpoint, EndpointConfig, Received};
    let mut server: Endpoint<u8> = Endpoint::new(EndpointConfig::default());
    let mut now = 0u64;
    let mut rest = data;
    let mut late = Vec::new();
    while let [len, peer, step, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (datagram, next) = tail.split_at(len);
        rest = next;
        now += u64::from(*step) * 50;
        if let Received::Request { id, message } = server.handle_datagram(now, *peer % 4, datagram)
        {
            let observe = message.observe();
            if message.message_id % 2 == 0 {
                let _ = server.respond(now, &id, Code::CONTENT, |w| {
                    w.payload(b"x");
                    Ok(())
                });
            } else {
                late.push(id);
            }
            if observe == Some(0) {
                let _ = server.notify(now, id.peer, id.token, true, Code::CONTENT, |w| {
                    w.uint_option(crate::option::OBSERVE, 2)?;
                    Ok(())
                });
            }
        }
        while server.poll_transmit().is_some() {}
        while server.poll_event().is_some() {}
    }
    for id in late {
        now += 700;
        server.handle_timeout(now);
        let _ = server.respond(now, &id, Code::CHANGED, |_| Ok(()));
    }
    let mut guard = 0;
    while let Some(t) = server.poll_timeout() {
        server.handle_timeout(t.max(now));
        now = t.max(now);
        while server.poll_transmit().is_some() {}
        while server.poll_event().is_some() {}
        guard += 1;
        if guard > 10_000 || server.peer_count() == 0 && t > now + 1_000_000 {
            break;
        }
    }
}

/// Every resource kind, for decoders that take one.
pub const KINDS: [ResourceKind; 10] = [
    ResourceKind::String,
    ResourceKind::Integer,
    ResourceKind::UnsignedInteger,
    ResourceKind::Float,
    ResourceKind::Boolean,
    ResourceKind::Opaque,
    ResourceKind::Time,
    ResourceKind::ObjLink,
    ResourceKind::CoreLink,
    ResourceKind::None,
];

/// Base paths of every depth, for the LwM2M decoders: resource 6 is single-instance and 16
/// multiple-instance under [`FuzzTypes`].
pub const BASES: [Path; 5] = [
    Path::object(3),
    Path::instance(3, 0),
    Path::resource(3, 0, 6),
    Path::resource(3, 0, 16),
    Path::resource_instance(3, 0, 16, 1),
];

/// An object model for fuzzing: objects below 1000 know every resource, whose kind is
/// [`KINDS`]`[resource % 10]`, multiple-instance for resources 10 to 19; other objects are
/// unknown.
pub struct FuzzTypes;

impl Types for FuzzTypes {
    fn kind(&self, object: u16, resource: u16) -> Option<ResourceKind> {
        (object < 1000).then(|| KINDS[usize::from(resource % 10)])
    }

    fn multiple(&self, object: u16, resource: u16) -> Option<bool> {
        (object < 1000).then_some((10..20).contains(&resource))
    }
}

/// Decodes `data` in every LwM2M content format, against every base path of [`BASES`], with
/// and without an object model: nothing may panic, and whatever decodes and encodes again
/// must be stable from then on (decode, encode, decode, encode gives the same bytes twice).
pub fn lwm2m(data: &[u8]) {
    let formats = [
        format::TEXT,
        format::OCTET_STREAM,
        format::SENML_JSON,
        format::SENML_CBOR,
        format::LWM2M_TLV,
    ];
    let models: [&dyn Types; 2] = [&FuzzTypes, &NoTypes];
    for content_format in formats {
        for base in &BASES {
            for types in models {
                if let Ok(records) = lwm2m::decode(content_format, base, data, types) {
                    stable(content_format, base, &records, types);
                }
            }
        }
    }
    let _ = lwm2m::senml::decode_paths_json(data);
    let _ = lwm2m::senml::decode_paths_cbor(data);
    let _ = lwm2m::senml::decode_json(data, &FuzzTypes);
    let _ = lwm2m::senml::decode_cbor(data, &FuzzTypes);
    for kind in KINDS {
        let _ = lwm2m::text::decode_text(&BASES[2], data, kind);
    }
}

fn stable(content_format: u16, base: &Path, records: &[lwm2m::Record], types: &dyn Types) {
    let Ok(first) = lwm2m::encode(content_format, base, records) else {
        return;
    };
    let again = lwm2m::decode(content_format, base, &first, types).expect("re-encoded decodes");
    let second = lwm2m::encode(content_format, base, &again).expect("re-decoded encodes");
    assert_eq!(first, second, "format {content_format} at {base}");
}
