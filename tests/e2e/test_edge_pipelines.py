"""The edge SDK's three pipelines as simulated devices (`strata device simulate <pipeline>`)
sending to the real `strata serve` over MQTT: only alerts, summaries and scores arrive,
and the device's report (bytes against streaming raw data, accuracy) holds."""

import json
import subprocess

from conftest import strata_binary


def simulate(strata, pipeline, token, *args):
    proc = subprocess.run(
        [strata_binary(), "device", "simulate", pipeline, "--json",
         "--mqtt", f"{strata.mqtt_host}:{strata.mqtt_port}", "--token", token, *args],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    report = lines[-1]
    assert report["event"] == "report", lines[-3:]
    return lines[:-1], report


def stored_messages(strata, device_id, key):
    status, body = strata.call(
        "GET", f"/api/devices/{device_id}/telemetry?keys={key}&limit=1000&order=asc")
    assert status == 200, body
    return body["series"][0]["points"] if body["series"] else []


def test_vibration_node_sends_alerts_and_summaries_only(strata):
    device_id, token = strata.create_device("bearing-1")
    events, report = simulate(strata, "vibration", token, "--windows", "200",
                              "--segment", "25", "--summary-every", "50", "--seed", "7")
    assert report["online"] is True
    # 200 windows of 4096 16-bit samples would be 1.6 MB; the node sends a few hundred bytes.
    assert report["raw_bytes"] == 200 * 4096 * 2
    assert report["sent_bytes"] * 100 < report["raw_bytes"], report
    # Accuracy on machines the classifier never saw (training used seed 1).
    assert report["accuracy"] >= 0.85, report
    assert set(report["per_class"]) == {"healthy", "outer_race", "inner_race"}
    alerts = [e["sent"] for e in events if e["event"] == "alert"]
    summaries = [e["sent"] for e in events if e["event"] == "summary"]
    assert len(summaries) == 4
    # The cycle scenario goes healthy -> outer race -> healthy -> inner race, twice.
    raised = [a["alert"] for a in alerts if a["alert"] != "cleared"]
    assert "outer_race" in raised and "inner_race" in raised, alerts
    assert report["messages"] == len(alerts) + len(summaries)
    # What the device sent is what the platform stored, nothing more.
    assert [p["value"] for p in stored_messages(strata, device_id, "alert")] == \
        [a["alert"] for a in alerts]
    assert len(stored_messages(strata, device_id, "health")) == len(summaries)
    assert stored_messages(strata, device_id, "rms_g")


def test_person_node_sends_scores_never_frames(strata):
    device_id, token = strata.create_device("camera-1")
    events, report = simulate(strata, "person", token, "--frames", "60",
                              "--scene-frames", "10", "--heartbeat", "30")
    assert report["raw_bytes"] == 60 * 96 * 96
    assert report["sent_bytes"] * 100 < report["raw_bytes"], report
    assert report["accuracy"] >= 0.9, report
    presence = [e["sent"]["values"] for e in events if e["event"] == "presence"]
    # Scenes: astronaut (person), coffee, camera (person), chelsea, horse, coins.
    assert [p["person"] for p in presence] == [True, False, True, False], presence
    stored = stored_messages(strata, device_id, "person")
    assert [p["value"] for p in stored] == [True, False, True, False]
    # No key holding pixels ever reached the platform.
    status, keys = strata.call("GET", f"/api/devices/{device_id}/telemetry/keys")
    assert set(keys) <= {"person", "score", "person_score"}, keys


def test_a_wrong_token_is_refused_with_a_clear_message(strata):
    proc = subprocess.run(
        [strata_binary(), "device", "simulate", "vibration", "--windows", "5",
         "--mqtt", f"{strata.mqtt_host}:{strata.mqtt_port}", "--token", "not-a-token"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "refused" in proc.stderr and "--token" in proc.stderr, proc.stderr


def test_keyword_node_streams_only_after_a_detection(strata):
    device_id, token = strata.create_device("voice-1")
    events, report = simulate(strata, "keyword", token, "--clips", "8", "--noise", "0",
                              "--stream-ms", "1000")
    detections = [e for e in events if e["event"] == "detection"]
    for d in detections:
        d["sent"] = d["sent"]["values"]
    clips = [e for e in events if e["event"] == "clip"]
    # The built-in clips: yes, up, no, noise, down, silence, yes, no.
    assert [d["sent"]["keyword"] for d in detections] == ["yes", "no", "yes", "no"], detections
    assert all(c["heard"] == c["truth"] for c in clips), clips
    assert report["accuracy"] == 1.0
    # Raw audio would be 16-bit at 16 kHz; features are streamed only after detections.
    assert report["sent_bytes"] * 10 < report["raw_bytes"], report
    stored = [p["value"] for p in stored_messages(strata, device_id, "keyword")]
    assert stored == ["yes", "no", "yes", "no"]
    streamed = stored_messages(strata, device_id, "kws_features")
    assert 0 < len(streamed) <= 4 * 6, len(streamed)  # ~1 s of 200 ms batches per detection
    # Every streamed message follows a detection: none before the first one was stored.
    first_detection = stored_messages(strata, device_id, "keyword")[0]["ts"]
    assert all(p["ts"] >= first_detection for p in streamed)
