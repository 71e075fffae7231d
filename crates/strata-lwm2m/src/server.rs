//! The server: the registration interface (`/rd`), device-management and information
//! reporting operations on registered clients, and their mapping onto Strata devices.
//!
//! A client registers with its endpoint name; when that name was assigned to a device
//! (`POST /api/devices/{id}/credentials/lwm2m`), the registration is the device's connection:
//! notifications become its telemetry and registration changes its connectivity. Unknown
//! endpoints are refused (4.03) unless `lwm2m.allow_unknown_endpoints` is set.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json, json};
use strata_platform::Platform;
use strata_platform::events::Event;
use strata_proto_coap::block::BlockValue;
use strata_proto_coap::lwm2m::{self, Path, Record, Value};
use strata_proto_coap::{Code, Token, option};
use strata_store::DeviceIdentity;
use tokio::sync::Notify;

use crate::error::Lwm2mError;
use crate::model::Models;
use crate::registration::{ObjectLink, RegisterParams};
use crate::registry::{Registration, Registry};
use crate::transport::{InResponse, OutRequest, Transport, TransportError};

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Lwm2mConfig {
    /// Let endpoints that belong to no device register (without a device: their
    /// notifications only reach the event stream).
    pub allow_unknown_endpoints: bool,
    /// How long an operation waits for a queue-mode client to wake up.
    pub queue_wait: Duration,
    /// The CoAP URI clients reach this server at (written by the bootstrap server).
    pub server_uri: String,
    /// How long a queue-mode client is reachable after it was heard from.
    pub queue_awake: Duration,
    /// Lifetime given to clients by the bootstrap server, s.
    pub bootstrap_lifetime: u32,
}

impl Default for Lwm2mConfig {
    fn default() -> Self {
        Lwm2mConfig {
            allow_unknown_endpoints: false,
            queue_wait: Duration::from_secs(30),
            server_uri: "coap://127.0.0.1:5683".into(),
            queue_awake: Duration::from_millis(crate::registry::AWAKE_MS),
            bootstrap_lifetime: 300,
        }
    }
}

/// The answer to a registration-interface request.
#[derive(Debug, Clone)]
pub struct RdReply {
    /// Response code.
    pub code: Code,
    /// Location-Path segments (`rd`, registration ID) of a new registration.
    pub location: Vec<String>,
    /// Diagnostic payload of a refusal.
    pub payload: Vec<u8>,
}

impl RdReply {
    fn refused(code: Code, message: impl Into<String>) -> RdReply {
        RdReply {
            code,
            location: Vec::new(),
            payload: message.into().into_bytes(),
        }
    }

    fn ok(code: Code) -> RdReply {
        RdReply {
            code,
            location: Vec::new(),
            payload: Vec::new(),
        }
    }
}

/// A registered client as the API shows it.
#[derive(Debug, Clone)]
pub struct ClientInfo {
    /// The registration.
    pub registration: Registration<SocketAddr>,
    /// The device it is, if any.
    pub device: Option<DeviceIdentity>,
    /// Reachable now (false for a sleeping queue-mode client).
    pub awake: bool,
    /// Paths observed.
    pub observations: Vec<Path>,
}

pub(crate) struct ClientState {
    /// The registration this state belongs to.
    pub(crate) registration: String,
    pub(crate) device: Option<DeviceIdentity>,
    pub(crate) awake: Arc<Notify>,
}

pub(crate) struct Observation {
    pub(crate) endpoint: String,
    pub(crate) path: Path,
}

pub(crate) struct Inner {
    pub(crate) platform: Platform,
    pub(crate) config: Lwm2mConfig,
    /// The listener's address as a URI, when `server_uri` was left empty.
    listen_uri: RwLock<String>,
    pub(crate) models: RwLock<Models>,
    pub(crate) registry: Mutex<Registry<SocketAddr>>,
    pub(crate) clients: Mutex<HashMap<String, ClientState>>,
    pub(crate) observations: Mutex<HashMap<(SocketAddr, Token), Observation>>,
    pub(crate) transport: RwLock<Option<Arc<dyn Transport>>>,
    pub(crate) firmware: crate::firmware::Firmware,
    /// Endpoints being bootstrapped now (see `handle_bootstrap`).
    pub(crate) bootstrapping: Mutex<crate::bootstrap::Bootstraps>,
    started: Instant,
}

