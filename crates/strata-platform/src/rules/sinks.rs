//! Delivery to external sinks (webhook, AMQP, e-mail) from the durable outbox.
//!
//! Messages for one sink are delivered one at a time in the order they were routed. A
//! failure that may pass (connection refused, timeout, HTTP 408/429/5xx, a broker nack)
//! is retried with exponential back-off up to `rules.max_backoff`, holding the sink's
//! later messages back so order is kept; once a message has waited longer than
//! `rules.max_retry_age` it and the sink's other messages that old go to the dead-letter
//! store. A failure that cannot pass (HTTP 4xx, a rejected address) dead-letters that
//! message at once. A message leaves the outbox only once the sink has taken it (HTTP 2xx,
//! a publisher confirm, SMTP 250), so a crash can at worst deliver it twice, never lose it;
//! every delivery carries the outbox id (`X-Strata-Delivery` header, AMQP `message_id`) so
//! receivers can drop such duplicates.
//!
//! Metrics: `strata_sink_deliveries_total{sink,outcome}` (outcome: delivered, retry,
//! dead), and the pending and dead counts at `GET /api/rules/outbox`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::AsyncTransport;
use strata_store::OutboxRow;
use tokio::sync::Notify;

use super::model::Action;
use crate::{Platform, now_millis};

/// Messages read per round from one sink's queue.
const BATCH: u32 = 100;
/// How often the queues are checked when nothing wakes the dispatcher.
const POLL: Duration = Duration::from_millis(500);
/// The least time between two looks at the queues.
const MIN_SCAN_INTERVAL: Duration = Duration::from_millis(20);

/// Why a delivery failed.
#[derive(Debug)]
enum Failure {
    /// May pass: try again later.
    Transient(String),
    /// Will not pass: dead-letter the message.
    Permanent(String),
}

/// The connection to one AMQP broker, made on first use and again after a failure.
type AmqpSlot = Arc<tokio::sync::Mutex<Option<Arc<AmqpLink>>>>;

/// Marks a sink as being drained; the mark goes when the drain ends.
struct Busy<'a> {
    platform: &'a Platform,
    key: &'a str,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        let sinks = &self.platform.inner.rules.sinks;
        if let Ok(mut busy) = sinks.busy.lock() {
            busy.remove(self.key);
        }
        // It may have more, or be due again soon.
        sinks.wake();
    }
}

/// An open AMQP channel with publisher confirms, and its connection.
struct AmqpLink {
    _connection: lapin::Connection,
    channel: lapin::Channel,
}

pub(crate) struct Sinks {
    wake: Notify,
    busy: Mutex<HashSet<String>>,
    http: Option<reqwest::Client>,
    /// One connection per broker URL, each behind its own lock (a slow broker holds up
    /// only its own sinks).
    amqp: Mutex<HashMap<String, AmqpSlot>>,
    smtp: Option<lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>,
    from: Option<lettre::message::Mailbox>,
    max_retry_age: Duration,
    max_backoff: Duration,
    timeout: Duration,
}

