"""MQTT access rules managed over REST, enforced for devices (by id and label) and anonymous
clients, with real paho clients."""

from clients import Client, V311, V5


def test_access_rules_widen_and_narrow_access(open_strata):
    s = open_strata
    status, body = s.call("POST", "/api/devices", {"name": "floor-dev", "labels": ["floor1"]})
    assert status == 201, body
    device_id, token = body["id"], body["credentials"]["access_token"]

    dev = Client(s, version=V5, username=token)
    dev.connect()
    # Without a rule a device has its device API only.
    assert dev.subscribe("plant/floor1/#", qos=1)[0].value == 0x87
    assert dev.publish_rc("plant/floor1/temp", "21") == 0x87

    status, rule = s.call("POST", "/api/mqtt/acl", {
        "action": "all", "filter": "plant/floor1/#", "target_kind": "label",
        "target": "floor1", "allow": True})
    assert status == 201, rule
    assert dev.subscribe("plant/floor1/#", qos=1)[0].value == 1
    assert dev.subscribe("plant/#", qos=1)[0].value == 0x87  # wider than the rule
    assert dev.publish_rc("plant/floor1/temp", "21") == 0
    assert dev.expect().payload == b"21"  # its own subscription got it

    # A per-device rule, publish only.
    status, _ = s.call("POST", "/api/mqtt/acl", {
        "action": "publish", "filter": "alerts/+", "target_kind": "device",
        "target": device_id, "allow": True})
    assert status == 201
    assert dev.publish_rc("alerts/fire", "!") == 0
    assert dev.subscribe("alerts/+", qos=1)[0].value == 0x87

    # A deny for everyone wins, and covers any overlapping subscription.
    status, deny = s.call("POST", "/api/mqtt/acl", {
        "action": "subscribe", "filter": "secret/#", "target_kind": "everyone",
        "allow": False})
    assert status == 201
    anon = Client(s, version=V311)
    anon.connect()
    rcs = anon.subscribe("secret/x", qos=1)
    assert rcs[0].value == 0x80
    assert anon.subscribe("#", qos=1)[0].value == 0x80
    assert anon.subscribe("public/#", qos=1)[0].value == 1

    status, rules = s.call("GET", "/api/mqtt/acl")
    assert status == 200 and len(rules) == 3
    # Deleting the label rule takes the access away again.
    status, _ = s.call("DELETE", f"/api/mqtt/acl/{rule['id']}")
    assert status == 204
    assert dev.subscribe("plant/floor1/x", qos=1)[0].value == 0x87
    status, _ = s.call("DELETE", f"/api/mqtt/acl/{rule['id']}")
    assert status == 404
    status, _ = s.call("DELETE", f"/api/mqtt/acl/{deny['id']}")
    assert status == 204
    assert anon.subscribe("#", qos=1)[0].value == 1


def test_bad_rules_are_refused(open_strata):
    s = open_strata
    for body in (
        {"action": "all", "filter": "a/#/b", "target_kind": "everyone", "allow": True},
        {"action": "read", "filter": "a", "target_kind": "everyone", "allow": True},
        {"action": "all", "filter": "a", "target_kind": "group", "allow": True},
        {"action": "all", "filter": "a", "target_kind": "device", "target": "x", "allow": True},
        {"action": "all", "filter": "a", "target_kind": "label", "allow": True},
    ):
        status, answer = s.call("POST", "/api/mqtt/acl", body)
        assert status == 422, (body, answer)
        assert answer["error"]["code"] == "invalid_payload", answer
    status, answer = s.call("POST", "/api/mqtt/acl", {
        "action": "all", "filter": "a", "target_kind": "device",
        "target": "00000000-0000-0000-0000-000000000000", "allow": True})
    assert status == 404, answer
