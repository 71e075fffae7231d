//! The seams between services and backends.

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::StoreError;
use crate::types::*;

/// Tenants, users and management API tokens.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Returns the default tenant, creating it on first use.
    async fn default_tenant(&self) -> Result<Tenant, StoreError>;
    /// Number of users in all tenants.
    async fn count_users(&self) -> Result<u64, StoreError>;
    /// Creates a user; `Conflict` if the name is taken.
    async fn create_user(&self, user: NewUser) -> Result<User, StoreError>;
    /// Finds a user by sign-in name.
    async fn find_user(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Creates a token.
    async fn create_token(&self, token: NewApiToken) -> Result<ApiToken, StoreError>;
    /// Finds a live (not revoked, not expired at `now`) token and its owner by secret hash.
    async fn find_token(
        &self,
        secret_hash: &str,
        now: Millis,
    ) -> Result<Option<(ApiToken, User)>, StoreError>;
    /// Lists a tenant's tokens of one kind.
    async fn list_tokens(
        &self,
        tenant: TenantId,
        kind: TokenKind,
    ) -> Result<Vec<ApiToken>, StoreError>;
    /// Revokes a token; false if no live token has that id in the tenant.
    async fn revoke_token(
        &self,
        tenant: TenantId,
        id: Uuid,
        now: Millis,
    ) -> Result<bool, StoreError>;
    /// Deletes sign-in sessions that expired or were revoked before `before` (every sign-in
    /// adds one); returns how many. API keys stay, revoked or not, for their list.
    async fn prune_sessions(&self, before: Millis) -> Result<u64, StoreError>;
    /// Creates a tenant with its first user (whose `tenant` is ignored), atomically;
    /// `Conflict` if the tenant or user name is taken.
    async fn create_tenant(&self, name: &str, admin: NewUser)
    -> Result<(Tenant, User), StoreError>;
    /// Lists all tenants by name.
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// Lists a tenant's users by name.
    async fn list_users(&self, tenant: TenantId) -> Result<Vec<User>, StoreError>;
    /// Deletes a user of the tenant and its tokens; false if there is no such user;
    /// `Conflict` for the tenant's last admin.
    async fn delete_user(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
    /// Deletes every user and token of a tenant (the first step of deleting it: nobody can
    /// sign in or act in it afterwards); false if there is no such tenant.
    async fn remove_tenant_accounts(&self, tenant: TenantId) -> Result<bool, StoreError>;
    /// Deletes a tenant with its remaining rows (rules, access rules, dashboards, queued
    /// rule outputs, users); `Conflict` while it still has devices (delete those first, with
    /// their data); false if there is no such tenant.
    async fn delete_tenant(&self, tenant: TenantId) -> Result<bool, StoreError>;
}

/// Dashboards, saved per tenant.
#[async_trait]
pub trait DashboardStore: Send + Sync {
    /// Lists a tenant's dashboards by name.
    async fn list_dashboards(&self, tenant: TenantId) -> Result<Vec<DashboardRow>, StoreError>;
    /// Gets one dashboard.
    async fn dashboard(
        &self,
        tenant: TenantId,
        id: Uuid,
    ) -> Result<Option<DashboardRow>, StoreError>;
    /// Inserts a new dashboard; `Conflict` if another dashboard of the tenant has the name.
    async fn insert_dashboard(&self, row: DashboardRow) -> Result<(), StoreError>;
    /// Replaces the name, widgets and update time of an existing dashboard of the row's
    /// tenant; false if there is none with that id (deleted meanwhile, or another tenant's).
    async fn update_dashboard(&self, row: DashboardRow) -> Result<bool, StoreError>;
    /// Deletes a dashboard; false if there is none with that id in the tenant.
    async fn delete_dashboard(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
}

/// The device registry and device credentials.
#[async_trait]
pub trait DeviceStore: Send + Sync {
    /// Creates a device; `Conflict` if the name is taken in the tenant.
    async fn create_device(&self, device: NewDevice, now: Millis) -> Result<Device, StoreError>;
    /// Gets one device.
    async fn get_device(&self, tenant: TenantId, id: Uuid) -> Result<Option<Device>, StoreError>;
    /// Gets a device by its storage handle (any tenant).
    async fn device_by_key(&self, key: DeviceKey) -> Result<Option<Device>, StoreError>;
    /// Lists devices by name, `limit` from `offset`.
    async fn list_devices(
        &self,
        tenant: TenantId,
        filter: &DeviceFilter,
        offset: u64,
        limit: u32,
    ) -> Result<Page<Device>, StoreError>;
    /// Applies a partial update; `None` if there is no such device.
    async fn update_device(
        &self,
        tenant: TenantId,
        id: Uuid,
        patch: DevicePatch,
        now: Millis,
    ) -> Result<Option<Device>, StoreError>;
    /// Deletes a device with its credentials and telemetry; false if there was none.
    async fn delete_device(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
    /// Adds a credential; when `replace` is true, live credentials of the same kind are
    /// revoked in the same transaction (token rotation).
    async fn add_credential(
        &self,
        credential: NewCredential,
        replace: bool,
        now: Millis,
    ) -> Result<Credential, StoreError>;
    /// Lists a device's credentials, revoked ones included.
    async fn list_credentials(
        &self,
        tenant: TenantId,
        device_id: Uuid,
    ) -> Result<Vec<Credential>, StoreError>;
    /// Revokes one credential; false if no live credential has that id for the device.
    async fn revoke_credential(
        &self,
        tenant: TenantId,
        device_id: Uuid,
        credential_id: Uuid,
        now: Millis,
    ) -> Result<bool, StoreError>;
    /// Finds the device a live credential belongs to.
    async fn find_device_by_credential(
        &self,
        kind: CredentialKind,
        lookup: &str,
    ) -> Result<Option<DeviceIdentity>, StoreError>;
    /// Finds the device a live credential belongs to, with the credential's secret (a
    /// DTLS pre-shared key).
    async fn find_credential_secret(
        &self,
        kind: CredentialKind,
        lookup: &str,
    ) -> Result<Option<(DeviceIdentity, Vec<u8>)>, StoreError>;
    /// Every device key, for maintenance sweeps.
    async fn all_device_keys(&self) -> Result<Vec<DeviceKey>, StoreError>;
}

/// Time-series telemetry.
#[async_trait]
pub trait TelemetryStore: Send + Sync {
    /// Stores points durably; a point with the same device, key and timestamp as a stored one
    /// replaces it. Concurrent calls share commits.
    async fn write_points(&self, points: Vec<Point>) -> Result<(), StoreError>;
    /// Like [`TelemetryStore::write_points`], and queues messages for sinks in the same
    /// transaction (what is stored is routed).
    async fn write_points_routed(
        &self,
        points: Vec<Point>,
        outbox: Vec<NewOutboxEntry>,
        now: Millis,
    ) -> Result<(), StoreError>;
    /// Latest value of each key of a device (all keys when `keys` is empty).
    async fn latest(
        &self,
        device: DeviceKey,
        keys: &[String],
    ) -> Result<Vec<LatestValue>, StoreError>;
    /// Names of the keys a device has sent.
    async fn keys(&self, device: DeviceKey) -> Result<Vec<String>, StoreError>;
    /// Raw points of one key in a time range.
    async fn range(
        &self,
        device: DeviceKey,
        key: &str,
        query: RangeQuery,
    ) -> Result<Vec<TimedValue>, StoreError>;
    /// The points of one key in a time range, oldest first, thinned to at most
    /// `max_points` for charts: when the range holds more, each of `max_points / 2` equal
    /// time slices keeps its lowest and highest numeric (or boolean) point, so peaks
    /// survive; a key of text or JSON keeps its latest `max_points` points instead. The
    /// flag is true then.
    async fn downsample(
        &self,
        device: DeviceKey,
        key: &str,
        start: Millis,
        end: Millis,
        max_points: u32,
    ) -> Result<(Vec<TimedValue>, bool), StoreError>;
    /// Aggregates of one key over fixed intervals aligned to `start`; empty intervals are
    /// left out.
    async fn aggregate(
        &self,
        device: DeviceKey,
        key: &str,
        start: Millis,
        end: Millis,
        interval: Millis,
        function: Aggregate,
    ) -> Result<Vec<Bucket>, StoreError>;
    /// Deletes the points of a device in `start <= ts < end` (only `keys` unless empty) and
    /// recomputes the latest values that pointed into the range; returns points deleted.
    async fn delete_range(
        &self,
        device: DeviceKey,
        keys: &[String],
        start: Millis,
        end: Millis,
    ) -> Result<u64, StoreError>;
    /// Deletes a device's points older than `cutoff` (retention); latest values stay.
    async fn delete_before(&self, device: DeviceKey, cutoff: Millis) -> Result<u64, StoreError>;
}

/// The MQTT broker's durable state: persistent sessions and retained messages. The broker
/// saves a whole snapshot at a time (periodically and at shutdown); what a row holds is
/// opaque to the store.
#[async_trait]
pub trait MqttStateStore: Send + Sync {
    /// Replaces the stored state with `state`, in one transaction.
    async fn save_mqtt_state(&self, state: MqttState) -> Result<(), StoreError>;
    /// The stored state (empty on a new data directory).
    async fn load_mqtt_state(&self) -> Result<MqttState, StoreError>;
    /// Every MQTT access rule of every tenant, oldest first.
    async fn list_acl_rules(&self) -> Result<Vec<AclRuleRow>, StoreError>;
    /// Adds an access rule.
    async fn add_acl_rule(&self, rule: AclRuleRow) -> Result<(), StoreError>;
    /// Deletes an access rule of a tenant; returns whether it existed.
    async fn delete_acl_rule(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
}

/// Client attributes: the latest value a device reported for each name.
#[async_trait]
pub trait AttributeStore: Send + Sync {
    /// Sets (replaces) attributes of a device durably; `None` deletes one.
    async fn set_attributes(
        &self,
        device: DeviceKey,
        values: Vec<(String, Option<String>)>,
        now: Millis,
    ) -> Result<(), StoreError>;
    /// A device's attributes, by name.
    async fn attributes(&self, device: DeviceKey) -> Result<Vec<Attribute>, StoreError>;
}

/// Device shadows, stored whole; updates are compare-and-set on the version.
#[async_trait]
pub trait ShadowStore: Send + Sync {
    /// One shadow.
    async fn shadow(&self, device: DeviceKey, name: &str) -> Result<Option<ShadowRow>, StoreError>;
    /// A device's shadows, by name.
    async fn shadows(&self, device: DeviceKey) -> Result<Vec<ShadowRow>, StoreError>;
    /// Writes `row` if the stored version is `expected` (0: no shadow yet); false when it
    /// is not (someone else updated it first). Durable when it returns `true`.
    async fn put_shadow(&self, row: ShadowRow, expected: i64) -> Result<bool, StoreError>;
    /// Deletes a shadow; false if there was none.
    async fn delete_shadow(&self, device: DeviceKey, name: &str) -> Result<bool, StoreError>;
}

/// RPC calls to devices and their outcome.
#[async_trait]
pub trait RpcStore: Send + Sync {
    /// Stores a new call with status `status`.
    async fn create_rpc(
        &self,
        call: NewRpcCall,
        status: RpcStatus,
        now: Millis,
    ) -> Result<RpcCall, StoreError>;
    /// One call of a device.
    async fn rpc(&self, device: DeviceKey, id: i64) -> Result<Option<RpcCall>, StoreError>;
    /// A device's most recent calls, newest first.
    async fn list_rpc(&self, device: DeviceKey, limit: u32) -> Result<Vec<RpcCall>, StoreError>;
    /// A device's queued (undelivered, unexpired at `now`) persistent calls, oldest first.
    async fn queued_rpc(&self, device: DeviceKey, now: Millis) -> Result<Vec<RpcCall>, StoreError>;
    /// How many calls `queued_rpc` would return.
    async fn count_queued_rpc(&self, device: DeviceKey, now: Millis) -> Result<u64, StoreError>;
    /// Moves a call to `to` if its status is one of `from`; false otherwise.
    #[allow(clippy::too_many_arguments)]
    async fn transition_rpc(
        &self,
        id: i64,
        from: &[RpcStatus],
        to: RpcStatus,
        response_json: Option<String>,
        error: Option<String>,
        now: Millis,
    ) -> Result<bool, StoreError>;
    /// Deletes finished calls last changed before `before`; returns how many.
    async fn prune_rpc(&self, before: Millis) -> Result<u64, StoreError>;
    /// Marks open calls whose expiry passed as expired; returns them.
    async fn expire_rpc(&self, now: Millis) -> Result<Vec<RpcCall>, StoreError>;
}

/// When devices were last heard from.
#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Records activity; a `None` field keeps the stored value.
    async fn record_activity(
        &self,
        updates: Vec<(DeviceKey, DeviceActivity)>,
    ) -> Result<(), StoreError>;
    /// The recorded activity of every device that has any.
    async fn all_activity(&self) -> Result<Vec<(DeviceKey, DeviceActivity)>, StoreError>;
}

/// Rules, stored whole.
#[async_trait]
pub trait RuleStore: Send + Sync {
    /// Every rule of every tenant, oldest first.
    async fn all_rules(&self) -> Result<Vec<RuleRow>, StoreError>;
    /// Creates a rule, or replaces the tenant's rule with the same id; `Conflict` when
    /// another rule of the tenant has the name.
    async fn put_rule(&self, rule: RuleRow) -> Result<(), StoreError>;
    /// Deletes a rule; false if there was none.
    async fn delete_rule(&self, tenant: TenantId, id: Uuid) -> Result<bool, StoreError>;
}

/// The durable queue of messages for external sinks, and its dead letters.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues messages durably.
    async fn enqueue(&self, entries: Vec<NewOutboxEntry>, now: Millis) -> Result<(), StoreError>;
    /// The oldest pending message of each sink.
    async fn outbox_heads(&self) -> Result<Vec<OutboxRow>, StoreError>;
    /// Up to `limit` pending messages of one sink, oldest first.
    async fn outbox_pending(
        &self,
        sink_key: &str,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError>;
    /// Removes delivered messages.
    async fn outbox_delivered(&self, ids: Vec<i64>) -> Result<(), StoreError>;
    /// Records a failed attempt; `dead` gives up on the message (it becomes a dead letter).
    async fn outbox_failed(
        &self,
        id: i64,
        next_attempt_at: Millis,
        dead: bool,
        error: String,
    ) -> Result<(), StoreError>;
    /// Gives up on a sink's pending messages created before `created_before` (they become
    /// dead letters); returns how many.
    async fn outbox_expire(
        &self,
        sink_key: &str,
        created_before: Millis,
        error: String,
    ) -> Result<u64, StoreError>;
    /// Pending and dead messages per tenant: (pending, dead).
    async fn outbox_counts(&self, tenant: TenantId) -> Result<(u64, u64), StoreError>;
    /// A tenant's dead letters, oldest first.
    async fn dead_letters(
        &self,
        tenant: TenantId,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError>;
    /// Puts dead letters (all of the tenant's when `ids` is empty) back in the queue;
    /// returns how many.
    async fn replay_dead_letters(
        &self,
        tenant: TenantId,
        ids: Vec<i64>,
        now: Millis,
    ) -> Result<u64, StoreError>;
    /// Deletes dead letters (all of the tenant's when `ids` is empty); returns how many.
    async fn delete_dead_letters(&self, tenant: TenantId, ids: Vec<i64>)
    -> Result<u64, StoreError>;
}

/// What [`AlarmStore::raise_alarm`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raised {
    /// A new alarm.
    Created(AlarmRow),
    /// The open alarm of that type and device, raised again.
    Updated(AlarmRow),
}

/// Alarms and their history.
#[async_trait]
pub trait AlarmStore: Send + Sync {
    /// Raises an alarm: creates one, or updates the open one of that type and device
    /// (severity, details, one more repeat).
    async fn raise_alarm(&self, alarm: AlarmRow) -> Result<Raised, StoreError>;
    /// Clears the open alarm of a type and device, if any.
    async fn clear_open_alarm(
        &self,
        device: DeviceKey,
        alarm_type: &str,
        details: String,
        now: Millis,
    ) -> Result<Option<AlarmRow>, StoreError>;
    /// Acknowledges (`clear` false) or clears (`clear` true) an alarm by id; `None` when
    /// the tenant has no such alarm.
    async fn update_alarm(
        &self,
        tenant: TenantId,
        id: Uuid,
        clear: bool,
        now: Millis,
    ) -> Result<Option<AlarmRow>, StoreError>;
    /// One alarm.
    async fn alarm(&self, tenant: TenantId, id: Uuid) -> Result<Option<AlarmRow>, StoreError>;
    /// A tenant's alarms, newest first.
    async fn list_alarms(
        &self,
        tenant: TenantId,
        filter: &AlarmFilter,
        limit: u32,
    ) -> Result<Vec<AlarmRow>, StoreError>;
    /// An alarm's history, oldest first.
    async fn alarm_history(&self, id: Uuid) -> Result<Vec<AlarmEvent>, StoreError>;
}

/// Everything a backend provides.
pub trait Backend:
    AccountStore
    + DeviceStore
    + TelemetryStore
    + MqttStateStore
    + AttributeStore
    + ShadowStore
    + RpcStore
    + ActivityStore
    + RuleStore
    + OutboxStore
    + AlarmStore
    + DashboardStore
{
}

impl<T> Backend for T where
    T: AccountStore
        + DeviceStore
        + TelemetryStore
        + MqttStateStore
        + AttributeStore
        + ShadowStore
        + RpcStore
        + ActivityStore
        + RuleStore
        + OutboxStore
        + AlarmStore
        + DashboardStore
{
}
