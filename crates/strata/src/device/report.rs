//! What a pipeline device prints: events as they happen and a closing report (bytes sent
//! against streaming raw data, detection accuracy against the simulation's ground truth),
//! as text or, with `--json`, one JSON object per line.

use std::io::Write as _;

use serde_json::{Value as Json, json};

/// Accuracy per class against the simulation's ground truth.
#[derive(Debug, Default)]
pub(crate) struct Confusion {
    labels: Vec<&'static str>,
    /// counts[truth][predicted]
    counts: Vec<Vec<u64>>,
}

impl Confusion {
    pub(crate) fn new(labels: &[&'static str]) -> Self {
        Self {
            labels: labels.to_vec(),
            counts: vec![vec![0; labels.len()]; labels.len()],
        }
    }

    pub(crate) fn record(&mut self, truth: usize, predicted: usize) {
        if let Some(cell) = self
            .counts
            .get_mut(truth)
            .and_then(|row| row.get_mut(predicted))
        {
            *cell += 1;
        }
    }

    fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    pub(crate) fn accuracy(&self) -> f64 {
        let correct: u64 = (0..self.labels.len()).map(|i| self.counts[i][i]).sum();
        correct as f64 / self.total().max(1) as f64
    }

    fn per_class(&self) -> Json {
        let mut out = serde_json::Map::new();
        for (i, label) in self.labels.iter().enumerate() {
            let n: u64 = self.counts[i].iter().sum();
            if n > 0 {
                out.insert(
                    (*label).into(),
                    json!({"samples": n, "recall": self.counts[i][i] as f64 / n as f64}),
                );
            }
        }
        Json::Object(out)
    }
}

/// The closing report of a pipeline run.
pub(crate) struct Report {
    pub pipeline: &'static str,
    /// What one unit of input is ("window", "frame", "second of audio").
    pub unit: &'static str,
    pub units: u64,
    /// Bytes the device would send streaming raw data.
    pub raw_bytes: u64,
    /// Bytes it sent (MQTT packets, headers included).
    pub sent_bytes: u64,
    pub messages: u64,
    pub confusion: Confusion,
    /// Mean inference time per unit on this machine (microseconds).
    pub inference_us: f64,
    /// Whether messages went to a server (false: offline run, bytes are what would be sent).
    pub online: bool,
}

impl Report {
    pub(crate) fn to_json(&self) -> Json {
        json!({
            "event": "report",
            "pipeline": self.pipeline,
            "unit": self.unit,
            "units": self.units,
            "raw_bytes": self.raw_bytes,
            "sent_bytes": self.sent_bytes,
            "messages": self.messages,
            "reduction": self.raw_bytes as f64 / self.sent_bytes.max(1) as f64,
            "accuracy": self.confusion.accuracy(),
            "per_class": self.confusion.per_class(),
            "inference_us": self.inference_us,
            "online": self.online,
        })
    }

    pub(crate) fn print(&self, json: bool) {
        if json {
            line(&self.to_json());
            return;
        }
        let reduction = self.raw_bytes as f64 / self.sent_bytes.max(1) as f64;
        println!(
            "{} pipeline: {} {}s processed",
            self.pipeline, self.units, self.unit
        );
        println!(
            "  sent     {:>12} bytes in {} messages{}",
            self.sent_bytes,
            self.messages,
            if self.online {
                ""
            } else {
                " (offline: not sent)"
            }
        );
        println!("  raw      {:>12} bytes if streamed", self.raw_bytes);
        println!("  saved    {:>12.1}x fewer bytes", reduction);
        println!(
            "  accuracy {:>12.1} % against the simulation's ground truth",
            100.0 * self.confusion.accuracy()
        );
        if let Json::Object(classes) = self.confusion.per_class() {
            for (label, v) in classes {
                println!(
                    "    {label:<12} recall {:>5.1} % of {}",
                    100.0 * v["recall"].as_f64().unwrap_or(0.0),
                    v["samples"]
                );
            }
        }
        println!(
            "  inference {:>11.0} µs per {} (this machine)",
            self.inference_us, self.unit
        );
    }
}

/// Milliseconds since the Unix epoch: the base of the devices' message timestamps.
pub(crate) fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A figure rounded to 3 decimals for a message.
pub(crate) fn round3(x: f32) -> f64 {
    (f64::from(x) * 1000.0).round() / 1000.0
}

/// Prints one JSON line and flushes, so a reader sees it at once.
pub(crate) fn line(value: &Json) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}
