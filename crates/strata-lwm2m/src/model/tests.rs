use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use strata_proto_coap::lwm2m::{ResourceKind, Types};

use super::*;

/// Resource IDs of every built-in object.
const EXPECTED: &[(u16, &str, &[u16])] = &[
    (
        0,
        "LWM2M Security",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
    ),
    (
        1,
        "LwM2M Server",
        &[
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
        ],
    ),
    (
        3,
        "Device",
        &[
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
        ],
    ),
    (
        4,
        "Connectivity Monitoring",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    ),
    (
        5,
        "Firmware Update",
        &[0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13],
    ),
    (
        3303,
        "Temperature",
        &[
            5518, 5601, 5602, 5603, 5604, 5605, 5700, 5701, 5750, 6042, 6049, 6050,
        ],
    ),
    (
        3304,
        "Humidity",
        &[
            5518, 5601, 5602, 5603, 5604, 5605, 5700, 5701, 5750, 6042, 6049, 6050,
        ],
    ),
    (
        3311,
        "Light Control",
        &[5701, 5706, 5750, 5805, 5820, 5850, 5851, 5852],
    ),
    (3347, "Push button", &[5500, 5501, 5518, 5750, 6050]),
];

#[test]
fn every_builtin_object_loads_with_its_resources() {
    let models = Models::builtin();
    let ids: Vec<u16> = models.objects().map(|o| o.id).collect();
    assert_eq!(ids, [0, 1, 3, 4, 5, 3303, 3304, 3311, 3347]);
    assert_eq!(models.len(), EXPECTED.len());
    for (id, name, resources) in EXPECTED {
        let object = models.object(*id).unwrap();
        assert_eq!(object.name, *name);
        let found: Vec<u16> = object.resources.keys().copied().collect();
        assert_eq!(found, *resources, "object {id}");
        assert!(!object.description.is_empty(), "object {id}");
        for resource in object.resources.values() {
            assert!(!resource.name.is_empty());
            assert!(!resource.description.is_empty(), "/{id}/{}", resource.id);
            // Executable resources, and only they, have no type.
            assert_eq!(
                resource.operations.execute,
                resource.kind == ResourceKind::None,
                "/{id}/{}",
                resource.id
            );
        }
    }
    // Each built-in file holds exactly the object it is named after.
    for (file, xml) in BUILTIN {
        let id: u16 = file.split('-').next().unwrap().parse().unwrap();
        assert_eq!(Models::empty().load_xml(xml).unwrap(), [id], "{file}");
        assert!(xml.starts_with("<!--\n  Written for Strata"), "{file}");
    }
}

#[test]
fn builtin_object_headers() {
    let models = Models::builtin();
    let device = models.object(3).unwrap();
    assert_eq!(device.urn, "urn:oma:lwm2m:oma:3:1.1");
    assert_eq!(device.lwm2m_version, "1.1");
    assert_eq!(device.object_version, "1.1");
    assert!(!device.multiple);
    assert!(device.mandatory);

    let security = models.object(0).unwrap();
    assert!(security.multiple && security.mandatory);
    let server = models.object(1).unwrap();
    assert!(server.multiple && server.mandatory);
    let firmware = models.object(5).unwrap();
    assert!(!firmware.multiple && !firmware.mandatory);
    assert_eq!(firmware.urn, "urn:oma:lwm2m:oma:5:1.1");

    let temperature = models.object(3303).unwrap();
    assert_eq!(temperature.urn, "urn:oma:lwm2m:ext:3303:1.1");
    assert_eq!(temperature.lwm2m_version, "1.0");
    assert_eq!(temperature.object_version, "1.1");
    assert!(temperature.multiple && !temperature.mandatory);
    assert_eq!(models.object(3311).unwrap().urn, "urn:oma:lwm2m:ext:3311");
    assert_eq!(models.object(3311).unwrap().object_version, "1.0");
}

