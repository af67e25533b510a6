"""Action planning: which actions an anomaly (or incident) gets, from per-type defaults and matched rules.

The plan has two lists: `actions` run straight away (all reversible or low-risk: holds, flags,
expiring blocks, notifications); `afterApproval` run only once a person approves the manual
review (rule actions marked `requireApproval`). `review` says whether the workflow waits for one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

ACTION_TYPES = frozenset({"rate_limit", "hold_transaction", "step_up_auth", "enhanced_monitoring", "scale", "notify"})

# Rule action types that are channels of another action here (a rule's "webhook" is a notify).
ACTION_ALIASES = {"webhook": "notify"}

# docs/architecture.md, "Detection defaults", the "response" column.
DEFAULT_ACTIONS: dict[str, tuple[str, ...]] = {
    "velocity": ("rate_limit",),
    "value": ("hold_transaction",),
    "geolocation": ("step_up_auth",),
    "behavioral": ("enhanced_monitoring",),
    "system": ("scale",),
    "usage": (),
    "cost": (),
    "rule": (),
    "ml": (),
}
REVIEW_TYPES = frozenset({"value"})

DEFAULT_PARAMETERS: dict[str, dict[str, Any]] = {
    "rate_limit": {"durationMinutes": 60},
    "hold_transaction": {"durationMinutes": 1440},
    "step_up_auth": {"durationMinutes": 1440},
    "enhanced_monitoring": {"durationMinutes": 720, "thresholdFactor": 0.5, "sampleRate": 1.0},
    "scale": {"direction": "out", "by": 1},
    "notify": {},
}


class PlanError(ValueError):
    """A rule asks for something the response engine cannot do; the message names it."""


def _action(kind: str, parameters: Mapping[str, Any] | None = None, source: str = "default") -> dict[str, Any]:
    return {"type": kind, "parameters": DEFAULT_PARAMETERS[kind] | dict(parameters or {}), "source": source}


def plan_actions(anomaly: Mapping[str, Any], rules: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """Plan for one anomaly. `rules` are the matched rules (each with `ruleId` and `actions`)."""
    kind = str(anomaly.get("anomalyType", ""))
    now: dict[str, dict[str, Any]] = {}
    later: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    for action in DEFAULT_ACTIONS.get(kind, ()):
        now[action] = _action(action)
    for rule in rules:
        for spec in rule.get("actions") or ():
            action = ACTION_ALIASES.get(str(spec.get("type", "")), str(spec.get("type", "")))
            if action not in ACTION_TYPES:
                skipped.append(f"rule {rule.get('ruleId', '?')}: unsupported action type {action!r}")
                continue
            params = dict(spec.get("parameters") or {})
            needs_approval = bool(params.pop("requireApproval", False))
            planned = _action(action, params, source=f"rule:{rule.get('ruleId', '?')}")
            (later if needs_approval else now)[action] = planned
            if needs_approval:
                now.pop(action, None)
    if "notify" not in now:  # every severity is notified; a rule's notify parameters win
        now["notify"] = _action("notify")
    return {
        "actions": list(now.values()),
        "afterApproval": list(later.values()),
        "review": kind in REVIEW_TYPES or bool(later),
        "skipped": skipped,
    }
