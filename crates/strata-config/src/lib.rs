//! Typed, validated configuration for Strata.
//!
//! One TOML file (see `strata.example.toml` at the repository root), overridden by
//! `STRATA_*` environment variables (nested keys joined by `__`, e.g.
//! `STRATA_HTTP__LISTEN=0.0.0.0:8080`), overridden in turn by command-line flags.
//! With no file and no variables, [`Config::default`] gives the embedded defaults: data in
//! `./strata-data`, HTTP on `127.0.0.1:8080`, SQLite storage.
//!
//! This crate does no I/O besides reading the configuration file; it never creates
//! directories or binds sockets. Every error names the offending key, so a person knows what
//! to fix: unknown keys are rejected too, because a typo silently ignored is worse than a
//! refusal to start.
//!
//! The principal type is [`Config`]; [`Loader`] layers the sources and validates the result.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// Prefix of every environment variable that overrides a configuration key.
pub const ENV_PREFIX: &str = "STRATA_";

/// Environment variables with the prefix that are not configuration keys.
const ENV_NOT_CONFIG: &[&str] = &["config", "admin_password", "admin_username"];

/// A configuration problem, always naming the key (or file) at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A source could not be read or a value has the wrong type or an unknown key.
    #[error("configuration error: {0}")]
    Source(String),
    /// A value parsed but is outside what Strata accepts.
    #[error("configuration key `{key}`: {message}")]
    Invalid {
        /// Dotted path of the key, e.g. `http.max_body_bytes`.
        key: &'static str,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// The configuration file named explicitly does not exist.
    #[error("configuration file {0} does not exist (copy strata.example.toml to start one)")]
    MissingFile(PathBuf),
}

/// The whole configuration of a Strata node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Directory holding the embedded database and any other state.
    pub data_dir: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// HTTP listener (REST API, device HTTP API, metrics).
    pub http: HttpConfig,
    /// Storage backend.
    pub storage: StorageConfig,
    /// Telemetry ingest and retention.
    pub telemetry: TelemetryConfig,
    /// Management API authentication.
    pub auth: AuthConfig,
    /// The MQTT broker.
    pub mqtt: MqttConfig,
    /// The CoAP listener (device API over UDP).
    pub coap: CoapConfig,
    /// The LwM2M server (on the CoAP listener).
    pub lwm2m: Lwm2mConfig,
    /// The rule engine and its sinks.
    pub rules: RulesConfig,
    /// Outgoing e-mail for rule notifications.
    pub smtp: SmtpConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./strata-data"),
            log: LogConfig::default(),
            http: HttpConfig::default(),
            storage: StorageConfig::default(),
            telemetry: TelemetryConfig::default(),
            auth: AuthConfig::default(),
            mqtt: MqttConfig::default(),
            coap: CoapConfig::default(),
            lwm2m: Lwm2mConfig::default(),
            rules: RulesConfig::default(),
            smtp: SmtpConfig::default(),
        }
    }
}

/// The CoAP listener: the device API over UDP (RFC 7252, observe, block-wise).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CoapConfig {
    /// Run the CoAP listener at all.
    pub enabled: bool,
    /// UDP address; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// Largest request body reassembled from Block1 transfers, in bytes.
    pub max_body_bytes: usize,
    /// Most observations (of RPC, shadow deltas and attributes) held at once.
    pub max_observations: usize,
    /// A confirmable request still unanswered after this long gets an empty ACK and a
    /// separate response (RFC 7252 §5.2.2).
    #[serde(with = "humantime_serde")]
    pub separate_response_after: Duration,
    /// Client addresses remembered at once for duplicate detection (each for the exchange
    /// lifetime, 247 s, after its last message); messages from further new addresses are
    /// dropped until some fall idle (clients retransmit).
    pub max_peers: usize,
    /// CoAP over DTLS 1.2 (`coaps://`).
    pub dtls: CoapDtlsConfig,
}

/// CoAP over DTLS 1.2: devices authenticate with a pre-shared key or a client certificate
/// registered as a device credential.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CoapDtlsConfig {
    /// Run the DTLS listener.
    pub enabled: bool,
    /// UDP address; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// Server certificate chain (PEM) for certificate-based handshakes; empty: PSK only.
    pub cert_file: PathBuf,
    /// Its private key (PEM).
    pub key_file: PathBuf,
    /// Most DTLS sessions held at once.
    pub max_sessions: usize,
    /// A session silent this long is dropped (the device handshakes again).
    #[serde(with = "humantime_serde")]
    pub session_idle: Duration,
}

