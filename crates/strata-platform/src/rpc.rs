//! RPC to devices: commands with an answer (two-way) or without (one-way).
//!
//! Every call is stored with its status (`queued`, `sent`, `successful`, `failed`,
//! `timeout`, `expired`), so its outcome can be looked up later.
//!
//! - A plain call goes to the device now, over whichever link reaches it (MQTT subscription
//!   to `v1/devices/me/rpc/request/+`, an HTTP long-poll); a device that is not reachable
//!   fails it at once (`device_unreachable`). A two-way call then waits for the answer up
//!   to its timeout.
//! - A persistent call is kept until the device is next reachable (it subscribes, or polls)
//!   or the call expires; the caller gets its id at once and looks up the outcome.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use strata_store::{DeviceIdentity, DeviceKey, NewRpcCall, RpcCall, RpcStatus};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::accounts::Principal;
use crate::downlink::Downlink;
use crate::{ErrorCode, Platform, PlatformError, now_millis};

/// Default time a two-way call waits for its answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time a plain two-way call may wait.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(300);
/// Default lifetime of a persistent call.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// Longest lifetime of a persistent call.
pub const MAX_EXPIRY: Duration = Duration::from_secs(30 * 24 * 3600);
/// Persistent calls one device may have waiting; more are refused (409) until it takes some.
/// Each delivery reads the whole queue, so it must stay bounded. The count is read before
/// the insert, so calls made at the same instant can pass it by a few: a bound on memory,
/// not an exact quota.
pub const MAX_QUEUED_PER_DEVICE: u64 = 1000;
/// Longest method name.
const MAX_METHOD_BYTES: usize = 128;
/// Largest parameters or answer, as JSON text.
const MAX_JSON_BYTES: usize = 64 * 1024;
/// How often expired calls are swept.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// How long finished calls are kept for looking up.
pub const KEEP_FINISHED: Duration = Duration::from_secs(7 * 24 * 3600);

/// A call as asked for: `{"method", "params"?, "oneway"?, "persistent"?, "timeout_ms"?,
/// "expiry_ms"?}`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcRequest {
    /// Method name.
    pub method: String,
    /// Parameters (any JSON; `null` when absent).
    #[serde(default)]
    pub params: Value,
    /// No answer expected.
    #[serde(default)]
    pub oneway: bool,
    /// Keep it for an offline device until `expiry_ms`.
    #[serde(default)]
    pub persistent: bool,
    /// How long a plain two-way call waits for the answer (ms).
    pub timeout_ms: Option<u64>,
    /// How long a persistent call is kept (ms).
    pub expiry_ms: Option<u64>,
}

/// Two-way calls waiting for their answer.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    calls: Mutex<HashMap<i64, oneshot::Sender<()>>>,
}

/// Forgets a call's waiter however the wait ends (answer, timeout, or the caller giving up
/// and dropping the future).
struct WaitGuard<'a> {
    waiters: &'a Waiters,
    id: i64,
}

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.waiters.forget(self.id);
    }
}

impl Waiters {
    fn add(&self, id: i64) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut calls) = self.calls.lock() {
            calls.insert(id, tx);
        }
        rx
    }

    fn wake(&self, id: i64) {
        let waiter = self.calls.lock().ok().and_then(|mut c| c.remove(&id));
        if let Some(waiter) = waiter {
            let _ = waiter.send(());
        }
    }

    fn forget(&self, id: i64) {
        if let Ok(mut calls) = self.calls.lock() {
            calls.remove(&id);
        }
    }
}

/// Turns for handing calls to a device, one device at a time (striped: a few locks shared
/// by all devices). A link that comes up while a call is being handed over reads the queue
/// only after the hand-over ended, so the call is either delivered or back in the queue.
pub(crate) struct DeliveryTurns {
    stripes: Vec<tokio::sync::Mutex<()>>,
}

impl Default for DeliveryTurns {
    fn default() -> Self {
        Self {
            stripes: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
        }
    }
}

