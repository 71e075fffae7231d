//! Observations the servers hold on this client (LwM2M Core TS 1.1 §6.4, RFC 7641) and when
//! each is due a notification: on a change that meets its gt/lt/st conditions, no sooner
//! than pmin after the last one, and at least every pmax.

use super::alloc::vec::Vec;
use strata_proto_coap::Token;
use strata_proto_coap::lwm2m::Path;

use super::attributes::NotificationAttributes;

/// One observation.
#[derive(Debug, Clone)]
pub(crate) struct Observation<P> {
    pub(crate) peer: P,
    pub(crate) token: Token,
    pub(crate) path: Path,
    /// Content-Format of the notifications (the observe request's).
    pub(crate) format: u16,
    /// When the last notification (or the first response) went out, ms.
    last_sent: u64,
    /// The last numeric value seen, to tell when gt or lt is crossed.
    last_value: Option<f64>,
    /// The numeric value last notified, for st.
    notified_value: Option<f64>,
    /// A change worth notifying happened since the last notification.
    changed: bool,
}

/// Every observation, in the order they were made.
#[derive(Debug)]
pub(crate) struct Observations<P> {
    list: Vec<Observation<P>>,
}

impl<P: Copy + Eq> Observations<P> {
    pub(crate) fn new() -> Self {
        Observations { list: Vec::new() }
    }

    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// Starts (or, for the same peer and token, restarts) an observation answered at `now`
    /// with the numeric value `number` (for a numeric resource).
    pub(crate) fn add(
        &mut self,
        now: u64,
        peer: P,
        token: Token,
        path: Path,
        format: u16,
        number: Option<f64>,
    ) {
        self.list.retain(|o| !(o.peer == peer && o.token == token));
        self.list.push(Observation {
            peer,
            token,
            path,
            format,
            last_sent: now,
            last_value: number,
            notified_value: number,
            changed: false,
        });
    }

    /// Ends the observation with this peer and token; returns its path.
    pub(crate) fn remove(&mut self, peer: P, token: Token) -> Option<Path> {
        let at = self
            .list
            .iter()
            .position(|o| o.peer == peer && o.token == token)?;
        Some(self.list.remove(at).path)
    }

    /// Ends every observation of `peer` on exactly `path`; returns how many.
    pub(crate) fn remove_path(&mut self, peer: P, path: &Path) -> usize {
        let before = self.list.len();
        self.list.retain(|o| !(o.peer == peer && o.path == *path));
        before - self.list.len()
    }

    /// Ends everything (a new registration starts afresh).
    pub(crate) fn clear(&mut self) {
        self.list.clear();
    }

    /// Notes that `changed` (any path) changed. `number` reads a numeric resource value;
    /// `attributes` gives the attributes in force at a path.
    pub(crate) fn note_change(
        &mut self,
        changed: &Path,
        number: &dyn Fn(&Path) -> Option<f64>,
        attributes: &dyn Fn(&Path) -> NotificationAttributes,
    ) {
        for o in &mut self.list {
            if !(o.path.contains(changed) || changed.contains(&o.path)) {
                continue;
            }
            let value = if o.path.resource.is_some() {
                number(&o.path)
            } else {
                None
            };
            let a = attributes(&o.path);
            let conditional = a.gt.is_some() || a.lt.is_some() || a.st.is_some();
            match value {
                Some(new) if conditional => {
                    if meets_conditions(&a, o.last_value, o.notified_value, new) {
                        o.changed = true;
                    }
                    o.last_value = Some(new);
                }
                _ => {
                    o.changed = true;
                    o.last_value = value;
                }
            }
        }
    }

    /// When observation `o` is next due, ms.
    fn deadline(o: &Observation<P>, a: &NotificationAttributes) -> Option<u64> {
        let pmin = u64::from(a.pmin.unwrap_or(0)) * 1000;
        let mut due = o.changed.then(|| o.last_sent.saturating_add(pmin));
        if let Some(pmax) = a.pmax.map(|p| u64::from(p) * 1000)
            && pmax > 0
            && pmax >= pmin
        {
            let at = o.last_sent.saturating_add(pmax);
            due = Some(due.map_or(at, |d| d.min(at)));
        }
        due
    }

