//! Telemetry: points keyed by (device, ts, key), plus the latest value per (device, key).

use std::collections::HashMap;

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};
use rusqlite::{Connection, params};

use super::SqliteStore;
use super::accounts::optional;
use super::writer::WriteCtx;
use crate::{
    Aggregate, Bucket, DeviceKey, LatestValue, Millis, NewOutboxEntry, Order, Point, RangeQuery,
    StoreError, TelemetryStore, TimedValue, Value,
};

// Stored `kind` column: numbers use 0 so the common case costs no bytes in the record.
const KIND_NUMBER: i64 = 0;
const KIND_BOOL: i64 = 1;
const KIND_STRING: i64 = 2;
const KIND_JSON: i64 = 3;

/// A pending update of one latest value.
pub(crate) struct LatestUpdate {
    ts: Millis,
    value: Value,
}

fn encode(value: &Value) -> Result<(i64, ToSqlOutput<'_>), StoreError> {
    Ok(match value {
        Value::Int(i) => (KIND_NUMBER, ToSqlOutput::Owned(SqlValue::Integer(*i))),
        Value::Float(f) => (KIND_NUMBER, ToSqlOutput::Owned(SqlValue::Real(*f))),
        Value::Bool(b) => (KIND_BOOL, ToSqlOutput::Owned(SqlValue::Integer(*b as i64))),
        Value::Str(s) => (
            KIND_STRING,
            ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        ),
        Value::Json(v) => (
            KIND_JSON,
            ToSqlOutput::Owned(SqlValue::Text(
                serde_json::to_string(v).map_err(|e| StoreError::Database(e.to_string()))?,
            )),
        ),
    })
}

fn decode(kind: i64, raw: ValueRef<'_>) -> Result<Value, StoreError> {
    let corrupt = || StoreError::Corrupt(format!("telemetry value of kind {kind}: {raw:?}"));
    Ok(match (kind, raw) {
        (KIND_NUMBER, ValueRef::Integer(i)) => Value::Int(i),
        (KIND_NUMBER, ValueRef::Real(f)) => Value::Float(f),
        (KIND_BOOL, ValueRef::Integer(i)) => Value::Bool(i != 0),
        (KIND_STRING, ValueRef::Text(t)) => {
            Value::Str(String::from_utf8(t.to_vec()).map_err(|_| corrupt())?)
        }
        (KIND_JSON, ValueRef::Text(t)) => {
            Value::Json(serde_json::from_slice(t).map_err(|_| corrupt())?)
        }
        _ => return Err(corrupt()),
    })
}

/// Keeps the lowest and highest point of each time slice, in time order.
struct MinMaxThinner {
    origin: i64,
    width: i64,
    slice: i64,
    low: Option<(f64, TimedValue)>,
    high: Option<(f64, TimedValue)>,
}

impl MinMaxThinner {
    fn new(origin: i64, width: i64) -> Self {
        Self {
            origin,
            width,
            slice: 0,
            low: None,
            high: None,
        }
    }

    fn push(&mut self, ts: i64, value: Value, out: &mut Vec<TimedValue>) {
        let number = match value {
            Value::Int(i) => i as f64,
            Value::Float(f) => f,
            Value::Bool(b) => f64::from(u8::from(b)),
            _ => return,
        };
        let slice = (ts - self.origin) / self.width;
        if slice != self.slice {
            self.finish(out);
            self.slice = slice;
        }
        let point = TimedValue { ts, value };
        if self.low.as_ref().is_none_or(|(v, _)| number < *v) {
            self.low = Some((number, point.clone()));
        }
        if self.high.as_ref().is_none_or(|(v, _)| number > *v) {
            self.high = Some((number, point));
        }
    }

    fn finish(&mut self, out: &mut Vec<TimedValue>) {
        match (self.low.take(), self.high.take()) {
            (Some((_, low)), Some((_, high))) if low.ts == high.ts => out.push(low),
            (Some((_, low)), Some((_, high))) if low.ts < high.ts => {
                out.push(low);
                out.push(high);
            }
            (Some((_, low)), Some((_, high))) => {
                out.push(high);
                out.push(low);
            }
            (Some((_, p)), None) | (None, Some((_, p))) => out.push(p),
            (None, None) => {}
        }
    }
}

