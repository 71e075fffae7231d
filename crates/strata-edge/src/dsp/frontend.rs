//! The TensorFlow Lite Micro audio front end ("microfrontend") with micro_speech's settings:
//! 16 kHz `i16` audio in, 40 log-mel channels every 20 ms out, in fixed point.
//!
//! ```text
//!  i16 ─► 30 ms Hann window, 20 ms stride ─► 512-point int16 FFT ─► |X|² ─► 40 mel channels
//!        (480 / 320 samples)                 (KISS FFT fixed point)       (125–7500 Hz, Q12)
//!  ─► sqrt ─► noise reduction ─► PCAN gain control ─► log ─► u16 ─► micro_speech int8
//! ```
//!
//! [`FrontEnd`] follows the integer arithmetic of the reference C library
//! (`tensorflow/lite/experimental/microfrontend/lib`, which `audio_microfrontend` wraps and
//! micro_speech was trained on) step by step, including its 16-bit KISS FFT with per-stage
//! scaling, so its `u16` output is bit-exact with the reference (`tests/keyword.rs` checks the
//! committed clips against TensorFlow's op). Configuration is fixed to micro_speech's: window
//! 30 ms, stride 20 ms, 40 channels 125–7500 Hz, noise reduction (smoothing bits 10, even 0.025,
//! odd 0.06, minimum signal 0.05), PCAN (strength 0.95, offset 80, gain bits 21), log scale
//! shift 6.
//!
//! The tables (Hann window, filterbank weights, PCAN gain curve, FFT twiddles) are constants read
//! out of the reference by `scripts/gen_frontend_vectors.py`. The reference computes them at
//! start-up with float `cosf`/`log1pf`/`powf`, and four values sit within 0.005 of a rounding
//! boundary (window coefficient 17, the weights of bins 149, 221 and 225), where the last bit of
//! the libm decides; with Rust's `libm` they come out one higher, and every frame with energy
//! there differs. The state ([`FrontEnd`]) is 1.1 KB (pending samples, noise estimates) and
//! [`FrontEnd::new`] is a `const fn`, so a front end can be a `static`.

use super::{DspError, check_len};

/// Sample rate the front end is configured for, in Hz.
pub const SAMPLE_RATE_HZ: u32 = 16_000;
/// Window length in samples (30 ms).
pub const WINDOW_LEN: usize = 480;
/// Stride between windows in samples (20 ms): one feature frame per stride.
pub const STRIDE_LEN: usize = 320;
/// Mel channels per frame.
pub const NUM_CHANNELS: usize = 40;
/// Frames in micro_speech's input (1 s of audio).
pub const NUM_FRAMES: usize = 49;
/// Length of micro_speech's input tensor: [`NUM_FRAMES`] x [`NUM_CHANNELS`].
pub const FEATURE_LEN: usize = NUM_FRAMES * NUM_CHANNELS;
/// Samples in one clip for [`FrontEnd::compute_clip`] (1 s).
pub const CLIP_LEN: usize = 16_000;

const FFT_LEN: usize = 512;
/// Complex FFT length of the real transform (KISS FFT packs the real input in pairs).
const CFFT_LEN: usize = FFT_LEN / 2;
const SPECTRUM_LEN: usize = FFT_LEN / 2 + 1;

const WINDOW_BITS: u32 = 12;
const FILTERBANK_BITS: u32 = 12;

const NOISE_REDUCTION_BITS: u32 = 14;
const SMOOTHING_BITS: u32 = 10;
/// 0.025, 0.06 and 0.05 in Q14, truncated as the reference's float-to-integer conversion does.
const EVEN_SMOOTHING: u32 = 409;
const ODD_SMOOTHING: u32 = 983;
const MIN_SIGNAL_REMAINING: u32 = 819;

const PCAN_GAIN_BITS: i32 = 21;
const PCAN_SNR_BITS: u32 = 12;
const PCAN_OUTPUT_BITS: u32 = 6;

/// `log2(FFT_LEN) - FILTERBANK_BITS / 2`: the filterbank's fixed-point correction.
const CORRECTION_BITS: i32 = 9 - (FILTERBANK_BITS / 2) as i32;
/// `PCAN_GAIN_BITS - CORRECTION_BITS - PCAN_SNR_BITS`.
const SNR_SHIFT: i32 = PCAN_GAIN_BITS - CORRECTION_BITS - PCAN_SNR_BITS as i32;
const LOG_SCALE_SHIFT: u32 = 6;

const LOG_SCALE_BITS: u32 = 16;
const LOG_SEGMENTS_BITS: u32 = 7;
/// `ln(2)` in Q16.
const LOG_COEFF: u64 = 45_426;
/// `round(65536 * (log2(1 + i/128) - i/128))` for `i = 0..=128`, plus a zero pad: the
/// correction from the linear log2 approximation to the true mantissa log (unit-tested).
const LOG_LUT: [u16; 130] = [
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944,
    3087, 3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714,
    4791, 4864, 4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533,
    5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568,
    5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944,
    4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848, 3759,
    3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207, 2090,
    1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0, 0,
];

