"""Helpers for the API function tests: build API Gateway proxy events from tests/events fixtures."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "tests" / "events"


def load_handler(name: str):
    """Import functions/<name>/app.py fresh, by path (every function's module is called app.py)."""
    module_name = f"functions_{name}_app"
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "functions" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


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
