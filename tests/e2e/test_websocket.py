"""MQTT over WebSocket (ws:// and wss://, path /mqtt) with paho-mqtt, both protocol versions,
mixed with TCP clients; and upgrade requests the listener must refuse."""

import socket

import pytest

from clients import Client, V311, V5
from conftest import Strata
from test_tls import pki, tls_env  # noqa: F401  (the pki fixture)


@pytest.fixture
def ws_strata(data_dir, pki):  # noqa: F811
    env = tls_env(pki, anonymous=True)
    env.update({
        "STRATA_MQTT__WEBSOCKET__ENABLED": "true",
        "STRATA_MQTT__WEBSOCKET__LISTEN": "127.0.0.1:0",
        "STRATA_MQTT__WEBSOCKET__SECURE_ENABLED": "true",
        "STRATA_MQTT__WEBSOCKET__SECURE_LISTEN": "127.0.0.1:0",
    })
    server = Strata(data_dir, env)
    assert server.ws_port and server.wss_port, "no WebSocket listeners announced"
    yield server
    server.kill()


@pytest.mark.parametrize("version", [V311, V5])
@pytest.mark.parametrize("secure", [False, True])
def test_pubsub_over_websocket(ws_strata, pki, version, secure):  # noqa: F811
    tls = {"ca_certs": str(pki / "ca.pem")} if secure else None
    sub = Client(ws_strata, version=version, websocket=True, tls=tls)
    sub.connect()
    sub.subscribe("web/#", qos=2)
    pub = Client(ws_strata, version=version, websocket=True, tls=tls)
    pub.connect()
    pub.publish("web/small", "hello", qos=1)
    pub.publish("web/big", "y" * 150_000, qos=2)  # spans several WebSocket frames
    tcp = Client(ws_strata, version=version)
    tcp.connect()
    tcp.publish("web/tcp", "from-tcp", qos=0)
    # paho hands a QoS 2 message to the application only after PUBREL, so arrival order
    # across QoS levels is the client's business: compare as a set.
    got = [sub.expect() for _ in range(3)]
    assert sorted((m.topic, len(m.payload)) for m in got) == [
        ("web/big", 150_000), ("web/small", 5), ("web/tcp", 8)]
    for c in (sub, pub, tcp):
        c.disconnect()


def test_device_telemetry_over_websocket(ws_strata):
    device_id, token = ws_strata.create_device("ws-device")
    c = Client(ws_strata, version=V5, username=token, websocket=True)
    c.connect()
    c.publish("v1/devices/me/telemetry", '{"ws": 3}', qos=1)
    c.disconnect()
    assert ws_strata.latest(device_id)["ws"]["value"] == 3


def http_exchange(port, request: bytes) -> bytes:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(request)
        data = b""
        while True:
            try:
                chunk = s.recv(4096)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            data += chunk
        return data
    finally:
        s.close()


def test_bad_upgrades_are_refused(ws_strata):
    good = ("GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: mqtt\r\n\r\n")
    assert http_exchange(ws_strata.ws_port, good.replace("/mqtt", "/nope").encode()) \
        .startswith(b"HTTP/1.1 404")
    assert http_exchange(ws_strata.ws_port, good.replace("GET", "PUT").encode()) \
        .startswith(b"HTTP/1.1 405")
    assert http_exchange(ws_strata.ws_port, b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\r\n\r\n") \
        .startswith(b"HTTP/1.1 400")
    # A text frame after a good upgrade: 101, then a close frame with 1003.
    frame = bytes([0x81, 0x82, 1, 2, 3, 4, ord("h") ^ 1, ord("i") ^ 2])
    answer = http_exchange(ws_strata.ws_port, good.encode() + frame)
    assert answer.startswith(b"HTTP/1.1 101")
    assert answer.endswith(b"\x88\x02\x03\xeb")
    # Still serving.
    c = Client(ws_strata, version=V5, websocket=True)
    c.connect()
    c.disconnect()
