"""Which functions and event sources of a SAM template the local stack exercised.

"Exercised" is counted by the running stack, not inferred: a function counts when it was invoked
at least once (`functions[...].invocations` in `/_local/stats`), an event source when the stack
delivered at least one event of that source to its target (`deliveries["Function.EventName"]`,
`deliveries["Rule.TargetId"]` for `AWS::Events::Rule` targets, `deliveries["Schedule.Target"]` for
`AWS::Scheduler::Schedule`). `gaps(template, stats)` lists everything of the template that the
stats do not show as exercised; an event type the stack does not emulate never gets a delivery,
so it is always a gap until the local stack learns it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


def expected(template: Mapping[str, Any]) -> dict[str, list[str]]:
    """Function logical id -> its event source keys; rule/schedule resources -> their target keys."""
    out: dict[str, list[str]] = {}
    for logical, res in (template.get("Resources") or {}).items():
        kind, props = res.get("Type"), res.get("Properties") or {}
        if kind in FUNCTION_TYPES:
            out[logical] = [f"{logical}.{name}" for name in (props.get("Events") or {})]
        elif kind == "AWS::Events::Rule" and str(props.get("State", "ENABLED")).upper() != "DISABLED":
            out[logical] = [f"{logical}.{t.get('Id')}" for t in props.get("Targets") or []]
        elif kind == "AWS::Scheduler::Schedule":
            out[logical] = [f"{logical}.Target"]
    return out


def gaps(template: Mapping[str, Any], stats: Mapping[str, Any]) -> list[str]:
    functions = stats.get("functions") or {}
    deliveries = stats.get("deliveries") or {}
    kinds = {k: (v.get("Type"), v.get("Properties") or {}) for k, v in (template.get("Resources") or {}).items()}
    missing: list[str] = []
    for owner, keys in expected(template).items():
        if kinds[owner][0] in FUNCTION_TYPES:
            if owner not in functions:
                missing.append(f"{owner}: function not loaded by the local stack")
            elif not (functions[owner].get("invocations") or 0):
                missing.append(f"{owner}: function never invoked")
        events = kinds[owner][1].get("Events") or {}
        for key in keys:
            if not deliveries.get(key):
                event_type = (events.get(key.split(".", 1)[1]) or {}).get("Type", kinds[owner][0])
                missing.append(f"{key}: no {event_type} event delivered locally")
    return missing
