//! Device management and information reporting from the management server (LwM2M Core TS
//! 1.1 §6.3, §6.4): routing, Read, Observe and cancel, Execute, Create, Delete and
//! Write-Attributes. Write is in `write`, Discover in `discover`.

use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::lwm2m::{self, Path, Record, Value};
use strata_proto_coap::option::format;
use strata_proto_coap::{Code, Message, RequestId, option};

use super::client::{Client, Deferred};
use super::config::ClientEvent;
use super::objects::{self, Definitions, id};
use super::reply::{self, Reply};
use super::store::Access;
use super::write::Mode;

impl<P: Ord + Copy> Client<P> {
    /// A request from the management server.
    pub(crate) fn dm_request(
        &mut self,
        now: u64,
        id: &RequestId<P>,
        message: &Message<'_>,
    ) -> Reply {
        if matches!(message.code, Code::FETCH | Code::PATCH | Code::IPATCH) {
            return Reply::error(
                Code::METHOD_NOT_ALLOWED,
                "composite operations are not supported",
            );
        }
        if message.path().next().is_none() {
            return Reply::error(Code::BAD_REQUEST, "no object path");
        }
        let path = match Path::from_segments(message.path()) {
            Ok(p) => p,
            Err(_) => return Reply::error(Code::NOT_FOUND, "not an LwM2M path"),
        };
        // The Security object belongs to the bootstrap server (Core Appendix E.1).
        if path.object == id::SECURITY || objects::object(path.object).is_none() {
            return Reply::error(Code::NOT_FOUND, "no such object");
        }
        match message.code {
            Code::GET => self.dm_get(now, id, message, path),
            Code::PUT if is_write_attributes(message) => self.write_attributes(message, &path),
            Code::PUT => self.dm_write(now, id, message, path, Mode::Replace),
            Code::POST => match path.depth() {
                1 => self.create(now, id, message, path.object),
                2 => self.dm_write(now, id, message, path, Mode::Partial),
                3 => self.execute(now, message, &path),
                _ => Reply::error(Code::METHOD_NOT_ALLOWED, "POST to a resource instance"),
            },
            Code::DELETE => self.delete(&path),
            _ => Reply::error(Code::METHOD_NOT_ALLOWED, "unsupported method"),
        }
    }

    /// Read, Discover, Observe and cancel.
    fn dm_get(&mut self, now: u64, id: &RequestId<P>, message: &Message<'_>, path: Path) -> Reply {
        if message.accept() == Some(format::LINK_FORMAT) {
            return self.discover(&path);
        }
        let Some(format) = reply::read_format(message.accept()) else {
            return Reply::error(Code::NOT_ACCEPTABLE, "unsupported Accept format");
        };
        let observe = message.observe();
        if observe == Some(1) {
            let cancelled = self.observations.remove(id.peer, id.token).is_some()
                || self.observations.remove_path(id.peer, &path) > 0;
            if cancelled {
                self.events
                    .push_back(ClientEvent::ObservationCancelled { path });
            }
        }
        let mut reply = self.read(&path, format);
        if observe == Some(0) && reply.code == Code::CONTENT {
            reply.observe = Some(self.observe_seq.next_value());
            let number = self.store.number(&path);
            self.observations
                .add(now, id.peer, id.token, path, format, number);
            self.events
                .push_back(ClientEvent::ObservationStarted { path });
        }
        reply
    }

    fn read(&self, path: &Path, format: u16) -> Reply {
        let records = match self.store.records(path, Access::Server) {
            Ok(r) => r,
            Err(code) if code == Code::METHOD_NOT_ALLOWED => {
                return Reply::error(code, "resource is not readable");
            }
            Err(code) => return Reply::error(code, "no such instance or resource"),
        };
        match reply::encode(format, path, &records) {
            Ok(body) => Reply::content(format, body),
            Err(r) => r,
        }
    }

