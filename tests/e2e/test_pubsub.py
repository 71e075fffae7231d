"""Plain publish/subscribe semantics with real clients (anonymous pub/sub enabled), on both
protocol versions where the behaviour exists in both."""

import queue
import socket
import subprocess
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from clients import Client, V311, V5, mosquitto_sub, subscribed_messages

BOTH = [V311, V5]


@pytest.mark.parametrize("version", BOTH)
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_qos_delivery_with_wildcards(open_strata, version, qos):
    sub = Client(open_strata, version=version)
    sub.connect()
    sub.subscribe("sensors/+/temp", qos=qos)
    sub.subscribe("alarms/#", qos=qos)
    pub = Client(open_strata, version=version)
    pub.connect()
    pub.publish("sensors/a/temp", "21", qos=qos)
    pub.publish("sensors/a/hum", "40", qos=qos)
    pub.publish("alarms/x/y", "fire", qos=qos)
    got = sorted((m.topic, m.payload, m.qos) for m in [sub.expect(), sub.expect()])
    assert got == [("alarms/x/y", b"fire", qos), ("sensors/a/temp", b"21", qos)]
    sub.expect_none()


@pytest.mark.parametrize("version", BOTH)
def test_qos_is_the_minimum_of_publish_and_subscription(open_strata, version):
    sub = Client(open_strata, version=version)
    sub.connect()
    sub.subscribe("q", qos=1)
    pub = Client(open_strata, version=version)
    pub.connect()
    pub.publish("q", "x", qos=2)
    assert sub.expect().qos == 1


def test_dollar_topics_do_not_match_leading_wildcards(open_strata):
    sub = Client(open_strata)
    sub.connect()
    sub.subscribe("#")
    sub.subscribe("+/stats")
    dollar = Client(open_strata)
    dollar.connect()
    dollar.subscribe("$app/stats")
    pub = Client(open_strata)
    pub.connect()
    pub.publish("$app/stats", "1", qos=1)
    assert dollar.expect().topic == "$app/stats"
    sub.expect_none()


@pytest.mark.parametrize("version", BOTH)
def test_retained_messages_and_deletion(open_strata, version):
    pub = Client(open_strata, version=version)
    pub.connect()
    pub.publish("home/door", "open", qos=1, retain=True)
    late = Client(open_strata, version=version)
    late.connect()
    late.subscribe("home/+", qos=1)
    m = late.expect()
    assert (m.topic, m.payload, m.retain) == ("home/door", b"open", True)
    # Live messages to an existing subscriber carry RETAIN 0 (unless retain-as-published).
    pub.publish("home/door", "closed", qos=1, retain=True)
    m = late.expect()
    assert (m.payload, m.retain) == (b"closed", False)
    pub.publish("home/door", "", qos=1, retain=True)
    after = Client(open_strata, version=version)
    after.connect()
    after.subscribe("home/#", qos=1)
    after.expect_none()


@pytest.mark.parametrize("version", BOTH)
def test_last_will_on_abnormal_disconnect_only(open_strata, version):
    watcher = Client(open_strata, version=version)
    watcher.connect()
    watcher.subscribe("status/#", qos=1)
    dying = Client(open_strata, version=version, will=("status/dying", "gone", 1, False, None))
    dying.connect()
    dying.drop()
    m = watcher.expect()
    assert (m.topic, m.payload) == ("status/dying", b"gone")
    polite = Client(open_strata, version=version, will=("status/polite", "gone", 1, False, None))
    polite.connect()
    polite.disconnect()
    watcher.expect_none(1.0)


def test_will_delay_interval_and_cancel_on_reconnect(open_strata):
    watcher = Client(open_strata)
    watcher.connect()
    watcher.subscribe("will/#", qos=1)
    props = Properties(PacketTypes.WILLMESSAGE)
    props.WillDelayInterval = 2
    c = Client(open_strata, client_id="delayed-will", clean=False, session_expiry=60,
               will=("will/delayed", "late", 1, False, props))
    c.connect()
    c.drop()
    watcher.expect_none(1.0)
    m = watcher.expect(timeout=15)
    assert m.payload == b"late"
    # Reconnecting within the delay cancels the will (a longer delay, so a stalled machine
    # still reconnects in time).
    props.WillDelayInterval = 8
    c = Client(open_strata, client_id="delayed-will", clean=False, session_expiry=60,
               will=("will/delayed", "never", 1, False, props))
    c.connect()
    c.drop()
    time.sleep(0.5)
    again = Client(open_strata, client_id="delayed-will", clean=False, session_expiry=60)
    again.connect()
    watcher.expect_none(10.0)