// ---- reference tables (`python3 scripts/gen_frontend_vectors.py --rust`) ----

/// First half of the Q12 Hann window `0.5 - 0.5 cos(2π(i + ½)/480)`, as the reference rounds
/// it (the window is symmetric).
const WINDOW_HALF: [i16; 240] = [
    0, 0, 1, 2, 4, 5, 7, 10, 13, 16, 19, 23, 27, 32, 37, 42, 48, 53, 60, 66, 73, 81, 88, 96, 104,
    113, 122, 131, 141, 151, 161, 172, 183, 194, 205, 217, 229, 242, 255, 268, 281, 295, 309, 323,
    338, 353, 368, 383, 399, 415, 431, 448, 465, 482, 499, 517, 535, 553, 572, 590, 609, 629, 648,
    668, 688, 708, 728, 749, 770, 791, 812, 833, 855, 877, 899, 921, 944, 967, 989, 1012, 1036,
    1059, 1083, 1106, 1130, 1154, 1178, 1203, 1227, 1252, 1277, 1302, 1327, 1352, 1377, 1402, 1428,
    1453, 1479, 1505, 1531, 1557, 1583, 1609, 1635, 1662, 1688, 1714, 1741, 1767, 1794, 1821, 1847,
    1874, 1901, 1927, 1954, 1981, 2008, 2035, 2061, 2088, 2115, 2142, 2169, 2195, 2222, 2249, 2275,
    2302, 2329, 2355, 2382, 2408, 2434, 2461, 2487, 2513, 2539, 2565, 2591, 2617, 2643, 2668, 2694,
    2719, 2744, 2769, 2794, 2819, 2844, 2869, 2893, 2918, 2942, 2966, 2990, 3013, 3037, 3060, 3084,
    3107, 3129, 3152, 3175, 3197, 3219, 3241, 3263, 3284, 3305, 3326, 3347, 3368, 3388, 3408, 3428,
    3448, 3467, 3487, 3506, 3524, 3543, 3561, 3579, 3597, 3614, 3631, 3648, 3665, 3681, 3697, 3713,
    3728, 3743, 3758, 3773, 3787, 3801, 3815, 3828, 3841, 3854, 3867, 3879, 3891, 3902, 3913, 3924,
    3935, 3945, 3955, 3965, 3974, 3983, 3992, 4000, 4008, 4015, 4023, 4030, 4036, 4043, 4048, 4054,
    4059, 4064, 4069, 4073, 4077, 4080, 4083, 4086, 4089, 4091, 4092, 4094, 4095, 4096, 4096,
];
/// The full window.
const WINDOW: [i16; WINDOW_LEN] = {
    let mut w = [0i16; WINDOW_LEN];
    let mut i = 0;
    while i < WINDOW_LEN / 2 {
        w[i] = WINDOW_HALF[i];
        w[WINDOW_LEN - 1 - i] = WINDOW_HALF[i];
        i += 1;
    }
    w
};

