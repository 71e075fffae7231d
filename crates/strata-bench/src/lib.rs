//! Strata's benchmark harness: load generators that start a real `strata serve` (and, where a
//! peer exists, the peer) on loopback, drive it, and report medians of several runs.
//!
//! Benchmarks are never timed tests: they run from `strata bench <scenario>` and write the
//! tables that go into `BENCHMARKS.md`. Every scenario reports throughput together with the
//! server's CPU time per unit of work, because the generator shares the machine's cores.
//!
//! Scenarios:
//! - [`ingest`]: durable HTTP telemetry ingest (batched and single-point requests).

pub mod ingest;
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
}

/// Runs the chosen scenario.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.scenario {
        Scenario::Ingest(a) => ingest::run(a),
    }
}
