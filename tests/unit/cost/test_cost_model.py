"""Cost Explorer items -> cost anomalies: threshold, score, root causes, correlation key, query window."""

from __future__ import annotations

from datetime import date

from anomaly_guardian.cost import aws_entity, query_window, score_for, service_api, to_anomaly
from anomaly_guardian.response.correlation import Incident, anomaly_span, correlate, pick_incident


def item(total, service="Amazon Elastic Compute Cloud - Compute", region="us-east-1", account="111122223333"):
    return {
        "AnomalyId": "a1",
        "AnomalyStartDate": "2026-03-01",
        "AnomalyEndDate": "2026-03-02",
        "RootCauses": [{"Service": service, "Region": region, "LinkedAccount": account, "UsageType": "BoxUsage"}],
        "Impact": {"TotalImpact": total, "TotalActualSpend": total + 10, "TotalExpectedSpend": 10.0},
    }


def test_threshold_is_the_tenants_and_the_score_grows_with_impact():
    assert to_anomaly(item(99.0), "t", 100.0, "01J0000000000000000000000A", "2026-03-02T10:00:00.000Z") is None
    at = to_anomaly(item(100.0), "t", 100.0, "01J0000000000000000000000A", "2026-03-02T10:00:00.000Z")
    assert at.anomalyScore == 0.6 and at.severity == "MEDIUM"
    assert score_for(1000.0, 100.0) == 0.9 and score_for(1e6, 100.0) == 0.99
    # a tenant that raised cost-check to $500 does not hear about a $300 anomaly
    assert to_anomaly(item(300.0), "t", 500.0, "01J0000000000000000000000A", "2026-03-02T10:00:00.000Z") is None


def test_root_cause_gives_the_correlation_key_and_the_span():
    a = to_anomaly(item(250.0), "t", 100.0, "01J0000000000000000000000A", "2026-03-02T10:00:00.000Z")
    assert (
        a.entities == {"aws": "111122223333|ec2|us-east-1"} == {"aws": aws_entity("111122223333", "ec2", "us-east-1")}
    )
    assert a.window == {"start": "2026-03-01T00:00:00Z", "end": "2026-03-03T00:00:00Z"}
    assert service_api("AWS Lambda") == "lambda" and service_api("EC2 - Other") == "ec2"
    lo, hi = anomaly_span(a.model_dump(mode="json"))
    assert hi - lo == 2 * 86400


def test_a_cost_anomaly_days_later_still_joins_the_usage_incident_of_its_days():
    usage = {
        "anomalyId": "01J0000000000000000000000B",
        "anomalyType": "usage",
        "anomalyScore": 0.8,
        "severity": "HIGH",
        "detectedAt": "2026-03-01T14:00:00Z",
        "entities": {"aws": "111122223333|ec2|us-east-1"},
        "costEstimate": {"daily": 786.5},
    }
    inc = Incident(incidentId="I1", tenantId="t")
    correlate(inc, usage, "2026-03-01T14:00:00Z")
    cost = to_anomaly(item(2000.0), "t", 100.0, "01J0000000000000000000000C", "2026-03-03T09:00:00.000Z")
    data = cost.model_dump(mode="json")
    from anomaly_guardian.response.correlation import epoch_of

    at = epoch_of(data["detectedAt"])
    assert pick_incident([inc], at, 1800) is None  # on detectedAt alone it is 43 h too late
    assert pick_incident([inc], at, 1800, anomaly_span(data)) is inc
    correlate(inc, data, "2026-03-03T09:00:00Z")
    assert inc.estimatedCostUsd == 2000.0 and "about $2,000 at stake" in inc.summary


def test_query_window_since_the_last_run_with_overlap():
    assert query_window(None, date(2026, 3, 10)) == ("2026-03-03", "2026-03-10")
    assert query_window("2026-03-09", date(2026, 3, 10)) == ("2026-03-08", "2026-03-10")
    assert query_window("2026-03-12", date(2026, 3, 10)) == ("2026-03-10", "2026-03-10")
