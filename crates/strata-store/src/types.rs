//! Plain data types shared by every backend.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// A tenant: the unit of isolation. Every entity belongs to exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantId(pub i64);

/// A tenant record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// Identifier.
    pub id: TenantId,
    /// Display name.
    pub name: String,
}

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything in the tenant, including users and API keys.
    Admin,
    /// Manage devices and data, not users.
    Operator,
    /// Read only.
    Viewer,
}

impl Role {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Identifier.
    pub id: Uuid,
    /// Tenant the user belongs to.
    pub tenant: TenantId,
    /// Sign-in name, unique across the installation.
    pub username: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Permissions.
    pub role: Role,
    /// Creation time.
    pub created_at: Millis,
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Tenant the user belongs to.
    pub tenant: TenantId,
    /// Sign-in name.
    pub username: String,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Permissions.
    pub role: Role,
}

/// Kinds of bearer token for the management API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Long-lived key created by a user for scripts and integrations.
    ApiKey,
    /// Short-lived token returned by signing in.
    Session,
}

impl TokenKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::ApiKey => "api_key",
            TokenKind::Session => "session",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<TokenKind> {
        match s {
            "api_key" => Some(TokenKind::ApiKey),
            "session" => Some(TokenKind::Session),
            _ => None,
        }
    }
}

/// A management API token; the secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Identifier.
    pub id: Uuid,
    /// Tenant.
    pub tenant: TenantId,
    /// Owner.
    pub user_id: Uuid,
    /// API key or session.
    pub kind: TokenKind,
    /// A label chosen by the user.
    pub name: String,
    /// The first characters of the secret, to recognise it in a list.
    pub prefix: String,
    /// Creation time.
    pub created_at: Millis,
    /// Expiry, if any.
    pub expires_at: Option<Millis>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

/// A new management API token.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    /// Tenant.
    pub tenant: TenantId,
    /// Owner.
    pub user_id: Uuid,
    /// API key or session.
    pub kind: TokenKind,
    /// A label chosen by the user.
    pub name: String,
    /// The first characters of the secret.
    pub prefix: String,
    /// SHA-256 of the secret, hex.
    pub secret_hash: String,
    /// Expiry, if any.
    pub expires_at: Option<Millis>,
}

/// The numeric handle of a device inside storage; telemetry rows are keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceKey(pub i64);

/// A registered device.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// Public identifier.
    pub id: Uuid,
    /// Storage handle.
    pub key: DeviceKey,
    /// Tenant.
    pub tenant: TenantId,
    /// Name, unique within the tenant.
    pub name: String,
    /// Free-form type, e.g. `thermostat`.
    pub device_type: String,
    /// Labels for grouping and filtering.
    pub labels: Vec<String>,
    /// Free-form JSON metadata.
    pub metadata: serde_json::Value,
    /// Creation time.
    pub created_at: Millis,
    /// Last change time.
    pub updated_at: Millis,
}

/// A new device.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Tenant.
    pub tenant: TenantId,
    /// Name, unique within the tenant.
    pub name: String,
    /// Free-form type.
    pub device_type: String,
    /// Labels.
    pub labels: Vec<String>,
    /// Free-form JSON metadata.
    pub metadata: serde_json::Value,
}

/// A partial update of a device; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DevicePatch {
    /// New name.
    pub name: Option<String>,
    /// New type.
    pub device_type: Option<String>,
    /// New labels (replacing the old ones).
    pub labels: Option<Vec<String>>,
    /// New metadata (replacing the old one).
    pub metadata: Option<serde_json::Value>,
}

/// How to filter a device list.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    /// Only devices carrying this label.
    pub label: Option<String>,
    /// Only devices whose name contains this text (case-insensitive).
    pub name_contains: Option<String>,
    /// Only devices of this type.
    pub device_type: Option<String>,
    /// Only these devices (`Some(true)`) or all but these (`Some(false)`): how the platform
    /// filters by connectivity, which it tracks in memory.
    pub keys: Option<(bool, Vec<DeviceKey>)>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// How many items match in all.
    pub total: u64,
}

