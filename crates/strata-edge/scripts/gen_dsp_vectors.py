#!/usr/bin/env python3
"""Generates tests/vectors/dsp.json: a simulated bearing-fault vibration frame and the numpy
(float64) reference for every DSP feature the SDK computes. tests/dsp_numpy.rs compares the
SDK's f32 results against it with the tolerances stated there.

Usage (from crates/strata-edge): python3 scripts/gen_dsp_vectors.py
"""
import json
import os

import numpy as np

FS = 8000.0
N = 1024
BANDS = [(0.0, 500.0), (500.0, 1500.0), (1500.0, 2500.0), (2500.0, 4000.0)]
BPFO = 93.75  # outer-race fault frequency: 12 bins of the envelope spectrum at 8 kHz / 1024


def signal() -> np.ndarray:
    rng = np.random.default_rng(20261125)
    t = np.arange(N) / FS
    shaft = 0.4 * np.sin(2 * np.pi * 50.0 * t)
    # Decaying 2.2 kHz resonance excited once per ball pass.
    impacts = np.zeros(N)
    period = FS / BPFO
    for k in range(int(N / period) + 1):
        start = int(round(k * period))
        seg = np.arange(N - start)
        impacts[start:] += np.exp(-seg / 20.0) * np.sin(2 * np.pi * 2200.0 * seg / FS)
    noise = 0.05 * rng.standard_normal(N)
    return (shaft + impacts + noise).astype(np.float32)


def main() -> None:
    crate = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    x32 = signal()
    x = x32.astype(np.float64)
    hann = np.hanning(N)
    windowed = (x32 * hann.astype(np.float32)).astype(np.float64)
    amp = np.abs(np.fft.rfft(windowed))
    power = amp**2
    freqs = np.arange(N // 2 + 1) * FS / N
    mu = x.mean()
    m2 = ((x - mu) ** 2).mean()
    m4 = ((x - mu) ** 4).mean()
    rms = np.sqrt((x**2).mean())
    peak = np.abs(x).max()
    spec = np.fft.fft(x)
    h = np.zeros(N)
    h[0] = 1.0
    h[N // 2] = 1.0
    h[1 : N // 2] = 2.0
    env = np.abs(np.fft.ifft(spec * h))
    env_spec = np.abs(np.fft.rfft(env - env.mean()))
    doc = {
        "sample_rate": FS,
        "n": N,
        "signal": [float(v) for v in x32],
        "hann_64": np.hanning(64).tolist(),
        "hamming_64": np.hamming(64).tolist(),
        "hann_n": hann.tolist(),
        "amplitude_spectrum_hann": amp.tolist(),
        "rms": rms,
        "peak": peak,
        "crest_factor": peak / rms,
        "kurtosis": m4 / m2**2,
        "bands": BANDS,
        "band_energies_hann": [float(power[(freqs >= lo) & (freqs < hi)].sum()) for lo, hi in BANDS],
        "dominant_frequency_hann": float(freqs[1 + np.argmax(amp[1:])]),
        "hilbert_envelope": env.tolist(),
        "envelope_spectrum": env_spec.tolist(),
        "envelope_peak_frequency": float(freqs[1 + np.argmax(env_spec[1:])]),
        "bpfo": BPFO,
    }
    with open(os.path.join(crate, "tests", "vectors", "dsp.json"), "w") as f:
        json.dump(doc, f)
        f.write("\n")
    print("dsp.json: envelope peak at", doc["envelope_peak_frequency"], "Hz; kurtosis", doc["kurtosis"])


if __name__ == "__main__":
    main()