@pytest.mark.parametrize("version", BOTH)
def test_persistent_session_queues_while_offline(open_strata, version):
    kwargs = dict(version=version, client_id=f"persist-{version}", clean=False)
    if version == V5:
        kwargs["session_expiry"] = 300
    c = Client(open_strata, **kwargs)
    flags, _, _ = c.connect()
    c.subscribe("jobs/#", qos=1)
    c.disconnect()
    pub = Client(open_strata, version=version)
    pub.connect()
    # QoS 0 first: paho sends it asynchronously, and the acknowledged QoS 1 messages behind it
    # on the same connection prove the broker has handled it before the reconnect.
    pub.publish("jobs/zero", "q0", qos=0)
    for i in range(5):
        pub.publish(f"jobs/{i}", str(i), qos=1)
    c = Client(open_strata, **kwargs)
    flags, _, _ = c.connect()
    assert flags.session_present
    got = [c.expect().payload for _ in range(5)]
    assert got == [b"0", b"1", b"2", b"3", b"4"]
    c.expect_none()
    c.disconnect()
    # A clean start discards the session.
    kwargs["clean"] = True
    c = Client(open_strata, **kwargs)
    flags, _, _ = c.connect()
    assert not flags.session_present


def test_session_expiry_zero_ends_the_session(open_strata):
    c = Client(open_strata, client_id="short", clean=False, session_expiry=0)
    c.connect()
    c.subscribe("s", qos=1)
    c.disconnect()
    c = Client(open_strata, client_id="short", clean=False, session_expiry=0)
    flags, _, _ = c.connect()
    assert not flags.session_present


def test_session_takeover_disconnects_the_old_connection(open_strata):
    first = Client(open_strata, client_id="same-id")
    first.connect()
    second = Client(open_strata, client_id="same-id")
    second.connect()
    rc = first.disconnects.get(timeout=5)
    assert rc.value == 0x8E  # session taken over


def test_shared_subscriptions_split_the_load(open_strata):
    members = [Client(open_strata) for _ in range(2)]
    for m in members:
        m.connect()
        m.subscribe("$share/workers/tasks/#", qos=1)
    pub = Client(open_strata)
    pub.connect()
    for i in range(10):
        pub.publish(f"tasks/{i}", str(i), qos=1)
    counts = [0, 0]
    deadline = time.time() + 15
    while sum(counts) < 10 and time.time() < deadline:
        for i, m in enumerate(members):
            try:
                m.messages.get(timeout=0.1)
                counts[i] += 1
            except queue.Empty:
                pass
    # None more: each message went to one member only.
    for m in members:
        m.expect_none(0.5)
    assert sum(counts) == 10 and min(counts) > 0, counts


def test_no_local_and_retain_as_published(open_strata):
    c = Client(open_strata)
    c.connect()
    c.subscribe("loop", options=SubscribeOptions(qos=1, noLocal=True))
    c.subscribe("rap", options=SubscribeOptions(qos=1, retainAsPublished=True))
    c.publish("loop", "mine", qos=1)
    c.expect_none()
    other = Client(open_strata)
    other.connect()
    other.publish("rap", "r", qos=1, retain=True)
    assert c.expect().retain is True


def test_subscription_identifiers_user_properties_and_response_topic(open_strata):
    c = Client(open_strata)
    c.connect()
    props = Properties(PacketTypes.SUBSCRIBE)
    props.SubscriptionIdentifier = 42
    c.subscribe("req/#", qos=1, props=props)
    pub = Client(open_strata)
    pub.connect()
    p = Properties(PacketTypes.PUBLISH)
    p.UserProperty = [("k", "v")]
    p.ResponseTopic = "resp/1"
    p.CorrelationData = b"abc"
    p.ContentType = "text/plain"
    pub.publish("req/x", "hello", qos=1, props=p)
    m = c.expect()
    assert m.properties.SubscriptionIdentifier == [42]
    assert m.properties.UserProperty == [("k", "v")]
    assert m.properties.ResponseTopic == "resp/1"
    assert m.properties.CorrelationData == b"abc"
    assert m.properties.ContentType == "text/plain"


