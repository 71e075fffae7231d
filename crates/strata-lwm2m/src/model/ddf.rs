//! Reading OMA LwM2M DDF XML (`LWM2M.xsd`) into [`ObjectModel`]s.
//!
//! Lenient where real files vary (surrounding whitespace, CDATA, absent optional elements,
//! letter case of enumerations, `Type` empty or `none` for executables), strict about what
//! the server relies on (IDs, operations, multiplicity, types).

use std::collections::BTreeMap;

use roxmltree::{Document, Node};
use strata_proto_coap::lwm2m::ResourceKind;

use super::error::{Location, ModelError};
use super::{ObjectModel, Operations, ResourceModel, parse_type};

/// The version assumed when `LWM2MVersion` or `ObjectVersion` is absent.
const DEFAULT_VERSION: &str = "1.0";

/// Parses every `<Object>` of a DDF document, in document order. Nothing is returned unless
/// the whole document is valid.
pub(super) fn parse_document(xml: &str) -> Result<Vec<ObjectModel>, ModelError> {
    let doc = Document::parse(xml).map_err(|e| ModelError::Xml {
        reason: e.to_string(),
    })?;
    let root = doc.root_element();
    if root.tag_name().name() != "LWM2M" {
        return Err(ModelError::NotDdf {
            root: root.tag_name().name().to_string(),
        });
    }
    let objects = root
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "Object")
        .enumerate()
        .map(|(i, node)| parse_object(node, i + 1))
        .collect::<Result<Vec<_>, _>>()?;
    if objects.is_empty() {
        return Err(ModelError::NoObjects);
    }
    Ok(objects)
}

fn parse_object(node: Node<'_, '_>, position: usize) -> Result<ObjectModel, ModelError> {
    let mut at = Location {
        position,
        object: None,
        name: String::new(),
        resource: None,
        item: None,
    };
    at.name = collapse_spaces(&child_text(node, "Name").unwrap_or_default());
    if let Some(kind) = node.attribute("ObjectType")
        && kind.trim() != "MODefinition"
    {
        return Err(ModelError::Invalid {
            at,
            what: "ObjectType attribute",
            value: kind.to_string(),
            expected: "MODefinition",
        });
    }
    let id_text = required(node, "ObjectID", "<ObjectID>", &at)?;
    let id = parse_id(&id_text).ok_or_else(|| ModelError::Invalid {
        at: at.clone(),
        what: "<ObjectID>",
        value: id_text.clone(),
        expected: "an integer from 0 to 65534",
    })?;
    at.object = Some(id);
    if at.name.is_empty() {
        return Err(ModelError::Missing { at, what: "<Name>" });
    }
    let multiple = parse_multiple(
        &required(node, "MultipleInstances", "<MultipleInstances>", &at)?,
        &at,
    )?;
    let mandatory = parse_mandatory(&required(node, "Mandatory", "<Mandatory>", &at)?, &at)?;
    let lwm2m_version = parse_version(node, "LWM2MVersion", "<LWM2MVersion>", &at)?;
    let object_version = parse_version(node, "ObjectVersion", "<ObjectVersion>", &at)?;
    let urn = child_text(node, "ObjectURN").unwrap_or_default();

    let mut description = child_text(node, "Description1").unwrap_or_default();
    let description2 = child_text(node, "Description2").unwrap_or_default();
    if !description2.is_empty() {
        if !description.is_empty() {
            description.push_str("\n\n");
        }
        description.push_str(&description2);
    }

    let Some(list) = child(node, "Resources") else {
        return Err(ModelError::Missing {
            at,
            what: "<Resources>",
        });
    };
    let mut resources = BTreeMap::new();
    let items = list
        .children()
        .filter(|n| n.is_element() && n.tag_name().name() == "Item");
    for (i, item) in items.enumerate() {
        let item_at = Location {
            item: Some(i + 1),
            ..at.clone()
        };
        let resource = parse_resource(item, &item_at)?;
        let id = resource.id;
        if resources.insert(id, resource).is_some() {
            return Err(ModelError::DuplicateResource {
                at: Location {
                    resource: Some(id),
                    ..item_at
                },
            });
        }
    }

    Ok(ObjectModel {
        id,
        name: at.name,
        description,
        urn,
        lwm2m_version,
        object_version,
        multiple,
        mandatory,
        resources,
    })
}