/// The LwM2M server (a cheap handle).
#[derive(Clone)]
pub struct Lwm2mServer {
    pub(crate) inner: Arc<Inner>,
}

/// Longest wait for a client's response to one request.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(150);

/// Block size for requests this server splits (1024 bytes).
pub(crate) const SZX: u8 = 6;

impl Lwm2mServer {
    /// A server using `models` for content decoding.
    pub fn new(platform: Platform, models: Models, config: Lwm2mConfig, seed: u64) -> Self {
        let mut registry = Registry::new(seed);
        registry.set_awake_ms(config.queue_awake.as_millis() as u64);
        Lwm2mServer {
            inner: Arc::new(Inner {
                platform,
                config,
                listen_uri: RwLock::new(String::new()),
                models: RwLock::new(models),
                registry: Mutex::new(registry),
                clients: Mutex::new(HashMap::new()),
                observations: Mutex::new(HashMap::new()),
                transport: RwLock::new(None),
                firmware: crate::firmware::Firmware::default(),
                bootstrapping: Mutex::default(),
                started: Instant::now(),
            }),
        }
    }

    /// Connects the CoAP listener that carries requests to clients.
    pub fn set_transport(&self, transport: Arc<dyn Transport>) {
        if let Ok(mut t) = self.inner.transport.write() {
            *t = Some(transport);
        }
    }

    /// The settings.
    pub fn config(&self) -> &Lwm2mConfig {
        &self.inner.config
    }

    /// Tells the server the CoAP URI it listens at (used when `server_uri` is empty).
    pub fn set_server_uri(&self, uri: &str) {
        if let Ok(mut u) = self.inner.listen_uri.write() {
            *u = uri.to_string();
        }
    }

    /// The CoAP URI clients reach this server at.
    pub fn server_uri(&self) -> String {
        if !self.inner.config.server_uri.is_empty() {
            return self.inner.config.server_uri.clone();
        }
        self.inner
            .listen_uri
            .read()
            .map(|u| u.clone())
            .unwrap_or_default()
    }

    pub(crate) fn now(&self) -> u64 {
        self.inner.started.elapsed().as_millis() as u64
    }

    /// Runs `f` with the object model.
    pub fn with_models<R>(&self, f: impl FnOnce(&Models) -> R) -> Option<R> {
        self.inner.models.read().ok().map(|m| f(&m))
    }

    /// Handles a request to `/rd` (register, update, de-register) from `peer`.
    pub async fn handle_rd(
        &self,
        peer: SocketAddr,
        method: Code,
        path: &[String],
        queries: &[Vec<u8>],
        content_format: Option<u16>,
        payload: &[u8],
    ) -> RdReply {
        let queries = queries.iter().map(Vec::as_slice);
        match (method, path) {
            (Code::POST, [rd]) if rd == "rd" => {
                match RegisterParams::parse(queries, content_format, payload, true) {
                    Ok(params) => self.register(peer, params).await,
                    Err(r) => RdReply::refused(r.code, r.message),
                }
            }
            (Code::POST, [rd, id]) if rd == "rd" => {
                match RegisterParams::parse(queries, content_format, payload, false) {
                    Ok(params) => self.update(peer, id, params),
                    Err(r) => RdReply::refused(r.code, r.message),
                }
            }
            (Code::DELETE, [rd, id]) if rd == "rd" => self.deregister(peer, id),
            (_, [rd] | [rd, _]) if rd == "rd" => {
                RdReply::refused(Code::METHOD_NOT_ALLOWED, "register with POST /rd")
            }
            _ => RdReply::refused(Code::NOT_FOUND, "no such registration resource"),
        }
    }