impl DeliveryTurns {
    async fn take(&self, device: DeviceKey) -> tokio::sync::MutexGuard<'_, ()> {
        let stripe = device.0.rem_euclid(self.stripes.len() as i64) as usize;
        self.stripes[stripe].lock().await
    }
}

/// Puts a call back in the queue if the poll claiming it ends (request timeout, client
/// gone) before it could return the call; the store's writer runs jobs in order, so the
/// give-back follows the claim.
struct GiveBackOnDrop {
    platform: Option<Platform>,
    call: RpcCall,
}

impl Drop for GiveBackOnDrop {
    fn drop(&mut self) {
        let Some(platform) = self.platform.take() else {
            return;
        };
        let call = self.call.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = platform.unclaim(&call).await {
                    tracing::warn!(call = call.id, error = %e, "cannot requeue an RPC call");
                }
            });
        }
    }
}

fn request_message(call: &RpcCall) -> Downlink {
    Downlink::RpcRequest {
        id: call.id,
        method: call.method.clone(),
        params: serde_json::from_str(&call.params_json).unwrap_or(Value::Null),
    }
}

/// The status a call gets once it is in the device's hands.
fn delivered(call: &RpcCall) -> RpcStatus {
    if call.oneway {
        RpcStatus::Successful
    } else {
        RpcStatus::Sent
    }
}

impl Platform {
    /// Calls a device (management API). A plain two-way call returns once answered (or
    /// fails with `timeout`); other calls return at once with their status.
    pub async fn invoke_rpc(
        &self,
        caller: &Principal,
        device_id: Uuid,
        body: Value,
    ) -> Result<RpcCall, PlatformError> {
        caller.require_write()?;
        let request: RpcRequest = serde_json::from_value(body).map_err(|e| {
            PlatformError::invalid(format!(
                "an RPC call looks like {{\"method\":\"reboot\",\"params\":{{}},\"oneway\":false,\
                 \"persistent\":false,\"timeout_ms\":10000}}: {e}"
            ))
        })?;
        let device = self.device(caller, device_id).await?;
        let identity = Self::identity_of(&device);
        self.call_device(&identity, request).await
    }

