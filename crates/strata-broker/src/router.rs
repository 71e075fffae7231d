//! The broker's shared state: sessions, subscriptions and retained messages, and the routing
//! decision for every message. Workers hold the router's lock only while deciding; delivery
//! to sockets happens outside it.

use std::collections::HashMap;

use slab::Slab;
use strata_proto_mqtt::packet::{Publish, Will};
use strata_proto_mqtt::topic::{SharedFilter, matches};
use strata_proto_mqtt::{QoS, SessionState, SubscriptionOptions};

use crate::persist::{
    PersistedSession, PersistedState, SessionContents, decode_message, decode_session,
    encode_message, encode_session,
};

use crate::topic_tree::{Match, SessionKey, SubscriberOptions, TopicTree};

/// Where an online session's connection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConnRef {
    pub(crate) worker: usize,
    pub(crate) token: usize,
    pub(crate) generation: u64,
}

/// A will message waiting for its delay (5.0) or the end of its session.
#[derive(Debug)]
struct PendingWill {
    will: Will,
    due: u64,
}

/// One MQTT session, online or not.
#[derive(Debug)]
pub(crate) struct Session {
    client_id: String,
    /// Who may resume it (see `Hooks::session_owner`).
    owner: Option<Box<str>>,
    online: Option<ConnRef>,
    /// Filter -> options and subscription identifier.
    subscriptions: HashMap<String, (SubscriptionOptions, Option<u32>)>,
    /// The connection-level state while the session is offline.
    /// `None` while online (the connection holds the state) or when there is nothing to
    /// keep: an online session should cost little.
    stored: Option<Box<SessionState>>,
    /// Session Expiry Interval in seconds; 0 ends the session with its connection,
    /// `u32::MAX` never expires.
    expiry_secs: u32,
    /// When an offline session ends (ms).
    expires_at: Option<u64>,
    /// Its owner is gone (a deleted device): the session ends with its connection, whatever
    /// the client asks for on the way out, and is never resumed.
    ending: bool,
    will: Option<Box<PendingWill>>,
    /// Messages dropped because the offline queue was full.
    pub(crate) dropped: u64,
}

/// What `connect` decided.
#[derive(Debug)]
pub(crate) struct Attached {
    pub(crate) key: SessionKey,
    pub(crate) session_present: bool,
    /// Another connection held this client identifier: it must be disconnected.
    pub(crate) taken_over: Option<ConnRef>,
    /// State to resume, for a present session.
    pub(crate) resumed: Option<SessionState>,
    /// The delayed will of a session this clean start ended: publish it now.
    pub(crate) ended_will: Option<Will>,
}

/// A message to hand to a connection.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub(crate) to: ConnRef,
    pub(crate) publish: Publish,
}

/// Limits the router enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouterLimits {
    /// Most messages queued for one offline session.
    pub(crate) max_queued: usize,
    /// Most retained messages.
    pub(crate) max_retained: usize,
    /// Sessions to reserve room for up front (see `Router::new`).
    pub(crate) expected_sessions: usize,
    /// Most levels in a topic filter (the part a client wrote: a device's private prefix
    /// does not count). Bounds the topic tree's depth, and so its memory and the recursion
    /// of unsubscribing and matching.
    pub(crate) max_topic_levels: usize,
    /// Most subscriptions one session holds.
    pub(crate) max_subscriptions: usize,
}

/// Why a subscription is refused before it reaches the topic tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscriptionRefused {
    /// The filter has more levels than `max_topic_levels`.
    TooDeep,
    /// The session already holds `max_subscriptions`.
    TooMany,
}

/// Sessions, subscriptions and retained messages.
#[derive(Debug)]
pub(crate) struct Router {
    tree: TopicTree,
    sessions: Slab<Session>,
    by_client: HashMap<String, SessionKey>,
    /// Topic -> (message, when it was stored, for its Message Expiry Interval).
    retained: HashMap<String, (Publish, u64)>,
    scratch: Vec<Match>,
    limits: RouterLimits,
    /// Bumped by every change worth persisting (see `Router::snapshot`).
    changes: u64,
    /// Owners whose sessions were ended (deleted devices) -> until when (ms) a CONNECT
    /// authenticated just before the deletion is still refused.
    ended_owners: HashMap<Box<str>, u64>,
}

