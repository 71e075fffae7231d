//! Why an object definition could not be loaded, and where in the document.

use std::fmt;
use std::path::PathBuf;

/// Where in a DDF document a problem is: which object (by ID when it was read, else by name
/// and position) and which resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Position of the `<Object>` in the document, from 1.
    pub position: usize,
    /// Object ID, once it was read.
    pub object: Option<u16>,
    /// Object name (empty when not read).
    pub name: String,
    /// Resource ID, when the problem is in a resource and its ID was read.
    pub resource: Option<u16>,
    /// Position of the `<Item>` among the object's resources, from 1, when the problem is in
    /// a resource.
    pub item: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.object, self.name.is_empty()) {
            (Some(id), true) => write!(f, "object {id}")?,
            (Some(id), false) => write!(f, "object {id} ({})", self.name)?,
            (None, false) => write!(
                f,
                "object {:?} (#{} in the document)",
                self.name, self.position
            )?,
            (None, true) => write!(f, "object #{} in the document", self.position)?,
        }
        match (self.resource, self.item) {
            (Some(id), _) => write!(f, ", resource {id}"),
            (None, Some(item)) => write!(f, ", resource #{item}"),
            (None, None) => Ok(()),
        }
    }
}

/// An object definition could not be loaded. Messages name the file (for [`load_dir`]), the
/// object and the resource, and say what is wrong.
///
/// [`load_dir`]: super::Models::load_dir
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A problem in one file of a directory.
    #[error("{}: {source}", file.display())]
    InFile {
        /// The file.
        file: PathBuf,
        /// What is wrong in it.
        source: Box<ModelError>,
    },
    /// The text is not well-formed XML.
    #[error("not well-formed XML: {reason}")]
    Xml {
        /// The XML parser's message (with line and column).
        reason: String,
    },
    /// The XML is not an OMA LwM2M DDF document.
    #[error("not an OMA LwM2M object definition: the root element is <{root}>, expected <LWM2M>")]
    NotDdf {
        /// The root element's name.
        root: String,
    },
    /// The document holds no `<Object>`.
    #[error("no <Object> definition in the document")]
    NoObjects,
    /// A required element or attribute is missing or empty.
    #[error("{at}: missing {what}")]
    Missing {
        /// Where.
        at: Location,
        /// The element or attribute, e.g. `<ObjectID>`.
        what: &'static str,
    },
    /// An element or attribute has a value that is not allowed.
    #[error("{at}: invalid {what} {value:?}: expected {expected}")]
    Invalid {
        /// Where.
        at: Location,
        /// The element or attribute, e.g. `<ObjectID>`.
        what: &'static str,
        /// The value found.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// `<Type>` names no LwM2M data type.
    #[error(
        "{at}: unknown <Type> {value:?}: expected String, Integer, Unsigned Integer, Float, \
         Boolean, Opaque, Time, Objlnk, Corelnk, or empty for an executable resource"
    )]
    UnknownType {
        /// Where.
        at: Location,
        /// The type found.
        value: String,
    },
    /// Two resources of one object have the same ID.
    #[error("{at}: duplicate resource ID")]
    DuplicateResource {
        /// The object and the repeated resource ID.
        at: Location,
    },
    /// An executable resource declares a data type.
    #[error("{at}: executable resource has <Type> {value:?}; executable resources have no type")]
    ExecutableWithType {
        /// Where.
        at: Location,
        /// The type found.
        value: String,
    },
    /// A readable or writable resource declares no data type.
    #[error("{at}: resource with operations {operations:?} has no <Type>")]
    MissingType {
        /// Where.
        at: Location,
        /// The resource's operations as written.
        operations: String,
    },
}
