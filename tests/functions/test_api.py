"""The API Lambda with its real handler against emulated AWS (moto DynamoDB + KMS).

Given API Gateway proxy events from tests/events (requestContext.authorizer set as our authorizer
sets it), When the handler runs, Then responses follow the contract and the tables say so.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from api_helpers import apigw_event, load_handler, parse

from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.ids import new_ulid
from anomaly_guardian.models.anomaly import Anomaly

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
PUBLIC_DNS = {"hooks.example.com": ["93.184.215.14"], "rebind.example.com": ["10.0.0.7"]}


@pytest.fixture
def kms_key(aws, monkeypatch):
    key_id = client("kms").create_key(Description="webhook secrets")["KeyMetadata"]["KeyId"]
    monkeypatch.setenv("SECRETS_KMS_KEY_ID", key_id)
    return key_id


@pytest.fixture
def api(tables, kms_key, monkeypatch):
    from anomaly_guardian.api import deps

    monkeypatch.setenv("GUARDIAN_PSEUDONYM_KEY", "test-pseudonym-key")
    deps.reset_services()
    module = load_handler("api")
    svc = deps.services_from_env()
    svc.resolve = lambda host, port: PUBLIC_DNS.get(host, [])
    module.app.dependency_overrides[deps.current_services] = lambda: svc
    yield module, svc
    deps.reset_services()


@pytest.fixture
def call(api, lambda_context):
    module, _ = api

    def _call(fixture, **kw):
        return parse(module.lambda_handler(apigw_event(fixture, **kw), lambda_context))

    return _call


def seed(svc, tenant, n, user="user-1", severity="HIGH", anomaly_type="value", start=None):
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        at = start + timedelta(minutes=i)
        out.append(
            Anomaly(
                anomalyId=new_ulid(int(at.timestamp() * 1000)),
                tenantId=tenant,
                severity=severity,
                anomalyScore=0.8,
                detectedAt=at.isoformat().replace("+00:00", "Z"),
                userId=svc.pseudonymiser.user(tenant, user),
                anomalyType=anomaly_type,
                description=f"test anomaly {i}",
                originalEvent={"eventId": f"{tenant}-e{i}", "timestamp": at.isoformat(), "eventType": "transaction"},
            )
        )
    svc.anomalies.put_many(out)
    return out


def custom(listed):
    """The tenant's own rules of a GET /rules body (the built-in detectors are listed first)."""
    return [r for r in listed["rules"] if not r["builtIn"]]


def config_items():
    return client("dynamodb").scan(TableName="test-config")["Items"]


RULE = json.loads(apigw_event("apigw_post_rule")["body"])


