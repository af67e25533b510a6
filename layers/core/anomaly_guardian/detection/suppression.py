"""Analyst feedback -> suppression: which anomalies a false_positive verdict may silence, and how.

A *pattern* is (anomalyType, entity): the user pseudonym for user-level types, the `service|metric`
entity for system anomalies (stored as their userId), `api|entity` for CloudTrail usage. A verdict
`false_positive` on one anomaly suppresses later anomalies of its pattern for a while; only
*statistical* findings can be silenced: never a tenant rule, never a CRITICAL finding or one scoring
at or above `max_score`, never a value finding above the absolute limit. Pure: the detector asks an
adapter which of the batch's patterns are suppressed (one batched read) and applies `split`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from anomaly_guardian.models.anomaly import Anomaly

Pattern = tuple[str, str]  # (anomalyType, entity)
SK_PREFIX = "SUPPRESS#"
DEFAULT_DAYS = 30
DEFAULT_MAX_SCORE = 0.9  # CRITICAL starts at 0.9: by default no CRITICAL finding can be suppressed
NEVER_SUPPRESSED = frozenset({"rule"})  # a tenant's explicit rules say "always tell me"


@dataclass(frozen=True, slots=True)
class SuppressionPolicy:
    max_score: float = DEFAULT_MAX_SCORE
    absolute_limit: float = 5000.0

    def __post_init__(self) -> None:
        if not 0 < self.max_score <= 1:
            raise ValueError(f"suppression max_score must be in (0, 1], got {self.max_score}")


def _get(anomaly: Anomaly | Mapping[str, Any], name: str) -> Any:
    return anomaly.get(name) if isinstance(anomaly, Mapping) else getattr(anomaly, name, None)


def _text(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def pattern_of(anomaly: Anomaly | Mapping[str, Any]) -> Pattern | None:
    """The (type, entity) a verdict on this anomaly applies to; None when it names no entity."""
    kind, entity = _text(_get(anomaly, "anomalyType")), _text(_get(anomaly, "userId"))
    if not kind or not entity:
        return None
    if kind == "usage":
        api = (_get(anomaly, "entities") or {}).get("api")
        entity = f"{api}|{entity}" if api else entity
    return kind, entity


def suppression_sk(pattern: Pattern) -> str:
    return f"{SK_PREFIX}{pattern[0]}#{pattern[1]}"


def suppressible(anomaly: Anomaly | Mapping[str, Any], policy: SuppressionPolicy) -> bool:
    """May a suppression silence this finding? Only statistical, non-critical ones below the cap."""
    kind = _text(_get(anomaly, "anomalyType"))
    if kind in NEVER_SUPPRESSED or _text(_get(anomaly, "severity")) == "CRITICAL":
        return False
    if float(_get(anomaly, "anomalyScore") or 0.0) >= policy.max_score:
        return False
    if kind == "value":
        amount = (_get(anomaly, "originalEvent") or {}).get("transactionAmount")
        if amount is not None and float(amount) > policy.absolute_limit:
            return False
    return True


def candidates(anomalies: Collection[Anomaly], policy: SuppressionPolicy) -> set[Pattern]:
    """The patterns worth looking up: those of suppressible anomalies."""
    out = set()
    for a in anomalies:
        if suppressible(a, policy) and (p := pattern_of(a)) is not None:
            out.add(p)
    return out


def split(
    anomalies: list[Anomaly], active: Collection[Pattern], policy: SuppressionPolicy
) -> tuple[list[Anomaly], list[Anomaly]]:
    """(kept, suppressed) given the patterns with a live suppression."""
    if not active:
        return anomalies, []
    kept, dropped = [], []
    for a in anomalies:
        (dropped if suppressible(a, policy) and pattern_of(a) in active else kept).append(a)
    return kept, dropped


__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_MAX_SCORE",
    "NEVER_SUPPRESSED",
    "Pattern",
    "SuppressionPolicy",
    "candidates",
    "pattern_of",
    "split",
    "suppressible",
    "suppression_sk",
]
