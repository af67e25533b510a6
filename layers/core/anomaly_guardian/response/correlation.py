"""Correlation: anomalies that share an entity within a window become one incident.

Pure logic only (no AWS): the incident repository loads the open incidents an anomaly's entities
point at, `correlate` decides whether to join one or open a new one and returns the updated
incident. The composite score treats member scores as independent evidence
(1 - prod(1 - s_i)), so three 0.6 signals on one user outrank a single 0.8 one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from anomaly_guardian.models.anomaly import severity_for

DEFAULT_WINDOW_SECONDS = 30 * 60
PERIOD_SECONDS = 60  # alarm periods: one score per entity per minute
COMPOSITE_CAP = 0.999
MAX_PERIODS = 60  # per-period scores kept on an incident for the alarm rules
MAX_MEMBERS = 200  # an incident keeps the first members verbatim, then only counts
# Entity kinds that tie anomalies together, in order of how strongly they identify a cause.
# `aws` = `{account}|{service}|{region}`: usage anomalies (CloudTrail) and cost anomalies (Cost Explorer)
# of the same service, account and region (anomaly_guardian.cost.aws_entity).
ENTITY_KINDS = ("user", "ip", "device", "service", "aws")

# Common causes by the set of anomaly types seen on one entity (first match wins).
_CAUSES: tuple[tuple[frozenset[str], str], ...] = (
    (frozenset({"geolocation", "value"}), "likely account takeover"),
    (frozenset({"geolocation", "velocity"}), "likely account takeover or credential stuffing"),
    (frozenset({"behavioral", "velocity"}), "likely automated abuse (bot)"),
    (frozenset({"behavioral", "value"}), "likely fraudulent session"),
    (frozenset({"velocity", "value"}), "likely card testing or payment abuse"),
    (frozenset({"usage", "cost"}), "likely runaway resource or leaked credentials"),
    (frozenset({"system"}), "likely service degradation"),
    (frozenset({"usage"}), "likely runaway workload or leaked credentials"),
    (frozenset({"velocity"}), "likely automated traffic"),
    (frozenset({"geolocation"}), "likely credential sharing or takeover"),
    (frozenset({"value"}), "likely payment fraud"),
)


class ConcurrentUpdate(Exception):
    """Someone else changed the incident (or review) since it was read; reload and retry."""


SEVERITY_RANK = {"LOW": 0, "MEDIUM": 1, "HIGH": 2, "CRITICAL": 3}


def composite_score(scores: Iterable[float], cap: float = COMPOSITE_CAP) -> float:
    """1 - prod(1 - s_i): independent evidence accumulates; capped below 1 so it stays a score."""
    remaining = 1.0
    for s in scores:
        remaining *= 1.0 - min(1.0, max(0.0, float(s)))
    return round(min(cap, 1.0 - remaining), 4)


def alarm_level(series: Mapping[int, float] | Sequence[tuple[int, float]]) -> str | None:
    """The seed's alarms over one entity's per-period scores ({period index: score}).

    'critical' when the score is > 0.9 for 3 consecutive periods, 'warning' when > 0.7 for 5;
    a missing period breaks the run (no score means nothing anomalous was seen then).
    """
    items = sorted(series.items() if isinstance(series, Mapping) else series)
    critical = warning = 0
    level: str | None = None
    previous: int | None = None
    for period, score in items:
        if previous is not None and period != previous + 1:
            critical = warning = 0
        previous = period
        critical = critical + 1 if score > 0.9 else 0
        warning = warning + 1 if score > 0.7 else 0
        if critical >= 3:
            return "critical"
        if warning >= 5:
            level = "warning"
    return level


def common_cause(types: Iterable[str]) -> str:
    seen = frozenset(types)
    for combo, cause in _CAUSES:
        if combo <= seen:
            return cause
    return "related anomalies"


def anomaly_entities(anomaly: Mapping[str, Any]) -> dict[str, str]:
    """The entities an anomaly can be correlated on (pseudonymised values only)."""
    out: dict[str, str] = {}
    raw = anomaly.get("entities") or {}
    for kind in ENTITY_KINDS:
        value = raw.get(kind)
        if value:
            out[kind] = str(value)
    event = anomaly.get("originalEvent") or {}
    if "service" not in out and event.get("service"):
        out["service"] = f"{event['service']}/{event.get('metricName', '')}".rstrip("/")
    if not out and anomaly.get("userId"):
        out["user"] = str(anomaly["userId"])
    return out


def epoch_of(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()


@dataclass
class Incident:
    """One incident: what the Incidents table stores and GET /incidents returns."""

    incidentId: str
    tenantId: str
    status: str = "OPEN"  # OPEN | MITIGATED | RESOLVED | REMEDIATION_FAILED
    statusReason: str = ""
    severity: str = "LOW"
    score: float = 0.0
    openedAt: str = ""
    updatedAt: str = ""
    firstSeen: float = 0.0  # epoch seconds of the first member's detectedAt
    lastSeen: float = 0.0
    primaryEntity: dict[str, str] = field(default_factory=dict)  # {"kind":..., "value":...}
    entities: dict[str, list[str]] = field(default_factory=dict)
    members: list[dict[str, Any]] = field(default_factory=list)
    memberCount: int = 0
    types: dict[str, int] = field(default_factory=dict)
    periods: dict[str, float] = field(default_factory=dict)  # period index (str) -> max score
    alarm: str | None = None
    summary: str = ""
    # Dollars at stake: cost members' total impact (what Cost Explorer measured) when there are any,
    # else the usage members' 24 h estimates (what the spike would cost if nobody acts).
    estimatedCostUsd: float = 0.0
    version: int = 0

    def to_item(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Incident:
        known = {k: item[k] for k in cls.__dataclass_fields__ if k in item}
        return cls(**known)

    def public(self) -> dict[str, Any]:
        """The API view (no internal bookkeeping)."""
        data = self.to_item()
        for key in ("periods", "version", "firstSeen", "lastSeen"):
            data.pop(key, None)
        data["firstSeenAt"] = _iso(self.firstSeen)
        data["lastSeenAt"] = _iso(self.lastSeen)
        return data


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def anomaly_span(anomaly: Mapping[str, Any]) -> tuple[float, float]:
    """When the anomaly happened: its detectedAt, or for a cost anomaly the days Cost Explorer saw it
    (`window` {start, end}), since Cost Explorer reports hours or days after the usage that caused it."""
    at = epoch_of(anomaly["detectedAt"])
    span = anomaly.get("window")
    if isinstance(span, Mapping) and span.get("start") and span.get("end"):
        return min(at, epoch_of(span["start"])), max(at, epoch_of(span["end"]))
    return at, at


def pick_incident(
    candidates: Iterable[Incident],
    at: float,
    window: int = DEFAULT_WINDOW_SECONDS,
    span: tuple[float, float] | None = None,
) -> Incident | None:
    """The open incident this anomaly joins: still open, activity within the window of the anomaly's time
    (or of its span, for cost anomalies), newest first."""
    lo, hi = span or (at, at)
    live = [
        i
        for i in candidates
        if i.status != "RESOLVED" and i.lastSeen >= lo - window and (i.firstSeen or i.lastSeen) <= hi + window
    ]
    return max(live, key=lambda i: i.lastSeen, default=None)


def anomaly_cost_usd(anomaly: Mapping[str, Any]) -> float:
    """Dollars an anomaly stands for: a cost anomaly's total impact, or a usage spike's 24 h estimate."""
    impact = anomaly.get("impact")
    if isinstance(impact, Mapping) and impact.get("totalImpact") is not None:
        return float(impact["totalImpact"])
    estimate = anomaly.get("costEstimate")
    if isinstance(estimate, Mapping) and estimate.get("daily") is not None:
        return float(estimate["daily"])
    return 0.0


def rank_key(incident: Incident) -> tuple[int, float, float]:
    """Incidents rank by severity, then by the dollars at stake, then by score (highest first)."""
    return (SEVERITY_RANK.get(incident.severity, 0), incident.estimatedCostUsd, incident.score)


def correlate(incident: Incident, anomaly: Mapping[str, Any], now_iso: str) -> bool:
    """Add one anomaly to `incident` (in place); returns False if it was already a member."""
    anomaly_id = anomaly["anomalyId"]
    if any(m["anomalyId"] == anomaly_id for m in incident.members):
        return False
    at = epoch_of(anomaly["detectedAt"])
    entities = anomaly_entities(anomaly)
    score = float(anomaly["anomalyScore"])
    if not incident.members:
        incident.openedAt = now_iso
        incident.firstSeen = at
        kind = next(k for k in ENTITY_KINDS if k in entities) if entities else "user"
        incident.primaryEntity = {"kind": kind, "value": entities.get(kind, str(anomaly.get("userId", "")))}
    incident.firstSeen = min(incident.firstSeen, at)
    incident.lastSeen = max(incident.lastSeen, at)
    incident.updatedAt = now_iso
    for kind, value in entities.items():
        values = incident.entities.setdefault(kind, [])
        if value not in values and len(values) < 20:
            values.append(value)
    incident.memberCount += 1
    dollars = anomaly_cost_usd(anomaly)
    if len(incident.members) < MAX_MEMBERS:
        member = {
            "anomalyId": anomaly_id,
            "anomalyType": anomaly["anomalyType"],
            "anomalyScore": score,
            "severity": anomaly["severity"],
            "detectedAt": anomaly["detectedAt"],
        }
        if dollars:
            member["costUsd"] = round(dollars, 2)
        incident.members.append(member)
    incident.types = dict(Counter(incident.types) + Counter({anomaly["anomalyType"]: 1}))
    period = str(int(at // PERIOD_SECONDS))
    incident.periods[period] = max(score, incident.periods.get(period, 0.0))
    # The alarms look at most 5 consecutive periods back: keep a bounded tail (DynamoDB items are <= 400 KB).
    newest = max(int(p) for p in incident.periods)
    incident.periods = {p: v for p, v in incident.periods.items() if newest - int(p) < MAX_PERIODS}
    incident.score = composite_score(m["anomalyScore"] for m in incident.members)
    measured = [m.get("costUsd", 0.0) for m in incident.members if m["anomalyType"] == "cost"]
    estimated = [m.get("costUsd", 0.0) for m in incident.members if m["anomalyType"] != "cost"]
    incident.estimatedCostUsd = round(sum(measured) if measured else sum(estimated), 2)
    incident.alarm = alarm_level({int(p): s for p, s in incident.periods.items()})
    incident.severity = incident_severity(incident)
    incident.summary = summarise(incident)
    return True


def incident_severity(incident: Incident) -> str:
    """Severity from the composite score, raised by the alarm rules and never below any member."""
    level = str(severity_for(incident.score))
    if incident.alarm == "critical":
        level = "CRITICAL"
    elif incident.alarm == "warning" and SEVERITY_RANK[level] < SEVERITY_RANK["HIGH"]:
        level = "HIGH"
    top = max((m["severity"] for m in incident.members), key=SEVERITY_RANK.__getitem__, default=level)
    return max(level, top, key=SEVERITY_RANK.__getitem__)


def summarise(incident: Incident) -> str:
    n = incident.memberCount
    minutes = max(0, round((incident.lastSeen - incident.firstSeen) / 60))
    kind = incident.primaryEntity.get("kind", "entity")
    value = incident.primaryEntity.get("value", "?")
    types = ", ".join(sorted(incident.types))
    noun = "anomaly" if n == 1 else "anomalies"
    text = f"{n} {noun} for {kind} {value} within {minutes} min: {types} — {common_cause(incident.types)}"
    if incident.estimatedCostUsd:
        text += f" (about ${incident.estimatedCostUsd:,.0f} at stake)"
    return text
