"""Pure parts of the local stack and demo (no AWS, no sockets).

Given API Gateway-style routes, policies, Kinesis records and demo data, when they are mapped,
then they match what API Gateway / Lambda would produce and the report is a self-contained page.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

from anomaly_guardian.local.apigw import Route, _policy_effect, _proxy_response
from anomaly_guardian.local.demo import percentile, tenant_for
from anomaly_guardian.local.kinesis import to_lambda_record
from anomaly_guardian.local.report import render

ARN = "arn:aws:execute-api:us-east-1:123456789012:local/local/GET/anomalies/01ABC"


class _Fn:  # stands in for LocalFunction in routing tests
    spec = None


def test_routes_match_path_parameters_and_greedy_proxies():
    item = Route("GET", "/anomalies/{anomalyId}", _Fn())
    proxy = Route("ANY", "/{proxy+}", _Fn())
    assert item.match("GET", "/anomalies/01ABC") == {"anomalyId": "01ABC"}
    assert item.match("POST", "/anomalies/01ABC") is None
    assert item.match("GET", "/anomalies/01ABC/feedback") is None
    # passed on still percent-encoded, as API Gateway passes path parameters (the API decodes them once)
    assert proxy.match("DELETE", "/a/b%2Fc") == {"proxy": "a/b%2Fc"}
    assert item.specificity > proxy.specificity


def test_policy_evaluation_explicit_deny_wins_and_wildcards_match():
    allow = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": "arn:aws:execute-api:*:*:local/*"}
    deny = {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": ARN}
    assert _policy_effect({"Statement": [allow]}, ARN) == "Allow"
    assert _policy_effect({"Statement": [allow, deny]}, ARN) == "Deny"
    other = {**allow, "Resource": "arn:aws:execute-api:*:*:local/local/POST/*"}
    assert _policy_effect({"Statement": [other]}, ARN) is None


def test_malformed_proxy_responses_become_502_like_api_gateway():
    assert _proxy_response({"body": "x"})[0] == 502
    assert _proxy_response(None)[0] == 502
    status, headers, body = _proxy_response({"statusCode": 201, "headers": {"A": "1"}, "body": "ok"})
    assert (status, headers, body) == (201, [("A", "1")], b"ok")
    raw = base64.b64encode(b"\x00\x01").decode()
    assert _proxy_response({"statusCode": 200, "body": raw, "isBase64Encoded": True})[2] == b"\x00\x01"


def test_kinesis_records_have_the_lambda_event_shape():
    rec = {
        "Data": b'{"a": 1}',
        "PartitionKey": "acme#u1",
        "SequenceNumber": "49590338271490256608559692538361571095921575989136588898",
        "ApproximateArrivalTimestamp": datetime(2026, 3, 2, tzinfo=UTC),
    }
    out = to_lambda_record(rec, "shardId-000000000001", "arn:aws:kinesis:us-east-1:123456789012:stream/s")
    assert out["kinesis"]["data"] == base64.b64encode(b'{"a": 1}').decode()
    assert out["eventID"] == f"shardId-000000000001:{rec['SequenceNumber']}"
    assert out["eventSource"] == "aws:kinesis" and out["eventName"] == "aws:kinesis:record"
    assert out["kinesis"]["approximateArrivalTimestamp"] == datetime(2026, 3, 2, tzinfo=UTC).timestamp()


def test_percentiles_interpolate_and_handle_small_samples():
    assert percentile([], 95) is None
    assert percentile([2.0], 95) == 2.0
    assert percentile([1, 2, 3, 4, 5], 50) == 3
    assert abs(percentile([1, 2, 3, 4, 5], 95) - 4.8) < 1e-9


def test_tenant_assignment_keeps_each_entity_and_each_velocity_episode_together():
    tenants = ("a", "b", "c")
    u = [tenant_for({"userId": "user-7", "eventType": "login"}, None, tenants) for _ in range(3)]
    assert len(set(u)) == 1
    victims = {
        tenant_for({"userId": f"victim-{i}", "eventType": "login"}, ("velocity", "velocity-0003"), tenants)
        for i in range(20)
    }
    assert len(victims) == 1
    metric = {"eventType": "metric", "service": "checkout", "metricName": "latency", "userId": "x"}
    assert tenant_for(metric, None, tenants) == tenant_for({**metric, "userId": "y"}, None, tenants)


def test_report_is_self_contained_html_with_both_charts():
    anomalies = [
        {"anomalyType": kind, "originalEvent": {"timestamp": f"2026-03-02T{h:02d}:15:00Z"}}
        for h, kind in [(1, "value"), (1, "velocity"), (5, "system"), (23, "geolocation")]
    ]
    page = render(
        title="t",
        summary_headers=["type", "n"],
        summary_rows=[["value", 1]],
        facts=[("p95", "1.0s")],
        anomalies=anomalies,
        rejected=[("bad <json>", 400, "Malformed JSON")],
    )
    assert page.count("<svg") == 2
    assert not re.search(r"(src|href)=['\"]https?://", page)  # nothing fetched from a CDN
    assert "<script" not in page
    assert "bad &lt;json&gt;" in page  # escaped
    assert "geolocation 23:00 UTC: 1" in page


ISOLATION_SCRIPT = """
import threading
from anomaly_guardian.local.isolation import thread_local_router_state
from aws_lambda_powertools.event_handler.api_gateway import APIGatewayRestResolver, BaseRouter

patched = thread_local_router_state()
ingest, api = APIGatewayRestResolver(), APIGatewayRestResolver()
a_set, b_set = threading.Event(), threading.Event()
seen = {}

def ingest_call():
    BaseRouter.current_event = "POST /events"
    a_set.set(); b_set.wait(5)
    seen["ingest"] = ingest.current_event

def api_call():
    a_set.wait(5)
    BaseRouter.current_event = "GET /anomalies"
    b_set.set()
    seen["api"] = api.current_event

threads = [threading.Thread(target=ingest_call), threading.Thread(target=api_call)]
[t.start() for t in threads]; [t.join() for t in threads]
print(patched, seen["ingest"], "|", seen["api"])
"""


def test_concurrent_api_functions_keep_their_own_request():
    """Powertools keeps the current request on a class attribute; two API functions served by one
    process must each see their own request (run in a subprocess: the fix patches Powertools)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", ISOLATION_SCRIPT], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True POST /events | GET /anomalies", out.stdout + out.stderr
