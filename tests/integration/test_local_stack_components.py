"""The local stack's own machinery, against a small fixture template and fixture handlers.

Given the fixture template (tests/integration/fixtures), when the stack starts on moto, then the
resources exist as declared, the API adapter produces API Gateway proxy events and enforces the
authorizer, and the Kinesis/SQS mappings honour batchItemFailures like AWS.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import boto3
import pytest
import requests
from local_helpers import wait_for as _wait_for

from anomaly_guardian.local.cfn import Resolver, load_template
from anomaly_guardian.local.stack import LocalStack, StackOptions

FIXTURES = Path(__file__).parent / "fixtures"
ALLOW = {"Authorization": "Bearer allow-acme"}


@pytest.fixture(scope="module")
def stack():
    options = StackOptions(template=FIXTURES / "template.yaml", api_port=0, log_level="ERROR", schedule_speedup=0.01)
    s = LocalStack(options).start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def aws(stack):
    def client(name):
        return boto3.client(
            name,
            endpoint_url=stack.moto.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


def wait_for(predicate, timeout=10.0, interval=0.05):
    """local_helpers.wait_for with this module's longer default wait and finer polling."""
    return _wait_for(predicate, timeout=timeout, interval=interval)


def test_loader_understands_short_tags_and_resolver_evaluates_them():
    t = load_template(FIXTURES / "template.yaml")
    env = t["Globals"]["Function"]["Environment"]["Variables"]
    assert env["ITEMS_TABLE"] == {"Ref": "ItemsTable"}
    assert t["Resources"]["Api"]["Properties"]["Auth"]["Authorizers"]["TokenAuth"]["FunctionArn"] == {
        "Fn::GetAtt": ["AuthorizerFunction", "Arn"]
    }
    r = Resolver(refs={"Env": "dev", "X": "x1"}, conditions=t["Conditions"], stack_name="s")
    assert r.resolve(env["LOG_RETENTION"]) == "14"
    assert r.resolve({"Fn::Sub": "${AWS::StackName}-${X}-${!Literal}"}) == "s-x1-${Literal}"
    assert r.resolve({"Fn::Join": ["/", ["a", {"Ref": "X"}]]}) == "a/x1"
    assert r.resolve({"k": {"Ref": "AWS::NoValue"}, "j": 1}) == {"j": 1}
    assert r.resolve({"Ref": "Missing"}) is None and "Ref Missing" in r.unresolved


def test_tables_queues_topics_and_state_machine_are_created_from_the_template(stack, aws):
    desc = aws("dynamodb").describe_table(TableName="anomaly-guardian-local-items")["Table"]
    assert [k["AttributeName"] for k in desc["KeySchema"]] == ["pk", "sk"]
    assert desc["GlobalSecondaryIndexes"][0]["IndexName"] == "gsi1"
    ttl = aws("dynamodb").describe_time_to_live(TableName="anomaly-guardian-local-items")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "ttl"
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName="anomaly-guardian-local-work")["QueueUrl"]
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    assert redrive["deadLetterTargetArn"].endswith(":anomaly-guardian-local-work-dlq")
    topics = [t["TopicArn"] for t in aws("sns").list_topics()["Topics"]]
    assert "arn:aws:sns:us-east-1:123456789012:anomaly-guardian-local-alerts" in topics
    sm_arn = stack.resources.state_machines["Flow"]
    definition = json.loads(aws("stepfunctions").describe_state_machine(stateMachineArn=sm_arn)["definition"])
    assert definition["States"]["Work"]["Resource"].endswith(":function:anomaly-guardian-local-WorkerFunction")
    assert definition["States"]["Done"]["Result"]["topic"].endswith(":anomaly-guardian-local-alerts")
    # The SSM contract Terraform publishes exists locally too, pointing at the local stream.
    ssm = aws("ssm").get_parameter(Name="/anomaly-guardian/dev/kinesis/events-stream-name")["Parameter"]["Value"]
    assert ssm == "anomaly-guardian-local-events"
    assert aws("kinesis").describe_stream_summary(StreamName=ssm)["StreamDescriptionSummary"]["OpenShardCount"] == 2