def test_message_expiry_drops_stale_queued_messages(open_strata):
    c = Client(open_strata, client_id="expiry", clean=False, session_expiry=60)
    c.connect()
    c.subscribe("exp", qos=1)
    c.disconnect()
    pub = Client(open_strata)
    pub.connect()
    p = Properties(PacketTypes.PUBLISH)
    p.MessageExpiryInterval = 1
    pub.publish("exp", "stale", qos=1, props=p)
    p2 = Properties(PacketTypes.PUBLISH)
    p2.MessageExpiryInterval = 60
    pub.publish("exp", "fresh", qos=1, props=p2)
    time.sleep(2.2)
    c = Client(open_strata, client_id="expiry", clean=False, session_expiry=60)
    c.connect()
    m = c.expect()
    assert m.payload == b"fresh"
    assert 55 <= m.properties.MessageExpiryInterval <= 60
    c.expect_none()


def test_assigned_client_identifier(open_strata):
    c = Client(open_strata, client_id="")
    _, _, props = c.connect()
    assert props.AssignedClientIdentifier.startswith("strata-")


def test_mosquitto_clients_round_trip(open_strata):
    host, port = open_strata.mqtt_host, str(open_strata.mqtt_port)
    for version in ("mqttv311", "mqttv5"):
        sub = mosquitto_sub(["-h", host, "-p", port, "-t", "cli/#", "-q", "2",
                             "-V", version, "-C", "3", "-W", "20"])
        for q in ("0", "1", "2"):
            subprocess.run(["mosquitto_pub", "-h", host, "-p", port, "-t", f"cli/{q}", "-q", q,
                            "-V", version, "-m", f"m{q}"], check=True, timeout=10)
        got = subscribed_messages(sub, "cli/")
        assert sorted(got) == ["cli/0 m0", "cli/1 m1", "cli/2 m2"], got


def raw(open_strata):
    s = socket.create_connection((open_strata.mqtt_host, open_strata.mqtt_port), timeout=5)
    return s


def read_all(s):
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False


def test_malformed_packets_close_the_connection_without_harm(open_strata):
    cases = [
        b"\x00\x00",                                   # reserved packet type
        b"\x10\xff\xff\xff\xff\x7f",                   # remaining length over 4 bytes
        b"\x10\x0c\x00\x04MQTT\x09\x02\x00\x3c\x00\x00",  # unsupported protocol level 9
        b"\x30\x05\x00\x01a",                          # PUBLISH before CONNECT
        b"\x10\x0d\x00\x04MQTT\x04\x01\x00\x3c\x00\x01x",  # reserved connect flag set
    ]
    for payload in cases:
        s = raw(open_strata)
        s.sendall(payload)
        _, closed = read_all(s)
        assert closed, payload
        s.close()
    # 5.0: a second CONNECT is a protocol error answered with DISCONNECT 0x82.
    s = raw(open_strata)
    connect = b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x03abc"
    s.sendall(connect)
    time.sleep(0.2)
    s.sendall(connect)
    data, closed = read_all(s)
    assert closed
    assert data[:1] == b"\x20"  # CONNACK first
    assert b"\xe0" in data[4:] and data[-len(b"\x82"):] != b"", data
    disconnect_at = data.index(b"\xe0", 4)
    assert data[disconnect_at + 2] == 0x82, data
    s.close()
    # The broker is fine afterwards.
    c = Client(open_strata)
    c.connect()
    c.subscribe("ok", qos=1)
    c.publish("ok", "still", qos=1)
    assert c.expect().payload == b"still"


def test_oversized_packet_is_refused(open_strata):
    c = Client(open_strata)
    c.connect()
    c.c.publish("big", b"x" * (2 * 1024 * 1024), qos=0)
    rc = c.disconnects.get(timeout=10)
    assert rc.value in (0x95, 0x80, 7), rc  # packet too large (or the socket just closed)


