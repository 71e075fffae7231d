//! The rule engine: rules react to what devices do (a [`Trigger`]), keep what passes a
//! filter (optionally only once it has held for a while), transform it, and act on it:
//! store it, republish it on MQTT, send it to a webhook, an AMQP broker or a mailbox,
//! raise or clear an alarm, or call the device.
//!
//! Rules run inside ingest, after the data is durable and before the device is answered,
//! so nothing a device was told is accepted can miss its rules. They are cheap there:
//! scripts are compiled once and bounded (see [`script`]), and actions that talk to other
//! systems only write the message to a durable outbox; [`sinks`] delivers from it in the
//! background, in order per sink, with retries and back-off, and keeps what finally fails
//! in a dead-letter store that can be inspected and replayed. A failing sink therefore
//! never slows ingest down, and nothing routed is lost.
//!
//! Rules are managed over REST (`/api/rules`) and can be loaded from a JSON file at start
//! (`rules.file`).

pub mod model;
pub(crate) mod script;
pub mod sinks;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{Value, json};
use sha2::Digest;
use strata_store::{DeviceIdentity, NewOutboxEntry, Point, RuleRow, TenantId};
use uuid::Uuid;

use crate::accounts::Principal;
use crate::device_info::DeviceInfo;
use crate::{ErrorCode, Platform, PlatformError, now_millis};
pub use model::{Action, RuleSpec, Trigger};
use script::{Script, Scripts};

/// A rule as stored, with its identity.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rule {
    /// Identifier.
    pub id: Uuid,
    /// Definition.
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Created (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
}

/// A rule that matched a message, with what its actions get.
#[derive(Debug)]
struct Planned {
    compiled: Arc<Compiled>,
    out: Value,
    envelope: Value,
    ts: i64,
}

/// A rule ready to run.
#[derive(Debug)]
struct Compiled {
    rule: Rule,
    filter: Option<Script>,
    transform: Option<Script>,
}

/// The republishing side of the MQTT broker, registered by the binary.
pub trait Republisher: Send + Sync {
    /// Publishes a message on a topic of the broker.
    fn publish(&self, topic: String, payload: Vec<u8>, qos: u8, retain: bool);
}

/// Where a "for at least N ms" condition stands on one device.
#[derive(Debug, Clone, Copy)]
struct Hold {
    since: i64,
    fired: bool,
}

pub(crate) struct RuleEngine {
    scripts: Scripts,
    by_tenant: RwLock<HashMap<TenantId, Arc<Vec<Arc<Compiled>>>>>,
    holds: Mutex<HashMap<(Uuid, strata_store::DeviceKey), Hold>>,
    republisher: RwLock<Option<Arc<dyn Republisher>>>,
    pub(crate) sinks: sinks::Sinks,
}

impl RuleEngine {
    pub(crate) fn new(config: &strata_config::Config) -> Self {
        Self {
            scripts: Scripts::new(config.rules.script_max_operations),
            by_tenant: RwLock::default(),
            holds: Mutex::default(),
            republisher: RwLock::default(),
            sinks: sinks::Sinks::new(config),
        }
    }

    fn compile(&self, rule: Rule) -> Result<Compiled, PlatformError> {
        model::check(&rule.spec)?;
        let filter = match &rule.spec.filter {
            Some(source) => Some(self.scripts.compile_filter(source)?),
            None => None,
        };
        let transform = match &rule.spec.transform {
            Some(source) => Some(self.scripts.compile_transform(source)?),
            None => None,
        };
        Ok(Compiled {
            rule,
            filter,
            transform,
        })
    }

    fn tenant_rules(&self, tenant: TenantId) -> Option<Arc<Vec<Arc<Compiled>>>> {
        self.by_tenant.read().ok()?.get(&tenant).cloned()
    }

    fn replace(&self, tenant: TenantId, change: impl FnOnce(&mut Vec<Arc<Compiled>>)) {
        if let Ok(mut all) = self.by_tenant.write() {
            let mut rules: Vec<Arc<Compiled>> = all
                .get(&tenant)
                .map(|r| r.iter().cloned().collect())
                .unwrap_or_default();
            change(&mut rules);
            all.insert(tenant, Arc::new(rules));
        }
    }
}

