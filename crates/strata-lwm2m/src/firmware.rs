//! Firmware update through Object 5 (LwM2M Core §E.6): push (the package written
//! block-wise to /5/0/0) or pull (a Package URI the client downloads from, served by
//! Strata at `coap://.../fw/{id}`), then Update, with the state machine tracked.
//!
//! Object 5 State: 0 Idle, 1 Downloading, 2 Downloaded, 3 Updating. Update Result: 0
//! initial, 1 success, 2 not enough flash, 3 out of RAM, 4 connection lost, 5 integrity
//! check failure, 6 unsupported package type, 7 invalid URI, 8 update failed, 9 unsupported
//! protocol.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_proto_coap::lwm2m::{Path, Record, Value};
use strata_proto_coap::{Code, option};

use crate::error::Lwm2mError;
use crate::operations::WriteMode;
use crate::server::Lwm2mServer;
use crate::transport::OutRequest;

/// How long a client may take to download a package (pull) or to say it has it (push).
const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a client may take to apply an update (it may reboot and register again).
const UPDATE_TIMEOUT: Duration = Duration::from_secs(300);
/// How often the state is polled.
const POLL: Duration = Duration::from_millis(500);
/// Largest package accepted.
pub const MAX_PACKAGE: usize = 64 * 1024 * 1024;

/// A firmware package kept for updates.
#[derive(Debug)]
pub struct Image {
    /// Identifier (also in the pull URI).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// The package.
    pub bytes: Vec<u8>,
}

/// How the package reaches the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Written block-wise to /5/0/0.
    Push,
    /// The client downloads it from this URI (written to /5/0/1).
    Pull(String),
}

/// Where an update stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Package ID.
    pub image: String,
    /// `push` or `pull`.
    pub method: &'static str,
    /// `sending`, `downloading`, `downloaded`, `updating`, `succeeded` or `failed`.
    pub phase: &'static str,
    /// Last Object 5 State read (0 to 3).
    pub state: Option<i64>,
    /// Last Update Result read (0 to 9).
    pub result: Option<i64>,
    /// What went wrong, when failed.
    pub error: Option<String>,
    /// Started (Unix ms).
    pub started_at: i64,
    /// Last change (Unix ms).
    pub updated_at: i64,
}

/// Packages and per-endpoint update status.
#[derive(Default)]
pub(crate) struct Firmware {
    images: Mutex<HashMap<String, Arc<Image>>>,
    status: Mutex<HashMap<String, Status>>,
}

fn result_text(result: i64) -> &'static str {
    match result {
        0 => "no result yet",
        1 => "success",
        2 => "not enough flash for the package",
        3 => "out of RAM during download",
        4 => "connection lost during download",
        5 => "integrity check failure",
        6 => "unsupported package type",
        7 => "invalid URI",
        8 => "firmware update failed",
        9 => "unsupported protocol",
        _ => "unknown update result",
    }
}

impl Lwm2mServer {
    /// Keeps a package for updates; returns its ID.
    pub fn add_firmware(&self, name: &str, bytes: Vec<u8>) -> Result<String, Lwm2mError> {
        if bytes.is_empty() || bytes.len() > MAX_PACKAGE {
            return Err(Lwm2mError::Invalid(format!(
                "a firmware package has 1 byte to {MAX_PACKAGE} bytes"
            )));
        }
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in &bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        let id = format!("{:016x}{:08x}", hash, rand_u32(self.now()));
        let image = Arc::new(Image {
            id: id.clone(),
            name: name.to_string(),
            bytes,
        });
        if let Ok(mut images) = self.inner.firmware.images.lock() {
            images.insert(id.clone(), image);
        }
        Ok(id)
    }

    /// A kept package.
    pub fn firmware_image(&self, id: &str) -> Option<Arc<Image>> {
        self.inner.firmware.images.lock().ok()?.get(id).cloned()
    }

