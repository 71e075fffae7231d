"""The HTTP server holds nothing for clients that hold it: silent and slow clients are cut
after `http.header_timeout`, made-up method names add no metric series, and oversized
passwords are refused without being hashed."""

import socket
import urllib.parse

import pytest

from conftest import Strata


@pytest.fixture
def quick_strata(data_dir):
    server = Strata(data_dir, {"STRATA_HTTP__HEADER_TIMEOUT": "1s"})
    yield server
    server.kill()


def connect(server):
    url = urllib.parse.urlparse(server.http)
    s = socket.create_connection((url.hostname, url.port), timeout=20)
    return s


def closed_by_server(s):
    """True once the server closes the connection; a generous deadline, so only a server
    that never closes fails (no timing is asserted)."""
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except (socket.timeout, TimeoutError):
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("sent", [b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"],
                         ids=["silent", "half-a-head"])
def test_clients_that_send_no_complete_head_are_cut(quick_strata, sent):
    s = connect(quick_strata)
    s.sendall(sent)
    assert closed_by_server(s)
    s.close()
    # Everyone else is served as before.
    assert quick_strata.call("GET", "/healthz")[0] == 200


def test_an_idle_kept_alive_connection_is_closed(quick_strata):
    s = connect(quick_strata)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200"), reply
    assert closed_by_server(s)
    s.close()


def test_unusual_methods_share_one_metric_label(strata):
    for method in ["FOOBAR", "X" * 200]:
        s = connect(strata)
        s.sendall(f"{method} /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        while s.recv(4096):
            pass
        s.close()
    status, text = strata.call_text("GET", "/metrics")
    assert status == 200
    assert "FOOBAR" not in text and "X" * 200 not in text
    assert 'method="other"' in text


def test_an_oversized_password_is_refused_like_a_wrong_one(strata):
    status, body = strata.call("POST", "/api/auth/login",
                               {"username": "admin", "password": "p" * 100_000})
    assert status == 401, body
    assert body["error"]["code"] == "unauthorized", body
