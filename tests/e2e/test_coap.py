"""The CoAP device API against real clients: libcoap's coap-client-notls and aiocoap.

Covers RFC 7252 (CON/ACK, piggybacked and separate responses, deduplication, errors),
RFC 7641 observe (RPC calls, shadow deltas, attributes), RFC 7959 block-wise (Block1
uploads, Block2 downloads, both in one exchange) and the device API mirrored from HTTP/MQTT.
"""

import asyncio
import json
import socket
import struct
import subprocess
import threading
import time

import aiocoap

from conftest import Strata

CLIENT = "coap-client-notls"


def coap(strata, method, path, payload=None, block=None, content_format=None, observe_secs=None,
         file=None, timeout=30):
    """Runs coap-client-notls; returns (stdout, stderr). libcoap prints the payload of a
    2.xx response on stdout, and the code and diagnostic payload of an error on stderr."""
    args = [CLIENT, "-m", method, "-B", "20"]
    if block:
        args += ["-b", str(block)]
    if content_format is not None:
        args += ["-t", str(content_format)]
    if observe_secs:
        args += ["-s", str(observe_secs)]
    if payload is not None:
        args += ["-e", payload]
    if file is not None:
        args += ["-f", file]
    args.append(f"coap://127.0.0.1:{strata.coap_port}{path}")
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return out.stdout, out.stderr


def has_code(stderr, code):
    """Whether libcoap reported response `code` (a line starting with it)."""
    return any(line.startswith(code) for line in stderr.splitlines())


