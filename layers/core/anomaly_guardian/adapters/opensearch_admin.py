"""OpenSearch administration client for `guardian opensearch sync` (opensearch-py, SigV4 or basic auth).

The CLI's client, not the Lambdas' (they sign with botocore in adapters/opensearch.py): opensearch-py
with `AWSV4SignerAuth` (service `es`) for an OpenSearch Service domain, or HTTP basic auth for a
self-managed cluster (the GitHub Actions job's container). Dashboards saved objects go to the
Dashboards endpoint (`https://<domain>/_dashboards` on OpenSearch Service) with the `osd-xsrf` header.
`request` returns (status, body) and never raises on an HTTP error status: the sync decides.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from anomaly_guardian.settings import process_environment


class OpenSearchAdmin:
    def __init__(
        self,
        endpoint: str,
        dashboards_url: str | None = None,
        *,
        region: str | None = None,
        auth: str = "sigv4",
        username: str | None = None,
        password: str | None = None,
        verify_certs: bool = True,
        timeout: float = 30.0,
    ) -> None:
        from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

        endpoint = (endpoint if "://" in endpoint else f"https://{endpoint}").rstrip("/")
        self.endpoint = endpoint
        self.dashboards_url = (dashboards_url or f"{endpoint}/_dashboards").rstrip("/")
        if auth == "sigv4":
            import boto3

            session = boto3.Session()
            credentials = session.get_credentials()
            if credentials is None:
                raise RuntimeError("no AWS credentials for SigV4 (aws sso login, AWS_PROFILE, or --auth basic)")
            region = region or session.region_name or process_environment().region
            http_auth: Any = AWSV4SignerAuth(credentials, region, "es")
        elif auth == "basic":
            if not username or password is None:
                raise RuntimeError("--auth basic needs OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD")
            http_auth = (username, password)
        else:
            raise ValueError(f"unknown auth {auth!r} (sigv4 or basic)")

        def client(url: str) -> Any:
            return OpenSearch(
                hosts=[url],
                http_auth=http_auth,
                use_ssl=urlsplit(url).scheme == "https",
                verify_certs=verify_certs,
                ssl_show_warn=verify_certs,
                connection_class=RequestsHttpConnection,
                timeout=timeout,
                max_retries=3,
                retry_on_status=(429, 502, 503, 504),
            )

        self.search = client(endpoint)
        self.dashboards = client(self.dashboards_url)

    def request(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None, target: str = "search"
    ) -> tuple[int, Any]:
        from opensearchpy.exceptions import ConnectionError as OSConnectionError
        from opensearchpy.exceptions import TransportError

        client = self.dashboards if target == "dashboards" else self.search
        headers = {"osd-xsrf": "true"} if target == "dashboards" else None
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in (params or {}).items() if v is not None}
        try:
            return 200, client.transport.perform_request(method, path, params=query, body=body, headers=headers)
        except OSConnectionError as exc:
            raise RuntimeError(f"{method} {path}: cannot reach {client.transport.hosts[0]}: {exc}") from None
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 599
            return status, exc.info


def deployment_context(env: str, region: str | None = None, stack_name: str | None = None) -> dict[str, Any]:
    """A deployment's sync inputs: the endpoint (SSM contract) and, from the SAM stack's outputs, the
    alerts topic, the role OpenSearch publishes with and the writers' roles (mapped to guardian-indexer)."""
    import boto3

    session = boto3.Session(region_name=region) if region else boto3.Session()
    ssm = session.client("ssm")
    endpoint = ssm.get_parameter(Name=f"/anomaly-guardian/{env}/opensearch/endpoint")["Parameter"]["Value"]
    stack = stack_name or f"anomaly-guardian-{env}"
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in session.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    }
    writers = [outputs[k] for k in ("SearchIndexerRoleArn", "UsageIngestRoleArn") if outputs.get(k)]
    return {
        "endpoint": endpoint,
        "context": {
            "sns_topic_arn": outputs.get("AlertsTopicArn"),
            "sns_role_arn": outputs.get("OpenSearchAlertsRoleArn"),
            "indexer_backend_roles": writers,
        },
    }
