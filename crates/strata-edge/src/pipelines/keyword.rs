//! Keyword spotting with micro_speech: 16 kHz audio in, one [`Detection`] per "yes" or "no".
//!
//! ```text
//!  i16 audio ─► FrontEnd ─► 49-frame sliding window ─► micro_speech every N strides
//!               (40 int8 features per 20 ms)   (1 s)      (silence, unknown, yes, no)
//!  ─► scores averaged over 0.5 s ─► threshold, minimum count, suppression ─► Detection
//! ```
//!
//! [`KeywordSpotter`] owns the [`FrontEnd`] and an [`Interpreter`] in an arena the caller
//! provides (`static` or stack; at least [`Model::arena_size_required`], 6,000 bytes for
//! micro_speech), and allocates nothing; the spotter itself is about 4 KB (front end, feature
//! window, score history). The smoothing follows TFLM's `RecognizeCommands`:
//! results older than the averaging window are dropped, fewer than `minimum_count` results (or
//! less than a quarter window of them) decide nothing, and a keyword whose average score
//! (0..=255, int8 + 128) exceeds the threshold is reported unless the same keyword was reported
//! within the suppression time. Only keywords (yes, no) are reported; silence and unknown never.
//!
//! # Streaming only after a detection
//! The device sends nothing while it only hears silence, noise or other words: the spotter
//! consumes the audio and reports nothing. A [`Detection`] is the one event worth sending, and
//! it opens an [`UplinkGate`]: for a few seconds after it the application may stream what
//! follows (raw audio, or the front end's features) to a server-side recogniser; when the gate
//! closes the device falls silent again. Audio from before the detection is never sent.
//!
//! ```no_run
//! use strata_edge::pipelines::keyword::{KeywordSpotter, SpotterConfig, UplinkGate};
//! use strata_edge::tflite::Model;
//!
//! static MODEL: &[u8] = &[]; // include_bytes!("micro_speech_quantized.tflite")
//! let model = Model::new(MODEL)?;
//! let mut arena = [0u8; 6_000];
//! let mut spotter = KeywordSpotter::new(&model, &mut arena, SpotterConfig::default())?;
//! let mut gate = UplinkGate::new(3_000);
//! let chunk = [0i16; 512]; // from the microphone
//! let mut rest = &chunk[..];
//! while !rest.is_empty() {
//!     let step = spotter.process_samples(rest)?;
//!     if let Some(d) = step.detection {
//!         gate.open(&d); // send `d` now
//!     }
//!     if gate.is_open(spotter.now_ms()) {
//!         // stream &rest[..step.consumed] (or the features) here
//!     }
//!     rest = &rest[step.consumed..];
//! }
//! # Ok::<(), strata_edge::tflite::Error>(())
//! ```

use crate::dsp::frontend::{FEATURE_LEN, FrontEnd, NUM_CHANNELS, NUM_FRAMES, SAMPLE_RATE_HZ};
use crate::tflite::{Error, Interpreter, Model};

/// micro_speech's classes, in the order of its output tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    /// No speech.
    Silence,
    /// Speech, but not a keyword.
    Unknown,
    /// The keyword "yes".
    Yes,
    /// The keyword "no".
    No,
}

impl Label {
    /// All labels in output-tensor order.
    pub const ALL: [Label; 4] = [Label::Silence, Label::Unknown, Label::Yes, Label::No];

    /// Index of the label in the model's output.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The label as micro_speech names it.
    pub const fn name(self) -> &'static str {
        match self {
            Label::Silence => "silence",
            Label::Unknown => "unknown",
            Label::Yes => "yes",
            Label::No => "no",
        }
    }

    /// Whether the label is a keyword (reported as a [`Detection`]).
    pub const fn is_keyword(self) -> bool {
        matches!(self, Label::Yes | Label::No)
    }
}

/// A keyword heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detection {
    /// The keyword.
    pub label: Label,
    /// Its score averaged over the window, `0..=255` (int8 output + 128).
    pub score: u8,
    /// Audio time of the detection: milliseconds of audio consumed since the spotter started.
    pub at_ms: u64,
}

/// What [`KeywordSpotter::process_samples`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct Step {
    /// Samples consumed; processing stops right after a detection, so call again with the rest.
    pub consumed: usize,
    /// The keyword detected at the end of the consumed samples, if any.
    pub detection: Option<Detection>,
}

/// Smoothing and scheduling of a [`KeywordSpotter`].
///
/// The defaults are TFLM micro_speech's `RecognizeCommands` values (threshold 200, suppression
/// 1500 ms, minimum count 3) except the averaging window: 500 ms instead of 1000 ms, because a
/// spoken word keeps micro_speech's score high for only about half a second of window positions,
/// so a 1 s average misses words in noise (measured on the synthesised test clips).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpotterConfig {
    infer_every: u8,
    average_window_ms: u32,
    threshold: u8,
    suppression_ms: u32,
    minimum_count: u8,
}

