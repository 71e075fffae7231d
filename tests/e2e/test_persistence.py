"""Persistent sessions and retained messages survive a broker restart: a clean stop
(SIGTERM) saves everything; after a crash (SIGKILL) what was saved by the periodic save
(`mqtt.persist_interval`) comes back."""

import time

import pytest

from clients import Client, V311, V5
from conftest import Strata

OPEN = {"STRATA_MQTT__ALLOW_ANONYMOUS": "true"}


def offline_session_with_messages(server, version, client_id):
    c = Client(server, version=version, client_id=client_id, clean=False,
               session_expiry=3600)
    c.connect()
    c.subscribe("persist/#", qos=1)
    c.disconnect()
    pub = Client(server, version=version)
    pub.connect()
    for i in range(3):
        pub.publish(f"persist/{i}", f"queued-{i}", qos=1)
    pub.publish("persist/retained", "kept", qos=1, retain=True)
    pub.disconnect()


def resume_and_check(server, version, client_id):
    c = Client(server, version=version, client_id=client_id, clean=False, session_expiry=3600)
    flags, _, _ = c.connect()
    assert flags.session_present
    got = sorted(c.expect().payload for _ in range(4))
    assert got == [b"kept", b"queued-0", b"queued-1", b"queued-2"]
    c.expect_none()
    # The subscription itself came back too.
    pub = Client(server, version=version)
    pub.connect()
    pub.publish("persist/after", "live", qos=1)
    assert c.expect().payload == b"live"
    c.disconnect()
    # And the retained message, for a new subscriber.
    fresh = Client(server, version=version)
    fresh.connect()
    fresh.subscribe("persist/retained", qos=1)
    m = fresh.expect()
    assert (m.payload, m.retain) == (b"kept", True)
    fresh.disconnect()


@pytest.mark.parametrize("version", [V311, V5])
def test_sessions_survive_a_clean_restart(data_dir, version):
    server = Strata(data_dir, OPEN)
    offline_session_with_messages(server, version, f"keeper-{version}")
    server.terminate()
    server = Strata(data_dir, OPEN)
    try:
        resume_and_check(server, version, f"keeper-{version}")
    finally:
        server.kill()


def test_saved_sessions_survive_a_crash(data_dir):
    server = Strata(data_dir, dict(OPEN, STRATA_MQTT__PERSIST_INTERVAL="200ms"))
    offline_session_with_messages(server, V5, "crash-keeper")
    time.sleep(3.0)  # many save intervals, even on a stalled machine
    server.kill()
    server = Strata(data_dir, OPEN)
    try:
        resume_and_check(server, V5, "crash-keeper")
    finally:
        server.kill()


def test_clean_and_expired_sessions_do_not_come_back(data_dir):
    server = Strata(data_dir, OPEN)
    c = Client(server, version=V5, client_id="short", clean=False, session_expiry=1)
    c.connect()
    c.subscribe("gone/#", qos=1)
    c.disconnect()
    clean = Client(server, version=V5, client_id="clean", clean=True)
    clean.connect()
    clean.subscribe("gone/#", qos=1)
    clean.disconnect()
    server.terminate()
    time.sleep(1.5)
    server = Strata(data_dir, OPEN)
    try:
        for client_id in ("short", "clean"):
            c = Client(server, version=V5, client_id=client_id, clean=False, session_expiry=60)
            flags, _, _ = c.connect()
            assert not flags.session_present, client_id
            c.disconnect()
    finally:
        server.kill()
