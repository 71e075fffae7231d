//! Notification attributes (LwM2M Core TS 1.1 §5.1.2): pmin, pmax, gt, lt, st (and epmin,
//! epmax, kept and shown but not needed by an event-driven client), written with
//! Write-Attributes, inherited object -> instance -> resource, shown by Discover.

use super::alloc::collections::BTreeMap;
use super::alloc::format;
use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::lwm2m::Path;

/// The attributes set at one level.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NotificationAttributes {
    /// Minimum period between notifications, s.
    pub pmin: Option<u32>,
    /// Maximum period between notifications, s.
    pub pmax: Option<u32>,
    /// Notify when the value crosses this upward or downward ("greater than").
    pub gt: Option<f64>,
    /// Notify when the value crosses this ("less than").
    pub lt: Option<f64>,
    /// Notify when the value moved this much since the last notification ("step").
    pub st: Option<f64>,
    /// Minimum evaluation period, s.
    pub epmin: Option<u32>,
    /// Maximum evaluation period, s.
    pub epmax: Option<u32>,
}

impl NotificationAttributes {
    /// No attribute set.
    pub fn is_empty(&self) -> bool {
        *self == NotificationAttributes::default()
    }

    /// These attributes with `parent`'s filling the gaps.
    pub fn inherit(&self, parent: &NotificationAttributes) -> NotificationAttributes {
        NotificationAttributes {
            pmin: self.pmin.or(parent.pmin),
            pmax: self.pmax.or(parent.pmax),
            gt: self.gt.or(parent.gt),
            lt: self.lt.or(parent.lt),
            st: self.st.or(parent.st),
            epmin: self.epmin.or(parent.epmin),
            epmax: self.epmax.or(parent.epmax),
        }
    }

    /// Applies Write-Attributes query items (`pmin=10`; a bare name removes the attribute).
    /// `numeric_resource` says whether gt, lt and st may be set here. Nothing changes on
    /// error.
    pub fn apply<'a>(
        &mut self,
        items: impl IntoIterator<Item = &'a str>,
        numeric_resource: bool,
    ) -> Result<(), String> {
        let mut next = *self;
        for item in items {
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (item, None),
            };
            match name {
                "pmin" => next.pmin = seconds(name, value)?,
                "pmax" => next.pmax = seconds(name, value)?,
                "epmin" => next.epmin = seconds(name, value)?,
                "epmax" => next.epmax = seconds(name, value)?,
                "gt" | "lt" | "st" => {
                    if !numeric_resource && value.is_some() {
                        return Err(format!("{name} applies to numeric resources only"));
                    }
                    let v = number(name, value)?;
                    match name {
                        "gt" => next.gt = v,
                        "lt" => next.lt = v,
                        _ => next.st = v,
                    }
                }
                other => return Err(format!("unknown attribute {other:?}")),
            }
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// The consistency rules of Core §5.1.2: lt < gt, lt + 2 st < gt, st >= 0, and
    /// pmax >= pmin when both are set here.
    fn validate(&self) -> Result<(), String> {
        if let Some(st) = self.st
            && st < 0.0
        {
            return Err("st must not be negative".into());
        }
        if let (Some(lt), Some(gt)) = (self.lt, self.gt) {
            if lt >= gt {
                return Err("lt must be below gt".into());
            }
            if let Some(st) = self.st
                && lt + 2.0 * st >= gt
            {
                return Err("lt + 2 * st must be below gt".into());
            }
        }
        if let (Some(pmin), Some(pmax)) = (self.pmin, self.pmax)
            && pmax < pmin
        {
            return Err("pmax must not be below pmin".into());
        }
        if let (Some(a), Some(b)) = (self.epmin, self.epmax)
            && b < a
        {
            return Err("epmax must not be below epmin".into());
        }
        Ok(())
    }

    /// `(name, value)` pairs for a link-format listing, in a fixed order.
    pub fn link_attributes(&self) -> Vec<(&'static str, String)> {
        let int = |v: Option<u32>| v.map(|v| format!("{v}"));
        let float = |v: Option<f64>| v.map(|v| format!("{v}"));
        [
            ("pmin", int(self.pmin)),
            ("pmax", int(self.pmax)),
            ("gt", float(self.gt)),
            ("lt", float(self.lt)),
            ("st", float(self.st)),
            ("epmin", int(self.epmin)),
            ("epmax", int(self.epmax)),
        ]
        .into_iter()
        .filter_map(|(name, v)| Some((name, v?)))
        .collect()
    }
}