fn key_id(ctx: &mut WriteCtx<'_>, name: &str) -> Result<i64, StoreError> {
    if let Some(id) = ctx.key_ids.get(name) {
        return Ok(*id);
    }
    ctx.conn
        .prepare_cached(
            "INSERT INTO telemetry_keys (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        )?
        .execute([name])?;
    let id: i64 = ctx
        .conn
        .prepare_cached("SELECT id FROM telemetry_keys WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?;
    ctx.key_ids.insert(name.to_string(), id);
    ctx.new_keys.push(name.to_string());
    Ok(id)
}

fn lookup_key_id(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    optional(
        conn.prepare_cached("SELECT id FROM telemetry_keys WHERE name = ?1")?
            .query_row([name], |r| r.get(0)),
    )
}

fn insert_points(ctx: &mut WriteCtx<'_>, points: &[Point]) -> Result<(), StoreError> {
    let mut latest: HashMap<(i64, i64), (Millis, usize)> = HashMap::new();
    for (index, point) in points.iter().enumerate() {
        let key = key_id(ctx, &point.key)?;
        let (kind, value) = encode(&point.value)?;
        ctx.conn
            .prepare_cached(
                "INSERT INTO telemetry (device, ts, key, kind, value) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (device, ts, key) DO UPDATE SET kind = excluded.kind, value = excluded.value",
            )?
            .execute(params![point.device.0, point.ts, key, kind, value])?;
        let entry = latest
            .entry((point.device.0, key))
            .or_insert((point.ts, index));
        if point.ts >= entry.0 {
            *entry = (point.ts, index);
        }
    }
    // Only a job that succeeded may move the latest values.
    for (slot, (ts, index)) in latest {
        let newer = ctx.latest.get(&slot).is_none_or(|u| ts >= u.ts);
        if newer {
            ctx.latest.insert(
                slot,
                LatestUpdate {
                    ts,
                    value: points[index].value.clone(),
                },
            );
        }
    }
    Ok(())
}

/// Writes the batch's newest values; runs once per commit, just before it.
pub(crate) fn upsert_latest(
    conn: &Connection,
    updates: HashMap<(i64, i64), LatestUpdate>,
) -> Result<(), StoreError> {
    if updates.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "INSERT INTO telemetry_latest (device, key, ts, kind, value) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (device, key) DO UPDATE SET ts = excluded.ts, kind = excluded.kind,
            value = excluded.value
         WHERE excluded.ts >= telemetry_latest.ts",
    )?;
    for ((device, key), update) in &updates {
        let (kind, value) = encode(&update.value)?;
        stmt.execute(params![device, key, update.ts, kind, value])?;
    }
    Ok(())
}

/// Points the latest value of (device, key) at the newest remaining point, or removes it.
fn recompute_latest(conn: &Connection, device: i64, key: i64) -> Result<(), StoreError> {
    let newest = optional(conn.query_row(
        "SELECT ts, kind, value FROM telemetry WHERE device = ?1 AND key = ?2
         ORDER BY ts DESC LIMIT 1",
        params![device, key],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, SqlValue>(2)?,
            ))
        },
    ))?;
    match newest {
        Some((ts, kind, value)) => {
            conn.execute(
                "UPDATE telemetry_latest SET ts = ?3, kind = ?4, value = ?5
                 WHERE device = ?1 AND key = ?2",
                params![device, key, ts, kind, value],
            )?;
        }
        None => {
            conn.execute(
                "DELETE FROM telemetry_latest WHERE device = ?1 AND key = ?2",
                params![device, key],
            )?;
        }
    }
    Ok(())
}

#[async_trait]
impl TelemetryStore for SqliteStore {
    async fn write_points(&self, points: Vec<Point>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        let rows = points.len();
        metrics::counter!("strata_store_points_written_total").increment(rows as u64);
        self.writer
            .exec(rows, move |ctx| insert_points(ctx, &points))
            .await
    }

