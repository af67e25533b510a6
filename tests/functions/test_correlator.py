"""dispatch -> response queue -> correlator handler -> incidents + remediation executions; GET /incidents."""

from __future__ import annotations

import copy
import json

import pytest
from api_helpers import apigw_event, parse
from response_harness import EVENTS, IP, OTHER, TENANT, LambdaContext, load_handler, make_anomaly, response_aws  # noqa: F401

from anomaly_guardian.response.dispatch import dispatch as _dispatch


def dispatch(anomalies, events=()):
    """The detector's hand-off with the queue wiring.detector builds from RESPONSE_QUEUE_URL."""
    import os

    from anomaly_guardian.adapters.queues import Queue

    return _dispatch(anomalies, events, Queue(os.environ["RESPONSE_QUEUE_URL"]))


T0 = 1795218000000  # 2026-11-20T23:40:00Z


@pytest.fixture
def correlator(response_aws, monkeypatch):  # noqa: F811
    from anomaly_guardian.adapters.dynamodb import client

    iam = client("iam")
    role = iam.create_role(RoleName="sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    definition = (EVENTS.parents[1] / "statemachines" / "remediation.asl.json").read_text()
    arn = client("stepfunctions").create_state_machine(name="remediation", definition=definition, roleArn=role)[
        "stateMachineArn"
    ]
    monkeypatch.setenv("REMEDIATION_STATE_MACHINE_ARN", arn)
    return load_handler("correlator")


def sqs_event(messages):
    """Turn received SQS messages into the event Lambda's SQS trigger passes (fixture shape)."""
    template = json.loads((EVENTS / "sqs_response_queue.json").read_text())["Records"][0]
    records = []
    for m in messages:
        r = copy.deepcopy(template)
        r.update(messageId=m["MessageId"], receiptHandle=m["ReceiptHandle"], body=m["Body"], md5OfBody=m["MD5OfBody"])
        records.append(r)
    return {"Records": records}


def executions():
    import os

    from anomaly_guardian.adapters.dynamodb import client

    sfn = client("stepfunctions")
    return sfn.list_executions(stateMachineArn=os.environ["REMEDIATION_STATE_MACHINE_ARN"])["executions"]


def test_a_users_related_anomalies_become_one_incident(correlator, response_aws, lambda_context):  # noqa: F811
    # Given the detector dispatches velocity, geolocation and value anomalies for one user within 12 minutes,
    # and an unrelated anomaly of another user
    user = "u_aaaaaaaaaaaaaaaaaaaaaaaa"
    batch = [
        make_anomaly("velocity", user=user, score=0.7, at_ms=T0),
        make_anomaly("geolocation", user=user, score=0.8, at_ms=T0 + 5 * 60_000),
        make_anomaly("value", user=user, score=0.9, at_ms=T0 + 12 * 60_000),
        make_anomaly("velocity", user="u_bbbbbbbbbbbbbbbbbbbbbbbb", at_ms=T0 + 60_000),
    ]
    events = [{"eventId": a["originalEvent"]["eventId"], "ipAddress": IP} for a in batch]
    assert dispatch(batch, events) == 4
    # When the correlator consumes the response queue
    messages = response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])
    assert len(messages) == 4
    assert json.loads(messages[0]["Body"])["subjectIp"] == IP
    result = correlator.lambda_handler(sqs_event(messages), lambda_context)
    # Then every record succeeded, the user's three anomalies share one incident with a summary
    assert result == {"batchItemFailures": []}
    from anomaly_guardian.adapters.incidents import IncidentRepository

    incidents, _ = IncidentRepository("test-incidents").list(TENANT)
    assert len(incidents) == 2
    (inc,) = [i for i in incidents if i.primaryEntity["value"] == user]
    assert inc.memberCount == 3
    assert (
        inc.summary
        == f"3 anomalies for user {user} within 12 min: geolocation, value, velocity — likely account takeover"
    )
    assert inc.severity == "CRITICAL"
    # and one remediation per anomaly started, named deterministically
    names = sorted(e["name"] for e in executions())
    assert names == sorted(f"{TENANT}-{a['anomalyId']}" for a in batch)
    # When the same messages are delivered again (at-least-once)
    again = correlator.lambda_handler(sqs_event(messages), lambda_context)
    # Then nothing is duplicated
    assert again == {"batchItemFailures": []}
    assert IncidentRepository("test-incidents").get(TENANT, inc.incidentId).memberCount == 3
    assert len(executions()) == 4


