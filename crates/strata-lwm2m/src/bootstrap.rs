//! The bootstrap server (LwM2M Core §6.1, client-initiated bootstrap): a client sends
//! `POST /bs?ep=name`; the server deletes its Security and Server instances, writes a
//! Security instance (this server's URI, NoSec) and a Server instance (short server ID 1,
//! lifetime, binding U), and ends with Bootstrap-Finish. The client then registers.

use std::net::SocketAddr;

use strata_proto_coap::lwm2m::{self, Path, Record, Value};
use strata_proto_coap::{Code, option};

use crate::error::Lwm2mError;
use crate::server::{Lwm2mServer, RdReply};
use crate::transport::{OutRequest, TransportError};

/// Bootstraps running at once, at most.
const MAX_CONCURRENT_BOOTSTRAPS: usize = 64;

/// The bootstraps running now, one per endpoint.
#[derive(Default)]
pub(crate) struct Bootstraps {
    /// Endpoint -> (which bootstrap, to stop it).
    running: std::collections::HashMap<String, (u64, tokio::task::AbortHandle)>,
    next: u64,
}

/// Takes an endpoint off the running bootstraps however its task ends, unless a newer
/// bootstrap of the endpoint replaced it meanwhile.
struct BootstrapDone {
    server: Lwm2mServer,
    endpoint: String,
    generation: u64,
}

impl Drop for BootstrapDone {
    fn drop(&mut self) {
        if let Ok(mut bootstraps) = self.server.inner.bootstrapping.lock()
            && bootstraps
                .running
                .get(&self.endpoint)
                .is_some_and(|(g, _)| *g == self.generation)
        {
            bootstraps.running.remove(&self.endpoint);
        }
    }
}

/// Short Server ID written for this server.
const SHORT_SERVER_ID: i64 = 1;

