//! Telemetry: durable ingest from any front end, queries, and retention.

mod parse;
mod retention;

use std::collections::BTreeMap;

use serde_json::Map;
use strata_store::{
    Aggregate, Bucket, DeviceIdentity, LatestValue, Millis, Order, Point, RangeQuery, TimedValue,
};
use uuid::Uuid;

use crate::accounts::Principal;
use crate::{Platform, PlatformError, now_millis};
pub use parse::{Limits, MIN_TIMESTAMP, ParsedPoint, parse_telemetry};

/// Most points one range query returns per key.
pub const MAX_RANGE_LIMIT: u32 = 10_000;
/// Most intervals one aggregate query returns.
pub const MAX_BUCKETS: i64 = 10_000;

/// A raw range query as asked by a client.
#[derive(Debug, Clone)]
pub struct RangeRequest {
    /// Keys to return; all keys when empty.
    pub keys: Vec<String>,
    /// Inclusive start (ms).
    pub start: Millis,
    /// Exclusive end (ms).
    pub end: Millis,
    /// Most points per key.
    pub limit: u32,
    /// Sort order.
    pub order: Order,
    /// For charts: thin each key to at most this many points (oldest first, extremes
    /// kept); `limit`, `order` and paging do not apply then.
    pub max_points: Option<u32>,
}

/// Bounds of [`RangeRequest::max_points`].
pub const MAX_POINTS_RANGE: std::ops::RangeInclusive<u32> = 2..=20_000;

/// One key's page of a range query.
#[derive(Debug, Clone)]
pub struct SeriesPage {
    /// Key.
    pub key: String,
    /// Points, in the order asked.
    pub points: Vec<TimedValue>,
    /// The `start` (ascending) or `end` (descending) that fetches the next page, if any.
    pub next: Option<Millis>,
    /// Whether the points were thinned for `max_points`.
    pub downsampled: bool,
}

/// Telemetry points as messages: per timestamp, the values of that moment by key.
pub(crate) type Messages = BTreeMap<Millis, Map<String, serde_json::Value>>;

/// Groups points into one message per timestamp.
pub(crate) fn messages_by_ts(points: &[Point]) -> Messages {
    let mut messages = Messages::new();
    for p in points {
        messages
            .entry(p.ts)
            .or_default()
            .insert(p.key.clone(), point_json(&p.value));
    }
    messages
}

/// A stored value as JSON.
pub(crate) fn point_json(value: &strata_store::Value) -> serde_json::Value {
    use serde_json::json;
    match value {
        strata_store::Value::Int(i) => json!(i),
        strata_store::Value::Float(f) => json!(f),
        strata_store::Value::Bool(b) => json!(b),
        strata_store::Value::Str(s) => json!(s),
        strata_store::Value::Json(v) => v.clone(),
    }
}

impl Platform {
    /// Limits for parsing a payload received now.
    pub fn telemetry_limits(&self) -> Limits {
        let now = now_millis();
        let t = &self.config().telemetry;
        Limits {
            now,
            max_ts: now.saturating_add(t.max_future_skew.as_millis() as Millis),
            max_key_bytes: t.max_key_bytes,
            max_points: t.max_points_per_request,
        }
    }

    /// Parses a JSON telemetry payload and stores it durably for an authenticated device.
    /// Returns the number of points stored; when it returns, they are on disk.
    pub async fn ingest_json(
        &self,
        device: &DeviceIdentity,
        payload: serde_json::Value,
        transport: &'static str,
    ) -> Result<usize, PlatformError> {
        let points = parse_telemetry(payload, &self.telemetry_limits())?;
        self.ingest(device, points, transport).await
    }

    /// Stores parsed points durably for an authenticated device.
    pub async fn ingest(
        &self,
        device: &DeviceIdentity,
        points: Vec<ParsedPoint>,
        transport: &'static str,
    ) -> Result<usize, PlatformError> {
        let count = points.len();
        let points: Vec<Point> = points
            .into_iter()
            .map(|p| Point {
                device: device.device_key,
                key: p.key,
                ts: p.ts,
                value: p.value,
            })
            .collect();
        // Rules and the event stream see the upload as messages, one per timestamp; built
        // once, and only when someone looks.
        let listening = self.has_listeners();
        let messages = (listening
            || self.has_rules(device.tenant, crate::rules::Trigger::Telemetry))
        .then(|| messages_by_ts(&points));
        self.store_and_route_telemetry(device, points, messages.as_ref())
            .await?;
        self.device_seen(device);
        if listening && let Some(messages) = &messages {
            self.emit_telemetry(device, messages);
        }
        metrics::counter!("strata_ingest_points_total", "transport" => transport)
            .increment(count as u64);
        metrics::counter!("strata_ingest_messages_total", "transport" => transport).increment(1);
        Ok(count)
    }

    /// Latest value of each key (all keys when `keys` is empty).
    pub async fn latest_telemetry(
        &self,
        caller: &Principal,
        device_id: Uuid,
        keys: &[String],
    ) -> Result<Vec<LatestValue>, PlatformError> {
        let device = self.device(caller, device_id).await?;
        Ok(self.store().latest(device.key, keys).await?)
    }

    /// Keys a device has sent.
    pub async fn telemetry_keys(
        &self,
        caller: &Principal,
        device_id: Uuid,
    ) -> Result<Vec<String>, PlatformError> {
        let device = self.device(caller, device_id).await?;
        Ok(self.store().keys(device.key).await?)
    }