impl Default for CoapDtlsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 5684)),
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            max_sessions: 10_000,
            session_idle: Duration::from_secs(600),
        }
    }
}

impl Default for CoapConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 5683)),
            max_body_bytes: 1024 * 1024,
            max_observations: 100_000,
            separate_response_after: Duration::from_millis(500),
            max_peers: 100_000,
            dtls: CoapDtlsConfig::default(),
        }
    }
}

/// The OMA LwM2M server: registrations on `/rd` and bootstrap on `/bs` of the CoAP
/// listener, device management over the REST API.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Lwm2mConfig {
    /// Run the LwM2M server at all (needs `coap.enabled`).
    pub enabled: bool,
    /// Let endpoints not assigned to a device register (their notifications then only
    /// reach the event stream). Off: such a registration gets 4.03 Forbidden.
    pub allow_unknown_endpoints: bool,
    /// How long an operation waits for a queue-mode client to wake up.
    #[serde(with = "humantime_serde")]
    pub queue_wait: Duration,
    /// How long a queue-mode client counts as awake after it was heard from (LwM2M:
    /// MAX_TRANSMIT_WAIT, 93 s).
    #[serde(with = "humantime_serde")]
    pub queue_awake: Duration,
    /// The CoAP URI the bootstrap server gives clients for this server; empty means the
    /// CoAP listen address.
    pub server_uri: String,
    /// Registration lifetime the bootstrap server gives clients.
    #[serde(with = "humantime_serde")]
    pub bootstrap_lifetime: Duration,
    /// A directory of extra OMA DDF XML object definitions loaded at start (empty: only
    /// the built-in objects).
    pub models_dir: PathBuf,
}

impl Default for Lwm2mConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_unknown_endpoints: false,
            queue_wait: Duration::from_secs(30),
            queue_awake: Duration::from_secs(93),
            server_uri: String::new(),
            bootstrap_lifetime: Duration::from_secs(300),
            models_dir: PathBuf::new(),
        }
    }
}

/// The MQTT broker.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Run the broker at all.
    pub enabled: bool,
    /// Plain MQTT over TCP; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// Let clients connect without credentials; they may use any topic except the device API.
    pub allow_anonymous: bool,
    /// Event-loop threads; 0 means half the cores (at least one).
    pub workers: usize,
    /// Most simultaneous connections.
    pub max_connections: usize,
    /// Largest MQTT packet accepted or sent, in bytes.
    pub max_packet_size: u32,
    /// Outgoing QoS 1/2 messages in flight per client.
    pub max_inflight: u16,
    /// Messages queued per session (offline, or waiting for an in-flight slot).
    pub max_queued_messages: usize,
    /// Longest session expiry granted to clients.
    #[serde(with = "humantime_serde")]
    pub max_session_expiry: Duration,
    /// Incoming QoS 1/2 messages a client may have unacknowledged (5.0 Receive Maximum).
    pub receive_maximum: u16,
    /// Topic aliases a 5.0 client may define towards the broker.
    pub topic_alias_maximum: u16,
    /// Retained messages kept at most; more are refused (5.0: reason 0x97).
    pub max_retained_messages: usize,
    /// Most levels (`/`-separated parts) in a topic filter; deeper subscriptions are refused
    /// (5.0: reason 0x8F).
    pub max_topic_levels: usize,
    /// Most subscriptions one session holds; more are refused (5.0: reason 0x97).
    pub max_subscriptions_per_session: usize,
    /// Keep alive imposed on 5.0 clients asking for none or a longer one; 0s leaves it to
    /// the client.
    #[serde(with = "humantime_serde")]
    pub server_keep_alive: Duration,
    /// PUBLISH packets per second one client may send; 0 means no limit. Above it the
    /// broker reads from the client more slowly (TCP back-pressure), dropping nothing.
    pub max_publish_rate: u32,
    /// PUBLISH packets a client may send at once above the rate.
    pub publish_burst: u32,
    /// How often persistent sessions and retained messages are saved when they changed (a
    /// clean stop always saves them); a crash loses at most this much of their changes.
    #[serde(with = "humantime_serde")]
    pub persist_interval: Duration,
    /// MQTT over TLS.
    pub tls: MqttTlsConfig,
    /// MQTT over WebSocket (and over secure WebSocket with the TLS certificate).
    pub websocket: MqttWebSocketConfig,
}