    /// Execute: the arguments are text (Core §5.4.5); Update (/5/0/2) only when a package
    /// is downloaded.
    fn execute(&mut self, now: u64, message: &Message<'_>, path: &Path) -> Reply {
        let (Some(instance), Some(resource)) = (path.instance, path.resource) else {
            return Reply::code(Code::METHOD_NOT_ALLOWED);
        };
        if !self.store.has_instance(path.object, instance) {
            return Reply::error(Code::NOT_FOUND, "no such instance");
        }
        let Some(def) = objects::resource(path.object, resource) else {
            return Reply::error(Code::NOT_FOUND, "no such resource");
        };
        if !def.ops.executable() {
            return Reply::error(Code::METHOD_NOT_ALLOWED, "resource is not executable");
        }
        let Ok(args) = core::str::from_utf8(message.payload) else {
            return Reply::error(Code::BAD_REQUEST, "execute arguments must be text");
        };
        let current_server = self.reg.server_instance(&self.store) == Some(instance);
        match (path.object, resource) {
            (id::SERVER, 8) if current_server => self.deferred.push(Deferred::Update),
            (id::SERVER, 4) if current_server => self.deferred.push(Deferred::Disable),
            (id::FIRMWARE, 2) => {
                if let Err(reply) = self.firmware_execute_update(now) {
                    return reply;
                }
            }
            (id::TEMPERATURE, 5605) => {
                let current = self
                    .store
                    .value(&Path::resource(path.object, instance, 5700));
                if let Some(v) = current.cloned() {
                    self.set_internal(Path::resource(path.object, instance, 5601), v.clone());
                    self.set_internal(Path::resource(path.object, instance, 5602), v);
                }
            }
            _ => {}
        }
        self.events.push_back(ClientEvent::Executed {
            path: *path,
            args: String::from(args),
        });
        Reply::code(Code::CHANGED)
    }

    /// Create: the new instance ID comes from the payload (a TLV object-instance entry or
    /// SenML names), else the client picks the lowest free one.
    fn create(&mut self, now: u64, id: &RequestId<P>, message: &Message<'_>, object: u16) -> Reply {
        if !objects::object(object).is_some_and(|o| o.server_creatable) {
            return Reply::error(
                Code::METHOD_NOT_ALLOWED,
                "instances of this object are fixed",
            );
        }
        let (body, block1) = match self.request_body(now, id, message, Path::object(object)) {
            Ok(b) => b,
            Err(reply) => return reply,
        };
        let records = match self.create_records(object, message.content_format(), &body) {
            Ok(r) => r,
            Err(reply) => return reply,
        };
        let instance = match records.first().and_then(|r| r.path.instance) {
            Some(i) => i,
            None => match self.store.free_instance(object) {
                Some(i) => i,
                None => return Reply::error(Code::INTERNAL_SERVER_ERROR, "no free instance ID"),
            },
        };
        if records.iter().any(|r| r.path.instance != Some(instance)) {
            return Reply::error(Code::BAD_REQUEST, "create one instance at a time");
        }
        for r in &records {
            let def = r
                .path
                .resource
                .and_then(|res| objects::resource(object, res));
            if !def.is_some_and(|d| !d.ops.executable() && d.kind == r.value.kind()) {
                return Reply::error(Code::BAD_REQUEST, "unknown resource or wrong type");
            }
        }
        if !self.store.create(object, instance) {
            return Reply::error(Code::BAD_REQUEST, "instance exists");
        }
        self.instance_defaults(object, instance);
        for r in records {
            self.set_internal(r.path, r.value);
        }
        if object == id::TEMPERATURE {
            self.track_min_max(object, instance);
        }
        let path = Path::instance(object, instance);
        self.changed(&path);
        self.events.push_back(ClientEvent::Created { path });
        self.deferred.push(Deferred::Update);
        let location = Vec::from([alloc_num(object), alloc_num(instance)]);
        Reply {
            location,
            block1,
            ..Reply::code(Code::CREATED)
        }
    }

