"""The API resolver: one APIGatewayRestResolver with validation, a Router per domain, strict JSON bodies
and errors in the contract shape. `functions/api/app.py` only calls `create_app()` and `resolve`.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import (
    APIGatewayRestResolver,
    CORSConfig,
    DependencyResolutionError,
    Response,
)
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from anomaly_guardian import __version__
from anomaly_guardian.api import ROUTER_MODULES
from anomaly_guardian.api.body import decode_body
from anomaly_guardian.api.errors import ApiError, describe_validation_errors, error_response
from anomaly_guardian.transient import RETRY_AFTER_SECONDS, is_transient

logger = Logger(child=True)
TITLE = "Anomaly Guardian API"


BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _proxy_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "body": json.dumps({"status": "error", "code": code, "message": message}),
        "isBase64Encoded": False,
    }


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if str(key).lower() == name:
            return str(value)
    return None


def precheck(event: Mapping[str, Any]) -> tuple[dict[str, Any] | None, Mapping[str, Any]]:
    """Before routing: the path must be valid percent-encoded UTF-8 (400), a body must be JSON by its
    Content-Type (415) and UTF-8 text (400). Returns (error response, None) or (None, the event with a
    base64 body decoded to text)."""
    path = str(event.get("path") or "/")
    try:
        unquote(path, errors="strict")
    except UnicodeDecodeError:
        return _proxy_error(400, "INVALID_PARAMETER", "The path is not valid percent-encoded UTF-8"), event
    body = event.get("body")
    if str(event.get("httpMethod") or "").upper() not in BODY_METHODS or body in (None, ""):
        return None, event
    content_type = _header(event, "content-type") or ""
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        shown = media or "none"
        return _proxy_error(415, "UNSUPPORTED_MEDIA_TYPE", f"Content-Type must be application/json, got {shown}"), event
    charset = next(
        (
            p.split("=", 1)[1].strip().strip('"').lower()
            for p in params.split(";")
            if p.strip().lower().startswith("charset=")
        ),
        "utf-8",
    )
    if charset not in ("utf-8", "utf8"):
        return _proxy_error(
            415, "UNSUPPORTED_MEDIA_TYPE", f"Only UTF-8 JSON bodies are accepted, got charset={charset}"
        ), event
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(str(body), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return _proxy_error(400, "INVALID_PAYLOAD", "Request body is not valid UTF-8 text"), event
        event = {**event, "body": text, "isBase64Encoded": False}
    return None, event


class GuardianResolver(APIGatewayRestResolver):
    """The REST resolver with the input rules every route shares: `precheck` before routing, and path
    parameters percent-decoded once (API Gateway passes them encoded: `m%C3%BCller`, `a%2Fb`)."""

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        error, event = precheck(event)
        if error is not None:
            return error
        return super().resolve(dict(event), context)

    def _convert_matches_into_route_keys(self, match: Any) -> dict[str, str]:
        return {key: unquote(value) for key, value in match.groupdict().items()}


# What the console sends cross-origin (API Gateway answers the preflight with the same list).
CORS_HEADERS = ["Authorization", "Content-Type", "Idempotency-Key"]


def create_app(cors_origin: str | None = None) -> APIGatewayRestResolver:
    """`cors_origin`: the deployed console's origin, the only one whose browser calls get CORS headers."""
    cors = CORSConfig(allow_origin=cors_origin, allow_headers=CORS_HEADERS, max_age=600) if cors_origin else None
    app = GuardianResolver(enable_validation=True, json_body_deserializer=decode_body, strip_prefixes=None, cors=cors)
    for name in ROUTER_MODULES:
        app.include_router(importlib.import_module(f"anomaly_guardian.api.{name}").router)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response:
        code, message = describe_validation_errors(exc.errors())
        return error_response(HTTPStatus.BAD_REQUEST, code, message)

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(DependencyResolutionError)
    def _dependency_error(exc: DependencyResolutionError) -> Response:
        # Powertools wraps what a dependency raises; an ApiError (e.g. no tenant) keeps its status.
        cause = exc.__cause__
        if isinstance(cause, ApiError):
            return error_response(cause.status, cause.code, cause.message)
        return _unexpected(exc)

    @app.not_found
    def _no_route(_exc: NotFoundError) -> Response:
        return error_response(
            HTTPStatus.NOT_FOUND, "NOT_FOUND", f"No route {app.current_event.http_method} {app.current_event.path}"
        )

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if is_transient(exc):  # AWS timed out, was unreachable or throttled: the documented 503
            logger.warning("AWS unavailable", extra={"error": type(exc).__name__})
            response = error_response(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                f"A backing service did not answer in time ({type(exc).__name__}); nothing was changed "
                f"unless a later GET shows it, retry after {RETRY_AFTER_SECONDS} s",
            )
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        logger.exception("unhandled error")  # stack trace to the logs, nothing internal to the caller
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal error; see the request id in the logs"
        )

    return app


ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "required": ["status", "code", "message"],
    "properties": {
        "status": {"type": "string", "const": "error"},
        "code": {"type": "string", "examples": ["INVALID_PAYLOAD", "INVALID_PARAMETER", "NOT_FOUND"]},
        "message": {"type": "string", "description": "one sentence naming the field or parameter"},
    },
}