/// How long an ended owner stays refused: longer than any authentication takes.
const ENDED_OWNER_MS: u64 = 60_000;

impl Router {
    pub(crate) fn new(limits: RouterLimits) -> Self {
        Self {
            tree: TopicTree::default(),
            // Reserved up front: growing by doubling would copy the table and leave the old
            // copies to the allocator, which shows as resident memory per connection. Pages
            // of the reservation that are never used are never touched, so cost nothing.
            sessions: Slab::with_capacity(limits.expected_sessions),
            by_client: HashMap::with_capacity(limits.expected_sessions),
            retained: HashMap::new(),
            scratch: Vec::new(),
            limits,
            changes: 0,
            ended_owners: HashMap::new(),
        }
    }

    /// Number of sessions (online and offline).
    pub(crate) fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of subscriptions.
    pub(crate) fn subscription_count(&self) -> usize {
        self.tree.len()
    }

    /// Number of retained messages.
    pub(crate) fn retained_count(&self) -> usize {
        self.retained.len()
    }

    /// Messages queued for offline sessions.
    pub(crate) fn queued_count(&self) -> usize {
        self.sessions
            .iter()
            .filter(|(_, s)| s.online.is_none())
            .map(|(_, s)| s.stored.as_ref().map_or(0, |st| st.outgoing_len()))
            .sum()
    }

    /// Whether `client_id` has a session (online or not).
    #[cfg(test)]
    pub(crate) fn has_session(&self, client_id: &str) -> bool {
        self.by_client.contains_key(client_id)
    }

    /// The connection currently holding `client_id`'s session, if any.
    pub(crate) fn online(&self, client_id: &str) -> Option<ConnRef> {
        let key = self.by_client.get(client_id)?;
        self.sessions.get(*key)?.online
    }

    /// The connections of the online sessions of an owner.
    pub(crate) fn online_of_owner(&self, owner: &str) -> Vec<ConnRef> {
        self.sessions
            .iter()
            .filter(|(_, s)| s.owner.as_deref() == Some(owner))
            .filter_map(|(_, s)| s.online)
            .collect()
    }

    /// The owner of `client_id`'s session, if it has a session with an owner.
    pub(crate) fn owner(&self, client_id: &str) -> Option<&str> {
        let key = self.by_client.get(client_id)?;
        self.sessions.get(*key)?.owner.as_deref()
    }

    /// Binds a connection to the session of `client_id`, creating or resuming it.
    pub(crate) fn connect(
        &mut self,
        client_id: &str,
        clean_start: bool,
        expiry_secs: u32,
        conn: ConnRef,
        owner: Option<&str>,
    ) -> Attached {
        self.changes += 1;
        let mut taken_over = None;
        let mut ended_will = None;
        if let Some(&key) = self.by_client.get(client_id) {
            let session = &mut self.sessions[key];
            taken_over = session.online.take();
            // A reconnect before the will delay ends cancels the will (5.0 3.1.3.2.2), unless
            // the reconnect ends the session (clean start): a session's end publishes it.
            let pending_will = session.will.take();
            // Sessions of another owner never get here (the worker refuses the CONNECT); an
            // ownerless one (anonymous, or saved by an older Strata) is adopted.
            if session.owner.is_none() {
                session.owner = owner.map(Into::into);
            }
            if !clean_start && !session.ending {
                session.online = Some(conn);
                session.expiry_secs = expiry_secs;
                session.expires_at = None;
                let resumed = session.stored.take().map(|st| *st).unwrap_or_default();
                return Attached {
                    key,
                    session_present: true,
                    taken_over,
                    resumed: Some(resumed),
                    ended_will: None,
                };
            }
            ended_will = pending_will.map(|w| w.will);
            self.remove_session(key);
        }
        let key = self.sessions.insert(Session {
            client_id: client_id.to_string(),
            owner: owner.map(Into::into),
            online: Some(conn),
            subscriptions: HashMap::new(),
            stored: None,
            expiry_secs,
            expires_at: None,
            will: None,
            ending: false,
            dropped: 0,
        });
        self.by_client.insert(client_id.to_string(), key);
        Attached {
            key,
            session_present: false,
            taken_over,
            resumed: None,
            ended_will,
        }
    }

