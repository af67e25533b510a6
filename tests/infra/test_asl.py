"""Every statemachines/*.asl.json passes the pinned npm asl-validator (installed by `make asl-tools`
into .tools/node), uses JSONPath only and only ${Substitutions} (no account ids); a deliberately
broken definition is rejected, so the check can fail."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / ".tools" / "node" / "node_modules" / ".bin" / "asl-validator"
FILES = sorted((ROOT / "statemachines").glob("*.asl.json"))


@pytest.fixture(scope="module")
def validator() -> Path:
    if not VALIDATOR.exists():
        if shutil.which("npm") is None:
            pytest.skip("npm not installed; `make asl-validate` needs Node.js")
        subprocess.run(["make", "--no-print-directory", "asl-tools"], cwd=ROOT, check=True, capture_output=True)
    return VALIDATOR


def validate(validator: Path, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(validator), "--json-path", str(path)], capture_output=True, text=True, timeout=60)


def test_there_are_state_machines():
    assert [f.name for f in FILES] == ["remediation.asl.json"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_definition_is_valid(validator, path):
    result = validate(validator, path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_broken_definition_is_rejected(validator, tmp_path):
    sm = json.loads(FILES[0].read_text())
    sm["States"]["Plan"]["Next"] = "NoSuchState"
    del sm["States"]["Done"]
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps(sm))
    result = validate(validator, broken)
    assert result.returncode != 0
    assert "MISSING_TRANSITION_TARGET" in result.stdout + result.stderr


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_jsonpath_only_and_substitutions_only(path):
    text = path.read_text()
    sm = json.loads(text)
    assert sm.get("QueryLanguage", "JSONPath") == "JSONPath"
    assert "{%" not in text, "JSONata expressions are not allowed"
    assert not re.search(r"\b\d{12}\b", text), "no account ids: use ${Substitutions}"
    assert set(re.findall(r"\$\{(\w+)\}", text)) == {"ActionsFunctionArn"}


def _states(states: dict) -> dict:
    out = dict(states)
    for st in states.values():
        if "ItemProcessor" in st:
            out |= _states(st["ItemProcessor"]["States"])
    return out


def test_every_task_retries_with_backoff_and_the_workflow_catches_failures():
    sm = json.loads(FILES[0].read_text())
    states = _states(sm["States"])
    for name, st in states.items():
        if st["Type"] == "Task":
            assert st.get("Retry"), f"{name} has no Retry"
            assert all(r.get("BackoffRate", 1) > 1 for r in st["Retry"]), name
        if st["Type"] in ("Task", "Map") and name not in ("ExecuteAction", "ExecuteApprovedAction", "MarkFailed"):
            assert any(c["Next"] == "MarkFailed" for c in st.get("Catch", [])), f"{name} has no Catch to MarkFailed"
    assert states["ManualReview"]["Resource"].endswith(".waitForTaskToken")
