"""The rule engine with real sinks: an HTTP webhook receiver, RabbitMQ (read back with pika),
an SMTP server (aiosmtpd), MQTT subscribers; alarms and the live event stream. Fault
injection: sinks are stopped or fail while devices keep sending, and every routed message
arrives exactly once or is in the dead-letter store."""

import json
import os
import tempfile
import threading
import time
import urllib.request

import pytest

from clients import Client, V311, V5
from conftest import Strata
from sinks import RabbitMQ, SmtpSink, WebhookReceiver

FAST = {"STRATA_RULES__MAX_BACKOFF": "300ms"}


@pytest.fixture
def server(data_dir):
    s = Strata(data_dir, dict(FAST))
    yield s
    s.kill()


@pytest.fixture
def hook():
    h = WebhookReceiver()
    yield h
    h.stop()


def create_rule(strata, rule, expect=201):
    status, body = strata.call("POST", "/api/rules", rule)
    assert status == expect, body
    return body


def send(strata, token, payload):
    req = urllib.request.Request(f"{strata.http}/api/v1/{token}/telemetry",
                                 data=json.dumps(payload).encode(), method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200


def wait_until(check, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def outbox(strata):
    return strata.call("GET", "/api/rules/outbox")[1]


def test_rule_crud_and_validation(server, hook):
    rule = create_rule(server, {"name": "hot", "trigger": "telemetry",
                                "filter": "msg.temp > 30",
                                "actions": [{"type": "webhook", "url": hook.url}]})
    assert rule["enabled"] is True and rule["id"]
    assert [r["name"] for r in server.call("GET", "/api/rules")[1]] == ["hot"]
    create_rule(server, {"name": "hot", "trigger": "telemetry",
                         "actions": [{"type": "webhook", "url": hook.url}]}, expect=409)
    err = create_rule(server, {"name": "bad", "trigger": "telemetry", "filter": "msg.temp >",
                               "actions": [{"type": "webhook", "url": hook.url}]}, expect=422)
    assert "compile" in err["error"]["message"]
    err = create_rule(server, {"name": "bad", "trigger": "sometimes", "actions": []}, expect=422)
    assert "trigger" in err["error"]["message"] or "variant" in err["error"]["message"]
    status, updated = server.call("PUT", f"/api/rules/{rule['id']}",
                                  {"name": "hot", "trigger": "telemetry", "enabled": False,
                                   "actions": [{"type": "webhook", "url": hook.url}]})
    assert status == 200 and updated["enabled"] is False
    assert server.call("DELETE", f"/api/rules/{rule['id']}")[0] == 204
    assert server.call("GET", f"/api/rules/{rule['id']}")[0] == 404
    # The rules document is in the OpenAPI description.
    paths = server.call("GET", "/api/openapi.json")[1]["paths"]
    for p in ["/api/rules", "/api/alarms", "/api/events", "/api/rules/dead-letters",
              "/api/devices/{id}/shadows/{name}", "/api/devices/{id}/rpc"]:
        assert p in paths, p


def test_webhook_gets_filtered_transformed_messages_from_mqtt(server, hook):
    create_rule(server, {
        "name": "to-fahrenheit", "trigger": "telemetry",
        "filter": '"temp" in msg && msg.temp > 30',
        "transform": "#{temp_f: msg.temp * 9.0 / 5.0 + 32.0, name: meta.device_name}",
        "actions": [{"type": "webhook", "url": hook.url, "headers": {"x-key": "k"}}]})
    dev, token = server.create_device("boiler")
    c = Client(server, version=V5, username=token)
    c.connect()
    for t in (20, 35, 40):
        c.publish("v1/devices/me/telemetry", json.dumps({"temp": t}), qos=1)
    c.publish("v1/devices/me/telemetry", json.dumps({"humidity": 50}), qos=1)
    got = hook.wait_for(2)
    time.sleep(0.3)
    assert len(hook.received) == 2
    assert [m["msg"]["temp_f"] for m in got] == [95.0, 104.0]
    assert got[0]["msg"]["name"] == "boiler"
    assert got[0]["device"]["id"] == dev and got[0]["rule"] == "to-fahrenheit"
    assert len(set(hook.deliveries)) == 2
    c.disconnect()


def test_mqtt_republish_and_store(data_dir):
    server = Strata(data_dir, {"STRATA_MQTT__ALLOW_ANONYMOUS": "true"})
    try:
        create_rule(server, {
            "name": "republish", "trigger": "telemetry", "filter": '"temp" in msg',
            "transform": "#{temp_k: msg.temp + 273.15}",
            "actions": [{"type": "mqtt", "topic": "alerts/{device_name}/{rule}"},
                        {"type": "store"}]})
        dev, token = server.create_device("kiln")
        watcher = Client(server, version=V311)
        watcher.connect()
        watcher.subscribe("alerts/#", qos=1)
        send(server, token, {"temp": 26.85})
        m = watcher.expect()
        assert m.topic == "alerts/kiln/republish"
        assert json.loads(m.payload)["msg"]["temp_k"] == pytest.approx(300.0)
        latest = server.latest(dev)
        assert latest["temp_k"]["value"] == pytest.approx(300.0)
        watcher.disconnect()
    finally:
        server.kill()


def test_webhook_outage_loses_nothing_and_keeps_order(server):
    hook = WebhookReceiver()
    port = hook.port
    create_rule(server, {"name": "all", "trigger": "telemetry",
                         "actions": [{"type": "webhook", "url": hook.url}]})
    _, token = server.create_device("sender")
    send(server, token, {"n": 0})
    hook.wait_for(1)
    hook.stop()
    # The sink is down: ingest goes on at full speed, nothing is refused.
    started = time.time()
    for n in range(1, 51):
        send(server, token, {"n": n})
    assert time.time() - started < 20
    assert outbox(server)["pending"] >= 1
    time.sleep(1)
    hook = WebhookReceiver(port=port)
    try:
        got = hook.wait_for(50, timeout=60)
        time.sleep(0.5)
        numbers = [m["msg"]["n"] for m in hook.received]
        assert numbers == list(range(1, 51)), numbers
        assert len(set(hook.deliveries)) == 50
        wait_until(lambda: outbox(server) == {"pending": 0, "dead": 0}, what="an empty outbox")
    finally:
        hook.stop()


def test_failing_sink_goes_to_dead_letters_and_replays(server, hook):
    create_rule(server, {"name": "strict", "trigger": "telemetry",
                         "actions": [{"type": "webhook", "url": hook.url}]})
    _, token = server.create_device("rejected")
    hook.status = 400  # a refusal that retrying cannot fix
    send(server, token, {"x": 1})
    send(server, token, {"x": 2})
    dead = wait_until(lambda: server.call("GET", "/api/rules/dead-letters")[1]
                      if len(server.call("GET", "/api/rules/dead-letters")[1]) == 2 else None,
                      what="two dead letters")
    assert [d["payload"]["msg"]["x"] for d in dead] == [1, 2]
    assert "400" in dead[0]["last_error"]
    assert dead[0]["sink"]["url"] == hook.url
    hook.status = 200
    status, replayed = server.call("POST", "/api/rules/dead-letters/replay", {"ids": [dead[0]["id"]]})
    assert replayed["count"] == 1
    assert [m["msg"]["x"] for m in hook.wait_for(1)] == [1]
    status, purged = server.call("POST", "/api/rules/dead-letters/delete", {})
    assert purged["count"] == 1
    assert outbox(server) == {"pending": 0, "dead": 0}


def test_a_sink_down_for_too_long_dead_letters_everything(data_dir):
    server = Strata(data_dir, {**FAST, "STRATA_RULES__MAX_RETRY_AGE": "1s"})
    try:
        hook = WebhookReceiver()
        url = hook.url
        hook.stop()
        create_rule(server, {"name": "gone", "trigger": "telemetry",
                             "actions": [{"type": "webhook", "url": url}]})
        _, token = server.create_device("orphan")
        for n in range(10):
            send(server, token, {"n": n})
        wait_until(lambda: outbox(server) == {"pending": 0, "dead": 10}, timeout=30,
                   what="ten dead letters")
        dead = server.call("GET", "/api/rules/dead-letters")[1]
        assert sorted(d["payload"]["msg"]["n"] for d in dead) == list(range(10))
    finally:
        server.kill()


def test_routed_messages_survive_a_crash(data_dir):
    hook = WebhookReceiver()
    port = hook.port
    hook.stop()
    server = Strata(data_dir, dict(FAST))
    try:
        create_rule(server, {"name": "durable", "trigger": "telemetry",
                             "actions": [{"type": "webhook", "url": hook.url}]})
        _, token = server.create_device("crashy")
        for n in range(20):
            send(server, token, {"n": n})
        server.kill()  # kill -9 with the sink down: the outbox is on disk
        hook = WebhookReceiver(port=port)
        server = Strata(data_dir, dict(FAST))
        got = hook.wait_for(20, timeout=60)
        assert sorted(m["msg"]["n"] for m in got) == list(range(20))
        hook.stop()
    finally:
        server.kill()


@pytest.fixture(scope="module")
def rabbit():
    r = RabbitMQ()
    yield r
    r.close()


def amqp_messages(rabbit, queue, expect, timeout=60):
    import pika

    got = {}
    deadline = time.time() + timeout
    while time.time() < deadline and len(got) < expect:
        try:
            conn = pika.BlockingConnection(pika.URLParameters(rabbit.url))
        except Exception:
            time.sleep(0.5)
            continue
        ch = conn.channel()
        ch.queue_declare(queue, durable=True)
        while True:
            method, props, body = ch.basic_get(queue, auto_ack=True)
            if method is None:
                break
            assert props.message_id not in got, "a duplicate delivery"
            got[props.message_id] = json.loads(body)
        conn.close()
        time.sleep(0.2)
    return got


def test_rabbitmq_receives_routed_messages_through_an_outage(server, rabbit):
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    conn.channel().queue_declare("strata-events", durable=True)
    conn.close()
    create_rule(server, {"name": "to-rabbit", "trigger": "telemetry",
                         "actions": [{"type": "amqp", "url": rabbit.url, "exchange": "",
                                      "routing_key": "strata-events"}]})
    _, token = server.create_device("rabbit-feeder")
    for n in range(20):
        send(server, token, {"n": n})
    first = amqp_messages(rabbit, "strata-events", 20)
    assert sorted(m["msg"]["n"] for m in first.values()) == list(range(20))
    # The broker goes away; devices keep sending and are answered.
    rabbit.stop()
    for n in range(20, 40):
        send(server, token, {"n": n})
    assert outbox(server)["pending"] >= 1
    rabbit.start()
    second = amqp_messages(rabbit, "strata-events", 20)
    assert sorted(m["msg"]["n"] for m in second.values()) == list(range(20, 40))
    assert not set(first) & set(second)
    wait_until(lambda: outbox(server) == {"pending": 0, "dead": 0}, what="an empty outbox")


def amqp_retries(server):
    _, text = server.call_text("GET", "/metrics")
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("strata_sink_deliveries_total{")
               and 'sink="amqp"' in line and 'outcome="retry"' in line)


def test_a_message_no_queue_takes_waits_in_the_outbox(server, rabbit):
    """Published as mandatory: a message RabbitMQ cannot route (no queue bound yet) comes
    back and is retried, instead of being acknowledged and dropped."""
    create_rule(server, {"name": "to-a-late-queue", "trigger": "telemetry",
                         "actions": [{"type": "amqp", "url": rabbit.url, "exchange": "",
                                      "routing_key": "declared-later"}]})
    _, token = server.create_device("early-bird")
    send(server, token, {"n": 1})
    wait_until(lambda: amqp_retries(server) >= 1, what="a refused delivery")
    assert outbox(server)["pending"] == 1
    import pika

    conn = pika.BlockingConnection(pika.URLParameters(rabbit.url))
    conn.channel().queue_declare("declared-later", durable=True)
    conn.close()
    got = amqp_messages(rabbit, "declared-later", 1)
    assert [m["msg"] for m in got.values()] == [{"n": 1}]
    wait_until(lambda: outbox(server) == {"pending": 0, "dead": 0}, what="an empty outbox")


def test_alarm_lifecycle_from_rules(server):
    create_rule(server, {"name": "raise", "trigger": "telemetry",
                         "filter": '"temp" in msg && msg.temp > 30',
                         "actions": [{"type": "create_alarm", "alarm_type": "HighTemp",
                                      "severity": "major"}]})
    create_rule(server, {"name": "clear", "trigger": "telemetry",
                         "filter": '"temp" in msg && msg.temp <= 30',
                         "actions": [{"type": "clear_alarm", "alarm_type": "HighTemp"}]})
    dev, token = server.create_device("heater")
    send(server, token, {"temp": 35})
    send(server, token, {"temp": 36})
    alarms = server.call("GET", f"/api/alarms?device_id={dev}")[1]
    assert len(alarms) == 1, alarms
    alarm = alarms[0]
    assert alarm["status"] == "active" and alarm["repeats"] == 2
    assert alarm["severity"] == "major" and alarm["details"] == {"temp": 36}
    status, acked = server.call("POST", f"/api/alarms/{alarm['id']}/ack")
    assert status == 200 and acked["status"] == "acknowledged"
    assert len(server.call("GET", "/api/alarms?status=active")[1]) == 0
    send(server, token, {"temp": 25})
    status, detail = server.call("GET", f"/api/alarms/{alarm['id']}")
    assert detail["alarm"]["status"] == "cleared"
    # Repeats are counted (`repeats`), not each kept in the history.
    assert [h["event"] for h in detail["history"]] == ["created", "acknowledged", "cleared"]
    # A new excursion opens a new alarm.
    send(server, token, {"temp": 40})
    open_alarms = server.call("GET", "/api/alarms?status=open")[1]
    assert len(open_alarms) == 1 and open_alarms[0]["id"] != alarm["id"]
    assert server.call("GET", "/api/alarms?status=bogus")[0] == 400


def test_condition_must_hold_for_a_while(server):
    create_rule(server, {"name": "sustained", "trigger": "telemetry",
                         "filter": "msg.temp > 30", "for_ms": 600,
                         "actions": [{"type": "create_alarm", "alarm_type": "Sustained",
                                      "severity": "warning"}]})
    dev, token = server.create_device("slow-heater")
    send(server, token, {"temp": 35})
    assert server.call("GET", "/api/alarms")[1] == []
    send(server, token, {"temp": 20})  # the stretch ends
    send(server, token, {"temp": 35})
    time.sleep(0.7)
    send(server, token, {"temp": 35})
    alarms = server.call("GET", "/api/alarms")[1]
    assert [a["type"] for a in alarms] == ["Sustained"]


def test_inactivity_raises_an_alarm(server):
    create_rule(server, {"name": "silent", "trigger": "inactivity", "inactivity_ms": 1000,
                         "actions": [{"type": "create_alarm", "alarm_type": "Inactive",
                                      "severity": "minor"}]})
    create_rule(server, {"name": "back", "trigger": "telemetry",
                         "actions": [{"type": "clear_alarm", "alarm_type": "Inactive"}]})
    dev, token = server.create_device("quiet")
    send(server, token, {"x": 1})
    alarm = wait_until(lambda: server.call("GET", "/api/alarms?status=active")[1], timeout=15,
                       what="an inactivity alarm")[0]
    assert alarm["type"] == "Inactive" and alarm["device_id"] == dev
    send(server, token, {"x": 2})
    assert server.call("GET", "/api/alarms?status=open")[1] == []


def test_alarm_notification_by_email(data_dir):
    smtp = SmtpSink()
    server = Strata(data_dir, {**FAST, "STRATA_SMTP__HOST": "127.0.0.1",
                               "STRATA_SMTP__PORT": str(smtp.port),
                               "STRATA_SMTP__FROM": "strata@example.com"})
    try:
        create_rule(server, {"name": "notify", "trigger": "alarm",
                             "filter": 'msg.change == "created"',
                             "actions": [{"type": "email", "to": ["ops@example.com"],
                                          "subject": "Alarm on {device_name}"}]})
        dev, _ = server.create_device("pump-3")
        status, alarm = server.call("POST", "/api/alarms",
                                    {"device_id": dev, "type": "Leak", "severity": "critical",
                                     "details": {"litres": 3}})
        assert status == 200, alarm
        mail = smtp.wait_for(1)[0]
        assert mail.rcpt_tos == ["ops@example.com"]
        text = mail.content.decode()
        assert "Subject: Alarm on pump-3" in text and "Leak" in text
    finally:
        server.kill()
        smtp.stop()


def test_connect_rule_calls_the_device(server):
    create_rule(server, {"name": "welcome", "trigger": "connect",
                         "actions": [{"type": "rpc", "method": "sync", "params": {"v": 1}}]})
    _, token = server.create_device("newcomer")
    c = Client(server, version=V311, username=token)
    c.connect()
    c.subscribe("v1/devices/me/rpc/request/+", qos=1)
    m = c.expect(timeout=10)
    assert json.loads(m.payload) == {"method": "sync", "params": {"v": 1}}
    c.disconnect()


def test_live_events_over_sse(server):
    dev, token = server.create_device("live")
    req = urllib.request.Request(f"{server.http}/api/events?kinds=telemetry,alarm")
    req.add_header("Authorization", f"Bearer {server.token}")
    events = []

    ready = threading.Event()

    def listen():
        with urllib.request.urlopen(req, timeout=30) as resp:
            # The server subscribes before it answers: events from now on reach us.
            ready.set()
            name = None
            for raw in resp:
                line = raw.decode().rstrip("\n")
                if line.startswith("event:"):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    events.append((name, json.loads(line.split(":", 1)[1])))
                    if len(events) >= 2:
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert ready.wait(15)
    send(server, token, {"v": 7})
    server.call("POST", "/api/alarms", {"device_id": dev, "type": "T", "severity": "minor"})
    t.join(timeout=15)
    assert [e[0] for e in events] == ["telemetry", "alarm"]
    assert events[0][1]["data"] == {"v": 7} and events[0][1]["device_id"] == dev
    assert events[1][1]["data"]["alarm"]["type"] == "T"


def test_rules_file_is_loaded_at_start(data_dir):
    path = os.path.join(data_dir, "rules.json")
    with open(path, "w") as f:
        json.dump([{"name": "from-file", "trigger": "telemetry",
                    "actions": [{"type": "mqtt", "topic": "copy/{device_name}"}]}], f)
    server = Strata(data_dir, {"STRATA_RULES__FILE": path})
    try:
        assert [r["name"] for r in server.call("GET", "/api/rules")[1]] == ["from-file"]
    finally:
        server.kill()
    with open(path, "w") as f:
        f.write('[{"name": "broken", "trigger": "telemetry", "filter": "((", '
                '"actions": [{"type": "store"}]}]')
    with pytest.raises(RuntimeError):
        Strata(data_dir, {"STRATA_RULES__FILE": path})
