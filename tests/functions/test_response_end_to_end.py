"""Detector batch -> response queue -> correlator -> remediation (moto executes the ASL, tasks run the real
actions handler) -> manual review approved over the API: every hop is a real handler on emulated AWS."""

from __future__ import annotations

import json

from response_harness import EVENTS, LambdaContext, load_handler, sfn  # noqa: F401


def sqs_event(messages):
    template = json.loads((EVENTS / "sqs_response_queue.json").read_text())["Records"][0]
    return {
        "Records": [
            template
            | {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "md5OfBody": m["MD5OfBody"],
            }
            for m in messages
        ]
    }


def test_a_large_transaction_is_held_until_an_analyst_approves(sfn, monkeypatch):  # noqa: F811
    from api_helpers import apigw_event, parse

    from anomaly_guardian.adapters.dynamodb import client
    from anomaly_guardian.api import deps

    res = sfn.res
    monkeypatch.setenv("DETECTOR_DLQ_URL", client("sqs").create_queue(QueueName="detector-dlq")["QueueUrl"])
    ctx = LambdaContext()
    # Given the detector processes a Kinesis batch with a $7,200 transaction for acme
    detector = load_handler("detector")
    assert detector.lambda_handler(json.loads((EVENTS / "kinesis_detector.json").read_text()), ctx) == {
        "batchItemFailures": []
    }
    handed_over = res.drain(res.env["RESPONSE_QUEUE_URL"], max_messages=100)
    value = [m for m in handed_over if json.loads(m["Body"])["anomaly"]["anomalyType"] == "value"]
    acme_value = next(m for m in value if json.loads(m["Body"])["anomaly"]["tenantId"] == "acme")
    anomaly = json.loads(acme_value["Body"])["anomaly"]
    # When the correlator consumes the hand-off
    correlator = load_handler("correlator")
    assert correlator.lambda_handler(sqs_event(handed_over), ctx) == {"batchItemFailures": []}
    # Then the remediation holds the transaction and waits for review
    review_id = f"rv_{anomaly['anomalyId']}"
    sfn.wait_for(lambda: res.items("INCIDENTS_TABLE", "acme", f"R#{review_id}"))
    hold = res.items("BLOCKLIST_TABLE", "acme", "HOLD#evt-1002")
    assert hold and hold[0]["status"] == "HELD"
    # When an analyst approves over the API
    deps.reset_services()
    api = load_handler("api")
    event = apigw_event("apigw_post_review", path_params={"reviewId": review_id}, body={"decision": "approve"})
    status, body = parse(api.lambda_handler(event, LambdaContext()))
    assert status == 200, body
    # Then the workflow completes, the hold is confirmed, and the anomaly and its incident say what was done
    execution = f"{sfn.arn.replace(':stateMachine:', ':execution:')}:acme-{anomaly['anomalyId']}"
    assert sfn.wait(execution)["status"] == "SUCCEEDED", sfn.history_types(execution)
    assert res.items("BLOCKLIST_TABLE", "acme", "HOLD#evt-1002")[0]["status"] == "CONFIRMED"
    stored = res.stored_anomaly("acme", anomaly["anomalyId"])
    assert {a["type"]: a["status"] for a in stored["actionsPerformed"]} == {
        "hold_transaction": "done",
        "notify": "done",
        "manual_review": "approved",
    }
    status, page = parse(api.lambda_handler(apigw_event("apigw_get_incidents", query=None), LambdaContext()))
    assert any(anomaly["anomalyId"] in {m["anomalyId"] for m in i["members"]} for i in page["incidents"])
    # and one workflow per handed-over anomaly: those that need no review have finished
    kinds = {
        f"{a['tenantId']}-{a['anomalyId']}": a["anomalyType"]
        for a in (json.loads(m["Body"])["anomaly"] for m in handed_over)
    }
    runs = sfn.sfn.list_executions(stateMachineArn=sfn.arn)["executions"]
    assert sorted(e["name"] for e in runs) == sorted(kinds)
    for e in runs:
        if kinds[e["name"]] != "value":
            assert sfn.wait(e["executionArn"])["status"] == "SUCCEEDED", (
                e["name"],
                sfn.history_types(e["executionArn"]),
            )
