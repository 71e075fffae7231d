//! How the broker asks the platform: authentication, authorisation, and publishes the
//! platform consumes itself (the device API). Answers may come later from any thread.

use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use strata_proto_mqtt::ReasonCode;
use strata_proto_mqtt::packet::Publish;

use crate::shared::{Command, Shared};

/// Who a connected client is, as decided by [`Hooks::authenticate`].
#[derive(Clone)]
pub struct ClientInfo {
    /// MQTT client identifier.
    pub client_id: String,
    /// User name from CONNECT.
    pub username: Option<String>,
    /// Connected without credentials (only when anonymous access is on).
    pub anonymous: bool,
    /// The platform's identity for this client (e.g. a device), opaque to the broker.
    pub identity: Option<Arc<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for ClientInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientInfo")
            .field("client_id", &self.client_id)
            .field("username", &self.username)
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}

/// A CONNECT to authenticate.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    /// Client identifier (may be empty: the broker then assigns one).
    pub client_id: String,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Bytes>,
    /// Remote address.
    pub peer: SocketAddr,
    /// SHA-256 (lower-case hex) of the client certificate presented on a TLS listener.
    pub certificate_fingerprint: Option<String>,
}

/// The answer to an [`AuthRequest`].
#[derive(Debug)]
pub enum AuthDecision {
    /// Accept, with the platform identity to attach.
    Allow {
        /// Opaque identity handed back in [`ClientInfo::identity`].
        identity: Option<Arc<dyn Any + Send + Sync>>,
        /// True when the client presented no credentials.
        anonymous: bool,
    },
    /// Refuse with a reason (e.g. `BadUserNameOrPassword`, `NotAuthorized`).
    Deny(ReasonCode),
}

/// What a client wants to do with a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// PUBLISH to a topic name.
    Publish,
    /// SUBSCRIBE to a topic filter.
    Subscribe,
}

/// What to do with an incoming PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Route it to subscribers (ordinary pub/sub).
    Route,
    /// The platform consumes it through [`Hooks::consume`] (e.g. device telemetry); the
    /// acknowledgement waits for the platform's answer.
    Consume,
}

/// Sends the result of an asynchronous decision back to the connection's worker.
pub struct Reply<T> {
    shared: Arc<Shared>,
    worker: usize,
    wrap: Box<dyn FnOnce(T) -> Command + Send>,
}

impl<T> Reply<T> {
    pub(crate) fn new(
        shared: Arc<Shared>,
        worker: usize,
        wrap: impl FnOnce(T) -> Command + Send + 'static,
    ) -> Self {
        Self {
            shared,
            worker,
            wrap: Box::new(wrap),
        }
    }

    /// Delivers the answer; safe to call from any thread, once.
    pub fn send(self, value: T) {
        let command = (self.wrap)(value);
        self.shared.send(self.worker, command);
    }
}

impl<T> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

/// The answer to a consumed PUBLISH: `Ok` once it is durable, or the reason it was refused.
pub type PublishResult = Result<(), ReasonCode>;

/// The platform's side of the broker.
pub trait Hooks: Send + Sync + 'static {
    /// Decides whether a CONNECT may proceed. Call `reply.send` exactly once, from any thread.
    fn authenticate(&self, request: AuthRequest, reply: Reply<AuthDecision>);

    /// Whether `client` may publish to / subscribe to `topic`. Called on the worker thread:
    /// it must not block.
    fn authorize(&self, client: &ClientInfo, action: Action, topic: &str) -> bool;

    /// Whether the platform consumes this PUBLISH instead of routing it.
    fn disposition(&self, client: &ClientInfo, publish: &Publish) -> Disposition {
        let _ = (client, publish);
        Disposition::Route
    }

    /// Consumes a PUBLISH for which [`Hooks::disposition`] said `Consume`. Call `reply.send`
    /// once the message is durable (the QoS 1/2 acknowledgement is sent then), or with a
    /// reason code to refuse it.
    fn consume(&self, client: ClientInfo, publish: Publish, reply: Reply<PublishResult>) {
        let _ = (client, publish);
        reply.send(Ok(()));
    }

    /// Where an authorised subscription is kept: `Some(prefix)` files it under
    /// `prefix + filter`, where `prefix` is a private namespace `$private/{owner}/` that only
    /// the platform publishes to (see [`crate::PRIVATE_PREFIX`]). Deliveries drop the prefix
    /// again, so the client sees the topic it subscribed to. This is how one device's
    /// `v1/devices/me/rpc/request/+` receives only that device's requests. Called on the
    /// worker thread: it must not block.
    fn mount(&self, client: &ClientInfo, filter: &str) -> Option<String> {
        let _ = (client, filter);
        None
    }

    /// Who owns the sessions this client opens: a session is resumed only by a client with
    /// the same owner; anyone else with that client identifier gets a clean session (so a
    /// device cannot inherit another's subscriptions and queued messages by borrowing its
    /// client identifier). `None` (the default) for clients without an identity.
    fn session_owner(&self, client: &ClientInfo) -> Option<String> {
        let _ = client;
        None
    }

    /// A client's CONNECT was accepted. Called on the worker thread: it must not block.
    fn connected(&self, client: &ClientInfo) {
        let _ = client;
    }

    /// A client's connection closed (after [`Hooks::connected`]). Called on the worker
    /// thread: it must not block.
    fn disconnected(&self, client: &ClientInfo) {
        let _ = client;
    }

    /// A client was granted these subscriptions (the filters as the client sent them).
    /// Called on the worker thread after the SUBACK is queued: it must not block.
    fn subscribed(&self, client: &ClientInfo, filters: &[String]) {
        let _ = (client, filters);
    }
}

/// Hooks for tests and benchmarks: everyone may connect and use every topic.
#[derive(Debug, Default, Clone, Copy)]
pub struct AllowAll;

impl Hooks for AllowAll {
    fn authenticate(&self, _request: AuthRequest, reply: Reply<AuthDecision>) {
        reply.send(AuthDecision::Allow {
            identity: None,
            anonymous: true,
        });
    }

    fn authorize(&self, _client: &ClientInfo, _action: Action, _topic: &str) -> bool {
        true
    }
}
