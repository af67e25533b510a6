"""docs/CONTRIBUTING.md "Add a detector", followed as written: the toy detector is taken from the
document's code block itself, run through the harness, and shown detecting (and staying quiet)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def test_steps_1_and_3_registered_without_a_legend_line_the_legend_test_fails_and_with_one_passes(
    monkeypatch, tmp_path
):
    """Step 3 (register it in build_detectors) and step 1's rule (every state key in the legend), as a
    newcomer meets them: the legend test names the toy's undocumented key, then passes once it is added."""
    import importlib.util

    from anomaly_guardian.detection import registry

    spec = importlib.util.spec_from_file_location("legend_test", Path(__file__).with_name("test_state_legend.py"))
    legend_test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(legend_test)

    toy = toy_detector_class()
    shipped = registry.build_detectors
    monkeypatch.setattr(legend_test, "build_detectors", lambda *a, **k: [*shipped(*a, **k), toy()])
    stored = legend_test.stored_keys(3000)
    assert stored["round"] == {"r"}  # the generated stream has round amounts: the toy stored its state
    documented = legend_test.legend()
    assert "r" not in documented.get("round", set())
    with pytest.raises(AssertionError):  # so the legend test fails for the toy's key
        legend_test.test_every_stored_state_key_has_a_legend_line()

    doc = tmp_path / "detector-state.md"
    doc.write_text(legend_test.DOC.read_text() + "\n## round: round amounts (toy), per user\n\n"
                   "| key | meaning |\n|---|---|\n| `r` | round-thousand amounts in a row |\n")  # fmt: skip
    monkeypatch.setattr(legend_test, "DOC", doc)
    legend_test.test_every_stored_state_key_has_a_legend_line()  # with the line, it passes
