"""MQTT over TLS with real clients: paho-mqtt (3.1.1 and 5.0) and mosquitto_pub/sub, server
certificates from a development CA made with openssl, and devices identified by the
fingerprint of their client certificate."""

import os
import socket
import subprocess
import time

import pytest

from clients import Client, V311, V5, mosquitto_sub, subscribed_messages
from conftest import Strata


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A development CA, a server certificate for 127.0.0.1/localhost signed by it, and two
    self-signed device certificates (the commands README.md documents)."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=Strata dev CA",
            cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "30", "-extfile", "san.ext", cwd=d)
    for name in ("device", "stranger"):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "30",
                "-subj", f"/CN={name}", cwd=d)
    return d


def tls_env(pki, anonymous=False):
    return {
        "STRATA_MQTT__TLS__ENABLED": "true",
        "STRATA_MQTT__TLS__LISTEN": "127.0.0.1:0",
        "STRATA_MQTT__TLS__CERT_FILE": str(pki / "server.pem"),
        "STRATA_MQTT__TLS__KEY_FILE": str(pki / "server.key"),
        "STRATA_MQTT__ALLOW_ANONYMOUS": "true" if anonymous else "false",
    }


@pytest.fixture
def tls_strata(data_dir, pki):
    server = Strata(data_dir, tls_env(pki, anonymous=True))
    assert server.mqtts_port, "no TLS listener announced"
    yield server
    server.kill()


@pytest.mark.parametrize("version", [V311, V5])
def test_device_telemetry_over_tls(tls_strata, pki, version):
    device_id, token = tls_strata.create_device(f"tls-{version}")
    c = Client(tls_strata, version=version, username=token, tls={"ca_certs": str(pki / "ca.pem")})
    c.connect()
    c.publish("v1/devices/me/telemetry", '{"secure": 1}', qos=1)
    c.disconnect()
    assert tls_strata.latest(device_id)["secure"]["value"] == 1


@pytest.mark.parametrize("version", [V311, V5])
def test_pubsub_between_tls_and_plain_clients(tls_strata, pki, version):
    tls = {"ca_certs": str(pki / "ca.pem")}
    sub = Client(tls_strata, version=version, tls=tls)
    sub.connect()
    sub.subscribe("mixed/#", qos=2)
    plain = Client(tls_strata, version=version)
    plain.connect()
    plain.publish("mixed/a", "from-plain", qos=1)
    pub = Client(tls_strata, version=version, tls=tls)
    pub.connect()
    big = "x" * 200_000  # several TLS records
    pub.publish("mixed/big", big, qos=2)
    got = [sub.expect(), sub.expect()]
    assert sorted((m.topic, len(m.payload)) for m in got) == [
        ("mixed/a", 10), ("mixed/big", 200_000)]
    for c in (sub, plain, pub):
        c.disconnect()


def test_mosquitto_clients_over_tls(tls_strata, pki):
    port = str(tls_strata.mqtts_port)
    sub = mosquitto_sub(["-h", "127.0.0.1", "-p", port, "--cafile", str(pki / "ca.pem"),
                         "-t", "tls/topic", "-C", "1", "-W", "30", "-q", "1"])
    subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", port, "--cafile", str(pki / "ca.pem"),
         "-t", "tls/topic", "-m", "over-tls", "-q", "1"],
        check=True, timeout=20)
    assert subscribed_messages(sub, "tls/", timeout=40) == ["tls/topic over-tls"]
    assert sub.returncode == 0


def test_untrusted_server_certificate_is_refused_by_the_client(tls_strata, pki):
    """The listener really is TLS with the configured certificate: a client that trusts
    another CA refuses it."""
    result = subprocess.run(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(tls_strata.mqtts_port),
         "--cafile", str(pki / "device.pem"), "-t", "x", "-m", "y"],
        capture_output=True, text=True, timeout=20)
    assert result.returncode != 0


def test_client_certificate_identifies_a_registered_device(data_dir, pki):
    server = Strata(data_dir, tls_env(pki, anonymous=False))
    try:
        device_id, _ = server.create_device("with-cert")
        pem = (pki / "device.pem").read_text()
        status, body = server.call("POST", f"/api/devices/{device_id}/credentials/x509",
                                   {"certificate_pem": pem})
        assert status == 201, body
        assert body["kind"] == "x509_fingerprint"
        # The same certificate cannot identify a second device.
        other_id, _ = server.create_device("other")
        status, body = server.call("POST", f"/api/devices/{other_id}/credentials/x509",
                                   {"fingerprint_sha256": body["hint"]})
        assert status == 409, body
        status, body = server.call("POST", f"/api/devices/{other_id}/credentials/x509",
                                   {"fingerprint_sha256": "not-hex"})
        assert status == 422, body

        ca = str(pki / "ca.pem")
        c = Client(server, version=V5,
                   tls={"ca_certs": ca, "certfile": str(pki / "device.pem"),
                        "keyfile": str(pki / "device.key")})
        c.connect()  # no user name, no password: the certificate is the credential
        c.publish("v1/devices/me/telemetry", '{"by_cert": 7}', qos=1)
        c.disconnect()
        assert server.latest(device_id)["by_cert"]["value"] == 7

        # An unregistered certificate is no identity; anonymous access is off.
        s = Client(server, version=V5,
                   tls={"ca_certs": ca, "certfile": str(pki / "stranger.pem"),
                        "keyfile": str(pki / "stranger.key")})
        _, rc, _ = s.connect(expect_ok=False)
        assert rc.value == 0x87
        s.c.loop_stop()
        # Without any certificate a device still signs in with its token over TLS.
        _, token = server.create_device("token-over-tls")
        t = Client(server, version=V311, username=token, tls={"ca_certs": ca})
        t.connect()
        t.disconnect()
    finally:
        server.kill()


def test_garbage_on_the_tls_port_does_not_harm_the_server(tls_strata, pki):
    for payload in (b"\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c", os.urandom(4096),
                    b"\x16\x03\x01\xff\xff" + b"\x00" * 100):
        s = socket.create_connection(("127.0.0.1", tls_strata.mqtts_port), timeout=5)
        try:
            s.sendall(payload)
            try:
                data = s.recv(1024)
                # Only a TLS alert (content type 21) or nothing may come back.
                assert data == b"" or data[0] == 21, data
            except (ConnectionResetError, socket.timeout):
                pass
        finally:
            s.close()
    # Still serving.
    c = Client(tls_strata, version=V5, tls={"ca_certs": str(pki / "ca.pem")})
    c.connect()
    c.disconnect()
