"""Delivery is gated: deploy.yml runs only for commits ci.yml passed for."""

from __future__ import annotations

import yaml
from infra_tools import ROOT


def _workflow(name: str) -> dict:
    doc = yaml.safe_load((ROOT / ".github/workflows" / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def test_deploy_starts_only_after_ci_succeeded_and_every_job_depends_on_the_gate():
    ci, deploy = _workflow("ci.yml"), _workflow("deploy.yml")
    trigger = deploy["on"]
    assert "push" not in trigger, "a push must not deploy before ci.yml has passed"
    assert trigger["workflow_run"] == {"workflows": [ci["name"]], "types": ["completed"], "branches": ["main"]}
    gate = deploy["jobs"]["gate"]
    assert "workflow_run.conclusion == 'success'" in gate["if"]
    assert "actions/workflows/ci.yml/runs?head_sha=$SHA&status=success" in gate["steps"][0]["run"]

    def upstream(job: str) -> set[str]:
        needs = deploy["jobs"][job].get("needs") or []
        needs = [needs] if isinstance(needs, str) else needs
        return set(needs).union(*(upstream(n) for n in needs)) if needs else set()

    for job in deploy["jobs"]:
        if job != "gate":
            assert "gate" in upstream(job), f"{job} does not wait for the gate"
    for job in deploy["jobs"].values():
        for step in job.get("steps") or []:
            if str(step.get("uses", "")).startswith("actions/checkout"):
                assert step["with"]["ref"] == "${{ github.event.workflow_run.head_sha || github.sha }}"
