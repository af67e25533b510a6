"""Webhook SSRF guard: Given a URL (and what its name resolves to), Then accepted or refused with a reason."""

import pytest

from anomaly_guardian.api.url_guard import UnsafeUrl, check_webhook_url

PUBLIC = lambda host, port: ["93.184.215.14"]  # noqa: E731


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/x?y=1",
        "https://hooks.example.com:8443/p",
        "https://93.184.215.14/hook",
        "https://[2606:4700::1]/h",
    ],
)
def test_public_https_accepted(url):
    assert check_webhook_url(url, PUBLIC) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/", "https"),
        ("ftp://hooks.example.com/", "https"),
        ("https://user:pw@hooks.example.com/", "credentials"),
        ("https://127.0.0.1/", "loopback"),
        ("https://10.1.2.3/", "private"),
        ("https://192.168.0.10/", "private"),
        ("https://169.254.169.254/latest/meta-data/", "metadata"),
        ("https://[fd00:ec2::254]/", "metadata"),
        ("https://[::1]/", "loopback"),
        ("https://[::ffff:10.0.0.1]/", "private"),
        ("https://224.0.0.1/", "multicast"),
        ("https://0.0.0.0/", "unspecified"),
        ("https://100.64.0.1/", "not a globally routable"),
        ("https://2130706433/", "obfuscated"),
        ("https://0x7f.0.0.1/", "obfuscated"),
        ("https://localhost/", "internal name"),
        ("https://metadata.google.internal/computeMetadata/v1/", "internal name"),
        ("https://printer.local/", "internal name"),
        ("https://intranet/", "internal name"),
        ("https://hooks.example.com/\r\nX: y", "control"),
        ("https:///nohost", "no host"),
        ("https://" + "a" * 2050 + ".com/", "longer"),
    ],
)
def test_unsafe_urls_refused_with_reason(url, reason):
    with pytest.raises(UnsafeUrl, match=reason):
        check_webhook_url(url, PUBLIC)


@pytest.mark.parametrize(
    ("addresses", "reason"),
    [
        (["10.0.0.5"], "private"),
        (["93.184.215.14", "127.0.0.1"], "loopback"),
        (["169.254.169.254"], "metadata"),
        ([], "does not resolve"),
    ],
)
def test_names_resolving_to_unsafe_addresses_refused(addresses, reason):
    seen = []

    def resolver(host, port):
        seen.append((host, port))
        return addresses

    with pytest.raises(UnsafeUrl, match=reason):
        check_webhook_url("https://rebind.example.com:8443/h", resolver)
    assert seen == [("rebind.example.com", 8443)]