/// Mel band `b` (`0..=NUM_CHANNELS`, centres evenly spaced on the mel scale
/// `1127 ln(1 + f/700)` from 125 to 7500 Hz) covers FFT bins `BOUNDS[b]..BOUNDS[b + 1]`; DC and
/// everything above 7500 Hz are left out.
const BOUNDS: [u16; 42] = [
    5, 6, 8, 9, 11, 13, 15, 17, 19, 22, 24, 27, 30, 33, 36, 39, 43, 47, 50, 55, 59, 64, 69, 74, 79,
    85, 91, 98, 105, 112, 120, 128, 137, 146, 155, 166, 176, 188, 200, 213, 226, 241,
];
/// Q12 weight of bin `BOUNDS[0] + i` for its band (falling from 1 at the band's centre
/// frequency side); the next band gets `4096 - weight`. Output channel `c` sums band `c + 1`'s
/// weights and band `c`'s complements, i.e. triangular filters.
const WEIGHTS: [i16; 236] = [
    1377, 2852, 321, 1971, 3701, 1408, 3281, 1124, 3124, 1087, 3201, 1272, 3488, 1655, 3963, 2218,
    513, 2943, 1314, 3817, 2258, 731, 3332, 1866, 430, 3117, 1734, 377, 3141, 1833, 548, 3381,
    2139, 918, 3814, 2632, 1470, 325, 3294, 2185, 1092, 15, 3049, 2003, 972, 4051, 3048, 2058,
    1082, 118, 3263, 2324, 1398, 482, 3674, 2782, 1899, 1028, 167, 3411, 2570, 1738, 915, 102,
    3393, 2598, 1810, 1032, 261, 3594, 2840, 2093, 1353, 621, 3993, 3275, 2564, 1861, 1163, 473,
    3885, 3207, 2536, 1870, 1211, 557, 4006, 3364, 2727, 2096, 1471, 850, 235, 3721, 3117, 2517,
    1922, 1331, 746, 165, 3685, 3113, 2546, 1983, 1424, 870, 320, 3869, 3327, 2789, 2255, 1725,
    1198, 676, 157, 3737, 3226, 2717, 2213, 1711, 1214, 719, 228, 3836, 3352, 2870, 2392, 1917,
    1445, 976, 510, 46, 3682, 3225, 2770, 2319, 1870, 1424, 980, 539, 101, 3762, 3329, 2898, 2470,
    2045, 1622, 1202, 784, 368, 4050, 3639, 3231, 2824, 2420, 2018, 1618, 1220, 825, 432, 40, 3747,
    3360, 2975, 2592, 2211, 1832, 1455, 1079, 706, 335, 4061, 3693, 3328, 2964, 2601, 2241, 1882,
    1526, 1170, 817, 465, 115, 3863, 3516, 3171, 2827, 2486, 2145, 1807, 1469, 1134, 800, 467, 136,
    3903, 3575, 3248, 2923, 2599, 2277, 1956, 1636, 1318, 1002, 686, 372, 60, 3844, 3534, 3226,
    2918, 2612, 2307, 2004, 1702, 1400, 1101, 802, 505, 208, 4010, 3716, 3423, 3132, 2841, 2552,
    2264, 1977, 1692, 1407, 1123, 841, 560, 279, 0,
];
/// PCAN gain `2^21 (x / 2^7 + 80)^-0.95` of the noise estimate `x` as piecewise quadratics: two
/// values for `x <= 1`, then per octave `[y0, a1, a2, unused]`.
const GAIN_LUT: [i16; 125] = [
    32636, 32633, 32630, -6, 0, 0, 32624, -12, 0, 0, 32612, -23, -2, 0, 32587, -48, 0, 0, 32539,
    -96, 0, 0, 32443, -190, 0, 0, 32253, -378, 4, 0, 31879, -739, 18, 0, 31158, -1409, 62, 0,
    29811, -2567, 202, 0, 27446, -4301, 562, 0, 23707, -6265, 1230, 0, 18672, -7458, 1952, 0,
    13166, -7030, 2212, 0, 8348, -5342, 1868, 0, 4874, -3459, 1282, 0, 2697, -2025, 774, 0, 1446,
    -1120, 436, 0, 762, -596, 232, 0, 398, -313, 122, 0, 207, -164, 64, 0, 107, -85, 34, 0, 56,
    -45, 18, 0, 29, -22, 8, 0, 15, -13, 6, 0, 8, -8, 4, 0, 4, -2, 0, 0, 2, -3, 2, 0, 1, 0, 0, 0, 1,
    -3, 2, 0, 0, 0, 0,
];
/// `round(32767 sin(πj/256))`, `j = 0..=128`: KISS FFT's Q15 twiddles are its values at even
/// multiples of π/256, the real transform's at odd ones.
const QUARTER_SINE: [i16; 129] = [
    0, 402, 804, 1206, 1608, 2009, 2410, 2811, 3212, 3612, 4011, 4410, 4808, 5205, 5602, 5998,
    6393, 6786, 7179, 7571, 7962, 8351, 8739, 9126, 9512, 9896, 10278, 10659, 11039, 11417, 11793,
    12167, 12539, 12910, 13279, 13645, 14010, 14372, 14732, 15090, 15446, 15800, 16151, 16499,
    16846, 17189, 17530, 17869, 18204, 18537, 18868, 19195, 19519, 19841, 20159, 20475, 20787,
    21096, 21403, 21705, 22005, 22301, 22594, 22884, 23170, 23452, 23731, 24007, 24279, 24547,
    24811, 25072, 25329, 25582, 25832, 26077, 26319, 26556, 26790, 27019, 27245, 27466, 27683,
    27896, 28105, 28310, 28510, 28706, 28898, 29085, 29268, 29447, 29621, 29791, 29956, 30117,
    30273, 30424, 30571, 30714, 30852, 30985, 31113, 31237, 31356, 31470, 31580, 31685, 31785,
    31880, 31971, 32057, 32137, 32213, 32285, 32351, 32412, 32469, 32521, 32567, 32609, 32646,
    32678, 32705, 32728, 32745, 32757, 32765, 32767,
];
/// `round(32767 sin(πj/256))` for any `j`, by symmetry.
const fn q15_sin(j: usize) -> i16 {
    let j = j % 512;
    if j <= 128 {
        QUARTER_SINE[j]
    } else if j <= 256 {
        QUARTER_SINE[256 - j]
    } else if j <= 384 {
        -QUARTER_SINE[j - 256]
    } else {
        -QUARTER_SINE[512 - j]
    }
}

const fn q15_cos(j: usize) -> i16 {
    q15_sin(j + 128)
}

/// `exp(-2πj i / 256)` in Q15, `i = 0..256`: the 256-point complex FFT's twiddles.
const TWIDDLES: [Cpx; CFFT_LEN] = {
    let mut t = [Cpx { r: 0, i: 0 }; CFFT_LEN];
    let mut i = 0;
    while i < CFFT_LEN {
        t[i] = Cpx {
            r: q15_cos(2 * i),
            i: -q15_sin(2 * i),
        };
        i += 1;
    }
    t
};

