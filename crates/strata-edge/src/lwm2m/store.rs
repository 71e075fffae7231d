//! The object store: instances and their resource values, and reading them out as
//! [`Record`]s for the codecs.

use super::alloc::collections::BTreeMap;
use super::alloc::vec::Vec;
use strata_proto_coap::Code;
use strata_proto_coap::lwm2m::{Path, Record, Value};

use super::objects::{self, Operations, ResourceDef};

/// A resource's value: one, or resource instances by ID.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stored {
    /// Single-instance resource.
    Single(Value),
    /// Multiple-instance resource.
    Multiple(BTreeMap<u16, Value>),
}

/// Every object instance with its resources.
#[derive(Debug, Default)]
pub(crate) struct Store {
    instances: BTreeMap<(u16, u16), BTreeMap<u16, Stored>>,
}

/// Who reads: a management server sees readable resources only; the bootstrap server
/// (Bootstrap-Read, and the client itself) sees everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A management server.
    Server,
    /// The bootstrap server or the client.
    Full,
}

impl Store {
    pub(crate) fn has_instance(&self, object: u16, instance: u16) -> bool {
        self.instances.contains_key(&(object, instance))
    }

    /// Instance IDs of `object`, ascending.
    pub(crate) fn instance_ids(&self, object: u16) -> Vec<u16> {
        self.instances
            .range((object, 0)..=(object, u16::MAX))
            .map(|((_, i), _)| *i)
            .collect()
    }

    /// Creates an empty instance; false if it exists.
    pub(crate) fn create(&mut self, object: u16, instance: u16) -> bool {
        if self.has_instance(object, instance) {
            return false;
        }
        self.instances.insert((object, instance), BTreeMap::new());
        true
    }

    /// Deletes an instance; false if there was none.
    pub(crate) fn delete(&mut self, object: u16, instance: u16) -> bool {
        self.instances.remove(&(object, instance)).is_some()
    }

    /// The lowest free instance ID of `object`.
    pub(crate) fn free_instance(&self, object: u16) -> Option<u16> {
        (0..u16::MAX).find(|i| !self.has_instance(object, *i))
    }

    pub(crate) fn get(&self, object: u16, instance: u16, resource: u16) -> Option<&Stored> {
        self.instances.get(&(object, instance))?.get(&resource)
    }

    /// The value at a single resource or resource-instance path.
    pub(crate) fn value(&self, path: &Path) -> Option<&Value> {
        let stored = self.get(path.object, path.instance?, path.resource?)?;
        match (stored, path.resource_instance) {
            (Stored::Single(v), None) => Some(v),
            (Stored::Multiple(m), Some(ri)) => m.get(&ri),
            _ => None,
        }
    }

