//! The keyword-spotting pipeline: the audio front end against TensorFlow's microfrontend op, and
//! micro_speech on synthesised speech.
//!
//! * `tests/audio/*.wav`: 1 s clips from `scripts/gen_keyword_audio.sh` (espeak-ng voices saying
//!   yes, no, up, down; digital silence; white noise).
//! * `tests/vectors/frontend_reference.json`: the reference front end's output for each clip
//!   and for a 3 s stress signal, from `scripts/gen_frontend_vectors.py` (TensorFlow 2.21).

// Test helpers panic on bad fixtures; the counting allocator needs `unsafe impl GlobalAlloc`.
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use strata_edge::dsp::frontend::{
    CLIP_LEN, FEATURE_LEN, FrontEnd, NUM_CHANNELS, WINDOW_LEN, quantize,
};
use strata_edge::pipelines::keyword::{
    Detection, KeywordSpotter, Label, SpotterConfig, UplinkGate,
};
use strata_edge::tflite::{Interpreter, Model};

static MODEL: &[u8] = include_bytes!("../models/micro_speech_quantized.tflite");

// ---- allocation counting (per thread, so parallel tests do not disturb each other) ----

struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// ---- fixtures ----

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Samples of a 16 kHz mono 16-bit PCM WAV.
fn read_wav(path: &Path) -> Vec<i16> {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    assert!(
        &b[..4] == b"RIFF" && &b[8..12] == b"WAVE",
        "{}",
        path.display()
    );
    let mut at = 12;
    let mut format_ok = false;
    while at + 8 <= b.len() {
        let id = &b[at..at + 4];
        let len = u32::from_le_bytes(b[at + 4..at + 8].try_into().unwrap()) as usize;
        let body = &b[at + 8..at + 8 + len];
        if id == b"fmt " {
            let u16_at = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
            let rate = u32::from_le_bytes(body[4..8].try_into().unwrap());
            format_ok = u16_at(0) == 1 && u16_at(2) == 1 && rate == 16_000 && u16_at(14) == 16;
        } else if id == b"data" {
            assert!(format_ok, "{}: not 16 kHz mono s16 PCM", path.display());
            return body
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
        }
        at += 8 + len + (len & 1);
    }
    panic!("{}: no data chunk", path.display());
}

fn clip(name: &str) -> Vec<i16> {
    read_wav(&crate_dir().join("tests/audio").join(format!("{name}.wav")))
}

const CLIPS: [&str; 8] = [
    "yes_m", "yes_f", "no_m", "no_f", "up", "down", "silence", "noise",
];

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

struct Reference {
    name: String,
    samples: usize,
    frames: usize,
    raw: Vec<u16>,
    int8: Vec<i8>,
}