/// `exp(-πj ((i + 1)/256 + ½))` in Q15, `i = 0..128`: the real transform's split twiddles.
const SUPER_TWIDDLES: [Cpx; CFFT_LEN / 2] = {
    let mut t = [Cpx { r: 0, i: 0 }; CFFT_LEN / 2];
    let mut i = 0;
    while i < CFFT_LEN / 2 {
        t[i] = Cpx {
            r: q15_cos(i + 129),
            i: -q15_sin(i + 129),
        };
        i += 1;
    }
    t
};

/// micro_speech's int8 quantisation of one front-end output value:
/// `(v * 256 + 333) / 666 - 128`, clamped to `[-128, 127]` (as its `micro_features_generator`).
pub fn quantize(value: u16) -> i8 {
    let v = (i32::from(value) * 256 + 333) / 666 - 128;
    v.clamp(-128, 127) as i8
}

/// A complex int16 value (the reference's `kiss_fft_cpx` in 16-bit fixed point).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cpx {
    r: i16,
    i: i16,
}

/// The micro_speech audio front end; see the [module docs](self).
///
/// Feed audio with [`process_samples`](Self::process_samples) (any chunk size); every
/// [`STRIDE_LEN`] samples (after the first [`WINDOW_LEN`]) it yields one frame of
/// [`NUM_CHANNELS`] int8 features. Noise estimates persist across frames, as in the reference.
#[derive(Clone)]
pub struct FrontEnd {
    /// Samples waiting for the next window.
    input: [i16; WINDOW_LEN],
    input_used: usize,
    /// Per-channel noise estimate (Q`SMOOTHING_BITS`), shared by noise reduction and PCAN.
    noise_estimate: [u32; NUM_CHANNELS],
}

impl core::fmt::Debug for FrontEnd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrontEnd")
            .field("input_used", &self.input_used)
            .field("noise_estimate", &self.noise_estimate)
            .finish_non_exhaustive()
    }
}

impl Default for FrontEnd {
    fn default() -> Self {
        Self::new()
    }
}

impl FrontEnd {
    /// A front end in its initial state (no buffered samples, zero noise estimates).
    pub const fn new() -> Self {
        FrontEnd {
            input: [0; WINDOW_LEN],
            input_used: 0,
            noise_estimate: [0; NUM_CHANNELS],
        }
    }

    /// Forgets buffered samples and noise estimates.
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Feeds `samples`; returns how many were consumed and, when a window was completed, its
    /// frame of int8 features (micro_speech's quantisation of the `u16` output).
    ///
    /// At most one frame is produced per call: call again with the unconsumed rest.
    /// ```
    /// # use strata_edge::dsp::frontend::FrontEnd;
    /// let mut fe = FrontEnd::new();
    /// let audio = [0i16; 1000];
    /// let mut rest = &audio[..];
    /// let mut frames = 0;
    /// while !rest.is_empty() {
    ///     let (used, frame) = fe.process_samples(rest);
    ///     rest = &rest[used..];
    ///     frames += usize::from(frame.is_some());
    /// }
    /// assert_eq!(frames, 2); // at 480 and 800 samples
    /// ```
    pub fn process_samples(&mut self, samples: &[i16]) -> (usize, Option<[i8; NUM_CHANNELS]>) {
        let (used, raw) = self.process_samples_raw(samples);
        (used, raw.map(|r| r.map(quantize)))
    }

    /// As [`process_samples`](Self::process_samples), returning the front end's `u16` output
    /// (what TensorFlow's `audio_microfrontend` op returns) before quantisation.
    pub fn process_samples_raw(&mut self, samples: &[i16]) -> (usize, Option<[u16; NUM_CHANNELS]>) {
        let n = (WINDOW_LEN - self.input_used).min(samples.len());
        self.input[self.input_used..self.input_used + n].copy_from_slice(&samples[..n]);
        self.input_used += n;
        if self.input_used < WINDOW_LEN {
            return (n, None);
        }
        let mut frame = [0i16; FFT_LEN];
        let mut max_abs: i16 = 0;
        for ((out, &x), &w) in frame.iter_mut().zip(&self.input).zip(&WINDOW) {
            let v = ((i32::from(x) * i32::from(w)) >> WINDOW_BITS) as i16;
            *out = v;
            max_abs = max_abs.max(v.wrapping_abs());
        }
        self.input.copy_within(STRIDE_LEN.., 0);
        self.input_used -= STRIDE_LEN;
        (n, Some(self.frame(&mut frame, max_abs)))
    }

