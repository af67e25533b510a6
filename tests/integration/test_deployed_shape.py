"""Journeys over the local stack in the deployed shape, driven as a user would (HTTP API + CLI).

Given `guardian local` started from sam/template.yaml, each test drives one event source of the
template end to end: the Anomalies table stream into the search indexer and the local OpenSearch,
and (below) CloudTrail records through the CloudWatch Logs subscription, schedules on the local
clock, EventBridge rules and the Kinesis -> Firehose -> S3 archive.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import re
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
from botocore.credentials import Credentials
from local_helpers import wait_for

from anomaly_guardian.adapters.opensearch import OpenSearchClient
from anomaly_guardian.local.cfn import load_template
from anomaly_guardian.response.webhooks import sign

ROOT = Path(__file__).resolve().parents[2]


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


def cloudtrail_record(name: str, source: str, when: str, user: str, **params) -> dict:
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": f"AIDA{user.upper()}",
            "arn": f"arn:aws:iam::123456789012:user/{user}",
            "accountId": "123456789012",
            "userName": user,
        },
        "eventTime": when,
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.17.0",
        "requestParameters": params or None,
        "responseElements": None,
        "eventID": str(uuid.uuid4()),
        "eventType": "AwsApiCall",
        "recipientAccountId": "123456789012",
    }


def guardian(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "anomaly_guardian.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_a_cloudtrail_record_fed_to_the_local_log_group_becomes_a_usage_anomaly(api, local_stack, tmp_path):
    # Given a trail file as CloudTrail writes it ({"Records": [...]}, gzipped): a day of history for
    # the account, then a principal's first GPU instance launch
    user = f"ml-{uuid.uuid4().hex[:6]}"
    history = cloudtrail_record("DescribeInstances", "ec2.amazonaws.com", "2026-05-01T00:00:00Z", user)
    launch = cloudtrail_record(
        "RunInstances",
        "ec2.amazonaws.com",
        "2026-05-02T02:00:00Z",
        user,
        instanceType="p4d.24xlarge",
        instancesSet={"items": [{"imageId": "ami-0abcdef1234567890", "minCount": 1, "maxCount": 2}]},
    )
    trail = tmp_path / "123456789012_CloudTrail_us-east-1_20260502T0200Z.json.gz"
    trail.write_bytes(gzip.compress(json.dumps({"Records": [history, launch]}).encode()))
    # When it is sent with the documented command
    out = guardian("cloudtrail", "send", str(trail), "--state-dir", str(local_stack.state_dir))
    assert out.returncode == 0, out.stderr
    assert "sent 2 CloudTrail record(s) to /aws/local/" in out.stdout
    # Then the subscription delivers it to usage_ingest, the detector flags the launch, and the
    # account's tenant sees a usage anomaly in GET /anomalies

    def usage_anomaly():
        rows = api("GET", "/anomalies", tenant="platform", params={"limit": 1000}).json()["anomalies"]
        return [
            a for a in rows if a["anomalyType"] == "usage" and a["originalEvent"].get("eventId") == launch["eventID"]
        ]

    found = wait_for(usage_anomaly, timeout=20)
    assert found, f"no usage anomaly for the GPU launch; stats: {local_stack.stats()['log_subscriptions']}"
    assert "GPU" in found[0]["description"]
    assert local_stack.stats()["deliveries"].get("UsageIngestFunction.CloudTrail", 0) >= 1


def test_cloudtrail_send_reports_what_is_not_a_record_and_sends_the_rest(local_stack, tmp_path):
    good = cloudtrail_record("ListBuckets", "s3.amazonaws.com", "2026-05-01T00:00:00Z", "reporter")
    lines = tmp_path / "records.jsonl"
    lines.write_text(json.dumps(good) + "\n{not json\n" + json.dumps({"hello": "world"}) + "\n")
    out = guardian("cloudtrail", "send", str(lines), "--state-dir", str(local_stack.state_dir))
    assert out.returncode == 1
    assert f"{lines}:2: skipped: not JSON" in out.stderr
    assert f"{lines}:3: skipped: not a CloudTrail record" in out.stderr
    assert "sent 1 CloudTrail record(s)" in out.stdout
    missing = guardian("cloudtrail", "send", str(lines), "--state-dir", str(tmp_path / "nothing-here"))
    assert missing.returncode == 2 and "make local" in missing.stderr


def test_a_cron_schedule_runs_its_function_when_triggered_on_the_local_clock(local_stack):
    # Given the daily drift check, cron(15 3 * * ? *) in the template, planned on the local clock
    listed = guardian("schedules", "list", "--state-dir", str(local_stack.state_dir))
    assert listed.returncode == 0, listed.stderr
    assert "anomaly-guardian-local-drift-check" in listed.stdout and "cron(15 3 * * ? *)" in listed.stdout
    before = local_stack.stats()["deliveries"].get("DriftMonitorFunction.DailyDriftCheck", 0)
    # When it is run now with the documented command
    ran = guardian("schedules", "run", "anomaly-guardian-local-drift-check", "--state-dir", str(local_stack.state_dir))
    # Then the drift monitor ran with the schedule's Input and succeeded
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout)["ok"] is True
    stats = local_stack.stats()
    assert stats["deliveries"]["DriftMonitorFunction.DailyDriftCheck"] == before + 1
    # And moving the clock a month on runs every schedule that fell due (each once): daily, weekly, monthly, rate
    advanced = guardian("schedules", "advance", "32d", "--state-dir", str(local_stack.state_dir))
    assert advanced.returncode == 0, advanced.stderr
    stats = local_stack.stats()
    assert stats["deliveries"]["DriftMonitorFunction.DailyDriftCheck"] == before + 2
    assert stats["deliveries"].get("DriftMonitorFunction.WeeklyRetrain", 0) >= 1
    assert stats["deliveries"].get("BlockExpiryFunction.Every5Minutes", 0) >= 1
    assert stats["deliveries"].get("ReportsFunction.Monthly", 0) >= 1


def test_a_drift_event_on_the_bus_starts_the_retrain_pipeline_through_the_templates_rule(local_stack):
    aws = {
        "endpoint_url": local_stack.aws_endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    sm, events = boto3.client("sagemaker", **aws), boto3.client("events", **aws)
    # The template starts the pipeline named by its SSM contract; locally a stand-in of that name exists.
    (pipeline,) = [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]]

    def executions():
        return sm.list_pipeline_executions(PipelineName=pipeline)["PipelineExecutionSummaries"]

    def retrains():
        return local_stack.stats()["deliveries"].get("RetrainOnDriftRule.retrain", 0)

    # (the weekly retrain publishes to the same rule when another test advances the clock: let what is
    # already under way settle first)
    before, retrains_before = _settled(lambda: (len(executions()), retrains()))
    # When a producer (drift monitor, OpenSearch anomaly detection) reports drift on the stack's bus
    out = events.put_events(
        Entries=[
            {
                "Source": "anomaly-guardian.drift",
                "DetailType": "ModelDriftDetected",
                "Detail": json.dumps({"drifted": ["amountZ"], "maxPsi": 0.41}),
                "EventBusName": "anomaly-guardian-local",
            },
            {
                "Source": "anomaly-guardian.drift",
                "DetailType": "Other",
                "Detail": "{}",
                "EventBusName": "anomaly-guardian-local",
            },
        ]
    )
    assert out["FailedEntryCount"] == 0
    # Then RetrainOnDriftRule matches only the drift event and starts the pipeline with its parameters
    assert wait_for(lambda: retrains() == retrains_before + 1, timeout=10)
    assert wait_for(lambda: len(executions()) >= before + 1, timeout=10)
    time.sleep(1)
    assert retrains() == retrains_before + 1


def _settled(read, quiet: float = 2.0, timeout: float = 30.0):
    """The value of `read()` once it has not changed for `quiet` seconds."""
    deadline, last, since = time.monotonic() + timeout, read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return last


def _template() -> dict:
    return load_template(ROOT / "sam" / "template.yaml")


def test_every_route_of_the_template_answers_through_its_function(api, local_stack):
    """Each Api event of the template, called as a client would (valid token, placeholder ids,
    empty bodies): the request reaches the route's function, which answers without a server error."""
    routes = [
        (str(e["Properties"]["Method"]).upper(), str(e["Properties"]["Path"]), f"{logical}.{name}")
        for logical, res in _template()["Resources"].items()
        if res.get("Type") == "AWS::Serverless::Function"
        for name, e in (res["Properties"].get("Events") or {}).items()
        if e.get("Type") == "Api"
    ]
    assert len(routes) > 20
    before = local_stack.stats()["deliveries"]
    failures = []
    for method, path, _key in routes:
        url = re.sub(r"\{[^}]+\}", "it-sweep-missing", path)
        body = {} if method in ("POST", "PUT", "PATCH") else None
        resp = api(method, url, tenant="sweep", json=body)
        unrouted = resp.status_code == 403 and "Missing Authentication Token" in resp.text
        if resp.status_code >= 500 or unrouted:  # some routes answer HTML (one-click links): text only
            failures.append(f"{method} {path}: {resp.status_code} {resp.text[:200]}")
    assert failures == []
    after = local_stack.stats()["deliveries"]
    assert [key for _, _, key in routes if after.get(key, 0) <= before.get(key, 0)] == []


