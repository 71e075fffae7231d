//! `strata device simulate lwm2m`: a simulated LwM2M 1.1 device. It runs the sans-IO client of
//! the edge SDK (`strata_edge::lwm2m`) on a UDP socket: registers (or bootstraps first),
//! keeps its registration updated, answers the server's operations, changes its temperature
//! every `--temperature-period-ms`, downloads pulled firmware over CoAP (Block2), "installs"
//! firmware in 500 ms, re-registers after a reboot, and de-registers on Ctrl-C or at the end
//! of `--for`.
//!
//! With `--json` every event is one JSON object per line on stdout (flushed), e.g.
//! `{"event":"registered","location":"rd/5a3f"}`, `{"event":"executed","path":"/3/0/4"}`,
//! `{"event":"firmware","state":2,"result":0}`, so scripts and tests can follow the device.
//!
//! Exit codes: 0 after a clean run, 1 when the server refuses the registration (or the
//! bootstrap) or on a local error.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value as Json, json};
use strata_edge::lwm2m::uri::CoapUri;
use strata_edge::lwm2m::{
    Client, ClientConfig, ClientEvent, DeviceInfo, Path, UpdateResult, Value,
};
use tokio::net::UdpSocket;

/// `strata device simulate lwm2m` options.
#[derive(Args)]
pub(crate) struct Lwm2mArgs {
    /// The LwM2M server to register with (coap://host:port).
    #[arg(long, default_value = "coap://127.0.0.1:5683")]
    server: String,
    /// Endpoint client name (default: strata-sim-<random>).
    #[arg(long)]
    endpoint: Option<String>,
    /// Registration lifetime in seconds; the client updates its registration at half of it.
    #[arg(long, default_value_t = 300)]
    lifetime: u32,
    /// Bootstrap from this bootstrap server (coap://host:port) first, then register with the
    /// server it names, instead of registering with --server directly.
    #[arg(long)]
    bootstrap: Option<String>,
    /// Queue mode (binding with Q): notifications are held while the device sleeps and sent
    /// after a registration update.
    #[arg(long)]
    queue_mode: bool,
    /// How often the simulated temperature (/3303/0/5700) changes, ms.
    #[arg(long, default_value_t = 1000)]
    temperature_period_ms: u64,
    /// Run for this many seconds, then de-register and exit (default: until Ctrl-C).
    #[arg(long = "for", value_name = "SECS")]
    run_for: Option<u64>,
    /// Print one JSON object per event on stdout.
    #[arg(long)]
    json: bool,
}

/// How long to wait for the de-registration's answer when stopping.
const STOP_WAIT: Duration = Duration::from_secs(5);
/// How long installing a firmware package takes.
const INSTALL_TIME: u64 = 500;
/// How long a reboot takes before the device registers again.
const REBOOT_TIME: u64 = 1_000;

struct Simulator {
    client: Client<SocketAddr>,
    socket: UdpSocket,
    started: Instant,
    json: bool,
    /// Install finished then (ms).
    installed_at: Option<u64>,
    /// Register again then (ms), after a reboot.
    reboot_at: Option<u64>,
    stopping: bool,
}

pub(crate) async fn simulate(args: Lwm2mArgs) -> anyhow::Result<bool> {
    let endpoint = args
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("strata-sim-{:08x}", rand::random::<u32>()));
    let target_uri = args.bootstrap.as_deref().unwrap_or(&args.server);
    let target = resolve(target_uri, None)
        .await
        .with_context(|| format!("cannot reach {target_uri}"))?;
    let socket = UdpSocket::bind(bind_address(target))
        .await
        .context("cannot bind a UDP socket")?;
    let local = socket.local_addr()?;
    let mut config = ClientConfig::new(endpoint.clone());
    config.lifetime = args.lifetime.max(1);
    config.queue_mode = args.queue_mode;
    config.max_body = 64 * 1024 * 1024;
    config.coap.seed = rand::random();
    config.device = DeviceInfo {
        model: "strata-sim".into(),
        serial: endpoint.clone(),
        ..DeviceInfo::default()
    };
    if args.bootstrap.is_some() {
        config.bootstrap_server = Some(target);
        config.bootstrap_uri = target_uri.to_string();
    } else {
        config.server = Some(target);
        config.server_uri = target_uri.to_string();
    }
    let mut sim = Simulator {
        client: Client::new(config),
        socket,
        started: Instant::now(),
        json: args.json,
        installed_at: None,
        reboot_at: None,
        stopping: false,
    };
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    sim.client.set_unix_time(0, unix);
    sim.temperature();
    sim.print(
        json!({"event": "started", "endpoint": endpoint, "server": target_uri,
        "local": local.to_string()}),
    );
    if args.bootstrap.is_some() {
        sim.client.bootstrap(0)?;
    } else {
        sim.client.register(0)?;
    }
    sim.run(&args).await
}

