"""The MQTT device API: device tokens authenticate, telemetry is stored exactly as over HTTP,
and QoS 1/2 acknowledgements come only once the points are durable."""

import subprocess
import time

import pytest

from clients import Client, V311, V5


@pytest.mark.parametrize("version", [V311, V5])
def test_device_telemetry_is_stored(strata, version):
    device_id, token = strata.create_device(f"dev-{version}")
    c = Client(strata, version=version, username=token)
    c.connect()
    c.publish("v1/devices/me/telemetry", '{"temp": 21.5, "on": true}', qos=1)
    c.publish("v1/devices/me/telemetry", '[{"ts": 1700000000000, "values": {"hum": 40}}]', qos=2)
    # The acknowledgement means durable: the values are readable right away.
    latest = strata.latest(device_id)
    assert latest["temp"]["value"] == 21.5
    assert latest["on"]["value"] is True
    assert latest["hum"]["ts"] == 1700000000000
    c.disconnect()


def test_token_as_password_also_works(strata):
    device_id, token = strata.create_device("pw")
    c = Client(strata, version=V311, username="anything", password=token)
    c.connect()
    c.publish("v1/devices/me/telemetry", '{"x": 1}', qos=1)
    assert strata.latest(device_id)["x"]["value"] == 1
    c.disconnect()


def test_mosquitto_pub_with_token(strata):
    device_id, token = strata.create_device("cli")
    for version in ("mqttv311", "mqttv5"):
        subprocess.run(["mosquitto_pub", "-h", strata.mqtt_host, "-p", str(strata.mqtt_port),
                        "-u", token, "-t", "v1/devices/me/telemetry", "-q", "1",
                        "-V", version, "-m", '{"cli": "%s"}' % version],
                       check=True, timeout=20)
        assert strata.latest(device_id)["cli"]["value"] == version


# paho reports a 3.1.1 CONNACK return code as the equivalent 5.0 reason code
# (4 "bad user name or password" -> 0x86, 5 "not authorized" -> 0x87).
@pytest.mark.parametrize("version,code", [(V311, 0x86), (V5, 0x86)])
def test_wrong_token_is_refused(strata, version, code):
    c = Client(strata, version=version, username="not-a-token")
    _, rc, props = c.connect(expect_ok=False)
    assert rc.value == code
    if version == V5:
        # 5.0 clients are told what to do next.
        assert "access token" in props.ReasonString, props


@pytest.mark.parametrize("version,code", [(V311, 0x87), (V5, 0x87)])
def test_anonymous_is_refused_by_default(strata, version, code):
    c = Client(strata, version=version)
    _, rc, _ = c.connect(expect_ok=False)
    assert rc.value == code


def test_mosquitto_sub_sees_the_3_1_1_return_code(strata):
    out = subprocess.run(["mosquitto_sub", "-h", strata.mqtt_host, "-p", str(strata.mqtt_port),
                          "-u", "wrong", "-t", "v1/devices/me/x", "-V", "mqttv311", "-C", "1",
                          "-W", "5"], capture_output=True, text=True, timeout=20)
    assert out.returncode != 0
    assert "bad user name or password" in out.stderr.lower(), out.stderr


def test_revoked_token_is_refused(strata):
    device_id, token = strata.create_device("revoked")
    status, creds = strata.call("GET", f"/api/devices/{device_id}/credentials")
    strata.call("DELETE", f"/api/devices/{device_id}/credentials/{creds[0]['id']}")
    c = Client(strata, version=V5, username=token)
    _, rc, _ = c.connect(expect_ok=False)
    assert rc.value == 0x86


def test_bad_telemetry_is_refused_with_reason_on_v5(strata):
    device_id, token = strata.create_device("bad")
    c = Client(strata, version=V5, username=token)
    c.connect()
    info = c.c.publish("v1/devices/me/telemetry", "{not json", qos=1)
    info.wait_for_publish(timeout=10)
    info = c.c.publish("v1/devices/me/telemetry", '{"ts": 5, "values": {"a": 1}}', qos=1)
    info.wait_for_publish(timeout=10)
    c.publish("v1/devices/me/telemetry", '{"good": 1}', qos=1)
    latest = strata.latest(device_id)
    assert list(latest) == ["good"], latest
    c.disconnect()


def test_device_may_only_use_its_device_api(strata):
    _, token = strata.create_device("acl")
    c = Client(strata, version=V5, username=token)
    c.connect()
    rcs = c.subscribe("other/topic", qos=1)
    assert rcs[0].value == 0x87
    rcs = c.subscribe("#", qos=1)
    assert rcs[0].value == 0x87
    c.disconnect()
    c3 = Client(strata, version=V311, username=token)
    c3.connect()
    rcs = c3.subscribe("other/topic", qos=1)
    assert rcs[0].value == 0x80
    c3.disconnect()


