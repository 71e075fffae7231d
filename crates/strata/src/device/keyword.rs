//! `strata device simulate keyword`: a voice node running the micro_speech keyword spotter
//! (`strata_edge::pipelines::keyword`) on a stream of spoken words (the synthesised clips in
//! `crates/strata-edge/tests/audio`, or WAVs of your own with `--clips DIR`) separated by
//! quiet, with a little background noise. It sends nothing while it hears no keyword; a
//! detection is sent at once (`{"keyword", "score"}`) and opens the uplink for
//! `--stream-ms`, during which the audio front end's features (40 int8 per 20 ms, base64) are
//! streamed in 200 ms messages for a server-side recogniser. The report compares the bytes
//! with streaming the raw 16-bit audio, and counts the clips heard right.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use clap::Args;
use serde_json::json;
use strata_edge::dsp::frontend::{FEATURE_LEN, NUM_CHANNELS, SAMPLE_RATE_HZ};
use strata_edge::pipelines::keyword::{KeywordSpotter, Label, SpotterConfig, UplinkGate};
use strata_edge::pipelines::vibration::Rng;
use strata_edge::tflite::Model;

use super::report::{Confusion, Report, line, wall_ms};
use super::uplink::{Uplink, UplinkArgs};

static MODEL: &[u8] = include_bytes!("../../../strata-edge/models/micro_speech_quantized.tflite");

/// The built-in clips: (what was said, 16 kHz mono 16-bit WAV).
/// The order matters: after the loud white-noise clip the front end's noise estimate needs
/// about 3 s to come back down, and a keyword spoken sooner is missed (measured with
/// `--gap-ms`), so two non-keywords follow it.
static CLIPS: &[(&str, &[u8])] = &[
    (
        "yes",
        include_bytes!("../../../strata-edge/tests/audio/yes_m.wav"),
    ),
    (
        "up",
        include_bytes!("../../../strata-edge/tests/audio/up.wav"),
    ),
    (
        "no",
        include_bytes!("../../../strata-edge/tests/audio/no_f.wav"),
    ),
    (
        "noise",
        include_bytes!("../../../strata-edge/tests/audio/noise.wav"),
    ),
    (
        "down",
        include_bytes!("../../../strata-edge/tests/audio/down.wav"),
    ),
    (
        "silence",
        include_bytes!("../../../strata-edge/tests/audio/silence.wav"),
    ),
    (
        "yes",
        include_bytes!("../../../strata-edge/tests/audio/yes_f.wav"),
    ),
    (
        "no",
        include_bytes!("../../../strata-edge/tests/audio/no_m.wav"),
    ),
];

/// Classes of the accuracy figure: a clip was a keyword (yes, no) or not.
const OUTCOMES: [&str; 3] = ["other", "yes", "no"];
/// Feature frames per streamed message (200 ms).
const FRAMES_PER_MESSAGE: usize = 10;
/// Samples fed per step (32 ms, a typical microphone DMA buffer).
const CHUNK: usize = 512;

/// `strata device simulate keyword` options.
#[derive(Args)]
pub(crate) struct KeywordArgs {
    #[command(flatten)]
    uplink: UplinkArgs,
    /// Clips to play, cycling through the built-in (or --clips) ones.
    #[arg(long, default_value_t = 16)]
    clips: usize,
    /// Use the WAV files (16 kHz, mono, 16-bit) of this directory; a name starting with
    /// `yes` or `no` is that keyword (ground truth), anything else is not a keyword.
    #[arg(long = "clips-dir", value_name = "DIR")]
    clips_dir: Option<PathBuf>,
    /// Quiet between clips (ms).
    #[arg(long, default_value_t = 1000)]
    gap_ms: u64,
    /// Background noise between and under the clips, as RMS in 16-bit units (0: none).
    #[arg(long, default_value_t = 30.0)]
    noise: f32,
    /// How long the uplink streams features after a detection (ms).
    #[arg(long, default_value_t = 2000)]
    stream_ms: u64,
    /// Pace the audio at real time instead of as fast as possible.
    #[arg(long)]
    realtime: bool,
    /// Seed of the background noise.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print one JSON object per event and the report on stdout.
    #[arg(long)]
    json: bool,
}

/// One clip's place in the stream (ms of audio).
struct Placed {
    truth: usize,
    name: String,
    start_ms: u64,
    end_ms: u64,
    heard: Option<usize>,
}

