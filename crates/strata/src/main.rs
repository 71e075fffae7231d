//! `strata`: the Strata IoT platform in one binary.
//!
//! - `strata serve` runs the platform (HTTP API and device APIs) on embedded defaults.
//! - `strata config check|show` validates and prints the effective configuration.
//! - `strata bench ...` runs the benchmark harness against a real server.
//! - `strata model keygen|pack|inspect` makes encrypted, signed model containers for devices.
//! - `strata device simulate lwm2m` runs a simulated LwM2M device against a server.
//!
//! Exit codes: 0 success, 1 runtime failure, 2 bad command line, 78 bad configuration.

mod coap;
mod device;
mod device_topics;
mod model;
mod mqtt;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use strata_config::{Config, Loader};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit code for a configuration error (sysexits EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "Strata: an IoT platform in one binary",
    long_about = "Strata: an IoT platform in one binary.\n\n\
                  Start with `strata serve`; the API is then at http://127.0.0.1:8080 \
                  (see README.md for a five-minute quickstart)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the platform: REST API, device APIs, storage.
    Serve(ServeArgs),
    /// Check or print the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run benchmarks against a real server (see BENCHMARKS.md).
    Bench(strata_bench::BenchArgs),
    /// Encrypted, signed model containers for devices: keygen, pack, inspect.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Simulated devices: `strata device simulate lwm2m`.
    #[command(subcommand)]
    Device(device::DeviceCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and exit (0 if valid, 78 if not).
    Check(ConfigArgs),
    /// Print the effective configuration (defaults, file, environment and flags merged).
    Show(ConfigArgs),
}

/// Where configuration comes from.
#[derive(Args, Clone)]
pub(crate) struct ConfigArgs {
    /// TOML configuration file (default: ./strata.toml if it exists).
    #[arg(long, short, env = "STRATA_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides `data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP listen address, e.g. 127.0.0.1:8080 (overrides `http.listen`).
    #[arg(long)]
    http_listen: Option<String>,
    /// MQTT listen address, e.g. 127.0.0.1:1883 (overrides `mqtt.listen`).
    #[arg(long)]
    mqtt_listen: Option<String>,
    /// CoAP (UDP) listen address, e.g. 127.0.0.1:5683 (overrides `coap.listen`).
    #[arg(long)]
    coap_listen: Option<String>,
    /// CoAP over DTLS listen address, e.g. 127.0.0.1:5684 (overrides `coap.dtls.listen`).
    #[arg(long)]
    coaps_listen: Option<String>,
    /// Log filter, e.g. `info` or `debug,hyper=info` (overrides `log.level`).
    #[arg(long)]
    log_level: Option<String>,
}

/// `strata serve` options.
#[derive(Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    config: ConfigArgs,
}

impl ConfigArgs {
    fn load(&self) -> Result<Config, strata_config::ConfigError> {
        let mut loader = Loader::new();
        match &self.config {
            Some(path) => loader.file(path, true),
            None => loader.file("strata.toml", false),
        };
        if let Some(dir) = &self.data_dir {
            loader.set("data_dir", dir.display().to_string());
        }
        if let Some(listen) = &self.http_listen {
            loader.set("http.listen", listen.clone());
        }
        if let Some(listen) = &self.mqtt_listen {
            loader.set("mqtt.listen", listen.clone());
        }
        if let Some(listen) = &self.coap_listen {
            loader.set("coap.listen", listen.clone());
        }
        if let Some(listen) = &self.coaps_listen {
            loader.set("coap.dtls.listen", listen.clone());
        }
        if let Some(level) = &self.log_level {
            loader.set("log.level", level.clone());
        }
        loader.load()
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = match args.config.load() {
                Ok(c) => c,
                Err(e) => return config_error(&e),
            };
            match serve::run(config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("strata: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Config(ConfigCommand::Check(args)) => match args.load() {
            Ok(_) => {
                println!("configuration is valid");
                ExitCode::SUCCESS
            }
            Err(e) => config_error(&e),
        },
        Command::Config(ConfigCommand::Show(args)) => match args.load() {
            Ok(config) => match toml::to_string_pretty(&config) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("strata: cannot print the configuration: {e}");
                    ExitCode::FAILURE
                }
            },
            Err(e) => config_error(&e),
        },
        Command::Model(command) => match model::run(command) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("strata model: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Device(command) => match device::run(command) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("strata device: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Bench(args) => match strata_bench::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("strata bench: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn config_error(e: &strata_config::ConfigError) -> ExitCode {
    eprintln!("strata: {e}");
    eprintln!("strata: see strata.example.toml for every key, its meaning and default");
    ExitCode::from(EXIT_CONFIG)
}
