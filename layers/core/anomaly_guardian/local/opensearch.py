"""A small OpenSearch Service fake on loopback: what the local stack's search indexer writes to.

It checks every request the way the domain's IAM access policy would: a SigV4 signature for the
service `es`, recomputed with the local dummy credentials (a request that is unsigned, signed for
another service, or whose body was changed after signing gets 403 like OpenSearch Service). It keeps
documents in memory per index and answers the handful of APIs the code uses:

    GET  /                                   cluster info
    PUT|GET /_index_template/{name}          composable index templates (stored as sent)
    HEAD|PUT|GET|DELETE /{index}             index exists / create / describe / delete
    POST /_bulk, POST /{index}/_bulk         index, create, delete, update(doc) actions, per-item status
    PUT|POST /{index}/_doc/{id}, GET|DELETE /{index}/_doc/{id}
    GET|POST /{index}/_search, /_search      match_all, term(s), match, range, exists, bool must/filter/must_not/
                                             should, size, from, sort; `{index}`: a comma list, `*` wildcards
    GET  /{index}/_count, GET /_cat/indices?format=json

Extending it (e.g. request-shape checks for ISM policies, Anomaly Detection detectors, alerting
monitors, saved objects, security role mappings): register a route, the handler gets a `Request`
(method, path, query, headers, raw `body`, `json()`, regex `params`) and returns `(status, payload)`;
the fake's state is yours to keep on `fake.state` (a dict) and the generic `fake.objects` store
(`fake.objects[kind][name] = body`). Routes registered later win over the built-in ones:

    fake = FakeOpenSearch()

    def put_policy(req: Request) -> tuple[int, dict]:
        body = req.json()
        if "policy" not in body:
            return 400, error("x_content_parse_exception", "[policy] is required")
        fake.objects.setdefault("ism", {})[req.params["name"]] = body
        return 201, {"_id": req.params["name"]}

    fake.route("PUT", r"/_plugins/_ism/policies/(?P<name>[^/]+)", put_policy)

The plugin APIs (ISM, Notifications, Anomaly Detection, Alerting, Security, Dashboards saved objects)
are installed from `local/opensearch_plugins.py`, with request-shape checks.

Every request is recorded in `fake.requests` (method, path, status) so tests and `/_local/stats`
can see what was called; `fake.stats()` summarises it.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from anomaly_guardian.local.server import DUMMY_CREDENTIALS, QuietHTTPServer, serve_in_background, stop_serving

log = logging.getLogger(__name__)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)


def error(kind: str, reason: str) -> dict[str, Any]:
    """OpenSearch's error body."""
    return {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason}}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body or b"{}")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


Handler = Callable[[Request], tuple[int, Any]]


