"""The AWS emulation: moto's threaded server on loopback at a free port.

Step Functions is told to really execute ASL (Lambda tasks are routed to the real handlers by the
stack) and Lambda never tries Docker. Request logs are silenced: they would drown the demo.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import ThreadingHTTPServer

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class QuietHTTPServer(ThreadingHTTPServer):
    """A client hanging up mid-request (Ctrl-C, test teardown) is not worth a traceback."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        logging.getLogger(__name__).debug("connection from %s dropped", client_address, exc_info=True)


def serve_in_background(server: ThreadingHTTPServer, name: str) -> int:
    """Serve on a daemon thread; returns the bound port (the caller may have asked for port 0)."""
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return int(server.server_address[1])


def stop_serving(server: ThreadingHTTPServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """Starts/stops moto's server; `url` is the AWS_ENDPOINT_URL to use.

    By default moto runs in its own process (`python -m moto.server`): the emulation then uses its
    own CPU instead of competing with the handlers for the GIL. `in_process=True` uses
    `ThreadedMotoServer` instead. `lambda_port`: where moto's Step Functions send Lambda invokes
    (moto calls `http://localhost:$MOTO_PORT`), i.e. the stack's Lambda endpoint with the real handlers.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, in_process: bool = False, lambda_port: int = 0):
        self.host = host
        self.port = port or free_port(host)
        self.in_process = in_process
        self.lambda_port = lambda_port
        self._server = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self, timeout: float = 60.0) -> MotoServer:
        if self.in_process:
            from moto.server import ThreadedMotoServer

            from anomaly_guardian.local.cost_explorer import install

            install()  # GetAnomalies, which moto lacks (moto_main does the same in its own process)

            if self.lambda_port:
                os.environ["MOTO_PORT"] = str(self.lambda_port)
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
            self._server.start()
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(DUMMY_CREDENTIALS)
            if self.lambda_port:
                env["MOTO_PORT"] = str(self.lambda_port)
            cmd = [sys.executable, "-m", "anomaly_guardian.local.moto_main", "-H", self.host, "-p", str(self.port)]
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            deadline = time.monotonic() + timeout
            while True:
                try:
                    with socket.create_connection((self.host, self.port), timeout=0.5):
                        break
                except OSError:
                    if self._proc.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"moto server did not start on {self.url}") from None
                    time.sleep(0.1)
        self.configure(MOTO_CONFIG)
        return self

    def configure(self, config: dict) -> dict:
        request = urllib.request.Request(  # noqa: S310 - fixed http://127.0.0.1 URL
            f"{self.url}/moto-api/config",
            data=json.dumps(config).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return json.loads(resp.read() or b"{}")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
            self._proc = None