def test_no_token_is_401_deny_is_403_unknown_token_is_401(stack):
    url = stack.api_url + "/items"
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer deny"}, timeout=5).status_code == 403
    unauthorized = requests.get(url, headers={"Authorization": "Bearer who"}, timeout=5).json()
    assert unauthorized == {"status": "error", "code": "UNAUTHORIZED", "message": "Unauthorized"}


def test_routes_with_auth_none_skip_the_authorizer(stack):
    body = requests.get(stack.api_url + "/health", timeout=5).json()
    assert body == {"ok": True, "authorizer": False}


def test_proxy_event_has_the_api_gateway_shape(stack):
    resp = requests.get(stack.api_url + "/x/y%20z?a=1&a=2&b=", headers={**ALLOW, "X-Thing": "v"}, timeout=5)
    assert resp.status_code == 200
    assert resp.headers["X-Echo"] == "a, b"  # multiValueHeaders mapped back
    event = resp.json()["event"]
    assert event["resource"] == "/{proxy+}" and event["path"] == "/x/y%20z" and event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"proxy": "x/y%20z"}  # REST API Gateway passes them still encoded
    assert event["queryStringParameters"] == {"a": "2", "b": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": [""]}
    assert event["headers"]["X-Thing"] == "v" and event["multiValueHeaders"]["X-Thing"] == ["v"]
    ctx = event["requestContext"]
    assert ctx["authorizer"] == {"tenantId": "acme", "principalId": "acme"}
    assert ctx["identity"]["sourceIp"] == "127.0.0.1" and ctx["stage"] == "local" and ctx["requestId"]
    assert event["body"] is None and event["isBase64Encoded"] is False
    assert resp.json()["ctx"] == "anomaly-guardian-local-ApiFunction"


def test_specific_routes_win_over_greedy_ones(stack):
    event = requests.get(stack.api_url + "/items/42", headers=ALLOW, timeout=5).json()["event"]
    assert event["resource"] == "/items/{itemId}" and event["pathParameters"] == {"itemId": "42"}


def test_binary_bodies_are_base64_and_function_errors_are_502(stack):
    resp = requests.post(stack.api_url + "/bin", data=b"\xff\xfe", headers=ALLOW, timeout=5)
    event = resp.json()["event"]
    assert event["isBase64Encoded"] is True and event["body"] == "//4="
    assert requests.get(stack.api_url + "/boom", headers=ALLOW, timeout=5).status_code == 502


def test_events_flow_through_kinesis_to_the_detector_and_become_visible(stack):
    events = [{"id": f"e{i}"} for i in range(60)]
    resp = requests.post(stack.api_url + "/events", json={"events": events}, headers=ALLOW, timeout=5)
    assert resp.status_code == 202
    items = wait_for(
        lambda: len(requests.get(stack.api_url + "/items", headers=ALLOW, timeout=5).json()["items"]) >= 60 or None
    )
    assert items
    other = requests.get(stack.api_url + "/items", headers={"Authorization": "Bearer allow-other"}, timeout=5)
    assert other.json()["items"] == []


def test_partial_batch_failure_redelivers_from_the_failed_record_then_gives_up_to_the_destination(stack, aws):
    # One execution environment (module instance) per shard, as Lambda runs one invocation per shard.
    envs = [m for name, m in sys.modules.items() if name.startswith("guardian_local_fn_DetectorFunction")]
    assert len(envs) == 2
    before = {k: dict(p.stats.as_dict()) for k, p in enumerate(stack.kinesis_pollers)}
    batch = [{"id": "ok1"}, {"id": "once", "poison": "once"}, {"id": "ok2"}, {"id": "dead", "poison": "forever"}]
    # One partition key per tenant+id; send them one by one so each shard sees its own order.
    for ev in batch:
        requests.post(stack.api_url + "/events", json=ev, headers={"Authorization": "Bearer allow-poison"}, timeout=5)
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName="anomaly-guardian-local-StreamFailures")["QueueUrl"]
    msgs = wait_for(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"), timeout=15)
    assert msgs, "the always-failing record never reached the OnFailure destination"
    info = json.loads(msgs[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["KinesisBatchInfo"]["batchSize"] >= 1 and info["KinesisBatchInfo"]["streamArn"].endswith("-events")
    # 'once' failed once and was re-delivered from its sequence number; 'dead' got 1 + MaximumRetryAttempts (2).
    by_id = {k: v for m in envs for k, v in m.BY_ID.items()}
    assert by_id["poison:once"] == 2 and by_id["poison:dead"] == 3
    assert by_id["poison:ok1"] == 1
    stored = requests.get(stack.api_url + "/items", headers={"Authorization": "Bearer allow-poison"}, timeout=5).json()
    assert sorted(stored["items"]) == ["E#ok1", "E#ok2", "E#once"]
    after = stack.stats()["kinesis"][0]
    assert after["sent_to_destination"] - before[0]["sent_to_destination"] >= 1
    assert after["received"] == after["processed"] + after["sent_to_destination"] + after["discarded"]


def test_sqs_mapping_deletes_successes_and_leaves_failures_for_the_dlq(stack, aws):
    worker = sys.modules["guardian_local_fn_WorkerFunction"]
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName="anomaly-guardian-local-work")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="anomaly-guardian-local-work-dlq")["QueueUrl"]
    for body in ("one", "fail", "two"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    assert wait_for(lambda: {"one", "two"} <= set(worker.PROCESSED))
    # maxReceiveCount 2, visibility 1 s: after two failed receives moto moves it to the DLQ.
    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq).get("Messages"), timeout=15, interval=0.3)
    assert moved and moved[0]["Body"] == "fail"