fn parse_spec(body: Value) -> Result<RuleSpec, PlatformError> {
    serde_json::from_value(body).map_err(|e| {
        PlatformError::invalid(format!(
            "a rule looks like {{\"name\":\"hot\",\"trigger\":\"telemetry\",\"filter\":\"msg.temp > 30\",\
             \"actions\":[{{\"type\":\"webhook\",\"url\":\"http://...\"}}]}}: {e}"
        ))
    })
}

impl Platform {
    /// Loads every stored rule; call once at start.
    pub(crate) async fn load_rules(&self) -> Result<(), PlatformError> {
        for row in self.store().all_rules().await? {
            let tenant = row.tenant;
            match self.rule_from_row(row) {
                Ok(compiled) => {
                    let compiled = Arc::new(compiled);
                    self.inner
                        .rules
                        .replace(tenant, |rules| rules.push(compiled));
                }
                // A rule this build cannot run is kept in storage but not run.
                Err(e) => tracing::error!(error = %e, "a stored rule does not load; skipped"),
            }
        }
        Ok(())
    }

    fn rule_from_row(&self, row: RuleRow) -> Result<Compiled, PlatformError> {
        let spec: RuleSpec = serde_json::from_str(&row.definition)
            .map_err(|e| PlatformError::new(ErrorCode::Internal, e.to_string()))?;
        self.inner.rules.compile(Rule {
            id: row.id,
            spec,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }

    /// Registers the broker side that `mqtt` actions publish through.
    pub fn set_republisher(&self, republisher: Arc<dyn Republisher>) {
        if let Ok(mut slot) = self.inner.rules.republisher.write() {
            *slot = Some(republisher);
        }
    }

    /// The caller's rules.
    pub fn rules(&self, caller: &Principal) -> Vec<Rule> {
        self.inner
            .rules
            .tenant_rules(caller.tenant)
            .map(|rules| rules.iter().map(|c| c.rule.clone()).collect())
            .unwrap_or_default()
    }

    /// One rule.
    pub fn rule(&self, caller: &Principal, id: Uuid) -> Result<Rule, PlatformError> {
        self.rules(caller)
            .into_iter()
            .find(|r| r.id == id)
            .ok_or_else(|| PlatformError::not_found(format!("no rule {id}")))
    }

    /// Creates a rule (compiled and checked first).
    pub async fn create_rule(
        &self,
        caller: &Principal,
        body: Value,
    ) -> Result<Rule, PlatformError> {
        caller.require_write()?;
        let spec = parse_spec(body)?;
        self.put_rule(caller.tenant, Uuid::new_v4(), spec, None)
            .await
    }

    /// Replaces a rule's definition.
    pub async fn update_rule(
        &self,
        caller: &Principal,
        id: Uuid,
        body: Value,
    ) -> Result<Rule, PlatformError> {
        caller.require_write()?;
        let existing = self.rule(caller, id)?;
        let spec = parse_spec(body)?;
        self.put_rule(caller.tenant, id, spec, Some(existing.created_at))
            .await
    }

    async fn put_rule(
        &self,
        tenant: TenantId,
        id: Uuid,
        spec: RuleSpec,
        created_at: Option<i64>,
    ) -> Result<Rule, PlatformError> {
        let now = now_millis();
        let rule = Rule {
            id,
            spec,
            created_at: created_at.unwrap_or(now),
            updated_at: now,
        };
        let compiled = Arc::new(self.inner.rules.compile(rule.clone())?);
        let definition = serde_json::to_string(&rule.spec)
            .map_err(|e| PlatformError::new(ErrorCode::Internal, e.to_string()))?;
        self.store()
            .put_rule(RuleRow {
                id,
                tenant,
                name: rule.spec.name.clone(),
                definition,
                created_at: rule.created_at,
                updated_at: now,
            })
            .await?;
        self.inner.rules.replace(tenant, |rules| {
            match rules.iter().position(|c| c.rule.id == id) {
                Some(i) => rules[i] = compiled,
                None => rules.push(compiled),
            }
        });
        self.forget_holds(id);
        Ok(rule)
    }

    /// Deletes a rule.
    pub async fn delete_rule(&self, caller: &Principal, id: Uuid) -> Result<(), PlatformError> {
        caller.require_write()?;
        if !self.store().delete_rule(caller.tenant, id).await? {
            return Err(PlatformError::not_found(format!("no rule {id}")));
        }
        self.inner
            .rules
            .replace(caller.tenant, |rules| rules.retain(|c| c.rule.id != id));
        self.forget_holds(id);
        Ok(())
    }

    /// Loads rules from a JSON file (an array of definitions) into the default tenant,
    /// replacing rules of the same name; returns how many.
    pub async fn load_rules_file(&self, path: &std::path::Path) -> Result<usize, PlatformError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            PlatformError::invalid(format!(
                "cannot read the rules file {}: {e}",
                path.display()
            ))
        })?;
        let specs: Vec<Value> = serde_json::from_str(&text).map_err(|e| {
            PlatformError::invalid(format!(
                "the rules file {} is not a JSON array of rules: {e}",
                path.display()
            ))
        })?;
        let tenant = self.default_tenant();
        let mut loaded = 0;
        for (index, body) in specs.into_iter().enumerate() {
            let spec = parse_spec(body).map_err(|e| {
                PlatformError::invalid(format!(
                    "{}: rule {}: {}",
                    path.display(),
                    index + 1,
                    e.message
                ))
            })?;
            let existing = self.inner.rules.tenant_rules(tenant).and_then(|rules| {
                rules
                    .iter()
                    .find(|c| c.rule.spec.name == spec.name)
                    .map(|c| c.rule.clone())
            });
            let (id, created) = match existing {
                Some(rule) => (rule.id, Some(rule.created_at)),
                None => (Uuid::new_v4(), None),
            };
            self.put_rule(tenant, id, spec, created)
                .await
                .map_err(|e| {
                    PlatformError::invalid(format!(
                        "{}: rule {}: {}",
                        path.display(),
                        index + 1,
                        e.message
                    ))
                })?;
            loaded += 1;
        }
        Ok(loaded)
    }

    pub(crate) fn forget_device_holds(&self, device: strata_store::DeviceKey) {
        if let Ok(mut holds) = self.inner.rules.holds.lock() {
            holds.retain(|(_, d), _| *d != device);
        }
    }

    fn forget_holds(&self, rule: Uuid) {
        if let Ok(mut holds) = self.inner.rules.holds.lock() {
            holds.retain(|(r, _), _| *r != rule);
        }
    }

    /// Whether the tenant has an enabled rule for a trigger (so callers can skip work).
    pub(crate) fn has_rules(&self, tenant: TenantId, trigger: Trigger) -> bool {
        self.inner.rules.tenant_rules(tenant).is_some_and(|rules| {
            rules
                .iter()
                .any(|c| c.rule.spec.enabled && c.rule.spec.trigger == trigger)
        })
    }

    /// Stores telemetry and runs its rules (once per timestamp in the upload): the points
    /// and the messages routed to external sinks are written in one transaction, so what is
    /// stored is routed, and the device waits for one commit; then the other actions run.
    /// `messages` are the points grouped by timestamp (given when rules or listeners need
    /// them, see `telemetry::messages_by_ts`).
    pub(crate) async fn store_and_route_telemetry(
        &self,
        device: &DeviceIdentity,
        points: Vec<Point>,
        messages: Option<&crate::telemetry::Messages>,
    ) -> Result<(), PlatformError> {
        let info = match messages {
            Some(_) if self.has_rules(device.tenant, Trigger::Telemetry) => {
                self.device_info(device.device_key).await?
            }
            _ => None,
        };
        let (Some(info), Some(messages)) = (info, messages) else {
            return Ok(self.store().write_points(points).await?);
        };
        let mut planned = Vec::new();
        for (ts, values) in messages {
            planned.extend(self.plan(
                Trigger::Telemetry,
                &info,
                &Value::Object(values.clone()),
                *ts,
                None,
            ));
        }
        let outbox = self.outbox_entries(&info, &planned);
        let routed = !outbox.is_empty();
        let written = if routed {
            self.store()
                .write_points_routed(points, outbox, now_millis())
                .await
        } else {
            self.store().write_points(points).await
        };
        if let Err(e) = written {
            // Not stored, so not acted on: a "for at least" rule that fired on this message
            // fires again when the device sends it again.
            self.unfire(info.key, &planned);
            return Err(e.into());
        }
        if routed {
            self.inner.rules.sinks.wake();
        }
        self.execute(&info, &planned).await;
        Ok(())
    }

    fn unfire(&self, device: strata_store::DeviceKey, planned: &[Planned]) {
        let Ok(mut holds) = self.inner.rules.holds.lock() else {
            return;
        };
        for p in planned {
            if p.compiled.rule.spec.for_ms.is_some()
                && let Some(hold) = holds.get_mut(&(p.compiled.rule.id, device))
            {
                hold.fired = false;
            }
        }
    }

    /// Runs the rules of a trigger for a device, the message timestamped now.
    pub(crate) async fn run_rules(&self, trigger: Trigger, device: &DeviceInfo, msg: Value) {
        if self.has_rules(device.tenant, trigger) {
            self.run_rules_at(trigger, device, msg, now_millis()).await;
        }
    }

    /// Runs the rules of a trigger for a device identified by its credentials.
    pub(crate) async fn run_device_rules(
        &self,
        trigger: Trigger,
        device: &DeviceIdentity,
        msg: impl FnOnce() -> Value,
    ) {
        if !self.has_rules(device.tenant, trigger) {
            return;
        }
        if let Ok(Some(info)) = self.device_info(device.device_key).await {
            self.run_rules_at(trigger, &info, msg(), now_millis()).await;
        }
    }

    /// The tenant's enabled inactivity rules: (rule id, silence in ms).
    pub(crate) fn inactivity_rules(&self, tenant: TenantId) -> Vec<(Uuid, u64)> {
        self.inner
            .rules
            .tenant_rules(tenant)
            .map(|rules| {
                rules
                    .iter()
                    .filter(|c| c.rule.spec.enabled && c.rule.spec.trigger == Trigger::Inactivity)
                    .filter_map(|c| c.rule.spec.inactivity_ms.map(|ms| (c.rule.id, ms)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs one rule (the inactivity sweep picks rules one by one).
    pub(crate) async fn run_one_rule(&self, rule: Uuid, device: &DeviceInfo, msg: Value) {
        self.run_rules_matching(Trigger::Inactivity, device, msg, now_millis(), Some(rule))
            .await;
    }

    async fn run_rules_at(&self, trigger: Trigger, device: &DeviceInfo, msg: Value, ts: i64) {
        self.run_rules_matching(trigger, device, msg, ts, None)
            .await;
    }

    async fn run_rules_matching(
        &self,
        trigger: Trigger,
        device: &DeviceInfo,
        msg: Value,
        ts: i64,
        only: Option<Uuid>,
    ) {
        let planned = self.plan(trigger, device, &msg, ts, only);
        if planned.is_empty() {
            return;
        }
        let outbox = self.outbox_entries(device, &planned);
        if !outbox.is_empty() {
            let count = outbox.len();
            match self.store().enqueue(outbox, now_millis()).await {
                Ok(()) => self.inner.rules.sinks.wake(),
                Err(e) => {
                    // Storage is failing: the caller's own write failed or will too.
                    tracing::error!(error = %e, count, "cannot queue routed messages");
                    metrics::counter!("strata_rule_errors_total", "kind" => "outbox")
                        .increment(count as u64);
                }
            }
        }
        self.execute(device, &planned).await;
    }

    /// Evaluates the rules of a trigger for one message: which rules matched, and the
    /// message each one's actions get. Pure but for "for at least" bookkeeping.
    fn plan(
        &self,
        trigger: Trigger,
        device: &DeviceInfo,
        msg: &Value,
        ts: i64,
        only: Option<Uuid>,
    ) -> Vec<Planned> {
        let Some(rules) = self.inner.rules.tenant_rules(device.tenant) else {
            return Vec::new();
        };
        let mut planned = Vec::new();
        let mut scope: Option<rhai::Scope<'static>> = None;
        for compiled in rules.iter() {
            let spec = &compiled.rule.spec;
            if !spec.enabled
                || spec.trigger != trigger
                || only.is_some_and(|id| id != compiled.rule.id)
            {
                continue;
            }
            // Converted once per message, and shared (not copied) into each script.
            let scope = scope.get_or_insert_with(|| {
                let meta = json!({
                    "device_id": device.id.to_string(),
                    "device_name": device.name,
                    "device_type": device.device_type,
                    "labels": device.labels,
                    "trigger": trigger.as_str(),
                    "ts": ts,
                });
                Scripts::scope(
                    script::to_dynamic(msg).into_shared(),
                    script::to_dynamic(&meta).into_shared(),
                )
            });
            let Some(out) = self.evaluate(compiled, device, msg, scope, ts) else {
                continue;
            };
            metrics::counter!("strata_rule_matches_total").increment(1);
            let envelope = json!({
                "rule": spec.name,
                "trigger": trigger.as_str(),
                "device": {
                    "id": device.id,
                    "name": device.name,
                    "type": device.device_type,
                    "labels": device.labels,
                },
                "ts": ts,
                "msg": out,
            });
            planned.push(Planned {
                compiled: Arc::clone(compiled),
                out,
                envelope,
                ts,
            });
        }
        planned
    }

    /// The outbox messages of the external-sink actions of matched rules.
    fn outbox_entries(&self, device: &DeviceInfo, planned: &[Planned]) -> Vec<NewOutboxEntry> {
        let mut outbox = Vec::new();
        for p in planned {
            let rule = &p.compiled.rule;
            for action in &rule.spec.actions {
                if !matches!(
                    action,
                    Action::Webhook { .. } | Action::Amqp { .. } | Action::Email { .. }
                ) {
                    continue;
                }
                let mut sink = action.clone();
                match &mut sink {
                    Action::Amqp { routing_key, .. } => {
                        *routing_key = fill_template(routing_key, device, rule);
                    }
                    Action::Email { subject, .. } => {
                        *subject = fill_template(subject, device, rule);
                    }
                    _ => {}
                }
                outbox.push(NewOutboxEntry {
                    tenant: device.tenant,
                    rule_id: rule.id,
                    // One queue per rule action (not per filled-in routing key or subject).
                    sink_key: sink_key(rule.id, action),
                    sink: serde_json::to_string(&sink).unwrap_or_default(),
                    payload: p.envelope.to_string().into_bytes(),
                });
            }
        }
        outbox
    }

    /// Runs the in-platform actions of matched rules (the external ones are in the outbox).
    async fn execute(&self, device: &DeviceInfo, planned: &[Planned]) {
        for p in planned {
            for action in &p.compiled.rule.spec.actions {
                self.act(&p.compiled, action, device, &p.out, &p.envelope, p.ts)
                    .await;
            }
        }
    }

    /// Filter, hold and transform; the message for the actions, or `None`.
    fn evaluate(
        &self,
        compiled: &Compiled,
        device: &DeviceInfo,
        msg: &Value,
        scope: &mut rhai::Scope<'static>,
        ts: i64,
    ) -> Option<Value> {
        let scripts = &self.inner.rules.scripts;
        let spec = &compiled.rule.spec;
        let passed = match &compiled.filter {
            None => true,
            Some(filter) => match scripts.filter(filter, scope) {
                Ok(passed) => passed,
                Err(e) => {
                    script_error(&spec.name, "filter", &e);
                    false
                }
            },
        };
        if let Some(hold_ms) = spec.for_ms {
            let key = (compiled.rule.id, device.key);
            let Ok(mut holds) = self.inner.rules.holds.lock() else {
                return None;
            };
            if !passed {
                holds.remove(&key);
                return None;
            }
            let hold = holds.entry(key).or_insert(Hold {
                since: ts,
                fired: false,
            });
            if hold.fired || ts - hold.since < hold_ms as i64 {
                return None;
            }
            hold.fired = true;
        } else if !passed {
            return None;
        }
        match &compiled.transform {
            None => Some(msg.clone()),
            Some(transform) => match scripts.transform(transform, scope) {
                Ok(out) => out,
                Err(e) => {
                    script_error(&spec.name, "transform", &e);
                    None
                }
            },
        }
    }

    /// Runs one action. Boxed: actions raise alarms, and alarms run rules (rules
    /// triggered by alarms cannot raise alarms, so that ends).
    #[allow(clippy::too_many_arguments)]
    fn act<'a>(
        &'a self,
        compiled: &'a Compiled,
        action: &'a Action,
        device: &'a DeviceInfo,
        msg: &'a Value,
        envelope: &'a Value,
        ts: i64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            let rule = &compiled.rule;
            let result: Result<(), PlatformError> = match action {
                Action::Store => self.store_rule_output(device, msg, ts).await,
                Action::Mqtt { topic, qos, retain } => {
                    let republisher = self
                        .inner
                        .rules
                        .republisher
                        .read()
                        .ok()
                        .and_then(|r| r.clone());
                    // Names filled in may hold anything (`$`, `/`, wildcards): the finished
                    // topic is checked, so no rule can publish into a private namespace.
                    let topic = fill_template(topic, device, rule);
                    if topic.is_empty()
                        || topic.starts_with('$')
                        || topic.contains(['+', '#', '\0'])
                        || topic.len() > 4096
                    {
                        Err(PlatformError::invalid(format!(
                            "the topic {topic:?} is not a plain topic name"
                        )))
                    } else {
                        if let Some(republisher) = republisher {
                            republisher.publish(
                                topic,
                                envelope.to_string().into_bytes(),
                                *qos,
                                *retain,
                            );
                        }
                        Ok(())
                    }
                }
                // Queued with the message (see `outbox_entries`).
                Action::Webhook { .. } | Action::Amqp { .. } | Action::Email { .. } => Ok(()),
                Action::CreateAlarm {
                    alarm_type,
                    severity,
                } => self
                    .raise_alarm(device, alarm_type, severity, msg.clone())
                    .await
                    .map(|_| ()),
                Action::ClearAlarm { alarm_type } => self
                    .clear_device_alarm(device, alarm_type, msg.clone())
                    .await
                    .map(|_| ()),
                Action::Rpc {
                    method,
                    params,
                    expiry_ms,
                } => {
                    let params = params.clone().unwrap_or_else(|| msg.clone());
                    let identity = DeviceIdentity {
                        tenant: device.tenant,
                        device_id: device.id,
                        device_key: device.key,
                        credential_id: Uuid::nil(),
                    };
                    let request = crate::rpc::RpcRequest {
                        method: method.clone(),
                        params,
                        oneway: true,
                        persistent: true,
                        timeout_ms: None,
                        expiry_ms: Some(expiry_ms.unwrap_or(3_600_000)),
                    };
                    self.call_device(&identity, request).await.map(|_| ())
                }
            };
            if let Err(e) = result {
                tracing::warn!(rule = %rule.spec.name, error = %e, "rule action failed");
                metrics::counter!("strata_rule_errors_total", "kind" => "action").increment(1);
            }
        })
    }

    async fn store_rule_output(
        &self,
        device: &DeviceInfo,
        msg: &Value,
        ts: i64,
    ) -> Result<(), PlatformError> {
        let payload = json!({"ts": ts, "values": msg});
        let points = crate::telemetry::parse_telemetry(payload, &self.telemetry_limits())?;
        let points = points
            .into_iter()
            .map(|p| Point {
                device: device.key,
                key: p.key,
                ts: p.ts,
                value: p.value,
            })
            .collect();
        // Written directly: stored rule output does not set rules off again.
        Ok(self.store().write_points(points).await?)
    }
}

/// A topic, routing key or subject with the rule's and device's names filled in.
fn fill_template(template: &str, device: &DeviceInfo, rule: &Rule) -> String {
    let id = device.id.to_string();
    model::fill(
        template,
        &[
            ("device_name", device.name.as_str()),
            ("device_id", id.as_str()),
            ("device_type", device.device_type.as_str()),
            ("trigger", rule.spec.trigger.as_str()),
            ("rule", rule.spec.name.as_str()),
        ],
    )
}

/// The queue key of a rule's sink action: its messages are delivered in order.
fn sink_key(rule: Uuid, sink: &Action) -> String {
    let text = serde_json::to_string(sink).unwrap_or_default();
    let mut hasher = sha2::Sha256::new();
    hasher.update(rule.as_bytes());
    hasher.update(text.as_bytes());
    hex::encode(&hasher.finalize()[..12])
}

fn script_error(rule: &str, part: &str, error: &str) {
    tracing::debug!(rule, part, error, "rule script failed");
    metrics::counter!("strata_rule_errors_total", "kind" => "script").increment(1);
}