class TestRules:
    def test_create_list_replace_soft_delete(self, call):
        status, created = call("apigw_post_rule")
        assert status == 201 and created["version"] == 1 and created["conditions"]["metric"] == "transactionAmount"
        rid = created["ruleId"]
        status, listed = call("apigw_get_rules")
        assert status == 200 and [r["ruleId"] for r in custom(listed)] == [rid]

        status, replaced = call("apigw_put_rule", path_params={"ruleId": rid})
        assert status == 200 and replaced["version"] == 2
        assert replaced["conditions"] == {
            "metric": "eventsPerUser",
            "operator": ">=",
            "threshold": 20.0,
            "timeWindow": 300,
            "eventType": None,
        }
        assert replaced["createdAt"] == created["createdAt"]

        status, body = call("apigw_delete_rule", path_params={"ruleId": rid})
        assert status == 204 and body is None
        assert custom(call("apigw_get_rules")[1]) == []
        deleted = custom(call("apigw_get_rules", query={"includeDeleted": "true"})[1])
        assert [r["ruleId"] for r in deleted] == [rid] and deleted[0]["enabled"] is False
        # Deleted rules can be neither replaced nor deleted again.
        assert call("apigw_put_rule", path_params={"ruleId": rid})[0] == 404
        assert call("apigw_delete_rule", path_params={"ruleId": rid})[0] == 404

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"conditions": {**RULE["conditions"], "metric": "shoeSize"}}, "Invalid field conditions.metric"),
            ({"conditions": {**RULE["conditions"], "operator": "=~"}}, "Invalid field conditions.operator"),
            ({"conditions": {**RULE["conditions"], "metric": "eventsPerUser"}}, "timeWindow is required"),
            ({"actions": [{"type": "launch_missiles", "parameters": {}}]}, "Invalid field actions.0.type"),
            ({"ruleName": ""}, "Invalid field ruleName"),
            ({"ruleName": None}, "Invalid field ruleName"),
            ({"enabled": "sometimes"}, "Invalid field enabled"),
            ({"tenantId": "globex"}, "Unknown field: tenantId"),
        ],
    )
    def test_invalid_rules_are_refused_naming_the_field(self, call, change, message):
        status, body = call("apigw_post_rule", body={**RULE, **change})
        assert status == 400
        assert body["status"] == "error" and body["code"] == "INVALID_PAYLOAD"
        assert message in body["message"]
        assert config_items() == []

    def test_rules_per_tenant_are_capped(self, call, monkeypatch):
        from anomaly_guardian.api import rules

        monkeypatch.setattr(rules, "MAX_RULES_PER_TENANT", 2)
        assert [call("apigw_post_rule")[0] for _ in range(2)] == [201, 201]
        status, body = call("apigw_post_rule")
        assert (status, body["code"]) == (409, "LIMIT_EXCEEDED")
        assert call("apigw_post_rule", tenant="globex")[0] == 201  # the cap is per tenant
        assert len(config_items()) == 3

    def test_missing_field_message(self, call):
        status, body = call("apigw_post_rule", body={k: v for k, v in RULE.items() if k != "conditions"})
        assert (status, body["message"]) == (400, "Missing required field: conditions")

    def test_a_rule_created_through_the_api_fires_in_the_detector(self, call, api):
        from anomaly_guardian.adapters.config_repo import ConfigRepository, rule_provider
        from anomaly_guardian.detection.pipeline import DetectionPipeline
        from anomaly_guardian.detection.registry import build_detectors
        from anomaly_guardian.models.event import parse_event
        from anomaly_guardian.state.store import InMemoryStateStore

        assert call("apigw_post_rule")[0] == 201
        pipeline = DetectionPipeline(
            InMemoryStateStore(), detectors=build_detectors(rule_provider(ConfigRepository("test-config")))
        )
        ev = {"eventId": "e1", "userId": "u1", "eventType": "transaction", "timestamp": "2026-11-20T10:00:00Z"}
        out = pipeline.process("acme", [parse_event({**ev, "transactionAmount": 12000.0})])
        rule_hits = [a for a in out if a.anomalyType == "rule"]
        assert len(rule_hits) == 1
        assert rule_hits[0].model_dump()["matchedRules"][0]["ruleName"] == "Large transfers"
        # The other tenant has no rules: the same event raises no rule anomaly there.
        other = pipeline.process("globex", [parse_event({**ev, "transactionAmount": 12000.0})])
        assert [a for a in other if a.anomalyType == "rule"] == []