/// (object, resource, operations, kind, multiple, mandatory)
const SPOT_CHECKS: &[(u16, u16, Operations, ResourceKind, bool, bool)] = &[
    (0, 0, Operations::NONE, ResourceKind::String, false, true),
    (0, 1, Operations::NONE, ResourceKind::Boolean, false, true),
    (0, 3, Operations::NONE, ResourceKind::Opaque, false, true),
    (
        0,
        13,
        Operations::NONE,
        ResourceKind::UnsignedInteger,
        false,
        false,
    ),
    (0, 16, Operations::NONE, ResourceKind::Integer, true, false),
    (0, 17, Operations::NONE, ResourceKind::ObjLink, false, false),
    (1, 0, Operations::R, ResourceKind::Integer, false, true),
    (1, 1, Operations::RW, ResourceKind::Integer, false, true),
    (1, 4, Operations::E, ResourceKind::None, false, false),
    (1, 6, Operations::RW, ResourceKind::Boolean, false, true),
    (1, 7, Operations::RW, ResourceKind::String, false, true),
    (1, 8, Operations::E, ResourceKind::None, false, true),
    (1, 12, Operations::R, ResourceKind::Time, false, false),
    (
        1,
        13,
        Operations::NONE,
        ResourceKind::UnsignedInteger,
        false,
        false,
    ),
    (3, 0, Operations::R, ResourceKind::String, false, false),
    (3, 4, Operations::E, ResourceKind::None, false, true),
    (3, 6, Operations::R, ResourceKind::Integer, true, false),
    (3, 11, Operations::R, ResourceKind::Integer, true, true),
    (3, 13, Operations::RW, ResourceKind::Time, false, false),
    (3, 16, Operations::R, ResourceKind::String, false, true),
    (3, 22, Operations::R, ResourceKind::ObjLink, true, false),
    (4, 0, Operations::R, ResourceKind::Integer, false, true),
    (4, 4, Operations::R, ResourceKind::String, true, true),
    (5, 0, Operations::W, ResourceKind::Opaque, false, true),
    (5, 1, Operations::RW, ResourceKind::String, false, true),
    (5, 2, Operations::E, ResourceKind::None, false, true),
    (5, 3, Operations::R, ResourceKind::Integer, false, true),
    (5, 5, Operations::R, ResourceKind::Integer, false, true),
    (5, 8, Operations::R, ResourceKind::Integer, true, false),
    (
        5,
        13,
        Operations::RW,
        ResourceKind::UnsignedInteger,
        false,
        false,
    ),
    (3303, 5700, Operations::R, ResourceKind::Float, false, true),
    (
        3303,
        5701,
        Operations::R,
        ResourceKind::String,
        false,
        false,
    ),
    (3303, 5605, Operations::E, ResourceKind::None, false, false),
    (
        3303,
        5750,
        Operations::RW,
        ResourceKind::String,
        false,
        false,
    ),
    (3303, 5518, Operations::R, ResourceKind::Time, false, false),
    (3304, 5700, Operations::R, ResourceKind::Float, false, true),
    (
        3311,
        5850,
        Operations::RW,
        ResourceKind::Boolean,
        false,
        true,
    ),
    (
        3311,
        5851,
        Operations::RW,
        ResourceKind::Integer,
        false,
        false,
    ),
    (3311, 5805, Operations::R, ResourceKind::Float, false, false),
    (
        3347,
        5500,
        Operations::R,
        ResourceKind::Boolean,
        false,
        true,
    ),
    (
        3347,
        5501,
        Operations::R,
        ResourceKind::Integer,
        false,
        false,
    ),
];

#[test]
fn builtin_resources_have_the_registry_types() {
    let models = Models::builtin();
    for &(object, resource, operations, kind, multiple, mandatory) in SPOT_CHECKS {
        let r = models.resource(object, resource).unwrap();
        let at = format!("/{object}/0/{resource} {}", r.name);
        assert_eq!(r.operations, operations, "{at}");
        assert_eq!(r.kind, kind, "{at}");
        assert_eq!(r.multiple, multiple, "{at}");
        assert_eq!(r.mandatory, mandatory, "{at}");
    }
    let reboot = models.resource(3, 4).unwrap();
    assert_eq!(reboot.name, "Reboot");
    assert_eq!(models.resource(3, 13).unwrap().name, "Current Time");
    assert_eq!(models.resource(5, 1).unwrap().name, "Package URI");
    assert_eq!(models.resource(5, 3).unwrap().name, "State");
    assert_eq!(models.resource(5, 3).unwrap().range, "0..3");
    assert_eq!(models.resource(1, 1).unwrap().name, "Lifetime");
    assert_eq!(models.resource(1, 1).unwrap().units, "s");
    assert_eq!(models.resource(3, 9).unwrap().units, "%");
    assert_eq!(models.resource(3, 9).unwrap().range, "0..100");
    assert_eq!(models.resource(4, 2).unwrap().units, "dBm");
    assert_eq!(models.resource(3311, 5805).unwrap().units, "Wh");
    assert_eq!(models.resource(3311, 5850).unwrap().name, "On/Off");
    assert!(models.resource(5, 4).is_none(), "/5/x/4 is not defined");
    assert!(models.resource(3, 23).is_none());
    assert!(models.resource(9, 0).is_none());
}

