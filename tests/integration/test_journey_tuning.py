"""Journey: an operator tunes and switches off built-in detectors per tenant on the local stack.

Given three fresh tenants, when the operator runs `guardian rules set-threshold velocity-check 150` for
one and `guardian rules disable velocity-check` for another (the CLI against the API over HTTP), and
each tenant then sends 130 events of one user within 2 minutes (POST /events), then only the untouched
tenant gets a velocity anomaly (exactly one), while every tenant's other detectors still run (a
$9,500 transaction by the same user afterwards is a value anomaly everywhere; it also proves the
detector has processed the burst, since one user's events share a shard and arrive in order).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

from local_helpers import wait_for


def new_tenant() -> str:
    return f"jt-{uuid.uuid4().hex[:10]}"


def guardian(local_stack, tenant, *argv):
    out = subprocess.run(
        [sys.executable, "-m", "anomaly_guardian.cli", "rules", *argv, "--api", local_stack.api, "--tenant", tenant],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out


def send_burst_then_marker(api, tenant, user):
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = [
        {
            "eventId": f"{tenant}-{i}",
            "userId": user,
            "timestamp": (start + timedelta(seconds=120 * i / 130)).isoformat().replace("+00:00", "Z"),
            "eventType": "login",
        }
        for i in range(130)
    ]
    marker = {
        "eventId": f"{tenant}-marker",
        "userId": user,
        "timestamp": (start + timedelta(seconds=150)).isoformat().replace("+00:00", "Z"),
        "eventType": "transaction",
        "transactionAmount": 9500,
    }
    resp = api("POST", "/events", tenant=tenant, json={"events": events})
    assert resp.status_code == 202, resp.text
    assert api("POST", "/events", tenant=tenant, json=marker).status_code == 202


def anomalies(api, tenant, kind):
    body = api("GET", "/anomalies", tenant=tenant, params={"limit": 1000, "anomalyType": kind}).json()
    return body["anomalies"]


def test_tuned_and_disabled_velocity_check_apply_to_their_tenant_only(api, local_stack):
    tuned, default, off = new_tenant(), new_tenant(), new_tenant()

    set_ = guardian(local_stack, tuned, "set-threshold", "velocity-check", "150")
    assert set_.returncode == 0, set_.stderr
    rule = json.loads(set_.stdout)
    assert rule["conditions"]["threshold"] == 150 and rule["version"] == 2 and rule["builtIn"] is True
    disabled = guardian(local_stack, off, "disable", "velocity-check")
    assert disabled.returncode == 0 and json.loads(disabled.stdout)["enabled"] is False, disabled.stderr
    shown = json.loads(guardian(local_stack, default, "show", "velocity-check").stdout)
    assert shown["conditions"]["threshold"] == 100 and shown["enabled"] is True
    refused = guardian(local_stack, tuned, "delete", "velocity-check")
    assert refused.returncode == 1 and "cannot be deleted" in refused.stderr
    bad = guardian(local_stack, tuned, "set-threshold", "velocity-check", "0")
    assert bad.returncode == 1 and "HTTP 400" in bad.stderr and "at least 1" in bad.stderr

    for tenant in (tuned, default, off):
        send_burst_then_marker(api, tenant, "heavy-user")
    for tenant in (tuned, default, off):
        assert wait_for(lambda t=tenant: anomalies(api, t, "value"), timeout=30), f"burst of {tenant} not processed"

    assert anomalies(api, tuned, "velocity") == []
    assert anomalies(api, off, "velocity") == []
    found = anomalies(api, default, "velocity")
    assert len(found) == 1 and "More than 100 events from one user" in found[0]["description"]

    history = json.loads(guardian(local_stack, tuned, "history", "velocity-check").stdout)["changes"]
    assert [(c["old"]["threshold"], c["new"]["threshold"]) for c in history] == [(100, 150)]