class TestAnomalies:
    def test_list_filters_and_paginates(self, call, api):
        _, svc = api
        seed(svc, "acme", 5, severity="HIGH")
        seed(svc, "acme", 3, severity="LOW", user="user-2", start=datetime(2026, 11, 2, tzinfo=UTC))
        status, page = call("apigw_get_anomalies", query={"limit": "3"})
        assert status == 200 and len(page["anomalies"]) == 3 and page["pagination"]["hasMore"] is True
        seen = [a["anomalyId"] for a in page["anomalies"]]
        while page["pagination"]["hasMore"]:
            page = call("apigw_get_anomalies", query={"limit": "3", "nextToken": page["pagination"]["nextToken"]})[1]
            seen += [a["anomalyId"] for a in page["anomalies"]]
        assert len(seen) == len(set(seen)) == 8 and seen == sorted(seen, reverse=True)

        high = call("apigw_get_anomalies")[1]["anomalies"]  # fixture: severity=HIGH, fromDate 2026-11-01
        assert len(high) == 5 and {a["severity"] for a in high} == {"HIGH"}
        by_user = call("apigw_get_anomalies", query={"userId": "user-2"})[1]["anomalies"]
        assert len(by_user) == 3 and {a["userId"] for a in by_user} == {svc.pseudonymiser.user("acme", "user-2")}
        window = call(
            "apigw_get_anomalies", query={"fromDate": "2026-11-02T00:00:00Z", "toDate": "2026-11-02T00:01:30Z"}
        )
        assert len(window[1]["anomalies"]) == 2
        assert call("apigw_get_anomalies", query={"anomalyType": "velocity"})[1]["anomalies"] == []

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ({"limit": "0"}, "Invalid query parameter limit"),
            ({"limit": "1001"}, "Invalid query parameter limit"),
            ({"limit": "ten"}, "Invalid query parameter limit"),
            ({"severity": "SEVERE"}, "Invalid query parameter severity"),
            ({"anomalyType": "weird"}, "Invalid query parameter anomalyType"),
            ({"fromDate": "yesterday"}, "Invalid query parameter fromDate"),
            ({"fromDate": "2026-11-03T00:00:00Z", "toDate": "2026-11-01T00:00:00Z"}, "fromDate: after toDate"),
            ({"nextToken": "garbage"}, "Invalid query parameter nextToken"),
        ],
    )
    def test_bad_parameters_are_400_naming_the_parameter(self, call, query, message):
        status, body = call("apigw_get_anomalies", query=query)
        assert status == 400 and body["status"] == "error" and message in body["message"]

    def test_get_one(self, call, api):
        (a,) = seed(api[1], "acme", 1)
        status, body = call("apigw_get_anomaly", path_params={"anomalyId": a.anomalyId})
        assert status == 200 and body["anomalyId"] == a.anomalyId and "pk" not in body and "gsi1pk" not in body
        missing = new_ulid()
        assert call("apigw_get_anomaly", path_params={"anomalyId": missing}) == (
            404,
            {"status": "error", "code": "NOT_FOUND", "message": f"Anomaly {missing} not found"},
        )
        status, body = call("apigw_get_anomaly", path_params={"anomalyId": "not-a-ulid"})
        assert status == 400 and "Invalid path parameter anomalyId" in body["message"]


class TestFeedback:
    def test_feedback_is_stored_on_the_anomaly(self, call, api):
        (a,) = seed(api[1], "acme", 1)
        status, body = call("apigw_post_feedback", path_params={"anomalyId": a.anomalyId})
        assert status == 200 and body["feedback"]["label"] == "false_positive"
        stored = api[1].anomalies.get("acme", a.anomalyId)["feedback"]
        assert stored["label"] == "false_positive" and stored["submittedBy"] == "cli:acme"
        assert stored["note"] == "Known customer, planned purchase"

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ({"label": "maybe"}, "Invalid field label"),
            ({"label": "true_positive", "note": "x" * 1001}, "Invalid field note"),
            ({"note": "no label"}, "Missing required field: label"),
        ],
    )
    def test_invalid_feedback(self, call, api, body, message):
        (a,) = seed(api[1], "acme", 1)
        status, out = call("apigw_post_feedback", path_params={"anomalyId": a.anomalyId}, body=body)
        assert status == 400 and message in out["message"]
        assert "feedback" not in api[1].anomalies.get("acme", a.anomalyId)

    def test_feedback_on_unknown_anomaly_is_404(self, call):
        assert call("apigw_post_feedback", path_params={"anomalyId": new_ulid()})[0] == 404


