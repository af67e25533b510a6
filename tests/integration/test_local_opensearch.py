"""The local OpenSearch fake: SigV4 checked like the domain's access policy, the indexer's APIs answered."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.credentials import Credentials

from anomaly_guardian.adapters.opensearch import OpenSearchClient
from anomaly_guardian.local.opensearch import FakeOpenSearch, Request, error


@pytest.fixture
def fake():
    f = FakeOpenSearch()
    f.serve("127.0.0.1", 0)
    yield f
    f.shutdown()


def client(fake, secret="testing", key="testing") -> OpenSearchClient:
    return OpenSearchClient(fake.url, "us-east-1", credentials=Credentials(key, secret))


def test_signed_writes_are_stored_and_searchable_by_term_and_wildcard_index(fake):
    c = client(fake)
    c.put_index_template("anomalies-template", {"index_patterns": ["anomalies-*"], "template": {"mappings": {}}})
    body = "\n".join(
        [
            json.dumps({"index": {"_index": "anomalies-2026.11", "_id": "acme:a1"}}),
            json.dumps({"tenantId": "acme", "severity": "HIGH"}),
            json.dumps({"index": {"_index": "anomalies-2026.10", "_id": "globex:a2"}}),
            json.dumps({"tenantId": "globex", "severity": "LOW"}),
            json.dumps({"delete": {"_index": "anomalies-2026.10", "_id": "missing"}}),
        ]
    )
    out = c.bulk((body + "\n").encode())
    assert [next(iter(i.values()))["status"] for i in out["items"]] == [201, 201, 404]
    query = {"query": {"bool": {"filter": [{"term": {"tenantId": "acme"}}]}}}
    hits = c.request("POST", "/anomalies-*/_search", json.dumps(query).encode())["hits"]
    assert hits["total"]["value"] == 1 and hits["hits"][0]["_id"] == "acme:a1"
    assert c.request("GET", "/anomalies-2026.10/_doc/globex:a2")["_source"]["severity"] == "LOW"
    c.request("DELETE", "/anomalies-2026.10/_doc/globex:a2")
    assert fake.stats()["indices"] == {"anomalies-2026.10": 0, "anomalies-2026.11": 1}
    assert fake.stats()["templates"] == ["anomalies-template"]


def test_unsigned_wrong_secret_and_tampered_requests_are_403(fake):
    assert requests.get(fake.url + "/_cat/indices", timeout=5).status_code == 403
    with pytest.raises(ValueError, match="HTTP 403"):
        client(fake, secret="not-the-secret").request("GET", "/")
    # A body changed after signing: the payload hash no longer matches.
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    req = AWSRequest(
        method="PUT", url=fake.url + "/idx/_doc/1", data=b'{"a": 1}', headers={"Content-Type": "application/json"}
    )
    SigV4Auth(Credentials("testing", "testing"), "es", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    assert requests.put(fake.url + "/idx/_doc/1", data=b'{"a": 2}', headers=headers, timeout=5).status_code == 403
    assert requests.put(fake.url + "/idx/_doc/1", data=b'{"a": 1}', headers=headers, timeout=5).status_code == 201
    # Signed for another service
    req = AWSRequest(method="GET", url=fake.url + "/", headers={})
    SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(req)
    assert requests.get(fake.url + "/", headers=dict(req.headers.items()), timeout=5).status_code == 403
    assert fake.stats()["denied"] == 4


def test_routes_added_later_win_and_unknown_apis_are_400(fake):
    def put_policy(req: Request):
        body = req.json()
        if "policy" not in body:
            return 400, error("x_content_parse_exception", "[policy] is required")
        fake.objects.setdefault("rollups", {})[req.params["name"]] = body
        return 201, {"_id": req.params["name"]}

    c = client(fake)
    with pytest.raises(ValueError, match="no handler"):  # an API the fake does not serve (rollups)
        c.request("PUT", "/_plugins/_rollup/jobs/p1", b"{}")
    fake.route("PUT", r"/_plugins/_rollup/jobs/(?P<name>[^/]+)", put_policy)
    with pytest.raises(ValueError, match="policy"):
        c.request("PUT", "/_plugins/_rollup/jobs/p1", b"{}")
    assert c.request("PUT", "/_plugins/_rollup/jobs/p1", b'{"policy": {}}') == {"_id": "p1"}
    assert fake.objects["rollups"] == {"p1": {"policy": {}}}
