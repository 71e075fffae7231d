//! End-to-end: every kind of bad input gets a precise 4xx with the one JSON error shape, never
//! a 5xx or a dropped connection, and never disturbs data already accepted.

mod common;

use common::{Server, error_code, now_ms};
use serde_json::json;

fn expect(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
    status: u16,
    code: &str,
) {
    let (got, value) = s.call(method, path, token, body);
    assert_eq!(got, status, "{method} {path} {body:?}: {value}");
    assert_eq!(error_code(&value), code, "{method} {path} {body:?}");
}

#[test]
fn telemetry_bad_input_gets_precise_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_with(dir.path(), &[("STRATA_HTTP__MAX_BODY_BYTES", "4096")]);
    let t = s.login();
    let (id, token) = s.create_device(&t, "dev");
    let path = format!("/api/v1/{token}/telemetry");
    let now = now_ms();

    // Malformed JSON: 400 invalid_json.
    for body in [
        "{",
        "{\"a\":}",
        "not json",
        "",
        "{\"a\":1}}",
        "\u{0}",
        "[1,2",
    ] {
        expect(&s, "POST", &path, None, Some(body), 400, "invalid_json");
    }
    // Wrong shapes and types, absurd timestamps: 422 invalid_payload.
    let ts_seconds = now / 1000;
    let far_future = now + 400 * 86_400_000;
    for body in [
        "5".to_string(),
        "\"text\"".into(),
        "null".into(),
        "[]".into(),
        "{}".into(),
        "[1]".into(),
        r#"{"a":null}"#.into(),
        r#"{"ts":1700000000000}"#.into(),
        r#"{"ts":"yesterday","values":{"a":1}}"#.into(),
        r#"{"ts":1.7e12,"values":{"a":1}}"#.into(),
        format!(r#"{{"ts":{ts_seconds},"values":{{"a":1}}}}"#),
        format!(r#"{{"ts":{far_future},"values":{{"a":1}}}}"#),
        r#"{"ts":-5,"values":{"a":1}}"#.into(),
        r#"{"ts":99999999999999999999,"values":{"a":1}}"#.into(),
        r#"{"ts":1700000000000,"values":[1]}"#.into(),
        r#"{"ts":1700000000000,"values":{"a":1},"extra":2}"#.into(),
        r#"{"":1}"#.into(),
        format!(r#"{{"{}":1}}"#, "k".repeat(300)),
    ] {
        expect(&s, "POST", &path, None, Some(&body), 422, "invalid_payload");
    }
    // Too large: 413.
    let big = format!(r#"{{"a":"{}"}}"#, "x".repeat(5000));
    expect(
        &s,
        "POST",
        &path,
        None,
        Some(&big),
        413,
        "payload_too_large",
    );
    // Unknown, empty-ish and revoked tokens: 401.
    expect(
        &s,
        "POST",
        "/api/v1/NoSuchToken123/telemetry",
        None,
        Some("{\"a\":1}"),
        401,
        "unauthorized",
    );
    expect(
        &s,
        "POST",
        "/api/v1/telemetry",
        None,
        Some("{\"a\":1}"),
        401,
        "unauthorized",
    );
    expect(
        &s,
        "POST",
        "/api/v1/telemetry",
        Some("wrong"),
        Some("{\"a\":1}"),
        401,
        "unauthorized",
    );
    let (_, creds) = s.get(&format!("/api/devices/{id}/credentials"), &t);
    let cred = creds[0]["id"].as_str().unwrap();
    assert_eq!(
        s.call(
            "DELETE",
            &format!("/api/devices/{id}/credentials/{cred}"),
            Some(&t),
            None
        )
        .0,
        204
    );
    expect(
        &s,
        "POST",
        &path,
        None,
        Some("{\"a\":1}"),
        401,
        "unauthorized",
    );

    // Nothing above stored anything; the server is still healthy.
    let (_, keys) = s.get(&format!("/api/devices/{id}/telemetry/keys"), &t);
    assert_eq!(keys, json!([]));
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
}

#[test]
fn management_api_bad_input_gets_precise_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let t = s.login();
    let (id, _) = s.create_device(&t, "dev");
    let t = t.as_str();

    expect(&s, "GET", "/api/devices", None, None, 401, "unauthorized");
    expect(
        &s,
        "GET",
        "/api/devices",
        Some("sts_forged"),
        None,
        401,
        "unauthorized",
    );
    expect(
        &s,
        "POST",
        "/api/auth/login",
        None,
        Some(r#"{"username":"admin","password":"nope"}"#),
        401,
        "unauthorized",
    );
    expect(
        &s,
        "POST",
        "/api/auth/login",
        None,
        Some(r#"{"username":"admin"}"#),
        422,
        "invalid_payload",
    );
    expect(
        &s,
        "POST",
        "/api/devices",
        Some(t),
        Some("{"),
        400,
        "invalid_json",
    );
    expect(
        &s,
        "POST",
        "/api/devices",
        Some(t),
        Some(r#"{"name":5}"#),
        422,
        "invalid_payload",
    );
    expect(
        &s,
        "POST",
        "/api/devices",
        Some(t),
        Some(r#"{"nam":"x"}"#),
        422,
        "invalid_payload",
    );
    expect(
        &s,
        "POST",
        "/api/devices",
        Some(t),
        Some(r#"{"name":""}"#),
        422,
        "invalid_payload",
    );
    expect(
        &s,
        "POST",
        "/api/devices",
        Some(t),
        Some(r#"{"name":"x","metadata":[1]}"#),
        422,
        "invalid_payload",
    );
    let many: Vec<String> = (0..40).map(|i| format!("l{i}")).collect();
    let body = json!({"name": "y", "labels": many}).to_string();
    expect(
        &s,
        "POST",
        "/api/devices",
        Some(t),
        Some(&body),
        422,
        "invalid_payload",
    );
    expect(
        &s,
        "GET",
        "/api/devices/not-a-uuid",
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        "/api/devices?limit=0",
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        "/api/devices?limit=-1",
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        "/api/devices?offset=x",
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        "/api/devices/00000000-0000-4000-8000-000000000000",
        Some(t),
        None,
        404,
        "not_found",
    );
    expect(
        &s,
        "PATCH",
        &format!("/api/devices/{id}"),
        Some(t),
        Some(r#"{"labels":"x"}"#),
        422,
        "invalid_payload",
    );
    let base = format!("/api/devices/{id}/telemetry");
    expect(
        &s,
        "GET",
        &format!("{base}?start=10&end=5"),
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        &format!("{base}?limit=100000"),
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        &format!("{base}?order=sideways"),
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        &format!("{base}/aggregate?agg=median"),
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        &format!("{base}/aggregate?interval=0"),
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        &format!("{base}/aggregate?start=0&end=9000000000000&interval=1"),
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "DELETE",
        &format!("{base}?start=1"),
        Some(t),
        None,
        400,
        "invalid_parameter",
    );
    expect(
        &s,
        "GET",
        "/api/nothing-here",
        Some(t),
        None,
        404,
        "not_found",
    );
    expect(
        &s,
        "PUT",
        "/api/devices",
        Some(t),
        None,
        405,
        "method_not_allowed",
    );
}

/// Random and mutated bodies against every endpoint that takes one: never a 5xx.
#[test]
fn random_bodies_never_cause_server_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&dir);
    let t = s.login();
    let (id, token) = s.create_device(&t, "fuzz");
    let seeds = [
        r#"{"temp":21.5,"on":true}"#,
        r#"{"ts":1700000000000,"values":{"a":1}}"#,
        r#"[{"ts":1700000000000,"values":{"a":[1,{"b":null}]}},{"x":"y"}]"#,
        r#"{"name":"d","labels":["a"],"metadata":{"k":1}}"#,
        r#"{"username":"admin","password":"x"}"#,
    ];
    let paths = [
        format!("/api/v1/{token}/telemetry"),
        "/api/devices".to_string(),
        format!("/api/devices/{id}"),
        "/api/auth/login".to_string(),
        "/api/api-keys".to_string(),
    ];
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..600 {
        let mut body = seeds[i % seeds.len()].as_bytes().to_vec();
        for _ in 0..(next() % 6) {
            if body.is_empty() {
                break;
            }
            let pos = (next() as usize) % body.len();
            match next() % 4 {
                0 => body[pos] = (next() % 256) as u8,
                1 => {
                    body.remove(pos);
                }
                2 => {
                    let alphabet = b"{}[]\",:0-e9\\\x00\xff";
                    body.insert(pos, alphabet[(next() as usize) % alphabet.len()]);
                }
                _ => body.truncate(pos),
            }
        }
        let path = &paths[i % paths.len()];
        let method = if path.ends_with(&id) { "PATCH" } else { "POST" };
        let (status, text) = s.call_raw(method, path, Some(&t), Some(body.clone()));
        assert!(
            status < 500,
            "{method} {path} {:?} -> {status} {text}",
            String::from_utf8_lossy(&body)
        );
        if status >= 400 {
            let value: serde_json::Value = serde_json::from_str(&text).expect("error body is JSON");
            error_code(&value);
        }
    }
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
}