    async fn register(&self, peer: SocketAddr, params: RegisterParams) -> RdReply {
        let endpoint = params.endpoint.clone().unwrap_or_default();
        let device = match self
            .inner
            .platform
            .device_for_lwm2m_endpoint(&endpoint)
            .await
        {
            Ok(d) => d,
            Err(e) => return RdReply::refused(Code::SERVICE_UNAVAILABLE, e.message),
        };
        if device.is_none() && !self.inner.config.allow_unknown_endpoints {
            return RdReply::refused(
                Code::FORBIDDEN,
                format!(
                    "endpoint {endpoint:?} is not assigned to a device; add it with POST \
                     /api/devices/{{id}}/credentials/lwm2m"
                ),
            );
        }
        let now = self.now();
        let (registration, replaced) = match self.inner.registry.lock() {
            Ok(mut r) => r.register(now, strata_platform::now_millis(), peer, params),
            Err(_) => return RdReply::refused(Code::INTERNAL_SERVER_ERROR, "registry unavailable"),
        };
        if let Some(old) = replaced {
            self.ended(&old, "replaced");
        }
        let awake = {
            let Ok(mut clients) = self.inner.clients.lock() else {
                return RdReply::refused(Code::INTERNAL_SERVER_ERROR, "registry unavailable");
            };
            let state = clients
                .entry(endpoint.clone())
                .or_insert_with(|| ClientState {
                    registration: registration.id.clone(),
                    device,
                    awake: Arc::new(Notify::new()),
                });
            state.registration = registration.id.clone();
            state.device = device;
            Arc::clone(&state.awake)
        };
        awake.notify_waiters();
        if let Some(device) = &device {
            self.inner.platform.device_connected(device);
        }
        metrics::counter!("strata_lwm2m_registrations_total").increment(1);
        self.update_gauge();
        self.emit(&registration, device.as_ref(), "registered");
        tracing::debug!(%endpoint, id = %registration.id, %peer, "LwM2M client registered");
        RdReply {
            code: Code::CREATED,
            location: vec!["rd".into(), registration.id],
            payload: Vec::new(),
        }
    }

    fn update(&self, peer: SocketAddr, id: &str, params: RegisterParams) -> RdReply {
        if let Some(refused) = self.foreign(peer, id) {
            return refused;
        }
        let now = self.now();
        let updated = match self.inner.registry.lock() {
            Ok(mut r) => r
                .update(now, strata_platform::now_millis(), id, peer, params)
                .cloned(),
            Err(_) => return RdReply::refused(Code::INTERNAL_SERVER_ERROR, "registry unavailable"),
        };
        let Some(registration) = updated else {
            // The client registers again when its update is refused with 4.04.
            return RdReply::refused(Code::NOT_FOUND, "unknown registration; register again");
        };
        let device = self.client_device(&registration.endpoint);
        if let Some(device) = &device {
            self.inner.platform.device_seen(device);
        }
        self.wake(&registration.endpoint);
        self.emit(&registration, device.as_ref(), "updated");
        RdReply::ok(Code::CHANGED)
    }

    /// Over plain CoAP the address is the client's only identity: an update or
    /// de-registration must come from where the registration came from (a client whose
    /// address changed registers again, as it does after a 4.03 or 4.04).
    fn foreign(&self, peer: SocketAddr, id: &str) -> Option<RdReply> {
        let owner = self
            .inner
            .registry
            .lock()
            .ok()
            .and_then(|r| r.by_id(id).map(|x| x.peer))?;
        (owner != peer).then(|| {
            RdReply::refused(
                Code::FORBIDDEN,
                "this registration belongs to another address; register again",
            )
        })
    }

    fn deregister(&self, peer: SocketAddr, id: &str) -> RdReply {
        if let Some(refused) = self.foreign(peer, id) {
            return refused;
        }
        let gone = self
            .inner
            .registry
            .lock()
            .ok()
            .and_then(|mut r| r.deregister(id));
        match gone {
            Some(registration) => {
                self.ended(&registration, "deregistered");
                RdReply::ok(Code::DELETED)
            }
            None => RdReply::refused(Code::NOT_FOUND, "unknown registration"),
        }
    }

