//! `strata device simulate person`: a camera node running person_detect on 96x96 grayscale
//! frames. The camera "sees" scenes from the sample frames (`crates/strata-edge/frames`, or
//! PGMs of your own with `--frames DIR`), each held for a few seconds with sensor noise,
//! exposure drift and small shifts. The node sends `{"ts", "values": {"person": true|false,
//! "score"}}` (the time of the frame) when presence changes and a heartbeat with the latest score every `--heartbeat` frames;
//! never a pixel. The report compares the bytes with streaming every raw frame.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use strata_edge::pipelines::person::{self, FRAME_BYTES, Presence, SIDE};
use strata_edge::pipelines::vibration::Rng;
use strata_edge::tflite::{Interpreter, Model};

use super::report::{Confusion, Report, line, round3, wall_ms};
use super::uplink::{Uplink, UplinkArgs};

static MODEL: &[u8] = include_bytes!("../../../strata-edge/models/person_detect.tflite");

/// The built-in scenes: (has a person, name, 8-bit PGM).
static SCENES: &[(bool, &str, &[u8])] = &[
    (
        true,
        "astronaut",
        include_bytes!("../../../strata-edge/frames/person_astronaut.pgm"),
    ),
    (
        false,
        "coffee",
        include_bytes!("../../../strata-edge/frames/none_coffee.pgm"),
    ),
    (
        true,
        "camera",
        include_bytes!("../../../strata-edge/frames/person_camera.pgm"),
    ),
    (
        false,
        "chelsea",
        include_bytes!("../../../strata-edge/frames/none_chelsea.pgm"),
    ),
    (
        false,
        "horse",
        include_bytes!("../../../strata-edge/frames/none_horse.pgm"),
    ),
    (
        false,
        "coins",
        include_bytes!("../../../strata-edge/frames/none_coins.pgm"),
    ),
];

/// `strata device simulate person` options.
#[derive(Args)]
pub(crate) struct PersonArgs {
    #[command(flatten)]
    uplink: UplinkArgs,
    /// Frames to process.
    #[arg(long, default_value_t = 120)]
    frames: u64,
    /// Frames per scene before the camera sees the next one.
    #[arg(long, default_value_t = 10)]
    scene_frames: u64,
    /// Use the 96x96 8-bit PGM files (P5) of this directory as scenes; a file whose name
    /// starts with `person` has a person in it (ground truth for the accuracy figure).
    #[arg(long = "scenes", value_name = "DIR")]
    scenes_dir: Option<PathBuf>,
    /// Presence starts at this score (and ends below 0.8x of it).
    #[arg(long, default_value_t = 0.6)]
    threshold: f32,
    /// Send the latest score every this many frames even without a change.
    #[arg(long, default_value_t = 60)]
    heartbeat: u64,
    /// Frames per second when pacing at real time.
    #[arg(long, default_value_t = 5.0)]
    fps: f32,
    /// Pace frames at --fps instead of as fast as possible.
    #[arg(long)]
    realtime: bool,
    /// Seed of the sensor noise.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print one JSON object per event and the report on stdout.
    #[arg(long)]
    json: bool,
}

