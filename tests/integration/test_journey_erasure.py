"""Journey: a person's data is erased everywhere on the local stack (`guardian subjects erase`).

Given a fresh tenant where two people sent events through POST /events (anomalies in DynamoDB, their
search documents in the local OpenSearch through the table stream, detector state), the event archive
the local stack's Kinesis -> Firehose -> S3 path wrote (GZIP, records concatenated under
`events/dt=.../`, as Terraform declares it), a second archive object and a training snapshot holding
their records. When the operator runs
`guardian subjects erase USER`, then no table item, bucket object (any version) or search document
holds the person's raw user id, IP, device id or their pseudonyms, and the other person's data stays.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import uuid

import boto3
from botocore.credentials import Credentials
from local_helpers import wait_for

from anomaly_guardian.adapters.opensearch import OpenSearchClient
from anomaly_guardian.erasure.records import parse_object


def aws(local_stack, service):
    return boto3.client(
        service,
        endpoint_url=local_stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def search_all(local_stack, tenant) -> list[dict]:
    client = OpenSearchClient(
        local_stack.info["opensearch_url"], "us-east-1", credentials=Credentials("testing", "testing")
    )
    body = json.dumps({"query": {"term": {"tenantId": tenant}}, "size": 1000}).encode()
    try:
        return client.request("POST", "/anomalies-*/_search", body)["hits"]["hits"]
    except Exception:  # no index yet
        return []


def events_of(person, tenant_tag):
    history = [
        {
            "eventId": f"{tenant_tag}-{uuid.uuid4().hex[:10]}",
            "timestamp": f"2026-03-02T09:{m:02d}:00Z",
            "eventType": "transaction",
            "transactionAmount": 25 + m,
            **person,
        }
        for m in range(5)
    ]
    big = dict(history[-1], eventId=f"{tenant_tag}-{uuid.uuid4().hex[:10]}", timestamp="2026-03-02T10:00:00Z")
    big["transactionAmount"] = 9_700
    return [*history, big]


def scan_tables(local_stack) -> list[tuple[str, str]]:
    ddb = aws(local_stack, "dynamodb")
    out = []
    for table in ddb.list_tables()["TableNames"]:
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            out.extend((table, json.dumps(i, ensure_ascii=False)) for i in page["Items"])
    return out


def scan_buckets(local_stack) -> list[tuple[str, str]]:
    s3 = aws(local_stack, "s3")
    out = []
    for bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            for v in page.get("Versions", []):
                data = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
                if data[:2] == b"\x1f\x8b":
                    data = gzip.decompress(data)
                out.append((f"s3://{bucket}/{v['Key']}", v["Key"] + data.decode("utf-8", errors="replace")))
    return out


def bucket(local_stack, word):
    names = [b["Name"] for b in aws(local_stack, "s3").list_buckets()["Buckets"] if word in b["Name"]]
    assert names, f"no {word} bucket on the local stack"
    return names[0]


def test_erasing_a_subject_leaves_nothing_in_tables_buckets_or_the_search_index(api, local_stack):
    tenant = f"er-{uuid.uuid4().hex[:8]}"
    tag = uuid.uuid4().hex[:6]
    alice = {"userId": f"alice-{tag}@example.com", "ipAddress": "203.0.113.91", "deviceId": f"dev-alice-{tag}"}
    bob = {"userId": f"bob-{tag}", "ipAddress": "198.51.100.61", "deviceId": f"dev-bob-{tag}"}
    sent = {"alice": events_of(alice, tenant), "bob": events_of(bob, tenant)}
    for events in sent.values():
        assert api("POST", "/events", tenant=tenant, json={"events": events}).status_code == 202

    def anomalies():
        return api("GET", "/anomalies", tenant=tenant, params={"limit": 1000}).json()["anomalies"]

    assert wait_for(lambda: len({a["originalEvent"]["eventId"] for a in anomalies()}) >= 2, timeout=20)
    assert wait_for(lambda: len(search_all(local_stack, tenant)) >= 2, timeout=20), "no search documents"

    # The local stack's Kinesis -> Firehose -> S3 archive delivers what it buffered: alice's records are
    # in the archive as the deployed stack would have them.
    s3 = aws(local_stack, "s3")
    archive = bucket(local_stack, "archive")
    flushed = api("POST", "/_local/archive/flush", tenant=None)
    assert flushed.status_code == 200, flushed.text

    def archived_by_the_stack():
        found = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=archive, Prefix="events/"):
            for o in page.get("Contents", []):
                data = s3.get_object(Bucket=archive, Key=o["Key"])["Body"].read()
                text = (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data).decode(errors="replace")
                if alice["userId"] in text:
                    found.append(o["Key"])
        return found

    assert wait_for(archived_by_the_stack, timeout=20), "the local archive never received alice's records"
    # A second copy in the same format written here, and a training snapshot in the model bucket.
    envelopes = [{"tenantId": tenant, "receivedAt": e["timestamp"], "event": e} for e in sent["alice"] + sent["bob"]]
    models = bucket(local_stack, "model")
    key = f"events/dt=2026-03-02/anomaly-guardian-local-archive-1-2026-03-02-10-00-00-{tag}.gz"
    s3.put_object(Bucket=archive, Key=key, Body=gzip.compress("".join(json.dumps(e) for e in envelopes).encode()))
    snapshot = "".join(json.dumps(e) + "\n" for e in envelopes)
    s3.put_object(Bucket=models, Key=f"training/{tag}/events.jsonl", Body=snapshot.encode())

    # The pseudonyms as the stack computed them: from the person's anomalies (user, IP and device entities).
    alice_ids = {e["eventId"] for e in sent["alice"]}
    mine = [a for a in anomalies() if a["originalEvent"]["eventId"] in alice_ids]
    alice_pseudo = mine[0]["userId"]
    needles = {"raw user id": alice["userId"], "raw ip": alice["ipAddress"], "raw device": alice["deviceId"]}
    needles["user pseudonym"] = alice_pseudo
    for a in mine:
        for kind in ("ip", "device"):
            if (a.get("entities") or {}).get(kind):
                needles[f"{kind} pseudonym"] = a["entities"][kind]
    before = scan_tables(local_stack) + scan_buckets(local_stack)
    for what, needle in needles.items():
        assert any(needle in text for _, text in before), f"the {what} was never stored"

    out = subprocess.run(
        [
            sys.executable, "-m", "anomaly_guardian.cli", "subjects", "erase", alice["userId"],
            "--api", local_stack.api, "--tenant", tenant,
        ],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["userPseudonym"] == alice_pseudo and result["notCovered"] == []
    assert result["anomaliesDeleted"] >= 1 and result["objectsRewritten"]["archive"] >= 1

    def alice_documents():
        return [h for h in search_all(local_stack, tenant) if contains(h, needles)]

    assert wait_for(lambda: not alice_documents(), timeout=20), "search documents of the erased person remain"
    found = [
        (where, what)
        for where, text in scan_tables(local_stack) + scan_buckets(local_stack)
        for what, needle in needles.items()
        if needle in text
    ]
    found += [("opensearch", json.dumps(h)) for h in search_all(local_stack, tenant) if contains(h, needles)]
    assert found == []
    # The other person is still there: anomalies, search documents, archived records.
    assert [a for a in anomalies() if a["originalEvent"]["eventId"] in {e["eventId"] for e in sent["bob"]}]
    assert search_all(local_stack, tenant)
    latest = parse_object(s3.get_object(Bucket=archive, Key=key)["Body"].read()).records
    assert [r["event"] for r in latest] == sent["bob"]


def contains(hit: dict, needles: dict[str, str]) -> bool:
    text = json.dumps(hit, ensure_ascii=False)
    return any(n in text for n in needles.values())
