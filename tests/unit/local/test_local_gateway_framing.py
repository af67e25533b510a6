"""The local API gateway never hangs on a request whose framing is wrong (issue #10: a bad or short
Content-Length held the connection open): it answers API Gateway's 400 BAD_REQUEST_BODY shape, and a
slow body is cut off after the gateway's body timeout."""

from __future__ import annotations

import json
import socket
import time

import pytest

from anomaly_guardian.local import apigw


@pytest.fixture
def gateway(monkeypatch):
    monkeypatch.setattr(apigw, "BODY_TIMEOUT_S", 0.5)  # read by serve() when it defines the handler
    gw = apigw.ApiGateway([], None)
    port = gw.serve("127.0.0.1", 0)
    yield port
    gw.shutdown()


def exchange(port: int, raw: bytes, timeout: float = 5.0) -> tuple[int, dict, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body), time.monotonic() - started


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@pytest.mark.parametrize("declared", ["abc", "-1", "1e3", "12 34"])
def test_a_content_length_that_is_not_a_byte_count_is_a_400(gateway, declared):
    raw = f"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: {declared}\r\n\r\n{{}}".encode()
    status, body, seconds = exchange(gateway, raw)
    assert status == 400 and body == {
        "status": "error",
        "code": "INVALID_PAYLOAD",
        "message": "Content-Length must be a number of bytes",
    }
    assert seconds < 2


def test_a_body_shorter_than_its_content_length_is_a_400_after_the_body_timeout(gateway):
    raw = b'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a": 1}'
    status, body, seconds = exchange(gateway, raw)
    assert status == 400 and body["code"] == "INVALID_PAYLOAD"
    assert body["message"] == "Request body is shorter than its Content-Length"
    assert 0.4 < seconds < 3  # cut off by the body timeout, not held open


def test_broken_chunked_framing_is_a_400(gateway):
    raw = b"POST /events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
    status, body, _ = exchange(gateway, raw)
    assert status == 400 and body["message"] == "Malformed chunked request body"


def test_a_well_framed_request_reaches_routing(gateway):
    raw = b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    status, body, _ = exchange(gateway, raw)
    assert status == 404 and body["code"] == "NOT_FOUND"
