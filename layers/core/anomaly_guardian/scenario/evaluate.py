"""Scoring a replay against the generator's labels (the figures `guardian eval` prints).

Definitions (per anomaly type T):
- an injected episode of type T is *detected* if at least one anomaly of type T was raised on one of
  the episode's labelled events; recall = detected episodes / injected episodes;
- precision = anomalies of type T raised on an event labelled T / all anomalies of type T;
- false-positive rate = clean (unlabelled) events that got any anomaly / clean events.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from anomaly_guardian.scenario.generator import TYPES

RECALL_TARGET = 0.98
FPR_TARGET = 0.0005


@dataclass
class TypeScore:
    episodes: int = 0
    detected: int = 0
    raised: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.detected / self.episodes if self.episodes else float("nan")

    @property
    def precision(self) -> float:
        return self.correct / self.raised if self.raised else float("nan")


@dataclass
class EvalResult:
    per_type: dict[str, TypeScore] = field(default_factory=dict)
    events: int = 0
    clean_events: int = 0
    clean_flagged: int = 0
    missed: dict[str, list[str]] = field(default_factory=dict)
    false_positive_examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fpr(self) -> float:
        return self.clean_flagged / self.clean_events if self.clean_events else 0.0

    @property
    def passed(self) -> bool:
        return self.fpr <= FPR_TARGET and all(self.per_type[t].recall >= RECALL_TARGET for t in TYPES)


def score(labels: Iterable[dict[str, Any]], anomalies: Iterable[dict[str, Any]], total_events: int) -> EvalResult:
    label_of: dict[str, tuple[str, str]] = {}
    episodes: dict[str, set[str]] = defaultdict(set)
    for row in labels:
        label_of[row["eventId"]] = (row["label"], row["episode"])
        episodes[row["label"]].add(row["episode"])
    result = EvalResult(events=total_events, clean_events=total_events - len(label_of))
    detected: dict[str, set[str]] = defaultdict(set)
    raised: Counter = Counter()
    correct: Counter = Counter()
    flagged_clean: set[str] = set()
    for a in anomalies:
        kind = a["anomalyType"]
        eid = a["originalEvent"]["eventId"]
        raised[kind] += 1
        lab = label_of.get(eid)
        if lab is None:
            if eid not in flagged_clean and len(result.false_positive_examples) < 20:
                result.false_positive_examples.append(
                    {"eventId": eid, "anomalyType": kind, "description": a.get("description")}
                )
            flagged_clean.add(eid)
        elif lab[0] == kind:
            correct[kind] += 1
            detected[kind].add(lab[1])
    for kind in sorted(set(TYPES) | set(raised)):
        result.per_type[kind] = TypeScore(
            episodes=len(episodes.get(kind, ())),
            detected=len(detected[kind]),
            raised=raised[kind],
            correct=correct[kind],
        )
        result.missed[kind] = sorted(episodes.get(kind, set()) - detected[kind])
    result.clean_flagged = len(flagged_clean)
    return result


def format_result(r: EvalResult) -> str:
    rows = [f"{'type':<12} {'episodes':>8} {'detected':>8} {'recall':>7} {'raised':>7} {'precision':>9}"]
    for kind, s in r.per_type.items():
        rec = f"{s.recall:.3f}" if s.episodes else "-"
        prec = f"{s.precision:.3f}" if s.raised else "-"
        rows.append(f"{kind:<12} {s.episodes:>8} {s.detected:>8} {rec:>7} {s.raised:>7} {prec:>9}")
    rows.append(
        f"false-positive rate: {r.clean_flagged} of {r.clean_events:,} clean events = {100 * r.fpr:.3f}% "
        f"(target <= {100 * FPR_TARGET:.2f}%)"
    )
    verdict = "PASS" if r.passed else "FAIL"
    rows.append(f"{verdict}: recall >= {RECALL_TARGET} for every type and FPR <= {100 * FPR_TARGET:.2f}%")
    return "\n".join(rows)


def read_jsonl(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
