//! Who is registered: registrations by ID and by endpoint name, lifetimes, and whether a
//! queue-mode client is awake.

use std::collections::HashMap;
use std::hash::Hash;

use crate::registration::{DEFAULT_LIFETIME, ObjectLink, RegisterParams};

/// How long a queue-mode client stays reachable after it was heard from by default, ms
/// (LwM2M Transport §6.5: MAX_TRANSMIT_WAIT, 93 s with the default CoAP parameters).
pub const AWAKE_MS: u64 = 93_000;
/// Grace after a lifetime ends before the registration is dropped, ms: the client's update
/// may be in flight.
const EXPIRY_GRACE_MS: u64 = 15_000;

/// One registered client.
#[derive(Debug, Clone)]
pub struct Registration<P> {
    /// Registration ID (the `/rd/{id}` location).
    pub id: String,
    /// Endpoint client name.
    pub endpoint: String,
    /// Where the client talks from (updated by every update).
    pub peer: P,
    /// Lifetime, s.
    pub lifetime: u32,
    /// Enabler version.
    pub version: String,
    /// Binding mode.
    pub binding: String,
    /// Queue mode: requests wait until the client is awake.
    pub queue_mode: bool,
    /// MSISDN, if given.
    pub sms: Option<String>,
    /// Alternate path of its objects ("" for `/`).
    pub root: String,
    /// Objects and instances it has.
    pub objects: Vec<ObjectLink>,
    /// When it registered (Unix ms).
    pub registered_at: i64,
    /// When it last registered or updated (Unix ms).
    pub updated_at: i64,
    /// When it was last heard from (monotonic ms).
    pub last_heard: u64,
    /// How long a queue-mode client stays awake after it was heard from, ms.
    pub awake_ms: u64,
}

impl<P> Registration<P> {
    /// Whether the client can be reached now (always, unless in queue mode and asleep).
    pub fn is_awake(&self, now: u64) -> bool {
        !self.queue_mode || now.saturating_sub(self.last_heard) < self.awake_ms
    }

    /// When the registration lapses (monotonic ms).
    pub fn expires_at(&self) -> u64 {
        self.last_heard + u64::from(self.lifetime) * 1000 + EXPIRY_GRACE_MS
    }
}

/// The registrations.
pub struct Registry<P> {
    awake_ms: u64,
    by_id: HashMap<String, Registration<P>>,
    by_endpoint: HashMap<String, String>,
    by_peer: HashMap<P, String>,
}

impl<P: Clone + Eq + Hash> Default for Registry<P> {
    fn default() -> Self {
        Self::new(0)
    }
}

impl<P: Clone + Eq + Hash> Registry<P> {
    /// An empty registry (`seed` is kept for API stability; IDs come from the OS RNG).
    pub fn new(seed: u64) -> Self {
        let _ = seed;
        Registry {
            awake_ms: AWAKE_MS,
            by_id: HashMap::new(),
            by_endpoint: HashMap::new(),
            by_peer: HashMap::new(),
        }
    }

    /// Sets how long queue-mode clients stay awake after they were heard from.
    pub fn set_awake_ms(&mut self, ms: u64) {
        self.awake_ms = ms.max(1);
    }