    /// Processes one windowed frame (zero-padded to the FFT length).
    fn frame(&mut self, frame: &mut [i16; FFT_LEN], max_abs: i16) -> [u16; NUM_CHANNELS] {
        // Scale up so the int16 FFT keeps as much resolution as possible.
        let shift = 15 - msb32(max_abs as u32);
        for x in frame[..WINDOW_LEN].iter_mut() {
            *x = ((*x as u16) << shift) as i16;
        }
        let mut spectrum = [Cpx::default(); SPECTRUM_LEN];
        rfft(frame, &mut spectrum);

        let mut work = [0u64; NUM_CHANNELS + 1];
        let first = usize::from(BOUNDS[0]);
        for band in 0..=NUM_CHANNELS {
            let (lo, hi) = (usize::from(BOUNDS[band]), usize::from(BOUNDS[band + 1]));
            for b in lo..hi {
                let (re, im) = (i32::from(spectrum[b].r), i32::from(spectrum[b].i));
                // The reference stores |X|² as int32 and widens it with sign extension.
                let energy = (re * re).wrapping_add(im * im) as u64;
                let weight = WEIGHTS[b - first];
                work[band] = work[band].wrapping_add((weight as u64).wrapping_mul(energy));
                if band < NUM_CHANNELS {
                    let unweight = (1 << FILTERBANK_BITS) - weight;
                    work[band + 1] =
                        work[band + 1].wrapping_add((unweight as u64).wrapping_mul(energy));
                }
            }
        }
        let mut signal = [0u32; NUM_CHANNELS];
        for (s, &w) in signal.iter_mut().zip(&work[1..]) {
            *s = sqrt64(w) >> shift;
        }
        self.reduce_noise(&mut signal);
        self.pcan(&mut signal);
        signal.map(|v| {
            let v = shift_signed(v, CORRECTION_BITS);
            let v = if v > 1 { log(v, LOG_SCALE_SHIFT) } else { 0 };
            v.min(u32::from(u16::MAX)) as u16
        })
    }

    fn reduce_noise(&mut self, signal: &mut [u32; NUM_CHANNELS]) {
        for (i, (s, est)) in signal.iter_mut().zip(&mut self.noise_estimate).enumerate() {
            let smoothing = if i % 2 == 0 {
                EVEN_SMOOTHING
            } else {
                ODD_SMOOTHING
            };
            let one_minus = (1 << NOISE_REDUCTION_BITS) - smoothing;
            let scaled = s.wrapping_shl(SMOOTHING_BITS);
            let mut estimate = ((u64::from(scaled) * u64::from(smoothing)
                + u64::from(*est) * u64::from(one_minus))
                >> NOISE_REDUCTION_BITS) as u32;
            *est = estimate;
            estimate = estimate.min(scaled);
            let floor =
                ((u64::from(*s) * u64::from(MIN_SIGNAL_REMAINING)) >> NOISE_REDUCTION_BITS) as u32;
            let subtracted = (scaled - estimate) >> SMOOTHING_BITS;
            *s = subtracted.max(floor);
        }
    }

    fn pcan(&self, signal: &mut [u32; NUM_CHANNELS]) {
        for (s, &est) in signal.iter_mut().zip(&self.noise_estimate) {
            let gain = wide_dynamic(est) as u32;
            let snr = ((u64::from(*s) * u64::from(gain)) >> SNR_SHIFT) as u32;
            *s = pcan_shrink(snr);
        }
    }

    /// Resets the front end and computes micro_speech's `[NUM_FRAMES x NUM_CHANNELS]` input
    /// from one second of audio ([`CLIP_LEN`] samples), as the model was trained: a fresh front
    /// end per clip, frames at 0, 20, ..., 960 ms.
    ///
    /// # Errors
    /// [`DspError::LengthMismatch`] if `audio` is not exactly [`CLIP_LEN`] samples.
    pub fn compute_clip(
        &mut self,
        audio: &[i16],
        out: &mut [i8; FEATURE_LEN],
    ) -> Result<(), DspError> {
        check_len(audio.len(), CLIP_LEN)?;
        self.reset();
        let mut rest = audio;
        let mut frames = out.chunks_exact_mut(NUM_CHANNELS);
        while !rest.is_empty() {
            let (used, frame) = self.process_samples(rest);
            rest = &rest[used..];
            if let Some(f) = frame
                && let Some(dst) = frames.next()
            {
                dst.copy_from_slice(&f);
            }
        }
        Ok(())
    }
}

/// KISS FFT's real transform in 16-bit fixed point (`kiss_fftr`): a 256-point complex FFT
/// of the sample pairs, then the split into 257 bins, halving at every stage.
fn rfft(input: &[i16; FFT_LEN], out: &mut [Cpx; SPECTRUM_LEN]) {
    let mut tmp = [Cpx::default(); CFFT_LEN];
    cfft_work(&mut tmp, input, 0, 1, CFFT_LEN / 4);
    let dc = fixdiv(tmp[0], 2);
    out[0] = Cpx {
        r: dc.r.wrapping_add(dc.i),
        i: 0,
    };
    out[CFFT_LEN] = Cpx {
        r: dc.r.wrapping_sub(dc.i),
        i: 0,
    };
    for k in 1..=CFFT_LEN / 2 {
        let fpk = fixdiv(tmp[k], 2);
        let nk = tmp[CFFT_LEN - k];
        let fpnk = fixdiv(
            Cpx {
                r: nk.r,
                i: nk.i.wrapping_neg(),
            },
            2,
        );
        let f1k = cadd(fpk, fpnk);
        let f2k = csub(fpk, fpnk);
        let tw = cmul(f2k, SUPER_TWIDDLES[k - 1]);
        let half = |a: i16, b: i16| ((i32::from(a) + i32::from(b)) >> 1) as i16;
        out[k] = Cpx {
            r: half(f1k.r, tw.r),
            i: half(f1k.i, tw.i),
        };
        out[CFFT_LEN - k] = Cpx {
            r: ((i32::from(f1k.r) - i32::from(tw.r)) >> 1) as i16,
            i: ((i32::from(tw.i) - i32::from(f1k.i)) >> 1) as i16,
        };
    }
}

