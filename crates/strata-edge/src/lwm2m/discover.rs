//! Discover (LwM2M Core TS 1.1 §5.4.2): the object, its instances and their resources in
//! link format, with `dim` for multiple resources and the attributes attached at each level
//! (for a resource, those in force, inherited ones included).

use super::alloc::format;
use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::lwm2m::Path;
use strata_proto_coap::option::format;
use strata_proto_coap::{Code, link_format};

use super::attributes::NotificationAttributes;
use super::client::Client;
use super::reply::Reply;
use super::store::Stored;

impl<P: Ord + Copy> Client<P> {
    pub(crate) fn discover(&self, path: &Path) -> Reply {
        if path.resource_instance.is_some() {
            return Reply::error(Code::BAD_REQUEST, "Discover on a resource instance");
        }
        if !self.exists(path) {
            return Reply::error(Code::NOT_FOUND, "no such instance or resource");
        }
        let mut out = String::new();
        match (path.instance, path.resource) {
            (None, _) => {
                link(&mut out, path, &self.attributes.at(path), None);
                for i in self.store.instance_ids(path.object) {
                    self.instance_links(&mut out, path.object, i);
                }
            }
            (Some(i), None) => self.instance_links(&mut out, path.object, i),
            (Some(_), Some(_)) => {
                let inherited = self
                    .attributes
                    .effective(path, &NotificationAttributes::default());
                link(&mut out, path, &inherited, self.dim(path));
            }
        }
        Reply::content(format::LINK_FORMAT, out.into_bytes())
    }

    fn instance_links(&self, out: &mut String, object: u16, instance: u16) {
        let at = Path::instance(object, instance);
        link(out, &at, &self.attributes.at(&at), None);
        for def in self.store.present(object, instance) {
            let r = Path::resource(object, instance, def.id);
            link(out, &r, &self.attributes.at(&r), self.dim(&r));
        }
    }

    /// The number of instances of a multiple resource.
    fn dim(&self, path: &Path) -> Option<usize> {
        match self
            .store
            .get(path.object, path.instance?, path.resource?)?
        {
            Stored::Multiple(m) => Some(m.len()),
            Stored::Single(_) => None,
        }
    }
}

fn link(out: &mut String, path: &Path, attributes: &NotificationAttributes, dim: Option<usize>) {
    let mut attrs: Vec<(&str, String)> = Vec::new();
    if let Some(d) = dim {
        attrs.push(("dim", format!("{d}")));
    }
    attrs.extend(attributes.link_attributes());
    let attrs: Vec<(&str, Option<&str>)> =
        attrs.iter().map(|(n, v)| (*n, Some(v.as_str()))).collect();
    link_format::write_link(out, &format!("{path}"), &attrs);
}