    /// Calls a device (for the API and for rules); see [`Platform::invoke_rpc`].
    pub async fn call_device(
        &self,
        identity: &DeviceIdentity,
        request: RpcRequest,
    ) -> Result<RpcCall, PlatformError> {
        let device_id = identity.device_id;
        if request.method.is_empty() || request.method.len() > MAX_METHOD_BYTES {
            return Err(PlatformError::invalid(format!(
                "`method` must have 1 to {MAX_METHOD_BYTES} bytes"
            )));
        }
        let params_json = request.params.to_string();
        if params_json.len() > MAX_JSON_BYTES {
            return Err(PlatformError::new(
                ErrorCode::PayloadTooLarge,
                format!("`params` may have at most {MAX_JSON_BYTES} bytes of JSON"),
            ));
        }
        // The HTTP request carrying the call must outlive the wait.
        let max_timeout = MAX_TIMEOUT
            .min(
                self.config()
                    .http
                    .request_timeout
                    .saturating_sub(Duration::from_secs(1)),
            )
            .max(Duration::from_millis(1));
        let timeout = match request.timeout_ms {
            Some(ms) if ms == 0 || ms > max_timeout.as_millis() as u64 => {
                return Err(PlatformError::invalid(format!(
                    "`timeout_ms` must be from 1 to {} (http.request_timeout minus 1 s; use a \
                     persistent call to wait longer)",
                    max_timeout.as_millis()
                )));
            }
            Some(ms) => Duration::from_millis(ms),
            None => DEFAULT_TIMEOUT,
        };
        let expiry = match request.expiry_ms {
            Some(_) if !request.persistent => {
                return Err(PlatformError::invalid(
                    "`expiry_ms` applies to persistent calls only (set \"persistent\": true)",
                ));
            }
            Some(ms) if ms == 0 || ms > MAX_EXPIRY.as_millis() as u64 => {
                return Err(PlatformError::invalid(format!(
                    "`expiry_ms` must be from 1 to {}",
                    MAX_EXPIRY.as_millis()
                )));
            }
            Some(ms) => Duration::from_millis(ms),
            None => DEFAULT_EXPIRY,
        };

        let now = now_millis();
        if request.persistent
            && self
                .store()
                .count_queued_rpc(identity.device_key, now)
                .await?
                >= MAX_QUEUED_PER_DEVICE
        {
            return Err(PlatformError::new(
                ErrorCode::Conflict,
                format!(
                    "the device already has {MAX_QUEUED_PER_DEVICE} persistent calls waiting; \
                     wait until it takes some (or they expire) before queueing more"
                ),
            ));
        }
        // A plain call outlives its wait a little, so the waiter (not the expiry sweep)
        // records its timeout.
        let lifetime = if request.persistent {
            expiry
        } else {
            timeout + Duration::from_secs(1)
        };
        let call = self
            .store()
            .create_rpc(
                NewRpcCall {
                    device: identity.device_key,
                    method: request.method,
                    params_json,
                    oneway: request.oneway,
                    persistent: request.persistent,
                    expires_at: now + lifetime.as_millis() as i64,
                },
                RpcStatus::Queued,
                now,
            )
            .await?;
        metrics::counter!("strata_rpc_calls_total").increment(1);
        let answered = (!call.oneway && !call.persistent).then(|| self.inner.rpc.add(call.id));
        let _forget_waiter = WaitGuard {
            waiters: &self.inner.rpc,
            id: call.id,
        };
        // In a task of its own: a caller giving up half-way must not leave the call claimed
        // but never sent.
        let handover = {
            let platform = self.clone();
            let identity = *identity;
            let call = call.clone();
            tokio::spawn(async move { platform.hand_over(&identity, &call).await })
        };
        let taken = handover.await.map_err(|e| {
            PlatformError::new(ErrorCode::Internal, format!("RPC hand-over failed: {e}"))
        })??;
        if !taken {
            if call.persistent {
                return self.stored_rpc(identity, call.id).await;
            }
            return Err(PlatformError::new(
                ErrorCode::DeviceUnreachable,
                format!(
                    "device {device_id} is not connected (or not subscribed to \
                     v1/devices/me/rpc/request/+); send a persistent call to queue it (call {})",
                    call.id
                ),
            ));
        }
        if let Some(answered) = answered {
            let outcome = tokio::time::timeout(timeout, answered).await;
            if outcome.is_err() {
                self.store()
                    .transition_rpc(
                        call.id,
                        &[RpcStatus::Sent],
                        RpcStatus::Timeout,
                        None,
                        Some("no answer in time".into()),
                        now_millis(),
                    )
                    .await?;
            }
        }
        let call = self.stored_rpc(identity, call.id).await?;
        if !call.persistent && matches!(call.status, RpcStatus::Timeout | RpcStatus::Expired) {
            return Err(PlatformError::new(
                ErrorCode::Timeout,
                format!(
                    "device {device_id} did not answer call {} within {} ms",
                    call.id,
                    timeout.as_millis()
                ),
            ));
        }
        Ok(call)
    }

    /// One call of a device.
    pub async fn rpc_call(
        &self,
        caller: &Principal,
        device_id: Uuid,
        id: i64,
    ) -> Result<RpcCall, PlatformError> {
        let device = self.device(caller, device_id).await?;
        self.stored_rpc(&Self::identity_of(&device), id).await
    }

    /// A device's latest calls, newest first.
    pub async fn rpc_calls(
        &self,
        caller: &Principal,
        device_id: Uuid,
        limit: u32,
    ) -> Result<Vec<RpcCall>, PlatformError> {
        if !(1..=1000).contains(&limit) {
            return Err(PlatformError::parameter("limit must be from 1 to 1000"));
        }
        let device = self.device(caller, device_id).await?;
        Ok(self.store().list_rpc(device.key, limit).await?)
    }

