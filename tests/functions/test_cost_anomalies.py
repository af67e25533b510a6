"""Cost Explorer GetAnomalies (botocore Stubber: moto does not implement it) -> the real cost_anomalies
handler -> `cost` anomalies stored and dispatched -> the real correlator joins the EC2 cost anomaly to the
incident of the usage detector's RunInstances spike (same service, account, region) -> the notify action's
SNS alert. Tables, queues and the topic are moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from response_harness import IP, TENANT, load_handler, response_aws  # noqa: F401
from test_correlator import correlator, sqs_event  # noqa: F401

from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.adapters.cost_explorer import CostExplorer
from anomaly_guardian.adapters.incidents import IncidentRepository
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.detection.usage import UsageDetector
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.response.dispatch import dispatch
from anomaly_guardian.state import InMemoryStateStore
from anomaly_guardian.usage.cloudtrail import to_event

ACCOUNT = "123456789012"
TODAY = datetime.now(UTC).date()


def cloudtrail(i: int, when: datetime, name: str, params: dict) -> dict:
    return {
        "eventID": f"ct-{i}",
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": IP,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/leaked"},
        "requestParameters": params,
        "recipientAccountId": ACCOUNT,
    }


def usage_anomalies():
    """The usage detector's RunInstances spike: 3 calls of 4 p4d.24xlarge, a day after usage history began."""
    t0 = datetime.now(UTC) - timedelta(hours=30)
    records = [cloudtrail(0, t0, "DescribeInstances", {})]
    spike = t0 + timedelta(hours=25)
    launch = {"instancesSet": {"items": [{"instanceType": "p4d.24xlarge", "maxCount": 4}]}}
    records += [cloudtrail(k, spike + timedelta(seconds=k), "RunInstances", launch) for k in (1, 2, 3)]
    events = [parse_event(to_event(r)) for r in records]
    found = DetectionPipeline(InMemoryStateStore(), detectors=[UsageDetector()]).process(TENANT, events)
    return [a.model_dump(mode="json") for a in found], events


def ce_item(aid, service, impact, actual, region, account, usage_type, start_days_ago=1):
    return {
        "AnomalyId": aid,
        "AnomalyStartDate": (TODAY - timedelta(days=start_days_ago)).isoformat(),
        "AnomalyEndDate": TODAY.isoformat(),
        "DimensionValue": service,
        "MonitorArn": f"arn:aws:ce::{ACCOUNT}:anomalymonitor/svc",
        "RootCauses": [
            {
                "Service": service,
                "Region": region,
                "LinkedAccount": account,
                "LinkedAccountName": "prod",
                "UsageType": usage_type,
                "Impact": {"Contribution": impact},
            }
        ],
        "AnomalyScore": {"MaxScore": 0.93, "CurrentScore": 0.9},
        "Impact": {
            "MaxImpact": impact / 2,
            "TotalImpact": impact,
            "TotalActualSpend": actual,
            "TotalExpectedSpend": actual - impact,
            "TotalImpactPercentage": round(100 * impact / (actual - impact), 1),
        },
    }


EC2 = ce_item(
    "ce-ec2-1",
    "Amazon Elastic Compute Cloud - Compute",
    2400.0,
    2530.0,
    "us-east-1",
    ACCOUNT,
    "USE1-BoxUsage:p4d.24xlarge",
)
S3 = ce_item("ce-s3-1", "Amazon Simple Storage Service", 40.0, 90.0, "us-east-1", ACCOUNT, "TimedStorage-ByteHrs")
LAMBDA = ce_item("ce-lambda-1", "AWS Lambda", 150.0, 170.0, "eu-west-1", "210987654321", "EU-Lambda-GB-Second")


@pytest.fixture
def cost_fn(response_aws, monkeypatch):  # noqa: F811
    monkeypatch.setenv("USAGE_TENANT_ID", TENANT)
    handler = load_handler("cost_anomalies")
    ce = boto3.client("ce", region_name="us-east-1")
    stub = Stubber(ce)
    handler.ports.explorer = CostExplorer(ce=ce)
    with stub:
        yield handler, stub


def expect_pages(stub, start, pages):
    for n, (items, token) in enumerate(pages):
        params = {"DateInterval": {"StartDate": start.isoformat(), "EndDate": TODAY.isoformat()}, "MaxResults": 100}
        if n:
            params["NextPageToken"] = pages[n - 1][1]
        stub.add_response("get_anomalies", {"Anomalies": items} | ({"NextPageToken": token} if token else {}), params)