def test_approving_a_model_package_delivers_sagemakers_event_to_the_promote_function(local_stack):
    aws = {
        "endpoint_url": local_stack.aws_endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    sm, ssm = boto3.client("sagemaker", **aws), boto3.client("ssm", **aws)
    # The package group the template's rule filters on comes from the SSM contract, as deployed.
    path = _template()["Parameters"]["ModelPackageGroupName"]["Default"]
    group = ssm.get_parameter(Name=path)["Parameter"]["Value"]
    with contextlib.suppress(sm.exceptions.ClientError):  # created by an earlier journey
        sm.create_model_package_group(ModelPackageGroupName=group)
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/j:1", "ModelDataUrl": "s3://x/m.tgz"}
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]
    before = local_stack.stats()["deliveries"].get("ModelPromoteFunction.ModelApproved", 0)
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    # SageMaker's "Model Package State Change" event reaches the promote function through the rule
    delivered = wait_for(
        lambda: local_stack.stats()["deliveries"].get("ModelPromoteFunction.ModelApproved", 0) > before, timeout=15
    )
    assert delivered, local_stack.stats()["eventbridge"]


def test_accepted_events_reach_the_archive_through_kinesis_and_firehose(api, local_stack):
    # Given the archive Terraform declares (Kinesis -> Firehose -> S3 under events/dt=YYYY-MM-DD/, GZIP)
    (stream, location) = next(iter(local_stack.info["archive"].items()))
    bucket = location.removeprefix("s3://").split("/", 1)[0]
    s3 = boto3.client(
        "s3",
        endpoint_url=local_stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    marker = f"it-archive-{uuid.uuid4().hex[:8]}"
    events = [
        {"eventId": f"{marker}-{i}", "userId": marker, "timestamp": "2026-03-02T10:00:00Z", "eventType": "login"}
        for i in range(3)
    ]
    # When events are accepted by the API
    assert api("POST", "/events", json={"events": events}, tenant="archive-co").status_code == 202

    def archived() -> list[dict]:
        rows = []
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix="events/dt=").get("Contents", []):
            key = obj["Key"]
            if f"/{stream}-1-" not in key or not key.endswith(".gz"):
                continue
            data = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
            decoder, pos = json.JSONDecoder(), 0
            while pos < len(data):  # Firehose concatenates records without a delimiter
                row, pos = decoder.raw_decode(data, pos)
                rows.append(row | {"_key": key})
        return [r for r in rows if str(r.get("event", {}).get("eventId", "")).startswith(marker)]

    # Then within the (locally shortened) buffering interval they are in a GZIP object under the
    # declared prefix, as the ingest function wrote them to the stream, KMS-encrypted
    rows = wait_for(lambda: len(archived()) == 3 and archived(), timeout=20)
    assert rows, local_stack.stats()["archive"]
    assert {r["tenantId"] for r in rows} == {"archive-co"}
    assert re.match(r"^events/dt=\d{4}-\d{2}-\d{2}/", rows[0]["_key"])
    head = s3.head_object(Bucket=bucket, Key=rows[0]["_key"])
    assert head["ServerSideEncryption"] == "aws:kms"


