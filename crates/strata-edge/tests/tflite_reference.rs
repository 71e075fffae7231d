//! Bit-exactness of the int8 engine against the TensorFlow Lite Micro reference interpreter.
//!
//! Inputs are derived from seeds with a splitmix64 generator implemented identically in
//! `scripts/gen_tflite_vectors.py`; the committed files in `tests/vectors/tflite_*.json` hold the
//! reference outputs that `tflite-micro` produced for them. Every output byte must match.
//!
//! Set `STRATA_TFLM_LIVE=1` to regenerate the reference outputs with the installed `tflite-micro`
//! (`pip install --pre tflite-micro`) into a temporary directory and check against those as
//! well (`STRATA_TFLM_LIVE_SCALE` scales the sample counts, default 1).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers panic on bad fixtures

use std::path::{Path, PathBuf};

use strata_edge::tflite::{Error, Interpreter, Model};

fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models")
}

fn load(name: &str) -> Vec<u8> {
    let p = models_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// splitmix64 output `k` (1-based) for a stream started at `seed`.
fn splitmix64(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(k.wrapping_mul(GOLDEN));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Same input generator as `make_input` in scripts/gen_tflite_vectors.py.
fn make_input(seed: u64, out: &mut [i8]) {
    let a = splitmix64(seed, 1) as u8 as i8;
    let b = splitmix64(seed, 2) as u8 as i8;
    let (lo, hi) = (i64::from(a.min(b)), i64::from(a.max(b)));
    let span = (hi - lo + 1) as u64;
    for (i, v) in out.iter_mut().enumerate() {
        let r = splitmix64(seed, i as u64 + 3);
        *v = (lo + ((r >> 32) % span) as i64) as i8;
    }
}

fn from_hex(s: &str) -> Vec<i8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap() as i8)
        .collect()
}

struct Vectors {
    model: String,
    model_dir: String,
    float_input: bool,
    float_output: bool,
    base_seed: u64,
    count: usize,
    output_len: usize,
    outputs: Vec<i8>,
}

fn read_vectors(path: &Path) -> Vectors {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    Vectors {
        model: v["model"].as_str().unwrap().to_owned(),
        model_dir: v["model_dir"].as_str().unwrap().to_owned(),
        float_input: v["input_type"] == "float32",
        float_output: v["output_type"] == "float32",
        base_seed: v["base_seed"].as_u64().unwrap(),
        count: v["count"].as_u64().unwrap() as usize,
        output_len: v["output_len"].as_u64().unwrap() as usize,
        outputs: from_hex(v["outputs_hex"].as_str().unwrap()),
    }
}

