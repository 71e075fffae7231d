//! Write from the management server (LwM2M Core TS 1.1 §5.4.3): replace (PUT) and partial
//! update (POST to an instance), with the side effects of the resources written (firmware
//! package and URI, lifetime and binding, current time).

use super::alloc::collections::BTreeMap;
use super::alloc::vec::Vec;
use strata_proto_coap::lwm2m::{self, Path, Record, Value};
use strata_proto_coap::{Code, Message, RequestId};

use super::client::{Client, Deferred};
use super::objects::{self, Definitions, id};
use super::reply::{self, Reply};

/// Replace or partial update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// PUT: the instance or resource becomes what the payload says (optional writable
    /// resources not given are removed; a multiple resource's instances are replaced).
    Replace,
    /// POST to an instance: only the given resources (and resource instances) change.
    Partial,
}

impl<P: Ord + Copy> Client<P> {
    /// Write to an instance, resource or resource instance.
    pub(crate) fn dm_write(
        &mut self,
        now: u64,
        id: &RequestId<P>,
        message: &Message<'_>,
        path: Path,
        mode: Mode,
    ) -> Reply {
        let Some(instance) = path.instance else {
            return Reply::error(Code::METHOD_NOT_ALLOWED, "write an instance or a resource");
        };
        if !self.store.has_instance(path.object, instance) {
            return Reply::error(Code::NOT_FOUND, "no such instance");
        }
        if let Some(resource) = path.resource {
            match objects::resource(path.object, resource) {
                None => return Reply::error(Code::NOT_FOUND, "no such resource"),
                Some(d) if !d.ops.writable() => {
                    return Reply::error(Code::METHOD_NOT_ALLOWED, "resource is not writable");
                }
                Some(d) if path.resource_instance.is_some() && !d.multiple => {
                    return Reply::error(Code::NOT_FOUND, "single-instance resource");
                }
                Some(_) => {}
            }
        }
        let (body, block1) = match self.request_body(now, id, message, path) {
            Ok(b) => b,
            Err(reply) => return reply,
        };
        let Some(format) = message.content_format() else {
            return Reply::error(Code::BAD_REQUEST, "Write without Content-Format");
        };
        if !lwm2m::is_supported(format) {
            return Reply::error(
                Code::UNSUPPORTED_CONTENT_FORMAT,
                "unsupported Content-Format",
            );
        }
        let records = match lwm2m::decode(format, &path, &body, &Definitions) {
            Ok(r) => r,
            Err(e) => return reply::decode_error(&e),
        };
        Reply {
            block1,
            ..self.apply_write(now, &path, records, mode)
        }
    }

    /// Checks every record, then applies them all.
    pub(crate) fn apply_write(
        &mut self,
        now: u64,
        target: &Path,
        records: Vec<Record>,
        mode: Mode,
    ) -> Reply {
        for r in &records {
            let Some(def) = r
                .path
                .resource
                .and_then(|res| objects::resource(r.path.object, res))
            else {
                return Reply::error(Code::NOT_FOUND, "no such resource");
            };
            if !def.ops.writable() {
                return Reply::error(Code::METHOD_NOT_ALLOWED, "resource is not writable");
            }
            if def.kind != r.value.kind() {
                return Reply::error(Code::BAD_REQUEST, "value of the wrong type");
            }
        }
        if target.object == id::FIRMWARE
            && let Err(reply) = self.firmware_may_write(&records)
        {
            return reply;
        }
        let (object, Some(instance)) = (target.object, target.instance) else {
            return Reply::code(Code::METHOD_NOT_ALLOWED);
        };
        let mut by_resource: BTreeMap<u16, Vec<(Path, Value)>> = BTreeMap::new();
        for r in records {
            if let Some(res) = r.path.resource {
                by_resource.entry(res).or_default().push((r.path, r.value));
            }
        }
        if mode == Mode::Replace && target.resource.is_none() {
            self.clear_unwritten(object, instance, &by_resource);
        }
        let mut paths = Vec::new();
        for (resource, values) in by_resource {
            let at = Path::resource(object, instance, resource);
            let multiple = objects::resource(object, resource).is_some_and(|d| d.multiple);
            if multiple && (mode == Mode::Replace && target.resource_instance.is_none()) {
                if self.store.set_multiple(&at, Self::instances_of(&values)) {
                    self.changed(&at);
                }
                paths.push(at);
                continue;
            }
            for (path, value) in values {
                self.write_one(now, path, value);
                paths.push(path);
            }
        }
        self.written(paths);
        Reply::code(Code::CHANGED)
    }

    /// Replace of an instance: optional writable resources the payload leaves out go.
    fn clear_unwritten(
        &mut self,
        object: u16,
        instance: u16,
        written: &BTreeMap<u16, Vec<(Path, Value)>>,
    ) {
        let Some(def) = objects::object(object) else {
            return;
        };
        for r in def.resources {
            if r.ops.writable()
                && !r.mandatory
                && !written.contains_key(&r.id)
                && self.store.remove(object, instance, r.id)
            {
                self.changed(&Path::resource(object, instance, r.id));
            }
        }
    }

    /// One value, with its resource's side effects.
    fn write_one(&mut self, now: u64, path: Path, value: Value) {
        let current_server =
            path.object == id::SERVER && path.instance == self.reg.server_instance(&self.store);
        match (path.object, path.resource) {
            (id::FIRMWARE, Some(0)) => {
                if let Value::Opaque(bytes) = value {
                    self.firmware_package_written(now, bytes);
                }
            }
            (id::FIRMWARE, Some(1)) => {
                if let Value::String(uri) = value {
                    self.firmware_uri_written(now, uri);
                }
            }
            (id::DEVICE, Some(13)) => {
                if let Value::Time(t) = value {
                    self.clock = t - (now / 1000) as i64;
                    self.refresh_clock(now);
                    self.changed(&path);
                }
            }
            (id::SERVER, Some(1 | 7)) if current_server => {
                self.set_internal(path, value);
                // Update sends `lt` or `b` only if they changed.
                self.deferred.push(Deferred::Update);
            }
            _ => self.set_internal(path, value),
        }
    }
}