class TestWebhooks:
    def test_create_list_delete_and_the_secret_never_leaves(self, call, api, kms_key):
        status, created = call("apigw_post_webhook")
        assert status == 201
        assert created["secretSet"] is True and created["secretHint"] == "...cdef"
        assert "secret" not in created and "secretCiphertext" not in created
        assert created["retryPolicy"] == {"maxRetries": 5, "backoffMultiplier": 2.0}
        listed = call("apigw_get_webhooks")[1]["webhooks"]
        assert [w["webhookId"] for w in listed] == [created["webhookId"]]
        assert "whsec_0123456789abcdef" not in json.dumps(listed)

        (item,) = config_items()
        blob = item["secretCiphertext"]["S"]
        assert blob.startswith("kms:v1:") and "whsec" not in blob
        kms = client("kms")
        raw = base64.b64decode(blob[len("kms:v1:") :])
        context = {"tenantId": "acme", "purpose": "webhook-secret"}
        assert kms.decrypt(CiphertextBlob=raw, EncryptionContext=context)["Plaintext"] == b"whsec_0123456789abcdef"
        assert api[1].secrets.decrypt("acme", blob) == "whsec_0123456789abcdef"
        from anomaly_guardian.adapters.secrets import SecretError

        with pytest.raises(SecretError):
            api[1].secrets.decrypt("globex", blob)

        assert call("apigw_delete_webhook", path_params={"webhookId": created["webhookId"]})[0] == 204
        assert config_items() == []
        assert call("apigw_delete_webhook", path_params={"webhookId": created["webhookId"]})[0] == 404

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"url": "http://hooks.example.com/x"}, "url must use https"),
            ({"url": "https://169.254.169.254/latest/meta-data"}, "metadata"),
            ({"url": "https://[fd00:ec2::254]/"}, "metadata"),
            ({"url": "https://metadata.google.internal/"}, "internal name"),
            ({"url": "https://127.0.0.1/"}, "loopback"),
            ({"url": "https://rebind.example.com/"}, "resolves to a private address"),
            ({"url": "https://nowhere.example.com/"}, "does not resolve"),
            ({"events": ["anomaly.exploded"]}, "Invalid field events.0"),
            ({"events": []}, "Invalid field events"),
            ({"retryPolicy": {"maxRetries": 11, "backoffMultiplier": 2}}, "Invalid field retryPolicy.maxRetries"),
            (
                {"retryPolicy": {"maxRetries": 1, "backoffMultiplier": 0.5}},
                "Invalid field retryPolicy.backoffMultiplier",
            ),
            ({"secret": "short"}, "Invalid field secret"),
            ({"severityFilter": ["URGENT"]}, "Invalid field severityFilter.0"),
        ],
    )
    def test_refused_webhooks_store_nothing(self, call, change, message):
        body = json.loads(apigw_event("apigw_post_webhook")["body"]) | change
        status, out = call("apigw_post_webhook", body=body)
        assert status == 400 and message in out["message"], out
        assert config_items() == []


class TestSubjects:
    def test_erasure_removes_anomalies_and_detector_state_of_that_user_only(self, call, api):
        from anomaly_guardian.state.store import StateItem, state_key

        _, svc = api
        seed(svc, "acme", 4, user="user-4821")
        seed(svc, "acme", 2, user="someone-else")
        seed(svc, "globex", 2, user="user-4821")
        victim = svc.pseudonymiser.user("acme", "user-4821")
        keep = svc.pseudonymiser.user("acme", "someone-else")
        items = {
            state_key("acme", "value", victim): StateItem({"n": 3}),
            state_key("acme", "rules", victim): StateItem({"h": [[1, 2, None]]}),
            state_key("acme", "value", keep): StateItem({"n": 1}),
        }
        svc.state.save(items)
        until = int(datetime.now(UTC).timestamp()) + 3600
        svc.blocklist.put("acme", f"USER#{victim}", until, {"reason": "velocity"})
        svc.blocklist.put("acme", f"FLAG#stepup#{victim}", until, {})
        svc.blocklist.put("acme", f"USER#{keep}", until, {"reason": "velocity"})
        status, body = call("apigw_delete_subject")
        assert status == 200
        assert body["userPseudonym"] == victim and body["anomaliesDeleted"] == 4 and body["stateItemsDeleted"] == 2
        assert body["blockEntriesDeleted"] == 2
        assert svc.blocklist.get("acme", f"USER#{victim}") is None
        assert svc.blocklist.get("acme", f"USER#{keep}") is not None
        assert body["notCovered"] == []  # what is left is listed; nothing stored is
        remaining = svc.anomalies.query("acme", limit=100)[0]
        assert {a["userId"] for a in remaining} == {keep}
        assert len(svc.anomalies.query("globex", limit=100)[0]) == 2
        loaded = svc.state.load(list(items))
        assert loaded[state_key("acme", "value", victim)].version == 0
        assert loaded[state_key("acme", "value", keep)].state == {"n": 1}


