"""Device shadows, RPC and connectivity over MQTT (paho, 3.1.1 and 5.0) and HTTP, against the
real `strata serve`."""

import json
import threading
import time
import urllib.request

import pytest

from clients import Client, V311, V5
from conftest import Strata

DELTA = "v1/devices/me/shadow/update/delta"
RPC_REQUESTS = "v1/devices/me/rpc/request/+"


def shadow_path(device_id, name="default"):
    return f"/api/devices/{device_id}/shadows/{name}"


def device_client(strata, token, version=V5, **kw):
    c = Client(strata, version=version, username=token, **kw)
    c.connect()
    return c


@pytest.mark.parametrize("version", [V311, V5])
def test_desired_change_sends_the_delta_to_that_device_only(strata, version):
    dev, token = strata.create_device(f"lamp-{version}")
    _, other_token = strata.create_device(f"other-{version}")
    c = device_client(strata, token, version)
    other = device_client(strata, other_token, version)
    assert c.subscribe(DELTA, qos=1)[0].value == 1
    other.subscribe(DELTA, qos=1)
    status, doc = strata.call("PATCH", shadow_path(dev),
                              {"state": {"desired": {"led": "on", "cfg": {"rate": 5}}}})
    assert status == 200, doc
    assert doc["version"] == 1 and doc["state"]["delta"] == {"led": "on", "cfg": {"rate": 5}}
    m = c.expect()
    assert m.topic == DELTA
    delta = json.loads(m.payload)
    assert delta["state"] == {"led": "on", "cfg": {"rate": 5}}
    assert delta["version"] == 1
    assert "timestamp" in delta["metadata"]["led"]
    other.expect_none()
    c.disconnect()
    other.disconnect()


def test_reported_state_over_mqtt_clears_the_delta(strata):
    dev, token = strata.create_device("thermo")
    strata.call("PATCH", shadow_path(dev), {"state": {"desired": {"target": 21}}})
    c = device_client(strata, token)
    # Subscribing to the delta delivers the pending one first.
    c.subscribe("v1/devices/me/shadow/update/+", qos=1)
    m = c.expect()
    assert m.topic == DELTA and json.loads(m.payload)["state"] == {"target": 21}
    c.publish("v1/devices/me/shadow/update",
              json.dumps({"state": {"reported": {"target": 21, "fw": "1.2"}},
                          "clientToken": "t-1"}), qos=1)
    m = c.expect()
    assert m.topic == "v1/devices/me/shadow/update/accepted"
    doc = json.loads(m.payload)
    assert doc["clientToken"] == "t-1"
    assert doc["version"] == 2
    assert "delta" not in doc["state"]
    status, doc = strata.call("GET", shadow_path(dev))
    assert status == 200 and doc["state"]["reported"] == {"target": 21, "fw": "1.2"}
    assert "delta" not in doc["state"]
    c.disconnect()


def test_stale_versions_are_rejected(strata):
    dev, token = strata.create_device("occ")
    status, doc = strata.call("PATCH", shadow_path(dev), {"state": {"desired": {"a": 1}}})
    assert doc["version"] == 1
    # Over HTTP: naming version 0 (stale) is a 409.
    status, err = strata.call("PATCH", shadow_path(dev),
                              {"state": {"desired": {"a": 2}}, "version": 0})
    assert status == 409 and "version" in err["error"]["message"]
    status, doc = strata.call("PATCH", shadow_path(dev),
                              {"state": {"desired": {"a": 2}}, "version": 1})
    assert status == 200 and doc["version"] == 2
    # Over MQTT: the rejection comes on .../rejected with the client token.
    c = device_client(strata, token)
    c.subscribe("v1/devices/me/shadow/update/rejected", qos=1)
    c.publish("v1/devices/me/shadow/update",
              json.dumps({"state": {"reported": {"a": 2}}, "version": 1, "clientToken": "x"}),
              qos=1)
    err = json.loads(c.expect().payload)
    assert err["code"] == 409 and err["clientToken"] == "x"
    c.disconnect()


def test_a_device_that_was_away_gets_the_pending_delta(strata):
    dev, token = strata.create_device("sleeper")
    strata.call("PATCH", shadow_path(dev), {"state": {"desired": {"mode": "eco"}}})
    strata.call("PATCH", shadow_path(dev, "cfg"), {"state": {"desired": {"x": 1}}})
    c = device_client(strata, token, V311)
    c.subscribe(DELTA, qos=1)
    assert json.loads(c.expect().payload)["state"] == {"mode": "eco"}
    c.subscribe("v1/devices/me/shadow/name/+/update/delta", qos=1)
    topics = set()
    for _ in range(2):
        topics.add(c.expect().topic)
    assert "v1/devices/me/shadow/name/cfg/update/delta" in topics
    c.disconnect()


