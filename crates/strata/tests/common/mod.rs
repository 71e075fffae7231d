//! Shared helpers for end-to-end tests: start the real `strata` binary on an ephemeral
//! loopback port in a temporary data directory, and talk to it over HTTP.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "test-password-1";

/// A running `strata serve`; killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// MQTT address (host:port), empty when the broker is off.
    pub mqtt: String,
    pub data_dir: PathBuf,
    agent: ureq::Agent,
}

impl Server {
    /// Starts a server with a new data directory.
    pub fn start(dir: &tempfile::TempDir) -> Server {
        Server::start_with(dir.path(), &[])
    }

    /// Starts a server on `data_dir` with extra environment variables.
    pub fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--http-listen")
            .arg("127.0.0.1:0")
            .arg("--mqtt-listen")
            .arg("127.0.0.1:0")
            .arg("--coap-listen")
            .arg("127.0.0.1:0")
            .arg("--coaps-listen")
            .arg("127.0.0.1:0")
            .env("STRATA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("STRATA_LOG__LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start strata");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut mqtt = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("strata: MQTT listening on mqtt://") {
                    mqtt = addr.trim().to_string();
                }
                if let Some(addr) = line.strip_prefix("strata: HTTP API listening on ") {
                    let _ = tx.send((addr.trim().to_string(), mqtt.clone()));
                }
            }
        });
        let (base, mqtt) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("strata did not start listening within 60 s");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        Server {
            child,
            base,
            mqtt,
            data_dir: data_dir.to_path_buf(),
            agent,
        }
    }

    /// Sends a request; returns the status and the body parsed as JSON (Null if empty).
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let (status, text) =
            self.call_raw(method, path, token, body.map(|b| b.as_bytes().to_vec()));
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    /// Sends a request with a raw body; returns the status and the body text.
    pub fn call_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> (u16, String) {
        let url = format!("{}{}", self.base, path);
        let mut builder = ureq::http::Request::builder().method(method).uri(&url);
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        let result = match body {
            Some(b) => {
                let req = builder
                    .header("content-type", "application/json")
                    .body(b)
                    .unwrap();
                self.agent.run(req)
            }
            None => self.agent.run(builder.body(()).unwrap()),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .unwrap_or_default();
        (status, text)
    }

    pub fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call("GET", path, Some(token), None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.call("POST", path, token, Some(&body.to_string()))
    }

    /// Signs in as the admin; returns a session token.
    pub fn login(&self) -> String {
        let (status, body) = self.post(
            "/api/auth/login",
            None,
            &json!({"username": "admin", "password": ADMIN_PASSWORD}),
        );
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Creates a device; returns (id, access token).
    pub fn create_device(&self, token: &str, name: &str) -> (String, String) {
        let (status, body) = self.post("/api/devices", Some(token), &json!({"name": name}));
        assert_eq!(status, 201, "{body}");
        (
            body["id"].as_str().unwrap().to_string(),
            body["credentials"]["access_token"]
                .as_str()
                .unwrap()
                .to_string(),
        )
    }

    /// Kills the process with SIGKILL and waits for it.
    pub fn kill9(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.data_dir.clone()
    }

    /// Asks the process to stop with SIGTERM and waits; returns its exit status code.
    pub fn terminate(mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts the one JSON error shape and returns its code.
pub fn error_code(body: &Value) -> String {
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not the error shape: {body}"));
    let message = body["error"]["message"].as_str().unwrap_or("");
    assert!(!message.is_empty(), "error without message: {body}");
    code.to_string()
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}