/// Kinds of device credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A random access token (stored as its SHA-256).
    AccessToken,
    /// The SHA-256 fingerprint of an X.509 client certificate.
    X509Fingerprint,
    /// A DTLS pre-shared key: the lookup is the identity, the secret the key.
    Psk,
    /// An LwM2M client endpoint name allowed to register without security (NoSec mode).
    Lwm2mEndpoint,
}

impl CredentialKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::AccessToken => "access_token",
            CredentialKind::X509Fingerprint => "x509_fingerprint",
            CredentialKind::Psk => "psk",
            CredentialKind::Lwm2mEndpoint => "lwm2m_endpoint",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<CredentialKind> {
        match s {
            "access_token" => Some(CredentialKind::AccessToken),
            "x509_fingerprint" => Some(CredentialKind::X509Fingerprint),
            "psk" => Some(CredentialKind::Psk),
            "lwm2m_endpoint" => Some(CredentialKind::Lwm2mEndpoint),
            _ => None,
        }
    }
}

/// A device credential as listed (without secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Identifier.
    pub id: Uuid,
    /// Device it authenticates.
    pub device_id: Uuid,
    /// Kind.
    pub kind: CredentialKind,
    /// A recognisable, non-secret hint (token prefix, fingerprint, PSK identity).
    pub hint: String,
    /// Creation time.
    pub created_at: Millis,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
}

/// A new device credential.
#[derive(Debug, Clone)]
pub struct NewCredential {
    /// Tenant.
    pub tenant: TenantId,
    /// Device.
    pub device_id: Uuid,
    /// Kind.
    pub kind: CredentialKind,
    /// The value looked up at authentication (token hash, fingerprint, PSK identity).
    pub lookup: String,
    /// Secret material the server needs back (the PSK); `None` for hashed tokens.
    pub secret: Option<Vec<u8>>,
    /// Non-secret hint.
    pub hint: String,
}

/// The device a valid credential belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// Tenant.
    pub tenant: TenantId,
    /// Public device identifier.
    pub device_id: Uuid,
    /// Storage handle.
    pub device_key: DeviceKey,
    /// The credential used.
    pub credential_id: Uuid,
}

/// A telemetry value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A whole number.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// true or false.
    Bool(bool),
    /// Text.
    Str(String),
    /// Any other JSON (objects, arrays).
    Json(serde_json::Value),
}

impl Value {
    /// The value as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Json(v) => v.clone(),
        }
    }
}

/// One telemetry point to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Device.
    pub device: DeviceKey,
    /// Key name, e.g. `temperature`.
    pub key: String,
    /// Timestamp.
    pub ts: Millis,
    /// Value.
    pub value: Value,
}

/// One stored point of a known key.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedValue {
    /// Timestamp.
    pub ts: Millis,
    /// Value.
    pub value: Value,
}

/// The latest value of one key.
#[derive(Debug, Clone, PartialEq)]
pub struct LatestValue {
    /// Key name.
    pub key: String,
    /// Timestamp.
    pub ts: Millis,
    /// Value.
    pub value: Value,
}

/// Order of a range query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first.
    #[default]
    Desc,
}

/// A raw range query on one key: `start <= ts < end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangeQuery {
    /// Inclusive start.
    pub start: Millis,
    /// Exclusive end.
    pub end: Millis,
    /// Most points returned.
    pub limit: u32,
    /// Sort order.
    pub order: Order,
}

/// Aggregate functions over numeric points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aggregate {
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean.
    Avg,
    /// Sum.
    Sum,
    /// Number of points (of any type).
    Count,
}

/// One interval of an aggregate query.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    /// Start of the interval.
    pub start: Millis,
    /// The aggregate; `None` when the interval has points but none numeric.
    pub value: Option<f64>,
    /// Points in the interval.
    pub count: u64,
}

