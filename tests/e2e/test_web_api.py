"""The web app's server side through its API: browser sessions (HttpOnly cookie + CSRF),
users and roles, tenant isolation, dashboards, chart downsampling, the live WebSocket and
the embedded app itself. Runs against the real `strata serve`."""

import base64
import http.client
import json
import os
import socket
import struct
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from clients import Client, V5
from conftest import ADMIN_PASSWORD, Strata


class Browser:
    """A cookie session the way the web app holds one (no bearer token)."""

    def __init__(self, server, username, password):
        self.base = urllib.parse.urlparse(server.http)
        status, body, headers = self.request(
            "POST", "/api/auth/session", {"username": username, "password": password})
        assert status == 200, body
        cookie = headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie, cookie
        self.session = cookie.split(";", 1)[0].split("=", 1)[1]
        self.csrf = body["csrf_token"]
        self.user = body["user"]

    def request(self, method, path, body=None, csrf=True, extra=None):
        conn = http.client.HTTPConnection(self.base.hostname, self.base.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if getattr(self, "session", None):
            headers["Cookie"] = f"strata_session={self.session}"
            if csrf:
                headers["X-CSRF-Token"] = self.csrf
        headers.update(extra or {})
        conn.request(method, path, None if body is None else json.dumps(body), headers)
        resp = conn.getresponse()
        text = resp.read().decode()
        conn.close()
        return resp.status, (json.loads(text) if text else None), {
            k.lower(): v for k, v in resp.getheaders()}

    def call(self, method, path, body=None, csrf=True):
        status, body, _ = self.request(method, path, body, csrf)
        return status, body


def test_session_cookie_csrf_and_sign_out(strata):
    browser = Browser(strata, "admin", ADMIN_PASSWORD)
    assert browser.user["role"] == "admin"
    status, me = browser.call("GET", "/api/auth/session")
    assert status == 200 and me["csrf_token"] == browser.csrf
    # A change without (or with a wrong) CSRF header is refused; with it, accepted.
    status, body = browser.call("POST", "/api/devices", {"name": "no-csrf"}, csrf=False)
    assert status == 403 and body["error"]["code"] == "csrf_failed", body
    browser.csrf = "0" * 40
    assert browser.call("POST", "/api/devices", {"name": "bad-csrf"})[0] == 403
    browser.csrf = me["csrf_token"]
    assert browser.call("POST", "/api/devices", {"name": "with-csrf"})[0] == 201
    # Reads need no CSRF token.
    assert browser.call("GET", "/api/devices", csrf=False)[0] == 200
    # A form post from another site cannot sign in (not JSON), nor can wrong credentials.
    status, body, _ = Browser.request(browser, "POST", "/api/auth/session",
                                      {"username": "admin", "password": ADMIN_PASSWORD},
                                      extra={"Content-Type": "text/plain", "Cookie": ""})
    assert status == 415, body
    anonymous = Browser.__new__(Browser)
    anonymous.base = browser.base
    status, body, _ = anonymous.request("POST", "/api/auth/session",
                                        {"username": "admin", "password": "wrong-password"})
    assert status == 401, body
    # Signing out clears the cookie and ends the session for good.
    status, _, headers = browser.request("DELETE", "/api/auth/session")
    assert status == 204
    assert "Max-Age=0" in headers["set-cookie"]
    assert browser.call("GET", "/api/auth/session")[0] == 401


def test_roles_are_enforced_by_the_api(strata):
    admin = Browser(strata, "admin", ADMIN_PASSWORD)
    device_id, _ = strata.create_device("role-dev")
    for name, role in (("olga", "operator"), ("vic", "viewer")):
        status, body = admin.call("POST", "/api/users",
                                  {"username": name, "password": "password-123", "role": role})
        assert status == 201 and body["role"] == role, body
    # Passwords are stored as Argon2 hashes and never listed.
    status, users = admin.call("GET", "/api/users")
    assert status == 200 and {u["username"] for u in users} == {"admin", "olga", "vic"}
    assert all("password" not in json.dumps(u) for u in users)

    viewer = Browser(strata, "vic", "password-123")
    assert viewer.call("GET", "/api/devices")[0] == 200
    assert viewer.call("GET", f"/api/devices/{device_id}")[0] == 200
    for method, path, body in (
            ("POST", "/api/devices", {"name": "nope"}),
            ("DELETE", f"/api/devices/{device_id}", None),
            ("PATCH", f"/api/devices/{device_id}/shadows/default", {"desired": {"x": 1}}),
            ("POST", "/api/dashboards", {"name": "v", "widgets": []}),
            ("POST", "/api/users", {"username": "x", "password": "password-123",
                                    "role": "admin"})):
        status, answer = viewer.call(method, path, body)
        assert status == 403, (method, path, answer)

    operator = Browser(strata, "olga", "password-123")
    assert operator.call("POST", "/api/devices", {"name": "op-dev"})[0] == 201
    assert operator.call("POST", "/api/dashboards", {"name": "ops", "widgets": []})[0] == 201
    assert operator.call("GET", "/api/users")[0] == 403
    assert operator.call("POST", "/api/users", {"username": "y", "password": "password-123",
                                                "role": "admin"})[0] == 403
    assert operator.call("POST", "/api/tenants", {"name": "t", "admin_username": "t",
                                                  "admin_password": "password-123"})[0] == 403

    # An admin cannot delete itself; deleting a user ends its sessions.
    status, body = admin.call("DELETE", f"/api/users/{admin.user['id']}")
    assert status in (400, 422), body
    assert admin.call("DELETE", f"/api/users/{viewer.user['id']}")[0] == 204
    assert viewer.call("GET", "/api/devices")[0] == 401


def test_tenants_are_isolated(strata):
    admin = Browser(strata, "admin", ADMIN_PASSWORD)
    device_id, token = strata.create_device("default-dev")
    strata.call("POST", f"/api/v1/{token}/telemetry", {"temperature": 21})
    status, alarm = strata.call("POST", "/api/alarms", {
        "device_id": device_id, "type": "Overheat", "severity": "major"})
    assert status in (200, 201), alarm
    status, dash = admin.call("POST", "/api/dashboards", {"name": "plant", "widgets": [
        {"id": "w1", "type": "value", "title": "T", "device_id": device_id,
         "keys": ["temperature"]}]})
    assert status == 201, dash

    status, created = admin.call("POST", "/api/tenants", {
        "name": "acme", "admin_username": "acme-admin", "admin_password": "password-123"})
    assert status == 201, created
    assert created["tenant"]["name"] == "acme"
    assert admin.call("POST", "/api/tenants", {
        "name": "acme", "admin_username": "other", "admin_password": "password-123"})[0] == 409

    acme = Browser(strata, "acme-admin", "password-123")
    assert acme.user["tenant_id"] == created["tenant"]["id"] != admin.user["tenant_id"]
    status, devices = acme.call("GET", "/api/devices")
    assert status == 200 and devices_of(devices) == []
    for path in (f"/api/devices/{device_id}", f"/api/devices/{device_id}/telemetry/latest",
                 f"/api/devices/{device_id}/shadows/default", f"/api/dashboards/{dash['id']}",
                 f"/api/alarms/{alarm['id']}"):
        status, body = acme.call("GET", path)
        assert status == 404, (path, body)
    assert acme.call("GET", "/api/dashboards")[1] == []
    status, alarms = acme.call("GET", "/api/alarms")
    assert status == 200 and alarms_of(alarms) == []
    # Changes across tenants fail as if the object did not exist.
    assert acme.call("DELETE", f"/api/devices/{device_id}")[0] == 404
    assert acme.call("PUT", f"/api/dashboards/{dash['id']}",
                     {"name": "mine", "widgets": []})[0] == 404
    assert acme.call("POST", f"/api/alarms/{alarm['id']}/ack")[0] == 404
    # A widget may not point at another tenant's device.
    status, body = acme.call("POST", "/api/dashboards", {"name": "spy", "widgets": [
        {"id": "w1", "type": "value", "title": "T", "device_id": device_id,
         "keys": ["temperature"]}]})
    assert status == 422, body
    # Users and tenants: each admin sees its own; only the default tenant manages tenants.
    status, users = acme.call("GET", "/api/users")
    assert [u["username"] for u in users] == ["acme-admin"]
    assert acme.call("GET", "/api/tenants")[0] == 403
    assert acme.call("POST", "/api/tenants", {"name": "x", "admin_username": "x",
                                              "admin_password": "password-123"})[0] == 403
    # Live events of the default tenant never reach acme's socket.
    socket_ = WebSocket(strata, acme)
    strata.call("POST", f"/api/v1/{token}/telemetry", {"temperature": 99})
    assert socket_.events(seconds=1.0) == []
    socket_.close()
    # The original tenant still has everything.
    assert admin.call("GET", f"/api/dashboards/{dash['id']}")[0] == 200


def test_a_tenant_is_deleted_with_everything_in_it(strata):
    admin = Browser(strata, "admin", ADMIN_PASSWORD)
    status, created = admin.call("POST", "/api/tenants", {
        "name": "doomed", "admin_username": "doomed-admin", "admin_password": "password-123"})
    assert status == 201, created
    tenant = created["tenant"]["id"]
    doomed = Browser(strata, "doomed-admin", "password-123")
    status, device = doomed.call("POST", "/api/devices", {"name": "pump"})
    assert status == 201, device
    token = device["credentials"]["access_token"]
    assert strata.call("POST", f"/api/v1/{token}/telemetry", {"flow": 3})[0] == 200
    assert doomed.call("POST", "/api/dashboards", {"name": "d", "widgets": []})[0] == 201
    status, rule = doomed.call("POST", "/api/rules", {
        "name": "never", "trigger": "telemetry", "filter": "msg.flow > 1000",
        "actions": [{"type": "webhook", "url": "http://127.0.0.1:9/hook"}]})
    assert status == 201, rule
    mqtt = Client(strata, version=V5, username=token)
    mqtt.connect()

    # Only the installation's admins delete tenants, and never the default one.
    assert doomed.call("DELETE", f"/api/tenants/{tenant}")[0] == 403
    status, body = admin.call("DELETE", f"/api/tenants/{admin.user['tenant_id']}")
    assert status == 422, body
    assert admin.call("DELETE", f"/api/tenants/{tenant}")[0] == 204

    # Its people are signed out, its devices cut off, its names free again.
    assert doomed.call("GET", "/api/devices")[0] == 401
    assert getattr(mqtt.disconnects.get(timeout=15), "value", None) == 0x98
    req = urllib.request.Request(f"{strata.http}/api/v1/{token}/telemetry",
                                 data=b'{"flow": 4}', method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=30)
    assert refused.value.code == 401
    assert tenant not in [t["id"] for t in admin.call("GET", "/api/tenants")[1]]
    assert admin.call("DELETE", f"/api/tenants/{tenant}")[0] == 404
    status, again = admin.call("POST", "/api/tenants", {
        "name": "doomed", "admin_username": "doomed-admin", "admin_password": "password-123"})
    assert status == 201, again
    assert again["tenant"]["id"] != tenant  # ids are never reused
    reborn = Browser(strata, "doomed-admin", "password-123")
    for path in ("/api/devices", "/api/dashboards", "/api/rules"):
        status, listing = reborn.call("GET", path)
        assert status == 200 and devices_of(listing) == [], (path, listing)
    # The default tenant lost nothing.
    assert admin.call("GET", "/api/users")[0] == 200


def devices_of(listing):
    return listing["items"] if isinstance(listing, dict) else listing


def alarms_of(listing):
    return listing.get("items", listing.get("alarms")) if isinstance(listing, dict) else listing


def test_dashboards_round_trip_and_validation(strata):
    admin = Browser(strata, "admin", ADMIN_PASSWORD)
    device_id, _ = strata.create_device("dash-dev")
    widgets = [
        {"id": "a", "type": "timeseries", "title": "Temp", "device_id": device_id,
         "keys": ["temperature"], "options": {"window_ms": 600000}},
        {"id": "b", "type": "gauge", "title": "Hum", "device_id": device_id,
         "keys": ["humidity"], "options": {"min": 0, "max": 100, "unit": "%"}},
        {"id": "c", "type": "alarms", "title": "Alarms"},
    ]
    status, d = admin.call("POST", "/api/dashboards", {"name": "Line 1", "widgets": widgets})
    assert status == 201 and d["widgets"] == widgets, d
    status, listed = admin.call("GET", "/api/dashboards")
    assert [x["name"] for x in listed] == ["Line 1"]
    status, renamed = admin.call("PUT", f"/api/dashboards/{d['id']}",
                                 {"name": "Line 2", "widgets": widgets[:1]})
    assert status == 200 and renamed["widgets"] == widgets[:1]
    for bad in (
            {"name": "", "widgets": []},
            {"name": "x", "widgets": [{"id": "a", "type": "pie", "title": "?"}]},
            {"name": "x", "widgets": [{"id": "a", "type": "gauge", "title": "no device"}]},
            {"name": "x", "widgets": [{"id": "a", "type": "alarms", "title": "",
                                       "sneaky": True}]},
            {"name": "x", "widgets": [{"id": str(i), "type": "alarms", "title": ""}
                                      for i in range(51)]}):
        status, body = admin.call("POST", "/api/dashboards", bad)
        assert status == 422, (bad, body)
    assert admin.call("POST", "/api/dashboards", {"name": "Line 2", "widgets": []})[0] == 409
    assert admin.call("DELETE", f"/api/dashboards/{d['id']}")[0] == 204
    assert admin.call("GET", f"/api/dashboards/{d['id']}")[0] == 404


def test_long_ranges_are_downsampled_with_peaks_kept(strata):
    device_id, token = strata.create_device("dense")
    base = 1_700_000_000_000
    for chunk in range(10):
        batch = [{"ts": base + i, "values": {"v": 1000.0 if i == 54_321 else (i % 100) / 10}}
                 for i in range(chunk * 10_000, (chunk + 1) * 10_000)]
        status, body = strata.call("POST", f"/api/v1/{token}/telemetry", batch)
        assert status == 200, body
    status, body = strata.call(
        "GET", f"/api/devices/{device_id}/telemetry?keys=v&start={base}&end={base + 100_000}"
               f"&max_points=1000")
    assert status == 200, body
    series = body["series"][0]
    assert series["downsampled"] is True
    points = series["points"]
    assert 500 <= len(points) <= 1000, len(points)
    assert [p["ts"] for p in points] == sorted(p["ts"] for p in points)
    assert max(p["value"] for p in points) == 1000.0
    # A short range comes back raw.
    status, body = strata.call(
        "GET", f"/api/devices/{device_id}/telemetry?keys=v&start={base}&end={base + 300}"
               f"&max_points=1000")
    assert body["series"][0]["downsampled"] is False and len(body["series"][0]["points"]) == 300
    assert strata.call("GET", f"/api/devices/{device_id}/telemetry?max_points=1")[0] == 400


class WebSocket:
    """A minimal RFC 6455 client (text frames only) that authenticates like the app."""

    def __init__(self, server, browser, origin=None):
        url = urllib.parse.urlparse(server.http)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        host = f"{url.hostname}:{url.port}"
        lines = [f"GET /api/ws HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13", f"Origin: {origin or 'http://' + host}",
                 f"Cookie: strata_session={browser.session}"]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                break
            head += chunk
        self.status = int(head.split(b" ", 2)[1])
        self.buffer = b""

    def send(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        header += bytes([0x80 | len(payload)]) if len(payload) < 126 else (
            bytes([0x80 | 126]) + struct.pack(">H", len(payload)))
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def _read(self, n, deadline):
        while len(self.buffer) < n:
            self.sock.settimeout(max(0.01, deadline - time.time()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def events(self, seconds):
        """Every event received within `seconds`."""
        deadline = time.time() + seconds
        out = []
        try:
            while time.time() < deadline:
                b0, b1 = self._read(2, deadline)
                length = b1 & 0x7F
                if length == 126:
                    length = struct.unpack(">H", self._read(2, deadline))[0]
                elif length == 127:
                    length = struct.unpack(">Q", self._read(8, deadline))[0]
                payload = self._read(length, deadline)
                if b0 & 0x0F == 0x1:
                    out.extend(json.loads(payload))
        except (socket.timeout, TimeoutError):
            pass
        return out

    def close(self):
        self.sock.close()


def test_live_websocket_batches_the_tenants_events(strata):
    admin = Browser(strata, "admin", ADMIN_PASSWORD)
    one, token_one = strata.create_device("ws-one")
    two, token_two = strata.create_device("ws-two")
    ws = WebSocket(strata, admin)
    assert ws.status == 101
    for i in range(50):
        strata.call("POST", f"/api/v1/{token_one}/telemetry", {"t": i})
    events = [e for e in ws.events(seconds=2.0) if e["kind"] == "telemetry"]
    assert len(events) == 50, events[:3]
    assert all(e["device_id"] == one for e in events)
    # Narrowed to device two, device one's events stop arriving.
    ws.send(json.dumps({"devices": [two]}))
    # A bad filter gets an error event, not a dropped connection. The server reads a socket
    # in order, so the error also shows the filter before it is in place.
    ws.send("not json")
    assert any(e["kind"] == "error" for e in ws.events(seconds=3.0))
    strata.call("POST", f"/api/v1/{token_one}/telemetry", {"t": 100})
    strata.call("POST", f"/api/v1/{token_two}/telemetry", {"t": 200})
    events = [e for e in ws.events(seconds=1.5) if e["kind"] == "telemetry"]
    assert [e["device_id"] for e in events] == [two], events
    ws.close()
    # A handshake from another site's page is refused even with the cookie.
    assert WebSocket(strata, admin, origin="https://evil.example").status == 403


def test_a_configured_public_origin_may_open_the_socket(data_dir):
    # Behind a proxy that rewrites Host, the browser's Origin is the public name.
    server = Strata(data_dir, {"STRATA_HTTP__ALLOWED_ORIGINS": '["https://iot.example.com"]'})
    try:
        admin = Browser(server, "admin", ADMIN_PASSWORD)
        assert WebSocket(server, admin, origin="https://iot.example.com").status == 101
        assert WebSocket(server, admin, origin="https://evil.example").status == 403
    finally:
        server.kill()


def test_the_app_is_served_from_the_binary(strata):
    conn = http.client.HTTPConnection(urllib.parse.urlparse(strata.http).hostname,
                                      urllib.parse.urlparse(strata.http).port, timeout=10)
    for path in ("/", "/devices/some-id", "/dashboards"):
        conn.request("GET", path, headers={"Accept-Encoding": "gzip"})
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, path
        assert resp.getheader("content-type").startswith("text/html")
        assert "default-src 'self'" in resp.getheader("content-security-policy")
        assert resp.getheader("content-encoding") == "gzip"
        assert body[:2] == b"\x1f\x8b"
    conn.request("GET", "/assets/missing-0000.js")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 404
    conn.request("GET", "/api/no-such-endpoint")
    resp = conn.getresponse()
    assert resp.status == 404 and json.loads(resp.read())["error"]["code"] == "not_found"


def test_device_list_filters_by_connectivity_with_right_totals(strata):
    heard, token = strata.create_device("status-heard")
    silent, _ = strata.create_device("status-silent")
    assert strata.call("POST", f"/api/v1/{token}/telemetry", {"t": 1})[0] == 200
    status, online = strata.call("GET", "/api/devices?status=online")
    assert status == 200 and [d["id"] for d in online["items"]] == [heard], online
    assert online["total"] == 1
    status, offline = strata.call("GET", "/api/devices?status=offline&search=status-")
    assert [d["id"] for d in offline["items"]] == [silent] and offline["total"] == 1
    assert strata.call("GET", "/api/devices?status=sleeping")[0] == 400


def test_signing_out_ends_the_event_stream(strata):
    """An SSE stream re-checks its session (every 30 s, as the live WebSocket does): after
    a sign-out it ends instead of streaming the tenant's events on."""
    status, body = strata.call("POST", "/api/auth/login",
                               {"username": "admin", "password": ADMIN_PASSWORD})
    assert status == 200, body
    token = body["token"]
    req = urllib.request.Request(f"{strata.http}/api/events")
    req.add_header("Authorization", f"Bearer {token}")
    resp = urllib.request.urlopen(req, timeout=60)
    assert resp.status == 200
    status, _ = strata.call("POST", "/api/auth/logout", token=token)
    assert status == 204
    deadline = time.monotonic() + 90
    ended = False
    while time.monotonic() < deadline:
        # Keep-alive comments come every 15 s; the end of the stream reads as b"".
        if not resp.readline():
            ended = True
            break
    resp.close()
    assert ended, "the event stream outlived its session"
