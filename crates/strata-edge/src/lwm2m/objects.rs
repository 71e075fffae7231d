//! The objects this client implements, as small static tables: each resource's ID, data
//! type, operations, multiplicity and whether it is mandatory (OMA LwM2M registry, Core TS
//! 1.1 Appendix E and IPSO 3303).
//!
//! [`Definitions`] implements [`Types`] over these tables, so the codecs decode writes with
//! the right types.

use strata_proto_coap::lwm2m::{ResourceKind, Types};

/// Object IDs.
pub mod id {
    /// LwM2M Security.
    pub const SECURITY: u16 = 0;
    /// LwM2M Server.
    pub const SERVER: u16 = 1;
    /// Device.
    pub const DEVICE: u16 = 3;
    /// Firmware Update.
    pub const FIRMWARE: u16 = 5;
    /// IPSO Temperature.
    pub const TEMPERATURE: u16 = 3303;
}

/// What a server may do with a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operations {
    /// Nothing: only the bootstrap server writes it (Security object).
    None,
    /// Read.
    R,
    /// Write.
    W,
    /// Read and write.
    RW,
    /// Execute.
    E,
}

impl Operations {
    /// Readable by a server.
    pub fn readable(self) -> bool {
        matches!(self, Operations::R | Operations::RW)
    }

    /// Writable by a server.
    pub fn writable(self) -> bool {
        matches!(self, Operations::W | Operations::RW)
    }

    /// Executable.
    pub fn executable(self) -> bool {
        self == Operations::E
    }
}

/// One resource of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceDef {
    /// Resource ID.
    pub id: u16,
    /// Data type ([`ResourceKind::None`] for executables).
    pub kind: ResourceKind,
    /// Operations.
    pub ops: Operations,
    /// Multiple instances.
    pub multiple: bool,
    /// Mandatory.
    pub mandatory: bool,
}

/// One object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectDef {
    /// Object ID.
    pub id: u16,
    /// Name, for people.
    pub name: &'static str,
    /// Several instances may exist.
    pub multiple: bool,
    /// A management server may create and delete instances (Security and Server instances
    /// are the bootstrap server's; Device and Firmware Update are fixed).
    pub server_creatable: bool,
    /// Bootstrap-Delete of `/` removes the instances (configuration objects). Instances of
    /// the other objects are hardware the client keeps, as Anjay and Wakaama do for objects
    /// that cannot be removed.
    pub bootstrap_deletable: bool,
    /// Resources.
    pub resources: &'static [ResourceDef],
}

impl ObjectDef {
    /// Resource `id`.
    pub fn resource(&self, id: u16) -> Option<&'static ResourceDef> {
        self.resources.iter().find(|r| r.id == id)
    }
}

const fn res(
    id: u16,
    kind: ResourceKind,
    ops: Operations,
    multiple: bool,
    mandatory: bool,
) -> ResourceDef {
    ResourceDef {
        id,
        kind,
        ops,
        multiple,
        mandatory,
    }
}

use Operations::{E, R, RW, W};
use ResourceKind::{Boolean, Float, Integer, Opaque, String as Str, Time};

const NONE_OPS: Operations = Operations::None;
const EXEC: ResourceKind = ResourceKind::None;

/// Object 0, LwM2M Security (bootstrap-server access only).
const SECURITY: &[ResourceDef] = &[
    res(0, Str, NONE_OPS, false, true),
    res(1, Boolean, NONE_OPS, false, true),
    res(2, Integer, NONE_OPS, false, true),
    res(3, Opaque, NONE_OPS, false, true),
    res(4, Opaque, NONE_OPS, false, true),
    res(5, Opaque, NONE_OPS, false, true),
    res(6, Integer, NONE_OPS, false, false),
    res(7, Opaque, NONE_OPS, false, false),
    res(8, Opaque, NONE_OPS, false, false),
    res(9, Str, NONE_OPS, false, false),
    res(10, Integer, NONE_OPS, false, false),
    res(11, Integer, NONE_OPS, false, false),
    res(12, Integer, NONE_OPS, false, false),
];