/// The broker's WebSocket listeners (path `/mqtt`, subprotocol `mqtt`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttWebSocketConfig {
    /// Run the plain WebSocket listener.
    pub enabled: bool,
    /// Its address; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// Run the secure WebSocket listener (uses `mqtt.tls.cert_file` and `key_file`).
    pub secure_enabled: bool,
    /// Its address.
    pub secure_listen: SocketAddr,
}

impl Default for MqttWebSocketConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 8083)),
            secure_enabled: false,
            secure_listen: SocketAddr::from(([127, 0, 0, 1], 8084)),
        }
    }
}

/// The broker's TLS listener.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MqttTlsConfig {
    /// Run the TLS listener (needs `cert_file` and `key_file`).
    pub enabled: bool,
    /// Address; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// PEM certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of the leaf certificate.
    pub key_file: PathBuf,
}

impl Default for MqttTlsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 8883)),
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
        }
    }
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            allow_anonymous: false,
            workers: 0,
            max_connections: 100_000,
            max_packet_size: 1024 * 1024,
            max_inflight: 64,
            max_queued_messages: 1000,
            max_session_expiry: Duration::from_secs(7 * 24 * 3600),
            receive_maximum: 64,
            topic_alias_maximum: 64,
            max_retained_messages: 100_000,
            max_topic_levels: 64,
            max_subscriptions_per_session: 1000,
            server_keep_alive: Duration::ZERO,
            max_publish_rate: 0,
            publish_burst: 100,
            persist_interval: Duration::from_secs(1),
            tls: MqttTlsConfig::default(),
            websocket: MqttWebSocketConfig::default(),
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter: a level (`error` .. `trace`) or directives such as
    /// `info,strata_store=debug`.
    pub level: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address and port to listen on; port 0 picks a free port (printed at start).
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes; larger bodies get 413.
    pub max_body_bytes: usize,
    /// Time limit for one request, e.g. `30s`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Longest wait for a complete request head: on a new connection, and between requests
    /// on a kept-alive one, so it is the idle timeout too. A slow or silent client is cut
    /// after it.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Most HTTP connections open at once (event streams and long-polls included; a
    /// WebSocket stops counting once upgraded); more wait in the listen backlog.
    pub max_connections: usize,
    /// Whether the web app's session cookie carries `Secure`: `auto` sets it for HTTPS
    /// (`X-Forwarded-Proto: https` from a TLS proxy) and for loopback hosts, which browsers
    /// treat as secure; `always` and `never` force it.
    pub secure_cookies: SecureCookies,
    /// Origins besides the app's own host whose pages may open the live WebSocket, e.g.
    /// `["https://iot.example.com"]` behind a proxy that rewrites the Host header.
    pub allowed_origins: Vec<String>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            secure_cookies: SecureCookies::Auto,
            allowed_origins: Vec::new(),
        }
    }
}

/// The `Secure` attribute of session cookies.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SecureCookies {
    /// Secure over HTTPS and on loopback; plain HTTP on other addresses cannot keep a
    /// Secure cookie, so it is left off there (put a TLS proxy in front instead).
    Auto,
    /// Always `Secure` (behind a TLS-terminating proxy that does not send
    /// `X-Forwarded-Proto`).
    Always,
    /// Never `Secure` (not recommended).
    Never,
}

/// Durability of a commit.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SyncMode {
    /// fsync on every commit: an acknowledged write survives power loss.
    Full,
    /// fsync at checkpoints only: an acknowledged write survives a crash of Strata but may be
    /// lost on power loss.
    Normal,
}

/// Storage backend settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Only `sqlite` (embedded, in `data_dir`) exists today.
    pub backend: String,
    /// Commit durability.
    pub sync: SyncMode,
    /// Most rows one group commit may hold; larger batches amortise the fsync.
    pub max_batch_rows: usize,
    /// Write requests that may wait for the writer before callers are slowed down.
    pub writer_queue: usize,
    /// Read-only connections serving queries.
    pub read_connections: usize,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: "sqlite".into(),
            sync: SyncMode::Full,
            max_batch_rows: 50_000,
            writer_queue: 4096,
            read_connections: 4,
        }
    }
}