class TestAudit:
    def test_every_change_is_audited_without_secrets_or_raw_user_ids(self, call, api):
        (a,) = seed(api[1], "acme", 1, user="user-4821")
        rid = call("apigw_post_rule")[1]["ruleId"]
        call("apigw_put_rule", path_params={"ruleId": rid})
        call("apigw_delete_rule", path_params={"ruleId": rid})
        wid = call("apigw_post_webhook")[1]["webhookId"]
        call("apigw_delete_webhook", path_params={"webhookId": wid})
        call("apigw_post_feedback", path_params={"anomalyId": a.anomalyId})
        call("apigw_delete_subject")
        records = api[1].audit.records("acme")
        assert [(r["action"], r["subject"]) for r in records] == [
            ("rule.create", rid),
            ("rule.update", rid),
            ("rule.delete", rid),
            ("webhook.create", wid),
            ("webhook.delete", wid),
            ("anomaly.feedback", a.anomalyId),
            ("subject.erase", records[-1]["subject"]),
        ]
        # The erasure's own record is a receipt: it names neither the person nor their pseudonym.
        assert records[-1]["subject"].startswith("er_")
        assert api[1].pseudonymiser.user("acme", "user-4821") not in json.dumps(records)
        assert {r["actor"] for r in records} == {"cli:acme"}
        dumped = json.dumps(records)
        assert "whsec_0123456789abcdef" not in dumped and "user-4821" not in dumped
        assert api[1].audit.records("globex") == []


class TestTenantIsolation:
    """Tenant A can neither read nor change anything of tenant B's, whatever ids or tokens it presents."""

    def test_no_endpoint_crosses_tenants(self, call, api):
        _, svc = api
        b_anomalies = seed(svc, "globex", 3, user="bob")
        b_rule = call("apigw_post_rule", tenant="globex")[1]
        b_hook = call("apigw_post_webhook", tenant="globex")[1]
        b_page = call("apigw_get_anomalies", tenant="globex", query={"limit": "1"})[1]
        before = sorted(json.dumps(i, sort_keys=True) for i in config_items())

        # reads
        assert call("apigw_get_anomalies", tenant="acme", query={})[1]["anomalies"] == []
        assert call("apigw_get_anomaly", tenant="acme", path_params={"anomalyId": b_anomalies[0].anomalyId})[0] == 404
        replay = call(
            "apigw_get_anomalies", tenant="acme", query={"limit": "1", "nextToken": b_page["pagination"]["nextToken"]}
        )
        assert replay[0] == 400 and replay[1]["code"] == "INVALID_NEXT_TOKEN"
        assert custom(call("apigw_get_rules", tenant="acme")[1]) == []
        assert call("apigw_get_webhooks", tenant="acme")[1] == {"webhooks": []}
        assert (
            call("apigw_get_anomalies", tenant="acme", query={"userId": svc.pseudonymiser.user("globex", "bob")})[1][
                "anomalies"
            ]
            == []
        )
        # writes
        fb = call("apigw_post_feedback", tenant="acme", path_params={"anomalyId": b_anomalies[0].anomalyId})
        assert fb[0] == 404
        assert call("apigw_put_rule", tenant="acme", path_params={"ruleId": b_rule["ruleId"]})[0] == 404
        assert call("apigw_delete_rule", tenant="acme", path_params={"ruleId": b_rule["ruleId"]})[0] == 404
        assert call("apigw_delete_webhook", tenant="acme", path_params={"webhookId": b_hook["webhookId"]})[0] == 404
        assert call("apigw_delete_subject", tenant="acme", path_params={"userId": "bob"})[1]["anomaliesDeleted"] == 0
        # A body or query naming the other tenant changes nothing: the tenant comes from the authorizer only.
        assert call("apigw_post_rule", tenant="acme", body={**RULE, "tenantId": "globex"})[0] == 400
        assert custom(call("apigw_get_rules", tenant="acme", query={"tenantId": "globex"})[1]) == []

        # tenant B's data is untouched
        assert sorted(json.dumps(i, sort_keys=True) for i in config_items()) == before
        assert len(svc.anomalies.query("globex", limit=100)[0]) == 3
        assert "feedback" not in svc.anomalies.get("globex", b_anomalies[0].anomalyId)
        assert custom(call("apigw_get_rules", tenant="globex")[1])[0]["version"] == 1

    def test_no_tenant_in_identity_is_401(self, call):
        assert call("apigw_get_rules", tenant=None) == (
            401,
            {"status": "error", "code": "UNAUTHORIZED", "message": "No tenant in the caller's identity"},
        )
        assert call("apigw_get_rules", tenant="a#b")[0] == 401