def _error(description: str, schema: str = "Error", headers: dict | None = None) -> dict:
    out: dict = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        out["headers"] = headers
    return out


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before retrying", "schema": {"type": "integer"}}}
# Answers API Gateway itself gives (sam/template.yaml GatewayResponses) and the 503 of a stalled backend.
GATEWAY_ERRORS = {
    "403": ("The token's scopes do not allow this method, the WAF refused the request, or the source is blocked"),
    "429": "Throttled by API Gateway (usage plan or stage limits); retry with backoff",
}


def _number(minimum: float | None = None) -> dict:
    # What may enter (docs/data-plane.md): JSON numbers (never booleans or strings), within DynamoDB's range.
    out: dict = {"type": "number", "exclusiveMaximum": 1e126, "exclusiveMinimum": -1e126}
    if minimum is not None:
        out.pop("exclusiveMinimum")
        out["minimum"] = minimum
    return out


def _text(max_length: int) -> dict:
    return {"type": "string", "maxLength": max_length}


EVENT_SCHEMA = {
    "type": "object",
    "title": "Event",
    "description": "One event (docs/data-plane.md, 'What may enter'). Unknown extra fields are kept; "
    "`tenantId` is refused (the tenant comes from the caller's identity). Objects nest at most 32 levels, "
    "keys are 1-255 characters, numbers are 0 or of magnitude 1e-130 to below 1e126.",
    "required": ["eventId", "userId", "timestamp", "eventType"],
    "properties": {
        "eventId": {"type": "string", "minLength": 1, "maxLength": 256, "description": "unique per tenant"},
        "userId": {"type": "string", "minLength": 1, "maxLength": 256},
        "timestamp": {"type": "string", "format": "date-time"},
        "eventType": {
            "type": "string",
            "minLength": 1,
            "maxLength": 256,
            "examples": ["transaction", "login", "pageview", "api_request", "metric"],
        },
        "transactionAmount": _number(0),
        "requestsPerSecond": _number(0),
        "sessionLength": _number(0),
        "userAgent": _text(2048),
        "ipAddress": _text(64),
        "sessionId": _text(256),
        "deviceId": _text(256),
        "geoLocation": {
            "oneOf": [
                {
                    "type": "object",
                    "required": ["latitude", "longitude"],
                    "properties": {
                        "latitude": {"type": "number", "minimum": -90, "maximum": 90},
                        "longitude": {"type": "number", "minimum": -180, "maximum": 180},
                        "country": _text(64),
                        "city": _text(128),
                    },
                },
                {"type": "string", "maxLength": 64, "description": "ISO country code or AWS region code"},
            ]
        },
        "metadata": {"type": "object", "description": "free-form; nested at most 32 levels"},
        "service": _text(256),
        "metricName": _text(256),
        "metricValue": _number(),
    },
}
EVENTS_OPERATION = {
    "summary": 'Send events (one object, or {"events": [...]} with up to 500)',
    "operationId": "post_events",
    "tags": ["events"],
    "description": "All or nothing: if any event is invalid or blocked nothing is written. In AWS the route is "
    "IAM-authorised (SigV4; the caller's principal maps to a tenant through IamTenantMap); the local stack "
    "takes the same bearer token as the other routes. A 503 says exactly which events were accepted.",
    "security": [{"sigv4": []}, {"bearer": []}],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Event"},
                        {
                            "type": "object",
                            "title": "EventBatch",
                            "required": ["events"],
                            "properties": {
                                "events": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 500,
                                    "items": {"$ref": "#/components/schemas/Event"},
                                }
                            },
                        },
                    ]
                }
            }
        },
    },
    "responses": {
        "202": {
            "description": "Accepted: written to the stream (every accepted event is processed once); an eventId "
            "already used with a different payload is listed in `duplicates` and not sent",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventsAccepted"}}},
        },
        "400": _error("Contract violation; the message names the field (events[3]: ... in a batch)"),
        "401": _error("No tenant in the caller's identity"),
        "403": _error("Source IP or an event's user/ipAddress on the block list, or not authorised"),
        "413": _error("Body over 1 MiB, or one event over 64 KiB"),
        "415": _error("Content-Type is not application/json"),
        "429": _error(GATEWAY_ERRORS["429"]),
        "503": _error(
            "The stream or the block list did not answer in time: the body names what was and was not accepted",
            "EventsUnavailable",
            RETRY_AFTER,
        ),
    },
}
DUPLICATES_SCHEMA = {
    "type": "array",
    "description": "Events not accepted because their eventId was already accepted with a different payload "
    "(within the detector's dedupe window, 168 h by default); send them under a new eventId",
    "items": {
        "type": "object",
        "title": "DuplicateEventId",
        "required": ["eventId", "reason", "message"],
        "properties": {
            "eventId": {"type": "string"},
            "reason": {"type": "string", "enum": ["DIFFERENT_PAYLOAD"]},
            "message": {"type": "string"},
            "index": {"type": "integer", "description": "a batch: the event's position"},
        },
    },
}
EVENTS_SCHEMAS = {
    "Event": EVENT_SCHEMA,
    "EventsAccepted": {
        "type": "object",
        "title": "EventsAccepted",
        "required": ["status", "message", "accepted", "duplicates", "timestamp"],
        "properties": {
            "status": {"type": "string", "const": "success"},
            "message": {"type": "string"},
            "eventId": {"type": "string", "description": "one event"},
            "accepted": {
                "type": "integer",
                "description": "how many were accepted (a retry of an event already accepted with the same "
                "payload counts, and is not sent again)",
            },
            "eventIds": {"type": "array", "items": {"type": "string"}, "description": "a batch: the accepted ones"},
            "duplicates": DUPLICATES_SCHEMA,
            "timestamp": {"type": "string", "description": "receivedAt"},
        },
    },
    "EventsUnavailable": {
        "type": "object",
        "title": "EventsUnavailable",
        "required": ["status", "code", "message", "accepted", "acceptedEventIds", "notAccepted"],
        "properties": {
            "status": {"type": "string", "const": "error"},
            "code": {"type": "string", "const": "UNAVAILABLE"},
            "message": {"type": "string"},
            "accepted": {"type": "integer"},
            "acceptedEventIds": {"type": "array", "items": {"type": "string"}},
            "notAccepted": {"type": "array", "items": {"type": "string"}, "description": "retry these"},
            "duplicates": DUPLICATES_SCHEMA,
        },
    },
}


