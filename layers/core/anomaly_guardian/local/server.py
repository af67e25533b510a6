"""The AWS emulation: moto's threaded server on loopback at a free port.

Step Functions is told to really execute ASL (Lambda tasks are routed to the real handlers by the
stack) and Lambda never tries Docker. Request logs are silenced: they would drown the demo.
"""

from __future__ import annotations

import json
import logging
import socket
import urllib.request

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoServer:
    """Starts/stops `moto.server.ThreadedMotoServer`; `url` is the AWS_ENDPOINT_URL to use."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port or free_port(host)
        self._server = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
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
