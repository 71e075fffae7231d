"""MQTT 5.0 features and QoS guarantees end to end with real clients (paho-mqtt), plus raw
sockets where a client library hides the packets (keep alive, QoS 2 across a reconnect)."""

import socket
import struct
import time

import pytest

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from clients import Client, V311, V5


def test_retain_handling_options(open_strata):
    pub = Client(open_strata)
    pub.connect()
    pub.publish("rh/t", "kept", qos=1, retain=True)
    c = Client(open_strata)
    c.connect()
    # 2: never send retained messages at subscribe time.
    c.subscribe("rh/t", options=SubscribeOptions(qos=1, retainHandling=2))
    c.expect_none()
    # 1: only when the subscription is new.
    c.subscribe("rh/+", options=SubscribeOptions(qos=1, retainHandling=1))
    assert c.expect().payload == b"kept"
    c.subscribe("rh/+", options=SubscribeOptions(qos=1, retainHandling=1))
    c.expect_none()
    # 0: every time.
    c.subscribe("rh/#", options=SubscribeOptions(qos=1, retainHandling=0))
    assert c.expect().payload == b"kept"
    c.subscribe("rh/#", options=SubscribeOptions(qos=1, retainHandling=0))
    assert c.expect().payload == b"kept"


def test_client_topic_alias(open_strata):
    sub = Client(open_strata)
    sub.connect()
    sub.subscribe("alias/#", qos=1)
    pub = Client(open_strata)
    _, _, connack = pub.connect()
    assert connack.TopicAliasMaximum >= 1
    p = Properties(PacketTypes.PUBLISH)
    p.TopicAlias = 1
    pub.publish("alias/long/topic/name", "first", qos=1, props=p)
    pub.publish("", "second", qos=1, props=p)  # the alias stands for the topic
    got = [sub.expect(), sub.expect()]
    assert [(m.topic, m.payload) for m in got] == [
        ("alias/long/topic/name", b"first"), ("alias/long/topic/name", b"second")]


def test_client_maximum_packet_size_is_respected(open_strata):
    c = Client(open_strata)
    c.connect_props.MaximumPacketSize = 100
    c.connect()
    c.subscribe("mps", qos=1)
    pub = Client(open_strata)
    pub.connect()
    pub.publish("mps", "x" * 200, qos=1)  # larger than the subscriber accepts: dropped
    pub.publish("mps", "small", qos=1)
    assert c.expect().payload == b"small"
    c.expect_none()


def test_connack_announces_server_limits(open_strata):
    c = Client(open_strata)
    _, _, props = c.connect()
    assert props.ReceiveMaximum >= 1
    assert props.MaximumPacketSize >= 1024
    assert props.TopicAliasMaximum >= 1
    c.disconnect()


# --- raw 3.1.1 helpers --------------------------------------------------------------------

def remaining_length(n):
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(first, body):
    return bytes([first]) + remaining_length(len(body)) + body


