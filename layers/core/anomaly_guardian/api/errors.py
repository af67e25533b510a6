"""Every error leaves the API as {"status": "error", "code": ..., "message": ...} naming the problem."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(kind: str, ident: str) -> ApiError:
    # Same answer whether the id exists for another tenant or not at all: nothing leaks across tenants.
    return ApiError(HTTPStatus.NOT_FOUND, "NOT_FOUND", f"{kind} {ident} not found")


def error_response(status: int, code: str, message: str) -> Response:
    return Response(
        status_code=int(status),
        content_type=content_types.APPLICATION_JSON,
        body={"status": "error", "code": code, "message": message},
    )


_LOCATION = {"query": "query parameter", "path": "path parameter", "header": "header", "body": "field"}


def describe_validation_errors(errors: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """Powertools/pydantic request errors -> (code, one sentence naming the field and the problem)."""
    if not errors:
        return "INVALID_PAYLOAD", "Invalid request"
    err = errors[0]
    loc = [str(p) for p in err.get("loc", ())]
    kind = err.get("type", "")
    where = loc[0] if loc else "body"
    path = [p for p in loc[1:] if p not in ("__root__",)]
    name = ".".join(path)
    msg = str(err.get("msg") or "invalid value")
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if kind == "json_invalid":
        detail = (err.get("ctx") or {}).get("error") or msg
        return "INVALID_PAYLOAD", f"Malformed JSON: {detail}"
    code = "INVALID_PARAMETER" if where in ("query", "path", "header") else "INVALID_PAYLOAD"
    label = _LOCATION.get(where, "field")
    if kind == "missing":
        if where == "body" and not path:
            return code, "Request body is required (a JSON object)"
        return code, f"Missing required {label}: {name}"
    if kind == "extra_forbidden":
        return code, f"Unknown {label}: {name}"
    if where == "body" and not path:
        return code, f"Request body must be a JSON object ({msg})"
    return code, f"Invalid {label} {name}: {msg}"
