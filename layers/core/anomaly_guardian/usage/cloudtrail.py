"""CloudTrail -> contract events.

CloudTrail delivers to CloudWatch Logs; a subscription filter hands the usage-ingest Lambda
`{"awslogs": {"data": base64(gzip(json))}}` whose `logEvents[].message` are CloudTrail records.
Each record becomes one event of type `cloudtrail` whose `userId` is the calling principal and
whose `metadata.api` names what the usage detector counts: `service:Action`, refined by the target
where one API hides many workloads (`lambda:Invoke:<function>`) or by what makes a call costly
(`ec2:RunInstances:<instance family>`).
"""

from __future__ import annotations

import base64
import gzip
import ipaddress
import json
from collections.abc import Iterator, Mapping
from typing import Any

EVENT_TYPE = "cloudtrail"
GPU_FAMILIES = frozenset(
    {
        "p2",
        "p3",
        "p4d",
        "p4de",
        "p5",
        "p5e",
        "p5en",
        "p6",
        "g3",
        "g4dn",
        "g4ad",
        "g5",
        "g5g",
        "g6",
        "g6e",
        "gr6",
        "trn1",
        "trn1n",
        "trn2",
        "inf1",
        "inf2",
        "dl1",
        "dl2q",
    }
)
# Calls where a handful of unexpected ones already matter: compute, credentials, storage, logging off.
SENSITIVE_ACTIONS = frozenset(
    {
        "RunInstances",
        "CreateVolume",
        "CreateAccessKey",
        "CreateUser",
        "CreateLoginProfile",
        "AttachUserPolicy",
        "PutUserPolicy",
        "CreateFunction20150331",
        "StopLogging",
        "DeleteTrail",
        "PutBucketPolicy",
        "CreateNotebookInstance",
        "CreateTrainingJob",
        "RequestSpotInstances",
        "CreateFleet",
    }
)


class MalformedLogsEvent(ValueError):
    """The subscription payload could not be decoded; the message says which step failed."""