def test_a_tenants_webhook_receives_a_signed_delivery_for_a_new_incident(api, local_stack):
    # Given a receiver on this machine (the local stack lets webhooks target 127.0.0.1) and a tenant's webhook
    got: list[tuple[dict, bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = "whsec_0123456789abcdef"
    try:
        hook = {
            "url": f"http://127.0.0.1:{server.server_address[1]}/hook",
            "events": ["incident.opened"],
            "severityFilter": ["CRITICAL", "HIGH"],
            "secret": secret,
        }
        created = api("POST", "/webhooks", tenant="hooked", json=hook)
        assert created.status_code == 201, created.text
        # When a critical anomaly opens an incident
        user = f"it-hook-{uuid.uuid4().hex[:6]}"
        big = {
            "eventId": f"{user}-big",
            "userId": user,
            "timestamp": "2026-03-02T10:00:00Z",
            "eventType": "transaction",
            "transactionAmount": 9_900,
        }
        assert api("POST", "/events", json=big, tenant="hooked").status_code == 202
        # Then the webhook queue feeds the dispatcher, which POSTs the incident, signed with the secret
        assert wait_for(lambda: got, timeout=30), local_stack.stats()["sqs"]
    finally:
        server.shutdown()
    headers, body = got[0]
    timestamp = int(headers["x-guardian-signature"].split(",")[0].removeprefix("t="))
    assert headers["x-guardian-signature"] == sign(secret.encode(), timestamp, body)
    assert json.loads(body)["event"] == "incident.opened" and json.loads(body)["tenantId"] == "hooked"
    assert local_stack.stats()["deliveries"].get("WebhookDispatcherFunction.Deliveries", 0) >= 1