/// Telemetry ingest limits and retention.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// Points older than this are deleted automatically; `0s` keeps everything.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How often the retention sweep runs.
    #[serde(with = "humantime_serde")]
    pub retention_interval: Duration,
    /// How far in the future a timestamp may lie (device clocks drift); later ones are refused.
    #[serde(with = "humantime_serde")]
    pub max_future_skew: Duration,
    /// Longest key name, in bytes.
    pub max_key_bytes: usize,
    /// Most points one request may carry.
    pub max_points_per_request: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            retention: Duration::ZERO,
            retention_interval: Duration::from_secs(3600),
            max_future_skew: Duration::from_secs(24 * 3600),
            max_key_bytes: 255,
            max_points_per_request: 100_000,
        }
    }
}

/// The rule engine and the sinks it routes to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// A JSON file of rules (an array of rule definitions) loaded into the default tenant
    /// at start, replacing rules of the same name; empty for none.
    pub file: PathBuf,
    /// How long a message for an external sink (webhook, AMQP, e-mail) is retried before it
    /// goes to the dead-letter store.
    #[serde(with = "humantime_serde")]
    pub max_retry_age: Duration,
    /// Longest wait between two attempts at a failing sink.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// How long one delivery to a sink may take.
    #[serde(with = "humantime_serde")]
    pub sink_timeout: Duration,
    /// Most script operations one filter or transform may run (a CPU limit).
    pub script_max_operations: u64,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            file: PathBuf::new(),
            max_retry_age: Duration::from_secs(24 * 3600),
            max_backoff: Duration::from_secs(30),
            sink_timeout: Duration::from_secs(10),
            script_max_operations: 100_000,
        }
    }
}

/// The SMTP server e-mail actions send through.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Server host; empty disables e-mail actions.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Sender address.
    pub from: String,
    /// User name for SMTP AUTH; empty for none.
    pub username: String,
    /// Password for SMTP AUTH.
    pub password: String,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: String::new(),
            port: 25,
            from: "strata@localhost".into(),
            username: String::new(),
            password: String::new(),
        }
    }
}

/// Management API authentication.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of a session token obtained by signing in.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

/// `http(s)://host[:port]`, nothing after: what browsers send in an Origin header.
fn is_origin(text: &str) -> bool {
    let Some((scheme, host)) = text.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && !host.contains(['/', '?', '#', '@', ' '])
}

