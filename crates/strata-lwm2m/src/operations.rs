//! Device management and information reporting (LwM2M Core §6.3, §6.4): read, discover,
//! write, write-attributes, execute, create, delete, observe and cancel.

use std::net::SocketAddr;

use strata_proto_coap::block::BlockValue;
use strata_proto_coap::lwm2m::{self, Path, Record};
use strata_proto_coap::{Code, Token, option};

use crate::error::Lwm2mError;
use crate::server::{Lwm2mServer, Observation, SZX};
use crate::transport::{InResponse, OutRequest};

/// How a write changes the target (LwM2M Core §6.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace the instance or resource (PUT).
    Replace,
    /// Change only the given resources of an instance (POST).
    PartialUpdate,
}

impl Lwm2mServer {
    /// Reads an object, instance, resource or resource instance; `format` asks for a
    /// content format (Accept), otherwise the client picks.
    pub async fn read(
        &self,
        endpoint: &str,
        path: Path,
        format: Option<u16>,
    ) -> Result<Vec<Record>, Lwm2mError> {
        let registration = self.reachable(endpoint).await?;
        let request = OutRequest {
            method: Code::GET,
            path: Self::segments(&registration, &path),
            accept: format,
            ..OutRequest::default()
        };
        let first = self.send(&registration, request.clone()).await?;
        Self::expect(&first, &[Code::CONTENT])?;
        let response = self.get_all(&registration, request, first).await?;
        self.decode(&path, &response)
    }

    /// Discovers what the client has under `path` (link format with attributes).
    pub async fn discover(&self, endpoint: &str, path: Path) -> Result<String, Lwm2mError> {
        let registration = self.reachable(endpoint).await?;
        let request = OutRequest {
            method: Code::GET,
            path: Self::segments(&registration, &path),
            accept: Some(option::format::LINK_FORMAT),
            ..OutRequest::default()
        };
        let first = self.send(&registration, request.clone()).await?;
        Self::expect(&first, &[Code::CONTENT])?;
        let response = self.get_all(&registration, request, first).await?;
        String::from_utf8(response.payload)
            .map_err(|_| Lwm2mError::Invalid("the client's discover answer is not UTF-8".into()))
    }

    /// Writes `records` under `path` (an instance, a resource or a resource instance).
    pub async fn write(
        &self,
        endpoint: &str,
        path: Path,
        records: &[Record],
        mode: WriteMode,
    ) -> Result<(), Lwm2mError> {
        if path.instance.is_none() {
            return Err(Lwm2mError::Invalid(
                "write to an object instance or below, e.g. /3/0/14".into(),
            ));
        }
        if records.is_empty() || records.iter().any(|r| !path.contains(&r.path)) {
            return Err(Lwm2mError::Invalid(format!(
                "give values for resources under {path}"
            )));
        }
        let registration = self.reachable(endpoint).await?;
        let format = Self::write_format(&registration);
        let payload = lwm2m::encode(format, &path, records)?;
        let method = match mode {
            WriteMode::Replace => Code::PUT,
            WriteMode::PartialUpdate => Code::POST,
        };
        let request = OutRequest {
            method,
            path: Self::segments(&registration, &path),
            content_format: Some(format),
            ..OutRequest::default()
        };
        let response = self.upload(&registration, request, payload).await?;
        Self::expect(&response, &[Code::CHANGED])
    }

    /// Sends `payload` in one request, or block-wise (Block1) when it is larger than a block.
    pub(crate) async fn upload(
        &self,
        registration: &crate::registry::Registration<SocketAddr>,
        request: OutRequest,
        payload: Vec<u8>,
    ) -> Result<InResponse, Lwm2mError> {
        let mut szx = SZX;
        if payload.len() <= 1 << (szx + 4) {
            return self
                .send(registration, OutRequest { payload, ..request })
                .await;
        }
        let mut offset = 0usize;
        loop {
            let size = 1usize << (szx + 4);
            let end = (offset + size).min(payload.len());
            let more = end < payload.len();
            let block = BlockValue {
                num: (offset / size) as u32,
                more,
                szx,
            };
            let response = self
                .send(
                    registration,
                    OutRequest {
                        block1: Some(block),
                        payload: payload[offset..end].to_vec(),
                        ..request.clone()
                    },
                )
                .await?;
            if !more {
                return Ok(response);
            }
            if response.code != Code::CONTINUE {
                return Ok(response);
            }
            // The client may ask for smaller blocks (RFC 7959 §2.5): follow it.
            if let Some(b) = response.block1
                && b.szx < szx
            {
                szx = b.szx;
            }
            offset = end;
        }
    }