def test_cost_explorer_anomaly_joins_the_usage_incident_and_is_alerted(
    cost_fn,
    correlator,  # noqa: F811
    response_aws,  # noqa: F811
    lambda_context,
):
    handler, stub = cost_fn
    # Given the usage detector saw p4d instances launched in us-east-1 and the correlator opened an incident
    usage, events = usage_anomalies()
    assert usage and all(a["entities"]["aws"] == f"{ACCOUNT}|ec2|us-east-1" for a in usage)
    spike = next(a for a in usage if "calls in" in a["description"])
    assert spike["costEstimate"]["text"].startswith("about $")
    AnomalyRepository("test-anomalies").put_many(usage)
    from anomaly_guardian.adapters.queues import Queue

    dispatch(usage, events, queue=Queue(response_aws.env["RESPONSE_QUEUE_URL"]))
    correlator.lambda_handler(sqs_event(response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])), lambda_context)
    (usage_incident,) = IncidentRepository("test-incidents").list(TENANT)[0]

    # When Cost Explorer reports three anomalies over two pages (one below the $100 threshold)
    expect_pages(stub, TODAY - timedelta(days=7), [([EC2, S3], "page-2"), ([LAMBDA], None)])
    result = handler.lambda_handler({"source": "aws.scheduler"}, lambda_context)
    stub.assert_no_pending_responses()
    assert result["read"] == 3 and result["emitted"] == 2 and result["below"] == 1

    # Then two cost anomalies are stored with their impact and root causes
    stored, _ = AnomalyRepository("test-anomalies").query(TENANT, anomaly_type="cost")
    by_ce = {a["costAnomalyId"]: a for a in stored}
    assert set(by_ce) == {"ce-ec2-1", "ce-lambda-1"}
    ec2 = by_ce["ce-ec2-1"]
    assert ec2["impact"]["totalImpact"] == 2400.0 and ec2["impact"]["totalActualSpend"] == 2530.0
    assert ec2["rootCauses"][0] | {} == {
        "service": "Amazon Elastic Compute Cloud - Compute",
        "account": ACCOUNT,
        "accountName": "prod",
        "region": "us-east-1",
        "usageType": "USE1-BoxUsage:p4d.24xlarge",
        "contribution": 2400.0,
    }
    assert ec2["threshold"] == {"ruleId": "cost-check", "minTotalImpactUsd": 100.0}
    assert ec2["severity"] == "CRITICAL" and ec2["description"].startswith("EC2 cost anomaly: $2,400.00 above")
    assert ec2["originalEvent"]["eventId"] == "ce-ec2-1" and ec2["originalEvent"]["eventType"] == "cost_anomaly"

    # and, through the response queue, the EC2 one joins the RunInstances incident; the Lambda one is alone
    handed = response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])
    assert len(handed) == 2
    assert correlator.lambda_handler(sqs_event(handed), lambda_context) == {"batchItemFailures": []}
    joined = IncidentRepository("test-incidents").get(TENANT, usage_incident.incidentId)
    assert joined.types == {"usage": len(usage), "cost": 1}
    assert "likely runaway resource or leaked credentials" in joined.summary
    assert joined.estimatedCostUsd == 2400.0  # what Cost Explorer measured, not the estimate as well
    incidents, _ = IncidentRepository("test-incidents").list(TENANT)
    assert len(incidents) == 2
    lone = next(i for i in incidents if i.incidentId != usage_incident.incidentId)
    assert lone.types == {"cost": 1} and lone.entities["aws"] == ["210987654321|lambda|eu-west-1"]

    # and the notify action alerts SNS with the cost anomaly
    actions = load_handler("actions")
    req = {
        "op": "execute",
        "tenantId": TENANT,
        "anomaly": ec2,
        "incidentId": joined.incidentId,
        "subjectIp": None,
        "severity": ec2["severity"],
        "action": {"type": "notify", "parameters": {}, "source": "default"},
    }
    done = actions.lambda_handler(req, lambda_context)
    assert done["status"] == "done", done
    assert done["detail"]["subject"] == "[CRITICAL] EC2 cost anomaly: $2,400.00 above expected"
    (alert,) = response_aws.alerts()
    assert alert["anomalyType"] == "cost" and alert["incidentId"] == joined.incidentId
    assert "EC2 cost anomaly" in alert["description"] and alert["event"] == "anomaly.detected"

    # When the next run sees the same anomalies again (window since the last run, minus a day of overlap)
    expect_pages(stub, TODAY - timedelta(days=1), [([EC2, S3, LAMBDA], None)])
    again = handler.lambda_handler({"source": "aws.scheduler"}, lambda_context)
    # Then nothing is emitted twice
    assert again["emitted"] == 0 and again["already"] == 2 and again["below"] == 1
    assert response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"]) == []


