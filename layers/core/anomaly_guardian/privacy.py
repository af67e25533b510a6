"""Pseudonymisation before storage (docs/architecture.md, "Tenancy and privacy").

User ids become a keyed HMAC (stable per tenant, not reversible without the key); IPs are hashed
the same way, and can be truncated to their /24 (/48 for IPv6) for storage that must not single
anyone out. The key comes from SSM SecureString (`PSEUDONYM_KEY_PARAM`) in AWS and from
`GUARDIAN_PSEUDONYM_KEY` locally.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

DEV_KEY = b"anomaly-guardian-local-development-key"


class Pseudonymiser:
    def __init__(self, key: bytes | None = None):
        self._key = key or DEV_KEY  # the key comes from wiring (adapters.keys); none: the development key
        self._cache: dict[tuple[str, str, str], str] = {}

    def _digest(self, tenant: str, kind: str, value: str) -> str:
        key = (tenant, kind, value)
        hit = self._cache.get(key)
        if hit is None:
            mac = hmac.new(self._key, f"{tenant}\x1f{kind}\x1f{value}".encode(), hashlib.sha256)
            hit = f"{kind[0]}_{mac.hexdigest()[:24]}"
            if len(self._cache) > 200_000:
                self._cache.clear()
            self._cache[key] = hit
        return hit

    def user(self, tenant: str, user_id: str) -> str:
        return self._digest(tenant, "user", user_id)

    def ip(self, tenant: str, ip: str) -> str:
        return self._digest(tenant, "ip", ip)

    def device(self, tenant: str, device_id: str) -> str:
        return self._digest(tenant, "device", device_id)

    def payload(self, tenant: str, canonical: str) -> str:
        """A keyed digest of a whole event as sent (its canonical JSON): POST /events tells a retry of an
        accepted event from a different event under the same eventId. Not cached (payloads are large)."""
        mac = hmac.new(self._key, f"{tenant}\x1fpayload\x1f{canonical}".encode(), hashlib.sha256)
        return mac.hexdigest()[:32]


def truncate_ip(ip: str) -> str:
    """192.0.2.77 -> 192.0.2.0/24; 2001:db8::1 -> 2001:db8::/48; anything else -> 'invalid'."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return "invalid"
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def as_cidr(ip: str) -> str:
    """203.0.113.7 -> 203.0.113.7/32 (WAF stores CIDRs); raises ValueError naming a bad address."""
    try:
        net = ipaddress.ip_network(ip, strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or CIDR: {ip!r}") from None
    if "/" not in ip:
        net = ipaddress.ip_network(f"{net.network_address}/{net.max_prefixlen}")
    return str(net)
