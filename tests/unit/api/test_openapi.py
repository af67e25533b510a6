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


def test_204_answers_declare_no_body():
    # issue #10: 204 responses were declared as JSON (a generated client then tries to parse nothing)
    doc = json.loads(DOC.read_text())
    no_content = [
        (method, path, op["responses"]["204"])
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if "204" in op["responses"]
    ]
    assert no_content, "expected DELETE routes answering 204"
    assert all("content" not in response for _m, _p, response in no_content), no_content


def test_post_events_is_in_the_contract_with_sigv4_and_the_duplicates_report():
    # issue #10: POST /events was missing from the document, so nothing could fuzz it or generate a client
    doc = json.loads(DOC.read_text())
    operation = doc["paths"]["/events"]["post"]
    assert {"sigv4": []} in operation["security"]
    assert doc["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert {"202", "400", "401", "403", "413", "415", "429", "503"} <= set(operation["responses"])
    accepted = doc["components"]["schemas"]["EventsAccepted"]
    assert {"accepted", "duplicates"} <= set(accepted["required"])
    assert accepted["properties"]["duplicates"]["items"]["properties"]["reason"]["enum"] == ["DIFFERENT_PAYLOAD"]
    assert "Retry-After" in operation["responses"]["503"]["headers"]