/// Runs the node; `Ok(true)` after a clean run.
pub(crate) async fn simulate(args: KeywordArgs) -> anyhow::Result<bool> {
    let clips = load_clips(args.clips_dir.as_deref())?;
    let (audio, mut placed) = compose(&clips, &args);
    let model = Model::new(MODEL).context("micro_speech does not load")?;
    let mut arena = vec![0u8; model.arena_size_required()];
    let mut spotter = KeywordSpotter::new(&model, &mut arena, SpotterConfig::default())?;
    let mut gate = UplinkGate::new(args.stream_ms);
    let mut uplink = Uplink::open(&args.uplink, "strata-sim-keyword").await?;
    let mut frames_streamed = 0usize;
    let started = Instant::now();
    // Messages carry the audio's own time, so a run faster than real time keeps them apart.
    let epoch_ms = wall_ms();
    let mut compute = Duration::ZERO;
    let mut rest = &audio[..];
    let mut fed = 0usize;
    while !rest.is_empty() {
        let chunk = &rest[..rest.len().min(CHUNK)];
        let t0 = Instant::now();
        let step = spotter.process_samples(chunk)?;
        compute += t0.elapsed();
        rest = &rest[step.consumed..];
        fed += step.consumed;
        let now = spotter.now_ms();
        if let Some(d) = step.detection {
            gate.open(&d);
            let message = json!({"ts": epoch_ms + d.at_ms,
                "values": {"keyword": d.label.name(), "score": d.score}});
            uplink.telemetry(&message).await?;
            // The detection belongs to the clip it falls in (or the quiet right after it).
            let clip = placed
                .iter_mut()
                .find(|p| d.at_ms >= p.start_ms && d.at_ms < p.end_ms + args.gap_ms);
            if let Some(p) = clip {
                p.heard.get_or_insert(outcome(d.label));
            }
            if args.json {
                line(&json!({"event": "detection", "sent": message, "at_ms": d.at_ms}));
            }
        }
        // A new feature frame every 20 ms of audio; stream them in 200 ms batches while open.
        let frames_now = (now / 20) as usize;
        if gate.is_open(now) {
            if frames_now >= frames_streamed + FRAMES_PER_MESSAGE {
                let features = spotter.features();
                let newest = &features[FEATURE_LEN - FRAMES_PER_MESSAGE * NUM_CHANNELS..];
                let bytes: Vec<u8> = newest.iter().map(|&v| v as u8).collect();
                let message = json!({"ts": epoch_ms + now, "values": {
                    "kws_features": BASE64.encode(&bytes), "frames": FRAMES_PER_MESSAGE}});
                uplink.telemetry(&message).await?;
                frames_streamed = frames_now;
            }
        } else {
            frames_streamed = frames_now;
        }
        if args.realtime {
            let due = Duration::from_secs_f64(fed as f64 / f64::from(SAMPLE_RATE_HZ));
            tokio::time::sleep_until((started + due).into()).await;
        }
    }
    let mut confusion = Confusion::new(&OUTCOMES);
    for p in &placed {
        confusion.record(p.truth, p.heard.unwrap_or(0));
        if args.json {
            line(
                &json!({"event": "clip", "clip": p.name, "truth": OUTCOMES[p.truth],
                "heard": OUTCOMES[p.heard.unwrap_or(0)], "start_ms": p.start_ms}),
            );
        }
    }
    let seconds = audio.len() as f64 / f64::from(SAMPLE_RATE_HZ);
    let report = Report {
        pipeline: "keyword",
        unit: "clip",
        units: args.clips as u64,
        raw_bytes: audio.len() as u64 * 2,
        sent_bytes: uplink.sent_bytes,
        messages: uplink.messages,
        confusion,
        // Per clip: the clip and the quiet after it.
        inference_us: compute.as_secs_f64() * 1e6 / args.clips.max(1) as f64,
        online: args.uplink.token.is_some(),
    };
    uplink.close().await?;
    report.print(args.json);
    if !args.json {
        println!("  audio    {seconds:>12.1} s in {} clips", args.clips);
    }
    Ok(true)
}

fn outcome(label: Label) -> usize {
    match label {
        Label::Yes => 1,
        Label::No => 2,
        _ => 0,
    }
}

fn truth_of(name: &str) -> usize {
    if name.starts_with("yes") {
        1
    } else if name.starts_with("no") && !name.starts_with("noise") {
        2
    } else {
        0
    }
}

