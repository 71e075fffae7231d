//! The subscription tree: topic filters by level, with `+`, `#` and shared groups.
//!
//! Matching walks the topic's levels once, following exact children, `+` and `#` branches, so
//! its cost grows with the topic's depth and the number of matching filters, not with the
//! number of subscriptions. Filters starting with a wildcard never match topics starting with
//! `$` (MQTT 3.1.1 4.7.2, 5.0 4.7.2).

use std::collections::HashMap;

/// Identifies a session inside the router.
pub(crate) type SessionKey = usize;

/// What a subscriber asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubscriberOptions {
    /// Maximum QoS granted.
    pub(crate) qos: u8,
    /// 5.0 No Local: do not send the client its own messages.
    pub(crate) no_local: bool,
    /// 5.0 Retain As Published: keep the RETAIN flag when forwarding.
    pub(crate) retain_as_published: bool,
    /// 5.0 Subscription Identifier.
    pub(crate) subscription_id: Option<u32>,
}

#[derive(Debug, Default)]
struct Node {
    children: HashMap<Box<str>, Node>,
    plus: Option<Box<Node>>,
    /// Subscribers of the filter ending here with `/#` (or `#` alone).
    hash: HashMap<SessionKey, SubscriberOptions>,
    hash_shared: HashMap<Box<str>, SharedGroup>,
    /// Subscribers of the filter ending exactly here.
    exact: HashMap<SessionKey, SubscriberOptions>,
    exact_shared: HashMap<Box<str>, SharedGroup>,
}

/// Members of one `$share/{group}/filter`; each message goes to one member, in turn.
#[derive(Debug, Default)]
struct SharedGroup {
    members: Vec<(SessionKey, SubscriberOptions)>,
    next: usize,
}

impl SharedGroup {
    fn upsert(&mut self, key: SessionKey, options: SubscriberOptions) -> bool {
        match self.members.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => {
                slot.1 = options;
                false
            }
            None => {
                self.members.push((key, options));
                true
            }
        }
    }

    fn remove(&mut self, key: SessionKey) -> bool {
        let before = self.members.len();
        self.members.retain(|(k, _)| *k != key);
        before != self.members.len()
    }

    /// The next member, skipping those `skip` rejects (e.g. offline with a clean session).
    fn pick(
        &mut self,
        skip: &impl Fn(SessionKey) -> bool,
    ) -> Option<(SessionKey, SubscriberOptions)> {
        let n = self.members.len();
        for i in 0..n {
            let idx = (self.next + i) % n;
            let (key, options) = self.members[idx];
            if !skip(key) {
                self.next = (idx + 1) % n;
                return Some((key, options));
            }
        }
        None
    }
}

impl Node {
    fn is_empty(&self) -> bool {
        self.children.is_empty()
            && self.plus.is_none()
            && self.hash.is_empty()
            && self.hash_shared.is_empty()
            && self.exact.is_empty()
            && self.exact_shared.is_empty()
    }
}

/// One delivery decided by a match: the session and the options of its matching subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Match {
    pub(crate) session: SessionKey,
    pub(crate) options: SubscriberOptions,
}

/// All subscriptions of the broker.
#[derive(Debug, Default)]
pub(crate) struct TopicTree {
    root: Node,
    len: usize,
}

impl TopicTree {
    /// Number of subscriptions (shared ones counted per member).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Adds or replaces a subscription. `filter` must be valid; `group` is the share name of a
    /// `$share/{group}/{filter}` subscription.
    pub(crate) fn subscribe(
        &mut self,
        filter: &str,
        group: Option<&str>,
        key: SessionKey,
        options: SubscriberOptions,
    ) {
        let mut node = &mut self.root;
        let mut levels = filter.split('/').peekable();
        while let Some(level) = levels.next() {
            if level == "#" && levels.peek().is_none() {
                let added = match group {
                    None => node.hash.insert(key, options).is_none(),
                    Some(g) => node
                        .hash_shared
                        .entry(g.into())
                        .or_default()
                        .upsert(key, options),
                };
                self.len += added as usize;
                return;
            }
            node = if level == "+" {
                node.plus.get_or_insert_with(Default::default)
            } else {
                node.children.entry(level.into()).or_default()
            };
        }
        let added = match group {
            None => node.exact.insert(key, options).is_none(),
            Some(g) => node
                .exact_shared
                .entry(g.into())
                .or_default()
                .upsert(key, options),
        };
        self.len += added as usize;
    }

    /// Removes a subscription; returns whether it existed.
    pub(crate) fn unsubscribe(
        &mut self,
        filter: &str,
        group: Option<&str>,
        key: SessionKey,
    ) -> bool {
        let levels: Vec<&str> = filter.split('/').collect();
        let removed = remove(&mut self.root, &levels, group, key);
        self.len -= removed as usize;
        removed
    }

    /// Every subscription matching `topic`; `skip_shared` tells which sessions a shared group
    /// should pass over. Overlapping subscriptions of one session are merged (highest QoS,
    /// first subscription identifier), as MQTT 5.0 allows.
    pub(crate) fn matches(
        &mut self,
        topic: &str,
        skip_shared: &impl Fn(SessionKey) -> bool,
        out: &mut Vec<Match>,
    ) {
        out.clear();
        let levels: Vec<&str> = topic.split('/').collect();
        let dollar = topic.starts_with('$');
        collect(&mut self.root, &levels, 0, dollar, skip_shared, out);
        if out.len() > 1 {
            out.sort_unstable_by_key(|m| m.session);
            out.dedup_by(|later, kept| {
                if later.session == kept.session {
                    kept.options.qos = kept.options.qos.max(later.options.qos);
                    kept.options.no_local &= later.options.no_local;
                    kept.options.retain_as_published |= later.options.retain_as_published;
                    if kept.options.subscription_id.is_none() {
                        kept.options.subscription_id = later.options.subscription_id;
                    }
                    true
                } else {
                    false
                }
            });
        }
    }
}