def test_named_shadow_get_and_delete_over_mqtt(strata):
    dev, token = strata.create_device("named")
    c = device_client(strata, token)
    c.subscribe("v1/devices/me/shadow/name/ota/#", qos=1)
    c.publish("v1/devices/me/shadow/name/ota/get", "", qos=1)
    m = c.expect()
    assert m.topic == "v1/devices/me/shadow/name/ota/get/rejected"
    assert json.loads(m.payload)["code"] == 404
    c.publish("v1/devices/me/shadow/name/ota/update",
              '{"state":{"reported":{"version":"2.0"}}}', qos=1)
    assert c.expect().topic == "v1/devices/me/shadow/name/ota/update/accepted"
    c.publish("v1/devices/me/shadow/name/ota/get", '{"clientToken":"g"}', qos=1)
    m = c.expect()
    doc = json.loads(m.payload)
    assert m.topic.endswith("/get/accepted")
    assert doc["name"] == "ota" and doc["state"]["reported"] == {"version": "2.0"}
    assert doc["clientToken"] == "g"
    status, listed = strata.call("GET", f"/api/devices/{dev}/shadows")
    assert [s["name"] for s in listed] == ["ota"]
    c.publish("v1/devices/me/shadow/name/ota/delete", "", qos=1)
    assert c.expect().topic.endswith("/delete/accepted")
    assert strata.call("GET", shadow_path(dev, "ota"))[0] == 404
    c.disconnect()


def test_bad_shadow_requests_are_rejected_not_dropped(strata):
    dev, token = strata.create_device("bad")
    c = device_client(strata, token)
    c.subscribe("v1/devices/me/shadow/update/rejected", qos=1)
    for payload, needle in [("{not json", "JSON"),
                            ('{"state": {"desired": 5}}', "object"),
                            ('{"state": {"delta": {}}}', "computed")]:
        c.publish("v1/devices/me/shadow/update", payload, qos=1)
        err = json.loads(c.expect().payload)
        assert err["code"] == 400 and needle in err["message"], err
    # The server lives on and the shadow was never created.
    assert strata.call("GET", shadow_path(dev))[0] == 404
    status, err = strata.call("PATCH", shadow_path(dev, "bad%20name"), {"state": {"desired": {}}})
    assert status == 400
    c.disconnect()


def answer_rpcs(client, answer):
    """Answers every RPC request the client receives, from a thread."""
    def run():
        while True:
            try:
                m = client.expect(timeout=30)
            except Exception:
                return
            request_id = m.topic.rsplit("/", 1)[1]
            body = json.loads(m.payload)
            client.c.publish(f"v1/devices/me/rpc/response/{request_id}",
                             json.dumps(answer(body)), qos=1)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("version", [V311, V5])
def test_two_way_rpc_over_mqtt(strata, version):
    dev, token = strata.create_device(f"rpc-{version}")
    c = device_client(strata, token, version)
    c.subscribe(RPC_REQUESTS, qos=1)
    answer_rpcs(c, lambda body: {"echo": body["params"], "method": body["method"]})
    status, call = strata.call("POST", f"/api/devices/{dev}/rpc",
                               {"method": "getValue", "params": {"pin": 4}})
    assert status == 200, call
    assert call["status"] == "successful"
    assert call["response"] == {"echo": {"pin": 4}, "method": "getValue"}
    status, again = strata.call("GET", f"/api/devices/{dev}/rpc/{call['id']}")
    assert again["status"] == "successful"
    c.disconnect()


def test_one_way_rpc_and_other_devices_do_not_see_it(strata):
    dev, token = strata.create_device("oneway")
    _, other_token = strata.create_device("bystander")
    c = device_client(strata, token)
    other = device_client(strata, other_token)
    c.subscribe(RPC_REQUESTS, qos=1)
    other.subscribe(RPC_REQUESTS, qos=1)
    status, call = strata.call("POST", f"/api/devices/{dev}/rpc",
                               {"method": "reboot", "oneway": True})
    assert status == 200 and call["status"] == "successful", call
    m = c.expect()
    assert m.topic == f"v1/devices/me/rpc/request/{call['id']}"
    assert json.loads(m.payload) == {"method": "reboot", "params": None}
    other.expect_none()
    c.disconnect()
    other.disconnect()


