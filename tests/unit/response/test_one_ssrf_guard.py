"""One SSRF guard: whatever registration (POST /webhooks) refuses, delivery refuses too, for the same
URL and the same DNS answer, because both call anomaly_guardian.url_guard."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from anomaly_guardian.api.url_guard import UnsafeUrl, check_webhook_url
from anomaly_guardian.response.webhooks import UnsafeDestination, check_destination

# (url, what its host resolves to): each refused at registration.
REFUSED = [
    ("http://hooks.example.com/", ["93.184.215.14"]),
    ("https://user:pw@hooks.example.com/", ["93.184.215.14"]),  # credentials (delivery once accepted it)
    ("https://2130706433/", ["127.0.0.1"]),  # obfuscated IP
    ("https://0x7f.0.0.1/", ["127.0.0.1"]),
    ("https://printer.local/", ["93.184.215.14"]),  # internal name resolving publicly (delivery accepted it)
    ("https://metadata.google.internal/", ["93.184.215.14"]),
    ("https://intranet/", ["93.184.215.14"]),
    ("https://localhost/", ["127.0.0.1"]),
    ("https://hooks.example.com/\r\nX: y", ["93.184.215.14"]),  # header injection
    ("https://" + "a" * 2050 + ".com/", ["93.184.215.14"]),
    ("https://10.1.2.3/", ["10.1.2.3"]),
    ("https://169.254.169.254/latest/meta-data/", ["169.254.169.254"]),
    ("https://[::ffff:10.0.0.1]/", ["::ffff:10.0.0.1"]),
    ("https://100.64.0.1/", ["100.64.0.1"]),
    ("https://rebind.example.com/", ["93.184.215.14", "10.0.0.7"]),
    ("https://gone.example.com/", []),
]


def resolver_for(addresses):
    return lambda host, port: addresses


@pytest.mark.parametrize(("url", "addresses"), REFUSED)
def test_an_address_refused_at_registration_is_refused_at_delivery(url, addresses):
    resolve = resolver_for(addresses)
    with pytest.raises(UnsafeUrl) as registration:
        check_webhook_url(url, resolve)
    with pytest.raises(UnsafeDestination) as delivery:
        check_destination(url, resolve, allow_loopback=False)
    assert str(delivery.value) == str(registration.value)  # one guard, one reason


def test_dns_rebinding_after_registration_is_caught_at_delivery():
    url = "https://hooks.example.com/x"
    assert check_webhook_url(url, resolver_for(["93.184.215.14"])) == url
    with pytest.raises(UnsafeDestination, match="metadata address"):
        check_destination(url, resolver_for(["169.254.169.254"]), allow_loopback=False)


def test_what_registration_accepts_delivery_accepts_and_pins():
    for url, address in [("https://hooks.example.com:8443/p", "93.184.215.14"), ("https://93.184.215.14/h", None)]:
        resolve = resolver_for([address] if address else [])
        assert check_webhook_url(url, resolve) == url
        host, port, pinned = check_destination(url, resolve, allow_loopback=False)
        assert host == urlsplit(url).hostname and pinned == "93.184.215.14"
        assert port == (urlsplit(url).port or 443)