/// Runs the node; `Ok(true)` after a clean run.
pub(crate) async fn simulate(args: PersonArgs) -> anyhow::Result<bool> {
    let scenes = load_scenes(args.scenes_dir.as_deref())?;
    let model = Model::new(MODEL).context("person_detect does not load")?;
    let mut arena = vec![0u8; model.arena_size_required()];
    let mut interpreter = Interpreter::new(&model, &mut arena)?;
    let mut uplink = Uplink::open(&args.uplink, "strata-sim-person").await?;
    let mut presence = Presence::new(args.threshold, args.threshold * 0.8);
    let mut confusion = Confusion::new(&["no_person", "person"]);
    let mut rng = Rng::new(args.seed);
    let mut frame = vec![0u8; FRAME_BYTES];
    let mut inference = Duration::ZERO;
    let started = Instant::now();
    let period = Duration::from_secs_f32(1.0 / args.fps.max(0.1));
    // Messages carry the frame's own time, so a run faster than real time keeps them apart.
    let epoch_ms = wall_ms();
    for index in 0..args.frames {
        let (truth, name, pixels) =
            &scenes[(index / args.scene_frames.max(1)) as usize % scenes.len()];
        capture(pixels, &mut frame, &mut rng);
        let t0 = Instant::now();
        let score = person::score(&mut interpreter, &frame)?;
        inference += t0.elapsed();
        let seen = score.is_person(args.threshold);
        confusion.record(usize::from(*truth), usize::from(seen));
        let ts = epoch_ms + (period * index as u32).as_millis() as u64;
        if let Some(now_present) = presence.update(&score) {
            let message =
                json!({"ts": ts, "values": {"person": now_present, "score": round3(score.person)}});
            uplink.telemetry(&message).await?;
            if args.json {
                line(&json!({"event": "presence", "sent": message, "scene": name, "truth": truth}));
            }
        } else if (index + 1) % args.heartbeat.max(1) == 0 {
            let message = json!({"ts": ts, "values": {"person_score": round3(score.person)}});
            uplink.telemetry(&message).await?;
            if args.json {
                line(&json!({"event": "heartbeat", "sent": message}));
            }
        }
        if args.realtime {
            tokio::time::sleep_until((started + period * (index as u32 + 1)).into()).await;
        }
    }
    let report = Report {
        pipeline: "person",
        unit: "frame",
        units: args.frames,
        raw_bytes: args.frames * FRAME_BYTES as u64,
        sent_bytes: uplink.sent_bytes,
        messages: uplink.messages,
        confusion,
        inference_us: inference.as_secs_f64() * 1e6 / args.frames.max(1) as f64,
        online: args.uplink.token.is_some(),
    };
    uplink.close().await?;
    report.print(args.json);
    Ok(true)
}

/// One camera frame of a scene: sensor noise, exposure drift, a shift of up to 2 pixels.
fn capture(scene: &[u8], out: &mut [u8], rng: &mut Rng) {
    let gain = rng.range(0.85, 1.15);
    let (dx, dy) = (
        (rng.uniform() * 5.0) as usize,
        (rng.uniform() * 5.0) as usize,
    );
    for y in 0..SIDE {
        for x in 0..SIDE {
            let sx = (x + dx).saturating_sub(2).min(SIDE - 1);
            let sy = (y + dy).saturating_sub(2).min(SIDE - 1);
            let v = f32::from(scene[sy * SIDE + sx]) * gain + 4.0 * rng.normal();
            out[y * SIDE + x] = v.clamp(0.0, 255.0) as u8;
        }
    }
}

type Scene = (bool, String, Vec<u8>);

fn load_scenes(dir: Option<&std::path::Path>) -> anyhow::Result<Vec<Scene>> {
    let Some(dir) = dir else {
        return SCENES
            .iter()
            .map(|(truth, name, pgm)| Ok((*truth, (*name).to_string(), pgm_pixels(pgm)?.to_vec())))
            .collect();
    };
    let mut scenes = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pgm"))
    {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let pixels = pgm_pixels(&bytes).with_context(|| format!("{}", path.display()))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        scenes.push((name.starts_with("person"), name, pixels.to_vec()));
    }
    if scenes.is_empty() {
        bail!(
            "no .pgm files in {}; give 96x96 8-bit PGM (P5) frames",
            dir.display()
        );
    }
    Ok(scenes)
}

/// The pixels of a binary 96x96 8-bit PGM.
fn pgm_pixels(bytes: &[u8]) -> anyhow::Result<&[u8]> {
    // Header: P5, width, height, maxval, each separated by whitespace, then one whitespace.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if start == i {
            bail!("not a PGM file (header ends early)");
        }
        fields.push(std::str::from_utf8(&bytes[start..i]).unwrap_or(""));
    }
    if fields != ["P5", "96", "96", "255"] {
        bail!("expected a 96x96 8-bit binary PGM (P5 96 96 255), found {fields:?}");
    }
    let pixels = bytes.get(i + 1..).unwrap_or(&[]);
    if pixels.len() != FRAME_BYTES {
        bail!("expected {FRAME_BYTES} pixels, found {}", pixels.len());
    }
    Ok(pixels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_scenes_parse() {
        let scenes = load_scenes(None).unwrap();
        assert_eq!(scenes.len(), 6);
        assert!(scenes.iter().all(|(_, _, p)| p.len() == FRAME_BYTES));
    }

    #[test]
    fn bad_pgm_is_an_error() {
        assert!(pgm_pixels(b"P6\n96 96\n255\n").is_err());
        assert!(pgm_pixels(b"P5\n96 96\n255\nshort").is_err());
        assert!(pgm_pixels(b"").is_err());
    }
}