impl Default for SpotterConfig {
    fn default() -> Self {
        SpotterConfig {
            infer_every: 3,
            average_window_ms: 500,
            threshold: 200,
            suppression_ms: 1500,
            minimum_count: 3,
        }
    }
}

impl SpotterConfig {
    /// Run the model every `strides` front-end strides of 20 ms (default 3, i.e. every 60 ms;
    /// at least 1). Each inference costs about 4.8 M instructions.
    pub fn infer_every(&mut self, strides: u8) -> &mut Self {
        self.infer_every = strides.max(1);
        self
    }

    /// Average scores over the results of the last `ms` milliseconds (default 500; at most
    /// [`HISTORY_LEN`] results are kept).
    pub fn average_window_ms(&mut self, ms: u32) -> &mut Self {
        self.average_window_ms = ms;
        self
    }

    /// Report a keyword when its average score (`0..=255`) exceeds `score` (default 200).
    pub fn threshold(&mut self, score: u8) -> &mut Self {
        self.threshold = score;
        self
    }

    /// Do not report the same keyword again within `ms` milliseconds (default 1500).
    pub fn suppression_ms(&mut self, ms: u32) -> &mut Self {
        self.suppression_ms = ms;
        self
    }

    /// Decide nothing with fewer than `count` results in the window (default 3).
    pub fn minimum_count(&mut self, count: u8) -> &mut Self {
        self.minimum_count = count;
        self
    }
}

/// Most inference results kept for averaging (1 s at one inference per 20 ms stride).
pub const HISTORY_LEN: usize = 50;

#[derive(Debug, Clone, Copy, Default)]
struct Scored {
    at_ms: u64,
    scores: [i8; 4],
}

/// Streaming micro_speech keyword spotter; see the [module docs](self).
pub struct KeywordSpotter<'m, 'r> {
    interpreter: Interpreter<'m, 'r>,
    frontend: FrontEnd,
    config: SpotterConfig,
    /// The last [`NUM_FRAMES`] feature frames, oldest first.
    features: [i8; FEATURE_LEN],
    frames: u64,
    samples: u64,
    history: [Scored; HISTORY_LEN],
    history_start: usize,
    history_len: usize,
    last_scores: Option<[i8; 4]>,
    average: Option<[u8; 4]>,
    last_detection: Option<(Label, u64)>,
}

impl core::fmt::Debug for KeywordSpotter<'_, '_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KeywordSpotter")
            .field("config", &self.config)
            .field("now_ms", &self.now_ms())
            .field("last_scores", &self.last_scores)
            .field("average", &self.average)
            .finish_non_exhaustive()
    }
}

impl<'m, 'r> KeywordSpotter<'m, 'r> {
    /// A spotter running `model` (micro_speech: int8 input of [`FEATURE_LEN`], int8 output of
    /// 4 scores) in `arena`.
    ///
    /// # Errors
    /// [`Error::ArenaTooSmall`]; [`Error::TypeMismatch`] or [`Error::LengthMismatch`] if the
    /// model's input or output is not micro_speech's.
    pub fn new(
        model: &Model<'m>,
        arena: &'r mut [u8],
        config: SpotterConfig,
    ) -> Result<Self, Error> {
        let mut interpreter = Interpreter::new(model, arena)?;
        let inputs = interpreter.input_mut(0)?.len();
        if inputs != FEATURE_LEN {
            return Err(Error::LengthMismatch {
                expected: FEATURE_LEN,
                actual: inputs,
            });
        }
        let outputs = interpreter.output(0)?.len();
        if outputs != Label::ALL.len() {
            return Err(Error::LengthMismatch {
                expected: Label::ALL.len(),
                actual: outputs,
            });
        }
        Ok(KeywordSpotter {
            interpreter,
            frontend: FrontEnd::new(),
            config,
            features: [0; FEATURE_LEN],
            frames: 0,
            samples: 0,
            history: [Scored::default(); HISTORY_LEN],
            history_start: 0,
            history_len: 0,
            last_scores: None,
            average: None,
            last_detection: None,
        })
    }

    /// Feeds 16 kHz mono samples (any chunk size). Returns after all of `samples` or right
    /// after a detection, whichever is first; [`Step::consumed`] says how far it got.
    ///
    /// # Errors
    /// Only inference errors, which a model accepted by [`new`](Self::new) does not produce.
    pub fn process_samples(&mut self, samples: &[i16]) -> Result<Step, Error> {
        let mut consumed = 0;
        while consumed < samples.len() {
            let (used, frame) = self.frontend.process_samples(&samples[consumed..]);
            consumed += used;
            self.samples += used as u64;
            if let Some(frame) = frame
                && let Some(detection) = self.on_frame(&frame)?
            {
                return Ok(Step {
                    consumed,
                    detection: Some(detection),
                });
            }
        }
        Ok(Step {
            consumed,
            detection: None,
        })
    }

