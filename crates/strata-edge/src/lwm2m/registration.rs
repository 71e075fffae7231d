//! The registration interface, client side (LwM2M Core TS 1.1 §6.2, Transport §6.2):
//! Register, Update (at half the lifetime, and when lifetime, binding or object list
//! change), re-registration after a refused update, De-register, Disable.

use super::alloc::format;
use super::alloc::string::String;
use super::alloc::vec::Vec;
use strata_proto_coap::lwm2m::{Path, Value};
use strata_proto_coap::option::{self, format};
use strata_proto_coap::{Code, Message, Token, link_format};

use super::client::Client;
use super::config::{ClientError, ClientEvent};
use super::objects::{OBJECTS, id};
use super::store::Store;

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Idle,
    Registering,
    Registered,
    Updating,
    Deregistering,
}

/// The registration with the management server.
#[derive(Debug)]
pub(crate) struct Registration<P> {
    pub(crate) phase: Phase,
    /// The management server's address.
    pub(crate) server: Option<P>,
    /// Its Short Server ID (selects the Server object instance).
    pub(crate) ssid: u16,
    /// Location-Path segments of the registration (`rd`, id).
    pub(crate) location: Vec<String>,
    in_flight: Option<(P, Token)>,
    next_update: Option<u64>,
    /// Register again then (after a time-out, or at the end of Disable).
    retry_at: Option<u64>,
    retry_base: u64,
    retry_delay: u64,
    /// An update is wanted once the request in flight is answered.
    update_queued: bool,
    sent_lifetime: u32,
    sent_binding: String,
    sent_links: String,
}

impl<P: Copy + Eq> Registration<P> {
    pub(crate) fn new(server: Option<P>, ssid: u16, retry_ms: u64) -> Self {
        Registration {
            phase: Phase::Idle,
            server,
            ssid,
            location: Vec::new(),
            in_flight: None,
            next_update: None,
            retry_at: None,
            retry_base: retry_ms.max(1),
            retry_delay: retry_ms.max(1),
            update_queued: false,
            sent_lifetime: 0,
            sent_binding: String::new(),
            sent_links: String::new(),
        }
    }

    /// Whether this response or failure concerns the request in flight.
    pub(crate) fn owns(&self, peer: P, token: Token) -> bool {
        self.in_flight == Some((peer, token))
    }

    pub(crate) fn next_deadline(&self) -> Option<u64> {
        if self.in_flight.is_some() {
            // The answer (or the endpoint's time-out) comes first.
            return None;
        }
        let update = self.next_update.filter(|_| self.phase == Phase::Registered);
        [update, self.retry_at].into_iter().flatten().min()
    }

    /// Registered with nothing in flight: an Update can go out now.
    pub(crate) fn can_wake(&self) -> bool {
        self.phase == Phase::Registered && self.in_flight.is_none()
    }

    /// The Server object instance of this server.
    pub(crate) fn server_instance(&self, store: &Store) -> Option<u16> {
        store.instance_ids(id::SERVER).into_iter().find(|i| {
            store.value(&Path::resource(id::SERVER, *i, 0))
                == Some(&Value::Integer(i64::from(self.ssid)))
        })
    }
}

impl<P: Ord + Copy> Client<P> {
    /// Registers with the configured server.
    pub fn register(&mut self, now: u64) -> Result<(), ClientError> {
        if self.reg.server.is_none() {
            return Err(ClientError::NoServer);
        }
        if self.reg.in_flight.is_some() {
            return Err(ClientError::Busy);
        }
        self.send_register(now)
    }

    /// Registers with the server at `peer` (e.g. the one a bootstrap server named in
    /// [`ClientEvent::Bootstrapped`]).
    pub fn register_at(&mut self, now: u64, peer: P) -> Result<(), ClientError> {
        if self.reg.in_flight.is_some() {
            return Err(ClientError::Busy);
        }
        self.reg.server = Some(peer);
        self.send_register(now)
    }

    /// Sends a registration update now (or right after the request in flight).
    pub fn update(&mut self, now: u64) -> Result<(), ClientError> {
        match self.reg.phase {
            Phase::Registered | Phase::Updating => {
                self.update_soon(now);
                Ok(())
            }
            _ => Err(ClientError::NotRegistered),
        }
    }

    /// De-registers (DELETE on the registration); [`ClientEvent::Deregistered`] follows.
    pub fn deregister(&mut self, now: u64) -> Result<(), ClientError> {
        if self.reg.location.is_empty() || self.reg.phase == Phase::Idle {
            return Err(ClientError::NotRegistered);
        }
        let peer = self.reg.server.ok_or(ClientError::NoServer)?;
        if let Some((p, t)) = self.reg.in_flight.take() {
            self.endpoint.cancel(p, t);
        }
        let location = self.reg.location.clone();
        let token = self
            .endpoint
            .request(now, peer, true, Code::DELETE, false, |w| {
                for segment in &location {
                    w.option(option::URI_PATH, segment.as_bytes())?;
                }
                Ok(())
            })?;
        self.reg.in_flight = Some((peer, token));
        self.reg.phase = Phase::Deregistering;
        self.reg.update_queued = false;
        Ok(())
    }

