"""`strata model`: keys, packing a real .tflite model into an encrypted, signed container, and
inspecting it; tampering is caught and keys are never overwritten."""

import os
import subprocess
import tempfile
from pathlib import Path

from conftest import ROOT, strata_binary

MODEL = ROOT / "crates" / "strata-edge" / "models" / "hello_world_int8.tflite"


def strata(*args):
    return subprocess.run([strata_binary(), "model", *args], capture_output=True, text=True,
                          timeout=60)


def test_pack_inspect_and_tamper():
    with tempfile.TemporaryDirectory() as d:
        keys = Path(d) / "keys"
        assert strata("keygen", "--dir", str(keys)).returncode == 0
        assert sorted(os.listdir(keys)) == ["model.key", "platform-signing.key",
                                            "platform-verify.pub"]
        assert oct(os.stat(keys / "model.key").st_mode & 0o777) == "0o600"
        again = strata("keygen", "--dir", str(keys))
        assert again.returncode == 1 and "never overwritten" in again.stderr

        out = Path(d) / "hello.smdl"
        r = strata("pack", "--model", str(MODEL), "--version", "7",
                   "--model-key", str(keys / "model.key"),
                   "--signing-key", str(keys / "platform-signing.key"), "--out", str(out))
        assert r.returncode == 0, r.stderr
        data = out.read_bytes()
        assert MODEL.read_bytes()[:64] not in data, "the model is in the clear"

        r = strata("inspect", str(out), "--verify-key", str(keys / "platform-verify.pub"),
                   "--model-key", str(keys / "model.key"))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "model version:  7" in r.stdout
        assert "signature:      valid" in r.stdout
        assert "decryption:     ok (a .tflite model)" in r.stdout

        tampered = bytearray(data)
        tampered[len(tampered) // 2] ^= 1
        bad = Path(d) / "bad.smdl"
        bad.write_bytes(bytes(tampered))
        r = strata("inspect", str(bad), "--verify-key", str(keys / "platform-verify.pub"))
        assert r.returncode == 1 and "INVALID" in r.stdout

        other = Path(d) / "other"
        strata("keygen", "--dir", str(other))
        r = strata("inspect", str(out), "--verify-key", str(other / "platform-verify.pub"),
                   "--model-key", str(other / "model.key"))
        assert r.returncode == 1
        assert "INVALID" in r.stdout and "another model key" in r.stdout


def test_bad_inputs_say_what_is_wrong():
    with tempfile.TemporaryDirectory() as d:
        keys = Path(d) / "keys"
        strata("keygen", "--dir", str(keys))
        notmodel = Path(d) / "notes.txt"
        notmodel.write_text("hello")
        r = strata("pack", "--model", str(notmodel), "--version", "1",
                   "--model-key", str(keys / "model.key"),
                   "--signing-key", str(keys / "platform-signing.key"),
                   "--out", str(Path(d) / "x.smdl"))
        assert r.returncode == 1 and "not a .tflite model" in r.stderr
        r = strata("inspect", str(notmodel))
        assert r.returncode == 1 and "not a Strata model container" in r.stderr
        r = strata("pack", "--model", str(MODEL), "--version", "1",
                   "--model-key", str(notmodel), "--signing-key", str(keys / "model.key"),
                   "--out", str(Path(d) / "x.smdl"))
        assert r.returncode == 1 and "not a key file" in r.stderr
        assert strata("pack").returncode == 2  # missing arguments: usage error