    fn create_records(
        &self,
        object: u16,
        format: Option<u16>,
        body: &[u8],
    ) -> Result<Vec<Record>, Reply> {
        if body.is_empty() {
            return Ok(Vec::new());
        }
        let Some(format) = format else {
            return Err(Reply::error(
                Code::BAD_REQUEST,
                "Create without Content-Format",
            ));
        };
        if !lwm2m::is_supported(format) {
            return Err(Reply::error(
                Code::UNSUPPORTED_CONTENT_FORMAT,
                "unsupported Content-Format",
            ));
        }
        let tlv = matches!(format, format::LWM2M_TLV | format::LWM2M_TLV_LEGACY);
        // TLV bare resources (no object-instance entry): the client picks the ID.
        let base = match body.first() {
            Some(b) if tlv && b >> 6 != 0 => match self.store.free_instance(object) {
                Some(i) => Path::instance(object, i),
                None => return Err(Reply::error(Code::INTERNAL_SERVER_ERROR, "no free ID")),
            },
            _ => Path::object(object),
        };
        lwm2m::decode(format, &base, body, &Definitions).map_err(|e| reply::decode_error(&e))
    }

    /// Delete of an object instance of an object whose instances servers manage.
    fn delete(&mut self, path: &Path) -> Reply {
        let (Some(instance), None) = (path.instance, path.resource) else {
            return Reply::error(Code::METHOD_NOT_ALLOWED, "delete an object instance");
        };
        if !objects::object(path.object).is_some_and(|o| o.server_creatable) {
            return Reply::error(
                Code::METHOD_NOT_ALLOWED,
                "instances of this object are fixed",
            );
        }
        if !self.store.delete(path.object, instance) {
            return Reply::error(Code::NOT_FOUND, "no such instance");
        }
        self.attributes.remove_under(path);
        // Observers of the instance get 4.04 with their next notification.
        self.changed(path);
        self.events.push_back(ClientEvent::Deleted { path: *path });
        self.deferred.push(Deferred::Update);
        Reply::code(Code::DELETED)
    }

    /// Write-Attributes: PUT with Uri-Query and no payload (Core §5.4.4).
    fn write_attributes(&mut self, message: &Message<'_>, path: &Path) -> Reply {
        if !self.exists(path) {
            return Reply::error(Code::NOT_FOUND, "no such instance or resource");
        }
        let numeric = path
            .resource
            .and_then(|r| objects::resource(path.object, r))
            .is_some_and(|d| objects::is_numeric(d.kind));
        let mut items = Vec::new();
        for q in message.queries() {
            match core::str::from_utf8(q) {
                Ok(s) => items.push(s),
                Err(_) => return Reply::error(Code::BAD_REQUEST, "attributes must be text"),
            }
        }
        let mut attributes = self.attributes.at(path);
        if let Err(e) = attributes.apply(items, numeric) {
            return Reply::error(Code::BAD_REQUEST, &e);
        }
        self.attributes.set(*path, attributes);
        Reply::code(Code::CHANGED)
    }

    /// Whether `path` names something present (object, instance, resource, resource
    /// instance).
    pub(crate) fn exists(&self, path: &Path) -> bool {
        let Some(instance) = path.instance else {
            return objects::object(path.object).is_some();
        };
        let Some(resource) = path.resource else {
            return self.store.has_instance(path.object, instance);
        };
        let present = self
            .store
            .present(path.object, instance)
            .iter()
            .any(|d| d.id == resource);
        match path.resource_instance {
            None => present,
            Some(_) => self.store.value(path).is_some(),
        }
    }

    /// Values a new instance starts with (mandatory resources).
    pub(crate) fn instance_defaults(&mut self, object: u16, instance: u16) {
        if object == id::TEMPERATURE {
            let at = |r| Path::resource(object, instance, r);
            self.store.set(&at(5700), Value::Float(0.0));
            self.store.set(&at(5701), Value::String("Cel".into()));
            self.store.set(&at(5603), Value::Float(-40.0));
            self.store.set(&at(5604), Value::Float(125.0));
        }
    }
}

/// Write-Attributes is a PUT with query items and nothing else.
fn is_write_attributes(message: &Message<'_>) -> bool {
    message.payload.is_empty()
        && message.queries().next().is_some()
        && message.content_format().is_none()
        && message.option(option::BLOCK1).is_none()
}

fn alloc_num(n: u16) -> String {
    use core::fmt::Write;
    let mut s = String::new();
    let _ = write!(s, "{n}");
    s
}
