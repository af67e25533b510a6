# ruff: noqa: F811 (the API fixtures are imported from test_api)
"""Bad input never reaches a 500 (issue 10), through the real API handler against emulated AWS.

Path parameters are percent-decoded once (API Gateway passes them encoded), bodies must be UTF-8 JSON by
their Content-Type, stored documents that cannot be read are skipped (never a tenant-wide outage), and AWS
timeouts are the documented 503 with Retry-After.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from api_helpers import apigw_event, parse
from test_api import api, call, custom, kms_key, seed  # noqa: F401 (fixtures)

from anomaly_guardian.adapters.dynamodb import client, to_item

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

# Every JSON-body route of the API, with a fixture that carries a valid body for it.
BODY_ROUTES = [
    ("apigw_post_rule", None),
    ("apigw_put_rule", None),
    ("apigw_patch_response_settings", None),
    ("apigw_post_feedback", None),
    ("apigw_post_review", None),
    ("apigw_post_incident_resolve", None),
    ("apigw_post_webhook", None),
]


@pytest.mark.parametrize("user", ["m\u00fcller", "john doe", "a/b", "x@y.com", "100%", "u+1"])
def test_erasure_of_a_user_id_that_needs_percent_encoding_erases_it(call, api, user):
    _, svc = api
    seed(svc, "acme", 3, user=user)
    pseudonym = svc.pseudonymiser.user("acme", user)
    assert len(svc.anomalies.query("acme", user_id=pseudonym)[0]) == 3
    status, body = call("apigw_delete_subject", path_params={"userId": quote(user, safe="")})
    assert status == 200 and body["anomaliesDeleted"] == 3 and body["userPseudonym"] == pseudonym
    assert svc.anomalies.query("acme", user_id=pseudonym)[0] == []


def test_a_path_that_is_not_valid_percent_encoded_utf8_is_a_400(call):
    status, body = call("apigw_delete_subject", path_params={"userId": "%FF%FE"})
    assert status == 400 and body["code"] == "INVALID_PARAMETER" and "percent-encoded" in body["message"]


@pytest.mark.parametrize(("fixture", "_"), BODY_ROUTES)
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None, "application/json; charset=latin-1"]
)
def test_every_json_body_route_answers_415_to_another_media_type(api, lambda_context, fixture, _, content_type):
    module, _svc = api
    event = apigw_event(fixture)
    headers = {k: v for k, v in event["headers"].items() if k.lower() != "content-type"}
    if content_type:
        headers["Content-Type"] = content_type
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    status, body = parse(module.lambda_handler(event, lambda_context))
    assert status == 415 and body["code"] == "UNSUPPORTED_MEDIA_TYPE", body
    assert "Content-Type" in body["message"] or "charset" in body["message"]


@pytest.mark.parametrize(("fixture", "_"), BODY_ROUTES)
def test_every_json_body_route_answers_400_to_a_body_that_is_not_utf8(api, lambda_context, fixture, _):
    module, _svc = api
    event = apigw_event(fixture)
    event["body"] = base64.b64encode(b'{"note": "\xff\xfe"}').decode()
    event["isBase64Encoded"] = True
    status, body = parse(module.lambda_handler(event, lambda_context))
    assert status == 400 and body["code"] == "INVALID_PAYLOAD" and "UTF-8" in body["message"], body


def test_a_base64_utf8_json_body_is_accepted(call, api, lambda_context):
    module, _svc = api
    event = apigw_event("apigw_post_rule")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    status, body = parse(module.lambda_handler(event, lambda_context))
    assert status == 201, body


RULE = json.loads(apigw_event("apigw_post_rule")["body"])


@pytest.mark.parametrize(
    "parameters", [{"": 1}, {"a b": 1}, {"x": 1e200}, {"x" * 65: 1}, {"x": 1e-200}, {"x": "y" * 1001}]
)
def test_rule_action_parameters_that_could_not_be_stored_and_read_back_are_a_400(call, parameters):
    body = RULE | {"actions": [{"type": "notify", "parameters": parameters}]}
    status, err = call("apigw_post_rule", body=body)
    assert status == 400 and err["code"] == "INVALID_PAYLOAD" and "parameter" in err["message"], err


def test_a_stored_rule_that_cannot_be_read_is_skipped_and_reported_not_a_tenant_outage(call, api, capsys, caplog):
    status, good = call("apigw_post_rule", body=RULE)
    assert status == 201
    # an item written before validation existed (or by hand): an empty map key that the SDK cannot parse back
    bad = {
        "pk": "T#acme",
        "sk": "RULE#01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "kind": "rule",
        **RULE,
        "ruleId": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "version": 1,
        "actions": [{"type": "notify", "parameters": {"": 1}}],
    }
    client("dynamodb").put_item(TableName="test-config", Item=to_item(bad))
    capsys.readouterr()
    status, listed = call("apigw_get_rules")
    assert status == 200 and [r["ruleId"] for r in custom(listed)] == [good["ruleId"]]
    assert "StoredItemsUnreadable" in capsys.readouterr().out
    assert any(r.getMessage() == "stored item skipped: it cannot be read" for r in caplog.records)
    # the detector's loader keeps working for this tenant too
    assert [r.ruleId for r in api[1].config.enabled_rules("acme")] == [good["ruleId"]]
    status, err = call("apigw_delete_rule", path_params={"ruleId": bad["ruleId"]})
    assert status in (200, 204, 404), err


def test_an_aws_timeout_is_a_503_with_retry_after(api, lambda_context, monkeypatch):
    from botocore.exceptions import ReadTimeoutError

    module, svc = api

    def stalled(*_a, **_k):
        raise ReadTimeoutError(endpoint_url="http://127.0.0.1:1")

    monkeypatch.setattr(svc.anomalies.ddb, "query", stalled)
    response = module.lambda_handler(apigw_event("apigw_get_anomalies"), lambda_context)
    status, body = parse(response)
    assert status == 503 and body["code"] == "UNAVAILABLE", body
    headers = {
        **(response.get("headers") or {}),
        **{k: v[0] for k, v in (response.get("multiValueHeaders") or {}).items()},
    }
    assert headers.get("Retry-After") == "5"