/// KISS FFT's recursive decimation in time for radix 4 (256 = 4^4): output `out` (length
/// `4 m`) is the transform of the input pairs at `offset, offset + stride, ...`.
fn cfft_work(out: &mut [Cpx], input: &[i16; FFT_LEN], offset: usize, stride: usize, m: usize) {
    if m == 1 {
        for (q, o) in out.iter_mut().enumerate() {
            let j = offset + q * stride;
            *o = Cpx {
                r: input[2 * j],
                i: input[2 * j + 1],
            };
        }
    } else {
        for (q, chunk) in out.chunks_exact_mut(m).enumerate() {
            cfft_work(chunk, input, offset + q * stride, stride * 4, m / 4);
        }
    }
    butterfly4(out, stride, m);
}

fn butterfly4(out: &mut [Cpx], stride: usize, m: usize) {
    for k in 0..m {
        let f0 = fixdiv(out[k], 4);
        let f1 = fixdiv(out[k + m], 4);
        let f2 = fixdiv(out[k + 2 * m], 4);
        let f3 = fixdiv(out[k + 3 * m], 4);
        let s0 = cmul(f1, TWIDDLES[k * stride]);
        let s1 = cmul(f2, TWIDDLES[2 * k * stride]);
        let s2 = cmul(f3, TWIDDLES[3 * k * stride]);
        let s5 = csub(f0, s1);
        let f0 = cadd(f0, s1);
        let s3 = cadd(s0, s2);
        let s4 = csub(s0, s2);
        out[k + 2 * m] = csub(f0, s3);
        out[k] = cadd(f0, s3);
        out[k + m] = Cpx {
            r: s5.r.wrapping_add(s4.i),
            i: s5.i.wrapping_sub(s4.r),
        };
        out[k + 3 * m] = Cpx {
            r: s5.r.wrapping_sub(s4.i),
            i: s5.i.wrapping_add(s4.r),
        };
    }
}

/// Number of significant bits of `n` (0 for 0).
fn msb32(n: u32) -> u32 {
    32 - n.leading_zeros()
}

fn shift_signed(v: u32, bits: i32) -> u32 {
    if bits < 0 {
        v >> -bits
    } else {
        v.wrapping_shl(bits as u32)
    }
}

/// KISS FFT's `sround`: Q15 product back to int16 with rounding (truncating to 16 bits).
fn sround(x: i32) -> i16 {
    (x.wrapping_add(1 << 14) >> 15) as i16
}

/// `C_FIXDIV`: divides by `k` as a multiplication by `32767 / k` in Q15.
fn fixdiv(c: Cpx, k: i32) -> Cpx {
    let s = i32::from(i16::MAX) / k;
    Cpx {
        r: sround(i32::from(c.r) * s),
        i: sround(i32::from(c.i) * s),
    }
}

fn cmul(a: Cpx, b: Cpx) -> Cpx {
    let (ar, ai, br, bi) = (
        i32::from(a.r),
        i32::from(a.i),
        i32::from(b.r),
        i32::from(b.i),
    );
    Cpx {
        r: sround((ar * br).wrapping_sub(ai * bi)),
        i: sround((ar * bi).wrapping_add(ai * br)),
    }
}

fn cadd(a: Cpx, b: Cpx) -> Cpx {
    Cpx {
        r: a.r.wrapping_add(b.r),
        i: a.i.wrapping_add(b.i),
    }
}

fn csub(a: Cpx, b: Cpx) -> Cpx {
    Cpx {
        r: a.r.wrapping_sub(b.r),
        i: a.i.wrapping_sub(b.i),
    }
}