    /// The earliest deadline of any observation.
    pub(crate) fn next_deadline(
        &self,
        attributes: &dyn Fn(&Path) -> NotificationAttributes,
    ) -> Option<u64> {
        self.list
            .iter()
            .filter_map(|o| Self::deadline(o, &attributes(&o.path)))
            .min()
    }

    /// Observations due at `now` (peer, token, path, format), marked as notified with the
    /// current numeric values.
    pub(crate) fn take_due(
        &mut self,
        now: u64,
        number: &dyn Fn(&Path) -> Option<f64>,
        attributes: &dyn Fn(&Path) -> NotificationAttributes,
    ) -> Vec<(P, Token, Path, u16)> {
        let mut out = Vec::new();
        for o in &mut self.list {
            let due = Self::deadline(o, &attributes(&o.path)).is_some_and(|d| d <= now);
            if !due {
                continue;
            }
            let value = if o.path.resource.is_some() {
                number(&o.path)
            } else {
                None
            };
            o.last_sent = now;
            o.changed = false;
            o.notified_value = value;
            o.last_value = value;
            out.push((o.peer, o.token, o.path, o.format));
        }
        out
    }

    /// Whether any observation waits for a change to go out (queue mode wakes up for it).
    pub(crate) fn any_due(
        &self,
        now: u64,
        attributes: &dyn Fn(&Path) -> NotificationAttributes,
    ) -> bool {
        self.list
            .iter()
            .any(|o| Self::deadline(o, &attributes(&o.path)).is_some_and(|d| d <= now))
    }
}

/// The change-value conditions: crossing gt or lt (either way) since the last value seen,
/// or moving st or more since the last notified value. Any one is enough.
fn meets_conditions(
    a: &NotificationAttributes,
    last: Option<f64>,
    notified: Option<f64>,
    new: f64,
) -> bool {
    let crossed = |threshold: f64, above: fn(f64, f64) -> bool| {
        last.is_some_and(|old| above(old, threshold) != above(new, threshold))
    };
    let gt = a.gt.is_some_and(|t| crossed(t, |v, t| v > t));
    let lt = a.lt.is_some_and(|t| crossed(t, |v, t| v < t));
    let st =
        a.st.is_some_and(|s| notified.is_none_or(|old| (new - old).abs() >= s));
    gt || lt || st
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(s: &[&str]) -> NotificationAttributes {
        let mut a = NotificationAttributes::default();
        a.apply(s.iter().copied(), true).unwrap();
        a
    }

    #[test]
    fn conditions_cross_and_step() {
        let a = attrs(&["gt=25", "lt=10"]);
        assert!(meets_conditions(&a, Some(24.0), Some(24.0), 26.0));
        assert!(meets_conditions(&a, Some(26.0), Some(26.0), 24.0));
        assert!(!meets_conditions(&a, Some(20.0), Some(20.0), 22.0));
        assert!(meets_conditions(&a, Some(11.0), Some(20.0), 9.0));
        let s = attrs(&["st=2"]);
        assert!(!meets_conditions(&s, Some(20.0), Some(20.0), 21.5));
        assert!(meets_conditions(&s, Some(21.5), Some(20.0), 22.0));
    }

    #[test]
    fn pmin_holds_back_and_pmax_forces() {
        let mut obs = Observations::new();
        let path = Path::resource(3303, 0, 5700);
        let token = Token::new(b"t").unwrap();
        obs.add(0, 1u8, token, path, 11542, Some(20.0));
        let a = attrs(&["pmin=5", "pmax=30"]);
        let at = |_: &Path| a;
        let num = |_: &Path| Some(21.0);
        assert_eq!(obs.next_deadline(&at), Some(30_000));
        obs.note_change(&path, &num, &at);
        assert_eq!(obs.next_deadline(&at), Some(5_000));
        assert!(obs.take_due(4_999, &num, &at).is_empty());
        assert_eq!(obs.take_due(5_000, &num, &at).len(), 1);
        assert_eq!(obs.next_deadline(&at), Some(35_000));
        // A change elsewhere does not concern it.
        obs.note_change(&Path::resource(3, 0, 13), &num, &at);
        assert_eq!(obs.next_deadline(&at), Some(35_000));
        assert_eq!(obs.remove(1, token), Some(path));
        assert_eq!(obs.len(), 0);
    }
}
