"""docs/CONTRIBUTING.md "Add a detector", followed as written: the toy detector is taken from the
document's code block itself, run through the harness, and shown detecting (and staying quiet)."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "CONTRIBUTING.md"


def toy_detector_class():
    text = DOC.read_text()
    section = text.split("## Add a detector", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = "\n".join(line[3:] if line.startswith("   ") else line for line in code.splitlines())
    namespace: dict = {}
    exec(compile(code, str(DOC), "exec"), namespace)  # the document's own example
    return namespace["RoundAmountDetector"]


def test_the_walkthrough_detector_detects_the_third_round_amount(harness):
    h = harness([toy_detector_class()()])
    events = [h.event(i * 60.0, eventType="transaction", transactionAmount=amount)
              for i, amount in enumerate([1000, 2000, 3000, 4000])]  # fmt: skip
    anomalies = h.run(events)
    assert [a.originalEvent["eventId"] for a in anomalies] == ["e2", "e3"]
    a = anomalies[0]
    assert a.anomalyType == "value" and a.severity == "HIGH" and a.explanation[0].observed == 3
    assert a.userId != "alice"  # the pipeline pseudonymised the user


def test_the_walkthrough_detector_is_quiet_when_the_run_breaks(harness):
    h = harness([toy_detector_class()()])
    events = [h.event(i * 60.0, eventType="transaction", transactionAmount=amount)
              for i, amount in enumerate([1000, 2000, 2500, 3000, 4000])]  # fmt: skip
    assert h.run(events) == []
    (item,) = h.store.load([k for k in h.store._items if "#round#" in k]).values()
    assert item.state == {"r": 2}  # the run restarted at 2500 and reached two