impl Simulator {
    fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn at(&self, ms: u64) -> tokio::time::Instant {
        (self.started + Duration::from_millis(ms)).into()
    }

    async fn run(&mut self, args: &Lwm2mArgs) -> anyhow::Result<bool> {
        let mut buf = vec![0u8; 65_535];
        let period = Duration::from_millis(args.temperature_period_ms.max(10));
        let mut tick = tokio::time::interval(period);
        let end = args
            .run_for
            .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
        let mut give_up: Option<tokio::time::Instant> = None;
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            self.flush().await;
            if let Some(outcome) = self.events().await {
                self.flush().await;
                return Ok(outcome);
            }
            self.flush().await;
            let next = [
                self.client.poll_timeout(),
                self.installed_at,
                self.reboot_at,
            ]
            .into_iter()
            .flatten()
            .min()
            .map(|ms| self.at(ms));
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    // Errors are ICMP unreachable reports for one destination: keep going.
                    if let Ok((n, peer)) = received {
                        let now = self.now();
                        self.client.handle_datagram(now, peer, &buf[..n]);
                    }
                }
                () = sleep_until(next) => {
                    let now = self.now();
                    self.client.handle_timeout(now);
                    self.app_timers(now);
                }
                _ = tick.tick() => self.temperature(),
                _ = &mut ctrl_c, if !self.stopping => give_up = self.stop(),
                () = sleep_until(end), if !self.stopping => give_up = self.stop(),
                () = sleep_until(give_up), if self.stopping => return Ok(true),
            }
            if self.stopping && give_up.is_none() {
                return Ok(true);
            }
        }
    }

    /// Starts de-registering; returns how long to wait for the answer (`None`: exit now).
    fn stop(&mut self) -> Option<tokio::time::Instant> {
        self.stopping = true;
        let now = self.now();
        self.client.deregister(now).ok()?;
        Some(tokio::time::Instant::now() + STOP_WAIT)
    }

    /// Ends a simulated install; registers again after a reboot.
    fn app_timers(&mut self, now: u64) {
        if self.installed_at.is_some_and(|t| t <= now) {
            self.installed_at = None;
            // Only fails if the update was no longer in progress.
            let _ = self.client.firmware_updated(now, true);
        }
        if self.reboot_at.is_some_and(|t| t <= now) {
            self.reboot_at = None;
            if !self.stopping && self.client.register(now).is_err() {
                // A registration request is in flight; try again shortly.
                self.reboot_at = Some(now + REBOOT_TIME);
            }
        }
    }

    /// A new simulated temperature: a 5-minute wave around 21 °C with a little noise, to 0.1.
    fn temperature(&mut self) {
        let now = self.now();
        let t = now as f64 / 1000.0;
        let noise = rand::random::<f64>() * 0.4 - 0.2;
        let value = 21.0 + 4.0 * (t / 300.0 * std::f64::consts::TAU).sin() + noise;
        let value = (value * 10.0).round() / 10.0;
        // Fails only if a server deleted the sensor instance.
        let _ = self
            .client
            .set_value(now, Path::resource(3303, 0, 5700), Value::Float(value));
    }

    async fn flush(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            // A send error concerns one datagram; CoAP retransmits confirmable ones.
            let _ = self.socket.send_to(&t.data, t.peer).await;
        }
    }

    /// Handles the client's events; `Some(outcome)` ends the run.
    async fn events(&mut self) -> Option<bool> {
        while let Some(event) = self.client.poll_event() {
            let now = self.now();
            match event {
                ClientEvent::Registered { location } => {
                    self.print(json!({"event": "registered", "location": location}));
                }
                ClientEvent::Updated => self.print(json!({"event": "updated"})),
                ClientEvent::RegistrationFailed { code, diagnostic } => {
                    let code = code.map(|c| c.to_string());
                    self.print(json!({"event": "registration_failed", "code": code,
                        "diagnostic": diagnostic}));
                    if let Some(code) = code {
                        eprintln!("registration refused: {code} {diagnostic}");
                        return Some(false);
                    }
                    if !self.json {
                        eprintln!("no answer from the LwM2M server; trying again");
                    }
                }
                ClientEvent::Deregistered => {
                    self.print(json!({"event": "deregistered"}));
                    if self.stopping {
                        return Some(true);
                    }
                }
                ClientEvent::Bootstrapped { server_uri } => {
                    self.print(json!({"event": "bootstrapped", "server_uri": server_uri}));
                    let family = self.socket.local_addr().ok();
                    match resolve(&server_uri, family).await {
                        Ok(addr) => {
                            if let Err(e) = self.client.register_at(now, addr) {
                                eprintln!("cannot register with {server_uri}: {e}");
                                return Some(false);
                            }
                        }
                        Err(e) => {
                            eprintln!("cannot reach the bootstrapped server {server_uri}: {e:#}");
                            return Some(false);
                        }
                    }
                }
                ClientEvent::BootstrapFailed { code, diagnostic } => {
                    let code = code.map(|c| c.to_string());
                    self.print(json!({"event": "bootstrap_failed", "code": code,
                        "diagnostic": diagnostic}));
                    eprintln!(
                        "bootstrap failed: {} {diagnostic}",
                        code.as_deref().unwrap_or("no answer")
                    );
                    return Some(false);
                }
                ClientEvent::Executed { path, args } => {
                    self.print(
                        json!({"event": "executed", "path": path.to_string(), "args": args}),
                    );
                    if path == Path::resource(3, 0, 4) {
                        self.print(json!({"event": "reboot"}));
                        self.reboot_at = Some(now + REBOOT_TIME);
                    }
                }
                ClientEvent::Written { paths } => {
                    let paths: Vec<String> = paths.iter().map(ToString::to_string).collect();
                    self.print(json!({"event": "written", "paths": paths}));
                }
                ClientEvent::Created { path } => {
                    self.print(json!({"event": "created", "path": path.to_string()}));
                }
                ClientEvent::Deleted { path } => {
                    self.print(json!({"event": "deleted", "path": path.to_string()}));
                }
                ClientEvent::ObservationStarted { path } => {
                    self.print(json!({"event": "observed", "path": path.to_string()}));
                }
                ClientEvent::ObservationCancelled { path } => {
                    self.print(json!({"event": "observation_cancelled", "path": path.to_string()}));
                }
                ClientEvent::FirmwareDownloadRequested { uri } => {
                    self.print(json!({"event": "firmware_download", "uri": uri}));
                    self.download(now, &uri).await;
                }
                ClientEvent::FirmwareUpdateRequested => {
                    self.print(json!({"event": "firmware_update"}));
                    self.installed_at = Some(now + INSTALL_TIME);
                }
                ClientEvent::FirmwareStateChanged { state, result } => {
                    self.print(json!({"event": "firmware", "state": state.code(),
                        "result": result.code()}));
                }
                ClientEvent::Disabled { seconds } => {
                    self.print(json!({"event": "disabled", "seconds": seconds}));
                }
            }
        }
        None
    }

    /// Fetches a pulled package: coap:// over the client's own endpoint (Block2); other
    /// schemes are unsupported protocols (Update Result 9).
    async fn download(&mut self, now: u64, uri: &str) {
        let result = match CoapUri::parse(uri) {
            Err(_) => Err(UpdateResult::InvalidUri),
            Ok(u) if u.scheme != "coap" => Err(UpdateResult::UnsupportedProtocol),
            Ok(_) => {
                let family = self.socket.local_addr().ok();
                match resolve(uri, family).await {
                    Ok(addr) => self
                        .client
                        .fetch_firmware(now, addr, uri)
                        .map_err(|_| UpdateResult::InvalidUri),
                    Err(_) => Err(UpdateResult::InvalidUri),
                }
            }
        };
        if let Err(result) = result {
            let _ = self.client.firmware_download_failed(now, result);
        }
    }

    /// Prints an event: a JSON line with `event` first, or `event: key=value ...` for people.
    fn print(&self, line: Json) {
        let Json::Object(mut map) = line else {
            return;
        };
        let event = map.remove("event").unwrap_or(Json::Null);
        let mut text = String::new();
        if self.json {
            text.push_str(&format!("{{\"event\":{event}"));
            for (k, v) in &map {
                text.push_str(&format!(",{}:{v}", Json::String(k.clone())));
            }
            text.push('}');
        } else {
            text.push_str(event.as_str().unwrap_or("event"));
            text.push(':');
            for (k, v) in &map {
                match v {
                    Json::String(s) => text.push_str(&format!(" {k}={s}")),
                    other => text.push_str(&format!(" {k}={other}")),
                }
            }
        }
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

/// Resolves a `coap://host:port` URI, preferring the address family of `like` (the bound
/// socket), else IPv4.
async fn resolve(uri: &str, like: Option<SocketAddr>) -> anyhow::Result<SocketAddr> {
    let parsed = CoapUri::parse(uri).map_err(|e| anyhow::anyhow!("{e}"))?;
    if parsed.scheme != "coap" {
        bail!("only coap:// (UDP, NoSec) is simulated");
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((parsed.host.as_str(), parsed.port))
        .await
        .with_context(|| format!("cannot resolve {}", parsed.host))?
        .collect();
    let v6 = like.is_some_and(|a| a.is_ipv6());
    addrs
        .iter()
        .find(|a| a.is_ipv6() == v6)
        .or(addrs.first())
        .copied()
        .with_context(|| format!("{} has no address", parsed.host))
}

/// A local address that can reach `target`: loopback for a loopback server.
fn bind_address(target: SocketAddr) -> SocketAddr {
    let ip = match target.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(ip) if ip.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    SocketAddr::new(ip, 0)
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