def test_acknowledged_mqtt_telemetry_survives_sigkill(data_dir):
    from conftest import Strata

    server = Strata(data_dir, {})
    device_id, token = server.create_device("crash")
    c = Client(server, version=V311, username=token)
    c.connect()
    base = 1_700_000_000_000
    for i in range(200):
        c.publish("v1/devices/me/telemetry", '{"ts": %d, "values": {"n": %d}}' % (base + i, i), qos=1)
    server.kill()
    restarted = Strata(data_dir, {})
    try:
        status, body = restarted.call(
            "GET", f"/api/devices/{device_id}/telemetry?keys=n&limit=1000&order=asc")
        assert status == 200
        assert [p["value"] for p in body["series"][0]["points"]] == list(range(200))
    finally:
        restarted.kill()


def test_device_api_traffic_never_reaches_other_clients(data_dir):
    """Device API topics are shared literal names: nothing published on them may be routed
    to another device or to a wildcard subscriber (ThingsBoard-style topics, one namespace)."""
    from conftest import Strata

    server = Strata(data_dir, {"STRATA_MQTT__ALLOW_ANONYMOUS": "true"})
    try:
        _, token_a = server.create_device("leak-a")
        _, token_b = server.create_device("leak-b")
        b = Client(server, version=V5, username=token_b)
        b.connect()
        assert b.subscribe("v1/devices/me/attributes", qos=1)[0].value == 1
        watcher = Client(server, version=V5)
        watcher.connect()
        assert watcher.subscribe("#", qos=1)[0].value == 1
        # Naming the device API is refused to anonymous clients, shared or not.
        assert watcher.subscribe("v1/devices/me/#", qos=1)[0].value == 0x87
        assert watcher.subscribe("$share/g/v1/devices/me/#", qos=1)[0].value == 0x87
        a = Client(server, version=V5, username=token_a)
        a.connect()
        # Uploads are consumed by the platform; other device API topics are refused.
        a.publish("v1/devices/me/telemetry", '{"t": 1}', qos=1)
        assert a.publish_rc("v1/devices/me/attributes", '{"fw": "1.0"}', qos=1) == 0
        # An answer to a call that does not exist: consumed and refused.
        assert a.publish_rc("v1/devices/me/rpc/response/1", '{}', qos=1) == 0x83
        assert a.publish_rc("v1/devices/me/rpc/request/1", '{}', qos=1) == 0x87
        assert a.publish_rc("v1/devices/me/shadow/update/accepted", '{}', qos=1) == 0x87
        # A marker proves the watcher's subscription works, and that nothing came before it.
        marker = Client(server, version=V5)
        marker.connect()
        marker.publish("plain/marker", "m", qos=1)
        assert watcher.expect(timeout=5).topic == "plain/marker"
        watcher.expect_none()
        b.expect_none()
    finally:
        server.kill()


def test_client_attributes_over_mqtt(strata):
    device_id, token = strata.create_device("attrs")
    c = Client(strata, version=V5, username=token)
    c.connect()
    assert c.publish_rc("v1/devices/me/attributes", '{"fw": "1.2.0", "serial": 42}') == 0
    assert c.publish_rc("v1/devices/me/attributes", '{"serial": null, "cfg": {"rate": 5}}') == 0
    # Not an object, or not JSON: refused with 0x99 (payload format invalid), nothing stored.
    assert c.publish_rc("v1/devices/me/attributes", '[1, 2]') == 0x99
    assert c.publish_rc("v1/devices/me/attributes", '{oops') == 0x99
    c.disconnect()
    status, body = strata.call("GET", f"/api/devices/{device_id}/attributes")
    assert status == 200, body
    assert {a["key"]: a["value"] for a in body} == {"cfg": {"rate": 5}, "fw": "1.2.0"}


@pytest.mark.parametrize("how", ["revoke", "delete"])
def test_revoking_or_deleting_ends_live_connections(strata, how):
    device_id, token = strata.create_device(f"cut-{how}")
    c = Client(strata, version=V5, username=token)
    c.connect()
    if how == "revoke":
        creds = strata.call("GET", f"/api/devices/{device_id}/credentials")[1]
        assert strata.call("DELETE", f"/api/devices/{device_id}/credentials/{creds[0]['id']}")[0] == 204
    else:
        assert strata.call("DELETE", f"/api/devices/{device_id}")[0] == 204
    rc = c.disconnects.get(timeout=10)
    assert getattr(rc, "value", rc) == 0x98  # administrative action
    again = Client(strata, version=V5, username=token)
    _, rc, _ = again.connect(expect_ok=False)
    assert rc.value == 0x86


