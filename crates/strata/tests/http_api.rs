//! End-to-end: the management API and the HTTP device API against the real binary.

mod common;

use common::{Server, error_code, now_ms};
use serde_json::{Value, json};

#[test]
fn device_registry_crud_paging_filter_search() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let t = s.login();

    for i in 0..12 {
        let labels = if i % 3 == 0 {
            json!(["hall"])
        } else {
            json!(["yard"])
        };
        let (status, body) = s.post(
            "/api/devices",
            Some(&t),
            &json!({"name": format!("sensor-{i:02}"), "type": "thermo", "labels": labels,
                    "metadata": {"floor": i}}),
        );
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["type"], "thermo");
        assert_eq!(
            body["credentials"]["access_token"].as_str().unwrap().len(),
            20
        );
    }
    let (status, body) = s.post("/api/devices", Some(&t), &json!({"name": "sensor-00"}));
    assert_eq!(status, 409);
    assert_eq!(error_code(&body), "conflict");

    let (_, page) = s.get("/api/devices?limit=5&offset=10", &t);
    assert_eq!(page["total"], 12);
    let names: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].clone())
        .collect();
    assert_eq!(names, [json!("sensor-10"), json!("sensor-11")]);

    let (_, hall) = s.get("/api/devices?label=hall", &t);
    assert_eq!(hall["total"], 4);
    let (_, search) = s.get("/api/devices?search=SOR-1", &t);
    assert_eq!(search["total"], 2);

    let id = hall["items"][0]["id"].as_str().unwrap().to_string();
    let (status, got) = s.get(&format!("/api/devices/{id}"), &t);
    assert_eq!(status, 200);
    assert_eq!(got["metadata"]["floor"], 0);

    let (status, updated) = s.call(
        "PATCH",
        &format!("/api/devices/{id}"),
        Some(&t),
        Some(r#"{"labels":["roof"],"metadata":{"floor":9}}"#),
    );
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["labels"], json!(["roof"]));
    assert_eq!(updated["name"], got["name"]);
    let (_, hall) = s.get("/api/devices?label=hall", &t);
    assert_eq!(hall["total"], 3);

    let (status, _) = s.call("DELETE", &format!("/api/devices/{id}"), Some(&t), None);
    assert_eq!(status, 204);
    let (status, body) = s.get(&format!("/api/devices/{id}"), &t);
    assert_eq!(status, 404);
    assert_eq!(error_code(&body), "not_found");
}