    /// Executes a resource, with optional arguments (LwM2M Core §5.4.5 syntax, e.g. `0='x'`).
    pub async fn execute(
        &self,
        endpoint: &str,
        path: Path,
        arguments: Option<&str>,
    ) -> Result<(), Lwm2mError> {
        if path.resource.is_none() || path.resource_instance.is_some() {
            return Err(Lwm2mError::Invalid(
                "execute a resource, e.g. /3/0/4".into(),
            ));
        }
        let registration = self.reachable(endpoint).await?;
        let payload = arguments.map(|a| a.as_bytes().to_vec()).unwrap_or_default();
        let request = OutRequest {
            method: Code::POST,
            path: Self::segments(&registration, &path),
            content_format: (!payload.is_empty()).then_some(option::format::TEXT),
            payload,
            ..OutRequest::default()
        };
        let response = self.send(&registration, request).await?;
        Self::expect(&response, &[Code::CHANGED])
    }

    /// Creates an object instance from `records` (their paths name the new instance).
    pub async fn create(
        &self,
        endpoint: &str,
        object: u16,
        records: &[Record],
    ) -> Result<Option<String>, Lwm2mError> {
        let Some(instance) = records.first().and_then(|r| r.path.instance) else {
            return Err(Lwm2mError::Invalid(format!(
                "give the new instance's values, e.g. /{object}/1/0"
            )));
        };
        if records
            .iter()
            .any(|r| r.path.object != object || r.path.instance != Some(instance))
        {
            return Err(Lwm2mError::Invalid("create one instance at a time".into()));
        }
        let registration = self.reachable(endpoint).await?;
        let format = Self::write_format(&registration);
        // TLV for create wraps the resources in an object-instance entry, so the client
        // learns the new instance ID (LwM2M Core §6.3.4).
        let payload = lwm2m::encode(format, &Path::object(object), records)?;
        let request = OutRequest {
            method: Code::POST,
            path: Self::segments(&registration, &Path::object(object)),
            content_format: Some(format),
            ..OutRequest::default()
        };
        let response = self.upload(&registration, request, payload).await?;
        Self::expect(&response, &[Code::CREATED])?;
        Ok((!response.location.is_empty()).then(|| format!("/{}", response.location.join("/"))))
    }

    /// Deletes an object instance.
    pub async fn delete(&self, endpoint: &str, path: Path) -> Result<(), Lwm2mError> {
        if path.instance.is_none() || path.resource.is_some() {
            return Err(Lwm2mError::Invalid(
                "delete an object instance, e.g. /3303/1".into(),
            ));
        }
        let registration = self.reachable(endpoint).await?;
        let request = OutRequest {
            method: Code::DELETE,
            path: Self::segments(&registration, &path),
            ..OutRequest::default()
        };
        let response = self.send(&registration, request).await?;
        Self::expect(&response, &[Code::DELETED])
    }

    /// Writes notification attributes (pmin, pmax, gt, lt, st, epmin, epmax) on `path`;
    /// a name without value removes the attribute.
    pub async fn write_attributes(
        &self,
        endpoint: &str,
        path: Path,
        attributes: &[(String, Option<String>)],
    ) -> Result<(), Lwm2mError> {
        const KNOWN: &[&str] = &["pmin", "pmax", "gt", "lt", "st", "epmin", "epmax"];
        if attributes.is_empty() {
            return Err(Lwm2mError::Invalid(
                "give at least one attribute, e.g. pmin=10".into(),
            ));
        }
        let mut query = Vec::new();
        for (name, value) in attributes {
            if !KNOWN.contains(&name.as_str()) {
                return Err(Lwm2mError::Invalid(format!(
                    "unknown attribute {name:?}; use pmin, pmax, gt, lt, st, epmin or epmax"
                )));
            }
            match value {
                Some(v) => {
                    if v.parse::<f64>().is_err() {
                        return Err(Lwm2mError::Invalid(format!("{name} must be a number")));
                    }
                    query.push(format!("{name}={v}"));
                }
                None => query.push(name.clone()),
            }
        }
        let registration = self.reachable(endpoint).await?;
        let request = OutRequest {
            method: Code::PUT,
            path: Self::segments(&registration, &path),
            query,
            ..OutRequest::default()
        };
        let response = self.send(&registration, request).await?;
        Self::expect(&response, &[Code::CHANGED])
    }