def test_eventbridge_rules_deliver_matching_events_to_their_function(stack, aws):
    worker = sys.modules["guardian_local_fn_WorkerFunction"]
    entries = [
        {"Source": "anomaly-guardian", "DetailType": "IncidentOpened", "Detail": '{"id": "i-1"}'},
        {"Source": "anomaly-guardian", "DetailType": "SomethingElse", "Detail": '{"id": "i-2"}'},
    ]
    for e in entries:
        e["EventBusName"] = "anomaly-guardian-local-bus"
    assert aws("events").put_events(Entries=entries)["FailedEntryCount"] == 0
    got = wait_for(lambda: [e for e in worker.EVENTS if e.get("detail-type") == "IncidentOpened"])
    assert got and got[0]["detail"] == {"id": "i-1"} and got[0]["source"] == "anomaly-guardian"
    time.sleep(0.5)
    assert not [e for e in worker.EVENTS if e.get("detail-type") == "SomethingElse"]


def test_approving_a_model_package_emits_sagemakers_state_change_event_to_the_rule(stack, aws):
    worker = sys.modules["guardian_local_fn_WorkerFunction"]
    sm = aws("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="it-detector")
    arn = sm.create_model_package(
        ModelPackageGroupName="it-detector",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [
                {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1", "ModelDataUrl": "s3://b/m.tgz"}
            ],
            "SupportedContentTypes": ["application/json"],
            "SupportedResponseMIMETypes": ["application/json"],
        },
    )["ModelPackageArn"]

    def approved():
        return [e for e in worker.EVENTS if e.get("source") == "aws.sagemaker"]

    time.sleep(1.5)
    assert approved() == []  # the pending package's event does not match the rule's pattern
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    got = wait_for(approved)
    assert got and got[0]["detail-type"] == "SageMaker Model Package State Change"
    assert got[0]["detail"]["ModelPackageArn"] == arn and got[0]["detail"]["ModelApprovalStatus"] == "Approved"
    assert got[0]["resources"] == [arn]
    assert stack.stats()["deliveries"]["WorkerFunction.ModelApproved"] == 1


def test_step_functions_tasks_run_the_real_handler(stack, aws):
    sfn = aws("stepfunctions")
    arn = stack.resources.state_machines["Flow"]
    execution = sfn.start_execution(stateMachineArn=arn, name="it-flow-1", input='{"task": "t-42"}')
    desc = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=execution["executionArn"]))["status"] != "RUNNING" and d,
        timeout=15,
    )
    assert desc["status"] == "SUCCEEDED", desc
    assert json.loads(desc["output"])["topic"].endswith(":anomaly-guardian-local-alerts")
    worker = sys.modules["guardian_local_fn_WorkerFunction"]
    assert {"task": "t-42"} in worker.EVENTS  # the Task state invoked the handler, not moto's echo