fn references() -> Vec<Reference> {
    let path = crate_dir().join("tests/vectors/frontend_reference.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    v["clips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Reference {
            name: c["name"].as_str().unwrap().to_owned(),
            samples: c["samples"].as_u64().unwrap() as usize,
            frames: c["frames"].as_u64().unwrap() as usize,
            raw: hex_bytes(c["u16_hex"].as_str().unwrap())
                .chunks_exact(2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .collect(),
            int8: hex_bytes(c["int8_hex"].as_str().unwrap())
                .into_iter()
                .map(|b| b as i8)
                .collect(),
        })
        .collect()
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

fn splitmix64(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(k.wrapping_mul(GOLDEN));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Same as `stress_signal` in scripts/gen_frontend_vectors.py.
fn stress_signal() -> Vec<i16> {
    (0..48_000u64)
        .map(|i| {
            let r = splitmix64(7, i + 1);
            if i < 16_000 {
                ((r >> 48) as i64 - 32_768) as i16
            } else if i < 32_000 {
                ((r >> 57) as i64 - 64) as i16
            } else if (i / 18) % 2 == 0 {
                32_767
            } else {
                -32_767
            }
        })
        .collect()
}

/// All `u16` frames of one continuous stream (fresh front end), fed in uneven chunks.
fn stream_raw(audio: &[i16]) -> Vec<u16> {
    let mut fe = FrontEnd::new();
    let mut out = Vec::new();
    for chunk in audio.chunks(257) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let (used, frame) = fe.process_samples_raw(rest);
            rest = &rest[used..];
            if let Some(f) = frame {
                out.extend_from_slice(&f);
            }
        }
    }
    out
}

// ---- front end ----

#[test]
fn frontend_matches_tensorflow_microfrontend_bit_exactly() {
    let refs = references();
    assert_eq!(
        refs.len(),
        CLIPS.len() + 1,
        "a reference per clip plus the stress signal"
    );
    let (mut values, mut raw_diff, mut int8_diff, mut max_diff) = (0usize, 0usize, 0usize, 0u32);
    for r in &refs {
        let audio = if r.name == "stress" {
            stress_signal()
        } else {
            read_wav(&crate_dir().join("tests/audio").join(&r.name))
        };
        assert_eq!(audio.len(), r.samples, "{}", r.name);
        let raw = stream_raw(&audio);
        assert_eq!(raw.len(), r.frames * NUM_CHANNELS, "{}", r.name);
        for (i, (&mine, &want)) in raw.iter().zip(&r.raw).enumerate() {
            let d = u32::from(mine.abs_diff(want));
            if d != 0 && raw_diff < 10 {
                eprintln!(
                    "{} frame {} channel {}: {mine} vs {want}",
                    r.name,
                    i / 40,
                    i % 40
                );
            }
            raw_diff += usize::from(d != 0);
            max_diff = max_diff.max(d);
            int8_diff += usize::from(quantize(mine) != r.int8[i]);
        }
        values += raw.len();
    }
    println!(
        "front end vs reference: {values} values, {raw_diff} u16 and {int8_diff} int8 differ, \
         max |diff| {max_diff}"
    );
    assert_eq!((raw_diff, int8_diff), (0, 0));
}

#[test]
fn compute_clip_gives_the_reference_int8_features() {
    let mut fe = FrontEnd::new();
    let mut features = [0i8; FEATURE_LEN];
    for r in references().iter().filter(|r| r.name != "stress") {
        let audio = read_wav(&crate_dir().join("tests/audio").join(&r.name));
        // The front end is reused: compute_clip resets it, as each training clip started fresh.
        fe.compute_clip(&audio, &mut features).unwrap();
        assert_eq!(&features[..], &r.int8[..], "{}", r.name);
    }
    assert!(fe.compute_clip(&[0; CLIP_LEN - 1], &mut features).is_err());
}

#[test]
fn frontend_frames_arrive_every_stride_after_the_first_window() {
    let mut fe = FrontEnd::new();
    let audio = clip("yes_m");
    let mut at = Vec::new();
    let mut pos = 0;
    while pos < audio.len() {
        let (used, frame) = fe.process_samples(&audio[pos..]);
        pos += used;
        if frame.is_some() {
            at.push(pos);
        }
    }
    assert_eq!(at.len(), 49);
    assert_eq!(at[0], WINDOW_LEN);
    assert!(at.windows(2).all(|w| w[1] - w[0] == 320));
}

// ---- micro_speech on the clips ----

fn classify(features: &[i8; FEATURE_LEN]) -> [i8; 4] {
    let model = Model::new(MODEL).unwrap();
    let mut arena = [0u8; 8 * 1024];
    let mut interp = Interpreter::new(&model, &mut arena).unwrap();
    interp.input_mut(0).unwrap().copy_from_slice(features);
    interp.invoke().unwrap();
    interp.output(0).unwrap().try_into().unwrap()
}

fn expected(name: &str) -> Option<Label> {
    match name {
        "yes_m" | "yes_f" => Some(Label::Yes),
        "no_m" | "no_f" => Some(Label::No),
        _ => None,
    }
}

#[test]
fn micro_speech_classifies_centred_clips() {
    let mut fe = FrontEnd::new();
    let mut features = [0i8; FEATURE_LEN];
    for name in CLIPS {
        fe.compute_clip(&clip(name), &mut features).unwrap();
        let scores = classify(&features);
        let top = Label::ALL
            .into_iter()
            .max_by_key(|l| (scores[l.index()], std::cmp::Reverse(l.index())))
            .unwrap();
        println!("{name}: scores {scores:?} -> {}", top.name());
        match (name, expected(name)) {
            (_, Some(label)) => assert_eq!(top, label, "{name}"),
            ("up" | "down", None) => assert_eq!(top, Label::Unknown, "{name}"),
            ("noise", None) => assert_eq!(top, Label::Silence, "{name}"),
            // Digital silence gives the floor feature everywhere; the model spreads its
            // probability evenly (64 = 1/4 each), which is not a keyword.
            _ => assert!(!top.is_keyword() || scores[top.index()] < 0, "{name}"),
        }
    }
}

/// Streams `audio` through `spotter` in 160-sample chunks, returning detections and, per label,
/// the highest averaged score seen.
fn run(spotter: &mut KeywordSpotter<'_, '_>, audio: &[i16]) -> (Vec<Detection>, [u8; 4]) {
    let mut detections = Vec::new();
    let mut best = [0u8; 4];
    for chunk in audio.chunks(160) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let step = spotter.process_samples(rest).unwrap();
            rest = &rest[step.consumed..];
            detections.extend(step.detection);
            if let Some(avg) = spotter.average_scores() {
                for (b, a) in best.iter_mut().zip(avg) {
                    *b = (*b).max(a);
                }
            }
        }
    }
    (detections, best)
}