def verify_sigv4(req: Request, host: str, secrets: dict[str, str], service: str = "es") -> str | None:
    """None when the request carries a valid SigV4 signature for `service`, else the reason."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    m = _AUTH.match(req.headers.get("authorization", ""))
    if m is None:
        return "missing or malformed SigV4 Authorization header"
    if m["service"] != service:
        return f"signed for service {m['service']!r}, not {service!r}"
    secret = secrets.get(m["key"])
    if secret is None:
        return f"unknown access key {m['key']}"
    amz_date = req.headers.get("x-amz-date", "")
    if not amz_date.startswith(m["date"]):
        return "X-Amz-Date does not match the credential scope"
    signed = m["signed"].split(";")
    headers = {name: req.headers.get(name, "") for name in signed if name != "host"}
    query = urlsplit(req.path).query
    url = f"http://{req.headers.get('host', host)}{urlsplit(req.path).path}" + (f"?{query}" if query else "")
    probe = AWSRequest(method=req.method, url=url, data=req.body, headers=headers)
    probe.context["timestamp"] = amz_date
    token = req.headers.get("x-amz-security-token")
    auth = SigV4Auth(Credentials(m["key"], secret, token), service, m["region"])
    canonical = auth.canonical_request(probe)
    expected = auth.signature(auth.string_to_sign(probe, canonical), probe)
    if expected != m["sig"]:
        return "The request signature we calculated does not match the signature you provided"
    return None


def _matches(doc: dict[str, Any], query: dict[str, Any]) -> bool:
    if not query or "match_all" in query:
        return True
    if "bool" in query:
        b = query["bool"]

        def listed(key: str) -> list[dict[str, Any]]:
            value = b.get(key) or []
            return value if isinstance(value, list) else [value]

        if not all(_matches(doc, q) for q in listed("must") + listed("filter")):
            return False
        if any(_matches(doc, q) for q in listed("must_not")):
            return False
        should = listed("should")
        return not should or any(_matches(doc, q) for q in should) or bool(listed("must") + listed("filter"))
    for kind in ("term", "match", "match_phrase"):
        if kind in query:
            ((fld, value),) = query[kind].items()
            if isinstance(value, dict):
                value = value.get("value", value.get("query"))
            return _get(doc, fld) == value or (kind != "term" and str(value) in str(_get(doc, fld) or ""))
    if "terms" in query:
        ((fld, values),) = query["terms"].items()
        return _get(doc, fld) in values
    if "exists" in query:
        return _get(doc, query["exists"]["field"]) is not None
    if "range" in query:
        ((fld, bounds),) = query["range"].items()
        value = _get(doc, fld)
        if value is None:
            return False
        checks = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b}
        checks["lte"] = lambda a, b: a <= b
        return all(checks[op](value, bound) for op, bound in bounds.items() if op in checks)
    raise ValueError(f"query not supported by the local OpenSearch: {sorted(query)}")


def _get(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.removesuffix(".keyword").split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class FakeOpenSearch:
    def __init__(self, credentials: dict[str, str] | None = None, check_signatures: bool = True):
        key, secret = DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"], DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
        self.secrets = credentials or {key: secret}
        self.check_signatures = check_signatures
        self.indices: dict[str, dict[str, dict[str, Any]]] = {}
        self.templates: dict[str, Any] = {}
        self.objects: dict[str, dict[str, Any]] = {}
        self.state: dict[str, Any] = {}
        self.requests: list[tuple[str, str, int]] = []
        self.lock = threading.RLock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._server: QuietHTTPServer | None = None
        self.url = ""
        self._builtin_routes()
        from anomaly_guardian.local.opensearch_plugins import install  # ISM, AD, alerting, security, Dashboards

        install(self)

    # ------------------------------------------------------------------ extension point
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve `method` on paths matching `pattern` (anchored; named groups -> `req.params`)."""
        self._routes.insert(0, (method.upper(), re.compile(f"^{pattern}/?$"), handler))

    def dispatch(self, req: Request) -> tuple[int, Any]:
        path = urlsplit(req.path).path
        for method, pattern, handler in self._routes:
            m = pattern.match(path)
            if m and method in (req.method, "*"):
                req.params = m.groupdict()
                with self.lock:
                    try:
                        return handler(req)
                    except (ValueError, KeyError, TypeError) as exc:
                        return 400, error("parse_exception", f"{type(exc).__name__}: {exc}")
        return 400, error("illegal_argument_exception", f"no handler for {req.method} {path} in the local OpenSearch")

    # ------------------------------------------------------------------ serving
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        fake = self

        class Http(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                req = Request(
                    method=self.command,
                    path=self.path,
                    query=parse_qs(split.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                reason = verify_sigv4(req, f"{host}:{port}", fake.secrets) if fake.check_signatures else None
                if reason is not None:
                    status, payload = 403, {"message": reason}
                else:
                    status, payload = fake.dispatch(req)
                with fake.lock:
                    fake.requests.append((self.command, split.path, status))
                out = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(0 if self.command == "HEAD" else len(out)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(out)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                log.debug(format, *args)

        self._server = QuietHTTPServer((host, port), Http)
        port = serve_in_background(self._server, "local-opensearch")
        self.url = f"http://{host}:{port}"
        return self.url

    def shutdown(self) -> None:
        stop_serving(self._server)
        self._server = None

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "url": self.url,
                "indices": {name: len(docs) for name, docs in sorted(self.indices.items())},
                "templates": sorted(self.templates),
                "requests": len(self.requests),
                "denied": sum(1 for _, _, s in self.requests if s == 403),
            }

    # ------------------------------------------------------------------ built-in APIs
    def _builtin_routes(self) -> None:
        r = self.route
        # Registered in reverse priority (later wins): generic index routes first.
        r("HEAD", r"/(?P<index>[^_/][^/]*)", self._head_index)
        r("PUT", r"/(?P<index>[^_/][^/]*)", self._create_index)
        r("GET", r"/(?P<index>[^_/][^/]*)", self._get_index)
        r("DELETE", r"/(?P<index>[^_/][^/]*)", self._delete_index)
        r("GET", r"/", lambda req: (200, {"cluster_name": "local", "version": {"distribution": "opensearch"}}))
        r("PUT", r"/_index_template/(?P<name>[^/]+)", self._put_template)
        r("GET", r"/_index_template/(?P<name>[^/]+)", self._get_template)
        r("POST", r"/_bulk", self._bulk)
        r("POST", r"/(?P<index>[^_/][^/]*)/_bulk", self._bulk)
        for method in ("PUT", "POST"):
            r(method, r"/(?P<index>[^_/][^/]*)/_doc/(?P<id>[^/]+)", self._put_doc)
        r("GET", r"/(?P<index>[^_/][^/]*)/_doc/(?P<id>[^/]+)", self._get_doc)
        r("DELETE", r"/(?P<index>[^_/][^/]*)/_doc/(?P<id>[^/]+)", self._delete_doc)
        for method in ("GET", "POST"):
            r(method, r"/_search", self._search)
            r(method, r"/(?P<index>[^_/][^/]*)/_search", self._search)
            r(method, r"/(?P<index>[^_/][^/]*)/_count", self._count)
        r("GET", r"/_cat/indices", self._cat_indices)

    def _names(self, pattern: str | None) -> list[str]:
        if not pattern or pattern in ("_all", "*"):
            return sorted(self.indices)
        out: list[str] = []
        for part in pattern.split(","):
            out += [n for n in sorted(self.indices) if fnmatch.fnmatchcase(n, part)] if "*" in part else [part]
        return out

    def _head_index(self, req: Request) -> tuple[int, Any]:
        return (200 if req.params["index"] in self.indices else 404), None

    def _create_index(self, req: Request) -> tuple[int, Any]:
        index = req.params["index"]
        if index in self.indices:
            return 400, error("resource_already_exists_exception", f"index [{index}] already exists")
        self.indices[index] = {}
        return 200, {"acknowledged": True, "index": index}

    def _get_index(self, req: Request) -> tuple[int, Any]:
        names = [n for n in self._names(req.params["index"]) if n in self.indices]
        if not names:
            return 404, error("index_not_found_exception", f"no such index [{req.params['index']}]")
        return 200, {n: {"settings": {}, "mappings": self._template_for(n)} for n in names}

    def _delete_index(self, req: Request) -> tuple[int, Any]:
        names = [n for n in self._names(req.params["index"]) if n in self.indices]
        if not names:
            return 404, error("index_not_found_exception", f"no such index [{req.params['index']}]")
        for n in names:
            del self.indices[n]
        return 200, {"acknowledged": True}

    def _template_for(self, index: str) -> dict[str, Any]:
        for body in self.templates.values():
            if any(fnmatch.fnmatchcase(index, p) for p in body.get("index_patterns") or []):
                return (body.get("template") or {}).get("mappings") or {}
        return {}

    def _put_template(self, req: Request) -> tuple[int, Any]:
        body = req.json()
        if not isinstance(body.get("index_patterns"), list) or not body["index_patterns"]:
            return 400, error("action_request_validation_exception", "index patterns are missing")
        self.templates[req.params["name"]] = body
        return 200, {"acknowledged": True}

    def _get_template(self, req: Request) -> tuple[int, Any]:
        name = req.params["name"]
        if name not in self.templates:
            return 404, error("resource_not_found_exception", f"index template matching [{name}] not found")
        return 200, {"index_templates": [{"name": name, "index_template": self.templates[name]}]}

    def _bulk(self, req: Request) -> tuple[int, Any]:
        if not req.headers.get("content-type", "").startswith(("application/x-ndjson", "application/json")):
            return 406, error("illegal_argument_exception", "Content-Type must be application/x-ndjson")
        lines = [ln for ln in req.body.decode("utf-8").split("\n") if ln.strip()]
        items: list[dict[str, Any]] = []
        i = 0
        while i < len(lines):
            meta = json.loads(lines[i])
            ((op, target),) = meta.items()
            index = target.get("_index") or req.params.get("index")
            doc_id = str(target.get("_id", ""))
            if op in ("index", "create", "update"):
                doc = json.loads(lines[i + 1])
                i += 2
            elif op == "delete":
                doc, i = None, i + 1
            else:
                return 400, error("illegal_argument_exception", f"Malformed action/metadata line [{i + 1}]: {op}")
            if not index or not doc_id:
                items.append({op: {"_id": doc_id, "status": 400, "error": {"type": "action_request_validation"}}})
                continue
            docs = self.indices.setdefault(index, {}) if op != "delete" else self.indices.get(index, {})
            if op == "delete":
                found = docs.pop(doc_id, None)
                items.append({op: {"_index": index, "_id": doc_id, "status": 200 if found else 404}})
            elif op == "create" and doc_id in docs:
                err = {"type": "version_conflict_engine_exception", "reason": "document already exists"}
                items.append({op: {"_index": index, "_id": doc_id, "status": 409, "error": err}})
            elif op == "update":
                if doc_id not in docs:
                    err = {"type": "document_missing_exception", "reason": "document missing"}
                    items.append({op: {"_index": index, "_id": doc_id, "status": 404, "error": err}})
                else:
                    docs[doc_id] = {**docs[doc_id], **(doc or {}).get("doc", {})}
                    items.append({op: {"_index": index, "_id": doc_id, "status": 200}})
            else:
                status = 200 if doc_id in docs else 201
                docs[doc_id] = doc or {}
                items.append({op: {"_index": index, "_id": doc_id, "status": status}})
        errors = any(next(iter(x.values()))["status"] >= 300 for x in items)
        return 200, {"took": 1, "errors": errors, "items": items}

    def _put_doc(self, req: Request) -> tuple[int, Any]:
        docs = self.indices.setdefault(req.params["index"], {})
        status = 200 if req.params["id"] in docs else 201
        docs[req.params["id"]] = req.json()
        result = "updated" if status == 200 else "created"
        return status, {"_index": req.params["index"], "_id": req.params["id"], "result": result}

    def _get_doc(self, req: Request) -> tuple[int, Any]:
        index, doc_id = req.params["index"], req.params["id"]
        doc = self.indices.get(index, {}).get(doc_id)
        if doc is None:
            return 404, {"_index": index, "_id": doc_id, "found": False}
        return 200, {"_index": index, "_id": doc_id, "found": True, "_source": doc}

    def _delete_doc(self, req: Request) -> tuple[int, Any]:
        index, doc_id = req.params["index"], req.params["id"]
        found = self.indices.get(index, {}).pop(doc_id, None)
        return (200 if found else 404), {"_index": index, "_id": doc_id, "result": "deleted" if found else "not_found"}

    def _hits(self, req: Request) -> list[tuple[str, str, dict[str, Any]]]:
        body = req.json() if req.body else {}
        query = body.get("query") or {}
        if req.arg("q"):
            fld, _, value = str(req.arg("q")).partition(":")
            query = {"match": {fld: value}}
        return [
            (name, doc_id, doc)
            for name in self._names(req.params.get("index"))
            for doc_id, doc in self.indices.get(name, {}).items()
            if _matches(doc, query)
        ]

    def _search(self, req: Request) -> tuple[int, Any]:
        body = req.json() if req.body else {}
        hits = self._hits(req)
        for spec in reversed(body.get("sort") or []):
            fld, order = (spec, "asc") if isinstance(spec, str) else next(iter(spec.items()))
            order = order.get("order", "asc") if isinstance(order, dict) else order
            hits.sort(key=lambda h, f=fld: (_get(h[2], f) is None, _get(h[2], f) or ""), reverse=order == "desc")
        start = int(body.get("from", req.arg("from", "0") or 0))
        size = int(body.get("size", req.arg("size", "10") or 10))
        page = [{"_index": i, "_id": d, "_score": 1.0, "_source": doc} for i, d, doc in hits[start : start + size]]
        total = {"value": len(hits), "relation": "eq"}
        return 200, {"took": 1, "timed_out": False, "hits": {"total": total, "max_score": 1.0, "hits": page}}

    def _count(self, req: Request) -> tuple[int, Any]:
        return 200, {"count": len(self._hits(req))}

    def _cat_indices(self, req: Request) -> tuple[int, Any]:
        return 200, [{"index": n, "docs.count": str(len(d))} for n, d in sorted(self.indices.items())]
