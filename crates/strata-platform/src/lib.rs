//! Strata's domain services, shared by every protocol front end.
//!
//! HTTP, MQTT, CoAP and LWM2M front ends authenticate a caller and then call the same
//! [`Platform`] methods, so the core never knows which wire a message came over.
//!
//! - [`accounts`]: the first-start admin account, sign-in, API keys, request authentication.
//! - [`registry`]: devices and their credentials (access tokens today; X.509 fingerprints and
//!   PSKs have a place in the model for the protocol front ends that need them).
//! - [`telemetry`]: payload parsing and validation, durable ingest, queries, retention.
//! - [`attributes`]: client attributes devices report about themselves.
//! - [`shadow`]: device shadows (desired/reported/delta, versions, named shadows).
//! - [`rpc`]: commands to devices, two-way and one-way, persistent for offline devices.
//! - [`connectivity`]: online/offline and last-seen for every device.
//! - [`downlink`]: how messages reach devices; protocol front ends register links.
//! - [`rules`]: the rule engine and its sinks (webhook, AMQP, e-mail, MQTT republish).
//! - [`alarms`]: alarms raised by rules or people, with their lifecycle and history.
//! - [`events`]: the live event stream for dashboards.
//!
//! This crate does no network I/O; storage goes through [`strata_store::Backend`].

pub mod accounts;
pub mod acl;
pub mod alarms;
pub mod attributes;
pub mod connectivity;
pub mod dashboards;
pub mod device_info;
pub mod downlink;
mod error;
pub mod events;
pub mod registry;
pub mod rpc;
pub mod rules;
mod secrets;
pub mod shadow;
pub mod telemetry;

use std::sync::Arc;

pub use error::{ErrorCode, PlatformError};
use strata_config::Config;
pub use strata_store as store;
use strata_store::{Backend, Millis, TenantId};

/// The platform services over one storage backend. Cheap to clone.
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Backend>,
    config: Config,
    default_tenant: TenantId,
    device_tokens: registry::TokenCache,
    acl: acl::AclCache,
    links: downlink::Links,
    connectivity: connectivity::Connectivity,
    rpc: rpc::Waiters,
    rpc_turns: rpc::DeliveryTurns,
    device_info: device_info::DeviceInfoCache,
    events: events::EventBus,
    rules: rules::RuleEngine,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform").finish_non_exhaustive()
    }
}

impl Platform {
    /// Builds the services; creates the default tenant on first start.
    pub async fn new(store: Arc<dyn Backend>, config: Config) -> Result<Self, PlatformError> {
        let tenant = store.default_tenant().await?;
        let rules = rules::RuleEngine::new(&config);
        let platform = Self {
            inner: Arc::new(Inner {
                store,
                config,
                default_tenant: tenant.id,
                device_tokens: registry::TokenCache::default(),
                acl: acl::AclCache::default(),
                links: downlink::Links::default(),
                connectivity: connectivity::Connectivity::default(),
                rpc: rpc::Waiters::default(),
                rpc_turns: rpc::DeliveryTurns::default(),
                device_info: device_info::DeviceInfoCache::default(),
                events: events::EventBus::default(),
                rules,
            }),
        };
        platform.load_acl_rules().await?;
        platform.load_activity().await?;
        platform.load_rules().await?;
        Ok(platform)
    }

    /// The storage backend.
    pub fn store(&self) -> &Arc<dyn Backend> {
        &self.inner.store
    }

    /// The configuration the platform runs with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Registers a way to reach devices (a protocol front end).
    pub fn add_device_link(&self, link: Arc<dyn downlink::DeviceLink>) {
        self.inner.links.add(link);
    }

    /// The tenant new accounts join.
    pub fn default_tenant(&self) -> TenantId {
        self.inner.default_tenant
    }
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use strata_store::sqlite::{SqliteOptions, SqliteStore};

    pub(crate) async fn platform() -> (tempfile::TempDir, Platform) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&SqliteOptions::new(dir.path().join("t.db"))).unwrap();
        let platform = Platform::new(Arc::new(store), Config::default())
            .await
            .unwrap();
        (dir, platform)
    }

    /// An admin of the default tenant (no stored user behind it).
    pub(crate) async fn admin(p: &Platform) -> accounts::Principal {
        accounts::Principal {
            tenant: p.default_tenant(),
            user_id: uuid::Uuid::new_v4(),
            username: "admin".into(),
            role: strata_store::Role::Admin,
            token_id: uuid::Uuid::new_v4(),
        }
    }

    /// The principal of a stored user.
    pub(crate) async fn principal_for(
        _p: &Platform,
        user: &strata_store::User,
    ) -> accounts::Principal {
        accounts::Principal {
            tenant: user.tenant,
            user_id: user.id,
            username: user.username.clone(),
            role: user.role,
            token_id: uuid::Uuid::new_v4(),
        }
    }

    /// Creates a device and returns its id.
    pub(crate) async fn device(
        p: &Platform,
        caller: &accounts::Principal,
        name: &str,
    ) -> uuid::Uuid {
        p.create_device(
            caller,
            registry::DeviceSpec {
                name: name.into(),
                device_type: None,
                labels: vec![],
                metadata: None,
            },
        )
        .await
        .unwrap()
        .device
        .id
    }
}
