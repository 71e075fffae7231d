//! The LwM2M object model: which objects exist and what their resources are (ID, name,
//! operations, multiplicity, data type, range, units), read from OMA DDF XML object
//! definitions (`LWM2M.xsd`, the format of the OMA LwM2M object registry).
//!
//! The server needs it to decode TLV and SenML payloads (which do not carry exact types; see
//! [`strata_proto_coap::lwm2m::Types`], implemented by [`Models`]), to check writes and
//! executes before sending them, and to show devices by name.
//!
//! [`Models::builtin`] has the core objects of LwM2M 1.1 (0 LWM2M Security, 1 LwM2M Server,
//! 3 Device, 4 Connectivity Monitoring, 5 Firmware Update) and common IPSO objects (3303
//! Temperature, 3304 Humidity, 3311 Light Control, 3347 Push button), from the XML files in
//! the crate's `models/` directory. Deployments add their own objects with
//! [`Models::load_dir`] or [`Models::load_xml`]; a later definition of an object ID replaces
//! the earlier one.

mod ddf;
mod error;
mod operations;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::Path;

use strata_proto_coap::lwm2m::{ResourceKind, Types};

pub use error::{Location, ModelError};
pub use operations::Operations;

/// The object definitions built into the server: file name and DDF XML text.
const BUILTIN: &[(&str, &str)] = &[
    (
        "0-lwm2m-security.xml",
        include_str!("../models/0-lwm2m-security.xml"),
    ),
    (
        "1-lwm2m-server.xml",
        include_str!("../models/1-lwm2m-server.xml"),
    ),
    ("3-device.xml", include_str!("../models/3-device.xml")),
    (
        "4-connectivity-monitoring.xml",
        include_str!("../models/4-connectivity-monitoring.xml"),
    ),
    (
        "5-firmware-update.xml",
        include_str!("../models/5-firmware-update.xml"),
    ),
    (
        "3303-temperature.xml",
        include_str!("../models/3303-temperature.xml"),
    ),
    (
        "3304-humidity.xml",
        include_str!("../models/3304-humidity.xml"),
    ),
    (
        "3311-light-control.xml",
        include_str!("../models/3311-light-control.xml"),
    ),
    (
        "3347-push-button.xml",
        include_str!("../models/3347-push-button.xml"),
    ),
];

/// Parses a DDF `<Type>`: `String`, `Integer`, `Unsigned Integer`, `Float`, `Boolean`,
/// `Opaque`, `Time`, `Objlnk`, `Corelnk`; empty or `none` is [`ResourceKind::None`]
/// (executable resources). Case, spaces, `-` and `_` do not matter, and `ObjLink` /
/// `CoreLink` spellings are accepted.
pub fn parse_type(text: &str) -> Option<ResourceKind> {
    let key: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Some(match key.as_str() {
        "string" => ResourceKind::String,
        "integer" => ResourceKind::Integer,
        "unsignedinteger" => ResourceKind::UnsignedInteger,
        "float" => ResourceKind::Float,
        "boolean" => ResourceKind::Boolean,
        "opaque" => ResourceKind::Opaque,
        "time" => ResourceKind::Time,
        "objlnk" | "objlink" => ResourceKind::ObjLink,
        "corelnk" | "corelink" => ResourceKind::CoreLink,
        "" | "none" => ResourceKind::None,
        _ => return None,
    })
}

/// The DDF spelling of a data type (`Unsigned Integer`, `Objlnk`, ...; empty for
/// [`ResourceKind::None`]), as [`parse_type`] reads it.
pub fn type_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::String => "String",
        ResourceKind::Integer => "Integer",
        ResourceKind::UnsignedInteger => "Unsigned Integer",
        ResourceKind::Float => "Float",
        ResourceKind::Boolean => "Boolean",
        ResourceKind::Opaque => "Opaque",
        ResourceKind::Time => "Time",
        ResourceKind::ObjLink => "Objlnk",
        ResourceKind::CoreLink => "Corelnk",
        ResourceKind::None => "",
    }
}

/// One resource of an object definition (a DDF `<Item>`).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceModel {
    /// Resource ID (0 to 65534).
    pub id: u16,
    /// Name, e.g. `Manufacturer`.
    pub name: String,
    /// Allowed operations.
    pub operations: Operations,
    /// Whether the resource has resource instances (`/3/0/6/1`).
    pub multiple: bool,
    /// Whether every instance of the object must have it.
    pub mandatory: bool,
    /// Data type; [`ResourceKind::None`] exactly for executable resources.
    pub kind: ResourceKind,
    /// `<RangeEnumeration>` as written (e.g. `0..100`, `0..255 bytes`), empty when none.
    pub range: String,
    /// `<Units>` as written (e.g. `s`, `%`, `dBm`), empty when none.
    pub units: String,
    /// Description.
    pub description: String,
}