/// One persistent MQTT session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttSessionRow {
    /// MQTT client identifier.
    pub client_id: String,
    /// Session expiry interval in seconds (`u32::MAX`: never).
    pub expiry_secs: u32,
    /// Wall-clock time (ms) the session ends if the client stays away; `None`: never.
    pub expires_at: Option<Millis>,
    /// The broker's encoding of subscriptions and queued messages.
    pub state: Vec<u8>,
    /// Who may resume it (e.g. a device id); `None` for anonymous clients.
    pub owner: Option<String>,
}

/// The MQTT broker's durable state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MqttState {
    /// Persistent sessions.
    pub sessions: Vec<MqttSessionRow>,
    /// Retained messages: (topic, the broker's encoding of the message).
    pub retained: Vec<(String, Vec<u8>)>,
}

/// An MQTT access rule as stored (see the platform's `acl` module for its meaning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclRuleRow {
    /// Identifier.
    pub id: Uuid,
    /// Tenant.
    pub tenant: TenantId,
    /// `publish`, `subscribe` or `all`.
    pub action: String,
    /// Topic filter.
    pub filter: String,
    /// `device`, `label` or `everyone`.
    pub target_kind: String,
    /// Device id or label; empty for everyone.
    pub target: String,
    /// Allow (true) or deny.
    pub allow: bool,
    /// Creation time.
    pub created_at: Millis,
}

/// One client attribute of a device (a value the device reports about itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Name.
    pub key: String,
    /// JSON text of the value.
    pub value_json: String,
    /// When it was last set (ms).
    pub updated_at: Millis,
}

/// A stored device shadow: its JSON document (desired, reported, metadata) is opaque here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadowRow {
    /// Device.
    pub device: DeviceKey,
    /// Shadow name (`default` for the classic shadow).
    pub name: String,
    /// JSON text of the document.
    pub document: String,
    /// Version, starting at 1 and bumped by every update.
    pub version: i64,
    /// Last change (ms).
    pub updated_at: Millis,
}

/// Where an RPC call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RpcStatus {
    /// Waiting for the device to be reachable (persistent calls only).
    Queued,
    /// Handed to the device; a two-way call waits for its answer.
    Sent,
    /// The device answered (two-way), or the call was sent (one-way).
    Successful,
    /// The device answered with an error, or delivery failed.
    Failed,
    /// A two-way call's answer did not come in time.
    Timeout,
    /// The call was not delivered (or answered) before its expiry.
    Expired,
}

impl RpcStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Sent => "sent",
            Self::Successful => "successful",
            Self::Failed => "failed",
            Self::Timeout => "timeout",
            Self::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => Self::Queued,
            "sent" => Self::Sent,
            "successful" => Self::Successful,
            "failed" => Self::Failed,
            "timeout" => Self::Timeout,
            "expired" => Self::Expired,
            _ => return None,
        })
    }

    /// Whether the call can still change.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Queued | Self::Sent)
    }
}

/// A new RPC call to a device.
#[derive(Debug, Clone)]
pub struct NewRpcCall {
    /// Device.
    pub device: DeviceKey,
    /// Method name.
    pub method: String,
    /// JSON text of the parameters.
    pub params_json: String,
    /// No answer expected.
    pub oneway: bool,
    /// Kept and delivered when the device is next reachable, until `expires_at`.
    pub persistent: bool,
    /// When the call ends unless answered (ms).
    pub expires_at: Millis,
}

/// An RPC call as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcCall {
    /// Identifier, also the request id the device sees.
    pub id: i64,
    /// Device.
    pub device: DeviceKey,
    /// Method name.
    pub method: String,
    /// JSON text of the parameters.
    pub params_json: String,
    /// No answer expected.
    pub oneway: bool,
    /// Kept for an offline device.
    pub persistent: bool,
    /// Status.
    pub status: RpcStatus,
    /// JSON text of the device's answer.
    pub response_json: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Created (ms).
    pub created_at: Millis,
    /// Expiry (ms).
    pub expires_at: Millis,
    /// Last status change (ms).
    pub updated_at: Millis,
}