    /// Observes `path`: returns the current value; every notification after it is stored
    /// as telemetry of the client's device and published on the event stream.
    pub async fn observe(&self, endpoint: &str, path: Path) -> Result<Vec<Record>, Lwm2mError> {
        let registration = self.reachable(endpoint).await?;
        let request = OutRequest {
            method: Code::GET,
            path: Self::segments(&registration, &path),
            observe: Some(0),
            observation: Some((endpoint.to_string(), path)),
            ..OutRequest::default()
        };
        let response = self.send(&registration, request).await?;
        Self::expect(&response, &[Code::CONTENT])?;
        if response.observe.is_none() {
            return Err(Lwm2mError::Client {
                code: response.code,
                message: "the client answered without Observe: it does not observe this path"
                    .into(),
            });
        }
        let records = self.decode(&path, &response)?;
        self.report(endpoint, &path, &records).await;
        Ok(records)
    }

    /// Records an observation the listener saw start (a success response with Observe to an
    /// observe request), replacing an older one of the same path.
    pub fn observation_started(&self, peer: SocketAddr, token: Token, endpoint: &str, path: Path) {
        let Ok(mut o) = self.inner.observations.lock() else {
            return;
        };
        let old: Vec<(SocketAddr, Token)> = o
            .iter()
            .filter(|(k, ob)| ob.endpoint == endpoint && ob.path == path && **k != (peer, token))
            .map(|(k, _)| *k)
            .collect();
        for key in old {
            o.remove(&key);
            if let Some(t) = self.transport() {
                t.forget(key.0, key.1);
            }
        }
        o.insert(
            (peer, token),
            Observation {
                endpoint: endpoint.to_string(),
                path,
            },
        );
    }

    /// Cancels an observation (the client stops notifying; LwM2M Core §6.4.2).
    pub async fn cancel_observation(&self, endpoint: &str, path: Path) -> Result<bool, Lwm2mError> {
        let keys: Vec<(SocketAddr, Token)> = self
            .inner
            .observations
            .lock()
            .map(|mut o| {
                let keys: Vec<_> = o
                    .iter()
                    .filter(|(_, ob)| ob.endpoint == endpoint && path.contains(&ob.path))
                    .map(|(k, _)| *k)
                    .collect();
                for k in &keys {
                    o.remove(k);
                }
                keys
            })
            .unwrap_or_default();
        if let Some(t) = self.transport() {
            // Passive cancellation: the next notification gets RST, which ends the
            // observation on the client.
            for (peer, token) in &keys {
                t.forget(*peer, *token);
            }
        }
        Ok(!keys.is_empty())
    }

    /// Handles a notification (a later response to an observe request) from `peer`.
    /// Returns false for an unknown observation (the listener then rejects it).
    pub fn notification(&self, peer: SocketAddr, response: InResponse) -> bool {
        let found = self.inner.observations.lock().ok().and_then(|o| {
            o.get(&(peer, response.token))
                .map(|ob| (ob.endpoint.clone(), ob.path))
        });
        let Some((endpoint, path)) = found else {
            return false;
        };
        self.heard_from(peer);
        if !response.code.is_success() {
            // An error notification ends the observation (RFC 7641 §3.2).
            if let Ok(mut o) = self.inner.observations.lock() {
                o.remove(&(peer, response.token));
            }
            return true;
        }
        let records = match self.decode(&path, &response) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(%endpoint, %path, error = %e, "LwM2M notification not decodable");
                return true;
            }
        };
        metrics::counter!("strata_lwm2m_notifications_total").increment(1);
        let server = self.clone();
        tokio::spawn(async move {
            server.report(&endpoint, &path, &records).await;
        });
        true
    }
}