/// Runs every vector of `file` and returns how many were checked.
fn check_file(path: &Path) -> usize {
    let vectors = read_vectors(path);
    let bytes = if vectors.model_dir == "shared" {
        load(&vectors.model)
    } else {
        std::fs::read(vectors_dir().join(&vectors.model)).unwrap()
    };
    let model = Model::new(&bytes).unwrap();
    let mut arena = vec![0u8; model.arena_size_required()];
    let mut interp = Interpreter::new(&model, &mut arena).unwrap();
    let out_bytes = vectors.output_len * if vectors.float_output { 4 } else { 1 };
    assert_eq!(vectors.outputs.len(), vectors.count * out_bytes);
    let input_len = model.input_info(0).unwrap().shape.num_elements();
    let mut input = vec![0i8; input_len];
    let mut got_f32 = vec![0f32; vectors.output_len];
    let mut mismatches = 0;
    for i in 0..vectors.count {
        let seed = vectors.base_seed + i as u64;
        make_input(seed, &mut input);
        if vectors.float_input {
            let f: Vec<f32> = input.iter().map(|&v| f32::from(v) * 0.0625).collect();
            interp.set_input_f32(0, &f).unwrap();
        } else {
            interp.input_mut(0).unwrap().copy_from_slice(&input);
        }
        interp.invoke().unwrap();
        let got: Vec<i8> = if vectors.float_output {
            interp.output_f32(0, &mut got_f32).unwrap();
            got_f32
                .iter()
                .flat_map(|f| f.to_le_bytes())
                .map(|b| b as i8)
                .collect()
        } else {
            interp.output(0).unwrap().to_vec()
        };
        let want = &vectors.outputs[i * out_bytes..(i + 1) * out_bytes];
        if got != want {
            mismatches += 1;
            if mismatches <= 5 {
                eprintln!("{} seed {seed}: got {got:?}, want {want:?}", vectors.model);
            }
        }
    }
    assert_eq!(
        mismatches, 0,
        "{}: {mismatches} of {} outputs differ from TFLM",
        vectors.model, vectors.count
    );
    vectors.count
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn vector_path(stem: &str) -> PathBuf {
    vectors_dir().join(format!("tflite_{stem}.json"))
}

#[test]
fn hello_world_bit_exact_with_tflm() {
    assert_eq!(check_file(&vector_path("hello_world_int8")), 2000);
}

#[test]
fn micro_speech_bit_exact_with_tflm() {
    assert_eq!(check_file(&vector_path("micro_speech_quantized")), 2000);
}

#[test]
fn person_detect_bit_exact_with_tflm() {
    assert_eq!(check_file(&vector_path("person_detect")), 1000);
}

/// QUANTIZE (float and int8 input), MUL with broadcasting, ADD, fused RELU/RELU6, MAX_POOL_2D,
/// LOGISTIC and DEQUANTIZE; float outputs compared bit for bit.
#[test]
fn synthetic_elementwise_bit_exact_with_tflm() {
    assert_eq!(check_file(&vector_path("synthetic_elementwise")), 300);
}

/// Strided VALID convolution, dilated SAME depthwise with depth multiplier 2, SAME average
/// pool, bias-less per-tensor 1x1 convolution, RESHAPE, FULLY_CONNECTED, SOFTMAX with beta 0.7.
#[test]
fn synthetic_conv_bit_exact_with_tflm() {
    assert_eq!(check_file(&vector_path("synthetic_conv")), 1000);
}

/// The documented zero-input outputs (models/README.md).
#[test]
fn zero_input_outputs_match_readme() {
    for (name, want) in [
        ("person_detect.tflite", &[72i8, -72][..]),
        ("micro_speech_quantized.tflite", &[-128, -121, -120, 113]),
        ("hello_world_int8.tflite", &[4]),
    ] {
        let bytes = load(name);
        let model = Model::new(&bytes).unwrap();
        let mut arena = vec![0u8; model.arena_size_required()];
        let mut interp = Interpreter::new(&model, &mut arena).unwrap();
        interp.input_mut(0).unwrap().fill(0);
        interp.invoke().unwrap();
        assert_eq!(interp.output(0).unwrap(), want, "{name}");
    }
}

#[test]
fn arena_sizes_are_reported_and_enforced() {
    // (model, our arena, TFLM's arena as reported by tflite-micro's RecordingMicroAllocator).
    // Person detection: the two largest simultaneously live activations (18,432 + 36,864
    // bytes, exactly TFLM's planned "head") plus a 4-byte offset per tensor.
    for (name, expected, tflm) in [
        ("person_detect.tflite", 55_652, 85_264),
        ("micro_speech_quantized.tflite", 6_000, 7_584),
        ("hello_world_int8.tflite", 72, 1_504),
    ] {
        let bytes = load(name);
        let model = Model::new(&bytes).unwrap();
        let need = model.arena_size_required();
        println!("{name}: arena_size_required = {need} (TFLM {tflm})");
        assert_eq!(need, expected, "{name}");
        assert!(need * 10 <= tflm * 8, "{name}: more than 0.8x TFLM's arena");
        let mut small = vec![0u8; need - 1];
        assert_eq!(
            Interpreter::new(&model, &mut small).unwrap_err(),
            Error::ArenaTooSmall {
                required: need,
                provided: need - 1
            }
        );
    }
}

/// Regenerates the reference outputs with the installed tflite-micro and checks against them.
#[test]
fn live_tflm_reference() {
    if std::env::var("STRATA_TFLM_LIVE").map_or(true, |v| v != "1") {
        eprintln!("skipped: set STRATA_TFLM_LIVE=1 to compare against a live tflite-micro");
        return;
    }
    let scale = std::env::var("STRATA_TFLM_LIVE_SCALE").unwrap_or_else(|_| "1".into());
    let out = std::env::temp_dir().join(format!("strata-edge-tflm-{}", std::process::id()));
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new("python3")
        .arg(crate_dir.join("scripts/gen_tflite_vectors.py"))
        .arg("--out")
        .arg(&out)
        .arg("--models")
        .arg(models_dir())
        .arg("--scale")
        .arg(&scale)
        .status()
        .expect("running python3");
    assert!(status.success(), "gen_tflite_vectors.py failed");
    let mut total = 0;
    for stem in [
        "hello_world_int8",
        "micro_speech_quantized",
        "person_detect",
    ] {
        total += check_file(&out.join(format!("tflite_{stem}.json")));
    }
    std::fs::remove_dir_all(&out).ok();
    assert!(total > 0);
}