    fn new_id(&mut self) -> String {
        // Random (about 95 bits): an ID is all a plain-CoAP client shows to update or
        // de-register, so it must not be guessable from others.
        use rand::Rng as _;
        const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut rng = rand::rng();
        loop {
            let id: String = (0..16)
                .map(|_| DIGITS[rng.random_range(0..DIGITS.len())] as char)
                .collect();
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }

    /// Adds a registration; a client registering again under the same endpoint name
    /// replaces its old registration, which is returned.
    pub fn register(
        &mut self,
        now: u64,
        unix_ms: i64,
        peer: P,
        params: RegisterParams,
    ) -> (Registration<P>, Option<Registration<P>>) {
        let endpoint = params.endpoint.unwrap_or_default();
        let replaced = self
            .by_endpoint
            .remove(&endpoint)
            .and_then(|old| self.by_id.remove(&old));
        if let Some(old) = &replaced
            && self.by_peer.get(&old.peer) == Some(&old.endpoint)
        {
            self.by_peer.remove(&old.peer);
        }
        let id = self.new_id();
        let binding = params.binding.unwrap_or_else(|| "U".into());
        let registration = Registration {
            id: id.clone(),
            endpoint: endpoint.clone(),
            peer,
            lifetime: params.lifetime.unwrap_or(DEFAULT_LIFETIME),
            version: params.version.unwrap_or_else(|| "1.0".into()),
            binding,
            queue_mode: params.queue_mode.unwrap_or(false),
            sms: params.sms,
            root: params.root.unwrap_or_default(),
            objects: params.objects.unwrap_or_default(),
            registered_at: unix_ms,
            updated_at: unix_ms,
            last_heard: now,
            awake_ms: self.awake_ms,
        };
        self.by_peer
            .insert(registration.peer.clone(), endpoint.clone());
        self.by_endpoint.insert(endpoint, id.clone());
        self.by_id.insert(id, registration.clone());
        (registration, replaced)
    }

    /// Applies an update; `None` if the ID is unknown (the client must register again).
    pub fn update(
        &mut self,
        now: u64,
        unix_ms: i64,
        id: &str,
        peer: P,
        params: RegisterParams,
    ) -> Option<&Registration<P>> {
        let r = self.by_id.get_mut(id)?;
        if r.peer != peer {
            if self.by_peer.get(&r.peer) == Some(&r.endpoint) {
                self.by_peer.remove(&r.peer);
            }
            self.by_peer.insert(peer.clone(), r.endpoint.clone());
        }
        r.peer = peer;
        r.last_heard = now;
        r.updated_at = unix_ms;
        if let Some(lt) = params.lifetime {
            r.lifetime = lt;
        }
        if let Some(b) = params.binding {
            r.binding = b;
        }
        if let Some(q) = params.queue_mode {
            r.queue_mode = q;
        }
        if params.sms.is_some() {
            r.sms = params.sms;
        }
        if let Some(objects) = params.objects {
            r.objects = objects;
            r.root = params.root.unwrap_or_default();
        }
        Some(r)
    }

    /// Removes a registration (de-register).
    pub fn deregister(&mut self, id: &str) -> Option<Registration<P>> {
        let r = self.by_id.remove(id)?;
        self.by_endpoint.remove(&r.endpoint);
        if self.by_peer.get(&r.peer) == Some(&r.endpoint) {
            self.by_peer.remove(&r.peer);
        }
        Some(r)
    }

    /// Notes that the client was heard from (any message): it is awake.
    pub fn heard(&mut self, endpoint: &str, now: u64) {
        if let Some(r) = self
            .by_endpoint
            .get(endpoint)
            .and_then(|id| self.by_id.get_mut(id))
        {
            r.last_heard = r.last_heard.max(now);
        }
    }

    /// The registration of an endpoint.
    pub fn by_endpoint(&self, endpoint: &str) -> Option<&Registration<P>> {
        self.by_endpoint
            .get(endpoint)
            .and_then(|id| self.by_id.get(id))
    }

    /// The endpoint name of the client talking from `peer`.
    pub fn endpoint_of(&self, peer: &P) -> Option<&str> {
        self.by_peer.get(peer).map(String::as_str)
    }

    /// The registration with an ID.
    pub fn by_id(&self, id: &str) -> Option<&Registration<P>> {
        self.by_id.get(id)
    }

    /// Every registration.
    pub fn iter(&self) -> impl Iterator<Item = &Registration<P>> {
        self.by_id.values()
    }

    /// How many are registered.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when nobody is registered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Removes and returns registrations whose lifetime ran out.
    pub fn expire(&mut self, now: u64) -> Vec<Registration<P>> {
        let gone: Vec<String> = self
            .by_id
            .values()
            .filter(|r| r.expires_at() <= now)
            .map(|r| r.id.clone())
            .collect();
        gone.iter().filter_map(|id| self.deregister(id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(ep: &str, lt: u32, queue: bool) -> RegisterParams {
        RegisterParams {
            endpoint: Some(ep.into()),
            lifetime: Some(lt),
            queue_mode: Some(queue),
            ..RegisterParams::default()
        }
    }

    #[test]
    fn register_update_deregister_and_replace() {
        let mut reg: Registry<u8> = Registry::new(7);
        let (a, replaced) = reg.register(0, 1, 1, params("a", 60, false));
        assert!(replaced.is_none());
        assert_eq!(
            reg.by_endpoint("a").map(|r| r.id.clone()),
            Some(a.id.clone())
        );
        let updated = reg
            .update(
                10,
                2,
                &a.id,
                2,
                RegisterParams {
                    lifetime: Some(120),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(
            (updated.lifetime, updated.peer, updated.updated_at),
            (120, 2, 2)
        );
        assert!(
            reg.update(10, 2, "nope", 2, RegisterParams::default())
                .is_none()
        );
        let (b, replaced) = reg.register(20, 3, 3, params("a", 60, false));
        assert_eq!(replaced.map(|r| r.id), Some(a.id.clone()));
        assert_ne!(a.id, b.id);
        assert_eq!(reg.len(), 1);
        assert_eq!(reg.endpoint_of(&3), Some("a"));
        assert_eq!(reg.endpoint_of(&1), None);
        assert!(reg.deregister(&b.id).is_some());
        assert!(reg.is_empty());
        assert_eq!(reg.endpoint_of(&3), None);
    }

    #[test]
    fn lifetimes_expire_and_queue_mode_sleeps() {
        let mut reg: Registry<u8> = Registry::new(1);
        let (q, _) = reg.register(0, 0, 1, params("q", 60, true));
        reg.register(0, 0, 1, params("long", 3600, false));
        assert!(reg.by_id(&q.id).unwrap().is_awake(1_000));
        assert!(!reg.by_id(&q.id).unwrap().is_awake(AWAKE_MS + 1));
        reg.heard("q", 100_000);
        assert!(reg.by_id(&q.id).unwrap().is_awake(100_500));
        assert!(reg.expire(100_000 + 60_000).is_empty());
        let gone = reg.expire(100_000 + 60_000 + EXPIRY_GRACE_MS);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].endpoint, "q");
        assert_eq!(reg.len(), 1);
    }
}