#[test]
fn telemetry_shapes_queries_and_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let t = s.login();
    let (id, token) = s.create_device(&t, "meter");
    let base = now_ms() - 3_600_000;

    // 1. Plain key/values, stamped by the server (ThingsBoard path form).
    let (status, body) = s.post(
        &format!("/api/v1/{token}/telemetry"),
        None,
        &json!({"temp": 21.5, "on": true, "fw": "1.0.3", "pos": {"lat": 1.5, "lon": 2}}),
    );
    assert_eq!((status, body["accepted"].clone()), (200, json!(4)));
    // 2. Timestamped values, 3. arrays of both (bearer form).
    let series: Vec<Value> = (0..100)
        .map(|i| json!({"ts": base + i * 1000, "values": {"load": i}}))
        .chain([json!({"volts": 230})])
        .collect();
    let (status, body) = s.post("/api/v1/telemetry", Some(&token), &Value::Array(series));
    assert_eq!((status, body["accepted"].clone()), (200, json!(101)));

    let (_, latest) = s.get(&format!("/api/devices/{id}/telemetry/latest"), &t);
    assert_eq!(latest["temp"]["value"], 21.5);
    assert_eq!(latest["on"]["value"], true);
    assert_eq!(latest["fw"]["value"], "1.0.3");
    assert_eq!(latest["pos"]["value"], json!({"lat": 1.5, "lon": 2}));
    assert_eq!(latest["load"]["value"], 99);
    assert_eq!(latest["load"]["ts"], base + 99_000);
    let (_, only) = s.get(
        &format!("/api/devices/{id}/telemetry/latest?keys=temp,volts"),
        &t,
    );
    assert_eq!(only.as_object().unwrap().len(), 2);
    let (_, keys) = s.get(&format!("/api/devices/{id}/telemetry/keys"), &t);
    assert_eq!(keys, json!(["fw", "load", "on", "pos", "temp", "volts"]));

    // Raw range, paged ascending and descending.
    let mut seen = Vec::new();
    let mut cursor = base;
    loop {
        let (status, page) = s.get(
            &format!(
                "/api/devices/{id}/telemetry?keys=load&start={cursor}&end={}&limit=30&order=asc",
                base + 100_000
            ),
            &t,
        );
        assert_eq!(status, 200, "{page}");
        let series = &page["series"][0];
        seen.extend(
            series["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["value"].as_i64().unwrap()),
        );
        match series["next"].as_i64() {
            Some(next) => cursor = next,
            None => break,
        }
    }
    assert_eq!(seen, (0..100).collect::<Vec<_>>());
    let mut seen = Vec::new();
    let mut end = base + 100_000;
    loop {
        let (_, page) = s.get(
            &format!("/api/devices/{id}/telemetry?keys=load&start={base}&end={end}&limit=40"),
            &t,
        );
        let series = &page["series"][0];
        seen.extend(
            series["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["value"].as_i64().unwrap()),
        );
        match series["next"].as_i64() {
            Some(next) => end = next,
            None => break,
        }
    }
    assert_eq!(seen, (0..100).rev().collect::<Vec<_>>());

    // Aggregates over 10 s intervals.
    for (agg, first) in [
        ("min", 0.0),
        ("max", 9.0),
        ("avg", 4.5),
        ("sum", 45.0),
        ("count", 10.0),
    ] {
        let (status, body) = s.get(
            &format!("/api/devices/{id}/telemetry/aggregate?keys=load&start={base}&end={}&interval=10000&agg={agg}", base + 100_000),
            &t,
        );
        assert_eq!(status, 200, "{body}");
        let buckets = body["series"][0]["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 10, "{agg}");
        assert_eq!(buckets[0]["value"].as_f64().unwrap(), first, "{agg}");
        assert_eq!(buckets[0]["ts"], base);
        assert_eq!(buckets[9]["count"], 10);
    }
    // A range whose span does not fit in 64 bits is a clear 400, not a server error.
    let (status, body) = s.get(
        &format!("/api/devices/{id}/telemetry/aggregate?keys=load&start={}&end=0&interval=10000000000000000&agg=avg", i64::MIN),
        &t,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("too long"),
        "{body}"
    );

    // Delete a range: the latest value moves back to the newest remaining point.
    let (status, body) = s.call(
        "DELETE",
        &format!(
            "/api/devices/{id}/telemetry?keys=load&start={}&end={}",
            base + 50_000,
            base + 100_000
        ),
        Some(&t),
        None,
    );
    assert_eq!((status, body["deleted"].clone()), (200, json!(50)));
    let (_, latest) = s.get(&format!("/api/devices/{id}/telemetry/latest?keys=load"), &t);
    assert_eq!(latest["load"]["value"], 49);
    let (status, body) = s.call(
        "DELETE",
        &format!("/api/devices/{id}/telemetry"),
        Some(&t),
        None,
    );
    assert_eq!(status, 400, "start and end are required: {body}");
}

#[test]
fn credentials_rotate_revoke_and_api_keys() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let t = s.login();
    let (id, token) = s.create_device(&t, "gate");
    let ok = |tok: &str| {
        s.post(&format!("/api/v1/{tok}/telemetry"), None, &json!({"x": 1}))
            .0
    };
    assert_eq!(ok(&token), 200);

    let (status, rotated) = s.post(
        &format!("/api/devices/{id}/credentials/access-token"),
        Some(&t),
        &json!({}),
    );
    assert_eq!(status, 201, "{rotated}");
    let new_token = rotated["access_token"].as_str().unwrap().to_string();
    assert_eq!(ok(&token), 401, "the old token is revoked by rotation");
    assert_eq!(ok(&new_token), 200);

    let (_, creds) = s.get(&format!("/api/devices/{id}/credentials"), &t);
    let creds = creds.as_array().unwrap();
    assert_eq!(creds.len(), 2);
    assert!(
        creds
            .iter()
            .all(|c| c.get("access_token").is_none() && c["kind"] == "access_token")
    );
    let live = rotated["credential"]["id"].as_str().unwrap();
    let (status, _) = s.call(
        "DELETE",
        &format!("/api/devices/{id}/credentials/{live}"),
        Some(&t),
        None,
    );
    assert_eq!(status, 204);
    assert_eq!(ok(&new_token), 401);

    // API keys work as bearer tokens until revoked; sign-out ends the session.
    let (status, key) = s.post("/api/api-keys", Some(&t), &json!({"name": "ci"}));
    assert_eq!(status, 201, "{key}");
    let k = key["key"].as_str().unwrap().to_string();
    assert!(k.starts_with("stk_"));
    assert_eq!(s.get("/api/devices", &k).0, 200);
    let (_, keys) = s.get("/api/api-keys", &t);
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert!(keys[0].get("key").is_none());
    let key_id = key["id"].as_str().unwrap();
    assert_eq!(
        s.call("DELETE", &format!("/api/api-keys/{key_id}"), Some(&t), None)
            .0,
        204
    );
    assert_eq!(s.get("/api/devices", &k).0, 401);
    assert_eq!(s.call("POST", "/api/auth/logout", Some(&t), None).0, 204);
    let (status, body) = s.get("/api/devices", &t);
    assert_eq!(status, 401);
    assert_eq!(error_code(&body), "unauthorized");
}

#[test]
fn openapi_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let (status, doc) = s.call("GET", "/api/openapi.json", None, None);
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/devices",
        "/api/devices/{id}/telemetry/aggregate",
        "/api/v1/{token}/telemetry",
        "/api/auth/login",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    let (status, health) = s.call("GET", "/healthz", None, None);
    assert_eq!((status, health["status"].clone()), (200, json!("ok")));

    let t = s.login();
    let (_, token) = s.create_device(&t, "m");
    s.post(
        &format!("/api/v1/{token}/telemetry"),
        None,
        &json!({"a": 1, "b": 2}),
    );
    let (status, text) = s.call_raw("GET", "/metrics", None, None);
    assert_eq!(status, 200);
    assert!(text.contains("strata_http_requests_total{"), "{text}");
    assert!(
        text.contains("strata_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("strata_ingest_points_total{transport=\"http\"} 2"),
        "{text}"
    );
    assert!(
        !text.contains(&token),
        "a device token leaked into metrics labels"
    );
}

#[test]
fn retention_drops_old_points_automatically() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with(
        dir.path(),
        &[
            ("STRATA_TELEMETRY__RETENTION", "1h"),
            ("STRATA_TELEMETRY__RETENTION_INTERVAL", "1s"),
        ],
    );
    let t = s.login();
    let (id, token) = s.create_device(&t, "old");
    let old = now_ms() - 2 * 3_600_000;
    let fresh = now_ms() - 1000;
    let body = json!([{"ts": old, "values": {"v": 1}}, {"ts": fresh, "values": {"v": 2}}]);
    assert_eq!(
        s.post(&format!("/api/v1/{token}/telemetry"), None, &body).0,
        200
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (_, page) = s.get(&format!("/api/devices/{id}/telemetry?keys=v"), &t);
        let points = page["series"][0]["points"].as_array().unwrap().len();
        if points == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "retention did not run: {page}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