    /// A numeric value as `f64` (for gt, lt and st).
    pub(crate) fn number(&self, path: &Path) -> Option<f64> {
        match self.value(path)? {
            Value::Integer(i) | Value::Time(i) => Some(*i as f64),
            Value::UnsignedInteger(u) => Some(*u as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// Sets a resource or resource-instance value in an existing instance; returns whether
    /// anything changed (false also when the instance is missing).
    pub(crate) fn set(&mut self, path: &Path, value: Value) -> bool {
        let (Some(instance), Some(resource)) = (path.instance, path.resource) else {
            return false;
        };
        let Some(resources) = self.instances.get_mut(&(path.object, instance)) else {
            return false;
        };
        match path.resource_instance {
            None => {
                let new = Stored::Single(value);
                if resources.get(&resource) == Some(&new) {
                    return false;
                }
                resources.insert(resource, new);
            }
            Some(ri) => {
                let entry = resources
                    .entry(resource)
                    .or_insert_with(|| Stored::Multiple(BTreeMap::new()));
                if let Stored::Single(_) = entry {
                    *entry = Stored::Multiple(BTreeMap::new());
                }
                if let Stored::Multiple(m) = entry {
                    if m.get(&ri) == Some(&value) {
                        return false;
                    }
                    m.insert(ri, value);
                }
            }
        }
        true
    }

    /// Replaces a multiple resource's instances.
    pub(crate) fn set_multiple(&mut self, path: &Path, values: BTreeMap<u16, Value>) -> bool {
        let (Some(instance), Some(resource)) = (path.instance, path.resource) else {
            return false;
        };
        let Some(resources) = self.instances.get_mut(&(path.object, instance)) else {
            return false;
        };
        let new = Stored::Multiple(values);
        if resources.get(&resource) == Some(&new) {
            return false;
        }
        resources.insert(resource, new);
        true
    }

    /// Removes a resource value; returns whether it was there.
    pub(crate) fn remove(&mut self, object: u16, instance: u16, resource: u16) -> bool {
        self.instances
            .get_mut(&(object, instance))
            .is_some_and(|r| r.remove(&resource).is_some())
    }

    /// Resources present in an instance, in ID order: those with a value, and every
    /// executable of the object.
    pub(crate) fn present(&self, object: u16, instance: u16) -> Vec<&'static ResourceDef> {
        let Some(def) = objects::object(object) else {
            return Vec::new();
        };
        let Some(values) = self.instances.get(&(object, instance)) else {
            return Vec::new();
        };
        let mut out: Vec<&'static ResourceDef> = def
            .resources
            .iter()
            // Executables and write-only resources (the firmware Package) have no stored
            // value but are always there.
            .filter(|r| r.ops.executable() || r.ops == Operations::W || values.contains_key(&r.id))
            .collect();
        out.sort_by_key(|r| r.id);
        out
    }

    /// The records at `path` (an object, instance, resource or resource instance).
    ///
    /// Errors: 4.04 for what does not exist, 4.05 for a resource `access` may not read (or an
    /// executable one).
    pub(crate) fn records(&self, path: &Path, access: Access) -> Result<Vec<Record>, Code> {
        let def = objects::object(path.object).ok_or(Code::NOT_FOUND)?;
        let mut out = Vec::new();
        let Some(instance) = path.instance else {
            for instance in self.instance_ids(path.object) {
                self.instance_records(path.object, instance, access, &mut out);
            }
            return Ok(out);
        };
        if !self.has_instance(path.object, instance) {
            return Err(Code::NOT_FOUND);
        }
        let Some(resource) = path.resource else {
            self.instance_records(path.object, instance, access, &mut out);
            return Ok(out);
        };
        let rdef = def.resource(resource).ok_or(Code::NOT_FOUND)?;
        if rdef.ops.executable() || (access == Access::Server && !rdef.ops.readable()) {
            return Err(Code::METHOD_NOT_ALLOWED);
        }
        let stored = self
            .get(path.object, instance, resource)
            .ok_or(Code::NOT_FOUND)?;
        match path.resource_instance {
            None => push(&mut out, *path, stored),
            Some(ri) => match stored {
                Stored::Multiple(m) => {
                    let value = m.get(&ri).ok_or(Code::NOT_FOUND)?;
                    out.push(record(*path, value.clone()));
                }
                Stored::Single(_) => return Err(Code::NOT_FOUND),
            },
        }
        Ok(out)
    }

    fn instance_records(&self, object: u16, instance: u16, access: Access, out: &mut Vec<Record>) {
        let Some(values) = self.instances.get(&(object, instance)) else {
            return;
        };
        for (id, stored) in values {
            let readable = objects::resource(object, *id)
                .is_some_and(|r| access == Access::Full || r.ops.readable());
            if readable {
                push(out, Path::resource(object, instance, *id), stored);
            }
        }
    }
}

fn record(path: Path, value: Value) -> Record {
    Record {
        path,
        value,
        time: None,
    }
}

fn push(out: &mut Vec<Record>, path: Path, stored: &Stored) {
    match stored {
        Stored::Single(v) => out.push(record(path, v.clone())),
        Stored::Multiple(m) => {
            for (ri, v) in m {
                out.push(record(
                    Path {
                        resource_instance: Some(*ri),
                        ..path
                    },
                    v.clone(),
                ));
            }
        }
    }
}
