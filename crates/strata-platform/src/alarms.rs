//! Alarms: a condition on a device that people should look at.
//!
//! - Each has a type (e.g. `HighTemperature`) and a severity (`critical`, `major`, `minor`,
//!   `warning`, `indeterminate`).
//! - At most one alarm per type and device is open: raising it again updates it (severity,
//!   details, a repeat count) instead of piling up copies.
//! - Lifecycle: `active` -> (`acknowledged` by a person) -> `cleared` (its condition ended,
//!   or a person cleared it); every step is kept in its history.
//!
//! Rules raise and clear alarms (threshold, "for at least N seconds" and inactivity
//! conditions live in the rule, see [`crate::rules`]); the REST API lists, acknowledges and
//! clears them, and every change goes to the live event stream and to rules triggered by
//! alarms (for notifications).

use serde::Serialize;
use serde_json::{Value, json};
use strata_store::{AlarmFilter, AlarmRow, Raised};
use uuid::Uuid;

use crate::accounts::Principal;
use crate::device_info::DeviceInfo;
use crate::events::Event;
use crate::{Platform, PlatformError, now_millis};

/// The severities, most severe first.
pub const SEVERITIES: [&str; 5] = ["critical", "major", "minor", "warning", "indeterminate"];
/// Longest alarm type.
const MAX_TYPE_BYTES: usize = 128;

/// Checks an alarm type and severity.
pub fn check_alarm(alarm_type: &str, severity: &str) -> Result<(), PlatformError> {
    if alarm_type.is_empty() || alarm_type.len() > MAX_TYPE_BYTES {
        return Err(PlatformError::invalid(format!(
            "an alarm type has 1 to {MAX_TYPE_BYTES} bytes"
        )));
    }
    if !SEVERITIES.contains(&severity) {
        return Err(PlatformError::invalid(format!(
            "unknown severity {severity:?}; use one of {}",
            SEVERITIES.join(", ")
        )));
    }
    Ok(())
}

/// An alarm as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    /// Identifier.
    pub id: Uuid,
    /// The device it is about.
    pub device_id: Uuid,
    /// That device's name.
    pub device_name: String,
    /// Type.
    #[serde(rename = "type")]
    pub alarm_type: String,
    /// Severity.
    pub severity: String,
    /// `active`, `acknowledged` or `cleared`.
    pub status: &'static str,
    /// Someone acknowledged it.
    pub acknowledged: bool,
    /// It is over.
    pub cleared: bool,
    /// Details: the message that raised it last.
    pub details: Value,
    /// Times raised while open.
    pub repeats: i64,
    /// Created (ms).
    pub created_at: i64,
    /// Last change (ms).
    pub updated_at: i64,
    /// Acknowledged (ms).
    pub acknowledged_at: Option<i64>,
    /// Cleared (ms).
    pub cleared_at: Option<i64>,
}

impl Alarm {
    fn from_row(row: AlarmRow, device: &DeviceInfo) -> Self {
        let status = if row.cleared {
            "cleared"
        } else if row.acknowledged {
            "acknowledged"
        } else {
            "active"
        };
        Self {
            id: row.id,
            device_id: device.id,
            device_name: device.name.clone(),
            alarm_type: row.alarm_type,
            severity: row.severity,
            status,
            acknowledged: row.acknowledged,
            cleared: row.cleared,
            details: serde_json::from_str(&row.details).unwrap_or(Value::Null),
            repeats: row.repeats,
            created_at: row.created_at,
            updated_at: row.updated_at,
            acknowledged_at: row.acknowledged_at,
            cleared_at: row.cleared_at,
        }
    }
}

/// One step of an alarm's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlarmStep {
    /// When (ms).
    pub at: i64,
    /// `created`, `updated`, `acknowledged` or `cleared`.
    pub event: String,
    /// Details.
    pub details: Value,
}

/// Which alarms to list, as asked.
#[derive(Debug, Clone, Default)]
pub struct AlarmQuery {
    /// Only this device's.
    pub device_id: Option<Uuid>,
    /// `active`, `acknowledged`, `cleared`, or `open` (active or acknowledged).
    pub status: Option<String>,
    /// Only this severity.
    pub severity: Option<String>,
    /// Only this type.
    pub alarm_type: Option<String>,
    /// Most alarms (1 to 1000).
    pub limit: u32,
}

/// What happened to an alarm, for events and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AlarmChange {
    Created,
    Updated,
    Acknowledged,
    Cleared,
}

impl AlarmChange {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Acknowledged => "acknowledged",
            Self::Cleared => "cleared",
        }
    }
}

impl Platform {
    /// Raises an alarm on a device (creating it, or updating the open one of that type).
    pub async fn raise_alarm(
        &self,
        device: &DeviceInfo,
        alarm_type: &str,
        severity: &str,
        details: Value,
    ) -> Result<Alarm, PlatformError> {
        check_alarm(alarm_type, severity)?;
        let now = now_millis();
        let raised = self
            .store()
            .raise_alarm(AlarmRow {
                id: Uuid::new_v4(),
                tenant: device.tenant,
                device: device.key,
                alarm_type: alarm_type.to_string(),
                severity: severity.to_string(),
                acknowledged: false,
                cleared: false,
                details: details.to_string(),
                repeats: 1,
                created_at: now,
                updated_at: now,
                acknowledged_at: None,
                cleared_at: None,
            })
            .await?;
        let (row, change) = match raised {
            Raised::Created(row) => (row, AlarmChange::Created),
            Raised::Updated(row) => (row, AlarmChange::Updated),
        };
        let alarm = Alarm::from_row(row, device);
        self.alarm_changed(device, &alarm, change).await;
        Ok(alarm)
    }