    /// Milliseconds of audio consumed so far (the clock of [`Detection::at_ms`]).
    pub fn now_ms(&self) -> u64 {
        self.samples * 1000 / u64::from(SAMPLE_RATE_HZ)
    }

    /// The model's output at the latest inference (`None` before the first full second).
    pub fn last_scores(&self) -> Option<[i8; 4]> {
        self.last_scores
    }

    /// Scores (`0..=255`) averaged over the window at the latest inference, once the window
    /// holds enough results to decide.
    pub fn average_scores(&self) -> Option<[u8; 4]> {
        self.average
    }

    /// The current 49x40 feature window (oldest frame first), as last given to the model.
    pub fn features(&self) -> &[i8; FEATURE_LEN] {
        &self.features
    }

    /// Forgets all audio, features and results (the model and arena stay).
    pub fn reset(&mut self) {
        self.frontend.reset();
        self.features = [0; FEATURE_LEN];
        self.frames = 0;
        self.samples = 0;
        self.history_start = 0;
        self.history_len = 0;
        self.last_scores = None;
        self.average = None;
        self.last_detection = None;
    }

    fn on_frame(&mut self, frame: &[i8; NUM_CHANNELS]) -> Result<Option<Detection>, Error> {
        self.features.copy_within(NUM_CHANNELS.., 0);
        self.features[FEATURE_LEN - NUM_CHANNELS..].copy_from_slice(frame);
        self.frames += 1;
        let full = NUM_FRAMES as u64;
        if self.frames < full
            || !(self.frames - full).is_multiple_of(u64::from(self.config.infer_every))
        {
            return Ok(None);
        }
        self.interpreter
            .input_mut(0)?
            .copy_from_slice(&self.features);
        self.interpreter.invoke()?;
        let mut scores = [0i8; 4];
        scores.copy_from_slice(self.interpreter.output(0)?);
        self.last_scores = Some(scores);
        Ok(self.recognize(self.now_ms(), scores))
    }

    /// TFLM's `RecognizeCommands`, reporting keywords only.
    fn recognize(&mut self, now: u64, scores: [i8; 4]) -> Option<Detection> {
        if self.history_len == HISTORY_LEN {
            self.history_start = (self.history_start + 1) % HISTORY_LEN;
            self.history_len -= 1;
        }
        self.history[(self.history_start + self.history_len) % HISTORY_LEN] =
            Scored { at_ms: now, scores };
        self.history_len += 1;
        let window = u64::from(self.config.average_window_ms);
        while self.history_len > 1 && self.history[self.history_start].at_ms + window < now {
            self.history_start = (self.history_start + 1) % HISTORY_LEN;
            self.history_len -= 1;
        }
        let oldest = self.history[self.history_start].at_ms;
        if self.history_len < usize::from(self.config.minimum_count) || now - oldest < window / 4 {
            self.average = None;
            return None;
        }
        let mut sums = [0u32; 4];
        for k in 0..self.history_len {
            let s = &self.history[(self.history_start + k) % HISTORY_LEN].scores;
            for (sum, &v) in sums.iter_mut().zip(s) {
                *sum += (i32::from(v) + 128) as u32;
            }
        }
        let average = sums.map(|s| (s / self.history_len as u32) as u8);
        self.average = Some(average);
        let mut top = Label::Silence;
        for label in Label::ALL {
            if average[label.index()] > average[top.index()] {
                top = label;
            }
        }
        let score = average[top.index()];
        if !top.is_keyword() || score <= self.config.threshold {
            return None;
        }
        if let Some((label, at)) = self.last_detection
            && label == top
            && now - at <= u64::from(self.config.suppression_ms)
        {
            return None;
        }
        self.last_detection = Some((top, now));
        Some(Detection {
            label: top,
            score,
            at_ms: now,
        })
    }
}

/// Opens the uplink for a while after each [`Detection`]; closed otherwise.
///
/// The clock is the spotter's audio time ([`KeywordSpotter::now_ms`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UplinkGate {
    duration_ms: u64,
    open_until_ms: Option<u64>,
}

impl UplinkGate {
    /// A closed gate that stays open `duration_ms` after each detection.
    pub const fn new(duration_ms: u64) -> Self {
        UplinkGate {
            duration_ms,
            open_until_ms: None,
        }
    }

    /// Opens (or extends) the gate from the detection's time.
    pub fn open(&mut self, detection: &Detection) {
        self.open_until_ms = Some(detection.at_ms + self.duration_ms);
    }

    /// Whether the application may stream at audio time `now_ms`.
    pub fn is_open(&self, now_ms: u64) -> bool {
        self.open_until_ms.is_some_and(|until| now_ms < until)
    }
}