    /// Detaches a closed connection. The session ends now if its expiry is 0, otherwise it
    /// keeps `state` and queues messages until it expires. A will is published now (returned)
    /// or kept until its delay or the session's end.
    ///
    /// When another connection took the session over meanwhile, the messages still in flight
    /// or queued on this one are handed to it (`redeliver`), so a takeover loses nothing.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn disconnect(
        &mut self,
        key: SessionKey,
        conn: ConnRef,
        state: Option<SessionState>,
        expiry_override: Option<u32>,
        will: Option<Will>,
        now: u64,
        redeliver: &mut Vec<Delivery>,
    ) -> Option<Will> {
        self.changes += 1;
        let Some(session) = self.sessions.get_mut(key) else {
            return will;
        };
        if session.online != Some(conn) {
            // Taken over meanwhile: the new connection owns the session; the old will still
            // goes out (MQTT 5.0 3.1.4: a takeover publishes the old connection's will).
            if let Some(state) = state {
                let messages = state
                    .inflight
                    .into_iter()
                    .map(|m| m.message)
                    .chain(state.pending.into_iter().map(|p| p.message));
                for mut publish in messages {
                    publish.packet_id = None;
                    publish.dup = false;
                    match session.online {
                        Some(to) => redeliver.push(Delivery { to, publish }),
                        None => {
                            let _ = session
                                .stored
                                .get_or_insert_with(Box::default)
                                .queue(now, publish);
                        }
                    }
                }
            }
            return will;
        }
        session.online = None;
        if let Some(expiry) = expiry_override
            && !session.ending
        {
            session.expiry_secs = expiry;
        }
        if session.expiry_secs == 0 {
            self.remove_session(key);
            return will;
        }
        session.stored = state.map(Box::new);
        session.expires_at =
            (session.expiry_secs != u32::MAX).then(|| now + u64::from(session.expiry_secs) * 1000);
        let delay = will
            .as_ref()
            .and_then(|w| w.properties.will_delay_interval)
            .unwrap_or(0);
        match will {
            Some(will) if delay > 0 => {
                let due = now + u64::from(delay) * 1000;
                let due = session.expires_at.map_or(due, |end| due.min(end));
                session.will = Some(Box::new(PendingWill { will, due }));
                None
            }
            other => other,
        }
    }

    /// Ends every session of `owner` (a deleted device), so its client identifiers are free
    /// for others at once and nothing more is queued for it: offline sessions now, with their
    /// queued messages; online ones when their connection closes, which the caller makes
    /// happen with the returned connections. The wills of the sessions ended now are returned
    /// for publishing, as at any session's end.
    pub(crate) fn end_sessions_of_owner(
        &mut self,
        owner: &str,
        now: u64,
    ) -> (Vec<ConnRef>, Vec<Will>) {
        self.ended_owners.insert(owner.into(), now + ENDED_OWNER_MS);
        let mut online = Vec::new();
        let mut offline = Vec::new();
        for (key, session) in self.sessions.iter_mut() {
            if session.owner.as_deref() != Some(owner) {
                continue;
            }
            match session.online {
                Some(conn) => {
                    session.ending = true;
                    session.expiry_secs = 0;
                    online.push(conn);
                }
                None => offline.push(key),
            }
        }
        let mut wills = Vec::new();
        for key in offline {
            if let Some(w) = self.sessions[key].will.take() {
                wills.push(w.will);
            }
            self.remove_session(key);
        }
        self.changes += 1;
        (online, wills)
    }

    /// Whether `owner`'s sessions were ended a moment ago (`end_sessions_of_owner`): a
    /// CONNECT it authenticated just before must not open a new one. Check under the same
    /// lock as `connect`.
    pub(crate) fn owner_ended(&self, owner: &str, now: u64) -> bool {
        self.ended_owners
            .get(owner)
            .is_some_and(|&until| now < until)
    }

    /// Ends expired sessions and returns the wills that are due.
    pub(crate) fn tick(&mut self, now: u64) -> Vec<Will> {
        self.ended_owners.retain(|_, until| now < *until);
        let mut wills = Vec::new();
        let mut expired = Vec::new();
        for (key, session) in self.sessions.iter_mut() {
            if session.will.as_ref().is_some_and(|w| w.due <= now)
                && let Some(w) = session.will.take()
            {
                wills.push(w.will);
            }
            if session.online.is_none() && session.expires_at.is_some_and(|t| t <= now) {
                expired.push(key);
            }
        }
        for key in expired {
            if let Some(w) = self.sessions[key].will.take() {
                wills.push(w.will);
            }
            self.remove_session(key);
        }
        let before = self.retained.len();
        self.retained.retain(|_, (m, stored_at)| {
            m.properties
                .message_expiry_interval
                .is_none_or(|secs| now.saturating_sub(*stored_at) / 1000 < u64::from(secs))
        });
        if self.retained.len() != before {
            self.changes += 1;
        }
        wills
    }

    fn remove_session(&mut self, key: SessionKey) {
        self.changes += 1;
        let session = self.sessions.remove(key);
        for filter in session.subscriptions.keys() {
            let (group, plain) = split_shared(filter);
            self.tree.unsubscribe(plain, group, key);
        }
        self.by_client.remove(&session.client_id);
    }

    /// Whether the session may add (or replace) a subscription to `filter` under the
    /// router's limits. `subscribe` itself does not check: call this first.
    pub(crate) fn check_subscription(
        &self,
        key: SessionKey,
        filter: &str,
    ) -> Result<(), SubscriptionRefused> {
        let (_, plain) = split_shared(filter);
        let written = crate::unmounted(plain).unwrap_or(plain);
        if written.split('/').count() > self.limits.max_topic_levels {
            return Err(SubscriptionRefused::TooDeep);
        }
        let Some(session) = self.sessions.get(key) else {
            return Ok(());
        };
        if session.subscriptions.len() >= self.limits.max_subscriptions
            && !session.subscriptions.contains_key(filter)
        {
            return Err(SubscriptionRefused::TooMany);
        }
        Ok(())
    }

    /// Adds or replaces a subscription; returns whether it existed before.
    pub(crate) fn subscribe(
        &mut self,
        key: SessionKey,
        filter: &str,
        options: SubscriptionOptions,
        subscription_id: Option<u32>,
    ) -> bool {
        let Some(session) = self.sessions.get_mut(key) else {
            return false;
        };
        let existed = session
            .subscriptions
            .insert(filter.to_string(), (options, subscription_id))
            .is_some();
        self.changes += 1;
        let (group, plain) = split_shared(filter);
        self.tree.subscribe(
            plain,
            group,
            key,
            SubscriberOptions {
                qos: options.qos as u8,
                no_local: options.no_local,
                retain_as_published: options.retain_as_published,
                subscription_id,
            },
        );
        existed
    }

    /// Removes a subscription; returns whether it existed.
    pub(crate) fn unsubscribe(&mut self, key: SessionKey, filter: &str) -> bool {
        let Some(session) = self.sessions.get_mut(key) else {
            return false;
        };
        if session.subscriptions.remove(filter).is_none() {
            return false;
        }
        self.changes += 1;
        let (group, plain) = split_shared(filter);
        self.tree.unsubscribe(plain, group, key)
    }

    /// Stores (or, with an empty payload, deletes) a retained message. Returns false when the
    /// retained store is full.
    pub(crate) fn retain(&mut self, message: &Publish, now: u64) -> bool {
        self.changes += 1;
        if message.payload.is_empty() {
            self.retained.remove(&message.topic);
            return true;
        }
        if self.retained.len() >= self.limits.max_retained
            && !self.retained.contains_key(&message.topic)
        {
            return false;
        }
        let mut stored = message.clone();
        stored.retain = true;
        stored.dup = false;
        stored.packet_id = None;
        self.retained.insert(message.topic.clone(), (stored, now));
        true
    }

    /// Retained messages matching `filter`, as they should be sent for a subscription.
    pub(crate) fn retained_for(
        &self,
        filter: &str,
        granted: QoS,
        subscription_id: Option<u32>,
        now: u64,
    ) -> Vec<Publish> {
        self.retained
            .values()
            .filter(|(m, _)| matches(filter, &m.topic))
            .filter_map(|(m, stored_at)| {
                let mut p = m.clone();
                if let Some(topic) = crate::unmounted(&p.topic) {
                    p.topic = topic.to_string();
                }
                // An expired retained message is no longer sent (5.0 3.3.2.3.3), and is
                // sent with what is left of its interval.
                if !SessionState::age_message(&mut p, *stored_at, now) {
                    return None;
                }
                p.qos = p.qos.min(granted);
                p.retain = true;
                p.properties.subscription_identifiers = subscription_id.into_iter().collect();
                Some(p)
            })
            .collect()
    }

    /// Changes since the router was made (compare two readings to see whether anything
    /// worth persisting happened).
    pub(crate) fn changes(&self) -> u64 {
        self.changes
    }

    /// The persistent sessions (non-zero expiry) and retained messages, encoded for
    /// storage. `now` is the broker clock, `wall_ms` the matching wall-clock time. An online
    /// session is stored with its subscriptions only (its in-flight messages live in its
    /// connection) and as if its client had just left.
    pub(crate) fn snapshot(&self, now: u64, wall_ms: u64) -> PersistedState {
        let mut state = PersistedState::default();
        for (_, session) in &self.sessions {
            if session.expiry_secs == 0 {
                continue;
            }
            let mut contents = SessionContents {
                subscriptions: session
                    .subscriptions
                    .iter()
                    .map(|(f, (o, id))| (f.clone(), *o, *id))
                    .collect(),
                messages: Vec::new(),
            };
            if let Some(stored) = session.stored.as_ref() {
                let inflight = stored.inflight.iter().map(|m| (&m.message, now));
                let pending = stored.pending.iter().map(|p| (&p.message, p.queued_at));
                for (message, queued_at) in inflight.chain(pending) {
                    let mut message = message.clone();
                    if SessionState::age_message(&mut message, queued_at, now) {
                        contents.messages.push(message);
                    }
                }
            }
            let expires_at_ms = match (session.expires_at, session.expiry_secs) {
                (_, u32::MAX) => None,
                (Some(at), _) => Some(wall_ms + at.saturating_sub(now)),
                (None, secs) => Some(wall_ms + u64::from(secs) * 1000),
            };
            state.sessions.push(PersistedSession {
                owner: session.owner.as_deref().map(str::to_string),
                client_id: session.client_id.clone(),
                expiry_secs: session.expiry_secs,
                expires_at_ms,
                state: encode_session(&contents),
            });
        }
        for (topic, (message, stored_at)) in &self.retained {
            let mut message = message.clone();
            if SessionState::age_message(&mut message, *stored_at, now) {
                state
                    .retained
                    .push((topic.clone(), encode_message(&message)));
            }
        }
        state
    }

    /// Loads a snapshot into an empty router: sessions come back offline (ended ones are
    /// skipped), with their subscriptions and queued messages. Returns how many sessions and
    /// retained messages were restored; damaged entries are logged and skipped.
    pub(crate) fn restore(
        &mut self,
        state: PersistedState,
        now: u64,
        wall_ms: u64,
    ) -> (usize, usize) {
        let (mut sessions, mut retained) = (0, 0);
        for stored in state.sessions {
            if stored.expires_at_ms.is_some_and(|at| at <= wall_ms)
                || self.by_client.contains_key(&stored.client_id)
            {
                continue;
            }
            let contents = match decode_session(&stored.state) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(client_id = %stored.client_id, error = %e, "session skipped");
                    continue;
                }
            };
            let mut queue = SessionState::new();
            for message in contents.messages {
                let _ = queue.queue(now, message);
            }
            let key = self.sessions.insert(Session {
                owner: stored.owner.clone().map(Into::into),
                client_id: stored.client_id.clone(),
                online: None,
                subscriptions: HashMap::new(),
                stored: (queue.outgoing_len() > 0).then(|| Box::new(queue)),
                expiry_secs: stored.expiry_secs,
                expires_at: stored
                    .expires_at_ms
                    .map(|at| now + at.saturating_sub(wall_ms)),
                ending: false,
                will: None,
                dropped: 0,
            });
            for (filter, options, id) in contents.subscriptions {
                // Saved before a limit was lowered (or before limits existed): dropped, so a
                // deep filter cannot come back into the tree.
                if let Err(refused) = self.check_subscription(key, &filter) {
                    tracing::warn!(client_id = %stored.client_id, filter = %filter, ?refused,
                        "saved subscription dropped: over the broker's limits");
                    continue;
                }
                self.subscribe(key, &filter, options, id);
            }
            self.by_client.insert(stored.client_id, key);
            sessions += 1;
        }
        for (topic, bytes) in state.retained {
            match decode_message(&bytes) {
                Ok(message) => {
                    self.retained.insert(topic, (message, now));
                    retained += 1;
                }
                Err(e) => tracing::warn!(%topic, error = %e, "retained message skipped"),
            }
        }
        (sessions, retained)
    }

    /// Whether any session subscribes to a filter matching `topic`.
    pub(crate) fn has_subscribers(&mut self, topic: &str) -> bool {
        let none = |_: SessionKey| false;
        self.tree.matches(topic, &none, &mut self.scratch);
        let found = !self.scratch.is_empty();
        self.scratch.clear();
        found
    }

    /// Decides who receives `message`: online subscribers get a [`Delivery`]; offline
    /// persistent sessions queue QoS 1/2 copies (QoS 0 is not queued, as in Mosquitto's
    /// default). Returns how many copies were dropped because a queue was full.
    pub(crate) fn route(
        &mut self,
        now: u64,
        publisher: Option<SessionKey>,
        message: &Publish,
        out: &mut Vec<Delivery>,
    ) -> u64 {
        let sessions = &self.sessions;
        // Shared groups pass over members that are offline.
        let skip = |k: SessionKey| sessions.get(k).is_none_or(|s| s.online.is_none());
        self.tree.matches(&message.topic, &skip, &mut self.scratch);
        let mut dropped = 0;
        for m in &self.scratch {
            if m.options.no_local && Some(m.session) == publisher {
                continue;
            }
            let Some(session) = self.sessions.get_mut(m.session) else {
                continue;
            };
            let publish = outgoing(message, m);
            match session.online {
                Some(to) => out.push(Delivery { to, publish }),
                None if publish.qos != QoS::AtMostOnce => {
                    let stored = session.stored.get_or_insert_with(Box::default);
                    if stored.outgoing_len() >= self.limits.max_queued {
                        session.dropped += 1;
                        dropped += 1;
                    } else {
                        let _ = stored.queue(now, publish);
                        self.changes += 1;
                    }
                }
                None => {}
            }
        }
        dropped
    }
}

