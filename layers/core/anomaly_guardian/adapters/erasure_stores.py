"""Where erasure reaches into AWS: tenant partitions of the DynamoDB tables, dedupe markers, S3 objects.

- `PartitionEraser`: every item of a tenant partition (`pk = T#{tenant}`, plus given extra partitions
  such as the incident entity index `T#{tenant}#E#user#{pseudonym}`) that mentions one of the
  subject's identifiers is deleted when its key names them (a block `USER#{pseudonym}`, an index
  item) and otherwise rewritten with the identifiers replaced by `[erased]` (incidents, audit
  records: the record of what happened stays, the person does not).
- `MarkerEraser`: the detector's dedupe markers of the subject's events; a PENDING marker carries
  anomaly documents, so it becomes COMPLETED without them (keeping the marker stops a Kinesis
  redelivery from re-creating the erased anomalies).
- `ObjectEraser`: every object version under a bucket prefix that holds JSON records of the subject
  (archived envelopes, exported rows) is rewritten without them; on a versioned bucket the versions
  that held them are deleted, so no older version keeps the person either.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from anomaly_guardian.adapters.dynamodb import client, from_item, to_item
from anomaly_guardian.erasure.records import Subject, contains_any, looks_binary, mentions, redact, without_subject

MAX_OBJECT_BYTES = 256 * 1024 * 1024  # Firehose writes at most 128 MiB per object
SNIFF_BYTES = 4096


@dataclass
class StoreResult:
    deleted: int = 0
    rewritten: int = 0

    def __iadd__(self, other: StoreResult) -> StoreResult:
        self.deleted += other.deleted
        self.rewritten += other.rewritten
        return self


class PartitionEraser:
    def __init__(self, table: str, ddb: Any = None):
        self.table = table
        self.ddb = ddb or client("dynamodb")

    def _items(self, pk: str) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
        }
        while True:
            resp = self.ddb.query(**kwargs)
            for raw in resp.get("Items", []):
                yield from_item(raw)
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def erase(self, tenant: str, subject: Subject, extra_partitions: Iterable[str] = ()) -> StoreResult:
        needles = subject.needles()
        result = StoreResult()
        tenant_pk = f"T#{tenant}"
        for pk in dict.fromkeys([tenant_pk, *extra_partitions]):
            for item in list(self._items(pk)):
                key = {"pk": {"S": str(item["pk"])}, "sk": {"S": str(item["sk"])}}
                # The tenant partition's pk is the tenant, never the person; extra partitions are theirs.
                named = str(item["sk"]) if pk == tenant_pk else f"{item['pk']}\x1f{item['sk']}"
                body = {k: v for k, v in item.items() if k not in ("pk", "sk")}
                if contains_any(named, needles):
                    self.ddb.delete_item(TableName=self.table, Key=key)
                    result.deleted += 1
                elif mentions(body, needles):
                    clean = {"pk": item["pk"], "sk": item["sk"]} | redact(body, needles)
                    self.ddb.put_item(TableName=self.table, Item=to_item(clean))
                    result.rewritten += 1
        return result


class MarkerEraser:
    def __init__(self, table: str, ddb: Any = None):
        self.table = table
        self.ddb = ddb or client("dynamodb")

    def erase(self, tenant: str, subject: Subject) -> StoreResult:
        result = StoreResult()
        for event_id in sorted(subject.event_ids):
            key = {"id": {"S": f"{tenant}#{event_id}"}}
            item = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
            if item and "anomalies" in item:
                self.ddb.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression="SET #s = :done REMOVE anomalies",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues={":done": {"S": "COMPLETED"}},
                )
                result.rewritten += 1
        return result


class ObjectEraser:
    def __init__(self, bucket: str, prefixes: Iterable[str] = ("",), s3: Any = None, kms_key_id: str | None = None):
        self.bucket = bucket
        self.prefixes = tuple(prefixes)
        self.s3 = s3 or client("s3")
        self.kms_key_id = kms_key_id

    def _versions(self, prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.s3.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Versions", [])

    def erase(self, subject: Subject, pseudonymiser: Any) -> StoreResult:
        result = StoreResult()
        status = self.s3.get_bucket_versioning(Bucket=self.bucket).get("Status")
        versioned = status in ("Enabled", "Suspended")
        for prefix in self.prefixes:
            versions = list(self._versions(prefix))
            # Latest versions first: identifiers learnt from them (IPs, devices) also clean the older ones.
            for v in sorted(versions, key=lambda v: not v.get("IsLatest")):
                args = {"Bucket": self.bucket, "Key": v["Key"]}
                version_id = v.get("VersionId")
                if version_id and version_id != "null":
                    args["VersionId"] = version_id
                if contains_any(v["Key"], subject.needles()):
                    self._delete(args, versioned)
                    result.deleted += 1
                    continue
                if v.get("Size", 0) > SNIFF_BYTES:  # large binaries (models, feature matrices) hold no records
                    head = self.s3.get_object(**args, Range=f"bytes=0-{SNIFF_BYTES - 1}")["Body"].read()
                    if looks_binary(head):
                        continue
                    if v.get("Size", 0) > MAX_OBJECT_BYTES:
                        raise RuntimeError(f"s3://{self.bucket}/{v['Key']} is too large to rewrite in one pass")
                obj = self.s3.get_object(**args)
                clean, _removed = without_subject(obj["Body"].read(), subject, pseudonymiser)
                if clean is None:
                    continue
                if v.get("IsLatest"):
                    put = {"Bucket": self.bucket, "Key": v["Key"], "Body": clean}
                    if obj.get("ServerSideEncryption") == "aws:kms" or self.kms_key_id:
                        put["ServerSideEncryption"] = "aws:kms"
                        key_id = self.kms_key_id or obj.get("SSEKMSKeyId")
                        if key_id:
                            put["SSEKMSKeyId"] = key_id
                    if obj.get("ContentEncoding"):
                        put["ContentEncoding"] = obj["ContentEncoding"]
                    self.s3.put_object(**put)
                    result.rewritten += 1
                if versioned:  # the version that held the person goes; the rewrite is the new latest
                    self._delete(args, versioned)
                    result.deleted += 0 if v.get("IsLatest") else 1
        return result

    def _delete(self, args: dict[str, Any], versioned: bool) -> None:
        if versioned and "VersionId" not in args:
            return
        self.s3.delete_object(**args)
