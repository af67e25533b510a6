"""The analyst console's static files on the local gateway, at /console/ on the API's own origin.

`make console` builds them into build/console (Vite, functions/console). The gateway serves them with
the same security headers CloudFront adds when deployed (terraform/modules/console), and a generated
`config.json` that says "the API is this origin". Without a build, /console/ answers a page saying
how to make one. Only GET/HEAD; paths are confined to the build directory.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

PREFIX = "/console"
# The same policy as terraform/modules/console's response headers policy (connect-src widened there to
# the API and Cognito origins).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
]
NOT_BUILT = (
    "<!doctype html><meta charset=utf-8><title>Console not built</title>"
    "<h1>The console is not built</h1><p>Run <code>make console</code> (or <code>make local</code>, which builds it), "
    "then reload.</p>"
)


def console_url(api_url: str) -> str:
    return f"{api_url}{PREFIX}/"


class ConsoleFiles:
    def __init__(self, root: Path):
        self.root = root.resolve()

    def handles(self, method: str, path: str) -> bool:
        return method in ("GET", "HEAD") and (path == PREFIX or path.startswith(PREFIX + "/"))

    def serve(self, path: str) -> tuple[int, list[tuple[str, str]], bytes]:
        if path == PREFIX:
            return 308, [("Location", PREFIX + "/")], b""
        rel = path[len(PREFIX) + 1 :]
        if rel == "config.json":
            body = json.dumps({"apiUrl": ""}).encode()
            return 200, [("Content-Type", "application/json"), *SECURITY_HEADERS], body
        index = self.root / "index.html"
        if not index.is_file():
            return 503, [("Content-Type", "text/html; charset=utf-8"), *SECURITY_HEADERS], NOT_BUILT.encode()
        target = (self.root / (rel or "index.html")).resolve()
        if not target.is_relative_to(self.root) or not target.is_file():
            if "." in rel.rsplit("/", 1)[-1]:  # a missing asset is a 404; any other path is the app's
                return 404, [("Content-Type", "text/plain"), *SECURITY_HEADERS], b"Not found"
            target = index
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "text/javascript"):
            ctype += "; charset=utf-8"
        return 200, [("Content-Type", ctype), *SECURITY_HEADERS], target.read_bytes()