def test_an_anomaly_that_grows_past_the_threshold_is_emitted_once_it_does(cost_fn, response_aws, lambda_context):  # noqa: F811
    handler, stub = cost_fn
    small = ce_item("ce-grow", "Amazon Simple Storage Service", 60.0, 100.0, "us-east-1", ACCOUNT, "Requests-Tier1")
    expect_pages(stub, TODAY - timedelta(days=7), [([small], None)])
    assert handler.lambda_handler({}, lambda_context)["below"] == 1
    grown = json.loads(json.dumps(small))
    grown["Impact"]["TotalImpact"] = 180.0
    expect_pages(stub, TODAY - timedelta(days=1), [([grown], None)])
    assert handler.lambda_handler({}, lambda_context)["emitted"] == 1
    (msg,) = response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])
    assert json.loads(msg["Body"])["anomaly"]["impact"]["totalImpact"] == 180.0


def test_a_run_that_died_after_claiming_is_finished_with_the_same_anomaly_id(cost_fn, response_aws, lambda_context):  # noqa: F811
    handler, stub = cost_fn
    real_dispatch = handler.ports.dispatch

    def broken(anomalies):
        raise RuntimeError("SQS unavailable")

    handler.ports.dispatch = broken
    expect_pages(stub, TODAY - timedelta(days=7), [([EC2], None)])
    with pytest.raises(RuntimeError):
        handler.lambda_handler({}, lambda_context)
    first, _ = AnomalyRepository("test-anomalies").query(TENANT, anomaly_type="cost")
    handler.ports.dispatch = real_dispatch
    # the cursor did not move: the same window is read again
    expect_pages(stub, TODAY - timedelta(days=7), [([EC2], None)])
    assert handler.lambda_handler({}, lambda_context)["emitted"] == 1
    second, _ = AnomalyRepository("test-anomalies").query(TENANT, anomaly_type="cost")
    assert [a["anomalyId"] for a in second] == [a["anomalyId"] for a in first]  # one anomaly, not two
    (msg,) = response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])
    assert json.loads(msg["Body"])["anomaly"]["anomalyId"] == first[0]["anomalyId"]


def test_on_the_local_stack_the_stand_in_answers_get_anomalies_for_the_real_handler(
    response_aws,  # noqa: F811
    monkeypatch,
    lambda_context,
    request,
):
    """The local emulation's GetAnomalies (local/cost_explorer.py) through the real ce client, no Stubber:
    what was fed in the window is read across its pages, what ended before the window is not."""
    from anomaly_guardian.local import cost_explorer

    cost_explorer.install()
    request.addfinalizer(cost_explorer.reset)  # the stand-in's anomalies are process-wide
    monkeypatch.setenv("USAGE_TENANT_ID", TENANT)
    monkeypatch.setenv("ENVIRONMENT", "local")
    # Given 120 small anomalies and the EC2 one fed to the stand-in, and one that ended 9 days ago
    small = [
        ce_item(f"ce-small-{i}", "Amazon Simple Storage Service", 1.0, 5.0, "us-east-1", ACCOUNT, "Requests")
        for i in range(120)
    ]
    old = ce_item("ce-old", "AWS Lambda", 500.0, 600.0, "us-east-1", ACCOUNT, "Lambda-GB-Second", 12)
    old["AnomalyEndDate"] = (TODAY - timedelta(days=9)).isoformat()
    cost_explorer.store().put([*small, EC2, old])
    handler = load_handler("cost_anomalies")
    # When the schedule runs the real handler
    result = handler.lambda_handler({}, lambda_context)
    # Then the 121 anomalies of the last 7 days are read over two pages and the EC2 one becomes a cost anomaly
    assert result["read"] == 121 and result["emitted"] == 1 and result["below"] == 120
    (stored,) = AnomalyRepository("test-anomalies").query(TENANT, anomaly_type="cost")[0]
    assert stored["costAnomalyId"] == "ce-ec2-1" and stored["impact"]["totalImpact"] == 2400.0
    (msg,) = response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])
    assert json.loads(msg["Body"])["anomaly"]["costAnomalyId"] == "ce-ec2-1"
    # and a request without its required DateInterval is refused as Cost Explorer refuses it
    ce = boto3.client("ce", region_name="us-east-1")
    with pytest.raises(ce.exceptions.ClientError, match="DateInterval"):
        ce.get_anomalies(DateInterval={"StartDate": ""})


def test_a_failing_get_anomalies_fails_the_run(response_aws, monkeypatch, lambda_context):  # noqa: F811
    monkeypatch.setenv("USAGE_TENANT_ID", TENANT)
    handler = load_handler("cost_anomalies")
    ce = boto3.client("ce", region_name="us-east-1")
    handler.ports.explorer = CostExplorer(ce=ce)
    with Stubber(ce) as stub:
        stub.add_client_error("get_anomalies", "AccessDeniedException", "no ce:GetAnomalies")
        with pytest.raises(ce.exceptions.ClientError, match="no ce:GetAnomalies"):  # retried, then the DLQ
            handler.lambda_handler({}, lambda_context)