def openapi_json(app: APIGatewayRestResolver | None = None) -> str:
    """The committed docs/openapi.json (`make openapi`): the resolver's schema, with Powertools' default
    422 replaced by the errors this API really returns (400/401/404/413 in the contract shape)."""
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    doc = json.loads(
        (app or create_app()).get_openapi_json_schema(
            title=TITLE,
            version=__version__,
            description="Events, anomalies, rules, webhooks, feedback and GDPR erasure. Every call is scoped to the "
            "tenant in the caller's identity: a bearer token (Authorization: Bearer <JWT>; `guardian token --tenant T`"
            " locally), or for POST /events in AWS an IAM (SigV4) principal mapped to a tenant. Every error is "
            "{status, code, message}, including the ones API Gateway gives itself (401, 403, 404, 413, 429, 5xx).",
            security_schemes={"bearer": HTTPBearer(bearerFormat="JWT")},
            security=[{"bearer": []}],
        )
    )
    for path, operations in doc.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in [s for s in responses if s.startswith("2")]:
                if status == "204":
                    responses[status].pop("content", None)  # no body
            responses["400"] = _error("Invalid parameter or body (the message names it)")
            responses["401"] = _error("No valid tenant identity")
            responses["403"] = _error(GATEWAY_ERRORS["403"])
            if "{" in path:
                responses["404"] = _error("Not found for this tenant")
            if "requestBody" in operation:
                responses["413"] = _error("Body larger than 64 KiB")
                responses["415"] = _error("Content-Type is not application/json (UTF-8)")
            responses["429"] = _error(GATEWAY_ERRORS["429"])
            responses["503"] = _error("A backing AWS service did not answer in time; retry later", headers=RETRY_AFTER)
    doc["paths"]["/events"] = {"post": EVENTS_OPERATION}
    doc["paths"] = dict(sorted(doc["paths"].items()))
    components = doc.setdefault("components", {})
    components.setdefault("securitySchemes", {})["sigv4"] = {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "AWS Signature Version 4 (IAM); POST /events in AWS",
        "x-amazon-apigateway-authtype": "awsSigv4",
    }
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    schemas["Error"] = ERROR_SCHEMA
    schemas.update(EVENTS_SCHEMAS)
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(openapi_json(), end="")