class TestBadInput:
    @pytest.mark.parametrize(
        ("raw", "status", "message"),
        [
            ('{"ruleName": "x",', 400, "Malformed JSON"),
            ("", 400, "Request body is required"),
            ("[1, 2, 3]", 400, "Request body must be a JSON object"),
            ('"just a string"', 400, "Request body must be a JSON object"),
            (
                '{"ruleName": "x", "conditions": {"metric": "transactionAmount", "operator": ">", "threshold": NaN}}',
                400,
                "NaN",
            ),
            ('{"ruleName": ' + "[" * 50 + "]" * 50 + "}", 400, "nesting deeper"),
            ('{"ruleName": ' + "[" * 100000 + "]" * 100000 + "}", 413, "larger than"),
            ('{"ruleName": "\\ud800", "conditions": {}}', 400, "unpaired surrogate"),
            ('{"ruleName": "a\\u0000b"}', 400, "NUL"),
            ('{"ruleName": 12, "conditions": "high"}', 400, "Invalid field"),
            (
                json.dumps({**RULE, "conditions": {**RULE["conditions"], "threshold": "1e999"}}),
                400,
                "threshold",
            ),
            (json.dumps({**RULE, "ruleName": "x" * 200}), 400, "Invalid field ruleName"),
            (json.dumps(RULE).replace('"minutes": 30', '"minutes": 1e999'), 400, "out of range"),
            (json.dumps(RULE).replace('"minutes": 30', '"minutes": ' + "9" * 45), 400, "more than 30 digits"),
            (json.dumps({**RULE, "padding": "y" * 70000}), 413, "larger than"),
        ],
    )
    def test_each_gets_a_clear_4xx_and_stores_nothing(self, call, raw, status, message):
        got, body = call("apigw_post_rule", raw_body=raw)
        assert got == status, body
        assert body["status"] == "error" and message in body["message"], body
        assert config_items() == []

    def test_odd_but_valid_unicode_is_stored_faithfully(self, call):
        name = "Überweisung \u200b 大口 🚨 \u202eevil"
        status, body = call("apigw_post_rule", body={**RULE, "ruleName": name})
        assert status == 201 and body["ruleName"] == name
        assert custom(call("apigw_get_rules")[1])[0]["ruleName"] == name

    def test_unknown_route_is_404_in_contract_shape(self, call):
        status, body = call("apigw_get_rules", path="/nope")
        assert status == 404 and body["code"] == "NOT_FOUND"
