"""Blocks lift themselves: the scheduled sweep removes expired IPs from the WAF IP set and deletes
expired block-list entries (blocks, holds, flags), each with an audit record.

The WAF IP set is shared by every tenant behind the web ACL, so an address leaves it only when no
tenant still has an unexpired block on it; addresses in the set with no live block at all (a crash
between the two writes, or a TTL deletion) are reconciled away on the same pass.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING

from anomaly_guardian.models.anomaly import utc_now_iso
from anomaly_guardian.privacy import as_cidr, truncate_ip

if TYPE_CHECKING:
    from anomaly_guardian.response.ports import Ports


def _public_key(sk: str) -> str:
    """IP#203.0.113.7 -> IP#203.0.113.0/24 for the audit trail (the raw address is not kept for months)."""
    return f"IP#{truncate_ip(sk[3:])}" if sk.startswith("IP#") else sk


def sweep(ports: Ports, now: float | None = None) -> dict[str, int]:
    now = time.time() if now is None else now
    live_ips: set[str] = set()
    for block in ports.blocks.scan_blocks():
        if block.get("ip") and block["expiresAt"] > now:
            live_ips.add(as_cidr(block["ip"]))

    expired = list(ports.blocks.scan_expired(now))
    lifted: dict[str, int] = defaultdict(int)
    waf_removed = 0
    if ports.waf is not None:
        stale = {a for a in ports.waf.addresses() if a not in live_ips}
        if stale:
            ports.waf.remove(stale)
            waf_removed = len(stale)
    for item in expired:
        tenant = item["tenantId"]
        if not ports.blocks.delete(tenant, item["sk"], expires_at=item["expiresAt"]):
            continue  # extended meanwhile: still live
        kind = item["sk"].split("#", 1)[0].lower()
        lifted[kind] += 1
        ports.audit.record(
            tenant,
            {
                "action": f"lift_{kind}",
                "subjectId": item.get("anomalyId"),
                "result": "done",
                "dryRun": False,
                "detail": {"entry": _public_key(item["sk"]), "expiresAt": item["expiresAt"], "liftedAt": utc_now_iso()},
            },
        )
    return {"expired": len(expired), "wafRemoved": waf_removed, **lifted}