    /// Cleans up after a registration ended (de-registered, expired or replaced).
    fn ended(&self, registration: &Registration<SocketAddr>, why: &'static str) {
        let device = self.client_device(&registration.endpoint);
        // Only if the client state is still this registration's: the endpoint may have
        // registered again meanwhile.
        let current = self.inner.clients.lock().is_ok_and(|mut clients| {
            let mine = clients
                .get(&registration.endpoint)
                .is_some_and(|s| s.registration == registration.id);
            if mine && why != "replaced" {
                clients.remove(&registration.endpoint);
            }
            mine
        });
        if !current && why != "replaced" {
            return;
        }
        if let Some(device) = &device {
            self.inner.platform.device_disconnected(device);
        }
        // Observations belong to the registration (the client forgets them too).
        let stale: Vec<(SocketAddr, Token)> = self
            .inner
            .observations
            .lock()
            .map(|mut o| {
                let keys: Vec<_> = o
                    .iter()
                    .filter(|(_, ob)| ob.endpoint == registration.endpoint)
                    .map(|(k, _)| *k)
                    .collect();
                for k in &keys {
                    o.remove(k);
                }
                keys
            })
            .unwrap_or_default();
        if let Some(transport) = self.transport() {
            for (peer, token) in stale {
                transport.forget(peer, token);
            }
        }
        self.update_gauge();
        self.emit(registration, device.as_ref(), why);
        tracing::debug!(endpoint = %registration.endpoint, why, "LwM2M registration ended");
    }

    fn update_gauge(&self) {
        if let Ok(r) = self.inner.registry.lock() {
            metrics::gauge!("strata_lwm2m_registered_clients").set(r.len() as f64);
        }
    }

    fn emit(&self, r: &Registration<SocketAddr>, device: Option<&DeviceIdentity>, what: &str) {
        let tenant = device.map_or_else(|| self.inner.platform.default_tenant(), |d| d.tenant);
        self.inner.platform.emit(|| Event {
            tenant,
            kind: "lwm2m",
            device_id: device.map(|d| d.device_id),
            ts: strata_platform::now_millis(),
            data: json!({"event": what, "endpoint": r.endpoint, "registration": r.id}),
        });
    }

    /// Ends the registrations of a device (its credentials were revoked or it was
    /// deleted); returns how many.
    pub fn disconnect_device(&self, device: uuid::Uuid) -> usize {
        let endpoints: Vec<String> = self
            .inner
            .clients
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|(_, s)| s.device.is_some_and(|d| d.device_id == device))
                    .map(|(e, _)| e.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut n = 0;
        for endpoint in endpoints {
            let id = self
                .inner
                .registry
                .lock()
                .ok()
                .and_then(|r| r.by_endpoint(&endpoint).map(|x| x.id.clone()));
            let gone = id.and_then(|id| self.inner.registry.lock().ok()?.deregister(&id));
            if let Some(registration) = gone {
                self.ended(&registration, "revoked");
                n += 1;
            }
        }
        n
    }

