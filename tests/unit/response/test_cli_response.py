"""`guardian response ...` maps each verb to the right API call (a recording HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from anomaly_guardian.cli import main


@pytest.fixture
def api(monkeypatch):
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            seen.append((self.command, self.path, body, self.headers["Authorization"]))
            data = json.dumps({"ok": True}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _answer

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("GUARDIAN_API_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("GUARDIAN_TOKEN", "test-token")
    yield seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["status"], ("GET", "/settings/response", None)),
        (["kill-switch", "on"], ("PATCH", "/settings/response", {"killSwitch": True})),
        (["dry-run", "off"], ("PATCH", "/settings/response", {"dryRun": False})),
        (["cap", "rate_limit", "10"], ("PATCH", "/settings/response", {"actionCaps": {"rate_limit": 10}})),
        (["incidents", "--status", "OPEN"], ("GET", "/incidents?status=OPEN", None)),
        (["reviews"], ("GET", "/reviews", None)),
        (
            ["approve", "rv_01KAHX5Q3R8M9N2P4T6V8W0Y1Z"],
            ("POST", "/reviews/rv_01KAHX5Q3R8M9N2P4T6V8W0Y1Z", {"decision": "approve"}),
        ),
        (["reject", "rv_X", "--note", "fp"], ("POST", "/reviews/rv_X", {"decision": "reject", "note": "fp"})),
    ],
)
def test_each_verb_calls_the_api(api, argv, expected, capsys):
    assert main(["response", *argv]) == 0
    (method, path, body, auth) = api[0]
    assert (method, path, body) == expected
    assert auth == "Bearer test-token"
    assert json.loads(capsys.readouterr().out) == {"ok": True}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["kill-switch", "maybe"], "expected on or off"),
        (["cap", "rate_limit", "many"], "cap must be a whole number"),
        (["approve"], "expected 1 argument(s), got 0"),
    ],
)
def test_bad_arguments_are_named_and_nothing_is_sent(api, argv, message, capsys):
    assert main(["response", *argv]) == 2
    assert message in capsys.readouterr().err
    assert api == []