fn seconds(name: &str, value: Option<&str>) -> Result<Option<u32>, String> {
    value
        .map(|v| {
            v.parse::<u32>()
                .map_err(|_| format!("{name} must be a whole number of seconds"))
        })
        .transpose()
}

fn number(name: &str, value: Option<&str>) -> Result<Option<f64>, String> {
    value
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| format!("{name} must be a number"))
        })
        .transpose()
}

/// Attributes by path (object, instance, resource or resource instance).
#[derive(Debug, Default)]
pub(crate) struct AttributeStore {
    by_path: BTreeMap<Path, NotificationAttributes>,
}

impl AttributeStore {
    /// The attributes set exactly at `path`.
    pub(crate) fn at(&self, path: &Path) -> NotificationAttributes {
        self.by_path.get(path).copied().unwrap_or_default()
    }

    /// Replaces the attributes at `path`.
    pub(crate) fn set(&mut self, path: Path, attributes: NotificationAttributes) {
        if attributes.is_empty() {
            self.by_path.remove(&path);
        } else {
            self.by_path.insert(path, attributes);
        }
    }

    /// The attributes in force at `path`: its own, then its instance's, its object's, and
    /// finally `defaults` (the Server object's default pmin and pmax).
    pub(crate) fn effective(
        &self,
        path: &Path,
        defaults: &NotificationAttributes,
    ) -> NotificationAttributes {
        let mut levels = [None; 4];
        levels[0] = Some(Path::object(path.object));
        if let Some(i) = path.instance {
            levels[1] = Some(Path::instance(path.object, i));
            if let Some(r) = path.resource {
                levels[2] = Some(Path::resource(path.object, i, r));
                if let Some(ri) = path.resource_instance {
                    levels[3] = Some(Path::resource_instance(path.object, i, r, ri));
                }
            }
        }
        let mut out = *defaults;
        for level in levels.into_iter().flatten() {
            out = self.at(&level).inherit(&out);
        }
        out
    }

    /// Forgets the attributes of everything under `path` (a deleted instance).
    pub(crate) fn remove_under(&mut self, path: &Path) {
        self.by_path.retain(|p, _| !path.contains(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_validates_and_removes() {
        let mut a = NotificationAttributes::default();
        a.apply(["pmin=10", "pmax=60", "gt=30.5"], true).unwrap();
        assert_eq!((a.pmin, a.pmax, a.gt), (Some(10), Some(60), Some(30.5)));
        a.apply(["gt"], true).unwrap();
        assert_eq!(a.gt, None);
        assert!(a.apply(["pmin=-1"], true).is_err());
        assert!(a.apply(["pmax=5"], true).is_err(), "pmax below pmin");
        assert!(a.apply(["gt=1"], false).is_err(), "gt on an instance");
        assert!(a.apply(["lt=10", "gt=5"], true).is_err());
        assert!(a.apply(["lt=1", "gt=5", "st=2"], true).is_err());
        assert!(a.apply(["bogus=1"], true).is_err());
        assert_eq!(
            (a.pmin, a.pmax),
            (Some(10), Some(60)),
            "unchanged after errors"
        );
    }

    #[test]
    fn inheritance_runs_object_instance_resource() {
        let mut store = AttributeStore::default();
        let mut object = NotificationAttributes::default();
        object.apply(["pmin=5", "pmax=100"], false).unwrap();
        store.set(Path::object(3303), object);
        let mut resource = NotificationAttributes::default();
        resource.apply(["pmax=20", "st=0.5"], true).unwrap();
        store.set(Path::resource(3303, 0, 5700), resource);
        let defaults = NotificationAttributes {
            pmin: Some(1),
            ..Default::default()
        };
        let e = store.effective(&Path::resource(3303, 0, 5700), &defaults);
        assert_eq!((e.pmin, e.pmax, e.st), (Some(5), Some(20), Some(0.5)));
        let e = store.effective(&Path::instance(3303, 1), &defaults);
        assert_eq!((e.pmin, e.pmax, e.st), (Some(5), Some(100), None));
        store.remove_under(&Path::instance(3303, 0));
        assert!(store.at(&Path::resource(3303, 0, 5700)).is_empty());
    }
}