fn remove(node: &mut Node, levels: &[&str], group: Option<&str>, key: SessionKey) -> bool {
    let Some((first, rest)) = levels.split_first() else {
        return match group {
            None => node.exact.remove(&key).is_some(),
            Some(g) => remove_shared(&mut node.exact_shared, g, key),
        };
    };
    if *first == "#" && rest.is_empty() {
        return match group {
            None => node.hash.remove(&key).is_some(),
            Some(g) => remove_shared(&mut node.hash_shared, g, key),
        };
    }
    if *first == "+" {
        let Some(child) = node.plus.as_mut() else {
            return false;
        };
        let removed = remove(child, rest, group, key);
        if child.is_empty() {
            node.plus = None;
        }
        removed
    } else {
        let Some(child) = node.children.get_mut(*first) else {
            return false;
        };
        let removed = remove(child, rest, group, key);
        if child.is_empty() {
            node.children.remove(*first);
        }
        removed
    }
}

fn remove_shared(
    groups: &mut HashMap<Box<str>, SharedGroup>,
    group: &str,
    key: SessionKey,
) -> bool {
    let Some(g) = groups.get_mut(group) else {
        return false;
    };
    let removed = g.remove(key);
    if g.members.is_empty() {
        groups.remove(group);
    }
    removed
}

fn push_all(
    plain: &HashMap<SessionKey, SubscriberOptions>,
    shared: &mut HashMap<Box<str>, SharedGroup>,
    skip_shared: &impl Fn(SessionKey) -> bool,
    out: &mut Vec<Match>,
) {
    out.extend(plain.iter().map(|(k, o)| Match {
        session: *k,
        options: *o,
    }));
    for group in shared.values_mut() {
        if let Some((session, options)) = group.pick(skip_shared) {
            out.push(Match { session, options });
        }
    }
}

fn collect(
    node: &mut Node,
    levels: &[&str],
    depth: usize,
    dollar: bool,
    skip_shared: &impl Fn(SessionKey) -> bool,
    out: &mut Vec<Match>,
) {
    let wildcards_allowed = !(dollar && depth == 0);
    if wildcards_allowed {
        // `a/#` matches `a` itself and everything below it.
        push_all(&node.hash, &mut node.hash_shared, skip_shared, out);
    }
    let Some((first, rest)) = levels.split_first() else {
        push_all(&node.exact, &mut node.exact_shared, skip_shared, out);
        return;
    };
    if let Some(child) = node.children.get_mut(*first) {
        collect(child, rest, depth + 1, dollar, skip_shared, out);
    }
    if wildcards_allowed && let Some(child) = node.plus.as_mut() {
        collect(child, rest, depth + 1, dollar, skip_shared, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(qos: u8) -> SubscriberOptions {
        SubscriberOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            subscription_id: None,
        }
    }

    fn matched(tree: &mut TopicTree, topic: &str) -> Vec<SessionKey> {
        let mut out = Vec::new();
        tree.matches(topic, &|_| false, &mut out);
        let mut keys: Vec<_> = out.iter().map(|m| m.session).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn wildcards_and_dollar_topics() {
        let mut t = TopicTree::default();
        t.subscribe("a/b/c", None, 1, opts(0));
        t.subscribe("a/+/c", None, 2, opts(0));
        t.subscribe("a/#", None, 3, opts(0));
        t.subscribe("#", None, 4, opts(0));
        t.subscribe("+/b/+", None, 5, opts(0));
        t.subscribe("$SYS/#", None, 6, opts(0));
        t.subscribe("+", None, 7, opts(0));
        assert_eq!(matched(&mut t, "a/b/c"), [1, 2, 3, 4, 5]);
        assert_eq!(matched(&mut t, "a"), [3, 4, 7]);
        assert_eq!(matched(&mut t, "a/x/c"), [2, 3, 4]);
        assert_eq!(matched(&mut t, "$SYS/uptime"), [6]);
        assert_eq!(matched(&mut t, "b"), [4, 7]);
        assert_eq!(matched(&mut t, "/b/"), [4, 5]);
        assert_eq!(t.len(), 7);
        assert!(t.unsubscribe("a/+/c", None, 2));
        assert!(!t.unsubscribe("a/+/c", None, 2));
        assert_eq!(matched(&mut t, "a/x/c"), [3, 4]);
        assert_eq!(t.len(), 6);
    }

    #[test]
    fn overlapping_subscriptions_merge_to_highest_qos() {
        let mut t = TopicTree::default();
        t.subscribe("a/#", None, 1, opts(0));
        t.subscribe("a/b", None, 1, opts(2));
        let mut out = Vec::new();
        t.matches("a/b", &|_| false, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].options.qos, 2);
    }

    #[test]
    fn shared_groups_take_turns_and_skip() {
        let mut t = TopicTree::default();
        for k in 1..=3 {
            t.subscribe("s/+", Some("g"), k, opts(1));
        }
        t.subscribe("s/+", Some("h"), 9, opts(1));
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for _ in 0..6 {
            t.matches("s/x", &|k| k == 2, &mut out);
            assert_eq!(out.len(), 2, "one per group");
            seen.extend(out.iter().map(|m| m.session).filter(|k| *k != 9));
        }
        assert_eq!(seen, [1, 3, 1, 3, 1, 3]);
        assert!(t.unsubscribe("s/+", Some("g"), 1));
        t.matches("s/x", &|_| false, &mut out);
        assert_eq!(out.len(), 2);
    }
}
