"""Safety rails every action passes through (docs/response.md).

Tenant settings live in the Config table's `SETTINGS` item (written by PUT /settings or the CLI):
- `killSwitch` (bool): no action of this tenant runs; each attempt is audited as skipped.
- `dryRun` (bool): every action only logs and audits what it would do.
- `dryRunActions` (list): actions that stay in dry-run even when `dryRun` is false
  (default ["scale"]: scaling someone's fleet is opt-in).
- `actionCaps` ({action: per-hour limit}): the blast-radius caps, counted atomically.
`RESPONSE_DRY_RUN=true` in the function environment forces dry-run for every tenant (first deploys).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DEFAULT_CAPS: dict[str, int] = {
    "rate_limit": 50,
    "hold_transaction": 500,
    "step_up_auth": 500,
    "enhanced_monitoring": 1000,
    "scale": 5,
    "notify": 2000,
}
DEFAULT_DRY_RUN_ACTIONS = ("scale",)


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass(frozen=True)
class ResponseSettings:
    kill_switch: bool = False
    dry_run: bool = False
    dry_run_actions: tuple[str, ...] = DEFAULT_DRY_RUN_ACTIONS
    caps: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_CAPS))

    @classmethod
    def from_item(cls, item: Mapping[str, Any] | None, forced_dry_run: bool = False) -> ResponseSettings:
        """The tenant's stored switches; `forced_dry_run` is the function's RESPONSE_DRY_RUN (from wiring)."""
        item = item or {}
        caps = dict(DEFAULT_CAPS)
        for action, cap in (item.get("actionCaps") or {}).items():
            caps[str(action)] = max(0, int(cap))
        dry_actions = item.get("dryRunActions")
        return cls(
            kill_switch=_flag(item.get("killSwitch", False)),
            dry_run=_flag(item.get("dryRun", False)) or forced_dry_run,
            dry_run_actions=tuple(dry_actions) if dry_actions is not None else DEFAULT_DRY_RUN_ACTIONS,
            caps=caps,
        )

    def dry_run_for(self, action: str, requested: bool = False) -> bool:
        """Dry-run if the tenant, the function environment, the action default or the request says so."""
        return requested or self.dry_run or action in self.dry_run_actions

    def cap_for(self, action: str) -> int:
        return self.caps.get(action, 100)
