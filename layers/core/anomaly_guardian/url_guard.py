"""The one SSRF guard for webhook targets, used at registration (`POST /webhooks`, api/webhooks.py)
and again at every delivery (response/delivery.py), with the same rules: an address refused at
registration is refused at delivery too.

Refused: non-https schemes, credentials in the URL, names like localhost / *.internal / cloud
metadata names, IP literals (and obfuscated numeric hosts) that are private, loopback, link-local,
multicast, reserved, unspecified, shared (CGNAT) or otherwise not globally routable, and names that
RESOLVE to any such address. Resolution goes through an injectable resolver (tests need no network).
Delivery calls `check_destination` before each attempt (DNS can change between registration and
delivery: rebinding) and connects to the address it returns, so the checked address is the one used.
Test/local override only (`GUARDIAN_WEBHOOK_ALLOW_LOOPBACK`, read by the API's and the response side's
settings and passed as `allow_loopback`): http(s)://127.0.0.1 is accepted too.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from typing import NamedTuple
from urllib.parse import urlsplit

Resolver = Callable[[str, int], Sequence[str]]
LOOPBACK_OVERRIDE_ENV = "GUARDIAN_WEBHOOK_ALLOW_LOOPBACK"
LOOPBACK = ipaddress.ip_address("127.0.0.1")
MAX_URL_LENGTH = 2048
BLOCKED_NAMES = frozenset({"localhost", "metadata", "metadata.google.internal", "instance-data", "metadata.azure.com"})
BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".in-addr.arpa", ".ip6.arpa")
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192")
)
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+))*$")


class UnsafeUrl(ValueError):
    """Why a webhook URL was refused; safe to show to the caller."""


class Destination(NamedTuple):
    host: str
    port: int
    address: str  # the checked address to connect to (pinned: no second resolution)


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def unsafe_reason(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ip.sixtofour) or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None:
            return unsafe_reason(embedded) or None
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for attr, label in (
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_unspecified", "an unspecified"),
        ("is_private", "a private"),
        ("is_reserved", "a reserved"),
    ):
        if getattr(ip, attr):
            return f"{label} address"
    if not ip.is_global:
        return "not a globally routable address"
    return None


def check_webhook_url(url: str, resolve: Resolver = system_resolver, allow_loopback: bool = False) -> str:
    """Return the URL (stripped) if it is a safe public HTTPS target, else raise UnsafeUrl naming the problem."""
    check_destination(url, resolve, allow_loopback)
    return url.strip()


def check_destination(url: str, resolve: Resolver = system_resolver, allow_loopback: bool = False) -> Destination:
    """Where to connect for a safe URL; raises UnsafeUrl naming the problem.

    `allow_loopback` (explicit local override) additionally accepts http(s)://127.0.0.1 only.
    """
    if not isinstance(url, str) or not url.strip():
        raise UnsafeUrl("url is empty")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"url is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 0x21 or c == "\x7f" for c in url):
        raise UnsafeUrl("url contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or (80 if scheme == "http" else 443)
    except ValueError as exc:
        raise UnsafeUrl(f"url is not valid ({exc})") from None
    host = (parts.hostname or "").rstrip(".").lower()
    if allow_loopback and scheme in ("http", "https") and host == "127.0.0.1" and "@" not in parts.netloc:
        return Destination(host, port, host)
    if scheme != "https":
        raise UnsafeUrl(f"url must use https, got {scheme or 'no scheme'}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeUrl("url must not contain credentials")
    if not host:
        raise UnsafeUrl("url has no host")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = unsafe_reason(literal)
        if reason:
            raise UnsafeUrl(f"url host {host} is {reason}")
        return Destination(host, port, str(literal))
    if _NUMERIC_HOST.match(host):
        raise UnsafeUrl("url host looks like an obfuscated IP address")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeUrl("url host is not a valid domain name") from None
    if "." not in ascii_host or ascii_host in BLOCKED_NAMES or ascii_host.endswith(BLOCKED_SUFFIXES):
        raise UnsafeUrl(f"url host {host} is an internal name")
    try:
        addresses = list(resolve(ascii_host, port))
    except (OSError, UnicodeError) as exc:
        raise UnsafeUrl(f"url host {host} does not resolve ({exc})") from None
    if not addresses:
        raise UnsafeUrl(f"url host {host} does not resolve")
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            raise UnsafeUrl(f"url host {host} resolves to an unparseable address") from None
        reason = unsafe_reason(ip)
        if reason:
            raise UnsafeUrl(f"url host {host} resolves to {reason} ({ip})")
    return Destination(host, port, addresses[0])