impl Lwm2mServer {
    /// Handles `POST /bs?ep=...`: refuses endpoints not assigned to a device (unless
    /// unknown endpoints are allowed), acknowledges, and bootstraps the client in the
    /// background.
    pub async fn handle_bootstrap(
        &self,
        peer: SocketAddr,
        method: Code,
        queries: &[Vec<u8>],
    ) -> RdReply {
        let refused = |code, text: &str| RdReply {
            code,
            location: Vec::new(),
            payload: text.as_bytes().to_vec(),
        };
        if method != Code::POST {
            return refused(
                Code::METHOD_NOT_ALLOWED,
                "request bootstrap with POST /bs?ep=<name>",
            );
        }
        let endpoint = queries.iter().find_map(|q| {
            let q = std::str::from_utf8(q).ok()?;
            q.strip_prefix("ep=").map(str::to_string)
        });
        let Some(endpoint) = endpoint.filter(|e| !e.is_empty() && e.len() <= 256) else {
            return refused(
                Code::BAD_REQUEST,
                "bootstrap request without endpoint name (ep)",
            );
        };
        // Only devices we know get configured: otherwise a spoofed request would make this
        // server send a stream of requests to any address.
        if !self.config().allow_unknown_endpoints {
            match self
                .inner
                .platform
                .device_for_lwm2m_endpoint(&endpoint)
                .await
            {
                Ok(Some(_)) => {}
                Ok(None) => {
                    return refused(
                        Code::FORBIDDEN,
                        "endpoint not assigned to a device; add it with POST /api/devices/{id}/credentials/lwm2m",
                    );
                }
                Err(_) => return refused(Code::SERVICE_UNAVAILABLE, "storage unavailable; retry"),
            }
        }
        // Each bootstrap sends a series of confirmable requests for up to minutes: one runs
        // per endpoint and a bounded number in all, so repeated (or spoofed) requests cannot
        // multiply that traffic. A new request replaces the endpoint's running bootstrap, as
        // Leshan does: a client that rebooted or moved mid-way is served at once.
        let replaced = {
            let Ok(mut bootstraps) = self.inner.bootstrapping.lock() else {
                return refused(Code::INTERNAL_SERVER_ERROR, "bootstrap state unavailable");
            };
            if !bootstraps.running.contains_key(&endpoint)
                && bootstraps.running.len() >= MAX_CONCURRENT_BOOTSTRAPS
            {
                return refused(Code::SERVICE_UNAVAILABLE, "server busy; retry later");
            }
            bootstraps.next += 1;
            let generation = bootstraps.next;
            let server = self.clone();
            let name = endpoint.clone();
            // Spawned under the lock: the task's guard (which takes it) cannot run before
            // its entry is in.
            let task = tokio::spawn(async move {
                let _done = BootstrapDone {
                    server: server.clone(),
                    endpoint: name.clone(),
                    generation,
                };
                match server.bootstrap(peer).await {
                    Ok(()) => tracing::info!(endpoint = %name, "LwM2M client bootstrapped"),
                    Err(e) => {
                        tracing::warn!(endpoint = %name, error = %e, "LwM2M bootstrap failed");
                    }
                }
            });
            bootstraps
                .running
                .insert(endpoint, (generation, task.abort_handle()))
        };
        // Outside the lock: the replaced task's guard takes it when it goes.
        if let Some((_, replaced)) = replaced {
            replaced.abort();
        }
        RdReply {
            code: Code::CHANGED,
            location: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// The instance IDs of `object` the client has (Bootstrap-Discover).
    async fn instances(&self, peer: SocketAddr, object: u16) -> Result<Vec<u16>, Lwm2mError> {
        let request = OutRequest {
            method: Code::GET,
            path: vec![object.to_string()],
            accept: Some(option::format::LINK_FORMAT),
            ..OutRequest::default()
        };
        let response = self.send_to(peer, request).await?;
        if response.code != Code::CONTENT {
            // Bootstrap-Discover is 1.1; a 1.0 client may refuse it.
            return Ok(Vec::new());
        }
        let links = strata_proto_coap::link_format::parse(&response.payload).unwrap_or_default();
        Ok(links
            .iter()
            .filter_map(|l| Path::parse(l.target).ok())
            .filter(|p| p.object == object)
            .filter_map(|p| p.instance)
            .collect())
    }

    async fn bootstrap(&self, peer: SocketAddr) -> Result<(), Lwm2mError> {
        // Bootstrap-Delete of everything the client allows (Security and Server instances).
        let delete = OutRequest {
            method: Code::DELETE,
            ..OutRequest::default()
        };
        let response = self.send_to(peer, delete).await?;
        Self::expect(&response, &[Code::DELETED])?;
        // What survived the delete is the client's Bootstrap-Server account: write ours
        // into free instance IDs instead of overwriting it.
        let free = |used: &[u16]| (0u16..).find(|i| !used.contains(i)).unwrap_or(0);
        let security_id = free(&self.instances(peer, 0).await?);
        let server_id = free(&self.instances(peer, 1).await?);
        let config = self.config();
        let security = [
            (0u16, Value::String(self.server_uri())),
            (1, Value::Boolean(false)),
            // Security Mode 3: NoSec.
            (2, Value::Integer(3)),
            (3, Value::Opaque(Vec::new())),
            (4, Value::Opaque(Vec::new())),
            (5, Value::Opaque(Vec::new())),
            (10, Value::Integer(SHORT_SERVER_ID)),
        ];
        self.bootstrap_write(peer, Path::instance(0, security_id), &security)
            .await?;
        let server = [
            (0u16, Value::Integer(SHORT_SERVER_ID)),
            (1, Value::Integer(i64::from(config.bootstrap_lifetime))),
            (6, Value::Boolean(true)),
            (7, Value::String("U".into())),
        ];
        self.bootstrap_write(peer, Path::instance(1, server_id), &server)
            .await?;
        let finish = OutRequest {
            method: Code::POST,
            path: vec!["bs".into()],
            ..OutRequest::default()
        };
        let response = self.send_to(peer, finish).await?;
        Self::expect(&response, &[Code::CHANGED])
    }

    async fn bootstrap_write(
        &self,
        peer: SocketAddr,
        instance: Path,
        values: &[(u16, Value)],
    ) -> Result<(), Lwm2mError> {
        let (Some(i), object) = (instance.instance, instance.object) else {
            return Err(Lwm2mError::Invalid("bootstrap writes instances".into()));
        };
        let records: Vec<Record> = values
            .iter()
            .map(|(r, v)| Record {
                path: Path::resource(object, i, *r),
                value: v.clone(),
                time: None,
            })
            .collect();
        let payload = lwm2m::encode(option::format::LWM2M_TLV, &instance, &records)?;
        let request = OutRequest {
            method: Code::PUT,
            path: vec![object.to_string(), i.to_string()],
            content_format: Some(option::format::LWM2M_TLV),
            payload,
            ..OutRequest::default()
        };
        let response = self.send_to(peer, request).await?;
        Self::expect(&response, &[Code::CHANGED])
    }

    /// Sends a request to a peer that is not (yet) registered.
    async fn send_to(
        &self,
        peer: SocketAddr,
        request: OutRequest,
    ) -> Result<crate::transport::InResponse, Lwm2mError> {
        let transport = self.transport().ok_or(TransportError::Closed)?;
        Ok(transport
            .request(peer, request)
            .await
            .map_err(|_| TransportError::Closed)??)
    }
}