def wait_for(predicate, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def client_context():
    return await aiocoap.Context.create_client_context()


def test_well_known_core_lists_the_device_api(strata):
    out, _ = coap(strata, "get", "/.well-known/core")
    assert '</api/v1/{token}/telemetry>;rt="strata.telemetry";ct=50' in out
    assert '</api/v1/{token}/rpc>;rt="strata.rpc";ct=50;obs' in out

    async def check():
        ctx = await client_context()
        try:
            resp = await ctx.request(aiocoap.Message(
                code=aiocoap.GET, uri=f"coap://127.0.0.1:{strata.coap_port}/.well-known/core")).response
            assert resp.code == aiocoap.CONTENT
            assert resp.opt.content_format == 40
            links = resp.payload.decode()
            assert "/api/v1/{token}/shadows/{name}/delta" in links
        finally:
            await ctx.shutdown()
    run(check())


def test_telemetry_and_attributes_upload_with_libcoap(strata):
    device_id, token = strata.create_device("coap-upload")
    out, _ = coap(strata, "post", f"/api/v1/{token}/telemetry", '{"temp": 21.5, "on": true}',
                  content_format="json")
    assert json.loads(out) == {"accepted": 2}
    latest = strata.latest(device_id)
    assert latest["temp"]["value"] == 21.5 and latest["on"]["value"] is True
    out, _ = coap(strata, "post", f"/api/v1/{token}/attributes", '{"fw": "1.2.0"}')
    assert json.loads(out) == {"accepted": 1}
    out, _ = coap(strata, "get", f"/api/v1/{token}/attributes")
    assert json.loads(out) == {"fw": "1.2.0"}
    status, attrs = strata.call("GET", f"/api/devices/{device_id}/attributes")
    assert status == 200 and any(a["key"] == "fw" for a in attrs), attrs


def test_errors_get_the_right_response_codes(strata):
    device_id, token = strata.create_device("coap-errors")
    _, out = coap(strata, "post", f"/api/v1/{token}/telemetry", "{not json")
    assert has_code(out, "4.00") and "not valid JSON" in out, out
    _, out = coap(strata, "post", "/api/v1/not-a-token/telemetry", '{"a": 1}')
    assert has_code(out, "4.01"), out
    _, out = coap(strata, "get", f"/api/v1/{token}/nothing-here")
    assert has_code(out, "4.04"), out
    _, out = coap(strata, "get", "/elsewhere")
    assert has_code(out, "4.04"), out
    _, out = coap(strata, "delete", f"/api/v1/{token}/telemetry")
    assert has_code(out, "4.05"), out
    _, out = coap(strata, "post", f"/api/v1/{token}/telemetry", '{"a": 1}', content_format="cbor")
    assert has_code(out, "4.15"), out
    _, out = coap(strata, "post", f"/api/v1/{token}/rpc/abc", '{}')
    assert has_code(out, "4.00"), out
    _, out = coap(strata, "get", f"/api/v1/{token}/rpc")
    assert has_code(out, "4.00") and "Observe" in out, out
    _, out = coap(strata, "get", f"/api/v1/{token}/shadows/none")
    assert has_code(out, "4.04"), out
    assert strata.latest(device_id) == {}


def raw_exchange(port, datagram, expect_reply=True, timeout=5.0):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.sendto(datagram, ("127.0.0.1", port))
        if not expect_reply:
            try:
                return sock.recvfrom(65536)[0]
            except socket.timeout:
                return None
        return sock.recvfrom(65536)[0]
    finally:
        sock.close()


def con_post(mid, path_segments, payload, token=b"\x01\x02"):
    """A confirmable POST with Uri-Path options, encoded by hand."""
    msg = bytes([0x40 | len(token), 0x02]) + struct.pack("!H", mid) + token
    last = 0
    for seg in path_segments:
        seg = seg.encode()
        delta = 11 - last
        last = 11
        if len(seg) < 13:
            msg += bytes([(delta << 4) | len(seg)]) + seg
        else:
            msg += bytes([(delta << 4) | 13, len(seg) - 13]) + seg
    return msg + b"\xff" + payload


def test_malformed_datagrams_get_reset_and_never_hurt_the_server(strata):
    device_id, token = strata.create_device("coap-garbage")
    port = strata.coap_port
    # Confirmable with an option running past the end: RST with the same message ID.
    reply = raw_exchange(port, bytes([0x40, 0x01, 0x12, 0x34, 0xB5, ord("a")]))
    assert reply == bytes([0x70, 0x00, 0x12, 0x34])
    # Payload marker without payload.
    reply = raw_exchange(port, bytes([0x40, 0x01, 0x12, 0x35, 0xFF]))
    assert reply == bytes([0x70, 0x00, 0x12, 0x35])
    # A CoAP ping is answered with RST.
    assert raw_exchange(port, bytes([0x40, 0x00, 0x00, 0x07])) == bytes([0x70, 0x00, 0x00, 0x07])
    # Too short, wrong version, non-confirmable garbage: silently dropped.
    for junk in (b"\x40", bytes([0x80, 1, 0, 1]), bytes([0x50, 1, 0, 1, 0xFF]), b"\xff" * 300):
        assert raw_exchange(port, junk, expect_reply=False, timeout=0.3) is None
    # An unknown critical option (2049) gets 4.02 Bad Option.
    msg = bytes([0x40, 0x01, 0x00, 0x42, 0xE0, 0x06, 0xF4])  # delta 269+1780 = 2049, empty
    reply = raw_exchange(port, msg)
    assert reply[0] >> 4 == 0x6 and reply[1] == (4 << 5) | 2, reply  # ACK 4.02
    # The server still works.
    out, _ = coap(strata, "post", f"/api/v1/{token}/telemetry", '{"alive": 1}')
    assert json.loads(out) == {"accepted": 1}


def test_retransmitted_request_is_answered_again_but_stored_once(strata):
    device_id, token = strata.create_device("coap-dedup")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    try:
        datagram = con_post(0x5151, ["api", "v1", token, "telemetry"],
                            b'{"ts": 1700000000000, "values": {"n": 1}}')
        sock.sendto(datagram, ("127.0.0.1", strata.coap_port))
        first = sock.recvfrom(65536)[0]
        # The same message again (as if our ACK was lost): the same answer, no new point.
        sock.sendto(datagram, ("127.0.0.1", strata.coap_port))
        second = sock.recvfrom(65536)[0]
    finally:
        sock.close()
    assert first == second
    assert first[0] >> 4 == 0x6 and first[1] == (2 << 5) | 4  # piggybacked ACK 2.04
    assert struct.unpack("!H", first[2:4])[0] == 0x5151
    status, body = strata.call(
        "GET", f"/api/devices/{device_id}/telemetry?keys=n&limit=1000&order=asc")
    assert status == 200, body
    assert len(body["series"][0]["points"]) == 1, body


def test_block1_upload_block2_download_and_both_in_one_exchange(strata, tmp_path):
    device_id, token = strata.create_device("coap-blocks")
    # Block1: 300 values in 64-byte blocks.
    tele = tmp_path / "tele.json"
    tele.write_text(json.dumps({f"k{i}": i for i in range(300)}))
    out, _ = coap(strata, "post", f"/api/v1/{token}/telemetry", file=str(tele), block=64)
    assert json.loads(out) == {"accepted": 300}
    assert len(strata.latest(device_id)) == 300
    # Block1 request whose response needs Block2 too (a large shadow comes back).
    big = tmp_path / "shadow.json"
    big.write_text(json.dumps({"state": {"reported": {f"r{i}": "x" * 40 for i in range(100)}}}))
    out, _ = coap(strata, "patch", f"/api/v1/{token}/shadows/default", file=str(big), block=64)
    doc = json.loads(out)
    assert len(doc["state"]["reported"]) == 100 and doc["version"] == 1
    # Block2 download with a size the client picks (late negotiation).
    out, _ = coap(strata, "get", f"/api/v1/{token}/shadows/default", block=128)
    assert json.loads(out)["state"]["reported"]["r99"] == "x" * 40

    async def aiocoap_blocks():
        ctx = await client_context()
        try:
            # Larger than 1024 bytes: aiocoap sends it in Block1 blocks and reassembles Block2.
            payload = json.dumps({f"a{i}": i for i in range(200)}).encode()
            req = aiocoap.Message(code=aiocoap.POST, payload=payload,
                                  uri=f"coap://127.0.0.1:{strata.coap_port}/api/v1/{token}/telemetry")
            resp = await ctx.request(req).response
            assert resp.code == aiocoap.CHANGED, resp
            assert json.loads(resp.payload) == {"accepted": 200}
            resp = await ctx.request(aiocoap.Message(
                code=aiocoap.GET,
                uri=f"coap://127.0.0.1:{strata.coap_port}/api/v1/{token}/shadows/default")).response
            assert resp.code == aiocoap.CONTENT
            assert len(json.loads(resp.payload)["state"]["reported"]) == 100
        finally:
            await ctx.shutdown()
    run(aiocoap_blocks())


def test_block1_upload_over_the_limit_gets_4_13_with_size1(data_dir, tmp_path):
    server = Strata(data_dir, {"STRATA_COAP__MAX_BODY_BYTES": "2048"})
    try:
        device_id, token = server.create_device("coap-too-big")
        big = tmp_path / "big.json"
        big.write_text(json.dumps({f"k{i}": i for i in range(1000)}))

        async def upload():
            ctx = await client_context()
            try:
                req = aiocoap.Message(code=aiocoap.POST, payload=big.read_bytes(),
                                      uri=f"coap://127.0.0.1:{server.coap_port}/api/v1/{token}/telemetry")
                resp = await ctx.request(req).response
                assert resp.code == aiocoap.REQUEST_ENTITY_TOO_LARGE, resp
                assert resp.opt.size1 == 2048
            finally:
                await ctx.shutdown()
        run(upload())
        assert server.latest(device_id) == {}
    finally:
        server.kill()


def test_rpc_calls_arrive_as_observe_notifications_with_libcoap(strata):
    device_id, token = strata.create_device("coap-rpc")
    # A persistent call made while the device is not observing waits for it.
    status, queued = strata.call("POST", f"/api/devices/{device_id}/rpc",
                                 {"method": "queued", "params": {"n": 1}, "oneway": True,
                                  "persistent": True})
    assert status in (200, 201, 202), queued
    proc = subprocess.Popen(
        [CLIENT, "-m", "get", "-s", "15", "-B", "20",
         f"coap://127.0.0.1:{strata.coap_port}/api/v1/{token}/rpc"],
        stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: strata.call("GET", f"/api/devices/{device_id}/rpc/{queued['id']}")[1]
                 ["status"] in ("sent", "successful"))
        # A two-way call: the device answers it over CoAP.
        answer = {}

        def invoke():
            answer["call"] = strata.call("POST", f"/api/devices/{device_id}/rpc",
                                         {"method": "setLed", "params": {"on": True},
                                          "timeout_ms": 8000})
        t = threading.Thread(target=invoke)
        t.start()
        calls = wait_for(lambda: [c for c in strata.call("GET", f"/api/devices/{device_id}/rpc")[1]
                                  if c["method"] == "setLed" and c["status"] == "sent"])
        out, _ = coap(strata, "post", f"/api/v1/{token}/rpc/{calls[0]['id']}", '{"led": "on"}')
        assert out == ""  # 2.04 without payload
        t.join(timeout=15)
        status, call = answer["call"]
        assert status == 200 and call["status"] == "successful", call
        assert call["response"] == {"led": "on"}
    finally:
        out, _ = proc.communicate(timeout=40)
    notes = [json.loads(x) for x in out.replace("}{", "}\n{").splitlines() if x.strip()]
    assert [n["method"] for n in notes] == ["queued", "setLed"], out
    assert notes[0]["params"] == {"n": 1}


def test_shadow_delta_and_attributes_observed_with_aiocoap(strata):
    device_id, token = strata.create_device("coap-shadow")
    base = f"coap://127.0.0.1:{strata.coap_port}/api/v1/{token}"

    async def scenario():
        ctx = await client_context()
        try:
            delta_obs = ctx.request(aiocoap.Message(code=aiocoap.GET, observe=0,
                                                    uri=f"{base}/shadows/default/delta"))
            first = await delta_obs.response
            assert first.code == aiocoap.CONTENT and first.opt.observe is not None
            assert json.loads(first.payload)["state"] == {}
            attr_obs = ctx.request(aiocoap.Message(code=aiocoap.GET, observe=0,
                                                   uri=f"{base}/attributes"))
            assert json.loads((await attr_obs.response).payload) == {}

            # Wait for the notification before causing it, so it cannot slip by.
            next_delta = asyncio.ensure_future(delta_obs.observation.__aiter__().__anext__())
            await asyncio.sleep(0.1)
            status, _ = await asyncio.to_thread(
                strata.call, "PATCH", f"/api/devices/{device_id}/shadows/default",
                {"state": {"desired": {"led": "on", "rate": 5}}})
            assert status == 200
            note = await next_delta
            delta = json.loads(note.payload)
            assert delta["state"] == {"led": "on", "rate": 5} and delta["version"] == 1
            # The device reports over CoAP; the shadow is then in sync.
            resp = await ctx.request(aiocoap.Message(
                code=aiocoap.PATCH, uri=f"{base}/shadows/default",
                payload=json.dumps({"state": {"reported": {"led": "on", "rate": 5}}}).encode(),
                content_format=50)).response
            assert resp.code == aiocoap.CHANGED
            assert "delta" not in json.loads(resp.payload)["state"]

            next_attrs = asyncio.ensure_future(attr_obs.observation.__aiter__().__anext__())
            await asyncio.sleep(0.1)
            resp = await ctx.request(aiocoap.Message(
                code=aiocoap.POST, uri=f"{base}/attributes", payload=b'{"fw": "2.0"}')).response
            assert resp.code == aiocoap.CHANGED
            note = await next_attrs
            assert json.loads(note.payload) == {"fw": "2.0"}
            delta_obs.observation.cancel()
            attr_obs.observation.cancel()
        finally:
            await ctx.shutdown()
    run(scenario())


def test_revoking_the_token_ends_observations_with_4_01(strata):
    device_id, token = strata.create_device("coap-revoke")

    async def scenario():
        ctx = await client_context()
        try:
            obs = ctx.request(aiocoap.Message(
                code=aiocoap.GET, observe=0,
                uri=f"coap://127.0.0.1:{strata.coap_port}/api/v1/{token}/rpc"))
            first = await obs.response
            assert first.code == aiocoap.CONTENT
            # Wait for the next notification before revoking, so it cannot slip by.
            notes = obs.observation.__aiter__()
            waiting = asyncio.ensure_future(notes.__anext__())
            await asyncio.sleep(0.1)
            creds = (await asyncio.to_thread(
                strata.call, "GET", f"/api/devices/{device_id}/credentials"))[1]
            status, _ = await asyncio.to_thread(
                strata.call, "DELETE", f"/api/devices/{device_id}/credentials/{creds[0]['id']}")
            assert status == 204
            # The observation ends with 4.01: aiocoap hands it over as the last
            # notification or raises it, depending on the version.
            seen = []
            try:
                seen.append((await waiting).code)
            except StopAsyncIteration:
                pass
            except aiocoap.error.Error as e:
                seen.append(str(e))
            assert seen and (seen[-1] == aiocoap.UNAUTHORIZED or "4.01" in str(seen[-1])), seen
        finally:
            await ctx.shutdown()
    run(scenario())
    _, out = coap(strata, "post", f"/api/v1/{token}/telemetry", '{"a": 1}')
    assert has_code(out, "4.01"), out


def test_coap_telemetry_survives_kill_9(data_dir):
    server = Strata(data_dir, {})
    try:
        device_id, token = server.create_device("coap-durable")
        out, _ = coap(server, "post", f"/api/v1/{token}/telemetry", '{"kept": 42}')
        assert json.loads(out) == {"accepted": 1}
    finally:
        server.kill()
    again = Strata(data_dir, {})
    try:
        assert again.latest(device_id)["kept"]["value"] == 42
    finally:
        again.kill()


DTLS_CLIENT = "coap-client-openssl"
PSK = "0123456789abcdef"


def coaps(strata, method, path, identity, key, payload=None, observe_secs=None, wait_secs=20,
          timeout=40):
    """coap-client-openssl over DTLS-PSK; returns (stdout, stderr, exit code). `wait_secs`
    bounds handshake and answer (a refused handshake runs until it ends)."""
    args = [DTLS_CLIENT, "-m", method, "-B", str(wait_secs), "-u", identity, "-k", key]
    if observe_secs:
        args += ["-s", str(observe_secs)]
    if payload is not None:
        args += ["-e", payload]
    args.append(f"coaps://127.0.0.1:{strata.coaps_port}{path}")
    out = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return out.stdout, out.stderr, out.returncode


def add_psk(strata, device_id, identity, key=PSK):
    status, body = strata.call("POST", f"/api/devices/{device_id}/credentials/psk",
                               {"identity": identity, "key_hex": key.encode().hex()})
    assert status == 201, body
    assert body["key_hex"] == key.encode().hex()
    return body


def test_dtls_psk_identity_authenticates_the_device(strata):
    device_id, token = strata.create_device("coaps-psk")
    add_psk(strata, device_id, "sensor-psk-1")
    # The DTLS session names the device: no token in the path.
    out, err, _ = coaps(strata, "post", "/api/v1/telemetry", "sensor-psk-1", PSK, '{"secure": 1}')
    assert json.loads(out) == {"accepted": 1}, (out, err)
    assert strata.latest(device_id)["secure"]["value"] == 1
    # Token paths work over DTLS too.
    out, err, _ = coaps(strata, "post", f"/api/v1/{token}/attributes", "sensor-psk-1", PSK, '{"fw": "9"}')
    assert json.loads(out) == {"accepted": 1}, (out, err)
    # A wrong key or an unknown identity fails the handshake: nothing is stored.
    out, err, _ = coaps(strata, "post", "/api/v1/telemetry", "sensor-psk-1", "wrong-key-000000", '{"bad": 1}',
                        wait_secs=5)
    assert "accepted" not in out, (out, err)
    out, err, _ = coaps(strata, "post", "/api/v1/telemetry", "nobody", PSK, '{"bad": 2}', wait_secs=5)
    assert "accepted" not in out, (out, err)
    assert "bad" not in strata.latest(device_id)
    # Without a DTLS identity, token-less paths are unknown resources.
    _, out = coap(strata, "post", "/api/v1/telemetry", '{"plain": 1}')
    assert has_code(out, "4.01") or has_code(out, "4.04"), out
    # The same identity cannot belong to two devices.
    other, _ = strata.create_device("coaps-psk-2")
    status, body = strata.call("POST", f"/api/devices/{other}/credentials/psk",
                               {"identity": "sensor-psk-1"})
    assert status == 409, body


def test_rpc_notifications_travel_over_dtls(strata):
    device_id, _ = strata.create_device("coaps-rpc")
    add_psk(strata, device_id, "sensor-psk-rpc")
    proc = subprocess.Popen(
        [DTLS_CLIENT, "-m", "get", "-s", "10", "-B", "15", "-u", "sensor-psk-rpc", "-k", PSK,
         f"coaps://127.0.0.1:{strata.coaps_port}/api/v1/rpc"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: strata.call("GET", f"/api/devices/{device_id}")[1]
                 .get("connectivity", {}).get("last_seen_at"))
        time.sleep(0.5)
        status, call = strata.call("POST", f"/api/devices/{device_id}/rpc",
                                   {"method": "blink", "params": {"n": 3}, "oneway": True})
        assert status == 200 and call["status"] == "successful", call
    finally:
        out, err = proc.communicate(timeout=30)
    assert '"method":"blink"' in out, (out, err)


def make_cert(directory, name):
    """A self-signed EC P-256 certificate and key (PEM files)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-subj", f"/CN={name}", "-days", "2"], check=True, capture_output=True)
    return cert, key


def test_dtls_client_certificate_authenticates_the_device(data_dir, tmp_path):
    server_cert, server_key = make_cert(tmp_path, "strata-server")
    device_cert, device_key = make_cert(tmp_path, "sensor-cert")
    server = Strata(data_dir, {"STRATA_COAP__DTLS__CERT_FILE": str(server_cert),
                               "STRATA_COAP__DTLS__KEY_FILE": str(server_key)})
    try:
        device_id, _ = server.create_device("coaps-cert")
        status, body = server.call("POST", f"/api/devices/{device_id}/credentials/x509",
                                   {"certificate_pem": device_cert.read_text()})
        assert status == 201, body
        args = [DTLS_CLIENT, "-m", "post", "-B", "20", "-c", str(device_cert), "-j", str(device_key),
                "-n", "-e", '{"by_cert": 1}', f"coaps://127.0.0.1:{server.coaps_port}/api/v1/telemetry"]
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert json.loads(out.stdout) == {"accepted": 1}, (out.stdout, out.stderr)
        assert server.latest(device_id)["by_cert"]["value"] == 1
        # A certificate nobody registered gets no device: token-less paths are refused.
        other_cert, other_key = make_cert(tmp_path, "stranger")
        args[args.index(str(device_cert))] = str(other_cert)
        args[args.index(str(device_key))] = str(other_key)
        args[args.index("-B") + 1] = "5"  # a refused client waits out its whole window
        out = subprocess.run(args, capture_output=True, text=True, timeout=30)
        assert "accepted" not in out.stdout, (out.stdout, out.stderr)
    finally:
        server.kill()