    /// Registered (possibly with an update in flight).
    pub fn is_registered(&self) -> bool {
        matches!(self.reg.phase, Phase::Registered | Phase::Updating)
    }

    /// The registration's location (`rd/...`), when registered.
    pub fn location(&self) -> Option<String> {
        self.is_registered().then(|| self.reg.location.join("/"))
    }

    /// The Lifetime in force (/1/x/1), s.
    pub fn lifetime(&self) -> u32 {
        match self.server_resource(1) {
            Some(Value::Integer(lt)) if *lt > 0 => u32::try_from(*lt).unwrap_or(u32::MAX),
            _ => self.config.lifetime,
        }
    }

    fn binding(&self) -> String {
        match self.server_resource(7) {
            Some(Value::String(b)) if !b.is_empty() => b.clone(),
            _ => self.config.binding.clone(),
        }
    }

    fn server_resource(&self, resource: u16) -> Option<&Value> {
        let instance = self.reg.server_instance(&self.store)?;
        self.store
            .value(&Path::resource(id::SERVER, instance, resource))
    }

    /// The registration's object list: the root link with the data formats this client
    /// speaks, then every object instance (or the object, when it has none). The Security
    /// object is never listed (Core §6.2.1).
    pub(crate) fn object_links(&self) -> String {
        let mut out = String::new();
        let ct = format!(
            "{} {} {}",
            format::SENML_JSON,
            format::SENML_CBOR,
            format::LWM2M_TLV
        );
        link_format::write_link(
            &mut out,
            "/",
            &[("rt", Some("oma.lwm2m")), ("ct", Some(ct.as_str()))],
        );
        for object in OBJECTS.iter().filter(|o| o.id != id::SECURITY) {
            let instances = self.store.instance_ids(object.id);
            if instances.is_empty() {
                link_format::write_link(&mut out, &format!("/{}", object.id), &[]);
            }
            for i in instances {
                link_format::write_link(&mut out, &format!("/{}/{i}", object.id), &[]);
            }
        }
        out
    }

    fn send_register(&mut self, now: u64) -> Result<(), ClientError> {
        let peer = self.reg.server.ok_or(ClientError::NoServer)?;
        let lifetime = self.lifetime();
        let binding = self.binding();
        let links = self.object_links();
        let mut queries = Vec::from([
            format!("ep={}", self.config.endpoint_name),
            format!("lt={lifetime}"),
            format!("lwm2m={}", self.config.version),
            format!("b={binding}"),
        ]);
        if self.config.queue_mode {
            queries.push("Q".into());
        }
        let token = self
            .endpoint
            .request(now, peer, true, Code::POST, false, |w| {
                w.option(option::URI_PATH, b"rd")?;
                w.uint_option(option::CONTENT_FORMAT, u32::from(format::LINK_FORMAT))?;
                for q in &queries {
                    w.option(option::URI_QUERY, q.as_bytes())?;
                }
                w.payload(links.as_bytes());
                Ok(())
            })?;
        self.reg.in_flight = Some((peer, token));
        self.reg.phase = Phase::Registering;
        self.reg.retry_at = None;
        self.reg.update_queued = false;
        self.reg.sent_lifetime = lifetime;
        self.reg.sent_binding = binding;
        self.reg.sent_links = links;
        Ok(())
    }

    /// Sends an update now if possible, else once the request in flight is answered.
    pub(crate) fn update_soon(&mut self, now: u64) {
        match self.reg.phase {
            Phase::Registered if self.reg.in_flight.is_none() => {
                if self.send_update(now).is_err() {
                    self.reg.update_queued = true;
                }
            }
            Phase::Registered | Phase::Updating | Phase::Registering => {
                self.reg.update_queued = true;
            }
            Phase::Idle | Phase::Deregistering => {}
        }
    }

    /// Update: `lt`, `b` and the object list only when they changed since last sent.
    fn send_update(&mut self, now: u64) -> Result<(), ClientError> {
        let peer = self.reg.server.ok_or(ClientError::NoServer)?;
        let lifetime = self.lifetime();
        let binding = self.binding();
        let links = self.object_links();
        let mut queries = Vec::new();
        if lifetime != self.reg.sent_lifetime {
            queries.push(format!("lt={lifetime}"));
        }
        if binding != self.reg.sent_binding {
            queries.push(format!("b={binding}"));
        }
        let payload = if links != self.reg.sent_links {
            links.clone()
        } else {
            String::new()
        };
        let location = self.reg.location.clone();
        let token = self
            .endpoint
            .request(now, peer, true, Code::POST, false, |w| {
                for segment in &location {
                    w.option(option::URI_PATH, segment.as_bytes())?;
                }
                if !payload.is_empty() {
                    w.uint_option(option::CONTENT_FORMAT, u32::from(format::LINK_FORMAT))?;
                }
                for q in &queries {
                    w.option(option::URI_QUERY, q.as_bytes())?;
                }
                w.payload(payload.as_bytes());
                Ok(())
            })?;
        self.reg.in_flight = Some((peer, token));
        self.reg.phase = Phase::Updating;
        self.reg.update_queued = false;
        self.reg.sent_lifetime = lifetime;
        self.reg.sent_binding = binding;
        self.reg.sent_links = links;
        Ok(())
    }

