//! `strata device simulate ...`: simulated devices that talk to `strata serve` the way real
//! ones do: an LwM2M client, and the three edge pipelines of the edge SDK (vibration,
//! keyword spotting, person detection), which run on-device DSP and int8 inference and send
//! only what matters over MQTT.

mod keyword;
mod lwm2m;
mod person;
mod report;
mod uplink;
mod vibration;

use anyhow::Context;
use clap::Subcommand;

/// `strata device` commands.
#[derive(Subcommand)]
pub(crate) enum DeviceCommand {
    /// Run simulated devices.
    #[command(subcommand)]
    Simulate(SimulateCommand),
}

/// `strata device simulate` commands.
#[derive(Subcommand)]
pub(crate) enum SimulateCommand {
    /// An LwM2M 1.1 client over UDP (NoSec) with objects 0, 1, 3, 5 and 3303.
    Lwm2m(lwm2m::Lwm2mArgs),
    /// A bearing-monitoring node: synthetic accelerometer, envelope features and an int8
    /// classifier; sends alerts and health summaries only, and reports bytes and accuracy.
    Vibration(vibration::VibrationArgs),
    /// A keyword spotter: audio front end (49x40 features) and micro_speech; streams only
    /// after a detection.
    Keyword(keyword::KeywordArgs),
    /// A camera node: person_detect on 96x96 grayscale frames; sends scores, never frames.
    Person(person::PersonArgs),
}

/// Runs a `strata device` command; `Ok(false)` when the server refused the device.
pub(crate) fn run(command: DeviceCommand) -> anyhow::Result<bool> {
    let DeviceCommand::Simulate(simulate) = command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match simulate {
            SimulateCommand::Lwm2m(args) => lwm2m::simulate(args).await,
            SimulateCommand::Vibration(args) => vibration::simulate(args).await,
            SimulateCommand::Keyword(args) => keyword::simulate(args).await,
            SimulateCommand::Person(args) => person::simulate(args).await,
        }
    })
}
