//! Starting and measuring a real `strata serve` process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running server in a temporary data directory; killed on drop.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: String,
    /// MQTT address (host:port).
    pub(crate) mqtt: String,
    /// CoAP `host:port` (UDP).
    pub(crate) coap: String,
    pub(crate) pid: u32,
    _dir: TempDir,
}

/// The admin password the harness sets for the servers it starts.
pub(crate) const ADMIN_PASSWORD: &str = "bench-password-1";

impl Server {
    /// Starts `binary serve` on a free loopback port with `extra_env` and waits until it
    /// listens.
    pub(crate) async fn start(binary: &Path, extra_env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let dir = TempDir::new()?;
        let mut cmd = Command::new(binary);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(&dir.0)
            .arg("--http-listen")
            .arg("127.0.0.1:0")
            .arg("--mqtt-listen")
            .arg("127.0.0.1:0")
            .arg("--coap-listen")
            .arg("127.0.0.1:0")
            .arg("--coaps-listen")
            .arg("127.0.0.1:0")
            .arg("--log-level")
            .arg("warn")
            .env("STRATA_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let pid = child.id().context("server exited at once")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let (addr, mqtt, coap) = tokio::time::timeout(Duration::from_secs(30), async {
            let (mut mqtt, mut coap) = (String::new(), String::new());
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("strata: MQTT listening on mqtt://") {
                    mqtt = url.trim().to_string();
                }
                if let Some(url) = line.strip_prefix("strata: CoAP listening on coap://") {
                    coap = url.trim().to_string();
                }
                if let Some(url) = line.strip_prefix("strata: HTTP API listening on http://") {
                    return Ok((url.trim().to_string(), mqtt, coap));
                }
            }
            bail!("the server exited before listening")
        })
        .await
        .context("the server did not start within 30 s")??;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            addr,
            mqtt,
            coap,
            pid,
            _dir: dir,
        })
    }

    /// CPU seconds (user + system) the server has used so far.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds(self.pid)
    }

    /// Stops the server.
    pub(crate) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Resident memory of a process in bytes, from /proc (Linux).
pub(crate) fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no VmRSS")?;
    Ok(kb * 1024)
}

/// CPU seconds of a process from /proc (Linux).
pub(crate) fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("cannot read /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    Ok((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    // USER_HZ is 100 on every Linux configuration that matters here.
    100.0
}

/// A temporary directory removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> anyhow::Result<Self> {
        let base = std::env::temp_dir();
        for attempt in 0..100u32 {
            let path = base.join(format!("strata-bench-{}-{attempt}", std::process::id()));
            if std::fs::create_dir(&path).is_ok() {
                return Ok(Self(path));
            }
        }
        bail!("cannot create a temporary directory in {}", base.display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
