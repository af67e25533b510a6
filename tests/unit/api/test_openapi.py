"""docs/openapi.json is generated from the resolver: Given the routers, Then the committed file matches."""

import json
from pathlib import Path

from anomaly_guardian.api.app import openapi_json

DOC = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_resolver():
    assert DOC.read_text() == openapi_json(), "docs/openapi.json is stale: run `make openapi` and commit it"


def test_every_route_is_documented_with_contract_errors():
    doc = json.loads(DOC.read_text())
    paths = doc["paths"]
    for method, path in [
        ("get", "/anomalies"),
        ("get", "/anomalies/{anomalyId}"),
        ("post", "/anomalies/{anomalyId}/feedback"),
        ("post", "/rules"),
        ("get", "/rules"),
        ("put", "/rules/{ruleId}"),
        ("delete", "/rules/{ruleId}"),
        ("post", "/webhooks"),
        ("get", "/webhooks"),
        ("delete", "/webhooks/{webhookId}"),
        ("delete", "/subjects/{userId}"),
    ]:
        responses = paths[path][method]["responses"]
        assert "422" not in responses and responses["400"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Error"
        }
    limit = next(p for p in paths["/anomalies"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"], limit["schema"]["default"]) == (1, 1000, 100)
    assert "secret" not in doc["components"]["schemas"]["Webhook"]["properties"]
    assert doc["security"] == [{"bearer": []}]
