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

/// Short Server ID written for this server.
const SHORT_SERVER_ID: i64 = 1;

impl Lwm2mServer {
    /// Handles `POST /bs?ep=...`: acknowledges at once and bootstraps the client in the
    /// background.
    pub fn handle_bootstrap(&self, peer: SocketAddr, method: Code, queries: &[Vec<u8>]) -> RdReply {
        if method != Code::POST {
            return RdReply {
                code: Code::METHOD_NOT_ALLOWED,
                location: Vec::new(),
                payload: b"request bootstrap with POST /bs?ep=<name>".to_vec(),
            };
        }
        let endpoint = queries.iter().find_map(|q| {
            let q = std::str::from_utf8(q).ok()?;
            q.strip_prefix("ep=").map(str::to_string)
        });
        let Some(endpoint) = endpoint.filter(|e| !e.is_empty() && e.len() <= 256) else {
            return RdReply {
                code: Code::BAD_REQUEST,
                location: Vec::new(),
                payload: b"bootstrap request without endpoint name (ep)".to_vec(),
            };
        };
        let server = self.clone();
        tokio::spawn(async move {
            match server.bootstrap(peer).await {
                Ok(()) => tracing::info!(%endpoint, "LwM2M client bootstrapped"),
                Err(e) => tracing::warn!(%endpoint, error = %e, "LwM2M bootstrap failed"),
            }
        });
        RdReply {
            code: Code::CHANGED,
            location: Vec::new(),
            payload: Vec::new(),
        }
    }

    async fn bootstrap(&self, peer: SocketAddr) -> Result<(), Lwm2mError> {
        // Bootstrap-Delete of everything the client allows (Security and Server instances).
        let delete = OutRequest {
            method: Code::DELETE,
            ..OutRequest::default()
        };
        let response = self.send_to(peer, delete).await?;
        Self::expect(&response, &[Code::DELETED])?;
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
        self.bootstrap_write(peer, Path::instance(0, 0), &security)
            .await?;
        let server = [
            (0u16, Value::Integer(SHORT_SERVER_ID)),
            (1, Value::Integer(i64::from(config.bootstrap_lifetime))),
            (6, Value::Boolean(true)),
            (7, Value::String("U".into())),
        ];
        self.bootstrap_write(peer, Path::instance(1, 0), &server)
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