impl Sinks {
    pub(crate) fn new(config: &strata_config::Config) -> Self {
        let timeout = config.rules.sink_timeout;
        // https webhooks use the process-wide rustls provider; Strata's is ring (as the
        // broker's). Installing fails harmlessly when one is in place already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("strata/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| tracing::error!(error = %e, "webhook client unavailable"))
            .ok();
        let smtp_config = &config.smtp;
        let smtp = (!smtp_config.host.is_empty()).then(|| {
            let mut builder =
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous(
                    &smtp_config.host,
                )
                .port(smtp_config.port)
                .timeout(Some(timeout));
            if !smtp_config.username.is_empty() {
                builder =
                    builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
                        smtp_config.username.clone(),
                        smtp_config.password.clone(),
                    ));
            }
            builder.build()
        });
        let from = smtp_config
            .from
            .parse()
            .map_err(|e| tracing::error!(error = %e, "smtp.from is not an address"))
            .ok();
        Self {
            wake: Notify::new(),
            busy: Mutex::default(),
            http,
            amqp: Mutex::default(),
            smtp,
            from,
            max_retry_age: config.rules.max_retry_age,
            max_backoff: config.rules.max_backoff,
            timeout,
        }
    }

    /// New messages were queued.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    fn backoff(&self, attempts: u32) -> Duration {
        let base = Duration::from_millis(250).saturating_mul(1 << attempts.min(16));
        base.min(self.max_backoff)
    }

    async fn deliver(&self, sink: &Action, row: &OutboxRow) -> Result<(), Failure> {
        match sink {
            Action::Webhook { url, headers } => self.post(url, headers, row).await,
            Action::Amqp {
                url,
                exchange,
                routing_key,
            } => self.publish_amqp(url, exchange, routing_key, row).await,
            Action::Email { to, subject } => self.mail(to, subject, row).await,
            _ => Err(Failure::Permanent("not an external sink".into())),
        }
    }

    async fn post(
        &self,
        url: &str,
        headers: &std::collections::BTreeMap<String, String>,
        row: &OutboxRow,
    ) -> Result<(), Failure> {
        let client = self
            .http
            .as_ref()
            .ok_or_else(|| Failure::Transient("no HTTP client".into()))?;
        let mut request = client
            .post(url)
            .header("content-type", "application/json")
            .header("x-strata-delivery", row.id.to_string())
            .body(row.payload.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Failure::Transient(format!("POST {url}: {e}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Err(Failure::Transient(format!("POST {url}: HTTP {status}")))
        } else {
            Err(Failure::Permanent(format!("POST {url}: HTTP {status}")))
        }
    }

    fn amqp_slot(&self, url: &str) -> AmqpSlot {
        let mut links = match self.amqp.lock() {
            Ok(links) => links,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(links.entry(url.to_string()).or_default())
    }

    async fn amqp_link(&self, url: &str) -> Result<Arc<AmqpLink>, Failure> {
        let slot = self.amqp_slot(url);
        let mut slot = slot.lock().await;
        if let Some(link) = slot.as_ref()
            && link.channel.status().connected()
        {
            return Ok(Arc::clone(link));
        }
        *slot = None;
        let connect = async {
            let connection =
                lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(lapin::options::ConfirmSelectOptions::default())
                .await?;
            Ok::<_, lapin::Error>(AmqpLink {
                _connection: connection,
                channel,
            })
        };
        let link = tokio::time::timeout(self.timeout, connect)
            .await
            .map_err(|_| Failure::Transient(format!("AMQP connect to {}: timed out", redact(url))))?
            .map_err(|e| Failure::Transient(format!("AMQP connect to {}: {e}", redact(url))))?;
        let link = Arc::new(link);
        *slot = Some(Arc::clone(&link));
        Ok(link)
    }

    async fn publish_amqp(
        &self,
        url: &str,
        exchange: &str,
        routing_key: &str,
        row: &OutboxRow,
    ) -> Result<(), Failure> {
        let link = self.amqp_link(url).await?;
        let properties = lapin::BasicProperties::default()
            .with_message_id(row.id.to_string().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2);
        let publish = async {
            link.channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    // On the default exchange the routing key names one queue: a message it
                    // cannot reach (the queue not declared yet, or a broker still recovering
                    // its queues after a restart) comes back and stays in the outbox instead
                    // of being acknowledged and dropped. On a named exchange an unbound
                    // routing key is normal AMQP (no one wants that message), and holding it
                    // would stop the rule's other messages behind it.
                    lapin::options::BasicPublishOptions {
                        mandatory: exchange.is_empty(),
                        ..Default::default()
                    },
                    &row.payload,
                    properties,
                )
                .await?
                .await
        };
        let outcome = tokio::time::timeout(self.timeout, publish).await;
        let failure = match outcome {
            Ok(Ok(lapin::Confirmation::Ack(None))) => return Ok(()),
            Ok(Ok(lapin::Confirmation::Ack(Some(returned)))) => {
                return Err(Failure::Transient(format!(
                    "AMQP publish to {}: no queue named {routing_key:?} ({}); declare it, \
                     and the message is delivered at the next retry",
                    redact(url),
                    returned.reply_text
                )));
            }
            Ok(Ok(_)) => "the broker refused the message (nack)".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no publisher confirm in time".to_string(),
        };
        // Start over with a fresh connection next time.
        *self.amqp_slot(url).lock().await = None;
        Err(Failure::Transient(format!(
            "AMQP publish to {}: {failure}",
            redact(url)
        )))
    }

    async fn mail(&self, to: &[String], subject: &str, row: &OutboxRow) -> Result<(), Failure> {
        let (Some(smtp), Some(from)) = (self.smtp.as_ref(), self.from.clone()) else {
            return Err(Failure::Transient(
                "e-mail is not configured (set smtp.host and smtp.from)".into(),
            ));
        };
        let mut builder = lettre::Message::builder()
            .from(from)
            .subject(subject)
            .header(lettre::message::header::ContentType::TEXT_PLAIN);
        for address in to {
            let mailbox = address
                .parse()
                .map_err(|e| Failure::Permanent(format!("bad recipient {address:?}: {e}")))?;
            builder = builder.to(mailbox);
        }
        let body = serde_json::from_slice::<serde_json::Value>(&row.payload)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&row.payload).into_owned());
        let message = builder
            .body(body)
            .map_err(|e| Failure::Permanent(format!("cannot build the e-mail: {e}")))?;
        match smtp.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(Failure::Permanent(format!("SMTP: {e}"))),
            Err(e) => Err(Failure::Transient(format!("SMTP: {e}"))),
        }
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

