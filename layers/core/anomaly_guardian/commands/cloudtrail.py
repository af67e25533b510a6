"""`guardian cloudtrail send FILE...`: feed CloudTrail records into the local stack's CloudTrail log group.

In AWS, CloudTrail delivers each record to its CloudWatch Logs log group and the subscription filter
hands new log events to usage_ingest. Locally this command plays CloudTrail: it reads records from
files (CloudTrail's own `{"Records": [...]}` files as found in the trail's S3 bucket, or one record
per line; gzip or not) and calls PutLogEvents on the local log group (its name and the emulation's
endpoint come from the running stack's `.local/stack.json`); the local stack's subscription then
delivers them like the deployed one. Lines or files that are not CloudTrail records are reported
with their position and not sent; the exit code is 1 if any was.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_000_000  # PutLogEvents: 1,048,576 bytes incl. 26 bytes per event


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cloudtrail", help="feed CloudTrail records to the local stack's CloudTrail log group")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    send = verbs.add_parser("send", help="PutLogEvents the records of FILE... on the local CloudTrail log group")
    send.add_argument("files", nargs="+", type=Path, help='{"Records": [...]} or JSON-lines files, .gz or not')
    send.add_argument("--state-dir", type=Path, default=None, help="the local stack's state directory (.local/)")
    send.add_argument("--log-group", default=None, help="log group (default: the stack's subscribed log group)")
    send.add_argument("--endpoint-url", default=None, help="CloudWatch Logs endpoint (default: the local stack's)")
    send.set_defaults(func=run_send)


def read_records(path: Path) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """(position, record, reason): a record, or None with why the item at that position is not one."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if whole is not None:
        items = whole.get("Records") if isinstance(whole, dict) and "Records" in whole else whole
        items = items if isinstance(items, list) else [items]
        for i, item in enumerate(items):
            yield from _checked(f"{path}:record {i + 1}", item)
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield f"{path}:{n}", None, f"not JSON: {exc}"
            continue
        if isinstance(item, dict) and isinstance(item.get("Records"), list):
            for i, rec in enumerate(item["Records"]):
                yield from _checked(f"{path}:{n} record {i + 1}", rec)
        else:
            yield from _checked(f"{path}:{n}", item)


def _checked(where: str, item: Any) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    if not isinstance(item, dict):
        yield where, None, "not a JSON object"
    elif not item.get("eventVersion") or not item.get("eventName") or not item.get("eventSource"):
        yield where, None, "not a CloudTrail record (eventVersion, eventSource and eventName are required)"
    else:
        yield where, item, None


def batches(messages: list[str], now_ms: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    size = 0
    for message in messages:
        cost = len(message.encode()) + 26
        if batch and (len(batch) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": now_ms, "message": message})
        size += cost
    if batch:
        yield batch


def run_send(args: argparse.Namespace) -> int:
    import boto3

    from anomaly_guardian.local.cfn import ACCOUNT_ID, REGION
    from anomaly_guardian.local.server import DUMMY_CREDENTIALS
    from anomaly_guardian.local.state import NoLocalStack, read_stack

    endpoint, group = args.endpoint_url, args.log_group
    if endpoint is None or group is None:
        try:
            info = read_stack(args.state_dir)
        except NoLocalStack as exc:
            print(f"guardian cloudtrail send: {exc}", file=sys.stderr)
            return 2
        endpoint = endpoint or info["aws_endpoint_url"]
        groups = sorted(set((info.get("log_groups") or {}).values()))
        if group is None:
            if len(groups) != 1:
                print(f"guardian cloudtrail send: choose --log-group among {groups}", file=sys.stderr)
                return 2
            group = groups[0]
    messages: list[str] = []
    bad = 0
    for path in args.files:
        if not path.is_file():
            print(f"{path}: no such file", file=sys.stderr)
            bad += 1
            continue
        for where, record, reason in read_records(path):
            if record is None:
                print(f"{where}: skipped: {reason}", file=sys.stderr)
                bad += 1
            else:
                messages.append(json.dumps(record, separators=(",", ":")))
    logs = boto3.client(
        "logs",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )
    stream = f"{ACCOUNT_ID}_CloudTrail_{REGION}"  # CloudTrail's own log stream naming
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    except logs.exceptions.ResourceNotFoundException:
        print(f"guardian cloudtrail send: log group {group} does not exist at {endpoint}", file=sys.stderr)
        return 2
    sent = 0
    for batch in batches(messages, int(time.time() * 1000)):
        resp = logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        rejected = resp.get("rejectedLogEventsInfo") or {}
        if rejected:
            print(f"guardian cloudtrail send: CloudWatch Logs rejected events: {rejected}", file=sys.stderr)
            bad += 1
        sent += len(batch)
    print(f"sent {sent} CloudTrail record(s) to {group}" + (f"; {bad} skipped (see above)" if bad else ""))
    return 1 if bad else 0