/// Object 1, LwM2M Server.
const SERVER: &[ResourceDef] = &[
    res(0, Integer, R, false, true),
    res(1, Integer, RW, false, true),
    res(2, Integer, RW, false, false),
    res(3, Integer, RW, false, false),
    res(4, EXEC, E, false, false),
    res(5, Integer, RW, false, false),
    res(6, Boolean, RW, false, true),
    res(7, Str, RW, false, true),
    res(8, EXEC, E, false, true),
];

/// Object 3, Device.
const DEVICE: &[ResourceDef] = &[
    res(0, Str, R, false, false),
    res(1, Str, R, false, false),
    res(2, Str, R, false, false),
    res(3, Str, R, false, false),
    res(4, EXEC, E, false, true),
    res(5, EXEC, E, false, false),
    res(6, Integer, R, true, false),
    res(9, Integer, R, false, false),
    res(10, Integer, R, false, false),
    res(11, Integer, R, true, true),
    res(13, Time, RW, false, false),
    res(14, Str, RW, false, false),
    res(15, Str, RW, false, false),
    res(16, Str, R, false, true),
    res(17, Str, R, false, false),
    res(18, Str, R, false, false),
    res(19, Str, R, false, false),
];

/// Object 5, Firmware Update.
const FIRMWARE: &[ResourceDef] = &[
    res(0, Opaque, W, false, true),
    res(1, Str, RW, false, true),
    res(2, EXEC, E, false, true),
    res(3, Integer, R, false, true),
    res(5, Integer, R, false, true),
    res(6, Str, R, false, false),
    res(7, Str, R, false, false),
    res(8, Integer, R, true, false),
    res(9, Integer, R, false, true),
];

/// Object 3303, IPSO Temperature.
const TEMPERATURE: &[ResourceDef] = &[
    res(5601, Float, R, false, false),
    res(5602, Float, R, false, false),
    res(5603, Float, R, false, false),
    res(5604, Float, R, false, false),
    res(5605, EXEC, E, false, false),
    res(5700, Float, R, false, true),
    res(5701, Str, R, false, false),
    res(5750, Str, RW, false, false),
];

/// Every object the client implements, in registration order.
pub const OBJECTS: &[ObjectDef] = &[
    ObjectDef {
        id: id::SECURITY,
        name: "LwM2M Security",
        multiple: true,
        server_creatable: false,
        bootstrap_deletable: true,
        resources: SECURITY,
    },
    ObjectDef {
        id: id::SERVER,
        name: "LwM2M Server",
        multiple: true,
        server_creatable: false,
        bootstrap_deletable: true,
        resources: SERVER,
    },
    ObjectDef {
        id: id::DEVICE,
        name: "Device",
        multiple: false,
        server_creatable: false,
        bootstrap_deletable: false,
        resources: DEVICE,
    },
    ObjectDef {
        id: id::FIRMWARE,
        name: "Firmware Update",
        multiple: false,
        server_creatable: false,
        bootstrap_deletable: false,
        resources: FIRMWARE,
    },
    ObjectDef {
        id: id::TEMPERATURE,
        name: "Temperature",
        multiple: true,
        server_creatable: true,
        bootstrap_deletable: false,
        resources: TEMPERATURE,
    },
];

/// Object `id`, if this client implements it.
pub fn object(id: u16) -> Option<&'static ObjectDef> {
    OBJECTS.iter().find(|o| o.id == id)
}

/// Resource `resource` of object `object`.
pub fn resource(object: u16, resource: u16) -> Option<&'static ResourceDef> {
    self::object(object)?.resource(resource)
}

/// The client's object model for the codecs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Definitions;

impl Types for Definitions {
    fn kind(&self, object: u16, resource: u16) -> Option<ResourceKind> {
        self::resource(object, resource).map(|r| r.kind)
    }

    fn multiple(&self, object: u16, resource: u16) -> Option<bool> {
        self::resource(object, resource).map(|r| r.multiple)
    }
}

/// Numeric kinds (the ones gt, lt and st apply to).
pub fn is_numeric(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Integer | ResourceKind::UnsignedInteger | ResourceKind::Float
    )
}
