"""A small synchronous wrapper around paho-mqtt 2.x for tests."""

import queue
import subprocess
import threading
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

V311 = mqtt.MQTTv311
V5 = mqtt.MQTTv5

# Every client a test made, so the fixture `close_clients` can stop them afterwards: a
# forgotten client's network thread would otherwise keep reconnecting for the whole run.
_made = []


def close_clients():
    """Stops every client made so far, in the background (a thread may need a second to
    notice)."""
    clients = list(_made)
    _made.clear()

    def stop():
        for c in clients:
            try:
                c.c.disconnect()
            except Exception:
                pass
        for c in clients:
            try:
                c.c.loop_stop()
            except Exception:
                pass

    threading.Thread(target=stop, daemon=True).start()


class Client:
    def __init__(self, server, version=V5, client_id=None, username=None, password=None,
                 clean=True, session_expiry=None, will=None, keepalive=30, tls=None,
                 websocket=False):
        """`tls`: None, or a dict of `ssl` options for paho's `tls_set` (ca_certs, certfile,
        keyfile). `websocket`: MQTT over WebSocket on /mqtt. The client picks the server's
        matching port (mqtt, mqtts, ws or wss)."""
        self.version = version
        self.tls = tls
        self.websocket = websocket
        self.client_id = client_id if client_id is not None else f"t-{uuid.uuid4().hex[:10]}"
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                             protocol=version,
                             transport="websockets" if websocket else "tcp",
                             clean_session=clean if version == V311 else None)
        if username is not None:
            self.c.username_pw_set(username, password)
        if tls is not None:
            self.c.tls_set(**tls)
        if websocket:
            self.c.ws_set_options(path="/mqtt")
        if will:
            topic, payload, qos, retain, props = will
            self.c.will_set(topic, payload, qos=qos, retain=retain, properties=props)
        self.messages = queue.Queue()
        self.connack = queue.Queue()
        self.disconnects = queue.Queue()
        self.acks = {}
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_connect = lambda c, u, f, rc, p=None: self.connack.put((f, rc, p))
        self.c.on_disconnect = lambda c, u, f, rc, p=None: self.disconnects.put(rc)
        self.subacks = queue.Queue()
        self.c.on_subscribe = lambda c, u, mid, rcs, p=None: self.subacks.put((mid, rcs))
        self.published = {}
        self.pubacks = queue.Queue()
        self.c.on_publish = lambda c, u, mid, rc, p=None: self.pubacks.put((mid, rc))
        self.pub_lock = threading.Lock()
        props = None
        if version == V5:
            props = Properties(PacketTypes.CONNECT)
            if session_expiry is not None:
                props.SessionExpiryInterval = session_expiry
        self.server = server
        self.connect_props = props
        self.keepalive = keepalive
        self.clean = clean
        _made.append(self)

    def connect(self, expect_ok=True, timeout=10):
        port = {
            (False, False): self.server.mqtt_port,
            (True, False): self.server.mqtts_port,
            (False, True): self.server.ws_port,
            (True, True): self.server.wss_port,
        }[(self.tls is not None, self.websocket)]
        self.c.connect(self.server.mqtt_host, port, keepalive=self.keepalive,
                       clean_start=(self.clean if self.version == V5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY),
                       properties=self.connect_props)
        self.c.loop_start()
        flags, rc, props = self.connack.get(timeout=timeout)
        if expect_ok:
            assert not rc.is_failure, f"CONNACK refused: {rc}"
        return flags, rc, props

    def subscribe(self, topic, qos=0, options=None, props=None, timeout=10):
        if options is not None:
            result, mid = self.c.subscribe(topic, options=options, properties=props)
        else:
            result, mid = self.c.subscribe(topic, qos, properties=props)
        assert result == mqtt.MQTT_ERR_SUCCESS
        got_mid, rcs = self.subacks.get(timeout=timeout)
        return rcs

    def publish(self, topic, payload, qos=0, retain=False, props=None, timeout=10):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=props)
        if qos > 0:
            info.wait_for_publish(timeout=timeout)
            assert info.is_published(), "no acknowledgement"
        return info

    def publish_rc(self, topic, payload, qos=1, timeout=10):
        """Publishes at QoS 1/2 and returns the acknowledgement's reason code value."""
        info = self.c.publish(topic, payload, qos=qos)
        while True:
            mid, rc = self.pubacks.get(timeout=timeout)
            if mid == info.mid:
                return rc.value if hasattr(rc, "value") else rc

    def expect(self, timeout=15):
        # Generous: only a failing run waits this long, and CI machines stall.
        return self.messages.get(timeout=timeout)

    def expect_none(self, wait=0.5):
        try:
            m = self.messages.get(timeout=wait)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message on {m.topic}: {m.payload!r}")

    def disconnect(self):
        self.c.disconnect()
        self.c.loop_stop()

    def drop(self):
        """Closes the socket without DISCONNECT (an abnormal end: the will is published)."""
        self.c.loop_stop()
        self.c.socket().close()


def mosquitto_sub(args):
    """Starts `mosquitto_sub -d -v ARGS` and returns once the broker's SUBACK is in: the
    subscription is live, so messages published from now on must arrive. Read the messages
    with `subscribed_messages`."""
    proc = subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-d", "-v", *args],
                            stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if "received SUBACK" in line:
            break
    return proc


def subscribed_messages(proc, topic_prefix, timeout=30):
    """The `topic payload` lines `mosquitto_sub` printed until it exited."""
    out, _ = proc.communicate(timeout=timeout)
    return [line for line in out.split("\n") if line.startswith(topic_prefix)]