    /// Drops registrations whose lifetime ran out, every few seconds, for ever.
    pub async fn run_expiry(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tick.tick().await;
            let now = self.now();
            let gone = self
                .inner
                .registry
                .lock()
                .map(|mut r| r.expire(now))
                .unwrap_or_default();
            for registration in gone {
                self.ended(&registration, "expired");
            }
        }
    }

    /// Notes that `peer` was heard from (any message from a registered client wakes it).
    pub fn heard_from(&self, peer: SocketAddr) {
        let endpoint = self
            .inner
            .registry
            .lock()
            .ok()
            .and_then(|r| r.endpoint_of(&peer).map(str::to_string));
        if let Some(endpoint) = endpoint {
            self.wake(&endpoint);
        }
    }

    fn wake(&self, endpoint: &str) {
        if let Ok(mut r) = self.inner.registry.lock() {
            r.heard(endpoint, self.now());
        }
        if let Some(awake) = self
            .inner
            .clients
            .lock()
            .ok()
            .and_then(|c| c.get(endpoint).map(|s| Arc::clone(&s.awake)))
        {
            awake.notify_waiters();
        }
    }

    pub(crate) fn client_device(&self, endpoint: &str) -> Option<DeviceIdentity> {
        self.inner
            .clients
            .lock()
            .ok()
            .and_then(|c| c.get(endpoint).and_then(|s| s.device))
    }

    pub(crate) fn transport(&self) -> Option<Arc<dyn Transport>> {
        self.inner.transport.read().ok().and_then(|t| t.clone())
    }

    /// Every registered client.
    pub fn clients(&self) -> Vec<ClientInfo> {
        let registrations: Vec<Registration<SocketAddr>> = self
            .inner
            .registry
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        registrations.into_iter().map(|r| self.info(r)).collect()
    }

    /// One registered client.
    pub fn client(&self, endpoint: &str) -> Option<ClientInfo> {
        let r = self
            .inner
            .registry
            .lock()
            .ok()
            .and_then(|r| r.by_endpoint(endpoint).cloned())?;
        Some(self.info(r))
    }

    /// How many clients are registered.
    pub fn client_count(&self) -> usize {
        self.inner.registry.lock().map(|r| r.len()).unwrap_or(0)
    }

    fn info(&self, registration: Registration<SocketAddr>) -> ClientInfo {
        let observations = self
            .inner
            .observations
            .lock()
            .map(|o| {
                o.values()
                    .filter(|ob| ob.endpoint == registration.endpoint)
                    .map(|ob| ob.path)
                    .collect()
            })
            .unwrap_or_default();
        ClientInfo {
            device: self.client_device(&registration.endpoint),
            awake: registration.is_awake(self.now()),
            registration,
            observations,
        }
    }

    /// The registration of `endpoint`, waiting (up to `lwm2m.queue_wait`) for a queue-mode
    /// client to wake up.
    pub(crate) async fn reachable(
        &self,
        endpoint: &str,
    ) -> Result<Registration<SocketAddr>, Lwm2mError> {
        let deadline = tokio::time::Instant::now() + self.inner.config.queue_wait;
        loop {
            let (registration, awake) = {
                let r = self
                    .inner
                    .registry
                    .lock()
                    .ok()
                    .and_then(|r| r.by_endpoint(endpoint).cloned())
                    .ok_or_else(|| Lwm2mError::NotRegistered(endpoint.to_string()))?;
                let awake = self
                    .inner
                    .clients
                    .lock()
                    .ok()
                    .and_then(|c| c.get(endpoint).map(|s| Arc::clone(&s.awake)))
                    .ok_or_else(|| Lwm2mError::NotRegistered(endpoint.to_string()))?;
                (r, awake)
            };
            // Armed before the check, so a wake-up between the two is not missed.
            let notified = awake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if registration.is_awake(self.now()) {
                return Ok(registration);
            }
            // Held until the device wakes (its next update or any message).
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(Lwm2mError::Asleep(self.inner.config.queue_wait.as_secs()));
            }
        }
    }

    /// Sends one request to a registered client and waits for the response.
    pub(crate) async fn send(
        &self,
        registration: &Registration<SocketAddr>,
        request: OutRequest,
    ) -> Result<InResponse, Lwm2mError> {
        let transport = self.transport().ok_or(TransportError::Closed)?;
        let reply = transport.request(registration.peer, request);
        // A client that acknowledged and then vanished never answers: give up after the
        // exchange could possibly have completed (MAX_TRANSMIT_WAIT 93 s, plus slack).
        let response = tokio::time::timeout(REQUEST_TIMEOUT, reply)
            .await
            .map_err(|_| TransportError::TimedOut)?
            .map_err(|_| TransportError::Closed)??;
        self.wake(&registration.endpoint);
        Ok(response)
    }

    /// Uri-Path segments of `path` under the client's root.
    pub(crate) fn segments(registration: &Registration<SocketAddr>, path: &Path) -> Vec<String> {
        let mut segments: Vec<String> = registration
            .root
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        segments.extend(path.ids().map(|id| id.to_string()));
        segments
    }

    /// The content format to write in: TLV, which LwM2M 1.0 makes mandatory and the
    /// common 1.1 clients (Wakaama, Anjay, Leshan) read.
    pub(crate) fn write_format(_registration: &Registration<SocketAddr>) -> u16 {
        option::format::LWM2M_TLV
    }

    /// Fails unless the response has the expected code.
    pub(crate) fn expect(response: &InResponse, codes: &[Code]) -> Result<(), Lwm2mError> {
        if codes.contains(&response.code) {
            return Ok(());
        }
        Err(Lwm2mError::Client {
            code: response.code,
            message: String::from_utf8_lossy(&response.payload)
                .chars()
                .take(200)
                .collect(),
        })
    }

    /// Reads a GET response body, following Block2 to the end.
    pub(crate) async fn get_all(
        &self,
        registration: &Registration<SocketAddr>,
        mut request: OutRequest,
        first: InResponse,
    ) -> Result<InResponse, Lwm2mError> {
        let mut response = first;
        let mut body = std::mem::take(&mut response.payload);
        while let Some(block) = response.block2.filter(|b| b.more) {
            if body.len() > 16 * 1024 * 1024 {
                return Err(Lwm2mError::Invalid("response larger than 16 MiB".into()));
            }
            request.block2 = Some(BlockValue {
                num: block.num + 1,
                more: false,
                szx: block.szx,
            });
            request.observe = None;
            response = self.send(registration, request.clone()).await?;
            Self::expect(&response, &[Code::CONTENT])?;
            body.extend_from_slice(&response.payload);
        }
        response.payload = body;
        Ok(response)
    }

    /// Decodes a response payload at `path`.
    pub(crate) fn decode(
        &self,
        path: &Path,
        response: &InResponse,
    ) -> Result<Vec<Record>, Lwm2mError> {
        let format = response.content_format.unwrap_or(option::format::TEXT);
        let models = self
            .inner
            .models
            .read()
            .map_err(|_| Lwm2mError::Invalid("object model unavailable".into()))?;
        Ok(lwm2m::decode(format, path, &response.payload, &*models)?)
    }

    /// Turns records into telemetry of the client's device and an `lwm2m` event.
    pub(crate) async fn report(&self, endpoint: &str, path: &Path, records: &[Record]) {
        let device = self.client_device(endpoint);
        let now_ms = strata_platform::now_millis();
        let mut by_ts: std::collections::BTreeMap<i64, Map<String, Json>> = Default::default();
        for record in records {
            let ts = match record.time {
                // Absolute times only; relative SenML times count from now (RFC 8428).
                Some(t) if t >= (1u64 << 28) as f64 => (t * 1000.0) as i64,
                Some(t) => now_ms + (t * 1000.0) as i64,
                None => now_ms,
            };
            let key = record.path.to_string().trim_start_matches('/').to_string();
            by_ts
                .entry(ts)
                .or_default()
                .insert(key, value_json(&record.value));
        }
        let tenant = device.map_or_else(|| self.inner.platform.default_tenant(), |d| d.tenant);
        let values: Vec<Json> = records
            .iter()
            .map(|r| json!({"path": r.path.to_string(), "value": value_json(&r.value)}))
            .collect();
        self.inner.platform.emit(|| Event {
            tenant,
            kind: "lwm2m",
            device_id: device.map(|d| d.device_id),
            ts: now_ms,
            data: json!({"event": "notification", "endpoint": endpoint, "path": path.to_string(), "values": values}),
        });
        let Some(device) = device else {
            return;
        };
        let payload: Vec<Json> = by_ts
            .into_iter()
            .map(|(ts, values)| json!({"ts": ts, "values": values}))
            .collect();
        if payload.is_empty() {
            return;
        }
        if let Err(e) = self
            .inner
            .platform
            .ingest_json(&device, Json::Array(payload), "lwm2m")
            .await
        {
            tracing::warn!(%endpoint, error = %e, "LwM2M notification not stored");
        }
    }

    /// The version of an object the client announced (`ver`), for the API.
    pub fn object_links(&self, endpoint: &str) -> Vec<ObjectLink> {
        self.inner
            .registry
            .lock()
            .ok()
            .and_then(|r| r.by_endpoint(endpoint).map(|x| x.objects.clone()))
            .unwrap_or_default()
    }
}

/// A resource value as JSON: numbers, booleans and strings as such, object links as
/// `"3:0"`, opaque bytes as hex.
pub fn value_json(value: &Value) -> Json {
    match value {
        Value::String(s) | Value::CoreLink(s) => Json::String(s.clone()),
        Value::Integer(i) | Value::Time(i) => json!(i),
        Value::UnsignedInteger(u) => json!(u),
        Value::Float(f) => json!(f),
        Value::Boolean(b) => json!(b),
        Value::Opaque(bytes) => Json::String(hex::encode(bytes)),
        Value::ObjLink(o, i) => Json::String(format!("{o}:{i}")),
    }
}