    /// Raw points per key in a time range, one page each.
    pub async fn telemetry_range(
        &self,
        caller: &Principal,
        device_id: Uuid,
        request: RangeRequest,
    ) -> Result<Vec<SeriesPage>, PlatformError> {
        check_range(request.start, request.end)?;
        if !(1..=MAX_RANGE_LIMIT).contains(&request.limit) {
            return Err(PlatformError::parameter(format!(
                "limit must be from 1 to {MAX_RANGE_LIMIT}"
            )));
        }
        let device = self.device(caller, device_id).await?;
        let keys = if request.keys.is_empty() {
            self.store().keys(device.key).await?
        } else {
            request.keys
        };
        let mut out = Vec::with_capacity(keys.len());
        if let Some(max_points) = request.max_points {
            if !MAX_POINTS_RANGE.contains(&max_points) {
                return Err(PlatformError::parameter(format!(
                    "max_points must be from {} to {}",
                    MAX_POINTS_RANGE.start(),
                    MAX_POINTS_RANGE.end()
                )));
            }
            for key in keys {
                let (points, downsampled) = self
                    .store()
                    .downsample(device.key, &key, request.start, request.end, max_points)
                    .await?;
                out.push(SeriesPage {
                    key,
                    points,
                    next: None,
                    downsampled,
                });
            }
            return Ok(out);
        }
        for key in keys {
            // One extra point tells whether another page exists.
            let query = RangeQuery {
                start: request.start,
                end: request.end,
                limit: request.limit + 1,
                order: request.order,
            };
            let mut points = self.store().range(device.key, &key, query).await?;
            let next = if points.len() > request.limit as usize {
                points.truncate(request.limit as usize);
                points.last().map(|p| match request.order {
                    Order::Asc => p.ts + 1,
                    Order::Desc => p.ts,
                })
            } else {
                None
            };
            out.push(SeriesPage {
                key,
                points,
                next,
                downsampled: false,
            });
        }
        Ok(out)
    }

    /// Aggregates per key over fixed intervals.
    #[allow(clippy::too_many_arguments)]
    pub async fn telemetry_aggregate(
        &self,
        caller: &Principal,
        device_id: Uuid,
        keys: Vec<String>,
        start: Millis,
        end: Millis,
        interval: Millis,
        function: Aggregate,
    ) -> Result<Vec<(String, Vec<Bucket>)>, PlatformError> {
        check_range(start, end)?;
        if interval <= 0 {
            return Err(PlatformError::parameter(
                "interval must be a positive number of ms",
            ));
        }
        if (end - start) / interval > MAX_BUCKETS {
            return Err(PlatformError::parameter(format!(
                "the range holds more than {MAX_BUCKETS} intervals; use a longer interval"
            )));
        }
        let device = self.device(caller, device_id).await?;
        let keys = if keys.is_empty() {
            self.store().keys(device.key).await?
        } else {
            keys
        };
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let buckets = self
                .store()
                .aggregate(device.key, &key, start, end, interval, function)
                .await?;
            out.push((key, buckets));
        }
        Ok(out)
    }

    /// Deletes points in a range (only `keys` unless empty); returns how many.
    pub async fn delete_telemetry(
        &self,
        caller: &Principal,
        device_id: Uuid,
        keys: &[String],
        start: Millis,
        end: Millis,
    ) -> Result<u64, PlatformError> {
        caller.require_write()?;
        check_range(start, end)?;
        let device = self.device(caller, device_id).await?;
        Ok(self
            .store()
            .delete_range(device.key, keys, start, end)
            .await?)
    }
}

fn check_range(start: Millis, end: Millis) -> Result<(), PlatformError> {
    if start >= end {
        return Err(PlatformError::parameter("start must be before end"));
    }
    // Spans are computed (here and in the store's bucket arithmetic): one that does not fit
    // in 64 bits is no real time range.
    if end.checked_sub(start).is_none() {
        return Err(PlatformError::parameter(
            "the range from start to end is too long; use ms timestamps since 1970",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::DeviceSpec;
    use crate::test_support::platform;
    use strata_store::{Role, Value};

    #[test]
    fn a_range_must_be_ordered_and_fit_in_64_bits() {
        assert!(check_range(0, 1).is_ok());
        assert!(check_range(1, 1).is_err());
        assert!(check_range(-1_000, 1_700_000_000_000).is_ok());
        // Once a subtraction overflow: a panic in debug builds, a wrong bucket in release.
        assert!(check_range(i64::MIN, 0).is_err());
        assert!(check_range(-1, i64::MAX).is_err());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn ingest_then_page_through() {
        let (_dir, p) = platform().await;
        let me = Principal {
            tenant: p.default_tenant(),
            user_id: Uuid::new_v4(),
            username: "a".into(),
            role: Role::Admin,
            token_id: Uuid::new_v4(),
        };
        let created = p
            .create_device(
                &me,
                DeviceSpec {
                    name: "d".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let id = p.authenticate_device(&created.access_token).await.unwrap();
        let base = now_millis() - 10_000;
        let payload: Vec<_> = (0..25)
            .map(|i| serde_json::json!({"ts": base + i, "values": {"t": i}}))
            .collect();
        let n = p
            .ingest_json(&id, serde_json::Value::Array(payload), "test")
            .await
            .unwrap();
        assert_eq!(n, 25);

        let mut start = base;
        let mut seen = Vec::new();
        loop {
            let page = p
                .telemetry_range(
                    &me,
                    created.device.id,
                    RangeRequest {
                        keys: vec![],
                        start,
                        end: base + 100,
                        limit: 10,
                        order: Order::Asc,
                        max_points: None,
                    },
                )
                .await
                .unwrap();
            seen.extend(page[0].points.iter().map(|p| p.value.clone()));
            match page[0].next {
                Some(next) => start = next,
                None => break,
            }
        }
        assert_eq!(seen, (0..25).map(Value::Int).collect::<Vec<_>>());
    }
}