/// One object definition (a DDF `<Object>`).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectModel {
    /// Object ID (0 to 65534).
    pub id: u16,
    /// Name, e.g. `Device`.
    pub name: String,
    /// Description (`Description1`, then `Description2` when present).
    pub description: String,
    /// Object URN, e.g. `urn:oma:lwm2m:oma:3:1.1`; empty when the file gives none.
    pub urn: String,
    /// LwM2M enabler version the object was defined for (`1.0` when the file gives none).
    pub lwm2m_version: String,
    /// Object version (`1.0` when the file gives none).
    pub object_version: String,
    /// Whether a client may have several instances.
    pub multiple: bool,
    /// Whether every client must have it.
    pub mandatory: bool,
    /// Resources by ID.
    pub resources: BTreeMap<u16, ResourceModel>,
}

impl ObjectModel {
    /// Resource `id`, if the object defines it.
    pub fn resource(&self, id: u16) -> Option<&ResourceModel> {
        self.resources.get(&id)
    }
}

/// A registry of object definitions by object ID. It answers the decoders' type questions
/// through [`Types`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Models {
    objects: BTreeMap<u16, ObjectModel>,
}

impl Models {
    /// No object definitions.
    pub fn empty() -> Models {
        Models::default()
    }

    /// The built-in definitions: objects 0, 1, 3, 4 and 5 of LwM2M 1.1 and IPSO objects
    /// 3303, 3304, 3311 and 3347.
    pub fn builtin() -> Models {
        let mut models = Models::empty();
        for (file, xml) in BUILTIN {
            // The files are part of the crate and checked by its tests.
            if let Err(e) = models.load_xml(xml) {
                panic!("built-in LwM2M model {file} is invalid: {e}");
            }
        }
        models
    }

    /// Loads the objects of one DDF document (it may hold several) and returns their IDs in
    /// document order. A definition replaces any earlier one with the same object ID. On
    /// error nothing is loaded.
    pub fn load_xml(&mut self, xml: &str) -> Result<Vec<u16>, ModelError> {
        let objects = ddf::parse_document(xml)?;
        let mut ids = Vec::with_capacity(objects.len());
        for object in objects {
            if !ids.contains(&object.id) {
                ids.push(object.id);
            }
            self.insert(object);
        }
        Ok(ids)
    }

    /// Loads every `*.xml` file of a directory (not its subdirectories), in file name order,
    /// and returns how many object definitions were loaded. Errors name the file; on error
    /// nothing is loaded.
    pub fn load_dir(&mut self, dir: &Path) -> Result<usize, ModelError> {
        let io_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| ModelError::Io { path, source }
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
            let path = entry.map_err(io_error(dir))?.path();
            let is_xml = path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("xml"));
            if is_xml && path.is_file() {
                files.push(path);
            }
        }
        files.sort();

        let mut staged = Vec::new();
        for file in files {
            let xml = std::fs::read_to_string(&file).map_err(io_error(&file))?;
            let objects = ddf::parse_document(&xml).map_err(|e| ModelError::InFile {
                file: file.clone(),
                source: Box::new(e),
            })?;
            staged.extend(objects);
        }
        let count = staged.len();
        for object in staged {
            self.insert(object);
        }
        Ok(count)
    }

    /// Adds an object definition, returning the one it replaces.
    pub fn insert(&mut self, object: ObjectModel) -> Option<ObjectModel> {
        self.objects.insert(object.id, object)
    }

    /// The definition of object `id`.
    pub fn object(&self, id: u16) -> Option<&ObjectModel> {
        self.objects.get(&id)
    }

    /// The definition of resource `resource` of object `object`.
    pub fn resource(&self, object: u16, resource: u16) -> Option<&ResourceModel> {
        self.objects.get(&object)?.resources.get(&resource)
    }

    /// All definitions, by increasing object ID.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectModel> {
        self.objects.values()
    }

    /// How many objects are defined.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether no object is defined.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

impl Types for Models {
    fn kind(&self, object: u16, resource: u16) -> Option<ResourceKind> {
        self.resource(object, resource).map(|r| r.kind)
    }

    fn multiple(&self, object: u16, resource: u16) -> Option<bool> {
        self.resource(object, resource).map(|r| r.multiple)
    }
}