    /// Clears the open alarm of a type on a device; `None` when none was open.
    pub async fn clear_device_alarm(
        &self,
        device: &DeviceInfo,
        alarm_type: &str,
        details: Value,
    ) -> Result<Option<Alarm>, PlatformError> {
        let cleared = self
            .store()
            .clear_open_alarm(device.key, alarm_type, details.to_string(), now_millis())
            .await?;
        let Some(row) = cleared else {
            return Ok(None);
        };
        let alarm = Alarm::from_row(row, device);
        self.alarm_changed(device, &alarm, AlarmChange::Cleared)
            .await;
        Ok(Some(alarm))
    }

    async fn alarm_changed(&self, device: &DeviceInfo, alarm: &Alarm, change: AlarmChange) {
        metrics::counter!("strata_alarm_changes_total", "change" => change.as_str()).increment(1);
        let data = json!({"change": change.as_str(), "alarm": alarm});
        self.emit(|| Event {
            tenant: device.tenant,
            kind: "alarm",
            device_id: Some(device.id),
            ts: alarm.updated_at,
            data: data.clone(),
        });
        self.run_rules(crate::rules::Trigger::Alarm, device, data)
            .await;
    }

    /// Raises an alarm on a device (management API).
    pub async fn create_alarm(
        &self,
        caller: &Principal,
        device_id: Uuid,
        alarm_type: &str,
        severity: &str,
        details: Value,
    ) -> Result<Alarm, PlatformError> {
        caller.require_write()?;
        let device = self.device(caller, device_id).await?;
        let info = self
            .device_info(device.key)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("no device {device_id}")))?;
        self.raise_alarm(&info, alarm_type, severity, details).await
    }

    /// The caller's alarms, newest first.
    pub async fn alarms(
        &self,
        caller: &Principal,
        query: AlarmQuery,
    ) -> Result<Vec<Alarm>, PlatformError> {
        if !(1..=1000).contains(&query.limit) {
            return Err(PlatformError::parameter("limit must be from 1 to 1000"));
        }
        let mut filter = AlarmFilter::default();
        if let Some(id) = query.device_id {
            filter.device = Some(self.device(caller, id).await?.key);
        }
        match query.status.as_deref() {
            None => {}
            Some("open") => filter.open = Some(true),
            Some("active") => {
                filter.open = Some(true);
                filter.acknowledged = Some(false);
            }
            Some("acknowledged") => {
                filter.open = Some(true);
                filter.acknowledged = Some(true);
            }
            Some("cleared") => filter.open = Some(false),
            Some(other) => {
                return Err(PlatformError::parameter(format!(
                    "unknown status {other:?}; use active, acknowledged, open or cleared"
                )));
            }
        }
        if let Some(severity) = &query.severity
            && !SEVERITIES.contains(&severity.as_str())
        {
            return Err(PlatformError::parameter(format!(
                "unknown severity {severity:?}; use one of {}",
                SEVERITIES.join(", ")
            )));
        }
        filter.severity = query.severity;
        filter.alarm_type = query.alarm_type;
        let rows = self
            .store()
            .list_alarms(caller.tenant, &filter, query.limit)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            if let Some(device) = self.device_info(row.device).await? {
                out.push(Alarm::from_row(row, &device));
            }
        }
        Ok(out)
    }

    /// One alarm with its history.
    pub async fn alarm(
        &self,
        caller: &Principal,
        id: Uuid,
    ) -> Result<(Alarm, Vec<AlarmStep>), PlatformError> {
        let row = self
            .store()
            .alarm(caller.tenant, id)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("no alarm {id}")))?;
        let device = self
            .device_info(row.device)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("no alarm {id}")))?;
        let history = self
            .store()
            .alarm_history(id)
            .await?
            .into_iter()
            .map(|e| AlarmStep {
                at: e.at,
                event: e.event,
                details: serde_json::from_str(&e.details).unwrap_or(Value::Null),
            })
            .collect();
        Ok((Alarm::from_row(row, &device), history))
    }

    /// Acknowledges (`clear` false) or clears (`clear` true) an alarm.
    pub async fn update_alarm(
        &self,
        caller: &Principal,
        id: Uuid,
        clear: bool,
    ) -> Result<Alarm, PlatformError> {
        caller.require_write()?;
        let before = self.store().alarm(caller.tenant, id).await?;
        let row = self
            .store()
            .update_alarm(caller.tenant, id, clear, now_millis())
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("no alarm {id}")))?;
        let device = self
            .device_info(row.device)
            .await?
            .ok_or_else(|| PlatformError::not_found(format!("no alarm {id}")))?;
        let changed = before.is_some_and(|b| if clear { !b.cleared } else { !b.acknowledged });
        let alarm = Alarm::from_row(row, &device);
        if changed {
            let change = if clear {
                AlarmChange::Cleared
            } else {
                AlarmChange::Acknowledged
            };
            self.alarm_changed(&device, &alarm, change).await;
        }
        Ok(alarm)
    }
}