def mqtt_str(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def raw_connect(server, client_id, clean=True, keep_alive=60):
    s = socket.create_connection((server.mqtt_host, server.mqtt_port), timeout=10)
    flags = 0x02 if clean else 0x00
    body = mqtt_str("MQTT") + bytes([4, flags]) + struct.pack(">H", keep_alive) + \
        mqtt_str(client_id)
    s.sendall(packet(0x10, body))
    connack = recv_packet(s)
    assert connack[0] == 0x20 and connack[1][1] == 0, connack
    return s, connack[1][0] == 1


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def recv_packet(s):
    first = recv_exact(s, 1)[0]
    mult, length = 1, 0
    while True:
        b = recv_exact(s, 1)[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return first, recv_exact(s, length)


def test_keep_alive_closes_silent_clients(open_strata):
    s, _ = raw_connect(open_strata, "silent", keep_alive=1)
    started = time.time()
    s.settimeout(30)
    # Nothing is sent: the broker must close after one and a half keep-alive periods (well
    # before the 30 s the socket waits; how long exactly is not a test's business).
    assert s.recv(16) == b""
    # Not before the keep-alive ran out (a lower bound: a slow machine only adds to it).
    assert time.time() - started >= 1.0
    s.close()


def test_qos2_is_delivered_exactly_once_across_a_reconnect(open_strata):
    sub = Client(open_strata)
    sub.connect()
    sub.subscribe("once", qos=2)
    s, _ = raw_connect(open_strata, "q2pub", clean=False)
    publish = packet(0x34, mqtt_str("once") + struct.pack(">H", 7) + b"payload")
    s.sendall(publish)
    first, body = recv_packet(s)
    assert first == 0x50 and body == struct.pack(">H", 7)  # PUBREC
    s.close()  # gone before PUBREL
    s, present = raw_connect(open_strata, "q2pub", clean=False)
    assert present
    # The client does not know whether PUBREC arrived: it sends the PUBLISH again (DUP).
    s.sendall(packet(0x3C, mqtt_str("once") + struct.pack(">H", 7) + b"payload"))
    first, body = recv_packet(s)
    assert first == 0x50 and body == struct.pack(">H", 7)
    s.sendall(packet(0x62, struct.pack(">H", 7)))  # PUBREL
    first, body = recv_packet(s)
    assert first == 0x70 and body == struct.pack(">H", 7)  # PUBCOMP
    assert sub.expect().payload == b"payload"
    sub.expect_none(wait=1.0)
    s.close()


def test_qos1_is_redelivered_to_a_reconnecting_subscriber(open_strata):
    s, _ = raw_connect(open_strata, "q1sub", clean=False)
    s.sendall(packet(0x82, struct.pack(">H", 1) + mqtt_str("redeliver") + b"\x01"))
    first, _ = recv_packet(s)
    assert first == 0x90
    pub = Client(open_strata, version=V311)
    pub.connect()
    pub.publish("redeliver", "m1", qos=1)
    first, body = recv_packet(s)
    assert first & 0xF0 == 0x30 and first & 0x08 == 0  # PUBLISH, not DUP
    packet_id = body[2 + len("redeliver"):4 + len("redeliver")]
    s.close()  # no PUBACK
    s, present = raw_connect(open_strata, "q1sub", clean=False)
    assert present
    first, body = recv_packet(s)
    assert first & 0xF0 == 0x30 and first & 0x08  # the same message again, DUP set
    assert body[2 + len("redeliver"):4 + len("redeliver")] == packet_id
    assert body.endswith(b"m1")
    s.sendall(packet(0x40, packet_id))
    s.close()


def test_server_keep_alive_is_imposed_on_v5_clients(data_dir):
    from conftest import Strata

    server = Strata(data_dir, {"STRATA_MQTT__ALLOW_ANONYMOUS": "true",
                               "STRATA_MQTT__SERVER_KEEP_ALIVE": "5s"})
    try:
        c = Client(server, version=V5, keepalive=60)
        _, _, props = c.connect()
        assert props.ServerKeepAlive == 5
        c.disconnect()
    finally:
        server.kill()


def test_publish_rate_limit_slows_clients_without_loss(data_dir):
    from conftest import Strata

    server = Strata(data_dir, {"STRATA_MQTT__ALLOW_ANONYMOUS": "true",
                               "STRATA_MQTT__MAX_PUBLISH_RATE": "50",
                               "STRATA_MQTT__PUBLISH_BURST": "5"})
    try:
        sub = Client(server)
        sub.connect()
        sub.subscribe("rate/#", qos=1)
        pub = Client(server)
        pub.connect()
        infos = [pub.c.publish("rate/t", f"m{i}", qos=1) for i in range(100)]
        for info in infos:
            info.wait_for_publish(timeout=30)
        got = [sub.expect(timeout=10).payload for _ in range(100)]
        assert got == [f"m{i}".encode() for i in range(100)]  # all, in order
        # Counters reach /metrics once a second: poll for the pause being counted.
        deadline, throttled = time.time() + 10, []
        while time.time() < deadline:
            status, text = server.call_text("GET", "/metrics")
            assert status == 200
            throttled = [float(line.split()[-1]) for line in text.splitlines()
                         if line.startswith("strata_mqtt_throttled_total")]
            if throttled and throttled[0] > 0:
                break
            time.sleep(0.2)
        assert throttled and throttled[0] > 0, throttled
    finally:
        server.kill()


def test_retained_messages_expire(open_strata):
    pub = Client(open_strata)
    pub.connect()
    short = Properties(PacketTypes.PUBLISH)
    short.MessageExpiryInterval = 1
    pub.publish("exp/short", "gone soon", qos=1, retain=True, props=short)
    long = Properties(PacketTypes.PUBLISH)
    long.MessageExpiryInterval = 100
    pub.publish("exp/long", "stays", qos=1, retain=True, props=long)
    time.sleep(2.2)
    c = Client(open_strata)
    c.connect()
    c.subscribe("exp/#", qos=1)
    m = c.expect()
    assert m.topic == "exp/long"
    assert 90 <= m.properties.MessageExpiryInterval < 100  # what is left of it
    c.expect_none()


# --- raw 5.0 helpers: what the server sends, byte for byte --------------------------------

def v5_connect(server, client_id, props=b""):
    s = socket.create_connection((server.mqtt_host, server.mqtt_port), timeout=10)
    body = mqtt_str("MQTT") + bytes([5, 0x02]) + struct.pack(">H", 60) + \
        remaining_length(len(props)) + props + mqtt_str(client_id)
    s.sendall(packet(0x10, body))
    first, connack = recv_packet(s)
    assert first == 0x20 and connack[1] == 0, connack
    return s


def v5_subscribe(s, topic, qos):
    s.sendall(packet(0x82, struct.pack(">H", 1) + b"\x00" + mqtt_str(topic) + bytes([qos])))
    first, body = recv_packet(s)
    assert first == 0x90 and body[-1] == qos, body


def parse_v5_publish(first, body):
    """(topic, packet id or None, properties bytes, payload)."""
    n = struct.unpack(">H", body[:2])[0]
    topic, at = body[2:2 + n].decode(), 2 + n
    packet_id = None
    if (first >> 1) & 3:
        packet_id, at = body[at:at + 2], at + 2
    mult, plen = 1, 0
    while True:
        b = body[at]
        at += 1
        plen += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return topic, packet_id, body[at:at + plen], body[at + plen:]


def test_server_topic_aliases_towards_the_client(open_strata):
    # The client accepts up to 4 aliases (property 0x22).
    s = v5_connect(open_strata, "alias-rx", props=b"\x22\x00\x04")
    v5_subscribe(s, "long/topic/for/aliasing", 0)
    pub = Client(open_strata)
    pub.connect()
    for i in range(3):
        pub.publish("long/topic/for/aliasing", f"m{i}", qos=1)
    seen = [parse_v5_publish(*recv_packet(s)) for _ in range(3)]
    # The first carries the topic and sets an alias; later ones use the alias alone.
    topic0, _, props0, payload0 = seen[0]
    assert topic0 == "long/topic/for/aliasing" and props0[:1] == b"\x23", seen[0]
    alias = props0[1:3]
    for topic, _, props, _ in seen[1:]:
        assert topic == "" and props == b"\x23" + alias, seen
    assert [p for *_, p in seen] == [b"m0", b"m1", b"m2"]
    s.close()


def test_client_receive_maximum_limits_unacknowledged_messages(open_strata):
    # Receive Maximum 2 (property 0x21): at most two QoS 1 messages unacknowledged.
    s = v5_connect(open_strata, "rm-2", props=b"\x21\x00\x02")
    v5_subscribe(s, "rm", 1)
    pub = Client(open_strata)
    pub.connect()
    for i in range(5):
        pub.publish("rm", f"m{i}", qos=1)
    first = [parse_v5_publish(*recv_packet(s)) for _ in range(2)]
    assert [p for *_, p in first] == [b"m0", b"m1"]
    s.settimeout(1.0)
    try:
        extra = s.recv(64)
        raise AssertionError(f"a third message before any PUBACK: {extra!r}")
    except socket.timeout:
        pass
    s.settimeout(10)
    s.sendall(packet(0x40, first[0][1]))  # PUBACK the first: one more may come
    nxt = parse_v5_publish(*recv_packet(s))
    assert nxt[3] == b"m2"
    s.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_qos2_flow_survives_a_session_takeover(data_dir, workers):
    """The subscriber acknowledged a QoS 2 message with PUBREC, then another connection takes
    its session over before PUBCOMP: the new connection must get PUBREL for that packet
    identifier, not the message a second time (exactly once). With two event loops the two
    connections land on the same or on different loops; several rounds cover both."""
    from conftest import Strata

    open_strata = Strata(data_dir, {"STRATA_MQTT__ALLOW_ANONYMOUS": "true",
                                    "STRATA_MQTT__WORKERS": str(workers)})
    try:
        for round_ in range(1 if workers == 1 else 6):
            _qos2_takeover(open_strata, f"q2-takeover-{round_}")
    finally:
        open_strata.kill()


def _qos2_takeover(open_strata, client_id):
    a, _ = raw_connect(open_strata, client_id, clean=False)
    a.sendall(packet(0x82, struct.pack(">H", 1) + mqtt_str("q2t") + b"\x02"))
    first, _ = recv_packet(a)
    assert first == 0x90
    pub = Client(open_strata, version=V311)
    pub.connect()
    pub.publish("q2t", "only-once", qos=2)
    first, body = recv_packet(a)
    assert first & 0xF6 == 0x34, hex(first)  # PUBLISH QoS 2
    packet_id = body[2 + 3:4 + 3]
    a.sendall(packet(0x50, packet_id))  # PUBREC
    first, body = recv_packet(a)
    assert first == 0x62 and body == packet_id  # PUBREL; no PUBCOMP sent
    b, present = raw_connect(open_strata, client_id, clean=False)
    assert present
    first, body = recv_packet(b)
    assert (first, body) == (0x62, packet_id), (hex(first), body)  # PUBREL again, no PUBLISH
    b.sendall(packet(0x70, packet_id))  # PUBCOMP
    b.settimeout(1.0)
    try:
        extra = b.recv(64)
        assert extra == b"", f"unexpected after PUBCOMP: {extra!r}"
    except socket.timeout:
        pass
    a.close()
    b.close()