def test_anomalies_beyond_the_window_open_a_new_incident(correlator, response_aws, lambda_context):  # noqa: F811
    user = "u_cccccccccccccccccccccccc"
    dispatch(
        [make_anomaly("velocity", user=user, at_ms=T0), make_anomaly("velocity", user=user, at_ms=T0 + 45 * 60_000)]
    )
    correlator.lambda_handler(sqs_event(response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])), lambda_context)
    from anomaly_guardian.adapters.incidents import IncidentRepository

    incidents, _ = IncidentRepository("test-incidents").list(TENANT)
    assert [i.memberCount for i in incidents] == [1, 1]


def test_incident_opened_webhook_is_queued_for_subscribers(correlator, response_aws, lambda_context):  # noqa: F811
    from anomaly_guardian.adapters.config_repo import ConfigRepository

    ConfigRepository("test-config").create_webhook(
        TENANT,
        {"webhookId": "W1", "url": "https://hooks.example/x", "events": ["incident.opened"], "secretCiphertext": "x"},
    )
    dispatch([make_anomaly("velocity", at_ms=T0)])
    handed_over = sqs_event(response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"]))
    correlator.lambda_handler(handed_over, lambda_context)
    (queued,) = [json.loads(m["Body"]) for m in response_aws.drain(response_aws.env["WEBHOOK_QUEUE_URL"])]
    assert queued["event"] == "incident.opened" and queued["webhookId"] == "W1" and queued["attempt"] == 1
    assert "secret" not in json.dumps(queued).lower()
    # a redelivered message (say the first run failed after saving) announces it again with the same delivery id
    correlator.lambda_handler(handed_over, lambda_context)
    (again,) = [json.loads(m["Body"]) for m in response_aws.drain(response_aws.env["WEBHOOK_QUEUE_URL"])]
    assert again["deliveryId"] == queued["deliveryId"]


def test_malformed_message_fails_alone(correlator, response_aws, lambda_context):  # noqa: F811
    # Given the fixture: one valid dispatch message and one that is not
    event = json.loads((EVENTS / "sqs_response_queue.json").read_text())
    result = correlator.lambda_handler(event, lambda_context)
    # Then only the bad one is reported (it goes back to the queue and on to its DLQ)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert len(executions()) == 1


def test_get_incidents_is_tenant_scoped_and_filterable(correlator, response_aws, lambda_context):  # noqa: F811
    from anomaly_guardian.api import deps

    dispatch(
        [
            make_anomaly("velocity", user="u_dddddddddddddddddddddddd", score=0.95, severity="CRITICAL", at_ms=T0),
            make_anomaly("behavioral", user="u_eeeeeeeeeeeeeeeeeeeeeeee", score=0.55, severity="MEDIUM", at_ms=T0),
            make_anomaly("velocity", tenant=OTHER, at_ms=T0),
        ]
    )
    correlator.lambda_handler(sqs_event(response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])), lambda_context)
    deps.reset_services()
    api = load_handler("api")

    status, body = parse(api.lambda_handler(apigw_event("apigw_get_incidents"), LambdaContext()))
    assert status == 200, body
    assert [i["severity"] for i in body["incidents"]] == ["CRITICAL"]
    assert body["incidents"][0]["tenantId"] == TENANT

    status, body = parse(api.lambda_handler(apigw_event("apigw_get_incidents", query={"limit": "1"}), LambdaContext()))
    assert len(body["incidents"]) == 1 and body["pagination"]["hasMore"] is True
    token = body["pagination"]["nextToken"]
    status, page2 = parse(
        api.lambda_handler(
            apigw_event("apigw_get_incidents", query={"limit": "1", "nextToken": token}), LambdaContext()
        )
    )
    assert status == 200 and len(page2["incidents"]) == 1
    assert page2["incidents"][0]["incidentId"] != body["incidents"][0]["incidentId"]
    # a token is useless to another tenant
    status, err = parse(
        api.lambda_handler(
            apigw_event("apigw_get_incidents", tenant=OTHER, query={"nextToken": token}), LambdaContext()
        )
    )
    assert status == 400 and "nextToken" in err["message"]

    inc_id = body["incidents"][0]["incidentId"]
    status, one = parse(
        api.lambda_handler(apigw_event("apigw_get_incident", path_params={"incidentId": inc_id}), LambdaContext())
    )
    assert status == 200 and one["incidentId"] == inc_id and one["summary"]
    status, _ = parse(
        api.lambda_handler(
            apigw_event("apigw_get_incident", tenant=OTHER, path_params={"incidentId": inc_id}), LambdaContext()
        )
    )
    assert status == 404
    status, err = parse(
        api.lambda_handler(apigw_event("apigw_get_incidents", query={"severity": "SEVERE"}), LambdaContext())
    )
    assert status == 400 and "severity" in err["message"]