@pytest.mark.parametrize("workers", [1, 2])
def test_takeover_hands_unacknowledged_messages_to_the_new_connection(data_dir, workers):
    """With one event loop the old and the new connection share it (the hand-over happens at
    once); with two they may not (it goes through the other loop's inbox)."""
    from conftest import Strata

    open_strata = Strata(data_dir, {"STRATA_MQTT__ALLOW_ANONYMOUS": "true",
                                    "STRATA_MQTT__WORKERS": str(workers)})
    try:
        _takeover_check(open_strata)
    finally:
        open_strata.kill()


def _takeover_check(open_strata):
    connect = b"\x10\x0e\x00\x04MQTT\x04\x00\x00\x3c\x00\x02tk"  # 3.1.1, clean session 0
    subscribe = b"\x82\x09\x00\x01\x00\x04tk/t\x01"
    first = raw(open_strata)
    first.sendall(connect)
    assert first.recv(4)[:1] == b"\x20"
    first.sendall(subscribe)
    assert first.recv(5)[:1] == b"\x90"
    pub = Client(open_strata, version=V311)
    pub.connect()
    pub.publish("tk/t", "payload-1", qos=1)
    data = first.recv(64)
    assert data[:1] in (b"\x32", b"\x3a") and b"payload-1" in data  # received, never acknowledged
    second = raw(open_strata)
    second.sendall(connect)
    data = b""
    deadline = time.time() + 5
    while b"payload-1" not in data and time.time() < deadline:
        data += second.recv(256)
    assert data[:4] == b"\x20\x02\x01\x00", data  # session present
    assert b"payload-1" in data[4:], data
    first.close()
    second.close()


V5_CONNECT = b"\x10\x10\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x03abc"


@pytest.mark.parametrize("packet,reason", [
    (b"\x36\x06\x00\x01a\x00\x00\x00", 0x81),        # PUBLISH with QoS 3: malformed
    (b"\x30\x07\x00\x03a/+\x00zz", 0x90),            # wildcard in a topic name
    (b"\x30\x08\x00\x01a\x03\x23\x00\x00z", 0x94),   # topic alias 0
    (b"\x30\x05\x00\x00\x00zz", 0x82),               # empty topic without an alias
    (b"\x82\x03\x00\x01\x00", 0x82),                 # SUBSCRIBE without any filter
    (b"\xf0\x00", 0x82),                             # AUTH without an auth method
], ids=["qos3", "wildcard-topic", "alias-0", "empty-topic", "empty-subscribe", "auth"])
def test_v5_violations_end_with_the_specified_reason_code(open_strata, packet, reason):
    s = raw(open_strata)
    s.sendall(V5_CONNECT)
    time.sleep(0.1)
    s.sendall(packet)
    data, closed = read_all(s)
    assert closed, data
    assert data[:1] == b"\x20", data  # CONNACK
    connack_len = 2 + data[1]
    rest = data[connack_len:]
    assert rest[:1] == b"\xe0", data  # then DISCONNECT
    assert rest[2] == reason, (hex(rest[2]), data)
    # With a Reason String (property 0x1F) saying what was wrong.
    assert rest[4:5] == b"\x1f" and len(rest) > 8, data
    s.close()


def test_clean_start_ends_the_session_and_publishes_its_delayed_will(open_strata):
    """5.0 3.1.2.5: the will goes out when the delay ends or the session ends, whichever
    comes first; a clean start ends the old session."""
    watcher = Client(open_strata)
    watcher.connect()
    watcher.subscribe("will/#", qos=1)
    props = Properties(PacketTypes.WILLMESSAGE)
    props.WillDelayInterval = 60
    c = Client(open_strata, client_id="ended-by-clean", clean=False, session_expiry=120,
               will=("will/ended", "session over", 1, False, props))
    c.connect()
    c.drop()
    watcher.expect_none(0.5)
    fresh = Client(open_strata, client_id="ended-by-clean", clean=True)
    fresh.connect()
    assert watcher.expect(timeout=5).payload == b"session over"