/// `before` ms of silence, the clip, `after` ms of silence.
fn padded(name: &str, before: usize, after: usize) -> Vec<i16> {
    let mut v = vec![0i16; before * 16];
    v.extend(clip(name));
    v.extend(std::iter::repeat_n(0, after * 16));
    v
}

#[test]
fn spotter_detects_each_keyword_once_and_nothing_else() {
    let model = Model::new(MODEL).unwrap();
    let mut arena = [0u8; 6_000];
    let mut spotter = KeywordSpotter::new(&model, &mut arena, SpotterConfig::default()).unwrap();
    for name in CLIPS {
        spotter.reset();
        let (detections, best) = run(&mut spotter, &padded(name, 1000, 1500));
        let summary: Vec<_> = detections
            .iter()
            .map(|d| format!("{} {} at {} ms", d.label.name(), d.score, d.at_ms))
            .collect();
        println!("{name}: detections {summary:?}; best average {best:?}");
        match expected(name) {
            Some(label) => {
                assert_eq!(detections.len(), 1, "{name}: {summary:?}");
                assert_eq!(detections[0].label, label, "{name}");
                // The word sits at 1000..2000 ms; the window must have seen most of it.
                assert!(
                    (1500..=3000).contains(&detections[0].at_ms),
                    "{name}: {summary:?}"
                );
            }
            None => assert!(detections.is_empty(), "{name}: {summary:?}"),
        }
    }
}

const SEQUENCE: [&str; 8] = [
    "yes_m", "up", "no_f", "silence", "yes_f", "down", "no_m", "noise",
];

/// The clips of [`SEQUENCE`], each after 1 s of `background`, with 1 s of it at the end; returns
/// the audio and each clip's start in ms.
fn sequence(background: &[i16]) -> (Vec<i16>, Vec<u64>) {
    let (mut audio, mut starts) = (Vec::new(), Vec::new());
    for name in SEQUENCE {
        audio.extend_from_slice(background);
        starts.push(audio.len() as u64 / 16);
        audio.extend(clip(name));
    }
    audio.extend_from_slice(background);
    (audio, starts)
}

/// Checks that every detection is the keyword of a clip, reported within 2 s of the clip's
/// start, at most once per clip; returns how many keyword clips were detected.
fn check_detections(detections: &[Detection], starts: &[u64]) -> usize {
    let mut found = 0;
    for (name, &start) in SEQUENCE.iter().zip(starts) {
        let here: Vec<_> = detections
            .iter()
            .filter(|d| (start..start + 2_000).contains(&d.at_ms))
            .collect();
        match expected(name) {
            Some(label) => {
                assert!(
                    here.len() <= 1 && here.iter().all(|d| d.label == label),
                    "{name}: {here:?}"
                );
                found += here.len();
            }
            None => assert!(here.is_empty(), "{name}: {here:?}"),
        }
    }
    let attributed: usize = starts
        .iter()
        .map(|&s| {
            detections
                .iter()
                .filter(|d| (s..s + 2_000).contains(&d.at_ms))
                .count()
        })
        .sum();
    assert_eq!(
        attributed,
        detections.len(),
        "detections outside any clip: {detections:?}"
    );
    found
}