impl Config {
    /// Checks values that parse but make no sense, naming the key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(key: &'static str, message: impl Into<String>) -> ConfigError {
            ConfigError::Invalid {
                key,
                message: message.into(),
            }
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        if self.log.level.trim().is_empty() {
            return Err(invalid("log.level", "must not be empty (try `info`)"));
        }
        if self.http.max_body_bytes < 64 {
            return Err(invalid("http.max_body_bytes", "must be at least 64"));
        }
        if self.http.request_timeout.is_zero() {
            return Err(invalid("http.request_timeout", "must be longer than 0s"));
        }
        if self.http.header_timeout < Duration::from_millis(100)
            || self.http.header_timeout > Duration::from_secs(3600)
        {
            return Err(invalid(
                "http.header_timeout",
                "must be from 100ms to 1h (30s is the default)",
            ));
        }
        if !(1..=1_000_000).contains(&self.http.max_connections) {
            return Err(invalid("http.max_connections", "must be from 1 to 1000000"));
        }
        for origin in &self.http.allowed_origins {
            if !is_origin(origin) {
                return Err(invalid(
                    "http.allowed_origins",
                    format!(
                        "`{origin}` is not an origin; write scheme and host (and port) only, \
                         e.g. `https://iot.example.com`"
                    ),
                ));
            }
        }
        if self.storage.backend != "sqlite" {
            return Err(invalid(
                "storage.backend",
                format!(
                    "unknown backend `{}`; the only backend today is `sqlite`",
                    self.storage.backend
                ),
            ));
        }
        if self.rules.max_backoff.is_zero() {
            return Err(invalid("rules.max_backoff", "must be longer than 0s"));
        }
        if self.rules.sink_timeout.is_zero() {
            return Err(invalid("rules.sink_timeout", "must be longer than 0s"));
        }
        if self.rules.script_max_operations < 100 {
            return Err(invalid(
                "rules.script_max_operations",
                "must be at least 100",
            ));
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.coap.max_body_bytes) {
            return Err(invalid(
                "coap.max_body_bytes",
                "must be from 1024 to 67108864 (64 MiB)",
            ));
        }
        if self.coap.dtls.cert_file.as_os_str().is_empty()
            != self.coap.dtls.key_file.as_os_str().is_empty()
        {
            return Err(invalid(
                "coap.dtls.key_file",
                "set both coap.dtls.cert_file and coap.dtls.key_file, or neither (PSK only)",
            ));
        }
        if self.coap.dtls.max_sessions == 0 {
            return Err(invalid("coap.dtls.max_sessions", "must be at least 1"));
        }
        if self.coap.max_observations == 0 {
            return Err(invalid("coap.max_observations", "must be at least 1"));
        }
        if self.coap.separate_response_after.is_zero()
            || self.coap.separate_response_after > Duration::from_secs(2)
        {
            return Err(invalid(
                "coap.separate_response_after",
                "must be from 1ms to 2s (below the client's 2 s retransmission timeout)",
            ));
        }
        if self.coap.max_peers == 0 {
            return Err(invalid("coap.max_peers", "must be at least 1"));
        }
        if self.lwm2m.queue_awake.is_zero() {
            return Err(invalid("lwm2m.queue_awake", "must be longer than 0s"));
        }
        if self.lwm2m.queue_wait.is_zero() {
            return Err(invalid("lwm2m.queue_wait", "must be longer than 0s"));
        }
        if self.lwm2m.bootstrap_lifetime < Duration::from_secs(1) {
            return Err(invalid("lwm2m.bootstrap_lifetime", "must be at least 1s"));
        }
        let uri = &self.lwm2m.server_uri;
        if !(uri.is_empty() || uri.starts_with("coap://") || uri.starts_with("coaps://")) {
            return Err(invalid(
                "lwm2m.server_uri",
                "must be a coap:// or coaps:// URI, or empty for the CoAP listen address",
            ));
        }
        if self.storage.max_batch_rows == 0 {
            return Err(invalid("storage.max_batch_rows", "must be at least 1"));
        }
        if self.storage.writer_queue == 0 {
            return Err(invalid("storage.writer_queue", "must be at least 1"));
        }
        if !(1..=64).contains(&self.storage.read_connections) {
            return Err(invalid("storage.read_connections", "must be from 1 to 64"));
        }
        if !self.telemetry.retention.is_zero() && self.telemetry.retention < Duration::from_secs(60)
        {
            return Err(invalid(
                "telemetry.retention",
                "must be 0s (keep forever) or at least 1m",
            ));
        }
        if self.telemetry.retention_interval < Duration::from_secs(1) {
            return Err(invalid(
                "telemetry.retention_interval",
                "must be at least 1s",
            ));
        }
        if !(1..=4096).contains(&self.telemetry.max_key_bytes) {
            return Err(invalid("telemetry.max_key_bytes", "must be from 1 to 4096"));
        }
        if self.telemetry.max_points_per_request == 0 {
            return Err(invalid(
                "telemetry.max_points_per_request",
                "must be at least 1",
            ));
        }
        if !(1..=1_000_000).contains(&self.mqtt.max_connections) {
            return Err(invalid("mqtt.max_connections", "must be from 1 to 1000000"));
        }
        if !(64..=268_435_455).contains(&self.mqtt.max_packet_size) {
            return Err(invalid(
                "mqtt.max_packet_size",
                "must be from 64 to 268435455 (the MQTT maximum)",
            ));
        }
        if self.mqtt.max_inflight == 0 {
            return Err(invalid("mqtt.max_inflight", "must be at least 1"));
        }
        if self.mqtt.max_queued_messages == 0 {
            return Err(invalid("mqtt.max_queued_messages", "must be at least 1"));
        }
        // The topic tree recurses once per level: the upper bound keeps that far from the
        // workers' stacks.
        if !(1..=1024).contains(&self.mqtt.max_topic_levels) {
            return Err(invalid("mqtt.max_topic_levels", "must be from 1 to 1024"));
        }
        if self.mqtt.max_subscriptions_per_session == 0 {
            return Err(invalid(
                "mqtt.max_subscriptions_per_session",
                "must be at least 1",
            ));
        }
        if self.mqtt.max_publish_rate > 0 && self.mqtt.publish_burst == 0 {
            return Err(invalid(
                "mqtt.publish_burst",
                "must be at least 1 when mqtt.max_publish_rate is set",
            ));
        }
        if self.mqtt.persist_interval < Duration::from_millis(100) {
            return Err(invalid("mqtt.persist_interval", "must be at least 100ms"));
        }
        if self.mqtt.receive_maximum == 0 {
            return Err(invalid("mqtt.receive_maximum", "must be from 1 to 65535"));
        }
        if self.mqtt.server_keep_alive > Duration::from_secs(65535) {
            return Err(invalid(
                "mqtt.server_keep_alive",
                "must be at most 65535s (the MQTT maximum); 0s leaves it to the client",
            ));
        }
        if self.mqtt.workers > 256 {
            return Err(invalid(
                "mqtt.workers",
                "must be at most 256 (0 = half the cores)",
            ));
        }
        if self.mqtt.websocket.secure_enabled && self.mqtt.tls.cert_file.as_os_str().is_empty() {
            return Err(invalid(
                "mqtt.websocket.secure_enabled",
                "needs the certificate in mqtt.tls.cert_file and mqtt.tls.key_file",
            ));
        }
        if self.mqtt.tls.enabled || self.mqtt.websocket.secure_enabled {
            for (key, path) in [
                ("mqtt.tls.cert_file", &self.mqtt.tls.cert_file),
                ("mqtt.tls.key_file", &self.mqtt.tls.key_file),
            ] {
                if path.as_os_str().is_empty() {
                    return Err(invalid(
                        key,
                        "must name a PEM file when mqtt.tls.enabled is true (see README.md, \
                         \"MQTT over TLS\", for making a development certificate)",
                    ));
                }
                if !path.is_file() {
                    return Err(invalid(
                        key,
                        format!("{} is not a readable file", path.display()),
                    ));
                }
            }
        }
        if self.auth.session_ttl < Duration::from_secs(60) {
            return Err(invalid("auth.session_ttl", "must be at least 1m"));
        }
        Ok(())
    }

    /// Path of the embedded SQLite database inside the data directory.
    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("strata.db")
    }
}