def test_rpc_to_an_offline_device_fails_or_waits_when_persistent(strata):
    dev, token = strata.create_device("offline")
    status, err = strata.call("POST", f"/api/devices/{dev}/rpc", {"method": "ping"})
    assert status == 409 and err["error"]["code"] == "device_unreachable", err
    status, call = strata.call("POST", f"/api/devices/{dev}/rpc",
                               {"method": "setMode", "params": "eco", "persistent": True,
                                "expiry_ms": 60000})
    assert status == 200 and call["status"] == "queued", call
    c = device_client(strata, token, V311)
    c.subscribe(RPC_REQUESTS, qos=1)
    m = c.expect()
    assert m.topic == f"v1/devices/me/rpc/request/{call['id']}"
    c.publish(m.topic.replace("request", "response"), '{"ok": true}', qos=1)
    status, done = strata.call("GET", f"/api/devices/{dev}/rpc/{call['id']}")
    assert done["status"] == "successful" and done["response"] == {"ok": True}
    # A second answer is refused (5.0 tells the client with a reason code).
    c.disconnect()
    c5 = device_client(strata, token, V5)
    assert c5.publish_rc(m.topic.replace("request", "response"), '{"ok": 2}') == 0x83
    c5.disconnect()


def test_unanswered_rpc_times_out_and_persistent_rpc_expires(strata):
    dev, token = strata.create_device("silent")
    c = device_client(strata, token)
    c.subscribe(RPC_REQUESTS, qos=1)
    status, err = strata.call("POST", f"/api/devices/{dev}/rpc",
                              {"method": "slow", "timeout_ms": 300})
    assert status == 504 and err["error"]["code"] == "timeout", err
    calls = strata.call("GET", f"/api/devices/{dev}/rpc")[1]
    assert calls[0]["status"] == "timeout"
    c.disconnect()
    status, call = strata.call("POST", f"/api/devices/{dev}/rpc",
                               {"method": "later", "persistent": True, "expiry_ms": 300})
    assert call["status"] == "queued"
    deadline = time.time() + 10
    while time.time() < deadline:
        if strata.call("GET", f"/api/devices/{dev}/rpc/{call['id']}")[1]["status"] == "expired":
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the persistent call did not expire")


def test_bad_rpc_requests(strata):
    dev, _ = strata.create_device("badrpc")
    for body, code in [({}, 422), ({"method": ""}, 422), ({"method": "x", "timeout_ms": 0}, 422),
                       ({"method": "x", "expiry_ms": 5}, 422), ({"method": "x", "bogus": 1}, 422)]:
        status, err = strata.call("POST", f"/api/devices/{dev}/rpc", body)
        assert status == code, (body, err)
    assert strata.call("GET", f"/api/devices/{dev}/rpc/999")[0] == 404


def test_rpc_over_http_long_poll(strata):
    dev, token = strata.create_device("poller")
    got = {}

    def poll():
        with urllib.request.urlopen(f"{strata.http}/api/v1/{token}/rpc?timeout=15000",
                                    timeout=30) as resp:
            got["status"] = resp.status
            got["call"] = json.loads(resp.read())
        req = urllib.request.Request(f"{strata.http}/api/v1/{token}/rpc/{got['call']['id']}",
                                     data=b'{"temperature": 22.5}', method="POST")
        with urllib.request.urlopen(req, timeout=30) as resp:
            got["answered"] = resp.status

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    # The poll is waiting once the device counts as reachable.
    deadline = time.time() + 10
    while time.time() < deadline:
        status, call = strata.call("POST", f"/api/devices/{dev}/rpc",
                                   {"method": "getTemperature", "timeout_ms": 5000})
        if status != 409:
            break
        time.sleep(0.05)
    t.join(timeout=20)
    assert status == 200, call
    assert got["call"]["method"] == "getTemperature"
    assert call["response"] == {"temperature": 22.5}
    # No call waiting: 204 after the timeout.
    with urllib.request.urlopen(f"{strata.http}/api/v1/{token}/rpc?timeout=100",
                                timeout=30) as resp:
        assert resp.status == 204


def test_persistent_calls_reach_a_polling_device_once_each(strata):
    # Calls made while the device polls, between polls and during hand-overs: each one
    # arrives exactly once, none stays queued.
    dev, token = strata.create_device("busy-poller")
    received, stop = [], threading.Event()

    def poll():
        while not stop.is_set():
            with urllib.request.urlopen(f"{strata.http}/api/v1/{token}/rpc?timeout=500",
                                        timeout=30) as resp:
                if resp.status == 200:
                    received.append(json.loads(resp.read())["id"])

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    ids = []
    for i in range(40):
        status, call = strata.call("POST", f"/api/devices/{dev}/rpc",
                                   {"method": "step", "params": {"i": i}, "oneway": True,
                                    "persistent": True})
        assert status in (200, 201, 202), call
        ids.append(call["id"])
        if i % 8 == 0:
            time.sleep(0.6)  # now and then while no poll is waiting
    deadline = time.time() + 30
    while time.time() < deadline and len(received) < len(ids):
        time.sleep(0.1)
    stop.set()
    t.join(timeout=30)
    assert sorted(received) == sorted(ids), (len(received), len(ids))
    for call_id in ids:
        assert strata.call("GET", f"/api/devices/{dev}/rpc/{call_id}")[1]["status"] == "successful"