#[test]
fn models_answer_the_decoders() {
    let models = Models::builtin();
    assert_eq!(models.kind(3, 13), Some(ResourceKind::Time));
    assert_eq!(models.kind(3303, 5700), Some(ResourceKind::Float));
    assert_eq!(models.kind(3, 4), Some(ResourceKind::None));
    assert_eq!(models.multiple(3, 6), Some(true));
    assert_eq!(models.multiple(3, 0), Some(false));
    assert_eq!(models.kind(3, 999), None);
    assert_eq!(models.multiple(42, 0), None);
    let empty = Models::empty();
    assert!(empty.is_empty());
    assert_eq!(empty.kind(3, 0), None);
}

#[test]
fn operations_parse_and_print() {
    for (text, ops) in [
        ("R", Operations::R),
        ("W", Operations::W),
        ("RW", Operations::RW),
        ("WR", Operations::RW),
        ("rw", Operations::RW),
        (" RW\n ", Operations::RW),
        ("E", Operations::E),
        ("", Operations::NONE),
        ("  ", Operations::NONE),
        ("none", Operations::NONE),
    ] {
        assert_eq!(Operations::parse(text), Some(ops), "{text:?}");
    }
    for bad in ["RR", "RE", "WE", "RWE", "X", "R W", "Read"] {
        assert_eq!(Operations::parse(bad), None, "{bad:?}");
    }
    let rw = Operations {
        read: true,
        write: true,
        execute: false,
    };
    assert_eq!(Operations::RW, rw);
    assert!(Operations::NONE.is_none());
    assert!(!Operations::E.is_none());
    for ops in [
        Operations::R,
        Operations::W,
        Operations::RW,
        Operations::E,
        Operations::NONE,
    ] {
        assert_eq!(Operations::parse(&ops.to_string()), Some(ops));
    }
    assert_eq!(Operations::RW.to_string(), "RW");
}