    async fn stored_rpc(&self, device: &DeviceIdentity, id: i64) -> Result<RpcCall, PlatformError> {
        self.store()
            .rpc(device.device_key, id)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("the device has no RPC call {id}")))
    }

    /// A device's answer to call `id`.
    pub async fn rpc_response(
        &self,
        device: &DeviceIdentity,
        id: i64,
        response: Value,
    ) -> Result<(), PlatformError> {
        self.device_seen(device);
        let call = self.stored_rpc(device, id).await?;
        if call.oneway {
            return Err(PlatformError::new(
                ErrorCode::Conflict,
                format!("RPC call {id} is one-way and takes no answer"),
            ));
        }
        let text = response.to_string();
        if text.len() > MAX_JSON_BYTES {
            return Err(PlatformError::new(
                ErrorCode::PayloadTooLarge,
                format!("an answer may have at most {MAX_JSON_BYTES} bytes of JSON"),
            ));
        }
        let done = self
            .store()
            .transition_rpc(
                id,
                &[RpcStatus::Sent, RpcStatus::Queued],
                RpcStatus::Successful,
                Some(text),
                None,
                now_millis(),
            )
            .await?;
        if !done {
            return Err(PlatformError::new(
                ErrorCode::Conflict,
                format!(
                    "RPC call {id} is already {} and takes no answer",
                    call.status.as_str()
                ),
            ));
        }
        self.inner.rpc.wake(id);
        Ok(())
    }

    /// Claims a new call and offers it to the device's links, in the device's delivery
    /// turn; a call no link takes goes back to the queue (persistent) or fails (plain).
    /// True if the device has it.
    async fn hand_over(
        &self,
        identity: &DeviceIdentity,
        call: &RpcCall,
    ) -> Result<bool, PlatformError> {
        let _turn = self.inner.rpc_turns.take(identity.device_key).await;
        // Claimed first: a persistent call is in the queue, and must not reach the device
        // twice. Someone else's claim means a queue delivery already handed it over.
        if !self.claim(call).await? {
            return Ok(true);
        }
        if self
            .inner
            .links
            .send(identity, &request_message(call), false)
        {
            return Ok(true);
        }
        if call.persistent {
            self.unclaim(call).await?;
        } else {
            self.store()
                .transition_rpc(
                    call.id,
                    &[delivered(call)],
                    RpcStatus::Failed,
                    None,
                    Some("the device was not reachable".into()),
                    now_millis(),
                )
                .await?;
        }
        Ok(false)
    }

    /// Hands a device its queued persistent calls, oldest first, while a link takes them
    /// (for a device that just became reachable: its link is registered before this runs,
    /// so a call handed over meanwhile either reached it or is back in the queue by now).
    pub async fn deliver_queued_rpc(&self, device: &DeviceIdentity) -> Result<(), PlatformError> {
        let _turn = self.inner.rpc_turns.take(device.device_key).await;
        for call in self
            .store()
            .queued_rpc(device.device_key, now_millis())
            .await?
        {
            // Claimed first, so two deliveries at once (two subscriptions, two polls) cannot
            // both hand the call out; given back if no link takes it.
            if !self.claim(&call).await? {
                continue;
            }
            if !self
                .inner
                .links
                .send(device, &request_message(&call), false)
            {
                self.unclaim(&call).await?;
                break;
            }
        }
        Ok(())
    }

    /// Moves a queued call to its delivered status; false if someone else did first.
    async fn claim(&self, call: &RpcCall) -> Result<bool, PlatformError> {
        Ok(self
            .store()
            .transition_rpc(
                call.id,
                &[RpcStatus::Queued],
                delivered(call),
                None,
                None,
                now_millis(),
            )
            .await?)
    }

    /// Puts a claimed call back in the queue.
    async fn unclaim(&self, call: &RpcCall) -> Result<(), PlatformError> {
        self.store()
            .transition_rpc(
                call.id,
                &[delivered(call)],
                RpcStatus::Queued,
                None,
                None,
                now_millis(),
            )
            .await?;
        Ok(())
    }

    /// HTTP long-poll: the device's next call, waiting up to `timeout`; `None` if none came.
    pub async fn poll_rpc(
        &self,
        device: &DeviceIdentity,
        timeout: Duration,
    ) -> Result<Option<Downlink>, PlatformError> {
        self.device_seen(device);
        let mut next = loop {
            // The poller is reachable before the queue is read: a persistent call created
            // in between either finds the poller or is in the queue, never neither.
            let mut next = self.inner.links.poll(device.device_key);
            let _turn = self.inner.rpc_turns.take(device.device_key).await;
            let queued = self
                .store()
                .queued_rpc(device.device_key, now_millis())
                .await?;
            if queued.is_empty() {
                // The wait happens outside the turn.
                break next;
            }
            // One message per poll: a call handed over meanwhile goes first, and the
            // queued ones wait for the next poll.
            next.close();
            if let Ok(message) = next.try_recv() {
                return Ok(Some(message));
            }
            for call in queued {
                let mut give_back = GiveBackOnDrop {
                    platform: Some(self.clone()),
                    call: call.clone(),
                };
                let claimed = self.claim(&call).await;
                give_back.platform = None;
                if claimed? {
                    return Ok(Some(request_message(&call)));
                }
            }
            // Another poll or subscription took them all: wait afresh.
        };
        match tokio::time::timeout(timeout, &mut next).await {
            Ok(Ok(message)) => Ok(Some(message)),
            Ok(Err(_)) => Ok(None),
            Err(_) => {
                // A message handed over just as the wait ended is still in the channel.
                next.close();
                Ok(next.try_recv().ok())
            }
        }
    }

    /// Marks calls past their expiry as expired, every second, forever; hourly, also prunes
    /// old finished calls.
    pub async fn run_rpc_expiry(self) {
        let mut tick = tokio::time::interval(SWEEP_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sweeps: u64 = 0;
        loop {
            tick.tick().await;
            sweeps += 1;
            if sweeps % 3600 == 1 {
                let before = now_millis() - KEEP_FINISHED.as_millis() as i64;
                if let Err(e) = self.store().prune_rpc(before).await {
                    tracing::warn!(error = %e, "cannot prune old RPC calls; will retry");
                }
            }
            match self.store().expire_rpc(now_millis()).await {
                Ok(expired) => {
                    for call in expired {
                        self.inner.rpc.wake(call.id);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot expire RPC calls; will retry"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::DeviceSpec;
    use crate::test_support::{admin, platform};

    #[tokio::test(flavor = "multi_thread")]
    async fn a_device_keeps_a_bounded_queue_of_persistent_calls() {
        let (_dir, p) = platform().await;
        let me = admin(&p).await;
        let created = p
            .create_device(
                &me,
                DeviceSpec {
                    name: "offline".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let identity = p.authenticate_device(&created.access_token).await.unwrap();
        let call = || RpcRequest {
            method: "m".into(),
            params: Value::Null,
            oneway: true,
            persistent: true,
            timeout_ms: None,
            expiry_ms: None,
        };
        for _ in 0..MAX_QUEUED_PER_DEVICE {
            let queued = p.call_device(&identity, call()).await.unwrap();
            assert_eq!(queued.status, RpcStatus::Queued);
        }
        let refused = p.call_device(&identity, call()).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::Conflict);
        assert!(refused.message.contains("waiting"), "{}", refused.message);
        // A plain call is not queued, so it is not refused for that (it fails: offline).
        let mut plain = call();
        plain.persistent = false;
        let err = p.call_device(&identity, plain).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::DeviceUnreachable);
    }
}