def test_a_raising_batch_is_bisected_so_the_good_records_still_get_through(stack, aws):
    envs = [m for name, m in sys.modules.items() if name.startswith("guardian_local_fn_DetectorFunction")]
    sqs = aws("sqs")
    url = sqs.get_queue_url(QueueName="anomaly-guardian-local-StreamFailures")["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    # One user (one partition key, one shard): good, good, raising, good in one POST -> one batch.
    batch = [{"id": "g1"}, {"id": "g2"}, {"id": "boom", "poison": "raise"}, {"id": "g3"}]
    body = {"events": [dict(ev, user="same") for ev in batch]}
    resp = requests.post(
        stack.api_url + "/events", json=body, headers={"Authorization": "Bearer allow-bisect"}, timeout=5
    )
    assert resp.status_code == 202
    msgs = wait_for(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"), timeout=20)
    assert msgs, "the raising record never reached the OnFailure destination"
    info = json.loads(msgs[0]["Body"])["KinesisBatchInfo"]
    assert info["batchSize"] == 1  # bisected down to the single bad record
    stored = wait_for(
        lambda: (
            sorted(
                requests.get(
                    stack.api_url + "/items", headers={"Authorization": "Bearer allow-bisect"}, timeout=5
                ).json()["items"]
            )
            == ["E#g1", "E#g2", "E#g3"]
        )
    )
    assert stored
    assert any("bisect:g1" in m.BY_ID for m in envs)


def test_guardian_local_starts_and_shuts_down_cleanly(tmp_path):
    """`guardian local` as a child process: ready file, API answers, SIGTERM -> exit 0, nothing left listening."""
    import socket

    from anomaly_guardian.local.process import StackProcess

    proc = StackProcess(tmp_path / "stack.log", port=0, template=FIXTURES / "template.yaml").start()
    api, aws_url = proc.api, proc.aws_endpoint_url
    assert requests.get(api + "/health", timeout=5).json()["ok"] is True
    assert proc.stats()["kinesis"][0]["stream"] == "anomaly-guardian-local-events"
    assert proc.stop() == 0
    for url in (api, aws_url):
        host, port = url.removeprefix("http://").split(":")
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex((host, int(port))) != 0, f"{url} still listening after shutdown"


def test_rate_schedules_run_on_the_local_clock_and_cron_ones_when_it_reaches_them(stack):
    worker = sys.modules["guardian_local_fn_WorkerFunction"]
    assert wait_for(lambda: {"task": "tick"} in worker.EVENTS, timeout=5)  # rate(1 minute), clock 100x
    assert stack.stats()["schedules"]["WorkerFunction.Tick"] >= 1
    nightly = stack.scheduler.find("WorkerFunction.Nightly")
    assert nightly is not None and nightly.next_at is not None
    assert (nightly.next_at.hour, nightly.next_at.minute) == (3, 15)  # cron(15 3 * * ? *) in UTC
    # When the clock is moved past 03:15 over the admin endpoint, the nightly schedule runs once
    before = [e for e in worker.EVENTS if e.get("detail-type") == "Scheduled Event"]
    resp = requests.post(stack.api_url + "/_local/clock", json={"advance": "1d"}, timeout=10)
    assert resp.status_code == 200, resp.text
    after = [e for e in worker.EVENTS if e.get("detail-type") == "Scheduled Event"]
    assert len(after) == len(before) + 1 and after[-1]["source"] == "aws.scheduler"
    assert stack.stats()["deliveries"]["WorkerFunction.Nightly"] == 1
    # And `run` fires it at once, whatever the clock says; unknown names are 404 with the list
    ran = requests.post(stack.api_url + "/_local/schedules/WorkerFunction.Nightly/run", timeout=10).json()
    assert ran["ok"] is True and ran["runs"] == 2
    missing = requests.post(stack.api_url + "/_local/schedules/nope/run", timeout=10)
    assert missing.status_code == 404 and "WorkerFunction.Nightly" in missing.json()["message"]
    bad = requests.post(stack.api_url + "/_local/clock", json={"advance": "soon"}, timeout=10)
    assert bad.status_code == 400