#[test]
fn types_parse_and_print() {
    let kinds = [
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
    for kind in kinds {
        assert_eq!(parse_type(type_name(kind)), Some(kind));
    }
    assert_eq!(
        parse_type("unsigned integer"),
        Some(ResourceKind::UnsignedInteger)
    );
    assert_eq!(
        parse_type("UnsignedInteger"),
        Some(ResourceKind::UnsignedInteger)
    );
    assert_eq!(parse_type(" Objlnk "), Some(ResourceKind::ObjLink));
    assert_eq!(parse_type("none"), Some(ResourceKind::None));
    assert_eq!(parse_type("Double"), None);
    assert_eq!(parse_type("Strng"), None);
}

/// A DDF document with the given objects.
fn ddf(objects: &str) -> String {
    format!("<?xml version=\"1.0\"?>\n<LWM2M>{objects}</LWM2M>")
}

/// An object with the given ID text and resources.
fn object(id: &str, items: &str) -> String {
    format!(
        "<Object ObjectType=\"MODefinition\"><Name>Test</Name><ObjectID>{id}</ObjectID>\
         <MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>\
         <Resources>{items}</Resources></Object>"
    )
}

/// A resource.
fn item(id: &str, ops: &str, ty: &str) -> String {
    format!(
        "<Item ID=\"{id}\"><Name>R{id}</Name><Operations>{ops}</Operations>\
         <MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>\
         <Type>{ty}</Type></Item>"
    )
}

#[test]
fn real_file_variations_are_accepted() {
    // Whitespace and CDATA everywhere, lower-case enumerations, no LWM2MVersion, no
    // ObjectVersion, no ObjectURN, no Description*, Type "none" for an executable, empty
    // Operations, no RangeEnumeration/Units/Description in items, namespace attributes.
    let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<!-- a vendor object -->
<LWM2M xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:noNamespaceSchemaLocation="http://www.openmobilealliance.org/tech/profiles/LWM2M.xsd">
  <Object ObjectType="MODefinition">
    <Name>
      Vendor   Thing
    </Name>
    <Description1><![CDATA[Does things.]]></Description1>
    <ObjectID> 26241 </ObjectID>
    <MultipleInstances> multiple </MultipleInstances>
    <Mandatory>optional</Mandatory>
    <Resources>
      <Item ID=" 0 ">
        <Name>Level</Name>
        <Operations> RW </Operations>
        <MultipleInstances>Single</MultipleInstances>
        <Mandatory>Mandatory</Mandatory>
        <Type>Unsigned Integer</Type>
        <RangeEnumeration> 0..10 </RangeEnumeration>
        <Units>%</Units>
        <Description><![CDATA[Level
in percent]]></Description>
      </Item>
      <Item ID="1"><Name>Go</Name><Operations>E</Operations>
        <MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>
        <Type>none</Type></Item>
      <Item ID="2"><Name>Secret</Name><Operations></Operations>
        <MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
        <Type>Opaque</Type></Item>
      <Item ID="3"><Name>Stop</Name><Operations>E</Operations>
        <MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>
        <Type/></Item>
      <Item ID="4"><Name>Stop</Name><Operations>E</Operations>
        <MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory></Item>
    </Resources>
    <Description2><![CDATA[]]></Description2>
  </Object>
</LWM2M>
"#;
    let mut models = Models::empty();
    assert_eq!(models.load_xml(xml).unwrap(), [26241]);
    let o = models.object(26241).unwrap();
    assert_eq!(o.name, "Vendor Thing");
    assert_eq!(o.description, "Does things.");
    assert_eq!(o.lwm2m_version, "1.0");
    assert_eq!(o.object_version, "1.0");
    assert_eq!(o.urn, "");
    assert!(o.multiple && !o.mandatory);
    let level = o.resource(0).unwrap();
    assert_eq!(level.kind, ResourceKind::UnsignedInteger);
    assert_eq!(level.operations, Operations::RW);
    assert!(level.mandatory && !level.multiple);
    assert_eq!(level.range, "0..10");
    assert_eq!(level.units, "%");
    assert_eq!(level.description, "Level\nin percent");
    for exec in [1, 3, 4] {
        assert_eq!(o.resource(exec).unwrap().operations, Operations::E);
        assert_eq!(o.resource(exec).unwrap().kind, ResourceKind::None);
    }
    let secret = o.resource(2).unwrap();
    assert!(secret.operations.is_none() && secret.multiple);
    assert_eq!(secret.range, "");
}

#[test]
fn several_objects_per_file_and_later_definitions_win() {
    let mut models = Models::builtin();
    let xml = ddf(&format!(
        "{}{}",
        object("3", &item("0", "R", "String")),
        object("40000", &item("7", "RW", "Float")),
    ));
    assert_eq!(models.load_xml(&xml).unwrap(), [3, 40000]);
    // Object 3 is replaced as a whole, not merged.
    let device = models.object(3).unwrap();
    assert_eq!(device.name, "Test");
    assert_eq!(device.resources.len(), 1);
    assert!(models.resource(3, 4).is_none());
    assert_eq!(models.kind(40000, 7), Some(ResourceKind::Float));
    assert_eq!(models.len(), 10);

    // Within one file too, the last definition of an ID is kept, and the ID listed once.
    let xml = ddf(&format!(
        "{}{}",
        object("7", &item("0", "R", "String")),
        object("7", &item("1", "R", "Integer")),
    ));
    assert_eq!(models.load_xml(&xml).unwrap(), [7]);
    assert!(models.resource(7, 0).is_none());
    assert!(models.resource(7, 1).is_some());

    // An object may have no resources.
    assert_eq!(models.load_xml(&ddf(&object("8", ""))).unwrap(), [8]);
    assert!(models.object(8).unwrap().resources.is_empty());
}

/// Loads `xml` into the built-in models, expects an error, and checks that nothing changed.
fn load_err(xml: &str) -> ModelError {
    let mut models = Models::builtin();
    let err = models.load_xml(xml).unwrap_err();
    assert_eq!(
        models,
        Models::builtin(),
        "a failed load must change nothing"
    );
    err
}

#[test]
fn malformed_documents_are_rejected() {
    let err = load_err("<LWM2M><Object>");
    assert!(matches!(err, ModelError::Xml { .. }), "{err:?}");
    assert!(err.to_string().starts_with("not well-formed XML"), "{err}");

    let err = load_err("not xml at all");
    assert!(matches!(err, ModelError::Xml { .. }), "{err:?}");

    let err = load_err("<html><body/></html>");
    assert!(
        matches!(err, ModelError::NotDdf { ref root } if root == "html"),
        "{err:?}"
    );
    assert!(err.to_string().contains("<html>"), "{err}");

    let err = load_err("<LWM2M></LWM2M>");
    assert!(matches!(err, ModelError::NoObjects), "{err:?}");

    // One bad object spoils the whole document, even after a good one.
    let xml = ddf(&format!(
        "{}{}",
        object("3", &item("0", "R", "String")),
        object("4", &item("0", "R", "Strng")),
    ));
    let err = load_err(&xml);
    assert!(matches!(err, ModelError::UnknownType { .. }), "{err:?}");
}

#[test]
fn bad_objects_are_rejected_with_clear_messages() {
    let missing_id = ddf("<Object ObjectType=\"MODefinition\"><Name>Lamp</Name>\
         <MultipleInstances>Single</MultipleInstances><Mandatory>Optional</Mandatory>\
         <Resources/></Object>");
    let err = load_err(&missing_id);
    assert!(
        matches!(
            err,
            ModelError::Missing {
                what: "<ObjectID>",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "object \"Lamp\" (#1 in the document): missing <ObjectID>"
    );

    for bad in ["65535", "70000", "-1", "3a", "0x10"] {
        let err = load_err(&ddf(&object(bad, "")));
        assert!(
            matches!(
                err,
                ModelError::Invalid {
                    what: "<ObjectID>",
                    ..
                }
            ),
            "{bad}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }

    let no_multiple = ddf(
        "<Object><Name>X</Name><ObjectID>9</ObjectID><Mandatory>Optional</Mandatory>\
         <Resources/></Object>",
    );
    let err = load_err(&no_multiple);
    assert_eq!(err.to_string(), "object 9 (X): missing <MultipleInstances>");

    let bad_multiple = ddf(&object("9", "").replace(">Multiple<", ">Many<"));
    let err = load_err(&bad_multiple);
    assert!(
        matches!(
            err,
            ModelError::Invalid {
                what: "<MultipleInstances>",
                ..
            }
        ),
        "{err:?}"
    );

    let no_resources = ddf(
        "<Object><Name>X</Name><ObjectID>9</ObjectID><MultipleInstances>Single</MultipleInstances>\
         <Mandatory>Optional</Mandatory></Object>",
    );
    let err = load_err(&no_resources);
    assert!(
        matches!(
            err,
            ModelError::Missing {
                what: "<Resources>",
                ..
            }
        ),
        "{err:?}"
    );

    let bad_version =
        ddf(&object("9", "").replace("<Resources>", "<LWM2MVersion>v1</LWM2MVersion><Resources>"));
    let err = load_err(&bad_version);
    assert!(
        matches!(
            err,
            ModelError::Invalid {
                what: "<LWM2MVersion>",
                ..
            }
        ),
        "{err:?}"
    );

    let bad_type = ddf(&object("9", "").replace("MODefinition", "MOInstance"));
    let err = load_err(&bad_type);
    assert!(
        matches!(
            err,
            ModelError::Invalid {
                what: "ObjectType attribute",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn bad_resources_are_rejected_with_clear_messages() {
    let err = load_err(&ddf(&object("9", &item("2", "R", "Double"))));
    assert!(
        matches!(err, ModelError::UnknownType { ref value, .. } if value == "Double"),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with("object 9 (Test), resource 2: unknown <Type> \"Double\""),
        "{text}"
    );

    let items = format!("{}{}", item("2", "R", "String"), item("2", "RW", "Integer"));
    let err = load_err(&ddf(&object("9", &items)));
    assert!(
        matches!(err, ModelError::DuplicateResource { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "object 9 (Test), resource 2: duplicate resource ID"
    );

    let err = load_err(&ddf(&object("9", &item("4", "E", "String"))));
    assert!(
        matches!(err, ModelError::ExecutableWithType { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("resource 4"), "{err}");

    let err = load_err(&ddf(&object("9", &item("5", "R", ""))));
    assert!(matches!(err, ModelError::MissingType { .. }), "{err:?}");
    assert!(err.to_string().contains("resource 5"), "{err}");

    let err = load_err(&ddf(&object("9", &item("5", "RX", "String"))));
    assert!(
        matches!(
            err,
            ModelError::Invalid {
                what: "<Operations>",
                ..
            }
        ),
        "{err:?}"
    );

    let err = load_err(&ddf(&object("9", &item("65535", "R", "String"))));
    assert!(
        matches!(
            err,
            ModelError::Invalid {
                what: "ID attribute of <Item>",
                ..
            }
        ),
        "{err:?}"
    );

    let no_id = item("1", "R", "String").replace(" ID=\"1\"", "");
    let err = load_err(&ddf(&object(
        "9",
        &format!("{}{no_id}", item("0", "R", "String")),
    )));
    assert!(matches!(err, ModelError::Missing { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "object 9 (Test), resource #2: missing ID attribute of <Item>"
    );

    let no_ops = item("1", "R", "String").replace("<Operations>R</Operations>", "");
    let err = load_err(&ddf(&object("9", &no_ops)));
    assert!(
        matches!(
            err,
            ModelError::Missing {
                what: "<Operations>",
                ..
            }
        ),
        "{err:?}"
    );

    let no_name = item("1", "R", "String").replace("<Name>R1</Name>", "<Name> </Name>");
    let err = load_err(&ddf(&object("9", &no_name)));
    assert!(
        matches!(err, ModelError::Missing { what: "<Name>", .. }),
        "{err:?}"
    );
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!(
            "strata-lwm2m-models-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path).unwrap();
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn load_dir_loads_every_xml_file() {
    let dir = TempDir::new();
    let two = ddf(&format!(
        "{}{}",
        object("30000", &item("0", "R", "String")),
        object("30001", &item("0", "RW", "Boolean")),
    ));
    std::fs::write(dir.0.join("a.xml"), two).unwrap();
    std::fs::write(
        dir.0.join("b.XML"),
        ddf(&object("3", &item("1", "R", "Time"))),
    )
    .unwrap();
    std::fs::write(dir.0.join("notes.txt"), "not a model").unwrap();
    std::fs::create_dir(dir.0.join("sub.xml")).unwrap();
    std::fs::write(dir.0.join("sub.xml").join("c.xml"), "ignored").unwrap();

    let mut models = Models::builtin();
    assert_eq!(models.load_dir(&dir.0).unwrap(), 3);
    assert_eq!(models.kind(30000, 0), Some(ResourceKind::String));
    assert_eq!(models.kind(30001, 0), Some(ResourceKind::Boolean));
    // b.XML replaced the built-in Device object.
    assert_eq!(models.kind(3, 1), Some(ResourceKind::Time));
    assert!(models.resource(3, 4).is_none());

    // The built-in files load from the crate's models directory as well.
    let builtin_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut from_files = Models::empty();
    assert_eq!(from_files.load_dir(&builtin_dir).unwrap(), BUILTIN.len());
    assert_eq!(from_files, Models::builtin());

    // An empty directory loads nothing.
    let empty = TempDir::new();
    assert_eq!(Models::empty().load_dir(&empty.0).unwrap(), 0);
}

#[test]
fn load_dir_errors_name_the_file_and_load_nothing() {
    let dir = TempDir::new();
    std::fs::write(
        dir.0.join("a-good.xml"),
        ddf(&object("30000", &item("0", "R", "String"))),
    )
    .unwrap();
    std::fs::write(
        dir.0.join("b-bad.xml"),
        ddf(&object("30001", &item("3", "R", "Text"))),
    )
    .unwrap();

    let mut models = Models::empty();
    let err = models.load_dir(&dir.0).unwrap_err();
    let ModelError::InFile { file, source } = &err else {
        panic!("expected InFile, got {err:?}");
    };
    assert_eq!(file, &dir.0.join("b-bad.xml"));
    assert!(
        matches!(**source, ModelError::UnknownType { .. }),
        "{source:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("b-bad.xml: object 30001 (Test), resource 3: unknown <Type> \"Text\""),
        "{text}"
    );
    assert!(models.is_empty(), "nothing is loaded when a file fails");

    std::fs::write(dir.0.join("b-bad.xml"), "<LWM2M><Object></LWM2M>").unwrap();
    let err = models.load_dir(&dir.0).unwrap_err();
    assert!(
        err.to_string().contains("b-bad.xml: not well-formed XML"),
        "{err}"
    );

    let missing = dir.0.join("no-such-dir");
    let err = models.load_dir(&missing).unwrap_err();
    assert!(matches!(err, ModelError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}