/// Layers configuration sources: defaults, then a TOML file, then environment, then overrides.
#[derive(Debug, Default)]
pub struct Loader {
    file: Option<(PathBuf, bool)>,
    env: Option<Vec<(String, String)>>,
    overrides: Vec<(&'static str, String)>,
}

impl Loader {
    /// A loader with only the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `path`; when `required` is false a missing file is skipped.
    pub fn file(&mut self, path: impl AsRef<Path>, required: bool) -> &mut Self {
        self.file = Some((path.as_ref().to_path_buf(), required));
        self
    }

    /// Uses these variables instead of the process environment (for tests).
    pub fn env_vars(&mut self, vars: Vec<(String, String)>) -> &mut Self {
        self.env = Some(vars);
        self
    }

    /// Sets one dotted key from a command-line flag; the value is parsed like a TOML value
    /// (bare words are strings).
    pub fn set(&mut self, key: &'static str, value: impl Into<String>) -> &mut Self {
        self.overrides.push((key, value.into()));
        self
    }

    /// Merges the sources and validates the result.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some((path, required)) = &self.file {
            if path.exists() {
                figment = figment.merge(Toml::file_exact(path));
            } else if *required {
                return Err(ConfigError::MissingFile(path.clone()));
            }
        }
        let env = Env::prefixed(ENV_PREFIX).split("__").ignore(ENV_NOT_CONFIG);
        figment = match &self.env {
            None => figment.merge(env),
            Some(vars) => {
                // Figment reads the process environment; a scoped copy keeps tests isolated.
                let mut dict = figment::value::Dict::new();
                for (name, value) in vars {
                    let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                        continue;
                    };
                    let key = rest.to_ascii_lowercase().replace("__", ".");
                    if ENV_NOT_CONFIG.contains(&key.as_str()) {
                        continue;
                    }
                    insert_dotted(&mut dict, &key, parse_scalar(value));
                }
                figment.merge(Serialized::defaults(dict))
            }
        };
        for (key, value) in &self.overrides {
            figment = figment.merge(Serialized::default(key, parse_scalar(value)));
        }
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Source(describe(e)))?;
        config.validate()?;
        Ok(config)
    }
}