fn parse_resource(node: Node<'_, '_>, at: &Location) -> Result<ResourceModel, ModelError> {
    let mut at = at.clone();
    let id_text = node.attribute("ID").map(str::trim).unwrap_or_default();
    if id_text.is_empty() {
        return Err(ModelError::Missing {
            at,
            what: "ID attribute of <Item>",
        });
    }
    let id = parse_id(id_text).ok_or_else(|| ModelError::Invalid {
        at: at.clone(),
        what: "ID attribute of <Item>",
        value: id_text.to_string(),
        expected: "an integer from 0 to 65534",
    })?;
    at.resource = Some(id);

    let name = collapse_spaces(&child_text(node, "Name").unwrap_or_default());
    if name.is_empty() {
        return Err(ModelError::Missing { at, what: "<Name>" });
    }
    // <Operations> must be present, but may be empty (no operation: Security object).
    let operations_text =
        child(node, "Operations")
            .map(text)
            .ok_or_else(|| ModelError::Missing {
                at: at.clone(),
                what: "<Operations>",
            })?;
    let operations = Operations::parse(&operations_text).ok_or_else(|| ModelError::Invalid {
        at: at.clone(),
        what: "<Operations>",
        value: operations_text.clone(),
        expected: "R, W, RW, E or empty",
    })?;
    let multiple = parse_multiple(
        &required(node, "MultipleInstances", "<MultipleInstances>", &at)?,
        &at,
    )?;
    let mandatory = parse_mandatory(&required(node, "Mandatory", "<Mandatory>", &at)?, &at)?;
    let type_text = child_text(node, "Type").unwrap_or_default();
    let kind = parse_type(&type_text).ok_or_else(|| ModelError::UnknownType {
        at: at.clone(),
        value: type_text.clone(),
    })?;
    if operations.execute && kind != ResourceKind::None {
        return Err(ModelError::ExecutableWithType {
            at,
            value: type_text,
        });
    }
    if !operations.execute && kind == ResourceKind::None {
        return Err(ModelError::MissingType {
            at,
            operations: operations_text,
        });
    }

    Ok(ResourceModel {
        id,
        name,
        operations,
        multiple,
        mandatory,
        kind,
        range: child_text(node, "RangeEnumeration").unwrap_or_default(),
        units: child_text(node, "Units").unwrap_or_default(),
        description: child_text(node, "Description").unwrap_or_default(),
    })
}

/// The first child element called `name`.
fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Option<Node<'a, 'input>> {
    node.children()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

/// All text inside an element (text and CDATA), trimmed.
fn text(node: Node<'_, '_>) -> String {
    let mut out = String::new();
    for n in node.descendants().filter(|n| n.is_text()) {
        out.push_str(n.text().unwrap_or_default());
    }
    out.trim().to_string()
}

/// The trimmed text of child element `name`, if the element is present.
fn child_text(node: Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name).map(text)
}

/// The text of a required child element, which must not be empty.
fn required(
    node: Node<'_, '_>,
    name: &str,
    what: &'static str,
    at: &Location,
) -> Result<String, ModelError> {
    match child_text(node, name) {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(ModelError::Missing {
            at: at.clone(),
            what,
        }),
    }
}

/// An object or resource ID: 0 to 65534 (65535 is reserved).
fn parse_id(text: &str) -> Option<u16> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u16>().ok().filter(|&id| id != u16::MAX)
}

fn parse_multiple(text: &str, at: &Location) -> Result<bool, ModelError> {
    match text.to_ascii_lowercase().as_str() {
        "single" => Ok(false),
        "multiple" => Ok(true),
        _ => Err(ModelError::Invalid {
            at: at.clone(),
            what: "<MultipleInstances>",
            value: text.to_string(),
            expected: "Single or Multiple",
        }),
    }
}

fn parse_mandatory(text: &str, at: &Location) -> Result<bool, ModelError> {
    match text.to_ascii_lowercase().as_str() {
        "mandatory" => Ok(true),
        "optional" => Ok(false),
        _ => Err(ModelError::Invalid {
            at: at.clone(),
            what: "<Mandatory>",
            value: text.to_string(),
            expected: "Mandatory or Optional",
        }),
    }
}

/// `LWM2MVersion` / `ObjectVersion`: `major.minor`, `1.0` when absent or empty.
fn parse_version(
    node: Node<'_, '_>,
    name: &str,
    what: &'static str,
    at: &Location,
) -> Result<String, ModelError> {
    let text = child_text(node, name).unwrap_or_default();
    if text.is_empty() {
        return Ok(DEFAULT_VERSION.to_string());
    }
    let valid = text.split_once('.').is_some_and(|(major, minor)| {
        [major, minor]
            .iter()
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    });
    if valid {
        Ok(text)
    } else {
        Err(ModelError::Invalid {
            at: at.clone(),
            what,
            value: text,
            expected: "a version such as 1.0 or 1.1",
        })
    }
}

/// Names with line breaks or doubled spaces (seen in real files) become single-spaced.
fn collapse_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
