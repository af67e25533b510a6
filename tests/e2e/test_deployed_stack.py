"""End to end against a deployed stack (staging in the deploy workflow).

Needs `GUARDIAN_API_URL` (the stage URL) and `GUARDIAN_TOKEN` (a bearer token for a test tenant);
skipped without them. Ingestion uses IAM auth in AWS, so `GUARDIAN_INGEST_SIGV4=1` signs POST /events
with the runner's credentials (botocore SigV4) instead of the bearer token.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests

API = os.environ.get("GUARDIAN_API_URL", "").rstrip("/")
TOKEN = os.environ.get("GUARDIAN_TOKEN", "")
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not (API and TOKEN), reason="no deployed stack configured")]


def _post_events(body: dict) -> requests.Response:
    data = json.dumps(body)
    headers = {"Content-Type": "application/json"}
    if os.environ.get("GUARDIAN_INGEST_SIGV4") == "1":
        import boto3
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        request = AWSRequest(method="POST", url=f"{API}/events", data=data, headers=headers)
        region = os.environ.get("AWS_REGION", "us-east-1")
        SigV4Auth(boto3.Session().get_credentials(), "execute-api", region).add_auth(request)
        headers = dict(request.headers)
    else:
        headers["Authorization"] = f"Bearer {TOKEN}"
    return requests.post(f"{API}/events", data=data, headers=headers, timeout=10)


def test_a_large_transaction_becomes_a_value_anomaly_within_seconds():
    event_id = f"e2e-{uuid.uuid4()}"
    event = {
        "eventId": event_id,
        "userId": f"e2e-user-{uuid.uuid4().hex[:8]}",
        "timestamp": datetime.now(UTC).isoformat(),
        "eventType": "transaction",
        "transactionAmount": 25_000,
        "geoLocation": "us-east-1",
    }
    accepted = _post_events(event)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["eventId"] == event_id
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        resp = requests.get(
            f"{API}/anomalies",
            params={"anomalyType": "value", "limit": 100},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert resp.status_code == 200, resp.text
        if any(a["originalEvent"]["eventId"] == event_id for a in resp.json()["anomalies"]):
            return
        time.sleep(1)
    pytest.fail(f"no value anomaly for {event_id} within 30 s")


def test_malformed_event_is_refused_with_a_reason():
    resp = _post_events({"eventId": "e2e-bad", "timestamp": "2026-01-01T00:00:00Z", "eventType": "login"})
    assert resp.status_code == 400
    assert resp.json() == {"status": "error", "code": "INVALID_PAYLOAD", "message": "Missing required field: userId"}


def test_no_token_is_unauthorised():
    resp = requests.get(f"{API}/anomalies", timeout=10)
    assert resp.status_code in (401, 403)
