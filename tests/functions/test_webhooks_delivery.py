"""Webhook dispatcher against a real HTTP receiver on 127.0.0.1 (http.server in a thread).

The receiver verifies each signature with the registered secret the way a customer would. Loopback
http is only reachable because these tests set GUARDIAN_WEBHOOK_ALLOW_LOOPBACK=1; one test shows the
same delivery is refused without it.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from response_harness import EVENTS, TENANT, load_handler, response_aws  # noqa: F401

from anomaly_guardian.response.webhooks import verify

SECRET = "whsec_test_9f8e7d6c5b4a"


class Receiver:
    """Answers with the next status from `script` (then 200) and records what it got."""

    def __init__(self, script: list[int]):
        self.script = list(script)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {
                        "headers": dict(self.headers),
                        "body": body,
                        "verified": verify(SECRET.encode(), self.headers["X-Guardian-Signature"], body, time.time()),
                    }
                )
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/guardian"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def dispatcher(response_aws, monkeypatch):  # noqa: F811
    monkeypatch.setenv("GUARDIAN_WEBHOOK_ALLOW_LOOPBACK", "1")
    return load_handler("webhook_dispatcher")


def register(url: str, max_retries: int = 3, multiplier: float = 1) -> str:
    from anomaly_guardian.adapters.config_repo import ConfigRepository
    from anomaly_guardian.adapters.secrets import secret_box

    webhook_id = "01KAHX5Q3R8M9N2P4T6V8W0Y3B"
    ConfigRepository("test-config").create_webhook(
        TENANT,
        {
            "webhookId": webhook_id,
            "url": url,
            "events": ["anomaly.detected"],
            "severityFilter": [],
            "retryPolicy": {"maxRetries": max_retries, "backoffMultiplier": multiplier},
            "enabled": True,
            "secretCiphertext": secret_box(None, "test").encrypt(TENANT, SECRET),
        },
    )
    return webhook_id


def fixture_event() -> dict:
    return json.loads((EVENTS / "sqs_webhook_delivery.json").read_text())


def as_event(messages) -> dict:
    template = fixture_event()["Records"][0]
    out = []
    for m in messages:
        r = copy.deepcopy(template)
        r.update(messageId=m["MessageId"], receiptHandle=m["ReceiptHandle"], body=m["Body"], md5OfBody=m["MD5OfBody"])
        out.append(r)
    return {"Records": out}


def run_until_settled(dispatcher, res, event, lambda_context, rounds: int = 8) -> list[dict]:
    """Run the dispatcher on `event`, then on whatever it re-queued (waiting out DelaySeconds), until quiet."""
    results = []
    for _ in range(rounds):
        results.append(dispatcher.lambda_handler(event, lambda_context))
        attrs = res.sqs.get_queue_attributes(
            QueueUrl=res.env["WEBHOOK_QUEUE_URL"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        if not any(int(v) for v in attrs.values()):
            return results
        requeued = res.drain(res.env["WEBHOOK_QUEUE_URL"], wait=3)
        event = as_event(requeued)
    raise AssertionError("deliveries never settled")


def test_signed_delivery_is_verified_by_the_receiver(dispatcher, response_aws, lambda_context, caplog):  # noqa: F811
    with Receiver([]) as rx:
        register(rx.url)
        caplog.set_level(logging.INFO)  # what the function logs (botocore's DEBUG wire dumps are off in Lambda)
        result = dispatcher.lambda_handler(fixture_event(), lambda_context)
        logs = " ".join(str(r.__dict__) for r in caplog.records)
    assert result == {"batchItemFailures": []}
    (req,) = rx.requests
    assert req["verified"] is True
    assert req["headers"]["X-Guardian-Event"] == "anomaly.detected"
    assert req["headers"]["X-Guardian-Delivery"] == "dlv_01KAHX5Q3R8M9N2P4T6V8W0Y4C"
    body = json.loads(req["body"])
    assert body["event"] == "anomaly.detected" and body["data"]["anomalyId"] == "01KAHX5Q3R8M9N2P4T6V8W0Y1Z"
    # the function's (Powertools JSON) logs say it was delivered, and never contain the secret or its ciphertext
    assert "webhook delivered" in caplog.messages
    assert "'status': 200" in logs
    assert SECRET not in logs and "local:v1:" not in logs


def test_failures_are_retried_with_backoff_then_delivered(dispatcher, response_aws, lambda_context):  # noqa: F811
    # Given a receiver that fails twice (503, 500) then accepts
    with Receiver([503, 500]) as rx:
        register(rx.url, max_retries=3, multiplier=1)
        results = run_until_settled(dispatcher, response_aws, fixture_event(), lambda_context)
    # Then three attempts arrived, each freshly signed and verified, and nothing went to the DLQ
    assert len(rx.requests) == 3
    assert all(r["verified"] for r in rx.requests)
    assert len({r["headers"]["X-Guardian-Delivery"] for r in rx.requests}) == 1  # same delivery id
    assert all(r == {"batchItemFailures": []} for r in results)
    assert response_aws.drain(response_aws.env["WEBHOOK_DLQ_URL"]) == []


def test_requeue_delay_follows_the_retry_policy(dispatcher, response_aws, lambda_context):  # noqa: F811
    from anomaly_guardian.response import delivery

    sent = []

    class Spy:
        def send(self, body, delay_seconds=0):
            sent.append((body["attempt"], delay_seconds))

    with Receiver([500, 500, 500]) as rx:
        register(rx.url, max_retries=5, multiplier=3)
        dispatcher.ports.webhook_queue, real = Spy(), dispatcher.ports.webhook_queue
        try:
            body = json.loads(fixture_event()["Records"][0]["body"])
            for attempt in (1, 2, 3):
                delivery.deliver(dispatcher.ports, body | {"attempt": attempt}, dispatcher.post, dispatcher.secret_box)
        finally:
            dispatcher.ports.webhook_queue = real
    assert sent == [(2, 3), (3, 9), (4, 27)]  # DelaySeconds = 3 ** attempt


def test_dead_lettered_after_max_retries(dispatcher, response_aws, lambda_context):  # noqa: F811
    # Given a receiver that always fails and a policy of 2 retries
    with Receiver([500] * 10) as rx:
        register(rx.url, max_retries=2, multiplier=1)
        run_until_settled(dispatcher, response_aws, fixture_event(), lambda_context)
    # Then 1 + 2 attempts were made and the delivery is in the DLQ with the reason
    assert len(rx.requests) == 3
    (dead,) = [json.loads(m["Body"]) for m in response_aws.drain(response_aws.env["WEBHOOK_DLQ_URL"])]
    assert dead["attempt"] == 3
    assert dead["deadLetterReason"] == "gave up after 3 attempt(s): HTTP 500"


def test_loopback_is_refused_without_the_override(dispatcher, response_aws, lambda_context, monkeypatch):  # noqa: F811
    monkeypatch.delenv("GUARDIAN_WEBHOOK_ALLOW_LOOPBACK")
    dispatcher = load_handler("webhook_dispatcher")  # a cold start without the override (read at cold start)
    with Receiver([]) as rx:
        register(rx.url)
        dispatcher.lambda_handler(fixture_event(), lambda_context)
    assert rx.requests == []
    (dead,) = [json.loads(m["Body"]) for m in response_aws.drain(response_aws.env["WEBHOOK_DLQ_URL"])]
    assert dead["deadLetterReason"].startswith("unsafe destination: url must use https")


def test_host_now_resolving_to_a_private_address_is_refused_at_delivery(dispatcher, response_aws, monkeypatch):  # noqa: F811
    # Given a webhook registered with a public name that now resolves to the metadata address
    from anomaly_guardian.response import delivery

    register("https://hooks.example.com/guardian")
    body = json.loads(fixture_event()["Records"][0]["body"])
    posted = []
    result = delivery.deliver(
        dispatcher.ports,
        body,
        lambda *a: posted.append(a) or 200,
        dispatcher.secret_box,
        resolver=lambda host, port: ["169.254.169.254"],
    )
    assert posted == []
    assert result["outcome"] == "dead_letter"
    assert "a cloud metadata address (169.254.169.254)" in result["reason"]


def test_deleted_webhook_is_dropped_and_malformed_message_fails(dispatcher, response_aws, lambda_context):  # noqa: F811
    event = fixture_event()
    bad = copy.deepcopy(event["Records"][0])
    bad["messageId"] = "bad-1"
    bad["body"] = json.dumps({"event": "anomaly.detected"})
    event["Records"].append(bad)
    result = dispatcher.lambda_handler(event, lambda_context)  # no webhook registered: first is dropped
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}


def test_undecryptable_secret_is_dead_lettered_not_retried_forever(dispatcher, response_aws, lambda_context):  # noqa: F811
    from anomaly_guardian.adapters.config_repo import ConfigRepository

    ConfigRepository("test-config").create_webhook(
        TENANT,
        {"webhookId": "01KAHX5Q3R8M9N2P4T6V8W0Y3B", "url": "http://127.0.0.1:9/x", "secretCiphertext": "local:v1:AAAA"},
    )
    assert dispatcher.lambda_handler(fixture_event(), lambda_context) == {"batchItemFailures": []}
    (dead,) = [json.loads(m["Body"]) for m in response_aws.drain(response_aws.env["WEBHOOK_DLQ_URL"])]
    assert dead["deadLetterReason"].startswith("signing secret unavailable")