/// Bitwise integer square root with rounding, for values below 2^32.
fn sqrt32(mut num: u32) -> u32 {
    if num == 0 {
        return 0;
    }
    let max_bit = (32 - msb32(num)) | 1;
    let mut bit = 1u32 << (31 - max_bit);
    let mut res = 0u32;
    for _ in 0..(31 - max_bit) / 2 + 1 {
        if num >= res.wrapping_add(bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if num > res && res != 0xFFFF {
        res += 1;
    }
    res & 0xFFFF
}

/// As [`sqrt32`] for 64-bit values (the reference takes the 32-bit path when it can).
fn sqrt64(mut num: u64) -> u32 {
    if num >> 32 == 0 {
        return sqrt32(num as u32);
    }
    let max_bit = (64 - (64 - num.leading_zeros())) | 1;
    let mut bit = 1u64 << (63 - max_bit);
    let mut res = 0u64;
    for _ in 0..(63 - max_bit) / 2 + 1 {
        if num >= res.wrapping_add(bit) {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if num > res && res != 0xFFFF_FFFF {
        res += 1;
    }
    res as u32
}

/// The PCAN gain for noise estimate `x`: a quadratic within `x`'s octave.
fn wide_dynamic(x: u32) -> i16 {
    let lut = &GAIN_LUT;
    if x <= 2 {
        return lut[x as usize];
    }
    let interval = msb32(x);
    let at = (4 * interval - 6) as usize;
    let frac = (if interval < 11 {
        x << (11 - interval)
    } else {
        x >> (interval - 11)
    } & 0x3FF) as i32;
    let mut result = (i32::from(lut[at + 2]) * frac) >> 5;
    result = result.wrapping_add(i32::from(lut[at + 1]).wrapping_shl(5));
    result = result.wrapping_mul(frac);
    result = result.wrapping_add(1 << 14) >> 15;
    result = result.wrapping_add(i32::from(lut[at]));
    result as i16
}

fn pcan_shrink(x: u32) -> u32 {
    if x < (2 << PCAN_SNR_BITS) {
        (x * x) >> (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
    } else {
        (x >> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)).wrapping_sub(1 << PCAN_OUTPUT_BITS)
    }
}

/// Natural log of `x` (> 1) in Q16 scaled by `2^scale_shift`: log2 by leading bit plus a
/// segment-interpolated mantissa correction, times ln 2.
fn log(x: u32, scale_shift: u32) -> u32 {
    let integer = msb32(x) - 1;
    let fraction = log2_fraction(x, integer);
    let log2 = (integer << LOG_SCALE_BITS).wrapping_add(fraction);
    let round = 1u32 << (LOG_SCALE_BITS - 1);
    let loge = ((LOG_COEFF * u64::from(log2) + u64::from(round)) >> LOG_SCALE_BITS) as u32;
    (loge.wrapping_shl(scale_shift).wrapping_add(round)) >> LOG_SCALE_BITS
}

fn log2_fraction(x: u32, log2x: u32) -> u32 {
    let mut frac = (i64::from(x) - (1i64 << log2x)) as i32;
    if log2x < LOG_SCALE_BITS {
        frac <<= LOG_SCALE_BITS - log2x;
    } else {
        frac >>= log2x - LOG_SCALE_BITS;
    }
    let base_seg = (frac >> (LOG_SCALE_BITS - LOG_SEGMENTS_BITS)) as usize;
    let seg_unit = (1i32 << LOG_SCALE_BITS) >> LOG_SEGMENTS_BITS;
    let c0 = i32::from(LOG_LUT[base_seg]);
    let c1 = i32::from(LOG_LUT[base_seg + 1]);
    let seg_base = seg_unit * base_seg as i32;
    let rel_pos = ((c1 - c0) * (frac - seg_base)) >> LOG_SCALE_BITS;
    (frac + c0 + rel_pos) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    #[test]
    fn log_lut_is_the_mantissa_correction() {
        for (i, &v) in LOG_LUT.iter().enumerate().take(129) {
            let f = i as f64 / 128.0;
            let want = libm::round(65536.0 * (libm::log2(1.0 + f) - f));
            assert_eq!(f64::from(v), want, "entry {i}");
        }
        assert_eq!(LOG_LUT[129], 0);
    }

    #[test]
    fn integer_helpers_match_their_definitions() {
        for n in [1u32, 2, 3, 4, 15, 16, 17, 1000, 65_535, 1 << 20, u32::MAX] {
            let s = sqrt32(n);
            let exact = libm::sqrt(f64::from(n));
            assert!((f64::from(s) - exact).abs() <= 1.0, "sqrt32({n}) = {s}");
        }
        for n in [1u64 << 32, 1 << 40, (1 << 50) + 12_345, u64::MAX >> 2] {
            let s = sqrt64(n);
            let exact = libm::sqrt(n as f64);
            assert!((f64::from(s) - exact).abs() <= 1.0, "sqrt64({n}) = {s}");
        }
        // ln(x) * 2^6 for a few values.
        for x in [2u32, 10, 1000, 123_456, 1 << 30] {
            let want = libm::log(f64::from(x)) * 64.0;
            assert!((f64::from(log(x, 6)) - want).abs() <= 1.0, "log({x})");
        }
        assert_eq!(quantize(0), -128);
        assert_eq!(quantize(2), -127); // (2 * 256 + 333) / 666 = 1
        assert_eq!(quantize(333), 0);
        assert_eq!(quantize(u16::MAX), 127);
    }

    /// The constant tables against the float formulas the reference evaluates at start-up:
    /// equal except where the formula sits on a rounding boundary and the reference's libm
    /// rounds the other way.
    #[test]
    fn tables_follow_the_reference_formulas() {
        use core::f32::consts::PI;
        let arg = PI * 2.0 / WINDOW_LEN as f32;
        let mut off = Vec::new();
        for (i, &w) in WINDOW.iter().enumerate() {
            let v = 0.5 - 0.5 * libm::cosf(arg * (i as f32 + 0.5));
            let f = libm::floorf(v * 4096.0 + 0.5) as i16;
            if f != w {
                off.push(i);
                assert!(
                    (f - w).abs() == 1
                        && (v * 4096.0 - libm::floorf(v * 4096.0) - 0.5).abs() < 1e-3
                );
            }
        }
        assert!(off.len() <= 1, "window entries off: {off:?}");

        let mel = |hz: f32| 1127.0 * libm::log1pf(hz / 700.0);
        let (lo, hi) = (mel(125.0), mel(7500.0));
        let spacing = (hi - lo) / 41.0;
        let first = usize::from(BOUNDS[0]);
        let mut off = Vec::new();
        for band in 0..=NUM_CHANNELS {
            let center = lo + spacing * (band + 1) as f32;
            let below = if band == 0 {
                lo
            } else {
                lo + spacing * band as f32
            };
            for b in usize::from(BOUNDS[band])..usize::from(BOUNDS[band + 1]) {
                let f = b as f32 * 31.25;
                assert!(mel(f) <= center + 1e-3 && (band == 0 || mel(f) > below - 1e-3));
                let w = (center - mel(f)) / (center - below) * 4096.0;
                if libm::floorf(w + 0.5) as i16 != WEIGHTS[b - first] {
                    off.push(b);
                    assert!((w - libm::floorf(w) - 0.5).abs() < 0.01, "bin {b}: {w}");
                }
            }
        }
        assert!(off.len() <= 3, "filterbank weights off: {off:?}");

        for (i, &t) in TWIDDLES.iter().enumerate() {
            let phase = -2.0 * core::f64::consts::PI * i as f64 / 256.0;
            let r = libm::floor(0.5 + 32767.0 * libm::cos(phase)) as i16;
            let im = libm::floor(0.5 + 32767.0 * libm::sin(phase)) as i16;
            assert_eq!((t.r, t.i), (r, im), "twiddle {i}");
        }
        for (i, &t) in SUPER_TWIDDLES.iter().enumerate() {
            let phase = -core::f64::consts::PI * ((i + 1) as f64 / 256.0 + 0.5);
            let r = libm::floor(0.5 + 32767.0 * libm::cos(phase)) as i16;
            let im = libm::floor(0.5 + 32767.0 * libm::sin(phase)) as i16;
            assert_eq!((t.r, t.i), (r, im), "super twiddle {i}");
        }

        let gain = |x: u32| {
            let g = 2_097_152.0 * libm::powf(x as f32 / 128.0 + 80.0, -0.95);
            if g > 32767.0 { 32767 } else { (g + 0.5) as i16 }
        };
        assert_eq!((GAIN_LUT[0], GAIN_LUT[1]), (gain(0), gain(1)));
        for interval in 2..=32usize {
            let x0 = 1u32 << (interval - 1);
            let x2 = if interval == 32 {
                x0 + (x0 - 1)
            } else {
                2 * x0
            };
            let (y0, y1, y2) = (gain(x0), gain(x0 + (x0 >> 1)), gain(x2));
            let a1 = 4 * (i32::from(y1) - i32::from(y0)) - (i32::from(y2) - i32::from(y0));
            let a2 = i32::from(y2) - i32::from(y0) - a1;
            let at = 4 * interval - 6;
            assert_eq!(
                GAIN_LUT[at..at + 3],
                [y0, a1 as i16, a2 as i16],
                "octave {interval}"
            );
        }
    }

    /// The constants are the tables the reference built (stored by gen_frontend_vectors.py).
    #[test]
    fn tables_equal_the_reference_dump() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/frontend_reference.json"
        );
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("reference vectors"))
                .expect("json");
        let t = &doc["tables"];
        let ints = |key: &str| -> Vec<i64> {
            t[key]
                .as_array()
                .expect(key)
                .iter()
                .map(|v| v.as_i64().expect(key))
                .collect()
        };
        let pairs = |key: &str| -> Vec<(i64, i64)> {
            t[key]
                .as_array()
                .expect(key)
                .iter()
                .map(|p| (p[0].as_i64().expect(key), p[1].as_i64().expect(key)))
                .collect()
        };
        let widen = |v: &[i16]| v.iter().map(|&x| i64::from(x)).collect::<Vec<_>>();
        assert_eq!(ints("window"), widen(&WINDOW));
        assert_eq!(
            ints("filterbank_bounds"),
            BOUNDS.iter().map(|&x| i64::from(x)).collect::<Vec<_>>()
        );
        assert_eq!(ints("filterbank_weights"), widen(&WEIGHTS));
        assert_eq!(ints("pcan_gain_lut"), widen(&GAIN_LUT));
        let cpx = |v: &[Cpx]| {
            v.iter()
                .map(|c| (i64::from(c.r), i64::from(c.i)))
                .collect::<Vec<_>>()
        };
        assert_eq!(pairs("twiddles"), cpx(&TWIDDLES));
        assert_eq!(pairs("super_twiddles"), cpx(&SUPER_TWIDDLES));
    }

    #[test]
    fn state_is_small_and_const() {
        static FRONT_END: FrontEnd = FrontEnd::new();
        assert!(core::mem::size_of_val(&FRONT_END) <= 1200);
    }
}