    /// The answer to Register, Update or De-register.
    pub(crate) fn registration_response(&mut self, now: u64, message: &Message<'_>) {
        self.reg.in_flight = None;
        let diagnostic = String::from_utf8_lossy(message.payload).into_owned();
        match self.reg.phase {
            Phase::Registering if message.code == Code::CREATED => {
                let location: Vec<String> = message
                    .option_values(option::LOCATION_PATH)
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect();
                if location.is_empty() {
                    self.reg.phase = Phase::Idle;
                    self.events.push_back(ClientEvent::RegistrationFailed {
                        code: Some(message.code),
                        diagnostic: "2.01 without Location-Path".into(),
                    });
                    return;
                }
                self.reg.location = location;
                self.reg.phase = Phase::Registered;
                self.reg.retry_delay = self.reg.retry_base;
                self.schedule_update(now);
                // A new registration starts without observations (Core §6.2.1).
                self.observations.clear();
                self.events.push_back(ClientEvent::Registered {
                    location: self.reg.location.join("/"),
                });
                if self.reg.update_queued {
                    self.update_soon(now);
                }
            }
            Phase::Registering => {
                self.reg.phase = Phase::Idle;
                self.events.push_back(ClientEvent::RegistrationFailed {
                    code: Some(message.code),
                    diagnostic,
                });
            }
            Phase::Updating if message.code == Code::CHANGED => {
                self.reg.phase = Phase::Registered;
                self.schedule_update(now);
                self.events.push_back(ClientEvent::Updated);
                if self.reg.update_queued {
                    self.update_soon(now);
                }
            }
            Phase::Updating => {
                // 4.04: the server forgot us; any other refusal: start over too.
                self.reg.phase = Phase::Idle;
                let _ = self.send_register(now);
            }
            Phase::Deregistering => self.deregistered(),
            Phase::Idle | Phase::Registered => {}
        }
    }

    /// The request in flight got no answer (or RST).
    pub(crate) fn registration_lost(&mut self, now: u64) {
        self.reg.in_flight = None;
        match self.reg.phase {
            Phase::Registering => {
                self.reg.phase = Phase::Idle;
                self.reg.retry_at = Some(now.saturating_add(self.reg.retry_delay));
                self.reg.retry_delay = (self.reg.retry_delay * 2).min(self.reg.retry_base * 16);
                self.events.push_back(ClientEvent::RegistrationFailed {
                    code: None,
                    diagnostic: "no answer from the LwM2M server".into(),
                });
            }
            Phase::Updating => {
                self.reg.phase = Phase::Idle;
                let _ = self.send_register(now);
            }
            Phase::Deregistering => self.deregistered(),
            Phase::Idle | Phase::Registered => {}
        }
    }

    fn deregistered(&mut self) {
        self.reg.phase = Phase::Idle;
        self.reg.location.clear();
        self.reg.next_update = None;
        self.observations.clear();
        self.events.push_back(ClientEvent::Deregistered);
    }

    fn schedule_update(&mut self, now: u64) {
        let half = u64::from(self.lifetime()) * 500;
        self.reg.next_update = Some(now.saturating_add(half.max(1_000)));
    }

    /// Periodic updates and retries.
    pub(crate) fn registration_timeout(&mut self, now: u64) {
        if let Some(at) = self.reg.retry_at
            && at <= now
            && self.reg.in_flight.is_none()
        {
            self.reg.retry_at = None;
            let _ = self.send_register(now);
        }
        if self.reg.can_wake() && self.reg.next_update.is_some_and(|t| t <= now) {
            let _ = self.send_update(now);
        }
    }

    /// Disable (/1/x/4): de-register, register again after Disable Timeout (/1/x/5,
    /// 86400 s when absent).
    pub(crate) fn disable(&mut self, now: u64) {
        let seconds = match self.server_resource(5) {
            Some(Value::Integer(s)) if *s >= 0 => u32::try_from(*s).unwrap_or(u32::MAX),
            _ => 86_400,
        };
        if self.deregister(now).is_ok() {
            self.reg.retry_at = Some(now.saturating_add(u64::from(seconds) * 1000));
            self.events.push_back(ClientEvent::Disabled { seconds });
        }
    }
}
