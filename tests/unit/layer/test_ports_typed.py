"""The non-API functions' ports are Protocols, not Any, and mypy (`make lint`, on the runtime package)
checks them both ways: `wiring` must pass adapters that implement them, and the service code may call
only what a port declares. Both are shown failing on deliberate violations type-checked by mypy."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from anomaly_guardian.api.deps import Services
from anomaly_guardian.cost.service import CostPorts
from anomaly_guardian.detection.batch import BatchDetector
from anomaly_guardian.reports.service import ReportPorts
from anomaly_guardian.response.ports import Ports

ROOT = Path(__file__).resolve().parents[3]
NOT_PORTS = {"emit", "config_for", "dispatch", "alert_links", "resolve", "detectors", "link_key"}  # callables, values


def untyped(annotation: object) -> bool:
    text = str(annotation).replace(" ", "")
    return text == "Any" or text.startswith("Any|") or text.endswith("|Any") or text == "Any|None"


@pytest.mark.parametrize("ports", [Ports, CostPorts, ReportPorts, Services], ids=lambda c: c.__name__)
def test_every_port_field_is_typed_by_a_protocol(ports):
    loose = [f.name for f in dataclasses.fields(ports) if f.name not in NOT_PORTS and untyped(f.type)]
    assert loose == []


def test_the_detector_batch_takes_typed_ports():
    params = inspect.signature(BatchDetector.__init__).parameters
    ports = ("store", "anomalies", "dedupe", "poison", "suppressions", "counters")
    assert [p for p in ports if untyped(params[p].annotation)] == []


def mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "violation.py"
    module.write_text(textwrap.dedent(source))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--follow-imports=silent",
            "--cache-dir",
            str(tmp_path / ".mypy_cache"),
            str(module),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={"MYPYPATH": str(ROOT / "layers" / "core"), "PATH": "/usr/bin:/bin"},
    )


CONFORMING = """
from typing import Any
from anomaly_guardian.response.ports import Ports

class Config:
    def get_settings(self, tenant: str) -> dict[str, Any]: return {}
    def get_webhook(self, tenant: str, webhook_id: str) -> dict[str, Any]: return {}
    def list_webhooks(self, tenant: str) -> list[dict[str, Any]]: return []
"""


def test_mypy_refuses_an_adapter_that_lacks_a_port_method_and_a_call_the_port_does_not_declare(tmp_path):
    # Given a module that wires a config adapter missing get_webhook and calls a method IpSet lacks
    result = mypy(
        tmp_path,
        CONFORMING.replace("    def get_webhook", "    def _gone")
        + """
from anomaly_guardian.adapters.audit import AuditLog
from anomaly_guardian.adapters.blocklist_admin import BlockListAdmin
from anomaly_guardian.adapters.incidents import IncidentRepository
from anomaly_guardian.adapters.anomalies import AnomalyRepository

ports = Ports(config=Config(), audit=AuditLog("a"), blocks=BlockListAdmin("b"),
              incidents=IncidentRepository("i"), anomalies=AnomalyRepository("n"))

def unblock_all(p: Ports) -> None:
    if p.waf is not None:
        p.waf.clear()
""",
    )
    # Then mypy names the missing protocol member and the undeclared call
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'Argument "config" to "Ports" has incompatible type "Config"; expected "ResponseConfig"' in result.stdout
    assert "get_webhook" in result.stdout
    assert '"IpSet" has no attribute "clear"' in result.stdout


def test_mypy_accepts_the_real_adapters_for_the_same_ports(tmp_path):
    result = mypy(
        tmp_path,
        CONFORMING
        + """
from anomaly_guardian.adapters.audit import AuditLog
from anomaly_guardian.adapters.blocklist_admin import BlockListAdmin
from anomaly_guardian.adapters.incidents import IncidentRepository
from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.adapters.waf import WafIpSet

ports = Ports(config=Config(), audit=AuditLog("a"), blocks=BlockListAdmin("b"),
              incidents=IncidentRepository("i"), anomalies=AnomalyRepository("n"), waf=WafIpSet("n", "i"))
""",
    )
    assert result.returncode == 0, result.stdout + result.stderr
