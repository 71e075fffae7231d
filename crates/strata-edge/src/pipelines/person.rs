//! Person detection on 96x96 grayscale frames with the person_detect model: the device
//! sends a score and a time, never the frame.

use crate::tflite::{self, Interpreter};

/// Frame width and height (pixels).
pub const SIDE: usize = 96;
/// Bytes of one 8-bit grayscale frame.
pub const FRAME_BYTES: usize = SIDE * SIDE;

/// The model's verdict on one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Probability that a person is in view (0..1).
    pub person: f32,
    /// The raw int8 outputs (no person, person), for logging bit-exact results.
    pub raw: [i8; 2],
}

impl Score {
    /// Whether the score passes a threshold.
    pub fn is_person(&self, threshold: f32) -> bool {
        self.person >= threshold
    }
}

/// Runs person_detect on a frame of 8-bit grayscale pixels (row-major, [`FRAME_BYTES`]).
///
/// # Errors
/// A frame of the wrong size, or an interpreter for a different model.
pub fn score(interpreter: &mut Interpreter<'_, '_>, frame: &[u8]) -> Result<Score, tflite::Error> {
    let input = interpreter.input_mut(0)?;
    if frame.len() != FRAME_BYTES || input.len() != FRAME_BYTES {
        return Err(tflite::Error::LengthMismatch {
            expected: input.len(),
            actual: frame.len(),
        });
    }
    // The model's input is int8 with zero point -128: pixel - 128.
    for (i, &p) in input.iter_mut().zip(frame) {
        *i = (i16::from(p) - 128) as i8;
    }
    interpreter.invoke()?;
    let out = interpreter.output(0)?;
    let [no_person, person, ..] = *out else {
        return Err(tflite::Error::LengthMismatch {
            expected: 2,
            actual: out.len(),
        });
    };
    let raw = [no_person, person];
    // Softmax output: scale 1/256, zero point -128.
    let person = (f32::from(raw[1]) + 128.0) / 256.0;
    Ok(Score { person, raw })
}

/// Turns per-frame scores into events: an event when presence changes (with hysteresis so
/// a flickering score does not flood the uplink).
#[derive(Debug, Clone)]
pub struct Presence {
    on: f32,
    off: f32,
    present: bool,
}

impl Presence {
    /// Presence starts at `on` and ends below `off` (`off < on`).
    pub fn new(on: f32, off: f32) -> Self {
        Self {
            on,
            off: off.min(on),
            present: false,
        }
    }

    /// Feeds one score; returns the new state when it changed.
    pub fn update(&mut self, score: &Score) -> Option<bool> {
        let next = if self.present {
            score.person >= self.off
        } else {
            score.person >= self.on
        };
        (next != self.present).then(|| {
            self.present = next;
            next
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(person: f32) -> Score {
        Score {
            person,
            raw: [0, 0],
        }
    }

    #[test]
    fn presence_has_hysteresis() {
        let mut p = Presence::new(0.7, 0.4);
        assert_eq!(p.update(&s(0.5)), None);
        assert_eq!(p.update(&s(0.8)), Some(true));
        assert_eq!(p.update(&s(0.5)), None);
        assert_eq!(p.update(&s(0.3)), Some(false));
    }
}
