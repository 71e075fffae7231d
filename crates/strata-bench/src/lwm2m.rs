//! LwM2M registration benchmark: registrations/s, and many simulated clients registered and
//! held, with the server's resident memory per registration.
//!
//! Every simulated client is a UDP socket of its own (a real address for the server to
//! track) that sends one LwM2M 1.1 Register (`POST /rd?ep=...`, objects 1, 3 and 3303). The
//! open-file limit (20,000 per process here) and the ~28,000 ephemeral ports of one source
//! address are spread by running the clients in several generator processes
//! (`strata bench lwm2m-clients`), each bound to its own loopback address.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use strata_proto_coap::{Code, Message, MessageType, MessageWriter, option};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::UdpSocket;
use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::server::{Server, rss_bytes};

/// `strata bench lwm2m` options.
#[derive(Debug, Args)]
pub struct Lwm2mArgs {
    /// Clients to register and hold.
    #[arg(long, default_value_t = 100_000)]
    clients: usize,
    /// Clients per generator process (each a socket; below the open-file limit).
    #[arg(long, default_value_t = 17_000)]
    per_process: usize,
    /// Registrations in flight per generator process.
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Strata binary (default: this executable).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Also write the Markdown table to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// `strata bench lwm2m-clients` (internal): registers clients and holds them.
#[derive(Debug, Args)]
pub struct ClientsArgs {
    /// The server's CoAP address.
    #[arg(long)]
    addr: SocketAddr,
    /// Clients to register.
    #[arg(long)]
    count: usize,
    /// Local source address, e.g. 127.0.2.1.
    #[arg(long)]
    source: IpAddr,
    /// Endpoint name prefix.
    #[arg(long)]
    prefix: String,
    /// Registrations in flight.
    #[arg(long, default_value_t = 256)]
    window: usize,
}

fn register_request(buf: &mut Vec<u8>, message_id: u16, endpoint: &str) -> anyhow::Result<()> {
    let mut w = MessageWriter::new(
        buf,
        MessageType::Con,
        Code::POST,
        message_id,
        &message_id.to_be_bytes(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let query = format!("ep={endpoint}");
    let encode = |w: &mut MessageWriter<'_>| -> Result<(), strata_proto_coap::EncodeError> {
        w.option(option::URI_PATH, b"rd")?;
        w.uint_option(
            option::CONTENT_FORMAT,
            u32::from(option::format::LINK_FORMAT),
        )?;
        w.option(option::URI_QUERY, query.as_bytes())?;
        w.option(option::URI_QUERY, b"lt=86400")?;
        w.option(option::URI_QUERY, b"lwm2m=1.1")?;
        w.option(option::URI_QUERY, b"b=U")?;
        w.payload(b"</>;rt=\"oma.lwm2m\",</1/0>,</3/0>,</3303/0>");
        Ok(())
    };
    encode(&mut w).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Registers one client from its own socket; the socket is returned to be held.
async fn register_one(
    addr: SocketAddr,
    source: IpAddr,
    endpoint: String,
    message_id: u16,
) -> anyhow::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::new(source, 0)).await?;
    socket.connect(addr).await?;
    let mut request = Vec::with_capacity(96);
    register_request(&mut request, message_id, &endpoint)?;
    let mut answer = [0u8; 512];
    let mut timeout = Duration::from_secs(2);
    for _ in 0..5 {
        socket.send(&request).await?;
        match tokio::time::timeout(timeout, socket.recv(&mut answer)).await {
            Ok(Ok(n)) => {
                let m = Message::decode(&answer[..n]).map_err(|e| anyhow::anyhow!("{e}"))?;
                if m.message_id != message_id {
                    continue;
                }
                if m.code != Code::CREATED {
                    bail!("registration of {endpoint} answered {}", m.code);
                }
                return Ok(socket);
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => timeout *= 2,
        }
    }
    bail!("registration of {endpoint} not answered")
}

/// Runs `strata bench lwm2m-clients`: prints `ready <registered> <seconds>` and holds the
/// sockets until killed.
pub fn run_clients(args: ClientsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let started = Instant::now();
        let window = Arc::new(Semaphore::new(args.window.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        let mut held = Vec::with_capacity(args.count);
        for i in 0..args.count {
            let permit = Arc::clone(&window).acquire_owned().await?;
            let endpoint = format!("{}-{i}", args.prefix);
            let (addr, source) = (args.addr, args.source);
            tasks.spawn(async move {
                let r = register_one(addr, source, endpoint, i as u16).await;
                drop(permit);
                r
            });
            while let Some(done) = tasks.try_join_next() {
                held.push(done??);
            }
        }
        while let Some(done) = tasks.join_next().await {
            held.push(done??);
        }
        println!(
            "ready {} {:.3}",
            held.len(),
            started.elapsed().as_secs_f64()
        );
        std::future::pending::<()>().await;
        anyhow::Ok(())
    })
}

/// Runs the benchmark.
pub fn run(args: Lwm2mArgs) -> anyhow::Result<()> {
    if args.clients == 0 || args.per_process == 0 || args.per_process > 19_000 {
        bail!("--clients must be at least 1 and --per-process from 1 to 19000 (open files)");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: Lwm2mArgs) -> anyhow::Result<()> {
    let binary = match &args.server {
        Some(p) => p.clone(),
        None => std::env::current_exe()?,
    };
    let server = Server::start(
        &binary,
        &[
            ("STRATA_LWM2M__ALLOW_UNKNOWN_ENDPOINTS", "true"),
            ("MIMALLOC_ALLOW_THP", "0"),
        ],
    )
    .await?;
    let addr: SocketAddr = server.coap.parse().context("CoAP address")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = rss_bytes(server.pid)?;
    let processes = args.clients.div_ceil(args.per_process);
    let exe = std::env::current_exe()?;
    let bar = ProgressBar::new(args.clients as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "registering LwM2M clients [{bar:30}] {pos}/{len} ({per_sec})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut children = Vec::new();
    let (mut registered, mut seconds) = (0usize, 0f64);
    for p in 0..processes {
        let n = args.per_process.min(args.clients - p * args.per_process);
        let source = Ipv4Addr::new(127, 3, (p / 250) as u8, (p % 250 + 1) as u8);
        let mut child = Command::new(&exe)
            .args(["bench", "lwm2m-clients", "--addr"])
            .arg(addr.to_string())
            .arg("--count")
            .arg(n.to_string())
            .arg("--source")
            .arg(source.to_string())
            .arg("--prefix")
            .arg(format!("bench{p}"))
            .arg("--window")
            .arg(args.window.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(600), lines.next_line())
            .await
            .context("the generator did not finish registering within 600 s")??
            .unwrap_or_default();
        let mut parts = line.strip_prefix("ready ").unwrap_or_default().split(' ');
        let count: usize = parts
            .next()
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("generator failed: {line:?}"))?;
        let secs: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
        registered += count;
        seconds += secs;
        bar.inc(count as u64);
        children.push(child);
    }
    bar.finish_and_clear();
    // Let the allocator settle before reading memory.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = rss_bytes(server.pid)?;
    for mut c in children {
        let _ = c.kill().await;
    }
    server.stop().await;
    let rate = registered as f64 / seconds.max(1e-9);
    let per = after.saturating_sub(before) as f64 / registered.max(1) as f64;
    let mut table = String::new();
    writeln!(
        table,
        "| clients registered and held | registrations/s | server RSS before | server RSS after | RSS per registration |"
    )?;
    writeln!(table, "|---:|---:|---:|---:|---:|")?;
    writeln!(
        table,
        "| {registered} | {rate:.0} | {:.1} MiB | {:.1} MiB | {:.0} bytes |",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        per
    )?;
    println!(
        "\nLwM2M 1.1 registrations from {processes} generator process(es), {} in flight each:\n",
        args.window
    );
    println!("{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