/// When a device was last heard from, connected and disconnected (ms).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceActivity {
    /// Last message or connection from the device.
    pub last_seen_at: Option<Millis>,
    /// Last connection opened (MQTT, CoAP/LWM2M registration).
    pub last_connected_at: Option<Millis>,
    /// Last connection closed.
    pub last_disconnected_at: Option<Millis>,
}

/// A stored rule: its definition (JSON) is the platform's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    /// Identifier.
    pub id: Uuid,
    /// Tenant.
    pub tenant: TenantId,
    /// Name, unique in the tenant.
    pub name: String,
    /// JSON text of the definition.
    pub definition: String,
    /// Created (ms).
    pub created_at: Millis,
    /// Last change (ms).
    pub updated_at: Millis,
}

/// A message waiting for an external sink (webhook, AMQP, e-mail), or given up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// Identifier, increasing in the order messages were routed.
    pub id: i64,
    /// Tenant.
    pub tenant: TenantId,
    /// The rule that routed it.
    pub rule_id: Uuid,
    /// Messages with the same key go to the same sink, in order.
    pub sink_key: String,
    /// JSON text of the sink's definition (so a dead letter can be replayed).
    pub sink: String,
    /// The message.
    pub payload: Vec<u8>,
    /// `pending` or `dead`.
    pub dead: bool,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before (ms).
    pub next_attempt_at: Millis,
    /// Routed (ms).
    pub created_at: Millis,
    /// The last failure.
    pub last_error: Option<String>,
}

/// A message to put in the outbox.
#[derive(Debug, Clone)]
pub struct NewOutboxEntry {
    /// Tenant.
    pub tenant: TenantId,
    /// The rule that routed it.
    pub rule_id: Uuid,
    /// Queue key of the sink.
    pub sink_key: String,
    /// JSON text of the sink's definition.
    pub sink: String,
    /// The message.
    pub payload: Vec<u8>,
}

/// An alarm as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRow {
    /// Identifier.
    pub id: Uuid,
    /// Tenant.
    pub tenant: TenantId,
    /// The device it is about.
    pub device: DeviceKey,
    /// Type, e.g. `HighTemperature`.
    pub alarm_type: String,
    /// `critical`, `major`, `minor`, `warning` or `indeterminate`.
    pub severity: String,
    /// Someone acknowledged it.
    pub acknowledged: bool,
    /// Its condition ended (or someone cleared it).
    pub cleared: bool,
    /// JSON text of details (the message that raised it last).
    pub details: String,
    /// How many times it was raised while open.
    pub repeats: i64,
    /// Created (ms).
    pub created_at: Millis,
    /// Last change (ms).
    pub updated_at: Millis,
    /// Acknowledged (ms).
    pub acknowledged_at: Option<Millis>,
    /// Cleared (ms).
    pub cleared_at: Option<Millis>,
}

/// One event in an alarm's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmEvent {
    /// When (ms).
    pub at: Millis,
    /// `created`, `updated`, `acknowledged` or `cleared`.
    pub event: String,
    /// JSON text of details.
    pub details: String,
}

/// Which alarms to list.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    /// Only this device's.
    pub device: Option<DeviceKey>,
    /// Only open (not cleared) ones (`Some(true)`), only cleared ones (`Some(false)`).
    pub open: Option<bool>,
    /// Only acknowledged (`Some(true)`) or unacknowledged (`Some(false)`) ones.
    pub acknowledged: Option<bool>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only this type.
    pub alarm_type: Option<String>,
}

/// A stored dashboard; `widgets` is the JSON array the API validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardRow {
    /// Identifier.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant: TenantId,
    /// Name, unique in the tenant.
    pub name: String,
    /// Widgets as JSON text.
    pub widgets: String,
    /// Creation time.
    pub created_at: Millis,
    /// Last change.
    pub updated_at: Millis,
}
