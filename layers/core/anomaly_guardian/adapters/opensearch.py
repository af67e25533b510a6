"""OpenSearch Service over HTTPS with SigV4 (service `es`), through botocore only.

No opensearch-py in the layer: the two calls the indexer needs (`_bulk`, `_index_template`) are
plain signed HTTP requests, and botocore (in every Lambda runtime) signs and sends them.
`OPENSEARCH_ENDPOINT` may be a bare host (as Terraform publishes it) or a URL.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.httpsession import URLLib3Session
from botocore.session import get_session

from anomaly_guardian.settings import process_environment


class OpenSearchUnavailable(RuntimeError):
    """The request as a whole failed (network, 5xx, throttling): retry the batch."""


class OpenSearchClient:
    def __init__(
        self,
        endpoint: str,
        region: str | None = None,
        *,
        credentials: Any = None,
        timeout: float = 10.0,
    ) -> None:
        self.base = (endpoint if "://" in endpoint else f"https://{endpoint}").rstrip("/")
        self.region = region or process_environment().region
        self._credentials = credentials
        self._http = URLLib3Session(timeout=timeout)

    @property
    def credentials(self) -> Any:
        if self._credentials is None:
            self._credentials = get_session().get_credentials()
        return self._credentials

    def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> dict:
        headers = {"Content-Type": content_type}
        req = AWSRequest(method=method, url=f"{self.base}{path}", data=body, headers=headers)
        SigV4Auth(self.credentials.get_frozen_credentials(), "es", self.region).add_auth(req)
        try:
            resp = self._http.send(req.prepare())
        except Exception as exc:  # botocore wraps urllib3's errors in its own hierarchy
            raise OpenSearchUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise OpenSearchUnavailable(f"{method} {path}: HTTP {resp.status_code}")
        payload = json.loads(resp.content or b"{}")
        if resp.status_code >= 400:
            raise ValueError(f"{method} {path}: HTTP {resp.status_code}: {str(payload)[:300]}")
        return payload

    def bulk(self, body: bytes) -> dict:
        return self.request("POST", "/_bulk", body, "application/x-ndjson")

    def put_index_template(self, name: str, template: dict) -> None:
        self.request("PUT", f"/_index_template/{name}", json.dumps(template).encode())
