//! `strata device simulate vibration`: a bearing-monitoring node. Every 0.32 s window of the
//! synthetic accelerometer (`strata_edge::pipelines::vibration`) goes through the envelope
//! features and the int8 classifier on the "device"; it sends an alert when a defect is seen
//! in three windows running (and when it clears), and a health summary every
//! `--summary-every` windows. Nothing else leaves the device. At the end it reports the bytes
//! sent against streaming the raw 16-bit samples, and the classifier's accuracy on the
//! run's machines (generated from `--seed`, never the training seed 1).

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::json;
use strata_edge::pipelines::vibration::{
    self, Accelerometer, Condition, Features, LABELS, Machine, Rng, Scratch, WINDOW,
};
use strata_edge::tflite::{Interpreter, Model};

use super::report::{Confusion, Report, line, round3, wall_ms};
use super::uplink::{Uplink, UplinkArgs};

/// Windows in a row that must agree before an alert changes.
const CONFIRM: u32 = 3;

/// Which machine the accelerometer is on.
#[derive(Clone, Copy, ValueEnum)]
enum Scenario {
    /// Healthy, then an outer-race defect, healthy again, then an inner-race defect
    /// (a new random machine for each segment).
    Cycle,
    Healthy,
    OuterRace,
    InnerRace,
}

/// `strata device simulate vibration` options.
#[derive(Args)]
pub(crate) struct VibrationArgs {
    #[command(flatten)]
    uplink: UplinkArgs,
    /// What the machine does.
    #[arg(long, value_enum, default_value = "cycle")]
    scenario: Scenario,
    /// Windows to process (0.32 s of signal each).
    #[arg(long, default_value_t = 400)]
    windows: u64,
    /// Windows per machine segment in the cycle scenario.
    #[arg(long, default_value_t = 25)]
    segment: u64,
    /// Send a health summary every this many windows.
    #[arg(long, default_value_t = 50)]
    summary_every: u64,
    /// Seed of the simulated machines (the classifier was trained on seed 1).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Pace windows at real time (0.32 s each) instead of as fast as possible.
    #[arg(long)]
    realtime: bool,
    /// Print one JSON object per event and the report on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs the node; `Ok(true)` after a clean run.
pub(crate) async fn simulate(args: VibrationArgs) -> anyhow::Result<bool> {
    let model = Model::new(vibration::MODEL).context("the vibration model does not load")?;
    let mut arena = vec![0u8; model.arena_size_required()];
    let mut interpreter = Interpreter::new(&model, &mut arena)?;
    let mut uplink = Uplink::open(&args.uplink, "strata-sim-vibration").await?;
    let mut scratch = Box::new(Scratch::new());
    let mut window = vec![0.0f32; WINDOW];
    let mut rng = Rng::new(args.seed);
    let mut confusion = Confusion::new(&LABELS);
    let mut inference = Duration::ZERO;
    let mut sensor: Option<Accelerometer> = None;
    let mut segment_condition = None;
    // Alert state: what was last reported, and the run of agreeing windows.
    let mut reported = Condition::Healthy;
    let mut run = (Condition::Healthy, 0u32);
    let mut summary = Summary::default();
    let window_time = Duration::from_secs_f32(WINDOW as f32 / vibration::SAMPLE_RATE);
    let started = Instant::now();
    // Messages carry the signal's own time (the end of the window), so a run faster than
    // real time keeps them apart.
    let epoch_ms = wall_ms();
    for index in 0..args.windows {
        let ts = epoch_ms + (window_time * (index as u32 + 1)).as_millis() as u64;
        let condition = scenario_condition(args.scenario, index / args.segment.max(1));
        if segment_condition != Some((condition, index / args.segment.max(1))) {
            let machine = Machine::random(condition, &mut rng);
            sensor = Some(Accelerometer::new(machine, args.seed.wrapping_add(index)));
            segment_condition = Some((condition, index / args.segment.max(1)));
        }
        let Some(sensor) = sensor.as_mut() else {
            continue;
        };
        sensor.fill(&mut window);
        let machine = *sensor.machine();
        let t0 = Instant::now();
        let features =
            Features::extract(&window, machine.shaft_hz, &machine.bearing, &mut scratch)?;
        let verdict = vibration::classify(&mut interpreter, &features)?;
        inference += t0.elapsed();
        confusion.record(machine.condition as usize, verdict.condition as usize);
        summary.add(&features, verdict.condition);

        run = if run.0 == verdict.condition {
            (run.0, run.1 + 1)
        } else {
            (verdict.condition, 1)
        };
        if run.1 == CONFIRM && run.0 != reported {
            reported = run.0;
            let message = match reported {
                Condition::Healthy => json!({"alert": "cleared", "window": index}),
                fault => json!({
                    "alert": fault.label(),
                    "confidence": round3(verdict.confidence),
                    "fault_hz": round3(match fault {
                        Condition::OuterRace => machine.bearing.bpfo(machine.shaft_hz),
                        _ => machine.bearing.bpfi(machine.shaft_hz),
                    }),
                    "shaft_hz": round3(machine.shaft_hz),
                    "window": index,
                }),
            };
            let message = json!({"ts": ts, "values": message});
            uplink.telemetry(&message).await?;
            if args.json {
                line(
                    &json!({"event": "alert", "sent": message["values"], "truth": machine.condition.label()}),
                );
            }
        }
        if (index + 1) % args.summary_every.max(1) == 0 {
            let message = json!({"ts": ts, "values": summary.take(reported)});
            uplink.telemetry(&message).await?;
            if args.json {
                line(&json!({"event": "summary", "sent": message["values"]}));
            }
        }
        if args.realtime {
            let due = started + window_time * (index as u32 + 1);
            tokio::time::sleep_until(due.into()).await;
        }
    }
    let report = Report {
        pipeline: "vibration",
        unit: "window",
        units: args.windows,
        // Streaming raw: every 16-bit sample.
        raw_bytes: args.windows * WINDOW as u64 * 2,
        sent_bytes: uplink.sent_bytes,
        messages: uplink.messages,
        confusion,
        inference_us: inference.as_secs_f64() * 1e6 / args.windows.max(1) as f64,
        online: args.uplink.token.is_some(),
    };
    uplink.close().await?;
    report.print(args.json);
    Ok(true)
}

fn scenario_condition(scenario: Scenario, segment: u64) -> Condition {
    match scenario {
        Scenario::Healthy => Condition::Healthy,
        Scenario::OuterRace => Condition::OuterRace,
        Scenario::InnerRace => Condition::InnerRace,
        Scenario::Cycle => match segment % 4 {
            1 => Condition::OuterRace,
            3 => Condition::InnerRace,
            _ => Condition::Healthy,
        },
    }
}

/// Running means for the periodic health summary.
#[derive(Default)]
struct Summary {
    windows: u64,
    rms: f64,
    kurtosis: f64,
    faulty: u64,
}

impl Summary {
    fn add(&mut self, f: &Features, verdict: Condition) {
        self.windows += 1;
        self.rms += f64::from(f.rms);
        self.kurtosis += f64::from(f.kurtosis);
        self.faulty += u64::from(verdict != Condition::Healthy);
    }

    fn take(&mut self, state: Condition) -> serde_json::Value {
        let n = self.windows.max(1) as f64;
        let message = json!({
            "health": state.label(),
            "rms_g": (self.rms / n * 1000.0).round() / 1000.0,
            "kurtosis": (self.kurtosis / n * 100.0).round() / 100.0,
            "faulty_windows": self.faulty,
            "windows": self.windows,
        });
        *self = Self::default();
        message
    }
}