fn sink_kind(sink: &Action) -> &'static str {
    match sink {
        Action::Webhook { .. } => "webhook",
        Action::Amqp { .. } => "amqp",
        Action::Email { .. } => "email",
        _ => "other",
    }
}

impl Platform {
    /// Delivers queued messages to their sinks, forever.
    pub async fn run_sinks(self) {
        loop {
            match self.store().outbox_heads().await {
                Ok(heads) => {
                    let now = now_millis();
                    for head in heads {
                        if head.next_attempt_at > now {
                            continue;
                        }
                        let claimed = self
                            .inner
                            .rules
                            .sinks
                            .busy
                            .lock()
                            .map(|mut busy| busy.insert(head.sink_key.clone()))
                            .unwrap_or(false);
                        if claimed {
                            let platform = self.clone();
                            tokio::spawn(async move {
                                let key = head.sink_key.clone();
                                // Released however the drain ends, a panic included.
                                let _busy = Busy {
                                    platform: &platform,
                                    key: &key,
                                };
                                platform.drain_sink(&key).await;
                            });
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the sink outbox; will retry"),
            }
            tokio::select! {
                () = self.inner.rules.sinks.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            // Under load every routed message wakes the loop: look at the queues at most
            // this often (busy sinks are being drained meanwhile anyway).
            tokio::time::sleep(MIN_SCAN_INTERVAL).await;
        }
    }

    /// Delivers one sink's due messages in order until it is empty or failing.
    async fn drain_sink(&self, key: &str) {
        let sinks = &self.inner.rules.sinks;
        loop {
            let rows = match self.store().outbox_pending(key, BATCH).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the sink outbox");
                    return;
                }
            };
            if rows.is_empty() {
                return;
            }
            let mut delivered = Vec::new();
            let mut stop = false;
            for row in &rows {
                if row.next_attempt_at > now_millis() {
                    stop = true;
                    break;
                }
                let sink: Action = match serde_json::from_str(&row.sink) {
                    Ok(sink) => sink,
                    Err(e) => {
                        let _ = self
                            .store()
                            .outbox_failed(
                                row.id,
                                now_millis(),
                                true,
                                format!("unreadable sink: {e}"),
                            )
                            .await;
                        continue;
                    }
                };
                let kind = sink_kind(&sink);
                match sinks.deliver(&sink, row).await {
                    Ok(()) => {
                        metrics::counter!("strata_sink_deliveries_total", "sink" => kind, "outcome" => "delivered").increment(1);
                        delivered.push(row.id);
                    }
                    Err(Failure::Permanent(error)) => {
                        metrics::counter!("strata_sink_deliveries_total", "sink" => kind, "outcome" => "dead").increment(1);
                        tracing::warn!(sink = kind, error, "message dead-lettered");
                        self.flush_delivered(&mut delivered).await;
                        let _ = self
                            .store()
                            .outbox_failed(row.id, now_millis(), true, error)
                            .await;
                    }
                    Err(Failure::Transient(error)) => {
                        self.flush_delivered(&mut delivered).await;
                        let now = now_millis();
                        let max_age = sinks.max_retry_age.as_millis() as i64;
                        if now - row.created_at >= max_age {
                            metrics::counter!("strata_sink_deliveries_total", "sink" => kind, "outcome" => "dead").increment(1);
                            let _ = self
                                .store()
                                .outbox_failed(row.id, now, true, error.clone())
                                .await;
                            // Everything else of this sink that old goes too, at once.
                            if let Ok(n) = self
                                .store()
                                .outbox_expire(key, now - max_age, error.clone())
                                .await
                            {
                                metrics::counter!("strata_sink_deliveries_total", "sink" => kind, "outcome" => "dead").increment(n);
                            }
                            tracing::warn!(
                                sink = kind,
                                error,
                                "sink failing for too long: messages dead-lettered"
                            );
                            // Read the queue again: the rest of this batch may be gone too.
                            break;
                        }
                        metrics::counter!("strata_sink_deliveries_total", "sink" => kind, "outcome" => "retry").increment(1);
                        let wait = sinks.backoff(row.attempts);
                        tracing::debug!(sink = kind, error, ?wait, "delivery failed; will retry");
                        let _ = self
                            .store()
                            .outbox_failed(row.id, now + wait.as_millis() as i64, false, error)
                            .await;
                        stop = true;
                        break;
                    }
                }
            }
            self.flush_delivered(&mut delivered).await;
            if stop {
                return;
            }
        }
    }

    async fn flush_delivered(&self, delivered: &mut Vec<i64>) {
        if delivered.is_empty() {
            return;
        }
        let ids = std::mem::take(delivered);
        if let Err(e) = self.store().outbox_delivered(ids).await {
            tracing::error!(error = %e, "delivered messages stay in the outbox (sent again later)");
        }
    }
}

impl Platform {
    /// Messages waiting for sinks and dead letters of the caller's tenant.
    pub async fn outbox_counts(
        &self,
        caller: &crate::accounts::Principal,
    ) -> Result<(u64, u64), crate::PlatformError> {
        Ok(self.store().outbox_counts(caller.tenant).await?)
    }

    /// The caller's dead letters, oldest first.
    pub async fn dead_letters(
        &self,
        caller: &crate::accounts::Principal,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, crate::PlatformError> {
        if !(1..=1000).contains(&limit) {
            return Err(crate::PlatformError::parameter(
                "limit must be from 1 to 1000",
            ));
        }
        Ok(self.store().dead_letters(caller.tenant, limit).await?)
    }

    /// Puts dead letters back in their sinks' queues; returns how many.
    pub async fn replay_dead_letters(
        &self,
        caller: &crate::accounts::Principal,
        ids: Vec<i64>,
    ) -> Result<u64, crate::PlatformError> {
        caller.require_write()?;
        let n = self
            .store()
            .replay_dead_letters(caller.tenant, ids, now_millis())
            .await?;
        self.inner.rules.sinks.wake();
        Ok(n)
    }

    /// Deletes dead letters; returns how many.
    pub async fn delete_dead_letters(
        &self,
        caller: &crate::accounts::Principal,
        ids: Vec<i64>,
    ) -> Result<u64, crate::PlatformError> {
        caller.require_write()?;
        Ok(self.store().delete_dead_letters(caller.tenant, ids).await?)
    }
}
