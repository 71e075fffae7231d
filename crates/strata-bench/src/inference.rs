//! `strata bench inference`: the edge SDK's int8 engine side by side with the TensorFlow
//! Lite Micro interpreter (PyPI `tflite-micro`) on the same models and the same inputs:
//! instructions per inference under `valgrind --tool=callgrind` (deterministic, unlike
//! time on a shared machine), arena bytes, and whether the outputs are bit-exact.
//!
//! Each side runs as its own process under callgrind twice, with 1 and with 1 + `runs`
//! inferences; the difference divided by `runs` is the cost of one inference, without process
//! start, model loading or (for TFLM) the Python interpreter. TFLM's count includes copying
//! the input through its Python binding, a few thousand instructions.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use strata_edge::tflite::{Interpreter, Model};

/// The TFLM side: runs a model on the input file `n` times, prints the arena and the last
/// output (hex), like `inference-run` does for Strata.
const TFLM_RUNNER: &str = r#"
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
model, inputs, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
interp = runtime.Interpreter.from_file(model)
detail = interp.get_input_details(0)
data = np.frombuffer(open(inputs, "rb").read(), dtype=np.int8).reshape(detail["shape"])
for _ in range(n):
    interp.set_input(data, 0)
    interp.invoke()
out = interp.get_output(0).astype(np.int8).tobytes().hex()
sys.stdout.flush()
# The arena figure is printed by the C++ side on stdout.
interp.print_allocations()
print("output", out)
"#;

/// `strata bench inference` options.
#[derive(Debug, Args)]
pub struct InferenceArgs {
    /// Models to measure (default: person_detect and micro_speech from the edge SDK).
    #[arg(long = "model", value_name = "FILE")]
    models: Vec<PathBuf>,
    /// Extra inferences per measurement (the difference of two runs is divided by this).
    #[arg(long, default_value_t = 5)]
    runs: u32,
    /// Seed of the random input, the same for both engines.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Python with `tflite-micro` installed.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Also write the table as Markdown to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// `strata bench inference-run` (internal): runs one model `n` times on an input file.
#[derive(Debug, Args)]
pub struct RunArgs {
    model: PathBuf,
    input: PathBuf,
    n: u32,
}

/// One model's figures.
struct Row {
    name: String,
    strata_instructions: f64,
    tflm_instructions: f64,
    strata_arena: usize,
    tflm_arena: usize,
    bit_exact: bool,
}

/// Runs the comparison.
pub fn run(args: InferenceArgs) -> anyhow::Result<()> {
    let python = check_tools(&args.python)?;
    let models = if args.models.is_empty() {
        default_models()?
    } else {
        args.models.clone()
    };
    let exe = std::env::current_exe().context("cannot find the strata binary")?;
    let dir = tempfile_dir()?;
    let bar = ProgressBar::new(models.len() as u64 * 4);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} callgrind runs  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut rows = Vec::new();
    for model_path in &models {
        let name = model_path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        bar.set_message(name.clone());
        let bytes = std::fs::read(model_path)
            .with_context(|| format!("cannot read {}", model_path.display()))?;
        let model = Model::new(&bytes).with_context(|| format!("{name}: does not load"))?;
        let input_len = model.input_info(0)?.shape.num_elements();
        let input = dir.join(format!("{name}.input"));
        std::fs::write(&input, random_input(input_len, args.seed))?;
        let mut strata = Vec::new();
        let mut tflm = Vec::new();
        for n in [1, 1 + args.runs] {
            let mut ours = Command::new(&exe);
            ours.args(["bench", "inference-run"])
                .arg(model_path)
                .arg(&input)
                .arg(n.to_string());
            strata.push(callgrind(ours, &dir.join(format!("{name}.strata.{n}")))?);
            bar.inc(1);
            let mut theirs = Command::new(&python);
            theirs.env("PYTHONHASHSEED", "0");
            theirs
                .args(["-c", TFLM_RUNNER])
                .arg(model_path)
                .arg(&input)
                .arg(n.to_string());
            tflm.push(callgrind(theirs, &dir.join(format!("{name}.tflm.{n}")))?);
            bar.inc(1);
        }
        let per =
            |v: &[Measured]| (v[1].instructions - v[0].instructions) as f64 / f64::from(args.runs);
        rows.push(Row {
            name,
            strata_instructions: per(&strata),
            tflm_instructions: per(&tflm),
            strata_arena: model.arena_size_required(),
            tflm_arena: tflm[1].arena.unwrap_or(0),
            bit_exact: strata[1].output.is_some() && strata[1].output == tflm[1].output,
        });
    }
    bar.finish_and_clear();
    let table = markdown(&rows, args.runs);
    println!("{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if rows.iter().any(|r| !r.bit_exact) {
        bail!("outputs differ from TFLM: the engine is not bit-exact on these inputs");
    }
    Ok(())
}

