"""Webhook signing, retry schedule and destination checks (no network: resolver injected)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from anomaly_guardian.response.webhooks import (
    UnsafeDestination,
    check_destination,
    headers_for,
    next_delay,
    sign,
    verify,
    wants,
)

SECRET = b"s3cret-value"


def test_signature_is_hmac_sha256_over_timestamp_dot_body():
    body = b'{"a":1}'
    header = sign(SECRET, 1700000000, body)
    expected = hmac.new(SECRET, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_receiver_verification_accepts_fresh_and_rejects_tampered_or_stale():
    body = b'{"a":1}'
    header = sign(SECRET, 1700000000, body)
    assert verify(SECRET, header, body, now=1700000010)
    assert not verify(SECRET, header, b'{"a":2}', now=1700000010)
    assert not verify(b"other", header, body, now=1700000010)
    assert not verify(SECRET, header, body, now=1700000000 + 301)
    assert not verify(SECRET, "garbage", body, now=1700000000)


def test_headers_name_event_and_delivery():
    h = headers_for(SECRET, "anomaly.detected", "dlv_1", b"{}", 5)
    assert h["X-Guardian-Event"] == "anomaly.detected"
    assert h["X-Guardian-Delivery"] == "dlv_1"
    assert h["X-Guardian-Signature"].startswith("t=5,v1=")


@pytest.mark.parametrize(
    ("attempt", "policy", "delay"),
    [
        (1, {"maxRetries": 3, "backoffMultiplier": 2}, 2),
        (2, {"maxRetries": 3, "backoffMultiplier": 2}, 4),
        (3, {"maxRetries": 3, "backoffMultiplier": 2}, 8),
        (4, {"maxRetries": 3, "backoffMultiplier": 2}, None),
        (5, {"maxRetries": 10, "backoffMultiplier": 5}, 900),  # 3125 capped at SQS's 900
        (1, {"maxRetries": 0, "backoffMultiplier": 2}, None),
        (1, None, 2),
    ],
)
def test_backoff_schedule(attempt, policy, delay):
    assert next_delay(attempt, policy) == delay


def resolver(mapping):
    return lambda host, port: mapping[host]


@pytest.mark.parametrize(
    ("url", "addresses", "message"),
    [
        ("http://example.com/h", ["93.184.216.34"], "must use https"),
        ("https://internal.example/h", ["10.0.0.5"], r"a private address \(10\.0\.0\.5\)"),
        ("https://meta.example/h", ["169.254.169.254"], "metadata address"),
        ("https://loop.example/h", ["127.0.0.1"], "loopback address"),
        ("https://v6.example/h", ["::ffff:192.168.1.1"], "private address"),
        ("https://mixed.example/h", ["93.184.216.34", "192.168.0.2"], "private address"),
    ],
)
def test_unsafe_destinations_are_refused(url, addresses, message):
    from urllib.parse import urlsplit

    with pytest.raises(UnsafeDestination, match=message):
        check_destination(url, resolver({urlsplit(url).hostname: addresses}), allow_loopback=False)


def test_public_https_destination_is_pinned_to_the_checked_address():
    assert check_destination("https://hooks.example/x", resolver({"hooks.example": ["93.184.216.34"]})) == (
        "hooks.example",
        443,
        "93.184.216.34",
    )


def test_loopback_http_only_with_the_explicit_override():
    local = resolver({"127.0.0.1": ["127.0.0.1"], "10.1.1.1": ["10.1.1.1"]})
    with pytest.raises(UnsafeDestination):
        check_destination("http://127.0.0.1:8080/h", local)
    assert check_destination("http://127.0.0.1:8080/h", local, allow_loopback=True)[2] == "127.0.0.1"
    with pytest.raises(UnsafeDestination):  # the override is for 127.0.0.1 only
        check_destination("http://10.1.1.1/h", local, allow_loopback=True)


def test_subscription_filters():
    hook = {"events": ["anomaly.detected"], "severityFilter": ["CRITICAL", "HIGH"]}
    assert wants(hook, "anomaly.detected", "HIGH")
    assert not wants(hook, "anomaly.detected", "LOW")
    assert not wants(hook, "incident.opened", "HIGH")
    assert not wants(hook | {"enabled": False}, "anomaly.detected", "HIGH")
    assert wants({}, "incident.resolved", None)