/// The copy of `message` one subscription receives.
fn outgoing(message: &Publish, m: &Match) -> Publish {
    let qos = QoS::try_from(m.options.qos)
        .unwrap_or(QoS::AtMostOnce)
        .min(message.qos);
    let mut publish = Publish {
        dup: false,
        qos,
        retain: message.retain && m.options.retain_as_published,
        // A private namespace's subscriber sees the topic without its `$private/{owner}/`.
        topic: crate::unmounted(&message.topic)
            .unwrap_or(&message.topic)
            .to_string(),
        packet_id: None,
        properties: message.properties.clone(),
        payload: message.payload.clone(),
    };
    if let Some(id) = m.options.subscription_id {
        publish.properties.subscription_identifiers = vec![id];
    } else if !publish.properties.subscription_identifiers.is_empty() {
        publish.properties.subscription_identifiers.clear();
    }
    publish
}

fn split_shared(filter: &str) -> (Option<&str>, &str) {
    match SharedFilter::parse(filter) {
        Ok(Some(shared)) => (Some(shared.group), shared.filter),
        _ => (None, filter),
    }
}

/// Turns a will into the message it publishes.
pub(crate) fn will_message(will: Will) -> Publish {
    let mut properties = will.properties;
    properties.will_delay_interval = None;
    Publish {
        dup: false,
        qos: will.qos,
        retain: will.retain,
        topic: will.topic,
        packet_id: None,
        properties,
        payload: will.payload,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(token: usize) -> ConnRef {
        ConnRef {
            worker: 0,
            token,
            generation: token as u64,
        }
    }

    /// A will on `w` with a will delay of `secs`.
    fn delayed_will(secs: u32) -> Will {
        let mut will = Will {
            topic: "w".into(),
            payload: "bye".into(),
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Default::default(),
        };
        will.properties.will_delay_interval = Some(secs);
        will
    }

    fn limits() -> RouterLimits {
        RouterLimits {
            max_queued: 2,
            max_retained: 10,
            expected_sessions: 4,
            max_topic_levels: 4,
            max_subscriptions: 3,
        }
    }

    #[test]
    fn persistent_session_queues_while_offline() {
        let mut r = Router::new(limits());
        let a = r.connect("a", false, 3600, conn(1), None);
        assert!(!a.session_present);
        r.subscribe(
            a.key,
            "t/#",
            SubscriptionOptions::new(QoS::AtLeastOnce),
            None,
        );
        assert!(
            r.disconnect(a.key, conn(1), None, None, None, 0, &mut Vec::new())
                .is_none()
        );
        let mut out = Vec::new();
        let msg = Publish::new("t/1", QoS::ExactlyOnce, "x");
        for _ in 0..3 {
            r.route(1, None, &msg, &mut out);
        }
        r.route(
            1,
            None,
            &Publish::new("t/1", QoS::AtMostOnce, "y"),
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(r.queued_count(), 2, "bounded queue, QoS 0 not queued");
        let b = r.connect("a", false, 3600, conn(2), None);
        assert!(b.session_present);
        let resumed = b.resumed.unwrap();
        assert_eq!(resumed.pending.len(), 2);
        assert_eq!(
            resumed.pending[0].message.qos,
            QoS::AtLeastOnce,
            "downgraded to granted QoS"
        );
    }

    #[test]
    fn clean_start_and_expiry_end_sessions() {
        let mut r = Router::new(limits());
        let a = r.connect("a", false, 10, conn(1), None);
        r.subscribe(a.key, "t", SubscriptionOptions::new(QoS::AtMostOnce), None);
        r.disconnect(a.key, conn(1), None, None, None, 0, &mut Vec::new());
        assert!(r.tick(9_999).is_empty());
        assert!(r.has_session("a"));
        r.tick(10_000);
        assert!(!r.has_session("a"));
        assert_eq!(r.subscription_count(), 0);

        let a = r.connect("b", false, 100, conn(3), None);
        r.subscribe(a.key, "t", SubscriptionOptions::new(QoS::AtMostOnce), None);
        let b = r.connect("b", true, 0, conn(4), None);
        assert_eq!(b.taken_over, Some(conn(3)));
        assert!(!b.session_present);
        assert_eq!(r.subscription_count(), 0);
    }

    #[test]
    fn subscriptions_are_bounded_in_depth_and_number() {
        let mut r = Router::new(limits());
        let a = r.connect("a", false, 3600, conn(1), None);
        let sub = SubscriptionOptions::new(QoS::AtMostOnce);
        assert_eq!(r.check_subscription(a.key, "a/b/c/d"), Ok(()));
        assert_eq!(
            r.check_subscription(a.key, "a/b/c/d/e"),
            Err(SubscriptionRefused::TooDeep)
        );
        assert_eq!(
            r.check_subscription(a.key, "////"),
            Err(SubscriptionRefused::TooDeep),
            "empty levels count"
        );
        // A device's private prefix and a share name are not the client's levels.
        assert_eq!(r.check_subscription(a.key, "$private/dev/a/b/c/d"), Ok(()));
        assert_eq!(r.check_subscription(a.key, "$share/g/a/b/c/#"), Ok(()));
        for f in ["x", "y", "z"] {
            assert_eq!(r.check_subscription(a.key, f), Ok(()));
            r.subscribe(a.key, f, sub, None);
        }
        assert_eq!(
            r.check_subscription(a.key, "w"),
            Err(SubscriptionRefused::TooMany)
        );
        assert_eq!(r.check_subscription(a.key, "x"), Ok(()), "a replacement");

        // Saved subscriptions over the limits are dropped on restore.
        r.subscribe(a.key, "1/2/3/4/5/6", sub, None);
        r.disconnect(a.key, conn(1), None, None, None, 0, &mut Vec::new());
        let saved = r.snapshot(0, 0);
        let mut restored = Router::new(limits());
        restored.restore(saved, 0, 0);
        assert!(restored.has_session("a"));
        assert_eq!(restored.subscription_count(), 3);

        // Saved under a higher limit: restored up to the current one.
        let mut roomy = Router::new(RouterLimits {
            max_subscriptions: 5,
            ..limits()
        });
        let b = roomy.connect("b", false, 3600, conn(2), None);
        for f in ["1", "2", "3", "4", "5"] {
            roomy.subscribe(b.key, f, sub, None);
        }
        roomy.disconnect(b.key, conn(2), None, None, None, 0, &mut Vec::new());
        let mut restored = Router::new(limits());
        restored.restore(roomy.snapshot(0, 0), 0, 0);
        assert_eq!(restored.subscription_count(), 3);
    }

    #[test]
    fn ending_an_owners_sessions_frees_their_client_ids() {
        let mut r = Router::new(limits());
        let sub = SubscriptionOptions::new(QoS::AtLeastOnce);
        // Offline, with a queued message and a delayed will: gone now, the will returned.
        let a = r.connect("a", false, 3600, conn(1), Some("device:1"));
        r.subscribe(a.key, "t", sub, None);
        let will = delayed_will(60);
        r.disconnect(a.key, conn(1), None, None, Some(will), 0, &mut Vec::new());
        r.route(
            1,
            None,
            &Publish::new("t", QoS::AtLeastOnce, "x"),
            &mut Vec::new(),
        );
        assert_eq!(r.queued_count(), 1);
        // Online and persistent: ends with its connection, even if the client asks to keep it.
        let b = r.connect("b", false, 3600, conn(2), Some("device:1"));
        r.subscribe(b.key, "t", sub, None);
        // Another owner's session stays.
        let c = r.connect("c", false, 3600, conn(3), Some("device:2"));
        r.subscribe(c.key, "t", sub, None);

        let (online, wills) = r.end_sessions_of_owner("device:1", 0);
        assert!(r.owner_ended("device:1", 59_999));
        assert!(!r.owner_ended("device:2", 0));
        assert_eq!(online, vec![conn(2)]);
        assert_eq!(wills.len(), 1);
        assert!(!r.has_session("a"));
        assert_eq!(r.queued_count(), 0);
        assert!(r.has_session("b"), "ends when its connection closes");
        r.disconnect(b.key, conn(2), None, Some(3600), None, 0, &mut Vec::new());
        assert!(!r.has_session("b"));
        assert!(r.has_session("c"));
        assert_eq!(r.subscription_count(), 1);
        assert_eq!(
            r.snapshot(0, 0).sessions.len(),
            1,
            "only the other owner's session"
        );

        // The identifier is free for a new owner.
        let a = r.connect("a", false, 3600, conn(4), Some("device:3"));
        assert!(!a.session_present);
        assert_eq!(r.owner("a"), Some("device:3"));
    }

    #[test]
    fn delayed_will_is_cancelled_by_reconnect() {
        let mut r = Router::new(limits());
        let a = r.connect("a", false, 100, conn(1), None);
        let will = delayed_will(5);
        assert!(
            r.disconnect(
                a.key,
                conn(1),
                None,
                None,
                Some(will.clone()),
                0,
                &mut Vec::new()
            )
            .is_none()
        );
        assert!(r.tick(4_000).is_empty());
        assert_eq!(r.tick(5_000).len(), 1);

        r.connect("a", false, 100, conn(2), None);
        assert!(
            r.disconnect(
                a.key,
                conn(2),
                None,
                None,
                Some(will),
                10_000,
                &mut Vec::new()
            )
            .is_none()
        );
        r.connect("a", false, 100, conn(3), None);
        assert!(r.tick(20_000).is_empty(), "reconnect cancelled the will");
    }

    #[test]
    fn retained_store_and_delete() {
        let mut r = Router::new(limits());
        let mut m = Publish::new("a/b", QoS::AtLeastOnce, "v");
        m.retain = true;
        r.retain(&m, 0);
        assert_eq!(
            r.retained_for("a/+", QoS::AtMostOnce, Some(7), 0)[0].qos,
            QoS::AtMostOnce
        );
        assert_eq!(
            r.retained_for("#", QoS::ExactlyOnce, None, 0)[0]
                .properties
                .subscription_identifiers,
            Vec::<u32>::new()
        );
        r.retain(&Publish::new("a/b", QoS::AtMostOnce, ""), 0);
        assert_eq!(r.retained_count(), 0);
    }
}