@pytest.mark.parametrize("version", [V311, V5])
def test_deleting_a_device_ends_its_persistent_sessions(strata, version):
    """A deleted device's persistent sessions end with it, online or not: another device
    can use the same client identifiers at once, and gets a fresh session."""
    old_id, old_token = strata.create_device(f"old-{version}")
    ids = [f"sensor-offline-{version}", f"sensor-online-{version}"]

    def persistent(client_id, token):
        return Client(strata, version=version, client_id=client_id, username=token,
                      clean=False, session_expiry=3600 if version == V5 else None)

    offline, online = (persistent(i, old_token) for i in ids)
    for c in (offline, online):
        c.connect()
        c.subscribe("v1/devices/me/rpc/request/+", qos=1)
    offline.disconnect()
    # The session is kept while the device exists.
    again = persistent(ids[0], old_token)
    flags, _, _ = again.connect()
    assert flags.session_present
    again.disconnect()

    assert strata.call("DELETE", f"/api/devices/{old_id}")[0] == 204
    online.disconnects.get(timeout=10)

    _, new_token = strata.create_device(f"new-{version}")
    for client_id in ids:
        deadline = time.monotonic() + 10
        while True:
            c = persistent(client_id, new_token)
            flags, rc, _ = c.connect(expect_ok=False)
            # The online session ends once the server has closed its connection.
            if not rc.is_failure or time.monotonic() > deadline:
                break
            c.disconnect()
            time.sleep(0.1)
        assert not rc.is_failure, f"{client_id}: CONNACK refused: {rc}"
        assert not flags.session_present, client_id
        c.disconnect()


@pytest.mark.parametrize("version", [V311, V5])
def test_subscriptions_are_bounded_in_depth_and_number(strata, version):
    """A topic filter deeper than `mqtt.max_topic_levels` (64) is refused, however deep (a
    20,000-level filter once overflowed the worker's stack when it was removed), and a
    session holds at most `mqtt.max_subscriptions_per_session` (1000) subscriptions."""
    failure = 0x80 if version == V311 else None
    _, token = strata.create_device(f"deep-{version}")
    c = Client(strata, version=version, username=token)
    c.connect()

    def codes(rcs):
        return [getattr(rc, "value", rc) for rc in rcs]

    deep = "v1/devices/me/" + "/".join(["x"] * 61)  # 64 levels: the limit
    assert codes(c.subscribe(deep, qos=1)) == [1]
    assert codes(c.subscribe(deep + "/y", qos=1)) == [failure or 0x8F]
    assert codes(c.subscribe("v1/devices/me/" + "/" * 20000, qos=1)) == [failure or 0x8F]

    filters = [(f"v1/devices/me/n/{i}", 0) for i in range(1000)]
    result, _ = c.c.subscribe(filters)
    assert result == 0
    _, rcs = c.subacks.get(timeout=15)
    rcs = codes(rcs)
    # One subscription was already held (the 64-level one): 999 more fit.
    assert rcs[:999] == [0] * 999 and rcs[999] == (failure or 0x97), rcs[995:]
    assert codes(c.subscribe(deep, qos=0)) == [0], "replacing one is not a new one"
    c.disconnect()

    # The server is still there, and so is the session's owner.
    again = Client(strata, version=version, username=token)
    again.connect()
    again.disconnect()


def test_a_qos0_flood_is_slowed_down_not_dropped(strata):
    """QoS 0 telemetry has no acknowledgement to pace it: the broker stops reading from the
    device while the platform is busy with 64 of its messages, and reads on once it caught
    up, so a flood costs bounded memory and every message is stored."""
    device_id, token = strata.create_device("flood")
    c = Client(strata, version=V5, username=token)
    c.connect()
    base = int(time.time() * 1000) - 60_000
    n = 3000
    for i in range(n):
        c.c.publish("v1/devices/me/telemetry", f'{{"ts": {base + i}, "values": {{"i": {i}}}}}', qos=0)
    # A QoS 1 message after the flood: acknowledged only once the broker read everything
    # before it.
    c.publish("v1/devices/me/telemetry", f'{{"ts": {base + n}, "values": {{"i": {n}}}}}', qos=1,
              timeout=60)
    deadline = time.monotonic() + 60
    while True:
        status, body = strata.call(
            "GET", f"/api/devices/{device_id}/telemetry/aggregate?keys=i&start={base}"
                   f"&end={base + n + 1}&interval={n + 1}&agg=count")
        assert status == 200, body
        buckets = body["series"][0]["buckets"] if body["series"] else []
        count = buckets[0]["count"] if buckets else 0
        if count == n + 1 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert count == n + 1
    c.disconnect()
    # The pause did happen (published with the broker's other counters, every second).
    deadline = time.monotonic() + 15
    while True:
        _, text = strata.call_text("GET", "/metrics")
        paused = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                     if line.startswith("strata_mqtt_consume_paused_total"))
        if paused > 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert paused > 0
