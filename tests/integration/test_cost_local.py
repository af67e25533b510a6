"""The cost path on the local stack: a leaked key launches GPU instances (CloudTrail via `guardian cloudtrail
send`), Cost Explorer later reports the EC2 spend (`guardian cost send --run` feeds the emulation's
GetAnomalies stand-in and runs the template's schedule of the real cost_anomalies function): the `cost`
anomaly is stored, joins the usage anomalies' incident (same account, service, region, overlapping days)
and is alerted by the notify step (recorded in the audit trail: the local stack runs RESPONSE_DRY_RUN)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import boto3
from local_helpers import wait_for

from anomaly_guardian.scenario.gpu_spike import ACCOUNT as DEMO_ACCOUNT
from anomaly_guardian.scenario.gpu_spike import gpu_spike_records

ACCOUNT = "444455556666"  # not the demo's account: other journeys' incidents of the shared tenant stay apart
TENANT = "platform"  # sam/template.yaml UsageTenantId default: owns the account's usage and cost anomalies


def cost_explorer_anomaly(today):
    return {
        "AnomalyId": "it-ce-ec2-gpu",
        "AnomalyStartDate": (today - timedelta(days=1)).isoformat(),
        "AnomalyEndDate": today.isoformat(),
        "DimensionValue": "Amazon Elastic Compute Cloud - Compute",
        "MonitorArn": f"arn:aws:ce::{ACCOUNT}:anomalymonitor/services",
        "RootCauses": [
            {
                "Service": "Amazon Elastic Compute Cloud - Compute",
                "Region": "us-east-1",
                "LinkedAccount": ACCOUNT,
                "LinkedAccountName": "ci",
                "UsageType": "USE1-BoxUsage:p4d.24xlarge",
                "Impact": {"Contribution": 3120.0},
            }
        ],
        "AnomalyScore": {"MaxScore": 0.97, "CurrentScore": 0.95},
        "Impact": {
            "MaxImpact": 1580.0,
            "TotalImpact": 3120.0,
            "TotalActualSpend": 3240.0,
            "TotalExpectedSpend": 120.0,
            "TotalImpactPercentage": 2600.0,
        },
    }


def guardian(*args, timeout=120):
    out = subprocess.run(
        [sys.executable, "-m", "anomaly_guardian.cli", *args], capture_output=True, text=True, timeout=timeout
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_a_cost_explorer_anomaly_joins_the_usage_incident_and_is_alerted(local_stack, api, tmp_path):
    state = ["--state-dir", str(local_stack.state_dir)] if getattr(local_stack, "state_dir", None) else []
    # Given a leaked key launched p4d instances in this account (usage anomalies, one incident)
    records = json.loads(json.dumps(gpu_spike_records(prefix="it-cost")).replace(DEMO_ACCOUNT, ACCOUNT))
    trail = tmp_path / "trail.jsonl"
    trail.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    group = sorted(set(local_stack.info["log_groups"].values()))[0]
    guardian("cloudtrail", "send", str(trail), "--endpoint-url", local_stack.aws_endpoint_url, "--log-group", group)
    entity = f"{ACCOUNT}|ec2|us-east-1"

    def incident_of_entity():
        resp = api("GET", "/incidents", tenant=TENANT, params={"limit": "100"})
        assert resp.status_code == 200, resp.text
        incidents = resp.json()["incidents"]
        return next((i for i in incidents if entity in (i.get("entities") or {}).get("aws", [])), None)

    usage_incident = wait_for(lambda: (i := incident_of_entity()) and i["types"].get("usage") and i, timeout=120)
    assert usage_incident, "the GPU spike opened no incident"

    # When Cost Explorer reports the EC2 spend and the template's 6-hourly schedule runs the real function
    today = datetime.now(UTC).date()
    feed = tmp_path / "get-anomalies.json"
    feed.write_text(json.dumps({"Anomalies": [cost_explorer_anomaly(today)]}))
    out = guardian("cost", "send", str(feed), "--endpoint-url", local_stack.aws_endpoint_url, "--run", *state)
    assert "stored 1 Cost Explorer anomaly" in out
    ran = json.loads(out[out.index("{") :])
    assert ran.get("ok", True), ran

    # Then a `cost` anomaly with Cost Explorer's impact and root cause is stored for the tenant
    def cost_anomaly():
        found = api("GET", "/anomalies", tenant=TENANT, params={"anomalyType": "cost", "limit": "100"}).json()
        return next((a for a in found["anomalies"] if a.get("costAnomalyId") == "it-ce-ec2-gpu"), None)

    cost = wait_for(cost_anomaly, timeout=60)
    assert cost and cost["impact"]["totalImpact"] == 3120.0 and cost["severity"] == "CRITICAL"
    assert cost["rootCauses"][0]["usageType"] == "USE1-BoxUsage:p4d.24xlarge"
    assert cost["entities"]["aws"] == entity
    # and it joined the usage anomalies' incident, whose dollars are now what Cost Explorer measured
    joined = wait_for(
        lambda: (
            (i := api("GET", f"/incidents/{usage_incident['incidentId']}", tenant=TENANT).json())
            and i["types"].get("cost")
            and i
        ),
        timeout=60,
    )
    assert joined, "the cost anomaly did not join the usage incident"
    assert joined["types"]["usage"] >= 1 and joined["types"]["cost"] == 1
    assert joined["estimatedCostUsd"] == 3120.0
    assert "likely runaway resource or leaked credentials" in joined["summary"]
    assert cost["anomalyId"] in {m["anomalyId"] for m in joined["members"]}

    # and the notify step alerted it (the dry-run stack records what it would have published)
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=local_stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )

    def cost_alerts():
        items = ddb.query(
            TableName=local_stack.info["tables"]["AuditTable"],
            KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
            ExpressionAttributeValues={":p": {"S": f"T#{TENANT}"}, ":a": {"S": "AU#"}},
        )["Items"]
        details = [i.get("detail", {}).get("M", {}) for i in items]
        return [d["subject"]["S"] for d in details if "EC2 cost anomaly" in d.get("subject", {}).get("S", "")]

    subjects = wait_for(cost_alerts, timeout=90, interval=0.5)
    assert subjects == ["[CRITICAL] EC2 cost anomaly: $3,120.00 above expected"], subjects

    # When the schedule runs again, the same Cost Explorer anomaly is not emitted twice
    again = json.loads(guardian("schedules", "run", "CostAnomaliesFunction.Every6Hours", *state))
    assert again.get("ok", True), again
    found = api("GET", "/anomalies", tenant=TENANT, params={"anomalyType": "cost", "limit": "100"}).json()
    assert [a["costAnomalyId"] for a in found["anomalies"]].count("it-ce-ec2-gpu") == 1
