"""API Gateway (REST, Lambda proxy) in front of the real handlers, on http.server.

Turns an HTTP request into the exact proxy event API Gateway sends, runs the template's Lambda
authorizer first (TOKEN or REQUEST), puts its context into `requestContext.authorizer`, and maps
the handler's proxy response back to HTTP. Failures look like API Gateway's with the template's
`GatewayResponses` applied, so every error body is `{"status": "error", "code", "message"}`: 401
UNAUTHORIZED when there is no token or the authorizer says "Unauthorized", 403 ACCESS_DENIED on a Deny
policy, 404 NOT_FOUND for an unknown route (MISSING_AUTHENTICATION_TOKEN), 413 over 10 MB, 400 for a bad
or short Content-Length, 502 when the function fails. Path parameters are passed percent-encoded, as
API Gateway does.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from anomaly_guardian.local.cfn import ACCOUNT_ID, REGION
from anomaly_guardian.local.runtime import FunctionError, LocalFunction
from anomaly_guardian.local.server import QuietHTTPServer as _QuietServer
from anomaly_guardian.local.server import serve_in_background, stop_serving

log = logging.getLogger(__name__)

MAX_PAYLOAD = 10 * 1024 * 1024  # API Gateway's hard limit
API_ID = "local"
BODY_TIMEOUT_S = 10  # a body shorter than its Content-Length is answered with 400 after this long

# The template's GatewayResponses (sam/template.yaml): status and code per API Gateway response type.
GATEWAY_RESPONSES = {
    "UNAUTHORIZED": (401, "UNAUTHORIZED"),
    "ACCESS_DENIED": (403, "FORBIDDEN"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "NOT_FOUND"),
    "REQUEST_TOO_LARGE": (413, "PAYLOAD_TOO_LARGE"),
    "BAD_REQUEST_BODY": (400, "INVALID_PAYLOAD"),
    "THROTTLED": (429, "THROTTLED"),
    "AUTHORIZER_FAILURE": (500, "AUTHORIZER_FAILURE"),
    "DEFAULT_5XX": (502, "INTERNAL_ERROR"),
}


def gateway_response(kind: str, message: str) -> tuple[int, dict[str, Any]]:
    status, code = GATEWAY_RESPONSES[kind]
    return status, {"status": "error", "code": code, "message": message}


@dataclass
class Route:
    method: str  # upper case, or ANY
    resource: str  # e.g. /anomalies/{anomalyId} or /{proxy+}
    function: LocalFunction
    auth: bool = True
    _regex: re.Pattern[str] = field(init=False, repr=False)
    _params: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.method = self.method.upper()
        parts, params = [], []
        for seg in self.resource.strip("/").split("/") if self.resource.strip("/") else []:
            m = re.fullmatch(r"\{([^}+]+)(\+?)\}", seg)
            if m:
                params.append(m.group(1))
                parts.append(f"(?P<{_group(m.group(1))}>.+)" if m.group(2) else f"(?P<{_group(m.group(1))}>[^/]+)")
            else:
                parts.append(re.escape(seg))
        self._regex = re.compile("^/" + "/".join(parts) + "/?$") if parts else re.compile("^/?$")
        self._params = params

    @property
    def specificity(self) -> tuple[int, int, int]:
        segs = [s for s in self.resource.strip("/").split("/") if s]
        static = sum(1 for s in segs if not s.startswith("{"))
        greedy = any(s.endswith("+}") for s in segs)
        return (0 if greedy else 1, static, len(segs))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method):
            return None
        m = self._regex.match(path)
        if not m:
            return None
        return {p: m.group(_group(p)) for p in self._params}  # still percent-encoded, as API Gateway passes them


def _group(name: str) -> str:
    return re.sub(r"\W", "_", name)


@dataclass
class Authorizer:
    function: LocalFunction
    kind: str = "TOKEN"  # TOKEN | REQUEST
    header: str = "Authorization"
    ttl: int = 300  # ReauthorizeEvery: API Gateway caches the policy per identity for this long
    _cache: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict, repr=False)

    def cached(self, identity: str) -> dict[str, Any] | None:
        hit = self._cache.get(identity)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def remember(self, identity: str, result: dict[str, Any]) -> None:
        if self.ttl > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[identity] = (time.monotonic() + self.ttl, result)


class ApiGateway:
    """Routing + authorizer + event mapping; `serve()` exposes it over HTTP."""

    def __init__(self, routes: list[Route], authorizer: Authorizer | None, stage: str = "local"):
        self.routes = sorted(routes, key=lambda r: r.specificity, reverse=True)
        self.authorizer = authorizer
        self.stage = stage
        self.requests = 0
        self.extra: dict[str, Callable[[], dict[str, Any]]] = {}  # local-only GET endpoints
        # local-only admin endpoints: (method, path regex, handler(match, body) -> (status, payload))
        self.admin: list[tuple[str, re.Pattern[str], Callable[[re.Match[str], bytes], tuple[int, Any]]]] = []
        self.console: Any = None  # local.console.ConsoleFiles: the analyst console at /console/
        self._server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------ request -> event
    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None

    def build_event(
        self,
        method: str,
        raw_path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        source_ip: str,
        route: Route | None,
        params: dict[str, str] | None,
    ) -> dict[str, Any]:
        url = urlsplit(raw_path)
        path = url.path or "/"
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for name, value in headers:
            single[name] = value
            multi.setdefault(name, []).append(value)
        qs = parse_qs(url.query, keep_blank_values=True)
        text: str | None = None
        b64 = False
        if body:
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text, b64 = base64.b64encode(body).decode(), True
        now = datetime.now(UTC)
        request_id = str(uuid.uuid4())
        resource = route.resource if route else path
        lower = {k.lower(): v for k, v in single.items()}
        return {
            "resource": resource,
            "path": path,
            "httpMethod": method,
            "headers": single or None,
            "multiValueHeaders": multi or None,
            "queryStringParameters": {k: v[-1] for k, v in qs.items()} or None,
            "multiValueQueryStringParameters": qs or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": API_ID,
                "domainName": lower.get("host", "127.0.0.1"),
                "domainPrefix": API_ID,
                "extendedRequestId": request_id,
                "httpMethod": method,
                "identity": {
                    "sourceIp": source_ip,
                    "userAgent": lower.get("user-agent"),
                    "accountId": None,
                    "caller": None,
                    "user": None,
                    "userArn": None,
                    "accessKey": None,
                    "cognitoIdentityId": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                },
                "path": f"/{self.stage}{path}",
                "protocol": "HTTP/1.1",
                "requestId": request_id,
                "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "resourceId": "local",
                "resourcePath": resource,
                "stage": self.stage,
            },
            "body": text,
            "isBase64Encoded": b64,
        }

    def method_arn(self, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{self.stage}/{method}{path}"

    # ------------------------------------------------------------------ authorizer
    def authorize(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]] | dict[str, Any]:
        """Returns the authorizer context to attach, or (status, body) to send instead."""
        assert self.authorizer is not None
        auth = self.authorizer
        headers = {k.lower(): v for k, v in (event["headers"] or {}).items()}
        token = headers.get(auth.header.lower())
        if not token:
            return gateway_response("UNAUTHORIZED", "Unauthorized")
        method_arn = self.method_arn(event["httpMethod"], event["path"])
        result = auth.cached(token)
        if result is None:
            if auth.kind == "REQUEST":
                auth_event = dict(event, type="REQUEST", methodArn=method_arn)
            else:
                auth_event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
            try:
                result = auth.function.invoke(auth_event)
            except FunctionError as exc:
                if str(exc.__cause__) == "Unauthorized":
                    return gateway_response("UNAUTHORIZED", "Unauthorized")
                return gateway_response("AUTHORIZER_FAILURE", "The authorizer failed")
            if not isinstance(result, dict):
                return gateway_response("AUTHORIZER_FAILURE", "The authorizer failed")
            auth.remember(token, result)
        if "isAuthorized" in result:  # simple response format
            if not result["isAuthorized"]:
                return gateway_response("ACCESS_DENIED", "Forbidden")
            return dict(result.get("context") or {})
        effect = _policy_effect(result.get("policyDocument") or {}, method_arn)
        if effect == "Deny":
            return gateway_response(
                "ACCESS_DENIED", "User is not authorized to access this resource with an explicit deny"
            )
        if effect != "Allow":
            return gateway_response("ACCESS_DENIED", "User is not authorized to access this resource")
        context = {k: v for k, v in (result.get("context") or {}).items()}
        context["principalId"] = result.get("principalId")
        return context

    # ------------------------------------------------------------------ dispatch
    def handle(
        self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        self.requests += 1
        path = urlsplit(raw_path).path or "/"
        if method == "GET" and path in self.extra:
            return _json(200, self.extra[path]())
        if self.console is not None and self.console.handles(method, path):
            return self.console.serve(path)
        for admin_method, pattern, admin in self.admin:
            m = pattern.match(path)
            if m is not None and admin_method == method:
                return _json(*admin(m, body))
        if len(body) > MAX_PAYLOAD:
            return _json(*gateway_response("REQUEST_TOO_LARGE", "Request Too Long"))
        found = self.find(method, path)
        if found is None:
            return _json(*gateway_response("MISSING_AUTHENTICATION_TOKEN", f"No route {method} {path}"))
        route, params = found
        event = self.build_event(method, raw_path, headers, body, source_ip, route, params)
        if route.auth and self.authorizer is not None:
            outcome = self.authorize(event)
            if isinstance(outcome, tuple):
                return _json(*outcome)
            event["requestContext"]["authorizer"] = outcome
        try:
            result = route.function.invoke(event)
        except FunctionError:
            return _json(*gateway_response("DEFAULT_5XX", "Internal server error"))
        return _proxy_response(result)

    # ------------------------------------------------------------------ HTTP server
    def serve(self, host: str, port: int) -> int:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "AnomalyGuardianLocal/1.0"

            timeout = BODY_TIMEOUT_S  # socket timeout: a short body can never hold a thread forever

            def _read_body(self) -> bytes | tuple[int, list[tuple[str, str]], bytes]:
                """The body, or the error to answer (bad/short Content-Length, too large, chunked framing)."""
                if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                    return self._read_chunked()
                declared = (self.headers.get("Content-Length") or "0").strip()
                if not declared.isdigit():
                    self.close_connection = True
                    return _json(*gateway_response("BAD_REQUEST_BODY", "Content-Length must be a number of bytes"))
                length = int(declared)
                if length > MAX_PAYLOAD:
                    self.close_connection = True
                    return _json(*gateway_response("REQUEST_TOO_LARGE", "Request Too Long"))
                try:
                    raw = self.rfile.read(length) if length else b""
                except TimeoutError:
                    raw = b""
                if len(raw) < length:
                    self.close_connection = True
                    return _json(
                        *gateway_response("BAD_REQUEST_BODY", "Request body is shorter than its Content-Length")
                    )
                return raw

            def _read_chunked(self) -> bytes | tuple[int, list[tuple[str, str]], bytes]:
                out = b""
                try:
                    while True:
                        size = int(self.rfile.readline(64).split(b";", 1)[0].strip() or b"x", 16)
                        if size == 0:
                            self.rfile.readline(64)
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline(64)
                        if len(out) > MAX_PAYLOAD:
                            self.close_connection = True
                            return _json(*gateway_response("REQUEST_TOO_LARGE", "Request Too Long"))
                except (ValueError, TimeoutError):
                    self.close_connection = True
                    return _json(*gateway_response("BAD_REQUEST_BODY", "Malformed chunked request body"))

            def _do(self) -> None:
                raw = self._read_body()
                if isinstance(raw, tuple):
                    status, headers, body = raw
                else:
                    try:
                        status, headers, body = gateway.handle(
                            self.command, self.path, list(self.headers.items()), raw, self.client_address[0]
                        )
                    except Exception:
                        log.exception("local API gateway failed")
                        status, headers, body = _json(*gateway_response("DEFAULT_5XX", "Internal server error"))
                self.send_response(status)
                for name, value in headers:
                    if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _do

            def __getattr__(self, name: str) -> Any:
                # Any other method (TRACE, CONNECT, PROPFIND...) is routed like API Gateway does: no
                # route matches, so the documented 404 error body instead of http.server's 501 page.
                if name.startswith("do_"):
                    return self._do
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

        self._server = _QuietServer((host, port), Handler)
        return serve_in_background(self._server, "local-apigw")

    def shutdown(self) -> None:
        stop_serving(self._server)
        self._server = None


def _policy_effect(policy: dict[str, Any], method_arn: str) -> str | None:
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    effect = None
    for st in statements:
        resources = st.get("Resource") or []
        resources = [resources] if isinstance(resources, str) else resources
        actions = st.get("Action") or []
        actions = [actions] if isinstance(actions, str) else actions
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) for a in actions):
            continue
        if any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            if st.get("Effect") == "Deny":
                return "Deny"
            if st.get("Effect") == "Allow":
                effect = "Allow"
    return effect


def _json(status: int, body: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    return status, [("Content-Type", "application/json")], json.dumps(body).encode()


def _proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        log.error("function returned a malformed proxy response: %r", type(result).__name__)
        return _json(*gateway_response("DEFAULT_5XX", "Internal server error"))
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    for name, value in (result.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    for name, values in multi.items():
        headers.extend((name, str(v)) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    return int(result["statusCode"]), headers, raw
