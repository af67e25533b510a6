"""docs/detector-state.md is the legend of every stored detector-state key: the detectors run over a
generated stream, and every top-level key they store must have a line in the legend for its kind."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.detection.registry import build_detectors
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.scenario.generator import generate
from anomaly_guardian.state.store import InMemoryStateStore

DOC = Path(__file__).resolve().parents[3] / "docs" / "detector-state.md"


def legend() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    kinds: list[str] = []
    for line in DOC.read_text().splitlines():
        if line.startswith("## "):
            kinds = re.findall(r"([a-z]+)(?=[,:])", line[3:].split(":")[0] + ":")
            for kind in kinds:
                out.setdefault(kind, set())
        elif line.startswith("| `") and kinds:
            key = line.split("`")[1]
            for kind in kinds:
                out[kind].add(key)
    return out


def stored_keys(n_events: int = 8000) -> dict[str, set[str]]:
    store = InMemoryStateStore()
    pipeline = DetectionPipeline(store, detectors=build_detectors())
    events = [parse_event(json.dumps(e)) for e in generate(n_events, seed=3).events]
    for start in range(0, len(events), 500):
        pipeline.process("t1", events[start : start + 500])
    keys: dict[str, set[str]] = defaultdict(set)
    for key, item in store.load(list(store._items)).items():
        keys[key.split("#")[1]] |= set(item.state)
    return keys


def test_every_stored_state_key_has_a_legend_line():
    documented = legend()
    stored = stored_keys()
    assert {"velu", "veli", "value", "geo", "behav", "sys"} <= set(stored)  # the stream exercised them
    missing = {kind: sorted(keys - documented.get(kind, set())) for kind, keys in stored.items()}
    assert {k: v for k, v in missing.items() if v} == {}


def test_the_legend_parser_sees_each_kind():
    documented = legend()
    assert documented["velu"] == documented["veli"] == {"t", "q", "qr", "o", "m"}
    assert "lk" in documented["sys"] and "h" in documented["rules"]
