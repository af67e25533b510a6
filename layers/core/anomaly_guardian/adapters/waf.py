"""WAFv2 IP set the rate_limit action writes (the web ACL blocks its addresses).

UpdateIPSet replaces the whole address list and needs the LockToken from GetIPSet; a concurrent
writer makes it fail with WAFOptimisticLockException, so read-modify-write is retried.
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.privacy import as_cidr

MAX_LOCK_RETRIES = 6


class WafIpSet:
    def __init__(
        self,
        name: str,
        ip_set_id: str,
        scope: str = "REGIONAL",
        waf: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.name = name
        self.id = ip_set_id
        self.scope = scope
        self.waf = waf or client("wafv2")
        self.sleep = sleep

    def addresses(self) -> set[str]:
        resp = self.waf.get_ip_set(Name=self.name, Id=self.id, Scope=self.scope)
        return set(resp["IPSet"]["Addresses"])

    def _modify(self, change: Callable[[set[str]], set[str]]) -> bool:
        for attempt in range(MAX_LOCK_RETRIES):
            resp = self.waf.get_ip_set(Name=self.name, Id=self.id, Scope=self.scope)
            current = set(resp["IPSet"]["Addresses"])
            version = 6 if resp["IPSet"].get("IPAddressVersion") == "IPV6" else 4
            # An IP set holds one address family; addresses of the other family are left to the block list.
            wanted = {c for c in change(set(current)) if ipaddress.ip_network(c).version == version}
            if wanted == current:
                return False
            try:
                self.waf.update_ip_set(
                    Name=self.name, Id=self.id, Scope=self.scope, Addresses=sorted(wanted), LockToken=resp["LockToken"]
                )
                return True
            except self.waf.exceptions.WAFOptimisticLockException:
                self.sleep(min(1.0, 0.05 * 2**attempt) * (0.5 + random.random() / 2))
        raise RuntimeError(f"WAF IP set {self.name}: lock contention after {MAX_LOCK_RETRIES} attempts")

    def add(self, ips: Iterable[str]) -> bool:
        cidrs = {as_cidr(ip) for ip in ips}
        return self._modify(lambda s: s | cidrs)

    def remove(self, ips: Iterable[str]) -> bool:
        cidrs = {as_cidr(ip) for ip in ips}
        return self._modify(lambda s: s - cidrs)
