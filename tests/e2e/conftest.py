"""Fixtures for MQTT tests with real clients (paho-mqtt, mosquitto_pub/sub) against the real
`strata serve` binary on ephemeral loopback ports."""

import json
import os
import queue
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "mqtt-test-password"


def strata_binary() -> str:
    explicit = os.environ.get("STRATA_BIN")
    if explicit:
        return explicit
    for profile in ("debug", "release"):
        candidate = ROOT / "target" / profile / "strata"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError("build strata first (cargo build) or set STRATA_BIN")


class Strata:
    """A running `strata serve` with helpers for its HTTP API."""

    def __init__(self, data_dir: str, env: dict):
        self.data_dir = data_dir
        # STRATA_BIN names the binary for these tests; the server would read it as a config key.
        full_env = {k: v for k, v in os.environ.items() if k != "STRATA_BIN"}
        full_env.update({"STRATA_ADMIN_PASSWORD": ADMIN_PASSWORD, "STRATA_LOG__LEVEL": "warn"})
        full_env.update(env)
        self.proc = subprocess.Popen(
            [strata_binary(), "serve", "--data-dir", data_dir, "--http-listen", "127.0.0.1:0",
             "--mqtt-listen", "127.0.0.1:0", "--coap-listen", "127.0.0.1:0",
             "--coaps-listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, env=full_env, text=True)
        self.http = None
        self.mqtt_host, self.mqtt_port = None, None
        self.mqtts_port = None
        self.ws_port, self.wss_port = None, None
        self.coap_port = None
        self.coaps_port = None
        # Lines come through a thread, so a server that hangs silently fails the start
        # after the deadline instead of blocking the whole run.
        lines = queue.Queue()

        def pump():
            for line in self.proc.stdout:
                lines.put(line)
            lines.put("")

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.time() + 60
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.time()))
            except queue.Empty:
                self.kill()
                raise RuntimeError("strata did not start listening within 60 s")
            if not line:
                raise RuntimeError("strata exited before listening")
            if line.startswith("strata: MQTT listening on mqtt://"):
                host, port = line.strip().rsplit("//", 1)[1].rsplit(":", 1)
                self.mqtt_host, self.mqtt_port = host, int(port)
            if line.startswith("strata: MQTT over TLS listening on mqtts://"):
                self.mqtts_port = int(line.strip().rsplit(":", 1)[1])
            if line.startswith("strata: MQTT over WebSocket listening on "):
                url = line.strip().rsplit(" ", 1)[1]
                port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
                if url.startswith("wss://"):
                    self.wss_port = port
                else:
                    self.ws_port = port
            if line.startswith("strata: CoAP over DTLS listening on coaps://"):
                self.coaps_port = int(line.strip().rsplit(":", 1)[1])
            if line.startswith("strata: CoAP listening on coap://"):
                self.coap_port = int(line.strip().rsplit(":", 1)[1])
            if line.startswith("strata: HTTP API listening on "):
                self.http = line.strip().rsplit(" ", 1)[1]
                break
        self.token = self.call("POST", "/api/auth/login",
                               {"username": "admin", "password": ADMIN_PASSWORD})[1]["token"]

    def call(self, method, path, body=None, token=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.http + path, data=data, method=method)
        if token or getattr(self, "token", None):
            req.add_header("Authorization", f"Bearer {token or self.token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                text = resp.read().decode()
                return resp.status, (json.loads(text) if text else None)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode() or "null")

    def call_text(self, method, path):
        req = urllib.request.Request(self.http + path, method=method)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode()

    def create_device(self, name):
        status, body = self.call("POST", "/api/devices", {"name": name})
        assert status == 201, body
        return body["id"], body["credentials"]["access_token"]

    def latest(self, device_id):
        status, body = self.call("GET", f"/api/devices/{device_id}/telemetry/latest")
        assert status == 200, body
        return body

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def terminate(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.fixture(autouse=True)
def _stop_mqtt_clients():
    yield
    from clients import close_clients
    close_clients()


@pytest.fixture
def data_dir():
    with tempfile.TemporaryDirectory() as d:
        yield d


@pytest.fixture
def strata(data_dir):
    server = Strata(data_dir, {})
    yield server
    server.kill()


@pytest.fixture
def open_strata(data_dir):
    """A server that lets anonymous clients use plain pub/sub."""
    server = Strata(data_dir, {"STRATA_MQTT__ALLOW_ANONYMOUS": "true"})
    yield server
    server.kill()
