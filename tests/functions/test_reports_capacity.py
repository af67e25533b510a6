"""The monthly report's capacity planning and the system's own cost, against emulated AWS: the Kinesis
stream, DynamoDB tables and CloudWatch metrics are moto's, Cost Explorer GetCostAndUsage answers from
moto's result queue; Lambda GetAccountSettings (which moto lacks) is a botocore Stubber."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest
import requests
from api_helpers import load_handler
from botocore.stub import Stubber
from test_reports import reports_aws, seed  # noqa: F401

from anomaly_guardian.adapters.capacity import PERIOD_S, CapacityReader
from anomaly_guardian.adapters.cost_explorer import SystemCost
from anomaly_guardian.adapters.dynamodb import client

DAY = date(2026, 11, 20)
MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)
MONTH_END = datetime(2026, 12, 1, tzinfo=UTC)
BUSY = datetime(2026, 11, 12, 14, 0, tzinfo=UTC)


def put(namespace, name, value, dims, at, unit="Count"):
    client("cloudwatch").put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
                "Timestamp": at,
                "Value": value,
                "Unit": unit,
            }
        ],
    )


def a_month_of_metrics(stream, provisioned, on_demand):
    """A quiet month with one busy 5 minutes (12 Nov, 14:00) and some throttling."""
    for day in (3, 12, 25):
        at = datetime(2026, 11, day, 9, tzinfo=UTC)
        put("AWS/Kinesis", "IncomingRecords", 30_000, {"StreamName": stream}, at)
        put("AWS/Kinesis", "IncomingBytes", 15_000_000, {"StreamName": stream}, at, "Bytes")
        put("AWS/DynamoDB", "ConsumedReadCapacityUnits", 600, {"TableName": provisioned}, at)
        put("AWS/DynamoDB", "ConsumedWriteCapacityUnits", 300, {"TableName": provisioned}, at)
        put("AWS/DynamoDB", "ConsumedWriteCapacityUnits", 3_000, {"TableName": on_demand}, at)
        put("AWS/Lambda", "ConcurrentExecutions", 40, {}, at)
    # the peak: 480,000 records in 5 minutes = 1,600/s on 2 shards (2,000/s): 80 %
    put("AWS/Kinesis", "IncomingRecords", 480_000, {"StreamName": stream}, BUSY)
    put("AWS/Kinesis", "IncomingBytes", 96_000_000, {"StreamName": stream}, BUSY, "Bytes")
    put("AWS/Kinesis", "WriteProvisionedThroughputExceeded", 12, {"StreamName": stream}, BUSY)
    put("AWS/DynamoDB", "ConsumedWriteCapacityUnits", 1_350, {"TableName": provisioned}, BUSY)  # 4.5 of 5 WCU/s
    put("AWS/DynamoDB", "WriteThrottleEvents", 7, {"TableName": provisioned}, BUSY)
    put("AWS/Lambda", "ConcurrentExecutions", 310, {}, BUSY)
    put("AWS/Lambda", "Throttles", 3, {}, BUSY)
    # outside the month: not counted
    put("AWS/Kinesis", "IncomingRecords", 9_000_000, {"StreamName": stream}, MONTH_END + timedelta(hours=1))


@pytest.fixture
def capacity_aws(reports_aws, events_stream):  # noqa: F811
    ddb = client("dynamodb")
    ddb.create_table(
        TableName="cap-provisioned",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 10, "WriteCapacityUnits": 5},
    )
    ddb.create_table(
        TableName="cap-on-demand",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    a_month_of_metrics(events_stream, "cap-provisioned", "cap-on-demand")
    lam = boto3.client("lambda", region_name="us-east-1")
    stub = Stubber(lam)
    stub.add_response(
        "get_account_settings",
        {"AccountLimit": {"ConcurrentExecutions": 1000, "UnreservedConcurrentExecutions": 900}, "AccountUsage": {}},
    )
    with stub:
        yield {"stream": events_stream, "lambda": lam, "stub": stub}


def queue_cost_explorer_result(result):
    """moto answers GetCostAndUsage from a queue configured through its own API."""
    resp = requests.post("http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results", json=result)
    assert resp.status_code == 201


def test_capacity_is_each_resources_peak_against_its_limit(capacity_aws):
    # Given a month of CloudWatch metrics for a 2-shard stream, a provisioned and an on-demand table
    reader = CapacityReader(
        [capacity_aws["stream"]], ["cap-provisioned", "cap-on-demand"], lambda_client=capacity_aws["lambda"]
    )
    # When the month's capacity is read
    cap = reader.read(MONTH_START, MONTH_END)
    capacity_aws["stub"].assert_no_pending_responses()
    # Then the stream's peak 5 minutes is set against 2 shards x 1,000 records/s and 1 MiB/s
    (stream,) = cap["streams"]
    assert stream["openShards"] == 2 and stream["mode"] == "PROVISIONED"
    assert stream["incomingRecords"] == 3 * 30_000 + 480_000  # the next month's traffic left out
    assert stream["peakRecordsPerSecond"] == 480_000 / PERIOD_S == 1600.0
    assert stream["recordsLimitPerSecond"] == 2000 and stream["bytesLimitPerSecond"] == 2 * 1024 * 1024
    assert stream["utilisation"] == 0.8 and stream["writeThrottled"] == 12
    # and the provisioned table against its provisioned units, the on-demand one against the account maximum
    prov, od = cap["tables"]
    assert prov["billingMode"] == "PROVISIONED" and prov["limitSource"] == "provisioned capacity"
    assert (prov["readLimitPerSecond"], prov["writeLimitPerSecond"]) == (10, 5)
    assert prov["peakWriteUnitsPerSecond"] == 4.5 and prov["writeUtilisation"] == 0.9
    assert prov["peakReadUnitsPerSecond"] == 2.0 and prov["readUtilisation"] == 0.2
    assert prov["consumedWriteUnits"] == 3 * 300 + 1_350 and prov["throttleEvents"] == 7
    assert od["billingMode"] == "PAY_PER_REQUEST" and od["limitSource"] == "the account's per-table maximum"
    assert od["writeLimitPerSecond"] == 10000 and od["writeUtilisation"] == 0.001  # 10 WCU/s of 10,000
    # and Lambda's peak concurrency against the account limit
    assert cap["lambda"] == {
        "peakConcurrentExecutions": 310.0,
        "accountConcurrencyLimit": 1000,
        "unreservedConcurrencyLimit": 900,
        "utilisation": 0.31,
        "throttles": 3,
    }
    # and what peaked at 80 % or more is called out
    assert len(cap["warnings"]) == 2 and cap["errors"] == []
    assert any("stream" in w and "80%" in w for w in cap["warnings"])
    assert any("cap-provisioned" in w and "90% of its write limit" in w for w in cap["warnings"])


def test_a_failing_reader_is_named_and_the_other_figures_stay(capacity_aws):
    # Given a table that does not exist and a Lambda endpoint that refuses
    lam = boto3.client("lambda", region_name="us-east-1")
    with Stubber(lam) as stub:
        stub.add_client_error("get_account_settings", "AccessDeniedException", "not allowed")
        cap = CapacityReader([capacity_aws["stream"]], ["cap-missing"], lambda_client=lam).read(MONTH_START, MONTH_END)
    # Then the stream is still reported, and the table and Lambda say why they are not
    assert len(cap["streams"]) == 1 and cap["tables"] == [] and cap["lambda"] is None
    assert any(e.startswith("table cap-missing:") for e in cap["errors"])
    assert any(e.startswith("Lambda concurrency:") and "not allowed" in e for e in cap["errors"])


def test_system_cost_asks_cost_explorer_for_the_stacks_tags_and_pages():
    # Given Cost Explorer (Stubber: the request itself is the point) with two pages of services
    ce = boto3.client("ce", region_name="us-east-1")
    tags = {"project": "anomaly-guardian", "environment": "prod"}
    expected = {
        "TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "Filter": {
            "And": [
                {"Tags": {"Key": "environment", "Values": ["prod"], "MatchOptions": ["EQUALS"]}},
                {"Tags": {"Key": "project", "Values": ["anomaly-guardian"], "MatchOptions": ["EQUALS"]}},
            ]
        },
    }

    def page(groups, token=None):
        body = {
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"},
                    "Total": {},
                    "Groups": [
                        {"Keys": [k], "Metrics": {"UnblendedCost": {"Amount": str(v), "Unit": "USD"}}}
                        for k, v in groups
                    ],
                    "Estimated": True,
                }
            ]
        }
        return body | ({"NextPageToken": token} if token else {})

    with Stubber(ce) as stub:
        stub.add_response(
            "get_cost_and_usage", page([("AWS Lambda", 41.204), ("Amazon DynamoDB", 12.5)], "p2"), expected
        )
        stub.add_response(
            "get_cost_and_usage",
            page([("Amazon Kinesis", 21.9), ("Tax", 0.001)]),
            expected | {"NextPageToken": "p2"},
        )
        cost = SystemCost(tags, ce=ce).read("2026-11-01", "2026-12-01")
        stub.assert_no_pending_responses()
    # Then the total and the services, largest first, for those tags
    assert cost["totalUsd"] == 75.61 and cost["currency"] == "USD" and cost["estimated"] is True
    assert [s["service"] for s in cost["byService"]] == ["AWS Lambda", "Amazon Kinesis", "Amazon DynamoDB"]
    assert cost["byService"][0]["usd"] == 41.2 and cost["tags"] == tags


def test_a_refused_cost_explorer_call_leaves_the_system_cost_empty_with_a_short_reason():
    # Given Cost Explorer refusing the call (no permission, or Cost Explorer not enabled)
    ce = boto3.client("ce", region_name="us-east-1")
    with Stubber(ce) as stub:
        stub.add_client_error("get_cost_and_usage", "AccessDeniedException", "User is not authorized\nrequest id: abc")
        # When the system cost is read
        cost = SystemCost({"project": "anomaly-guardian"}, ce=ce).read("2026-11-01", "2026-12-01")
    # Then the report gets no figure and the first line of the refusal, not the whole error
    assert cost["value"] is None
    assert cost["reason"].startswith("Cost Explorer GetCostAndUsage failed: An error occurred (AccessDenied")
    assert "AccessDeniedException" in cost["reason"] and "request id" not in cost["reason"]


def test_the_scheduled_monthly_admin_report_carries_capacity_and_cost_in_json_and_html(
    capacity_aws, lambda_context, monkeypatch
):
    # Given the stack's resources, a month of metrics and Cost Explorer's figure for the stack's tags
    seed()
    monkeypatch.setenv("STATE_TABLE", "cap-provisioned")
    monkeypatch.setenv("SYSTEM_COST_TAGS", "project=anomaly-guardian,environment=dev")
    queue_cost_explorer_result(
        {
            "results": [
                {
                    "ResultsByTime": [
                        {
                            "TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"},
                            "Total": {},
                            "Groups": [
                                {
                                    "Keys": ["AWS Lambda"],
                                    "Metrics": {"UnblendedCost": {"Amount": "18.25", "Unit": "USD"}},
                                },
                                {
                                    "Keys": ["Amazon Kinesis"],
                                    "Metrics": {"UnblendedCost": {"Amount": "21.9", "Unit": "USD"}},
                                },
                            ],
                            "Estimated": False,
                        }
                    ]
                }
            ]
        }
    )
    handler = load_handler("reports")
    handler.ports.capacity.lambda_client = capacity_aws["lambda"]
    # When the monthly schedule fires for November
    result = handler.lambda_handler({"period": "monthly", "date": DAY.isoformat()}, lambda_context)
    assert result["period"] == "monthly" and set(result["tenants"]) == {"acme", "globex"}
    s3 = client("s3")
    admin = json.loads(
        s3.get_object(Bucket="guardian-reports", Key="reports/_all/monthly/2026-11-20.json")["Body"].read()
    )
    page = s3.get_object(Bucket="guardian-reports", Key="reports/_all/monthly/2026-11-20.html")["Body"].read().decode()
    # Then the admin report has the stream's and the tables' utilisation and the system's cost
    cap = admin["capacity"]
    assert cap["streams"][0]["utilisation"] == 0.8 and cap["lambda"]["peakConcurrentExecutions"] == 310.0
    names = [t["name"] for t in cap["tables"]]
    assert "cap-provisioned" in names and len(names) == 7  # the stack's seven tables (STATE_TABLE swapped)
    assert admin["system_cost"]["totalUsd"] == 40.15
    assert admin["system_cost"]["byService"][0] == {"service": "Amazon Kinesis", "usd": 21.9}
    # and the HTML shows them: utilisation chart, the figures table, the warnings and the dollars
    assert "<h2>Capacity planning</h2>" in page and 'aria-label="Peak utilisation (% of limit)"' in page
    assert "1600 records/s" in page and "80.0%" in page
    assert "peaked at 90% of its write limit" in page
    assert "<h2>Cost of the system</h2>" in page and "40.15 USD" in page
    # and a tenant's own monthly report points to the admin one instead of showing stack-wide figures
    acme = json.loads(
        s3.get_object(Bucket="guardian-reports", Key="reports/acme/monthly/2026-11-20.json")["Body"].read()
    )
    assert acme["capacity"]["value"] is None and "admin report" in acme["capacity"]["reason"]
    assert acme["system_cost"]["value"] is None
