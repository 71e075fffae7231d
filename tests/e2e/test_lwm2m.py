"""The LwM2M server against the LwM2M client of the edge SDK (`strata device simulate lwm2m`),
plus raw CoAP for bad registration requests: registration, update, de-registration, queue
mode, read/write/execute/create/delete/discover/write-attributes, observe with notifications
stored as telemetry, bootstrap, and firmware update by push and by pull."""

import json
import queue
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import Strata, strata_binary


class Sim:
    """A simulated LwM2M device; its JSON event lines are collected."""

    def __init__(self, strata, endpoint, *extra):
        self.events = queue.Queue()
        self.seen = []
        args = [strata_binary(), "device", "simulate", "lwm2m", "--json",
                "--server", f"coap://127.0.0.1:{strata.coap_port}", "--endpoint", endpoint,
                *extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                self.events.put(json.loads(line))

    def wait(self, name, timeout=20, where=lambda e: True, fresh=False):
        """The first event `name` (`fresh`: the first not yet read by an earlier wait)."""
        deadline = time.time() + timeout
        for e in [] if fresh else self.seen:
            if e.get("event") == name and where(e):
                return e
        while time.time() < deadline:
            try:
                e = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(e)
            if e.get("event") == name and where(e):
                return e
        raise AssertionError(f"no {name!r} event; saw {self.seen}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def assign(strata, name):
    device_id, _ = strata.create_device(name)
    status, body = strata.call("POST", f"/api/devices/{device_id}/credentials/lwm2m",
                               {"endpoint": name})
    assert status == 201, body
    return device_id


def wait_for(predicate, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def values(body):
    return {v["path"]: v["value"] for v in body["values"]}


@pytest.fixture
def device(strata):
    device_id = assign(strata, "lw-node-1")
    sim = Sim(strata, "lw-node-1", "--temperature-period-ms", "200")
    sim.wait("registered")
    yield strata, device_id, sim
    sim.stop()


def test_unassigned_endpoint_is_refused_with_4_03(strata):
    sim = Sim(strata, "nobody-knows-me", "--for", "10")
    code = sim.proc.wait(timeout=30)
    err = sim.proc.stderr.read()
    assert code == 1, err
    assert "4.03" in err and "credentials/lwm2m" in err, err
    status, clients = strata.call("GET", "/api/lwm2m/clients")
    assert status == 200 and clients == []


def test_registration_state_and_connectivity(device):
    strata, device_id, sim = device
    status, clients = strata.call("GET", "/api/lwm2m/clients")
    assert status == 200 and len(clients) == 1, clients
    c = clients[0]
    assert c["endpoint"] == "lw-node-1" and c["device_id"] == device_id
    assert c["lwm2m_version"] == "1.1" and c["awake"] is True
    paths = {o["path"] for o in c["objects"]}
    assert {"/3/0", "/5/0", "/3303/0"} <= paths, paths
    assert strata.call("GET", f"/api/devices/{device_id}")[1]["connectivity"]["online"] is True
    status, objects = strata.call("GET", "/api/lwm2m/objects")
    assert {o["id"] for o in objects} >= {0, 1, 3, 4, 5, 3303, 3304, 3311, 3347}


def test_read_in_every_content_format(device):
    strata, _, _ = device
    base = "/api/lwm2m/clients/lw-node-1/objects"
    status, body = strata.call("GET", f"{base}/3/0")
    assert status == 200, body
    v = values(body)
    assert isinstance(v["/3/0/0"], str) and v["/3/0/0"], v
    for fmt in ("tlv", "senml-json", "senml-cbor"):
        status, body = strata.call("GET", f"{base}/3/0?format={fmt}")
        assert status == 200, (fmt, body)
        assert values(body)["/3/0/0"] == v["/3/0/0"], fmt
    status, body = strata.call("GET", f"{base}/3/0/0?format=text")
    assert status == 200 and values(body) == {"/3/0/0": v["/3/0/0"]}, body
    status, body = strata.call("GET", f"{base}/3303/0/5700")
    assert status == 200 and isinstance(values(body)["/3303/0/5700"], float), body


def test_write_execute_discover_attributes_create_delete(device):
    strata, _, sim = device
    base = "/api/lwm2m/clients/lw-node-1"
    # Write (replace) one resource, partial update of an instance.
    assert strata.call("PUT", f"{base}/objects/3/0/14", {"value": "+02:00"})[0] == 204
    assert strata.call("PATCH", f"{base}/objects/3/0",
                       {"values": [{"path": "/3/0/15", "value": "Europe/Paris"}]})[0] == 204
    v = values(strata.call("GET", f"{base}/objects/3/0")[1])
    assert v["/3/0/14"] == "+02:00" and v["/3/0/15"] == "Europe/Paris", v
    # The client refuses to write a read-only resource (4.05).
    status, body = strata.call("PUT", f"{base}/objects/3/0/0", {"value": "evil"})
    assert status == 405, body
    # A value of the wrong type is refused before it is sent.
    status, body = strata.call("PUT", f"{base}/objects/3/0/13", {"value": "not a time"})
    assert status == 422, body
    # Execute (reboot).
    status, body = strata.call("POST", f"{base}/objects/3/0/4")
    assert status == 200, body
    sim.wait("executed", where=lambda e: e.get("path") == "/3/0/4")
    # The reboot registers anew (the fixture's first registration does not count).
    sim.wait("registered", fresh=True, timeout=30)
    # Discover.
    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        strata.call("GET", f"{base}/discover/3/0")))
    assert "</3/0/0>" in body["links"], body
    # Write-Attributes.
    assert strata.call("PUT", f"{base}/attributes/3303/0/5700?pmin=1&pmax=5&st=0.5")[0] == 204
    status, body = strata.call("PUT", f"{base}/attributes/3303/0/5700?bogus=1")
    assert status == 204 or status == 422, body
    # Create and delete an instance.
    status, body = strata.call("POST", f"{base}/objects/3303",
                               {"values": [{"path": "/3303/1/5750", "value": "kitchen"}]})
    assert status == 201, body
    status, body = strata.call("GET", f"{base}/objects/3303/1")
    assert status == 200 and values(body).get("/3303/1/5750") == "kitchen", body
    assert strata.call("DELETE", f"{base}/objects/3303/1")[0] == 204
    assert strata.call("GET", f"{base}/objects/3303/1")[0] == 404
    # Unknown object, bad path, unknown client.
    assert strata.call("GET", f"{base}/objects/9999/0")[0] == 404
    assert strata.call("GET", f"{base}/objects/abc")[0] == 400
    assert strata.call("GET", "/api/lwm2m/clients/nobody/objects/3/0")[0] == 404


def listen_events(strata, kinds, want, found):
    """Collects `want` SSE events of `kinds` into `found` (runs in a thread)."""
    import urllib.request
    req = urllib.request.Request(f"{strata.http}/api/events?kinds={kinds}")
    req.add_header("Authorization", f"Bearer {strata.token}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        for raw in resp:
            line = raw.decode().rstrip("\n")
            if line.startswith("data:"):
                event = json.loads(line.split(":", 1)[1])
                if want(event):
                    found.append(event)
                    return


def test_observe_notifications_become_telemetry(device):
    strata, device_id, _ = device
    base = "/api/lwm2m/clients/lw-node-1"
    found = []
    listener = threading.Thread(target=listen_events, daemon=True, args=(
        strata, "lwm2m", lambda e: e["data"].get("event") == "notification"
        and e["data"].get("path") == "/3303/0/5700", found))
    listener.start()
    time.sleep(0.3)
    status, body = strata.call("POST", f"{base}/observe/3303/0/5700")
    assert status == 200, body
    first = values(body)["/3303/0/5700"]
    latest = wait_for(lambda: (lambda l: l if "3303/0/5700" in l and l["3303/0/5700"]["value"] != first else None)(
        strata.latest(device_id)), timeout=20)
    assert isinstance(latest["3303/0/5700"]["value"], float)
    client = strata.call("GET", f"{base}")[1]
    assert client["observations"] == ["/3303/0/5700"], client
    listener.join(timeout=15)
    assert found and found[0]["device_id"] == device_id, found
    assert found[0]["data"]["endpoint"] == "lw-node-1"
    assert strata.call("DELETE", f"{base}/observe/3303/0/5700")[0] == 204
    assert strata.call("DELETE", f"{base}/observe/3303/0/5700")[0] == 404


@pytest.mark.parametrize("method", ["push", "pull"])
def test_firmware_update(device, method):
    strata, _, sim = device
    import urllib.request
    package = bytes(range(256)) * 20  # 5 KiB: several blocks either way
    req = urllib.request.Request(strata.http + "/api/lwm2m/firmware?name=fw-2.0", data=package,
                                 method="POST")
    req.add_header("Authorization", f"Bearer {strata.token}")
    req.add_header("Content-Type", "application/octet-stream")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 201
        image = json.loads(resp.read())["id"]
    status, body = strata.call("POST", "/api/lwm2m/clients/lw-node-1/firmware",
                               {"image": image, "method": method})
    assert status == 202, body
    status = wait_for(lambda: (lambda s: s if s["phase"] in ("succeeded", "failed") else None)(
        strata.call("GET", "/api/lwm2m/clients/lw-node-1/firmware")[1]), timeout=60)
    assert status["phase"] == "succeeded", status
    assert status["result"] == 1, status
    sim.wait("firmware_update")
    if method == "pull":
        sim.wait("firmware_download")
    # A second update while none runs is accepted; an unknown package is not.
    status, body = strata.call("POST", "/api/lwm2m/clients/lw-node-1/firmware",
                               {"image": "nope", "method": "push"})
    assert status == 422, body


def test_bootstrap_then_register(strata):
    assign(strata, "lw-boot-1")
    sim = Sim(strata, "lw-boot-1", "--bootstrap", f"coap://127.0.0.1:{strata.coap_port}")
    try:
        sim.wait("bootstrapped")
        sim.wait("registered")
        assert strata.call("GET", "/api/lwm2m/clients/lw-boot-1")[0] == 200
    finally:
        sim.stop()


def test_queue_mode_holds_requests_until_the_device_wakes(data_dir):
    server = Strata(data_dir, {"STRATA_LWM2M__QUEUE_AWAKE": "1s", "STRATA_LWM2M__QUEUE_WAIT": "20s"})
    try:
        assign(server, "lw-sleepy")
        sim = Sim(server, "lw-sleepy", "--queue-mode", "--lifetime", "8")
        try:
            sim.wait("registered")
            client = wait_for(lambda: (lambda c: c if c["awake"] is False else None)(
                server.call("GET", "/api/lwm2m/clients/lw-sleepy")[1]), timeout=10)
            assert client["queue_mode"] is True
            started = time.time()
            status, body = server.call("GET", "/api/lwm2m/clients/lw-sleepy/objects/3/0/0")
            assert status == 200, body
            # It waited for the device's next update (every lifetime/2 = 4 s).
            assert sim.wait("updated")
            assert time.time() - started < 20
        finally:
            sim.stop()
    finally:
        server.kill()


def test_deregistration_when_the_device_stops(strata):
    device_id = assign(strata, "lw-short")
    sim = Sim(strata, "lw-short", "--for", "2")
    sim.wait("registered")
    assert sim.proc.wait(timeout=30) == 0
    wait_for(lambda: strata.call("GET", "/api/lwm2m/clients")[1] == [])
    # The registration ends just before the device counts as offline.
    wait_for(lambda: strata.call("GET", f"/api/devices/{device_id}")[1]["connectivity"]
             ["online"] is False)


def raw(port, datagram, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(datagram, ("127.0.0.1", port))
        return s.recvfrom(4096)[0]
    finally:
        s.close()


def request(code, mid, path, queries=(), payload=b""):
    """A confirmable request with Uri-Path (11) and Uri-Query (15) options."""
    msg = bytes([0x40, code]) + struct.pack("!H", mid)
    last = 0
    for number, value in [(11, p.encode()) for p in path] + [(15, q.encode()) for q in queries]:
        delta = number - last
        last = number
        assert delta < 13 and len(value) < 269
        if len(value) < 13:
            msg += bytes([(delta << 4) | len(value)]) + value
        else:
            msg += bytes([(delta << 4) | 13, len(value) - 13]) + value
    return msg + (b"\xff" + payload if payload else b"")


def code_of(reply):
    return f"{reply[1] >> 5}.{reply[1] & 0x1f:02d}"


def test_bad_registration_requests_get_the_right_codes(strata):
    port = strata.coap_port
    assert code_of(raw(port, request(2, 1, ["rd"], ["lt=60"], b"</1/0>"))) == "4.00"
    assign(strata, "lw-raw")
    assert code_of(raw(port, request(2, 2, ["rd"], ["ep=lw-raw", "lwm2m=9.9"], b"</1/0>"))) == "4.12"
    assert code_of(raw(port, request(2, 3, ["rd"], ["ep=lw-raw"], b"<1/0"))) == "4.00"
    assert code_of(raw(port, request(2, 4, ["rd"], ["ep=lw-raw", "lt=abc"], b"</1/0>"))) == "4.00"
    assert code_of(raw(port, request(2, 5, ["rd", "nope"], [], b""))) == "4.04"
    assert code_of(raw(port, request(4, 6, ["rd", "nope"]))) == "4.04"
    assert code_of(raw(port, request(1, 7, ["rd"]))) == "4.05"
    # A good registration, then its update and de-registration, all from one address.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)

    def same(datagram):
        s.sendto(datagram, ("127.0.0.1", port))
        return s.recvfrom(4096)[0]
    try:
        reply = same(request(2, 8, ["rd"], ["ep=lw-raw", "lt=60", "lwm2m=1.1"], b"</1/0>,</3/0>"))
        assert code_of(reply) == "2.01", reply
        status, client = strata.call("GET", "/api/lwm2m/clients/lw-raw")
        assert status == 200
        rid = client["registration_id"]
        assert len(rid) >= 16
        # Another address may neither update nor de-register it (4.03).
        assert code_of(raw(port, request(2, 9, ["rd", rid], ["lt=120"]))) == "4.03"
        assert code_of(raw(port, request(4, 10, ["rd", rid]))) == "4.03"
        assert code_of(same(request(2, 11, ["rd", rid], ["lt=120"]))) == "2.04"
        assert strata.call("GET", "/api/lwm2m/clients/lw-raw")[1]["lifetime"] == 120
        assert code_of(same(request(4, 12, ["rd", rid]))) == "2.02"
        assert strata.call("GET", "/api/lwm2m/clients/lw-raw")[0] == 404
    finally:
        s.close()
    # Bootstrap is only for assigned endpoints.
    assert code_of(raw(port, request(2, 13, ["bs"], ["ep=stranger"]))) == "4.03"


def test_revoking_the_endpoint_credential_ends_the_registration(strata):
    device_id = assign(strata, "lw-revoked")
    sim = Sim(strata, "lw-revoked", "--lifetime", "30")
    try:
        sim.wait("registered")
        creds = strata.call("GET", f"/api/devices/{device_id}/credentials")[1]
        lwm2m = [c for c in creds if c["kind"] == "lwm2m_endpoint"]
        assert strata.call("DELETE", f"/api/devices/{device_id}/credentials/{lwm2m[0]['id']}")[0] == 204
        wait_for(lambda: strata.call("GET", "/api/lwm2m/clients/lw-revoked")[0] == 404)
        wait_for(lambda: strata.call("GET", f"/api/devices/{device_id}")[1]["connectivity"]
                 ["online"] is False)
    finally:
        sim.stop()