def test_shadow_over_the_http_device_api(strata):
    dev, token = strata.create_device("httpshadow")
    req = urllib.request.Request(f"{strata.http}/api/v1/{token}/shadows/default",
                                 data=b'{"state":{"reported":{"on":true}}}', method="PATCH")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert json.loads(resp.read())["state"]["reported"] == {"on": True}
    with urllib.request.urlopen(f"{strata.http}/api/v1/{token}/shadows/default",
                                timeout=30) as resp:
        assert json.loads(resp.read())["version"] == 1


def connectivity(strata, dev):
    status, body = strata.call("GET", f"/api/devices/{dev}")
    assert status == 200
    return body["connectivity"]


def test_connectivity_follows_the_connection(strata):
    dev, token = strata.create_device("presence")
    assert connectivity(strata, dev)["online"] is False
    c = device_client(strata, token)
    state = connectivity(strata, dev)
    assert state["online"] is True and state["connections"] == 1
    assert state["last_connected_at"] is not None
    c.disconnect()
    deadline = time.time() + 5
    while connectivity(strata, dev)["online"] and time.time() < deadline:
        time.sleep(0.05)
    state = connectivity(strata, dev)
    assert state["online"] is False and state["last_disconnected_at"] is not None
    # Telemetry over HTTP counts as activity.
    req = urllib.request.Request(f"{strata.http}/api/v1/{token}/telemetry",
                                 data=b'{"t": 1}', method="POST")
    urllib.request.urlopen(req, timeout=30).close()
    assert connectivity(strata, dev)["online"] is True
    listed = strata.call("GET", "/api/devices")[1]["items"]
    assert [d["connectivity"]["online"] for d in listed if d["id"] == dev] == [True]


def test_activity_survives_a_restart(data_dir):
    from conftest import Strata
    server = Strata(data_dir, {})
    dev, token = server.create_device("remembered")
    c = device_client(server, token)
    c.disconnect()
    time.sleep(0.3)
    server.terminate()
    server = Strata(data_dir, {})
    try:
        state = connectivity(server, dev)
        assert state["online"] is False
        assert state["last_connected_at"] is not None
        assert state["last_disconnected_at"] is not None
    finally:
        server.kill()


def test_private_namespace_is_closed_to_clients(open_strata):
    c = Client(open_strata, version=V5)
    c.connect()
    assert c.subscribe("$private/#", qos=1)[0].value == 0x87
    assert c.subscribe("$share/g/$private/x/#", qos=1)[0].value == 0x87
    assert c.publish_rc("$private/x/v1/devices/me/rpc/request/1", "{}") == 0x87
    c.disconnect()


def test_a_will_needs_the_right_to_its_topic(strata):
    _, token = strata.create_device("willful")
    # Devices may publish only the device API; a will elsewhere refuses the connection.
    c = Client(strata, version=V5, username=token, will=("alarms/all", "gone", 1, False, None))
    _, rc, props = c.connect(expect_ok=False)
    assert rc.value == 0x87
    assert "will" in props.ReasonString
    ok = Client(strata, version=V5, username=token,
                will=("v1/devices/me/telemetry", '{"gone": true}', 1, False, None))
    ok.connect()
    ok.disconnect()


def test_a_session_belongs_to_its_device(data_dir):
    """Borrowing a device's client identifier gets neither its session (subscriptions,
    queued RPC requests) nor the right to take it over."""
    server = Strata(data_dir, {"STRATA_MQTT__ALLOW_ANONYMOUS": "true"})
    try:
        dev, token = server.create_device("owner")
        _, other_token = server.create_device("intruder")
        owner = Client(server, version=V5, client_id="shared-id", username=token, clean=False,
                       session_expiry=3600)
        owner.connect()
        owner.subscribe(RPC_REQUESTS, qos=1)
        owner.disconnect()
        status, call = server.call("POST", f"/api/devices/{dev}/rpc",
                                   {"method": "secret", "persistent": True})
        assert status == 200
        for intruder in (Client(server, version=V5, client_id="shared-id", username=other_token,
                                clean=False, session_expiry=3600),
                         Client(server, version=V5, client_id="shared-id", clean=False,
                                session_expiry=3600)):
            _, rc, props = intruder.connect(expect_ok=False)
            assert rc.value == 0x85, rc
            assert "another" in props.ReasonString
        # The owner comes back to its session and its queued call.
        owner = Client(server, version=V5, client_id="shared-id", username=token, clean=False,
                       session_expiry=3600)
        flags, _, _ = owner.connect()
        assert flags.session_present
        assert json.loads(owner.expect().payload)["method"] == "secret"
        owner.disconnect()
    finally:
        server.kill()
