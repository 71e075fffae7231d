//! State shared by all workers: the router, per-worker inboxes, hooks and counters.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use strata_proto_mqtt::ReasonCode;
use strata_proto_mqtt::packet::Publish;

use crate::config::BrokerConfig;
use crate::hooks::{AuthDecision, Hooks, PublishResult};
use crate::router::Router;

/// Work for a worker from elsewhere.
pub(crate) enum Command {
    /// Hand a message to a connection.
    Deliver {
        token: usize,
        generation: u64,
        publish: Publish,
    },
    /// The hooks decided a CONNECT (`after_takeover`: the session's previous connection on
    /// another worker has been closed meanwhile, see `TakeOver`).
    Authenticated {
        token: usize,
        generation: u64,
        decision: AuthDecision,
        after_takeover: bool,
    },
    /// Close a connection whose session another connection takes over, then hand the
    /// CONNECT decision back to the taking connection's worker, so it resumes the complete
    /// session state.
    TakeOver {
        token: usize,
        generation: u64,
        requester: crate::router::ConnRef,
        decision: AuthDecision,
    },
    /// The platform finished with a consumed PUBLISH.
    Consumed {
        token: usize,
        generation: u64,
        packet_id: Option<strata_proto_mqtt::PacketId>,
        result: PublishResult,
    },
    /// Disconnect a connection (session takeover, shutdown).
    Kick {
        token: usize,
        generation: u64,
        reason: ReasonCode,
    },
    /// Publish a message from the platform (or a due will) into the broker.
    Inject(Publish),
    /// Stop the worker.
    Shutdown,
}

pub(crate) struct Inbox {
    queue: Mutex<Vec<Command>>,
    /// Commands queued and not yet taken, readable without the lock.
    queued: AtomicUsize,
    waker: mio::Waker,
}

impl Inbox {
    pub(crate) fn new(waker: mio::Waker) -> Self {
        Self {
            queue: Mutex::new(Vec::new()),
            queued: AtomicUsize::new(0),
            waker,
        }
    }

    pub(crate) fn take(&self, into: &mut Vec<Command>) {
        if let Ok(mut q) = self.queue.lock() {
            std::mem::swap(&mut *q, into);
            self.queued.store(0, Ordering::Relaxed);
        }
    }

    /// Commands waiting to be taken (approximate: other threads may be adding).
    pub(crate) fn backlog(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

pub(crate) struct Shared {
    router: Mutex<Router>,
    pub(crate) inboxes: Vec<Inbox>,
    pub(crate) hooks: Arc<dyn Hooks>,
    pub(crate) config: BrokerConfig,
    pub(crate) connections: AtomicUsize,
    pub(crate) shutting_down: AtomicBool,
}

impl Shared {
    pub(crate) fn new(
        router: Router,
        inboxes: Vec<Inbox>,
        hooks: Arc<dyn Hooks>,
        config: BrokerConfig,
    ) -> Self {
        Self {
            router: Mutex::new(router),
            inboxes,
            hooks,
            config,
            connections: AtomicUsize::new(0),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Locks the router; a poisoned lock (a panic while routing) is recovered, since the
    /// router's invariants hold between calls.
    pub(crate) fn router(&self) -> MutexGuard<'_, Router> {
        self.router.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a command for a worker and wakes it.
    pub(crate) fn send(&self, worker: usize, command: Command) {
        let Some(inbox) = self.inboxes.get(worker) else {
            return;
        };
        let was_empty = match inbox.queue.lock() {
            Ok(mut q) => {
                q.push(command);
                inbox.queued.store(q.len(), Ordering::Relaxed);
                q.len() == 1
            }
            Err(_) => return,
        };
        if was_empty && let Err(e) = inbox.waker.wake() {
            tracing::error!(error = %e, worker, "cannot wake a broker worker");
        }
    }

    /// Queues many commands for a worker, waking it once.
    pub(crate) fn send_all(&self, worker: usize, commands: impl Iterator<Item = Command>) {
        let Some(inbox) = self.inboxes.get(worker) else {
            return;
        };
        if let Ok(mut q) = inbox.queue.lock() {
            q.extend(commands);
            inbox.queued.store(q.len(), Ordering::Relaxed);
        }
        let _ = inbox.waker.wake();
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}
