//! Strata's benchmark harness: load generators that start a real `strata serve` (and, where a
//! peer exists, the peer) on loopback, drive it, and report medians of several runs.
//!
//! Benchmarks are never timed tests: they run from `strata bench <scenario>` and write the
//! tables that go into `BENCHMARKS.md`. Every scenario reports throughput together with the
//! server's CPU time per unit of work, because the generator shares the machine's cores.
//!
//! Scenarios:
//! - [`ingest`]: durable HTTP telemetry ingest (batched and single-point requests).
//! - [`mqtt`]: the MQTT broker against Mosquitto in the same run (p2p, fan-in, fan-out, idle).
//! - [`rules`]: ingest through 0, 10 and 100 active rules.
//! - [`coap`]: CoAP GET requests/s against Strata and libcoap's server in the same run.
//! - [`lwm2m`]: LwM2M registrations/s and memory per registration with many clients held.
//! - [`inference`]: the edge SDK's int8 engine against TFLM: instructions per inference
//!   (callgrind), arena bytes, bit-exactness.

pub mod coap;
pub mod inference;
pub mod ingest;
pub mod lwm2m;
pub mod mqtt;
mod mqtt_client;
pub mod rules;
mod server;
mod stats;

use clap::{Args, Subcommand};

/// `strata bench` options.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, Subcommand)]
enum Scenario {
    /// Durable HTTP telemetry ingest into the embedded store.
    Ingest(ingest::IngestArgs),
    /// The MQTT broker side by side with Mosquitto.
    Mqtt(mqtt::MqttArgs),
    /// Ingest through the rule engine: 0, 10 and 100 active rules.
    Rules(rules::RulesArgs),
    /// CoAP GET requests/s side by side with libcoap's coap-server.
    Coap(coap::CoapArgs),
    /// LwM2M registrations/s and server memory per registration.
    Lwm2m(lwm2m::Lwm2mArgs),
    /// The edge SDK's int8 engine side by side with TFLM: instructions per inference
    /// (callgrind), arena bytes, bit-exactness.
    Inference(inference::InferenceArgs),
    /// Internal: runs one model for `bench inference` (measured under callgrind).
    #[command(hide = true)]
    InferenceRun(inference::RunArgs),
    /// Internal: registers and holds LwM2M clients for `bench lwm2m`.
    #[command(hide = true)]
    Lwm2mClients(lwm2m::ClientsArgs),
    /// Internal: holds idle MQTT connections for `bench mqtt` (one process per ~9,500).
    #[command(hide = true)]
    MqttIdleClient(mqtt::IdleClientArgs),
}

/// Runs the chosen scenario.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.scenario {
        Scenario::Ingest(a) => ingest::run(a),
        Scenario::Mqtt(a) => mqtt::run(a),
        Scenario::Rules(a) => rules::run(a),
        Scenario::Coap(a) => coap::run(a),
        Scenario::Lwm2m(a) => lwm2m::run(a),
        Scenario::Inference(a) => inference::run(a),
        Scenario::InferenceRun(a) => inference::run_model(a),
        Scenario::Lwm2mClients(a) => lwm2m::run_clients(a),
        Scenario::MqttIdleClient(a) => mqtt::run_idle_client(a),
    }
}
