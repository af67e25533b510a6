"""Erasure that leaves nothing: DELETE /subjects/{userId} (real API handler) on emulated AWS (moto).

Given a person whose events went through the real detector Lambda (anomalies, state, dedupe markers),
the response path's records (an incident with its entity index, audit records, a user block, an IP
block, a held transaction, an analyst suppression), the event archive as Firehose writes it (GZIP,
records concatenated, a versioned bucket holding two versions), the feedback export beside it and a
training snapshot in the model bucket, when the API erases the person, then a scan of every table item
and every object version finds neither their raw user id, IP and device id nor their pseudonyms, and
another person's data is untouched.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import zipfile

import pytest
from api_helpers import apigw_event, parse

from anomaly_guardian.adapters.anomalies import AnomalyRepository
from anomaly_guardian.adapters.audit import AuditLog
from anomaly_guardian.adapters.blocklist_admin import BlockListAdmin
from anomaly_guardian.adapters.config_repo import ConfigRepository
from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.adapters.idempotency import DynamoDBEventDedupe
from anomaly_guardian.adapters.incidents import IncidentRepository
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.response.correlation import Incident

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")
TENANT = "acme"
ALICE = {"userId": "alice.smith@example.com", "ipAddress": "203.0.113.77", "deviceId": "dev-7f3a-alice"}
BOB = {"userId": "bob-0042", "ipAddress": "198.51.100.5", "deviceId": "dev-bob"}


def envelope(person, i, amount, tenant=TENANT):
    event = {
        "eventId": f"ev-{abs(hash((person['userId'], i))) % 10**8}",
        "timestamp": f"2026-03-01T12:{i:02d}:00Z",
        "eventType": "transaction",
        "transactionAmount": amount,
        "geoLocation": "FR",
        **person,
    }
    return {"tenantId": tenant, "receivedAt": f"2026-03-01T12:{i:02d}:01Z", "event": event}


def kinesis(envelopes):
    return {
        "Records": [
            {"kinesis": {"sequenceNumber": str(n), "data": base64.b64encode(json.dumps(e).encode()).decode()}}
            | {"eventID": f"shard:{n}"}
            for n, e in enumerate(envelopes)
        ]
    }


def firehose_object(envelopes):
    return gzip.compress("".join(json.dumps(e) for e in envelopes).encode())


@pytest.fixture
def stack(tables, detector_dlq, monkeypatch, handler_module):
    monkeypatch.setenv("GUARDIAN_PSEUDONYM_KEY", "test-pseudonym-key")
    s3 = client("s3")
    for name, env in (
        ("test-archive", "ARCHIVE_BUCKET"),
        ("test-models", "MODEL_BUCKET"),
        ("test-reports", "REPORTS_BUCKET"),
    ):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        monkeypatch.setenv(env, name)
    from anomaly_guardian.api import deps

    deps.reset_services()
    yield handler_module
    deps.reset_services()


def scan_tables():
    ddb = client("dynamodb")
    out = []
    for table in ddb.list_tables()["TableNames"]:
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            out.extend((table, json.dumps(i, ensure_ascii=False)) for i in page["Items"])
    return out


def object_text(data: bytes) -> str:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:2] == b"PK":  # .npz: every member's bytes
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            data = b"".join(z.read(n) for n in z.namelist())
    return data.decode("utf-8", errors="replace") + data.decode("utf-32-le", errors="replace")


def scan_buckets():
    s3 = client("s3")
    out = []
    for bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for v in page.get("Versions", []):
                body = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
                out.append((f"s3://{bucket}/{v['Key']}@{v['VersionId']}", v["Key"] + object_text(body)))
    return out


def test_erasure_leaves_no_raw_id_and_no_pseudonym_in_any_table_or_object(stack, lambda_context):
    import numpy as np

    p = Pseudonymiser(b"test-pseudonym-key")
    alice_pseudo = p.user(TENANT, ALICE["userId"])
    needles = {
        "raw user id": ALICE["userId"],
        "raw ip": ALICE["ipAddress"],
        "raw device": ALICE["deviceId"],
        "user pseudonym": alice_pseudo,
        "ip pseudonym": p.ip(TENANT, ALICE["ipAddress"]),
        "device pseudonym": p.device(TENANT, ALICE["deviceId"]),
    }
    alice = [envelope(ALICE, i, 40 + i) for i in range(8)] + [envelope(ALICE, 20, 9500)]
    bob = [envelope(BOB, i, 30 + i) for i in range(8)] + [envelope(BOB, 21, 8000)]
    # Detector: anomalies, state, dedupe markers of both people.
    detector = stack("detector")
    assert detector.lambda_handler(kinesis(alice + bob), lambda_context) == {"batchItemFailures": []}
    anomalies = AnomalyRepository("test-anomalies", token_key=b"k")
    mine = anomalies.user_anomalies(TENANT, alice_pseudo)
    assert mine, "the detector found nothing for alice"
    assert anomalies.user_anomalies(TENANT, p.user(TENANT, BOB["userId"]))
    first = mine[0]
    # A PENDING marker (as left by a crash between store and respond) carries anomaly documents.
    DynamoDBEventDedupe("test-idempotency").mark(
        [], {f"{TENANT}#{first['originalEvent']['eventId']}": json.dumps([first])}
    )
    # Response records.
    incident = Incident(incidentId="01JINCIDENT0000000000000000", tenantId=TENANT, summary=f"user {alice_pseudo}")
    incident.entities = {"user": [alice_pseudo], "ip": [first["entities"].get("ip", needles["ip pseudonym"])]}
    incident.members = [{"anomalyId": first["anomalyId"], "userId": alice_pseudo}]
    IncidentRepository("test-incidents").save(incident)
    audit = AuditLog("test-audit")
    audit.record(TENANT, {"action": "rate_limit", "subject": first["anomalyId"], "detail": {"ip": ALICE["ipAddress"]}})
    audit.record(TENANT, {"action": "step_up_auth", "subject": first["anomalyId"], "userId": alice_pseudo})
    audit.record(TENANT, {"action": "rule.create", "subject": "01RULE", "actor": "ops"})
    blocks = BlockListAdmin("test-blocklist")
    blocks.put(TENANT, f"USER#{alice_pseudo}", 2**31, {"kind": "user", "userId": alice_pseudo})
    blocks.put(TENANT, f"IP#{ALICE['ipAddress']}", 2**31, {"kind": "ip", "anomalyId": first["anomalyId"]})
    blocks.put(TENANT, f"HOLD#{first['originalEvent']['eventId']}", 2**31, {"kind": "hold", "userId": alice_pseudo})
    blocks.put(TENANT, f"IP#{BOB['ipAddress']}", 2**31, {"kind": "ip"})
    ConfigRepository("test-config").put_suppression(
        TENANT, ("behavioral", alice_pseudo), 2**31, {"anomalyId": first["anomalyId"]}
    )
    # The archive as Firehose writes it (two versions of one object), the feedback export beside it, a
    # training snapshot and a feature matrix in the model bucket.
    s3 = client("s3")
    key = "events/dt=2026-03-01/anomaly-guardian-archive-1-2026-03-01-12-00-00-abc"
    s3.put_object(Bucket="test-archive", Key=key, Body=firehose_object(alice[:4] + bob[:4]))
    s3.put_object(Bucket="test-archive", Key=key, Body=firehose_object(alice + bob))
    feedback = [{"tenantId": TENANT, "anomalyId": first["anomalyId"], "eventId": "x", "label": "true_positive"}]
    s3.put_object(
        Bucket="test-archive", Key="events/feedback.jsonl", Body="".join(json.dumps(r) + "\n" for r in feedback)
    )
    snapshot = "".join(json.dumps(e) + "\n" for e in alice + bob).encode()
    s3.put_object(Bucket="test-models", Key="training/2026-03-01/events.jsonl.gz", Body=gzip.compress(snapshot))
    buf = io.BytesIO()
    np.savez_compressed(buf, X=np.zeros((3, 4)), event_id=np.array(["e1", "e2", "e3"]))
    s3.put_object(Bucket="test-models", Key="pipelines/run-1/train/features.npz", Body=buf.getvalue())

    # A daily report (JSON and HTML) listing the top anomalies with their users' pseudonyms.
    report = {"tenantId": TENANT, "topAnomalies": [{"anomalyId": a["anomalyId"], "userId": a["userId"]} for a in mine]}
    s3.put_object(Bucket="test-reports", Key=f"reports/{TENANT}/daily/2026-03-01.json", Body=json.dumps(report))
    html = f"<html><body><table><tr><td>{alice_pseudo}</td><td>value</td></tr></table></body></html>"
    s3.put_object(Bucket="test-reports", Key=f"reports/{TENANT}/daily/2026-03-01.html", Body=html.encode())

    before_tables, before_objects = scan_tables(), scan_buckets()
    for what, needle in needles.items():
        assert any(needle in text for _, text in before_tables + before_objects), f"setup never stored the {what}"

    api = stack("api")
    event = apigw_event("apigw_delete_subject", tenant=TENANT, path_params={"userId": ALICE["userId"]})
    status, body = parse(api.lambda_handler(event, lambda_context))
    assert status == 200, body
    assert body["notCovered"] == [] and body["userPseudonym"] == alice_pseudo
    assert body["anomaliesDeleted"] == len(mine) and body["objectsRewritten"]["archive"] >= 2

    found = [
        (where, what)
        for where, text in scan_tables() + scan_buckets()
        for what, needle in needles.items()
        if needle in text
    ]
    assert found == []
    # Bob is untouched: his anomalies, his archived records (every one of them), his IP block.
    assert anomalies.user_anomalies(TENANT, p.user(TENANT, BOB["userId"]))
    latest = gzip.decompress(s3.get_object(Bucket="test-archive", Key=key)["Body"].read()).decode()
    assert latest.count(BOB["userId"]) == len(bob) and ALICE["userId"] not in latest
    assert blocks.get(TENANT, f"IP#{BOB['ipAddress']}") is not None
    # The audit keeps a receipt of the erasure and the redacted action records, not the person.
    records = audit.records(TENANT)
    assert [r["action"] for r in records].count("subject.erase") == 1
    assert any(r["action"] == "rate_limit" and r["detail"]["ip"] == "[erased]" for r in records)


def test_a_user_id_with_reserved_characters_is_decoded_once(stack, lambda_context):
    # "100%41" sent as 100%2541: erased must be the person "100%41", not "100A".
    p = Pseudonymiser(b"test-pseudonym-key")
    api = stack("api")
    event = apigw_event("apigw_delete_subject", tenant=TENANT, path_params={"userId": "100%2541"})
    status, body = parse(api.lambda_handler(event, lambda_context))
    assert status == 200 and body["userPseudonym"] == p.user(TENANT, "100%41")
