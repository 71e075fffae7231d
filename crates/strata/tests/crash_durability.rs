//! End-to-end: a 2xx answer means the points are on disk. Clients stream telemetry, the server
//! is killed with SIGKILL mid-stream, restarted on the same data directory, and every point it
//! acknowledged must be there.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Server, now_ms};
use serde_json::json;

#[test]
fn acknowledged_points_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir);
    let admin = server.login();
    let devices: Vec<(String, String)> = (0..4)
        .map(|i| server.create_device(&admin, &format!("d{i}")))
        .collect();
    let base = now_ms() - 86_400_000;
    let acked: Arc<Mutex<Vec<BTreeSet<i64>>>> =
        Arc::new(Mutex::new(vec![BTreeSet::new(); devices.len()]));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = server.base.clone();

    let mut writers = Vec::new();
    for (d, (_, token)) in devices.iter().enumerate() {
        for w in 0..2i64 {
            let (token, acked, stop, addr) =
                (token.clone(), acked.clone(), stop.clone(), addr.clone());
            writers.push(std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(5)))
                    .build()
                    .into();
                let mut seq = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    // Each request carries 10 timestamps of 2 keys; timestamps are unique per device.
                    let stamps: Vec<i64> = (0..10).map(|k| base + (seq * 10 + k) * 2 + w).collect();
                    let body: Vec<_> = stamps
                        .iter()
                        .map(|ts| json!({"ts": ts, "values": {"a": ts, "b": true}}))
                        .collect();
                    seq += 1;
                    let result = agent
                        .post(&format!("{addr}/api/v1/{token}/telemetry"))
                        .send_json(serde_json::Value::Array(body));
                    match result {
                        Ok(resp) if resp.status() == 200 => {
                            acked.lock().unwrap()[d].extend(stamps);
                        }
                        // Refused connections and resets after the kill are expected.
                        _ => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            }));
        }
    }

    // Let the stream run, then kill the server while requests are in flight.
    let started = std::time::Instant::now();
    while acked
        .lock()
        .unwrap()
        .iter()
        .map(BTreeSet::len)
        .sum::<usize>()
        < 20_000
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "too slow to acknowledge anything"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let data_dir = server.kill9();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let total: usize = acked.iter().map(BTreeSet::len).sum();
    assert!(total >= 20_000);

    let server = Server::start_with(&data_dir, &[]);
    let admin = server.login();
    for (d, (id, _)) in devices.iter().enumerate() {
        let mut stored = BTreeSet::new();
        let mut cursor = base;
        loop {
            let (status, page) = server.get(
                &format!("/api/devices/{id}/telemetry?keys=a&start={cursor}&limit=10000&order=asc"),
                &admin,
            );
            assert_eq!(status, 200, "{page}");
            let series = &page["series"][0];
            for p in series["points"].as_array().unwrap() {
                let ts = p["ts"].as_i64().unwrap();
                assert_eq!(
                    p["value"].as_i64().unwrap(),
                    ts,
                    "value and timestamp disagree"
                );
                stored.insert(ts);
            }
            match series["next"].as_i64() {
                Some(next) => cursor = next,
                None => break,
            }
        }
        let missing: Vec<_> = acked[d].difference(&stored).take(10).collect();
        assert!(
            missing.is_empty(),
            "device {d}: acknowledged points lost after SIGKILL, e.g. {missing:?}"
        );
        let (_, count) = server.get(
            &format!("/api/devices/{id}/telemetry/aggregate?keys=b&start={base}&end={}&interval=86400000&agg=count", base + 86_400_000),
            &admin,
        );
        let b_count: u64 = count["series"][0]["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["count"].as_u64().unwrap())
            .sum();
        assert_eq!(
            b_count as usize,
            stored.len(),
            "both keys of each acknowledged request are stored"
        );
    }
    eprintln!("{total} acknowledged points all present after SIGKILL and restart");
}
