"""The Lambda Invoke API for the real handlers, so Step Functions tasks run them.

moto's Step Functions call `lambda:Invoke` on `http://localhost:$MOTO_PORT`; the stack points that
at this endpoint. `POST /2015-03-31/functions/{name or ARN}/invocations` runs the handler in-process
and answers like Lambda: 200 with the JSON payload, `X-Amz-Function-Error: Unhandled` with
`{errorMessage, errorType}` when the handler raised, 202 for `X-Amz-Invocation-Type: Event`.
Boto3 clients in the handlers reach it too (`AWS_ENDPOINT_URL_LAMBDA`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from anomaly_guardian.local.runtime import FunctionError, LocalFunction
from anomaly_guardian.local.server import QuietHTTPServer as _QuietServer
from anomaly_guardian.local.server import serve_in_background, stop_serving

log = logging.getLogger(__name__)
_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")


class LambdaEndpoint:
    def __init__(self, lookup: Callable[[str], LocalFunction | None]):
        self.lookup = lookup
        self.invocations = 0
        self._server: ThreadingHTTPServer | None = None

    def invoke(self, name: str, payload: bytes, asynchronous: bool) -> tuple[int, dict[str, str], bytes]:
        fn = self.lookup(unquote(name))
        if fn is None:
            body = {"Type": "User", "message": f"Function not found: {unquote(name)}"}
            return 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, json.dumps(body).encode()
        try:
            event = json.loads(payload or b"{}")
        except ValueError as exc:
            body = {"Type": "User", "message": f"Could not parse request body into json: {exc}"}
            return 400, {"x-amzn-ErrorType": "InvalidRequestContentException"}, json.dumps(body).encode()
        self.invocations += 1
        if asynchronous:
            threading.Thread(target=self._quiet_invoke, args=(fn, event), daemon=True).start()
            return 202, {}, b""
        try:
            result = fn.invoke(event)
        except FunctionError as exc:
            cause = exc.__cause__ or exc
            body = {"errorMessage": str(cause), "errorType": type(cause).__name__}
            return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps(body).encode()
        return 200, {"X-Amz-Executed-Version": "$LATEST"}, json.dumps(result).encode()

    @staticmethod
    def _quiet_invoke(fn: LocalFunction, event: Any) -> None:
        with contextlib.suppress(FunctionError):  # logged by LocalFunction; nobody waits for the result
            fn.invoke(event)

    def serve(self, host: str, port: int) -> int:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                m = _INVOKE.match(self.path.split("?", 1)[0])
                if m is None:
                    status, headers, out = 404, {}, b'{"message": "only Lambda Invoke is served here"}'
                else:
                    kind = (self.headers.get("X-Amz-Invocation-Type") or "RequestResponse").lower()
                    status, headers, out = endpoint.invoke(m.group(1), body, kind == "event")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

        self._server = _QuietServer((host, port), Handler)
        return serve_in_background(self._server, "local-lambda")

    def shutdown(self) -> None:
        stop_serving(self._server)
        self._server = None
