"""Reports against emulated AWS (moto): anomalies table + the detector's hourly counters -> the scheduled
reports handler -> JSON and HTML in the reports bucket, an SNS summary with links, KPI metrics (EMF)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.adapters.counters import TenantCounters
from anomaly_guardian.ids import new_ulid

DAY = date(2026, 11, 20)
NOON = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def reports_aws(tables, monkeypatch):
    from anomaly_guardian.adapters.dynamodb import client

    client("s3").create_bucket(Bucket="guardian-reports")
    sns, sqs = client("sns"), client("sqs")
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    url = sqs.create_queue(QueueName="alerts-all")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    monkeypatch.setenv("REPORTS_BUCKET", "guardian-reports")
    monkeypatch.setenv("ALERTS_TOPIC_ARN", topic)
    return {"queue": url}


def anomaly(tenant, at, kind="velocity", score=0.8, severity="HIGH", label=None, actions=(), lag_s=2.0):
    aid = new_ulid(int(at.timestamp() * 1000))
    event_time = at - timedelta(seconds=lag_s)
    a = {
        "anomalyId": aid,
        "tenantId": tenant,
        "severity": severity,
        "anomalyScore": score,
        "detectedAt": at.isoformat().replace("+00:00", "Z"),
        "userId": "u_" + aid[-10:].lower(),
        "anomalyType": kind,
        "description": f"{kind} anomaly at {at:%H:%M}",
        "originalEvent": {
            "eventId": "e-" + aid,
            "timestamp": event_time.isoformat().replace("+00:00", "Z"),
            "eventType": "login",
        },
        "actionsPerformed": [
            {"type": t, "at": (at + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")} for t in actions
        ],
        "explanation": [],
    }
    if label:
        a["feedback"] = {"label": label}
    return a


def seed():
    repo, counters = AnomalyRepository("test-anomalies"), TenantCounters("test-audit")
    items = [anomaly("acme", NOON + timedelta(minutes=i), actions=("rate_limit",)) for i in range(3)]
    # a noisy detector: 4 false positives around 0.6 and one confirmed at 0.9
    items += [
        anomaly("acme", NOON + timedelta(hours=1, minutes=i), "behavioral", 0.6, "MEDIUM", "false_positive")
        for i in range(4)
    ]
    items.append(
        anomaly(
            "acme",
            NOON + timedelta(hours=2),
            "behavioral",
            0.9,
            "CRITICAL",
            "true_positive",
            actions=("enhanced_monitoring",),
        )
    )
    items.append(anomaly("acme", NOON - timedelta(days=1), "value"))  # the day before: not in the daily report
    items.append(anomaly("globex", NOON + timedelta(hours=3), "geolocation", 0.7, "MEDIUM"))
    repo.put_many(items)
    counters.add("acme", NOON, events=1200, anomalies=5)
    counters.add("acme", NOON + timedelta(hours=1), events=800, anomalies=3, errors=1)
    counters.add("globex", NOON + timedelta(hours=3), events=300, anomalies=1)
    counters.add("acme", NOON - timedelta(days=1), events=999, anomalies=1)
    return items


def test_scheduled_daily_report_is_stored_as_json_and_html_and_summarised(
    reports_aws, handler_module, lambda_context, capsys
):
    from anomaly_guardian.adapters.dynamodb import client

    items = seed()
    reports = handler_module("reports")
    # When the daily schedule fires with its Input (and the day it reports on)
    result = reports.lambda_handler({"period": "daily", "date": DAY.isoformat()}, lambda_context)
    # Then one report per active tenant and the admin roll-up are written
    assert result == {"period": "daily", "date": "2026-11-20", "tenants": ["acme", "globex"], "reports": 3}
    s3 = client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="guardian-reports")["Contents"])
    assert keys == sorted(
        f"reports/{t}/daily/2026-11-20.{ext}" for t in ("acme", "globex", "_all") for ext in ("json", "html")
    )
    body = s3.get_object(Bucket="guardian-reports", Key="reports/acme/daily/2026-11-20.json")["Body"].read()
    report = json.loads(body)
    # with the seed's fields, counted from the anomalies table and the detector's counters
    acme_day = [a for a in items if a["tenantId"] == "acme" and a["detectedAt"].startswith("2026-11-20")]
    assert report["date"] == "2026-11-20"
    summary = report["summary"]
    assert summary["total_events_processed"] == 2000  # 1,200 + 800; the day before is not counted
    assert summary["anomalies_detected"] == len(acme_day) == 8
    assert summary["actions_performed"] == 4
    perf = summary["system_performance"]
    assert perf["detection_latency_p50_s"] == pytest.approx(2.0) and perf["detection_latency_p95_s"] == pytest.approx(
        2.0
    )
    assert perf["errors"] == 1 and perf["throughput_events_per_s"] == pytest.approx(2000 / 86400, rel=1e-3)
    assert len(report["top_anomalies"]) == 8 and report["top_anomalies"][0]["severity"] == "CRITICAL"
    assert report["system_health"]["status"] == "degraded"  # one event isolated into the DLQ
    # the noisy behavioral detector is called out, with the replayed effect of a higher cut
    (rec,) = report["recommendations"]
    assert rec["rule"] == "behavioral-check" and rec["suggestion"].startswith("raise the behavioral score cut to 0.61")
    assert rec["replayedEffect"] == {"anomalies": 5, "removed": 4, "falsePositivesRemoved": 4, "truePositivesLost": 0}
    k = report["kpis"]
    assert k["detectionRate"] == 0.2 and k["falsePositiveRate"] == 0.8 and k["mttdSeconds"] == pytest.approx(2.0)
    assert k["mttrSeconds"] == pytest.approx(30.0)
    # posture: all 4 HIGH/CRITICAL acted on (0.4), FPR 0.8 (0.3 x 0.2), MTTD 2 s of 900 (0.3 x 0.9978)
    assert k["securityPostureScore"] == pytest.approx(round(100 * (0.4 + 0.3 * 0.2 + 0.3 * (1 - 2 / 900)), 1))
    html = s3.get_object(Bucket="guardian-reports", Key="reports/acme/daily/2026-11-20.html")["Body"].read().decode()
    assert html.count("<svg") >= 3 and "<script" not in html and "http" not in html.split("<body>", 1)[1]
    admin = json.loads(
        s3.get_object(Bucket="guardian-reports", Key="reports/_all/daily/2026-11-20.json")["Body"].read()
    )
    assert admin["summary"]["total_events_processed"] == 2300 and admin["summary"]["anomalies_detected"] == 9
    assert admin["tenants"] == ["acme", "globex"]
    # and each report is summarised to SNS with links
    msgs = client("sqs").receive_message(QueueUrl=reports_aws["queue"], MaxNumberOfMessages=10)["Messages"]
    summaries = [json.loads(m["Body"]) for m in msgs]
    acme = next(
        m for m in summaries if m["reportId"] == "daily-2026-11-20" and m["keys"]["json"].startswith("reports/acme")
    )
    assert acme["summary"]["anomalies_detected"] == 8 and acme["event"] == "report.generated"
    assert (
        "X-Amz-Signature" in acme["htmlUrl"]
        and "console.aws.amazon.com/s3/object/guardian-reports" in acme["consoleUrl"]
    )
    # and the KPIs went out as EMF metrics per tenant
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{") and "_aws" in line]
    posture = [e for e in emf if "SecurityPostureScore" in e]
    assert {e["tenantId"] for e in posture} == {"acme", "globex", "_all"}


def test_weekly_and_monthly_reports_add_trends_performance_evolution_capacity_and_cost(reports_aws):
    from anomaly_guardian import wiring
    from anomaly_guardian.reports.service import generate

    seed()
    ports = wiring.report_ports()
    weekly = generate(ports, "weekly", DAY, "acme", notify=False)
    assert weekly["from"] == "2026-11-14T00:00:00Z" and weekly["to"] == "2026-11-21T00:00:00Z"
    assert [d["anomalies"] for d in weekly["trends"]["daily"]] == [0, 0, 0, 0, 0, 1, 8]
    assert weekly["summary"]["total_events_processed"] == 2999
    assert weekly["model_performance"]["precision_by_type"]["behavioral"] == 0.2
    assert {"type": "value", "this_period": 1, "previous_period": 0} in weekly["threat_evolution"]
    monthly = generate(ports, "monthly", DAY, "acme", notify=False)
    assert monthly["from"] == "2026-11-01T00:00:00Z" and monthly["to"] == "2026-12-01T00:00:00Z"
    assert "capacity" in monthly and "system_cost" in monthly and "capacity" not in weekly
    assert ports.store.list("acme")[0]["reportId"] in {"monthly-2026-11-20", "weekly-2026-11-20"}


def test_reports_api_generates_lists_and_gets_per_tenant_and_admin_sees_all(reports_aws, lambda_context, monkeypatch):
    from api_helpers import apigw_event, load_handler, parse

    monkeypatch.setenv("GUARDIAN_PSEUDONYM_KEY", "test-pseudonym-key")
    seed()
    api = load_handler("api")

    def call(fixture, scopes="api:read api:write", tenant="acme", **kw):
        event = apigw_event(fixture, tenant=tenant, **kw)
        event["requestContext"]["authorizer"]["scopes"] = scopes
        return parse(api.lambda_handler(event, lambda_context))

    status, body = call("apigw_post_report", body={"period": "daily", "date": "2026-11-20"})
    assert status == 200 and body["reportId"] == "daily-2026-11-20" and body["summary"]["anomalies_detected"] == 8
    assert call("apigw_post_report", body={"period": "hourly"})[0] == 400
    assert call("apigw_post_report", body={"period": "daily", "date": "2999-01-01"})[0] == 400
    status, listed = call("apigw_get_reports")
    assert status == 200 and [r["reportId"] for r in listed["reports"]] == ["daily-2026-11-20"]
    status, got = call("apigw_get_report")
    assert status == 200 and got["summary"] == body["summary"] and got["links"]["htmlUrl"].startswith("http")
    # another tenant sees none of acme's reports
    assert call("apigw_get_report", tenant="globex")[0] == 404
    assert call("apigw_get_reports", tenant="globex")[1] == {"reports": []}
    # the roll-up over every tenant needs the admin scope
    forbidden = call("apigw_post_report", body={"period": "daily", "date": "2026-11-20", "scope": "all"})
    assert forbidden[0] == 403
    status, admin = call(
        "apigw_post_report",
        scopes="api:read api:write admin",
        body={"period": "daily", "date": "2026-11-20", "scope": "all"},
    )
    assert status == 200 and admin["tenantId"] == "_all" and admin["summary"]["anomalies_detected"] == 9
