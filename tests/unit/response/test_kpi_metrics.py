"""The Security Actions metrics the dashboard shows, and that every AnomalyGuardian metric on the
dashboard is one the code emits."""

from __future__ import annotations

import json
import re
from pathlib import Path

from anomaly_guardian.response.kpi_metrics import action_metrics, correlation_metrics

ROOT = Path(__file__).resolve().parents[3]
DETECTED = "2026-11-20T12:00:00.000Z"
T = 1795176000.0  # 2026-11-20T12:00:00Z


def step(action, anomaly=None):
    return {"op": "execute", "action": {"type": action}, "anomaly": anomaly or {"detectedAt": DETECTED}}


def test_rate_limit_of_a_user_counts_both_and_response_time_is_detection_to_action():
    got = action_metrics(step("rate_limit"), {"status": "done", "detail": {"ip": "1.2.3.4", "user": "u_x"}}, T + 1.5)
    assert got == [
        ("RateLimited", "Count", 1.0),
        ("UsersBlocked", "Count", 1.0),
        ("ResponseTime", "Milliseconds", 1500.0),
    ]
    ip_only = action_metrics(step("rate_limit"), {"status": "done", "detail": {"ip": "1.2.3.4", "user": None}}, T)
    assert ("UsersBlocked", "Count", 1.0) not in ip_only and ("RateLimited", "Count", 1.0) in ip_only
    # dry runs respond (and are timed) but block nobody; skipped and duplicate steps add nothing
    assert action_metrics(step("rate_limit"), {"status": "dry_run"}, T + 2) == [
        ("ResponseTime", "Milliseconds", 2000.0)
    ]
    assert action_metrics(step("rate_limit"), {"status": "skipped"}, T) == []
    assert action_metrics(step("notify"), {"status": "done", "duplicate": True}, T) == []
    assert action_metrics({"op": "plan"}, {}, T) == []
    assert correlation_metrics({"opened": True}) == [("IncidentsCreated", "Count", 1.0)]
    assert correlation_metrics({"opened": False}) == []


def test_every_dashboard_metric_of_ours_is_emitted_by_the_code():
    template = (ROOT / "sam" / "template.yaml").read_text()
    body = template[template.index("DashboardBody") :]
    names = set(re.findall(r'\["AnomalyGuardian", "([A-Za-z_]+)"', body))
    assert {"UsersBlocked", "RateLimited", "IncidentsCreated", "ResponseTime", "SecurityPostureScore"} <= names
    code = "\n".join(
        p.read_text() for p in [*ROOT.glob("functions/*/app.py"), *ROOT.glob("layers/core/anomaly_guardian/**/*.py")]
    )
    # a name built from a prefix (f"Webhook_{outcome}") counts when the prefix is emitted that way
    missing = [n for n in names if f'"{n}"' not in code and f'"{n.split("_")[0]}_{{' not in code]
    assert not missing, missing
    json.loads(json.dumps(sorted(names)))  # names are plain strings
