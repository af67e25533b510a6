"""End to end over HTTP on the local stack: the real authorizer, ingest, Kinesis, detector and API.

Given the stack started from sam/template.yaml and tokens from `guardian token`,
when events are POSTed to /events, then anomalies become visible in GET /anomalies within seconds,
bad input is refused with a reason and never reaches the stream, and tenants never see each other.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest
from local_helpers import wait_for


def event(**overrides):
    base = {
        "eventId": f"it-{uuid.uuid4().hex[:12]}",
        "userId": "it-user-1",
        "timestamp": "2026-03-02T10:00:00Z",
        "eventType": "transaction",
        "transactionAmount": 42.5,
    }
    return {**base, **overrides}


def anomalies_for(api, tenant, event_id):
    body = api("GET", "/anomalies", tenant=tenant, params={"limit": 1000}).json()
    return [a for a in body["anomalies"] if a["originalEvent"]["eventId"] == event_id]


# ---------------------------------------------------------------------------------- happy path
def test_a_large_transaction_is_visible_as_a_value_anomaly_within_seconds(api):
    user = f"it-{uuid.uuid4().hex[:8]}"
    history = [event(userId=user, timestamp=f"2026-03-02T09:{m:02d}:00Z", transactionAmount=30 + m) for m in range(5)]
    big = event(userId=user, timestamp="2026-03-02T10:00:00Z", transactionAmount=9_500)
    resp = api("POST", "/events", json={"events": [*history, big]})
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "success" and body["accepted"] == 6
    accepted = time.monotonic()

    found = wait_for(lambda: anomalies_for(api, "acme", big["eventId"]), timeout=5)
    latency = time.monotonic() - accepted
    assert found, "no anomaly for the 9,500 transaction within 5 s"
    anomaly = found[0]
    assert anomaly["anomalyType"] == "value" and anomaly["tenantId"] == "acme"
    assert anomaly["userId"] != user  # pseudonymised before storage
    assert anomaly["explanation"] and 0 <= anomaly["anomalyScore"] <= 1
    assert latency < 5
    # And it is addressable by id.
    one = api("GET", f"/anomalies/{anomaly['anomalyId']}")
    assert one.status_code == 200 and one.json()["anomalyId"] == anomaly["anomalyId"]


def test_single_event_body_is_accepted_and_reaches_the_stream_with_the_tenant_from_the_token(api, stream_reader):
    ev = event()
    resp = api("POST", "/events", json=ev, tenant="globex")
    assert resp.status_code == 202 and resp.json()["eventId"] == ev["eventId"]
    records = wait_for(lambda: [r for r in stream_reader() if r["event"]["eventId"] == ev["eventId"]])
    assert records and records[0]["tenantId"] == "globex"


# ---------------------------------------------------------------------------------- bad input
OVERSIZED = {"events": [event(metadata={"blob": "x" * 900_000})]}
DEEP = (
    '{"eventId":"deep","userId":"u","timestamp":"2026-03-02T10:00:00Z","eventType":"x","metadata":'
    + ('{"a":' * 5000)
    + "1"
    + "}" * 5000
    + "}"
)

BAD_CASES = [
    ("malformed JSON", b'{"eventId": "bad-json", "userId": ', 400, "Malformed JSON"),
    ("not an object", b"[1, 2, 3]", 400, "JSON object"),
    (
        "missing userId",
        json.dumps({k: v for k, v in event(eventId="bad-missing").items() if k != "userId"}),
        400,
        "userId",
    ),
    ("amount is text", json.dumps(event(eventId="bad-type", transactionAmount="lots")), 400, "transactionAmount"),
    ("negative amount", json.dumps(event(eventId="bad-neg", transactionAmount=-5)), 400, "transactionAmount"),
    ("timestamp not ISO", json.dumps(event(eventId="bad-ts", timestamp="yesterday")), 400, "timestamp"),
    ("tenantId in body", json.dumps(event(eventId="bad-tenant", tenantId="globex")), 400, "tenantId"),
    ("empty body", b"", 400, "empty"),
    ("too many events", json.dumps({"events": [event() for _ in range(501)]}), 400, "500"),
    (
        "one bad event in a batch",
        json.dumps({"events": [event(eventId="bad-b1"), event(eventId="bad-b2", userId="")]}),
        400,
        "events[1]",
    ),
    ("oversized body", json.dumps(OVERSIZED), 413, "bytes"),
    ("deep nesting", DEEP, 400, ""),
    (
        "lone surrogate",
        '{"eventId":"bad-\\ud800","userId":"u","timestamp":"2026-03-02T10:00:00Z","eventType":"x"}',
        400,
        "eventId",
    ),
]


@pytest.mark.parametrize(("name", "body", "status", "hint"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input_gets_a_clear_error_and_stores_nothing(api, stream_reader, name, body, status, hint):
    data = body if isinstance(body, bytes) else body.encode("utf-8")
    resp = api("POST", "/events", data=data, headers={"Content-Type": "application/json"})
    assert resp.status_code == status, f"{name}: {resp.status_code} {resp.text[:300]}"
    err = resp.json()
    assert err["status"] == "error" and err["code"] and err["message"], err
    assert hint.lower() in err["message"].lower(), err["message"]
    sent_ids = {"bad-json", "bad-missing", "bad-type", "bad-neg", "bad-ts", "bad-tenant", "bad-b1", "bad-b2", "deep"}
    leaked = [r for r in stream_reader() if str(r["event"].get("eventId", "")).startswith(tuple(sent_ids))]
    assert leaked == [], f"{name}: refused events reached the stream: {leaked[:2]}"


def test_wrong_content_type_is_refused(api):
    resp = api("POST", "/events", data=json.dumps(event()), headers={"Content-Type": "text/plain"})
    assert resp.status_code == 415 and "Content-Type" in resp.json()["message"]


def test_odd_but_valid_unicode_is_accepted_and_kept_intact(api, stream_reader):
    ev = event(userId="用户-🙂-\u202eevil", metadata={"note": "zero\u200bwidth", "nul": "a\u0000b"})
    resp = api("POST", "/events", json=ev)
    assert resp.status_code == 202, resp.text
    rec = wait_for(lambda: [r for r in stream_reader() if r["event"]["eventId"] == ev["eventId"]])
    assert rec and rec[0]["event"]["userId"] == ev["userId"] and rec[0]["event"]["metadata"] == ev["metadata"]


def test_bad_query_parameters_on_get_anomalies_are_400_with_the_parameter_named(api):
    resp = api("GET", "/anomalies", params={"limit": "5000"})
    assert resp.status_code == 400 and "limit" in resp.text
    resp = api("GET", "/anomalies", params={"fromDate": "not-a-date"})
    assert resp.status_code == 400 and "fromDate" in resp.text


# ---------------------------------------------------------------------------------- auth and tenancy
@pytest.mark.parametrize("path", ["/anomalies", "/events"])
def test_no_token_is_401(api, path):
    method = "POST" if path == "/events" else "GET"
    resp = api(method, path, tenant=None, json=event())
    assert resp.status_code == 401
    assert resp.json() == {"status": "error", "code": "UNAUTHORIZED", "message": "Unauthorized"}


def test_a_forged_token_is_401(api, token_for):
    header, payload, _sig = token_for("acme").split(".")
    resp = api("GET", "/anomalies", tenant=None, headers={"Authorization": f"Bearer {header}.{payload}.AAAA"})
    assert resp.status_code == 401


def test_a_tenant_cannot_see_another_tenants_anomalies(api):
    user = f"it-{uuid.uuid4().hex[:8]}"
    big = event(userId=user, transactionAmount=25_000)
    assert api("POST", "/events", json=big, tenant="tenant-b").status_code == 202
    found = wait_for(lambda: anomalies_for(api, "tenant-b", big["eventId"]), timeout=5)
    assert found, "tenant-b's anomaly never appeared"
    anomaly_id = found[0]["anomalyId"]

    listed = api("GET", "/anomalies", tenant="tenant-a", params={"limit": 1000}).json()["anomalies"]
    assert all(a["tenantId"] == "tenant-a" for a in listed)
    assert anomaly_id not in {a["anomalyId"] for a in listed}
    assert api("GET", f"/anomalies/{anomaly_id}", tenant="tenant-a").status_code == 404
    assert api("GET", f"/anomalies/{anomaly_id}", tenant="tenant-b").status_code == 200


def test_pagination_walks_every_anomaly_once(api):
    user = f"it-{uuid.uuid4().hex[:8]}"
    events = [event(userId=user, timestamp=f"2026-03-02T11:{i:02d}:00Z", transactionAmount=6_000 + i) for i in range(7)]
    assert api("POST", "/events", json={"events": events}, tenant="pager").status_code == 202
    wait_for(lambda: len(api("GET", "/anomalies", tenant="pager").json()["anomalies"]) >= 7, timeout=6)
    seen, token, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"nextToken": token} if token else {})}
        body = api("GET", "/anomalies", tenant="pager", params=params).json()
        seen.extend(a["anomalyId"] for a in body["anomalies"])
        pages += 1
        token = body["pagination"]["nextToken"]
        assert body["pagination"]["hasMore"] == (token is not None)
        if not token:
            break
    assert len(seen) == len(set(seen)) >= 7 and pages >= 3