def test_resolving_an_incident_notifies_and_the_next_anomaly_opens_a_new_one(correlator, response_aws, lambda_context):  # noqa: F811
    from anomaly_guardian.adapters.config_repo import ConfigRepository
    from anomaly_guardian.adapters.incidents import IncidentRepository
    from anomaly_guardian.api import deps

    ConfigRepository("test-config").create_webhook(
        TENANT,
        {"webhookId": "W2", "url": "https://hooks.example/y", "events": ["incident.resolved"], "secretCiphertext": "x"},
    )
    user = "u_ffffffffffffffffffffffff"
    dispatch([make_anomaly("velocity", user=user, at_ms=T0)])
    correlator.lambda_handler(sqs_event(response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])), lambda_context)
    (inc,) = IncidentRepository("test-incidents").list(TENANT)[0]
    deps.reset_services()
    api = load_handler("api")
    event = apigw_event("apigw_post_incident_resolve", path_params={"incidentId": inc.incidentId})
    status, body = parse(api.lambda_handler(event, LambdaContext()))
    assert status == 200, body
    assert body["status"] == "RESOLVED" and "customer reset the password" in body["statusReason"]
    (queued,) = [json.loads(m["Body"]) for m in response_aws.drain(response_aws.env["WEBHOOK_QUEUE_URL"])]
    assert queued["event"] == "incident.resolved" and queued["data"]["incidentId"] == inc.incidentId
    # another tenant cannot resolve it
    other = apigw_event("apigw_post_incident_resolve", tenant=OTHER, path_params={"incidentId": inc.incidentId})
    assert parse(api.lambda_handler(other, LambdaContext()))[0] == 404
    # a later anomaly on the same user opens a new incident
    dispatch([make_anomaly("geolocation", user=user, at_ms=T0 + 60_000)])
    correlator.lambda_handler(sqs_event(response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])), lambda_context)
    assert sorted(i.status for i in IncidentRepository("test-incidents").list(TENANT)[0]) == ["OPEN", "RESOLVED"]


def test_a_webhook_queue_failure_does_not_hold_back_the_remediation(correlator, response_aws, lambda_context):  # noqa: F811
    from anomaly_guardian.adapters.config_repo import ConfigRepository

    ConfigRepository("test-config").create_webhook(
        TENANT,
        {"webhookId": "W3", "url": "https://hooks.example/z", "events": ["incident.opened"], "secretCiphertext": "x"},
    )
    correlator.ports.webhook_queue.url = "https://sqs.us-east-1.amazonaws.com/123456789012/no-such-queue"
    dispatch([make_anomaly("velocity", at_ms=T0), make_anomaly("velocity", tenant=OTHER, at_ms=T0)])
    result = correlator.lambda_handler(
        sqs_event(response_aws.drain(response_aws.env["RESPONSE_QUEUE_URL"])), lambda_context
    )
    # acme's record fails (retried, then kept in the DLQ), globex's does not, and both remediations started
    assert len(result["batchItemFailures"]) == 1
    assert len(executions()) == 2
