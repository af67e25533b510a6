"""Helpers for the API function tests: build API Gateway proxy events from tests/events fixtures."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[1] / "events"
_UNSET = object()


def apigw_event(
    fixture: str,
    *,
    tenant: str | None = "acme",
    path: str | None = None,
    path_params: dict[str, str] | None = None,
    query: dict[str, str] | object | None = _UNSET,
    body: Any = _UNSET,
    raw_body: str | None = None,
) -> dict[str, Any]:
    event = copy.deepcopy(json.loads((EVENTS / f"{fixture}.json").read_text()))
    if tenant is None:
        event["requestContext"].pop("authorizer", None)
    else:
        event["requestContext"]["authorizer"].update(tenantId=tenant, sub=f"cli:{tenant}")
    if path_params is not None:
        event["pathParameters"] = path_params
        resource = event["resource"]
        for key, value in path_params.items():
            resource = resource.replace("{" + key + "}", value)
        event["path"] = resource
    if path is not None:
        event["path"] = path
    if query is not _UNSET:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    if body is not _UNSET:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    return event


def parse(response: dict[str, Any]) -> tuple[int, Any]:
    body = response.get("body")
    return response["statusCode"], (json.loads(body) if body else None)