    async fn write_points_routed(
        &self,
        points: Vec<Point>,
        outbox: Vec<NewOutboxEntry>,
        now: Millis,
    ) -> Result<(), StoreError> {
        let rows = points.len() + outbox.len();
        metrics::counter!("strata_store_points_written_total").increment(points.len() as u64);
        self.writer
            .exec(rows, move |ctx| {
                insert_points(ctx, &points)?;
                super::outbox::insert_outbox(ctx.conn, &outbox, now)
            })
            .await
    }

    async fn latest(
        &self,
        device: DeviceKey,
        keys: &[String],
    ) -> Result<Vec<LatestValue>, StoreError> {
        let keys = keys.to_vec();
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT k.name, l.ts, l.kind, l.value
                     FROM telemetry_latest l JOIN telemetry_keys k ON k.id = l.key
                     WHERE l.device = ?1 ORDER BY k.name",
                )?;
                let mut rows = stmt.query([device.0])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let key: String = row.get(0)?;
                    if !keys.is_empty() && !keys.contains(&key) {
                        continue;
                    }
                    out.push(LatestValue {
                        key,
                        ts: row.get(1)?,
                        value: decode(row.get(2)?, row.get_ref(3)?)?,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn keys(&self, device: DeviceKey) -> Result<Vec<String>, StoreError> {
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT k.name FROM telemetry_latest l JOIN telemetry_keys k ON k.id = l.key
                     WHERE l.device = ?1 ORDER BY k.name",
                )?;
                let keys = stmt
                    .query_map([device.0], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(keys)
            })
            .await
    }