fn parse_scalar(raw: &str) -> figment::value::Value {
    use figment::value::Value;
    raw.parse::<Value>()
        .unwrap_or_else(|_| Value::from(raw.to_string()))
}

fn insert_dotted(dict: &mut figment::value::Dict, key: &str, value: figment::value::Value) {
    use figment::value::{Dict, Value};
    match key.split_once('.') {
        None => {
            dict.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = dict
                .entry(head.to_string())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert_dotted(inner, rest, value);
            }
        }
    }
}

/// Figment's message plus the key path, without its `default.` profile prefix.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let mut text = e.kind.to_string();
            if !e.path.is_empty() {
                text = format!("key `{}`: {text}", e.path.join("."));
            }
            if let Some(source) = e.metadata.as_ref().and_then(|m| m.source.as_ref()) {
                text = format!("{text} (from {source})");
            } else if let Some(m) = &e.metadata {
                text = format!("{text} (from {})", m.name);
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_nothing() {
        let config = Loader::new().env_vars(vec![]).load().unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.data_dir, PathBuf::from("./strata-data"));
    }

    #[test]
    fn file_then_env_then_flags() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(
            file,
            "data_dir = \"/tmp/x\"\n[http]\nlisten = \"127.0.0.1:9000\"\nmax_body_bytes = 2048\n[telemetry]\nretention = \"30days\""
        )
        .unwrap();
        let config = Loader::new()
            .file(file.path(), true)
            .env_vars(vars(&[
                ("STRATA_HTTP__MAX_BODY_BYTES", "4096"),
                ("STRATA_ADMIN_PASSWORD", "ignored"),
                ("OTHER", "x"),
            ]))
            .set("http.listen", "127.0.0.1:0")
            .load()
            .unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(config.http.max_body_bytes, 4096);
        assert_eq!(config.http.listen.port(), 0);
        assert_eq!(config.telemetry.retention, Duration::from_secs(30 * 86400));
    }

    #[test]
    fn bad_values_name_the_key() {
        let err = Loader::new()
            .env_vars(vars(&[("STRATA_HTTP__LISTEN", "not-an-address")]))
            .load()
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.listen"), "{err}");

        let err = Loader::new()
            .env_vars(vars(&[("STRATA_HTTP__MAX_BODY_BYTES", "12")]))
            .load()
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.max_body_bytes"), "{err}");

        let err = Loader::new()
            .env_vars(vars(&[("STRATA_HTTP__LISTN", "x")]))
            .load()
            .unwrap_err()
            .to_string();
        assert!(err.contains("listn"), "{err}");

        let err = Loader::new()
            .env_vars(vars(&[("STRATA_TELEMETRY__RETENTION", "forever")]))
            .load()
            .unwrap_err()
            .to_string();
        assert!(err.contains("telemetry.retention"), "{err}");
    }

    #[test]
    fn allowed_origins_are_origins() {
        let load = |origins: &str| {
            let mut file = tempfile::NamedTempFile::new().unwrap();
            writeln!(file, "[http]\nallowed_origins = {origins}").unwrap();
            Loader::new()
                .file(file.path(), true)
                .env_vars(vec![])
                .load()
        };
        let config = load(r#"["https://iot.example.com", "http://10.0.0.5:8080"]"#).unwrap();
        assert_eq!(config.http.allowed_origins.len(), 2);
        for bad in [
            r#"["iot.example.com"]"#,
            r#"["https://iot.example.com/app"]"#,
        ] {
            let err = load(bad).unwrap_err().to_string();
            assert!(err.contains("http.allowed_origins"), "{err}");
        }
    }

    #[test]
    fn missing_required_file_is_an_error() {
        let err = Loader::new()
            .file("/nonexistent/strata.toml", true)
            .env_vars(vec![])
            .load()
            .unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)));
    }

    #[test]
    fn example_file_is_valid_and_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../strata.example.toml");
        let config = Loader::new()
            .file(&path, true)
            .env_vars(vec![])
            .load()
            .unwrap();
        assert_eq!(config, Config::default());
    }
}