/// The internal runner measured under callgrind.
pub fn run_model(args: RunArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.model)?;
    let input = std::fs::read(&args.input)?;
    let model = Model::new(&bytes)?;
    let mut arena = vec![0u8; model.arena_size_required()];
    let mut interp = Interpreter::new(&model, &mut arena)?;
    for _ in 0..args.n {
        for (d, s) in interp.input_mut(0)?.iter_mut().zip(&input) {
            *d = *s as i8;
        }
        interp.invoke()?;
    }
    let out: Vec<u8> = interp.output(0)?.iter().map(|&v| v as u8).collect();
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "Arena allocation total {} bytes",
        model.arena_size_required()
    )?;
    writeln!(stdout, "output {}", hex(&out))?;
    Ok(())
}

struct Measured {
    instructions: u64,
    arena: Option<usize>,
    output: Option<String>,
}

fn callgrind(command: Command, out_file: &Path) -> anyhow::Result<Measured> {
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(|a| a.to_owned()).collect();
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(&program)
        .args(&args)
        .output()
        .context("cannot run valgrind")?;
    // TFLM prints its arena figure on stderr, the runners their output on stdout.
    let stdout = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !output.status.success() {
        bail!(
            "{} failed under callgrind: {}",
            program.to_string_lossy(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    let profile = std::fs::read_to_string(out_file)
        .with_context(|| format!("callgrind wrote no {}", out_file.display()))?;
    let instructions = profile
        .lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("no instruction total in the callgrind profile")?;
    let arena = stdout.lines().find_map(|l| {
        let rest = l.split("Arena allocation total ").nth(1)?;
        rest.split_whitespace().next()?.parse().ok()
    });
    let output_hex = stdout
        .lines()
        .find_map(|l| l.strip_prefix("output ").map(str::to_string));
    Ok(Measured {
        instructions,
        arena,
        output: output_hex,
    })
}

fn markdown(rows: &[Row], runs: u32) -> String {
    let mut s = String::from(
        "| model | Strata instructions | TFLM instructions | ratio | Strata arena (bytes) | TFLM arena (bytes) | ratio | bit-exact |\n\
         |---|---:|---:|---:|---:|---:|---:|:-:|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {:.2} M | {:.2} M | {:.2}x | {} | {} | {:.2}x | {} |\n",
            r.name,
            r.strata_instructions / 1e6,
            r.tflm_instructions / 1e6,
            r.strata_instructions / r.tflm_instructions.max(1.0),
            r.strata_arena,
            r.tflm_arena,
            r.strata_arena as f64 / r.tflm_arena.max(1) as f64,
            if r.bit_exact { "yes" } else { "NO" },
        ));
    }
    s.push_str(&format!(
        "\nInstructions per inference: callgrind totals of 1 and {} inferences, difference / {runs}.\n",
        1 + runs
    ));
    s
}

/// Checks the tools and returns the Python executable itself (not a wrapper script such as
/// a pyenv shim, which callgrind would measure instead).
fn check_tools(python: &str) -> anyhow::Result<PathBuf> {
    let valgrind = Command::new("valgrind").arg("--version").output();
    if !valgrind.is_ok_and(|o| o.status.success()) {
        bail!("valgrind is missing: install it (Debian: apt-get install valgrind)");
    }
    let tflm = Command::new(python)
        .args(["-c", "import sys, tflite_micro; print(sys.executable)"])
        .output();
    match tflm {
        Ok(o) if o.status.success() => Ok(PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())),
        _ => bail!(
            "the TFLM reference is missing: pip install --pre tflite-micro (or pass --python)"
        ),
    }
}

fn default_models() -> anyhow::Result<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../strata-edge/models");
    let models: Vec<PathBuf> = ["person_detect.tflite", "micro_speech_quantized.tflite"]
        .iter()
        .map(|m| dir.join(m))
        .collect();
    if let Some(missing) = models.iter().find(|m| !m.exists()) {
        bail!(
            "{} not found; run from a Strata checkout or pass --model",
            missing.display()
        );
    }
    Ok(models)
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("strata-bench-inference-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Deterministic int8 input bytes (xorshift64*).
fn random_input(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_replay_from_the_seed() {
        assert_eq!(random_input(64, 3), random_input(64, 3));
        assert_ne!(random_input(64, 3), random_input(64, 4));
    }
}