    /// Every kept package.
    pub fn firmware_images(&self) -> Vec<Arc<Image>> {
        self.inner
            .firmware
            .images
            .lock()
            .map(|i| i.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The status of the last update of `endpoint`.
    pub fn firmware_status(&self, endpoint: &str) -> Option<Status> {
        self.inner
            .firmware
            .status
            .lock()
            .ok()?
            .get(endpoint)
            .cloned()
    }

    fn set_status(&self, endpoint: &str, change: impl FnOnce(&mut Status)) {
        if let Ok(mut all) = self.inner.firmware.status.lock()
            && let Some(status) = all.get_mut(endpoint)
        {
            change(status);
            status.updated_at = strata_platform::now_millis();
        }
    }

    /// Starts updating `endpoint` with package `image`; follow it with
    /// [`Lwm2mServer::firmware_status`].
    pub fn start_firmware_update(
        &self,
        endpoint: &str,
        image: &str,
        method: Method,
    ) -> Result<Status, Lwm2mError> {
        let image = self.firmware_image(image).ok_or_else(|| {
            Lwm2mError::Invalid(format!("no firmware package {image:?}; upload it first"))
        })?;
        let registration = self
            .client(endpoint)
            .ok_or_else(|| Lwm2mError::NotRegistered(endpoint.to_string()))?;
        if !registration
            .registration
            .objects
            .iter()
            .any(|o| o.path.object == 5)
        {
            return Err(Lwm2mError::Invalid(
                "the client has no Firmware Update object (/5)".into(),
            ));
        }
        let now = strata_platform::now_millis();
        let status = Status {
            image: image.id.clone(),
            method: if method == Method::Push {
                "push"
            } else {
                "pull"
            },
            phase: if method == Method::Push {
                "sending"
            } else {
                "downloading"
            },
            state: None,
            result: None,
            error: None,
            started_at: now,
            updated_at: now,
        };
        {
            let Ok(mut all) = self.inner.firmware.status.lock() else {
                return Err(Lwm2mError::Invalid("firmware status unavailable".into()));
            };
            if let Some(running) = all.get(endpoint)
                && !matches!(running.phase, "succeeded" | "failed")
            {
                return Err(Lwm2mError::Invalid(format!(
                    "an update of {endpoint:?} is running ({}); wait for it to end",
                    running.phase
                )));
            }
            all.insert(endpoint.to_string(), status.clone());
        }
        let server = self.clone();
        let endpoint = endpoint.to_string();
        tokio::spawn(async move {
            let outcome = server.run_update(&endpoint, &image, method).await;
            match outcome {
                Ok(()) => server.set_status(&endpoint, |s| s.phase = "succeeded"),
                Err(e) => {
                    tracing::warn!(%endpoint, error = %e, "firmware update failed");
                    server.set_status(&endpoint, |s| {
                        s.phase = "failed";
                        s.error = Some(e.to_string());
                    });
                }
            }
        });
        Ok(status)
    }

    async fn run_update(
        &self,
        endpoint: &str,
        image: &Image,
        method: Method,
    ) -> Result<(), Lwm2mError> {
        match &method {
            Method::Push => {
                let registration = self.reachable(endpoint).await?;
                let request = OutRequest {
                    method: Code::PUT,
                    path: Self::segments(&registration, &Path::resource(5, 0, 0)),
                    content_format: Some(option::format::OCTET_STREAM),
                    ..OutRequest::default()
                };
                let response = self
                    .upload(&registration, request, image.bytes.clone())
                    .await?;
                Self::expect(&response, &[Code::CHANGED])?;
            }
            Method::Pull(uri) => {
                let record = Record {
                    path: Path::resource(5, 0, 1),
                    value: Value::String(uri.clone()),
                    time: None,
                };
                self.write(
                    endpoint,
                    Path::resource(5, 0, 1),
                    &[record],
                    WriteMode::Replace,
                )
                .await?;
            }
        }
        // Downloading (1) until Downloaded (2); Idle (0) with a result means it failed.
        self.wait_for_state(endpoint, DOWNLOAD_TIMEOUT, |state, result| {
            match (state, result) {
                (2, _) => Some(Ok(())),
                (0, r) if r > 1 => Some(Err(r)),
                _ => None,
            }
        })
        .await?;
        self.set_status(endpoint, |s| s.phase = "downloaded");
        self.execute(endpoint, Path::resource(5, 0, 2), None)
            .await?;
        self.set_status(endpoint, |s| s.phase = "updating");
        // Updating (3) until Idle (0) with Update Result 1 (success) or an error.
        self.wait_for_state(endpoint, UPDATE_TIMEOUT, |state, result| {
            match (state, result) {
                (0 | 2, 1) => Some(Ok(())),
                (_, r) if r > 1 => Some(Err(r)),
                _ => None,
            }
        })
        .await
    }

    /// Polls State (/5/0/3) and Update Result (/5/0/5) until `done` decides. Read errors
    /// while the client reboots are tolerated until the timeout.
    async fn wait_for_state(
        &self,
        endpoint: &str,
        timeout: Duration,
        done: impl Fn(i64, i64) -> Option<Result<(), i64>>,
    ) -> Result<(), Lwm2mError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last_error = None;
        while tokio::time::Instant::now() < deadline {
            match self.read(endpoint, Path::instance(5, 0), None).await {
                Ok(records) => {
                    let get = |id: u16| {
                        records
                            .iter()
                            .find_map(|r| match (r.path.resource, &r.value) {
                                (Some(x), Value::Integer(v)) if x == id => Some(*v),
                                (Some(x), Value::UnsignedInteger(v)) if x == id => {
                                    i64::try_from(*v).ok()
                                }
                                _ => None,
                            })
                    };
                    let (state, result) = (get(3).unwrap_or(-1), get(5).unwrap_or(0));
                    self.set_status(endpoint, |s| {
                        s.state = Some(state);
                        s.result = Some(result);
                    });
                    match done(state, result) {
                        Some(Ok(())) => return Ok(()),
                        Some(Err(code)) => {
                            return Err(Lwm2mError::Invalid(format!(
                                "the client reports update result {code}: {}",
                                result_text(code)
                            )));
                        }
                        None => {}
                    }
                }
                Err(e) => last_error = Some(e),
            }
            tokio::time::sleep(POLL).await;
        }
        Err(last_error.unwrap_or_else(|| {
            Lwm2mError::Invalid(format!("no progress within {} s", timeout.as_secs()))
        }))
    }
}

fn rand_u32(seed: u64) -> u32 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per process: enough to make package IDs unguessable
    // for a pull URI that is only handed to the device being updated.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(seed);
    h.finish() as u32
}