    async fn range(
        &self,
        device: DeviceKey,
        key: &str,
        query: RangeQuery,
    ) -> Result<Vec<TimedValue>, StoreError> {
        let key = key.to_string();
        self.readers
            .read(move |conn| {
                let Some(key) = lookup_key_id(conn, &key)? else {
                    return Ok(Vec::new());
                };
                let sql = match query.order {
                    Order::Asc => {
                        "SELECT ts, kind, value FROM telemetry
                         WHERE device = ?1 AND ts >= ?2 AND ts < ?3 AND key = ?4
                         ORDER BY ts ASC LIMIT ?5"
                    }
                    Order::Desc => {
                        "SELECT ts, kind, value FROM telemetry
                         WHERE device = ?1 AND ts >= ?2 AND ts < ?3 AND key = ?4
                         ORDER BY ts DESC LIMIT ?5"
                    }
                };
                let mut stmt = conn.prepare_cached(sql)?;
                let mut rows =
                    stmt.query(params![device.0, query.start, query.end, key, query.limit])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(TimedValue {
                        ts: row.get(0)?,
                        value: decode(row.get(1)?, row.get_ref(2)?)?,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn downsample(
        &self,
        device: DeviceKey,
        key: &str,
        start: Millis,
        end: Millis,
        max_points: u32,
    ) -> Result<(Vec<TimedValue>, bool), StoreError> {
        let key = key.to_string();
        self.readers
            .read(move |conn| {
                let Some(key) = lookup_key_id(conn, &key)? else {
                    return Ok((Vec::new(), false));
                };
                let (count, first, last): (i64, Option<i64>, Option<i64>) = conn
                    .prepare_cached(
                        "SELECT count(*), min(ts), max(ts) FROM telemetry
                         WHERE device = ?1 AND ts >= ?2 AND ts < ?3 AND key = ?4",
                    )?
                    .query_row(params![device.0, start, end, key], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?;
                let (Some(first), Some(last)) = (first, last) else {
                    return Ok((Vec::new(), false));
                };
                let thin = count > i64::from(max_points);
                let mut stmt = conn.prepare_cached(
                    "SELECT ts, kind, value FROM telemetry
                     WHERE device = ?1 AND ts >= ?2 AND ts < ?3 AND key = ?4
                     ORDER BY ts ASC",
                )?;
                let mut rows = stmt.query(params![device.0, start, end, key])?;
                let mut out = Vec::new();
                if !thin {
                    while let Some(row) = rows.next()? {
                        out.push(TimedValue {
                            ts: row.get(0)?,
                            value: decode(row.get(1)?, row.get_ref(2)?)?,
                        });
                    }
                    return Ok((out, false));
                }
                let slices = i64::from((max_points / 2).max(1));
                let width = ((last - first) / slices + 1).max(1);
                let mut thinner = MinMaxThinner::new(first, width);
                while let Some(row) = rows.next()? {
                    let kind: i64 = row.get(1)?;
                    if kind != KIND_NUMBER && kind != KIND_BOOL {
                        continue;
                    }
                    let ts: i64 = row.get(0)?;
                    let value = decode(kind, row.get_ref(2)?)?;
                    thinner.push(ts, value, &mut out);
                }
                thinner.finish(&mut out);
                if out.is_empty() {
                    // Text and JSON have no extremes to keep: the latest points instead.
                    let mut stmt = conn.prepare_cached(
                        "SELECT ts, kind, value FROM telemetry
                         WHERE device = ?1 AND ts >= ?2 AND ts < ?3 AND key = ?4
                         ORDER BY ts DESC LIMIT ?5",
                    )?;
                    let mut rows = stmt.query(params![device.0, start, end, key, max_points])?;
                    while let Some(row) = rows.next()? {
                        out.push(TimedValue {
                            ts: row.get(0)?,
                            value: decode(row.get(1)?, row.get_ref(2)?)?,
                        });
                    }
                    out.reverse();
                }
                Ok((out, true))
            })
            .await
    }

    async fn aggregate(
        &self,
        device: DeviceKey,
        key: &str,
        start: Millis,
        end: Millis,
        interval: Millis,
        function: Aggregate,
    ) -> Result<Vec<Bucket>, StoreError> {
        if interval <= 0 {
            return Err(StoreError::Database(
                "aggregate interval must be positive".into(),
            ));
        }
        let key = key.to_string();
        self.readers
            .read(move |conn| {
                let Some(key) = lookup_key_id(conn, &key)? else {
                    return Ok(Vec::new());
                };
                let expr = match function {
                    Aggregate::Min => "min(CASE WHEN kind = 0 THEN value END)",
                    Aggregate::Max => "max(CASE WHEN kind = 0 THEN value END)",
                    Aggregate::Avg => "avg(CASE WHEN kind = 0 THEN value END)",
                    Aggregate::Sum => "total(CASE WHEN kind = 0 THEN value END)",
                    Aggregate::Count => "count(*)",
                };
                let sql = format!(
                    "SELECT (ts - ?2) / ?5 AS bucket, {expr}, count(*),
                        count(CASE WHEN kind = 0 THEN 1 END)
                     FROM telemetry
                     WHERE device = ?1 AND ts >= ?2 AND ts < ?3 AND key = ?4
                     GROUP BY bucket ORDER BY bucket"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt.query(params![device.0, start, end, key, interval])?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let bucket: i64 = row.get(0)?;
                    let numeric: i64 = row.get(3)?;
                    let value: Option<f64> = if function != Aggregate::Count && numeric == 0 {
                        None
                    } else {
                        row.get(1)?
                    };
                    out.push(Bucket {
                        start: start + bucket * interval,
                        value,
                        count: row.get::<_, i64>(2)? as u64,
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn delete_range(
        &self,
        device: DeviceKey,
        keys: &[String],
        start: Millis,
        end: Millis,
    ) -> Result<u64, StoreError> {
        let keys = keys.to_vec();
        self.writer
            .exec(1, move |ctx| {
                let key_ids: Vec<i64> = if keys.is_empty() {
                    let mut stmt = ctx
                        .conn
                        .prepare_cached("SELECT key FROM telemetry_latest WHERE device = ?1")?;
                    stmt.query_map([device.0], |r| r.get(0))?
                        .collect::<Result<_, _>>()?
                } else {
                    let mut ids = Vec::new();
                    for key in &keys {
                        if let Some(id) = lookup_key_id(ctx.conn, key)? {
                            ids.push(id);
                        }
                    }
                    ids
                };
                let mut deleted = 0u64;
                for key in &key_ids {
                    deleted += ctx.conn.execute(
                        "DELETE FROM telemetry WHERE device = ?1 AND key = ?2 AND ts >= ?3 AND ts < ?4",
                        params![device.0, key, start, end],
                    )? as u64;
                    recompute_latest(ctx.conn, device.0, *key)?;
                }
                for key in &key_ids {
                    if ctx
                        .latest
                        .get(&(device.0, *key))
                        .is_some_and(|u| u.ts >= start && u.ts < end)
                    {
                        ctx.latest.remove(&(device.0, *key));
                    }
                }
                Ok(deleted)
            })
            .await
    }

    async fn delete_before(&self, device: DeviceKey, cutoff: Millis) -> Result<u64, StoreError> {
        self.writer
            .exec(1, move |ctx| {
                let n = ctx.conn.execute(
                    "DELETE FROM telemetry WHERE device = ?1 AND ts < ?2",
                    params![device.0, cutoff],
                )?;
                Ok(n as u64)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::open_temp;
    use super::*;

    fn point(device: i64, key: &str, ts: i64, value: Value) -> Point {
        Point {
            device: DeviceKey(device),
            key: key.into(),
            ts,
            value,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn downsampling_keeps_extremes_and_bounds_points() {
        let (_dir, store) = open_temp();
        // 10,000 points of a slow ramp with one spike and one dip.
        let points = (0..10_000i64)
            .map(|i| {
                let v = match i {
                    4321 => 1e6,
                    8765 => -1e6,
                    _ => i as f64 / 100.0,
                };
                point(1, "v", i, Value::Float(v))
            })
            .collect();
        store.write_points(points).await.unwrap();
        let (thin, flagged) = store
            .downsample(DeviceKey(1), "v", 0, i64::MAX, 500)
            .await
            .unwrap();
        assert!(flagged);
        assert!(thin.len() <= 500 && thin.len() >= 400, "{}", thin.len());
        assert!(thin.windows(2).all(|w| w[0].ts < w[1].ts), "time order");
        assert!(thin.iter().any(|p| p.value == Value::Float(1e6)));
        assert!(thin.iter().any(|p| p.value == Value::Float(-1e6)));
        assert_eq!(thin.first().unwrap().ts, 0);
        assert_eq!(thin.last().unwrap().ts, 9_999);
        // Few enough points come back untouched.
        let (raw, flagged) = store
            .downsample(DeviceKey(1), "v", 100, 200, 500)
            .await
            .unwrap();
        assert!(!flagged);
        assert_eq!(raw.len(), 100);
        let (none, _) = store
            .downsample(DeviceKey(1), "missing", 0, i64::MAX, 500)
            .await
            .unwrap();
        assert!(none.is_empty());
        // Booleans are thinned as 0/1; text keeps the latest points.
        let flags = (0..2_000i64)
            .map(|i| point(2, "open", i, Value::Bool(i % 7 == 0)))
            .chain((0..2_000i64).map(|i| point(2, "fw", i, Value::Str(format!("v{i}")))))
            .collect();
        store.write_points(flags).await.unwrap();
        let (open, _) = store
            .downsample(DeviceKey(2), "open", 0, i64::MAX, 100)
            .await
            .unwrap();
        assert!(!open.is_empty() && open.len() <= 100);
        assert!(open.iter().any(|p| p.value == Value::Bool(true)));
        let (fw, _) = store
            .downsample(DeviceKey(2), "fw", 0, i64::MAX, 100)
            .await
            .unwrap();
        assert_eq!(fw.len(), 100);
        assert_eq!(fw.last().unwrap().value, Value::Str("v1999".into()));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn write_query_aggregate_delete() {
        let (_dir, store) = open_temp();
        let mut points = Vec::new();
        for i in 0..100 {
            points.push(point(1, "temp", 1000 + i * 10, Value::Float(i as f64)));
        }
        points.push(point(1, "on", 1000, Value::Bool(true)));
        points.push(point(1, "fw", 1000, Value::Str("1.2".into())));
        points.push(point(
            1,
            "cfg",
            1000,
            Value::Json(serde_json::json!({"a": [1, 2]})),
        ));
        points.push(point(2, "temp", 5000, Value::Int(-4)));
        store.write_points(points).await.unwrap();

        let latest = store.latest(DeviceKey(1), &[]).await.unwrap();
        let names: Vec<_> = latest.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(names, ["cfg", "fw", "on", "temp"]);
        let temp = latest.iter().find(|l| l.key == "temp").unwrap();
        assert_eq!((temp.ts, &temp.value), (1990, &Value::Float(99.0)));
        assert_eq!(
            latest.iter().find(|l| l.key == "cfg").unwrap().value,
            Value::Json(serde_json::json!({"a": [1, 2]}))
        );
        assert_eq!(
            store.latest(DeviceKey(2), &["temp".into()]).await.unwrap()[0].value,
            Value::Int(-4)
        );

        let q = RangeQuery {
            start: 1000,
            end: 1100,
            limit: 3,
            order: Order::Desc,
        };
        let got = store.range(DeviceKey(1), "temp", q).await.unwrap();
        let ts: Vec<_> = got.iter().map(|p| p.ts).collect();
        assert_eq!(ts, [1090, 1080, 1070]);
        let q = RangeQuery {
            order: Order::Asc,
            ..q
        };
        let ts: Vec<_> = store
            .range(DeviceKey(1), "temp", q)
            .await
            .unwrap()
            .iter()
            .map(|p| p.ts)
            .collect();
        assert_eq!(ts, [1000, 1010, 1020]);
        assert!(
            store
                .range(DeviceKey(1), "nope", q)
                .await
                .unwrap()
                .is_empty()
        );

        let buckets = store
            .aggregate(DeviceKey(1), "temp", 1000, 2000, 500, Aggregate::Avg)
            .await
            .unwrap();
        assert_eq!(buckets.len(), 2);
        assert_eq!(buckets[0].start, 1000);
        assert_eq!(buckets[0].count, 50);
        assert_eq!(buckets[0].value, Some(24.5));
        assert_eq!(buckets[1].value, Some(74.5));
        let max = store
            .aggregate(DeviceKey(1), "temp", 1000, 2000, 1000, Aggregate::Max)
            .await
            .unwrap();
        assert_eq!(max[0].value, Some(99.0));
        let count = store
            .aggregate(DeviceKey(1), "fw", 0, 2000, 1000, Aggregate::Count)
            .await
            .unwrap();
        assert_eq!(count[0].value, Some(1.0));
        let sum = store
            .aggregate(DeviceKey(1), "fw", 0, 2000, 1000, Aggregate::Sum)
            .await
            .unwrap();
        assert_eq!(sum[0].value, None);

        // Overwrite keeps one point per (device, ts, key).
        store
            .write_points(vec![point(1, "temp", 1990, Value::Int(7))])
            .await
            .unwrap();
        let latest = store.latest(DeviceKey(1), &["temp".into()]).await.unwrap();
        assert_eq!(latest[0].value, Value::Int(7));

        // Deleting the newest points moves latest back.
        let n = store
            .delete_range(DeviceKey(1), &["temp".into()], 1500, 3000)
            .await
            .unwrap();
        assert_eq!(n, 50);
        let latest = store.latest(DeviceKey(1), &["temp".into()]).await.unwrap();
        assert_eq!(latest[0].ts, 1490);
        let n = store
            .delete_range(DeviceKey(1), &[], 0, 3000)
            .await
            .unwrap();
        assert_eq!(n, 53);
        assert!(store.latest(DeviceKey(1), &[]).await.unwrap().is_empty());

        store
            .write_points(vec![
                point(3, "a", 10, Value::Int(1)),
                point(3, "a", 20, Value::Int(2)),
            ])
            .await
            .unwrap();
        assert_eq!(store.delete_before(DeviceKey(3), 15).await.unwrap(), 1);
        assert_eq!(store.keys(DeviceKey(3)).await.unwrap(), ["a"]);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_writers_share_commits() {
        let (_dir, store) = open_temp();
        let mut tasks = Vec::new();
        for t in 0..20 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..50 {
                    store
                        .write_points(vec![point(t, "k", i, Value::Int(i))])
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        for t in 0..20 {
            let q = RangeQuery {
                start: 0,
                end: 100,
                limit: 1000,
                order: Order::Asc,
            };
            assert_eq!(store.range(DeviceKey(t), "k", q).await.unwrap().len(), 50);
        }
    }
}
