"""Scoring the usage path on generated trails (`guardian eval-usage`, `make eval-usage`).

A trail goes through exactly what production runs: each record becomes the usage-ingest event
(`usage.cloudtrail.to_event`), validated by the event contract, then the default detector pipeline
(every detector, in event-time order, in-memory state). Definitions:
- an episode is *found* when a usage anomaly is raised on one of its records, or on a record of one
  of its API keys while it runs (a spike is raised on the call that crosses the threshold);
- a *false alarm* is any anomaly matched to no episode (of any type: a business detector judging a
  CloudTrail principal would count here); false alarms per day are over the whole trail;
- the generic velocity rule's figure (what the issue measured) runs the velocity detector alone on the
  same calls presented as ordinary `api_request` events, for comparison.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.scenario.cloudtrail import Trail, generate_trail
from anomaly_guardian.state.store import InMemoryStateStore
from anomaly_guardian.usage.cloudtrail import to_event

FALSE_ALARMS_PER_DAY_TARGET = 0.5
CHUNK = 2000


@dataclass
class TrailScore:
    shape: str
    seed: int
    days: int
    records: int
    episodes: int = 0
    found: int = 0
    false_alarms: int = 0
    anomalies: int = 0
    by_type: Counter = field(default_factory=Counter)
    missed: list[dict[str, Any]] = field(default_factory=list)
    false_alarm_examples: list[str] = field(default_factory=list)
    velocity_rule_alarms: int | None = None

    @property
    def false_alarms_per_day(self) -> float:
        return self.false_alarms / self.days

    @property
    def passed(self) -> bool:
        return self.found == self.episodes and self.false_alarms_per_day <= FALSE_ALARMS_PER_DAY_TARGET


def _detect(trail: Trail, pipeline: DetectionPipeline, retype: str | None = None) -> list[Any]:
    anomalies = []
    chunk = []
    for rec in trail.records:
        event = to_event(rec)
        if retype:
            event["eventType"] = retype
        chunk.append(parse_event(event))
        if len(chunk) >= CHUNK:
            anomalies += pipeline.process("acme", chunk)
            chunk = []
    if chunk:
        anomalies += pipeline.process("acme", chunk)
    return anomalies


def score_trail(trail: Trail, compare_velocity: bool = False) -> TrailScore:
    anomalies = _detect(trail, DetectionPipeline(InMemoryStateStore()))
    result = TrailScore(trail.shape, trail.seed, trail.days, len(trail.records), episodes=len(trail.episodes))
    owner: dict[str, int] = {}
    for i, ep in enumerate(trail.episodes):
        for eid in ep.event_ids:
            owner[eid] = i
    found: set[int] = set()
    for a in anomalies:
        result.anomalies += 1
        result.by_type[a.anomalyType] += 1
        eid = a.originalEvent["eventId"]
        hit = owner.get(eid)
        if hit is None and a.anomalyType == "usage":
            when = datetime.fromisoformat(a.originalEvent["timestamp"].replace("Z", "+00:00"))
            for i, ep in enumerate(trail.episodes):
                if a.entities.get("api") in ep.apis and ep.start <= when <= ep.end:
                    hit = i
                    break
        if hit is None:
            result.false_alarms += 1
            if len(result.false_alarm_examples) < 5:
                result.false_alarm_examples.append(f"{a.originalEvent['timestamp']} {a.anomalyType}: {a.description}")
        elif a.anomalyType == "usage":
            found.add(hit)
    result.found = len(found)
    result.missed = [ep.as_dict() for i, ep in enumerate(trail.episodes) if i not in found]
    if compare_velocity:
        from anomaly_guardian.detection.velocity import VelocityDetector

        velocity = DetectionPipeline(InMemoryStateStore(), detectors=[VelocityDetector()])
        result.velocity_rule_alarms = sum(
            1 for a in _detect(trail, velocity, retype="api_request") if a.anomalyType == "velocity"
        )
    return result


def evaluate(
    seeds: list[int], shapes: list[str], days: int = 7, episodes_per_kind: int = 2, compare_velocity: bool = False
) -> list[TrailScore]:
    return [
        score_trail(generate_trail(seed, days, shape, episodes_per_kind), compare_velocity)
        for shape in shapes
        for seed in seeds
    ]


def format_table(results: list[TrailScore]) -> str:
    lines = [
        "| shape | seed | days | records | episodes found | false alarms | per day | velocity rule per day |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        vel = f"{r.velocity_rule_alarms / r.days:.1f}" if r.velocity_rule_alarms is not None else "-"
        lines.append(
            f"| {r.shape} | {r.seed} | {r.days} | {r.records:,} | {r.found}/{r.episodes} | {r.false_alarms} "
            f"| {r.false_alarms_per_day:.2f} | {vel} |"
        )
    total_days = sum(r.days for r in results)
    lines.append(
        f"| all | | {total_days} | {sum(r.records for r in results):,} | {sum(r.found for r in results)}/"
        f"{sum(r.episodes for r in results)} | {sum(r.false_alarms for r in results)} | "
        f"{sum(r.false_alarms for r in results) / max(total_days, 1):.2f} | |"
    )
    return "\n".join(lines)
