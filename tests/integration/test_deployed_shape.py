"""Journeys over the local stack in the deployed shape, driven as a user would (HTTP API + CLI).

Given `guardian local` started from sam/template.yaml, each test drives one event source of the
template end to end: the Anomalies table stream into the search indexer and the local OpenSearch,
and (below) CloudTrail records through the CloudWatch Logs subscription, schedules on the local
clock, EventBridge rules and the Kinesis -> Firehose -> S3 archive.
"""

from __future__ import annotations

import json
import uuid

from botocore.credentials import Credentials
from local_helpers import wait_for

from anomaly_guardian.adapters.opensearch import OpenSearchClient


def search(local_stack, query: dict) -> list[dict]:
    """A signed `_search` against the local OpenSearch, as an analyst's tool would send it."""
    client = OpenSearchClient(
        local_stack.info["opensearch_url"], "us-east-1", credentials=Credentials("testing", "testing")
    )
    return client.request("POST", "/anomalies-*/_search", json.dumps({"query": query, "size": 100}).encode())["hits"][
        "hits"
    ]


def test_an_anomaly_becomes_a_search_document_through_the_table_stream(api, local_stack):
    # Given a user with a short history, when a 9,800 transaction is POSTed
    user = f"it-search-{uuid.uuid4().hex[:8]}"
    history = [
        {
            "eventId": f"{user}-{m}",
            "userId": user,
            "timestamp": f"2026-03-02T09:{m:02d}:00Z",
            "eventType": "transaction",
            "transactionAmount": 25 + m,
        }
        for m in range(4)
    ]
    big = {
        "eventId": f"{user}-big",
        "userId": user,
        "timestamp": "2026-03-02T10:00:00Z",
        "eventType": "transaction",
        "transactionAmount": 9_800,
    }
    assert api("POST", "/events", json={"events": [*history, big]}, tenant="initech").status_code == 202

    def anomaly():
        rows = api("GET", "/anomalies", tenant="initech", params={"limit": 1000}).json()["anomalies"]
        return next((a for a in rows if a["originalEvent"]["eventId"] == big["eventId"]), None)

    found = wait_for(anomaly, timeout=10)
    assert found, "no anomaly for the 9,800 transaction"
    # Then the table stream delivers it to the search indexer and its document is searchable,
    # under the tenant's id, in the month's index, with the same contract fields as the API.
    hits = wait_for(lambda: search(local_stack, {"term": {"anomalyId": found["anomalyId"]}}), timeout=15)
    assert hits, "the anomaly never reached the local OpenSearch"
    doc = hits[0]
    assert doc["_id"] == f"initech:{found['anomalyId']}" and doc["_index"] == "anomalies-" + found["detectedAt"][
        :7
    ].replace("-", ".")
    assert doc["_source"]["tenantId"] == "initech" and doc["_source"]["severity"] == found["severity"]
    assert doc["_source"]["originalEvent"]["eventId"] == big["eventId"]
    stats = local_stack.stats()
    assert stats["deliveries"].get("SearchIndexerFunction.AnomaliesStream", 0) >= 1
    assert stats["opensearch"]["denied"] == 0  # every request of the indexer was signed correctly