def decode_subscription(event: Mapping[str, Any]) -> dict[str, Any]:
    try:
        data = event["awslogs"]["data"]
    except (KeyError, TypeError):
        raise MalformedLogsEvent("not a CloudWatch Logs subscription event: missing awslogs.data") from None
    try:
        raw = gzip.decompress(base64.b64decode(data, validate=True))
    except (ValueError, OSError) as exc:
        raise MalformedLogsEvent(f"awslogs.data is not base64 gzip: {exc}") from None
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise MalformedLogsEvent(f"awslogs.data is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedLogsEvent("awslogs.data must decode to a JSON object")
    return payload


def instance_family(instance_type: str | None) -> str | None:
    return instance_type.split(".", 1)[0] if instance_type and "." in instance_type else None


def _instance_types(params: Mapping[str, Any]) -> list[str]:
    direct = params.get("instanceType")
    if isinstance(direct, str):
        return [direct]
    items = (params.get("instancesSet") or {}).get("items") or []
    return [i["instanceType"] for i in items if isinstance(i, dict) and isinstance(i.get("instanceType"), str)]


def _launch_count(params: Mapping[str, Any]) -> int:
    """Instances asked for: CloudTrail puts min/maxCount in `instancesSet.items` (sometimes top level)."""
    items = (params.get("instancesSet") or {}).get("items") or []
    for where in [*(i for i in items if isinstance(i, Mapping)), params]:
        for name in ("maxCount", "minCount"):
            try:
                return max(1, int(where[name]))
            except (KeyError, TypeError, ValueError):
                continue
    return 1


def _is_ip(value: Any) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def api_key(record: Mapping[str, Any]) -> str:
    """What the usage detector counts for this call (see module docstring)."""
    service = str(record.get("eventSource", "unknown")).split(".", 1)[0]
    action = str(record.get("eventName", "unknown"))
    params = record.get("requestParameters") or {}
    if not isinstance(params, Mapping):
        params = {}
    if service == "lambda" and action.startswith("Invoke"):
        fn = str(params.get("functionName", "")).rsplit(":", 1)[-1] if params.get("functionName") else ""
        return f"lambda:Invoke:{fn}" if fn else "lambda:Invoke"
    if action == "RunInstances":
        families = sorted({f for f in map(instance_family, _instance_types(params)) if f})
        return f"ec2:RunInstances:{families[0]}" if families else "ec2:RunInstances"
    return f"{service}:{action}"


def principal(record: Mapping[str, Any]) -> str:
    ident = record.get("userIdentity") or {}
    if not isinstance(ident, Mapping):
        return "unknown"
    return str(ident.get("arn") or ident.get("principalId") or ident.get("invokedBy") or ident.get("type") or "unknown")


def _short(value: Any, limit: int = 256) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def identity(record: Mapping[str, Any]) -> dict[str, str]:
    """Who made the call, readable: principal type, access key id, session issuer, invoking service.

    CloudTrail principals are IAM identities, not the end users the business detectors protect, so
    the alert names them in clear (ARNs can still carry a person's name: IAM user names). They go to
    the anomaly record and the alert, never to the functions' logs.
    """
    ident = record.get("userIdentity") or {}
    if not isinstance(ident, Mapping):
        return {}
    issuer = ((ident.get("sessionContext") or {}).get("sessionIssuer") or {}) if isinstance(ident, Mapping) else {}
    out = {
        "principalType": _short(ident.get("type")),
        "accessKeyId": _short(ident.get("accessKeyId"), 128),
        "sessionIssuer": _short(issuer.get("arn")) if isinstance(issuer, Mapping) else None,
        "invokedBy": _short(ident.get("invokedBy")),
    }
    return {k: v for k, v in out.items() if v}


def resource(record: Mapping[str, Any]) -> str | None:
    """The main thing a call acted on, for the alert's "top resources" (function, bucket, instance type...)."""
    params = record.get("requestParameters") or {}
    if isinstance(params, Mapping):
        fn = params.get("functionName")
        if isinstance(fn, str) and fn:  # a name, or arn:aws:lambda:region:account:function:name[:qualifier]
            parts = fn.split(":")
            return (parts[6] if len(parts) >= 7 and parts[0] == "arn" else fn)[:256]
        for name in ("bucketName", "instanceType", "volumeId", "roleName", "userName", "tableName"):
            value = params.get(name)
            if isinstance(value, str) and value:
                return value[:256]
        types = _instance_types(params)
        if types:
            return types[0][:256]
        if record.get("eventName") == "CreateVolume" and params.get("volumeType"):
            return f"{params.get('volumeType')}:{params.get('size', '?')}GiB"
    for res in record.get("resources") or []:
        if isinstance(res, Mapping) and isinstance(res.get("ARN"), str):
            return res["ARN"][:256]
    return None


READ_PREFIXES = ("Describe", "Get", "List", "Head", "Lookup", "Search", "BatchGet")


def read_only(record: Mapping[str, Any]) -> bool:
    """CloudTrail's own `readOnly` when present, else by the action's verb (Describe*, Get*, List*...)."""
    flag = record.get("readOnly")
    if isinstance(flag, bool):
        return flag
    if isinstance(flag, str):
        return flag.lower() == "true"
    return str(record.get("eventName", "")).startswith(READ_PREFIXES)


def to_event(record: Mapping[str, Any]) -> dict[str, Any]:
    """One CloudTrail record as a contract event (validated later by the same `parse_event`)."""
    params = record.get("requestParameters") or {}
    key = api_key(record)
    action = str(record.get("eventName", ""))
    count = _launch_count(params) if action == "RunInstances" and isinstance(params, Mapping) else 1
    family = key.rsplit(":", 1)[-1] if action == "RunInstances" and key.count(":") == 2 else None
    event: dict[str, Any] = {
        "eventId": record.get("eventID"),
        "userId": principal(record),
        "timestamp": record.get("eventTime"),
        "eventType": EVENT_TYPE,
        "metadata": {
            "api": key,
            "eventSource": record.get("eventSource"),
            "eventName": action,
            "awsRegion": record.get("awsRegion"),
            "accountId": record.get("recipientAccountId"),
            "errorCode": record.get("errorCode"),
            "count": count,
            "sensitive": action in SENSITIVE_ACTIONS,
            "readOnly": read_only(record),
            "gpu": family in GPU_FAMILIES if family else False,
            "resource": resource(record),
            **identity(record),
        },
    }
    meta = event["metadata"]
    if action == "RunInstances" and isinstance(params, Mapping):
        types = _instance_types(params)
        if types:  # priced by anomaly_guardian.pricing (the family alone has no price)
            meta["instanceType"] = types[0]
    if action == "CreateVolume" and isinstance(params, Mapping):
        if isinstance(params.get("volumeType"), str):
            meta["volumeType"] = params["volumeType"]
        if isinstance(params.get("size"), int | float) and not isinstance(params.get("size"), bool):
            meta["volumeSize"] = params["size"]
    source_ip = record.get("sourceIPAddress")
    if _is_ip(source_ip):  # AWS services call with a hostname ("lambda.amazonaws.com") instead
        event["ipAddress"] = source_ip
    if isinstance(record.get("userAgent"), str):
        event["userAgent"] = record["userAgent"][:2048]
    return event


def records(payload: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """(logEvent id, CloudTrail record or None, reason when it is not one) for every log event."""
    if payload.get("messageType") == "CONTROL_MESSAGE":
        return
    for log_event in payload.get("logEvents") or []:
        lid = str(log_event.get("id", "?"))
        try:
            record = json.loads(log_event.get("message", ""))
        except ValueError as exc:
            yield lid, None, f"message is not JSON: {exc}"
            continue
        if not isinstance(record, dict) or "eventID" not in record or "eventName" not in record:
            yield lid, None, "message is not a CloudTrail record (needs eventID and eventName)"
            continue
        yield lid, record, None