/// The audio stream: quiet, then each clip followed by a gap, all under light noise.
fn compose(clips: &[(String, Vec<i16>)], args: &KeywordArgs) -> (Vec<i16>, Vec<Placed>) {
    let per_ms = SAMPLE_RATE_HZ as usize / 1000;
    let mut rng = Rng::new(args.seed);
    let mut audio = Vec::new();
    let mut placed = Vec::new();
    let quiet = |audio: &mut Vec<i16>, ms: u64| {
        audio.extend((0..ms as usize * per_ms).map(|_| 0i16));
    };
    quiet(&mut audio, 1000);
    for i in 0..args.clips {
        let (name, samples) = &clips[i % clips.len()];
        let start_ms = (audio.len() / per_ms) as u64;
        audio.extend_from_slice(samples);
        placed.push(Placed {
            truth: truth_of(name),
            name: name.clone(),
            start_ms,
            end_ms: (audio.len() / per_ms) as u64,
            heard: None,
        });
        quiet(&mut audio, args.gap_ms);
    }
    if args.noise > 0.0 {
        for s in audio.iter_mut() {
            let v = f32::from(*s) + args.noise * rng.normal();
            *s = v.clamp(-32768.0, 32767.0) as i16;
        }
    }
    (audio, placed)
}

fn load_clips(dir: Option<&std::path::Path>) -> anyhow::Result<Vec<(String, Vec<i16>)>> {
    let Some(dir) = dir else {
        return CLIPS
            .iter()
            .map(|(name, wav)| Ok(((*name).to_string(), wav_samples(wav)?)))
            .collect();
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav")))
        .collect();
    paths.sort();
    let mut clips = Vec::new();
    for path in paths {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let samples = wav_samples(&bytes).with_context(|| format!("{}", path.display()))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        clips.push((name, samples));
    }
    if clips.is_empty() {
        bail!(
            "no .wav files in {}; give 16 kHz mono 16-bit WAVs",
            dir.display()
        );
    }
    Ok(clips)
}

/// The samples of a 16 kHz mono 16-bit PCM WAV.
fn wav_samples(bytes: &[u8]) -> anyhow::Result<Vec<i16>> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        bail!("not a WAV file");
    }
    let mut at = 12;
    let mut format_ok = false;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]])
            as usize;
        let body = bytes
            .get(at + 8..at + 8 + len)
            .context("a WAV chunk runs past the end of the file")?;
        if id == b"fmt " {
            let field = |i: usize| u32::from(body.get(i).copied().unwrap_or(0));
            let (format, channels) = (field(0) | field(1) << 8, field(2) | field(3) << 8);
            let rate = field(4) | field(5) << 8 | field(6) << 16 | field(7) << 24;
            let bits = field(14) | field(15) << 8;
            if (format, channels, rate, bits) != (1, 1, SAMPLE_RATE_HZ, 16) {
                bail!(
                    "expected 16 kHz mono 16-bit PCM, found format {format}, {channels} \
                     channel(s), {rate} Hz, {bits} bits; convert with e.g. \
                     `sox in.wav -r 16000 -c 1 -b 16 out.wav`"
                );
            }
            format_ok = true;
        } else if id == b"data" {
            if !format_ok {
                bail!("the WAV data comes before its format");
            }
            return Ok(body
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect());
        }
        at += 8 + len + (len & 1);
    }
    bail!("the WAV file has no data chunk")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_clips_parse() {
        let clips = load_clips(None).unwrap();
        assert_eq!(clips.len(), 8);
        assert!(clips.iter().all(|(_, s)| s.len() >= 8000));
    }

    #[test]
    fn wav_errors_say_what_to_do() {
        assert!(wav_samples(b"nope").is_err());
        let mut stereo = Vec::from(&b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x02\0"[..]);
        stereo.extend_from_slice(&16000u32.to_le_bytes());
        stereo.extend_from_slice(&[0; 6]);
        stereo.extend_from_slice(&16u16.to_le_bytes());
        let err = wav_samples(&stereo).unwrap_err().to_string();
        assert!(err.contains("sox"), "{err}");
    }

    #[test]
    fn ground_truth_from_names() {
        assert_eq!(truth_of("yes_m"), 1);
        assert_eq!(truth_of("no_f"), 2);
        assert_eq!(truth_of("noise"), 0);
        assert_eq!(truth_of("down"), 0);
    }
}