#[test]
fn spotter_follows_a_sequence_and_gates_the_uplink() {
    let model = Model::new(MODEL).unwrap();
    let mut arena = [0u8; 6_000];
    let mut spotter = KeywordSpotter::new(&model, &mut arena, SpotterConfig::default()).unwrap();
    let (audio, starts) = sequence(&[0; 16_000]);

    let mut gate = UplinkGate::new(2_000);
    let (mut detections, mut streamed_ms) = (Vec::new(), 0u64);
    for chunk in audio.chunks(320) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let step = spotter.process_samples(rest).unwrap();
            if let Some(d) = step.detection {
                gate.open(&d);
                detections.push(d);
            }
            if gate.is_open(spotter.now_ms()) {
                streamed_ms += step.consumed as u64 / 16;
            }
            rest = &rest[step.consumed..];
        }
    }
    let labels: Vec<_> = detections.iter().map(|d| d.label).collect();
    println!(
        "sequence: {detections:?}; streamed {streamed_ms} ms of {} ms",
        audio.len() / 16
    );
    assert_eq!(labels, [Label::Yes, Label::No, Label::Yes, Label::No]);
    assert_eq!(check_detections(&detections, &starts), 4);
    // Only the 2 s after each detection go up: 8 s of the 17 s.
    assert!((7_900..=8_000).contains(&streamed_ms), "{streamed_ms}");
}

#[test]
fn spotter_in_background_noise_makes_no_false_detections() {
    let model = Model::new(MODEL).unwrap();
    let mut arena = [0u8; 6_000];
    let mut spotter = KeywordSpotter::new(&model, &mut arena, SpotterConfig::default()).unwrap();
    // White noise at about -28 dBFS RMS between the clips (and mixed into nothing else).
    let background: Vec<i16> = clip("noise").iter().map(|&s| s / 4).collect();
    let (audio, starts) = sequence(&background);
    let (detections, _) = run(&mut spotter, &audio);
    let found = check_detections(&detections, &starts);
    println!("sequence in noise: {detections:?}");
    // Measured: yes_f, no_f and no_m are found; the male "yes" is missed in this noise.
    assert!(found >= 3, "{found} of 4 keywords found");

    // Noise alone, from loud to faint, with a cut to digital silence and back: nothing.
    for div in [1, 4, 16, 256] {
        spotter.reset();
        let mut audio: Vec<i16> = (0..5)
            .flat_map(|_| clip("noise"))
            .map(|s| s / div)
            .collect();
        audio.extend(std::iter::repeat_n(0, 16_000));
        audio.extend(clip("noise").iter().map(|&s| s / div));
        let (detections, best) = run(&mut spotter, &audio);
        assert!(detections.is_empty(), "noise / {div}: {detections:?}");
        println!("noise / {div}: no detection, best average {best:?}");
    }
}

#[test]
fn spotter_runs_without_heap_in_a_small_arena() {
    let model = Model::new(MODEL).unwrap();
    let required = model.arena_size_required();
    println!(
        "micro_speech arena: {required} bytes; spotter state {} bytes, front end {} bytes",
        std::mem::size_of::<KeywordSpotter<'_, '_>>(),
        std::mem::size_of::<FrontEnd>()
    );
    let audio = padded("no_m", 1000, 1000);
    let mut arena = [0u8; 6_000];
    assert!(required <= arena.len());

    let before = allocations();
    let mut spotter = KeywordSpotter::new(&model, &mut arena, SpotterConfig::default()).unwrap();
    let mut detected = None;
    for chunk in audio.chunks(160) {
        let mut rest = chunk;
        while !rest.is_empty() {
            let step = spotter.process_samples(rest).unwrap();
            detected = detected.or(step.detection.map(|d| d.label));
            rest = &rest[step.consumed..];
        }
    }
    let allocated = allocations() - before;
    assert_eq!(allocated, 0, "the spotter allocated");
    assert_eq!(detected, Some(Label::No));

    let mut small = vec![0u8; required - 1];
    assert!(KeywordSpotter::new(&model, &mut small, SpotterConfig::default()).is_err());
}
