"""The local OpenSearch fake's plugin APIs, with request-shape checks (installed on `FakeOpenSearch`).

Each route checks the body the way the plugin's parser does (unknown fields, required fields, types,
allowed values) and answers with the plugin's response shape, including what the server adds and how
it rewrites what it was sent (ids, versions, `_seq_no`/`_primary_term`, parsed queries with `boost`
and `from`/`to` ranges, ISM's default `retry`), so the sync's comparison is tested against the same
normalisation a real domain applies. The APIs (OpenSearch 2.x):

    GET /_index_template, DELETE /_index_template/{name}          (PUT/GET one: the base fake, checked here)
    ISM          PUT|GET|DELETE /_plugins/_ism/policies/{id}, GET /_plugins/_ism/policies
    Notifications POST|GET /_plugins/_notifications/configs, PUT|GET|DELETE .../configs/{id}
    AD           POST /_plugins/_anomaly_detection/detectors, POST .../detectors/_search,
                 GET|PUT|DELETE .../detectors/{id}, POST .../{id}/_start|_stop, POST .../detectors/results/_search
    Alerting     POST /_plugins/_alerting/monitors, POST .../monitors/_search, GET|PUT|DELETE .../monitors/{id}
    Security     GET /_plugins/_security/api/{roles|rolesmapping}, PUT|GET|DELETE .../{name}
    Dashboards   /_dashboards/api/saved_objects: _find, POST|GET|DELETE /{type}/{id} (needs `osd-xsrf`)

Not Random Cut Forest: a started historical analysis writes result documents (grade, confidence,
entity) from a simple robust z-score per entity and interval, so that the path "start a detector,
read its results" has something to read. Real detection is exercised in the GitHub Actions job
against a real OpenSearch.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from anomaly_guardian.local.opensearch import FakeOpenSearch, Request, error

AD = "/_plugins/_anomaly_detection/detectors"
RESULT_INDEX = ".opendistro-anomaly-results-history"
ARN = re.compile(r"^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:.+$")
ISM_ACTIONS = {
    "delete",
    "rollover",
    "read_only",
    "read_write",
    "replica_count",
    "force_merge",
    "close",
    "open",
    "index_priority",
    "snapshot",
    "notification",
    "allocation",
    "shrink",
    "rollup",
    "transform",
}
ISM_CONDITIONS = {"min_index_age", "min_doc_count", "min_size", "cron", "min_rollover_age"}
AGGS = {"sum", "avg", "min", "max", "value_count", "cardinality"}
INDEX_SETTINGS = {
    "number_of_shards",
    "number_of_replicas",
    "refresh_interval",
    "codec",
    "max_result_window",
    "mapping.total_fields.limit",
    "hidden",
}
SAVED_TYPES = {"index-pattern", "visualization", "dashboard", "search", "config", "query"}
NOTIFY_TYPES = {
    "slack",
    "chime",
    "webhook",
    "email",
    "sns",
    "ses_account",
    "smtp_account",
    "email_group",
    "microsoft_teams",
}


class Invalid(ValueError):
    def __init__(self, reason: str, kind: str = "x_content_parse_exception"):
        super().__init__(reason)
        self.kind = kind


def _now_ms() -> int:
    return int(time.time() * 1000)


def _id() -> str:
    return uuid.uuid4().hex[:20]


def _only(body: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise Invalid(f"[{where}] unknown field [{unknown[0]}]")


def _need(body: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in body:
        raise Invalid(f"[{where}] required field [{name}] is missing")
    value = body[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise Invalid(f"[{where}] field [{name}] has the wrong type: {type(value).__name__}")
    return value


# ----------------------------------------------------------------------------- query normalisation
def parsed_query(q: Any) -> Any:
    """What OpenSearch gives back for a query it parsed (QueryBuilder.toXContent)."""
    if not isinstance(q, dict) or len(q) != 1:
        raise Invalid(f"query malformed, expected one query type: {q!r}"[:200], "parsing_exception")
    ((kind, body),) = q.items()
    if kind == "match_all":
        return {"match_all": {"boost": 1.0}}
    if kind in ("term", "prefix"):
        ((fld, v),) = body.items()
        v = v if isinstance(v, dict) else {"value": v}
        return {kind: {fld: {**v, "boost": 1.0}}}
    if kind == "terms":
        return {"terms": {**body, "boost": 1.0}}
    if kind == "exists":
        return {"exists": {"field": body["field"], "boost": 1.0}}
    if kind == "range":
        ((fld, b),) = body.items()
        unknown = set(b) - {
            "gt",
            "gte",
            "lt",
            "lte",
            "format",
            "time_zone",
            "from",
            "to",
            "include_lower",
            "include_upper",
            "boost",
        }
        if unknown:
            raise Invalid(f"[range] query does not support [{sorted(unknown)[0]}]", "parsing_exception")
        out = {
            "from": b.get("gte", b.get("gt", b.get("from"))),
            "to": b.get("lte", b.get("lt", b.get("to"))),
            "include_lower": "gt" not in b and b.get("include_lower", True),
            "include_upper": "lt" not in b and b.get("include_upper", True),
        }
        if "format" in b:
            out["format"] = b["format"]
        return {"range": {fld: {**out, "boost": 1.0}}}
    if kind == "bool":
        unknown = set(body) - {
            "must",
            "filter",
            "should",
            "must_not",
            "minimum_should_match",
            "boost",
            "adjust_pure_negative",
        }
        if unknown:
            raise Invalid(f"[bool] query does not support [{sorted(unknown)[0]}]", "parsing_exception")
        out: dict[str, Any] = {}
        for clause in ("must", "filter", "must_not", "should"):
            if clause in body:
                items = body[clause] if isinstance(body[clause], list) else [body[clause]]
                out[clause] = [parsed_query(x) for x in items]
        if "minimum_should_match" in body:
            out["minimum_should_match"] = body["minimum_should_match"]
        return {"bool": {**out, "adjust_pure_negative": True, "boost": 1.0}}
    raise Invalid(f"unknown query [{kind}]", "parsing_exception")


def _plain(q: Any) -> Any:
    """A parsed query back to what the base fake's matcher reads (term values, gte/lte ranges)."""
    if isinstance(q, list):
        return [_plain(x) for x in q]
    if not isinstance(q, dict):
        return q
    out: dict[str, Any] = {}
    for k, v in q.items():
        if k in ("boost", "adjust_pure_negative"):
            continue
        if k == "range":
            fld, b = next(iter(v.items()))
            r = {}
            if b.get("from") is not None:
                r["gte" if b.get("include_lower", True) else "gt"] = b["from"]
            if b.get("to") is not None:
                r["lte" if b.get("include_upper", True) else "lt"] = b["to"]
            out[k] = {fld: r}
        elif k in ("term", "prefix"):
            fld, b = next(iter(v.items()))
            out[k] = {fld: b.get("value") if isinstance(b, dict) else b}
        else:
            out[k] = _plain(v)
    return out


# ----------------------------------------------------------------------------- the plugin routes
class Plugins:
    def __init__(self, fake: FakeOpenSearch):
        self.fake = fake
        o = fake.objects
        self.ism: dict[str, dict[str, Any]] = o.setdefault("ism", {})
        self.configs: dict[str, dict[str, Any]] = o.setdefault("notifications", {})
        self.detectors: dict[str, dict[str, Any]] = o.setdefault("detectors", {})
        self.monitors: dict[str, dict[str, Any]] = o.setdefault("monitors", {})
        self.roles: dict[str, dict[str, Any]] = o.setdefault("roles", {})
        self.mappings: dict[str, dict[str, Any]] = o.setdefault("rolesmapping", {})
        self.saved: dict[str, dict[str, Any]] = o.setdefault("saved_objects", {})
        self.seq = 0

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def guard(self, handler):
        def run(req: Request) -> tuple[int, Any]:
            try:
                return handler(req)
            except Invalid as exc:
                return 400, error(exc.kind, str(exc))
            except json.JSONDecodeError as exc:
                return 400, error("json_parse_exception", str(exc))

        return run

    def install(self) -> None:
        r = lambda m, p, h: self.fake.route(m, p, self.guard(h))  # noqa: E731
        # index templates: list, delete, and a checked PUT that stores what the server returns
        r("GET", r"/_index_template", self.list_templates)
        r("PUT", r"/_index_template/(?P<name>[^/]+)", self.put_template)
        r("DELETE", r"/_index_template/(?P<name>[^/]+)", self.delete_template)
        r(
            "POST",
            r"/(?P<index>[^_/][^/]*)/_refresh",
            lambda req: (200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}),
        )
        # ISM
        r("GET", r"/_plugins/_ism/policies", self.list_policies)
        r("PUT", r"/_plugins/_ism/policies/(?P<id>[^/]+)", self.put_policy)
        r("GET", r"/_plugins/_ism/policies/(?P<id>[^/]+)", self.get_policy)
        r("DELETE", r"/_plugins/_ism/policies/(?P<id>[^/]+)", self.delete_policy)
        # Notifications
        r("GET", r"/_plugins/_notifications/configs", self.list_configs)
        r("POST", r"/_plugins/_notifications/configs", self.create_config)
        r("GET", r"/_plugins/_notifications/configs/(?P<id>[^/]+)", self.get_config)
        r("PUT", r"/_plugins/_notifications/configs/(?P<id>[^/]+)", self.update_config)
        r("DELETE", r"/_plugins/_notifications/configs/(?P<id>[^/]+)", self.delete_config)
        # Anomaly Detection (registered generic-first: later routes win)
        r("GET", AD + r"/(?P<id>[^/_][^/]*)", self.get_detector)
        r("PUT", AD + r"/(?P<id>[^/_][^/]*)", self.update_detector)
        r("DELETE", AD + r"/(?P<id>[^/_][^/]*)", self.delete_detector)
        r("POST", AD, self.create_detector)
        r("POST", AD + r"/_search", self.search_detectors)
        r("POST", AD + r"/(?P<id>[^/_][^/]*)/_start", self.start_detector)
        r("POST", AD + r"/(?P<id>[^/_][^/]*)/_stop", self.stop_detector)
        r("POST", AD + r"/results/_search", self.search_results)
        r("POST", AD + r"/results/_search/(?P<index>[^/]+)", self.search_results)
        # Alerting
        r("POST", r"/_plugins/_alerting/monitors", self.create_monitor)
        r("GET", r"/_plugins/_alerting/monitors/(?P<id>[^/_][^/]*)", self.get_monitor)
        r("PUT", r"/_plugins/_alerting/monitors/(?P<id>[^/_][^/]*)", self.update_monitor)
        r("DELETE", r"/_plugins/_alerting/monitors/(?P<id>[^/_][^/]*)", self.delete_monitor)
        for method in ("GET", "POST"):
            r(method, r"/_plugins/_alerting/monitors/_search", self.search_monitors)
        # Security
        for res in ("roles", "rolesmapping"):
            r("GET", rf"/_plugins/_security/api/(?P<res>{res})", self.list_security)
            r("PUT", rf"/_plugins/_security/api/(?P<res>{res})/(?P<name>[^/]+)", self.put_security)
            r("GET", rf"/_plugins/_security/api/(?P<res>{res})/(?P<name>[^/]+)", self.get_security)
            r("DELETE", rf"/_plugins/_security/api/(?P<res>{res})/(?P<name>[^/]+)", self.delete_security)
        # Dashboards saved objects
        base = r"/_dashboards/api/saved_objects"
        r("GET", base + r"/_find", self.find_saved)
        r("POST", base + r"/(?P<type>[^/_][^/]*)/(?P<id>[^/]+)", self.put_saved)
        r("GET", base + r"/(?P<type>[^/_][^/]*)/(?P<id>[^/]+)", self.get_saved)
        r("DELETE", base + r"/(?P<type>[^/_][^/]*)/(?P<id>[^/]+)", self.delete_saved)

    # ------------------------------------------------------------------ index templates
    def list_templates(self, req: Request) -> tuple[int, Any]:
        return 200, {
            "index_templates": [{"name": n, "index_template": t} for n, t in sorted(self.fake.templates.items())]
        }

    def put_template(self, req: Request) -> tuple[int, Any]:
        body = req.json()
        _only(
            body,
            {"index_patterns", "template", "composed_of", "priority", "version", "_meta", "data_stream"},
            "index_template",
        )
        patterns = _need(body, "index_patterns", list, "index_template")
        if not patterns or not all(isinstance(p, str) for p in patterns):
            raise Invalid("index patterns are missing", "action_request_validation_exception")
        priority = body.get("priority", 0)
        if not isinstance(priority, int) or priority < 0:
            raise Invalid("index template priority must be >= 0", "action_request_validation_exception")
        template = body.get("template") or {}
        _only(template, {"settings", "mappings", "aliases"}, "template")
        flat = _flatten(template.get("settings") or {})
        for key in flat:
            if key.removeprefix("index.") not in INDEX_SETTINGS:
                raise Invalid(
                    f"unknown setting [{key if key.startswith('index.') else 'index.' + key}]",
                    "illegal_argument_exception",
                )
        for other, t in self.fake.templates.items():
            if (
                other != req.params["name"]
                and t.get("priority", 0) == priority
                and any(
                    fnmatch.fnmatchcase(a, b) or fnmatch.fnmatchcase(b, a)
                    for a in patterns
                    for b in t["index_patterns"]
                )
            ):
                raise Invalid(
                    f"index template [{req.params['name']}] has index patterns {patterns} matching patterns "
                    f"from existing templates [{other}] with the same priority [{priority}]",
                    "illegal_argument_exception",
                )
        stored = json.loads(json.dumps(body))
        stored["priority"] = priority
        if "settings" in template:  # the server keeps settings nested under "index", values as strings
            stored["template"]["settings"] = {
                "index": _nest(
                    {
                        k.removeprefix("index."): str(v).lower() if isinstance(v, bool) else str(v)
                        for k, v in flat.items()
                    }
                )
            }
        self.fake.templates[req.params["name"]] = stored
        return 200, {"acknowledged": True}

    def delete_template(self, req: Request) -> tuple[int, Any]:
        if self.fake.templates.pop(req.params["name"], None) is None:
            return 404, error("index_template_missing_exception", f"index_template [{req.params['name']}] missing")
        return 200, {"acknowledged": True}

    # ------------------------------------------------------------------ ISM
    def _check_policy(self, body: dict[str, Any]) -> dict[str, Any]:
        _only(body, {"policy"}, "root")
        policy = _need(body, "policy", dict, "root")
        _only(
            policy,
            {
                "description",
                "default_state",
                "states",
                "ism_template",
                "error_notification",
                "policy_id",
                "last_updated_time",
                "schema_version",
                "user",
            },
            "policy",
        )
        states = _need(policy, "states", list, "policy")
        default = _need(policy, "default_state", str, "policy")
        names = [s.get("name") for s in states]
        if not states or default not in names:
            raise Invalid(f"Policy default state [{default}] does not exist in states", "illegal_argument_exception")
        out_states = []
        for s in states:
            _only(s, {"name", "actions", "transitions"}, "state")
            actions = []
            for a in s.get("actions") or []:
                kinds = set(a) - {"retry", "timeout", "custom"}
                if len(kinds) != 1 or next(iter(kinds)) not in ISM_ACTIONS:
                    raise Invalid(f"Invalid field: [{','.join(sorted(kinds))}] found in Actions.")
                actions.append({"retry": {"count": 3, "backoff": "exponential", "delay": "1m"}, **a})
            for t in s.get("transitions") or []:
                _only(t, {"state_name", "conditions"}, "transition")
                if t.get("state_name") not in names:
                    raise Invalid(
                        f"Policy contains a transition to state [{t.get('state_name')}] that does not exist",
                        "illegal_argument_exception",
                    )
                for c in t.get("conditions") or {}:
                    if c not in ISM_CONDITIONS:
                        raise Invalid(f"Invalid field: [{c}] found in Transition conditions.")
            out_states.append({"name": s["name"], "actions": actions, "transitions": s.get("transitions") or []})
        templates = []
        for t in policy.get("ism_template") or []:
            _only(t, {"index_patterns", "priority", "last_updated_time"}, "ism_template")
            _need(t, "index_patterns", list, "ism_template")
            templates.append(
                {
                    "index_patterns": t["index_patterns"],
                    "priority": int(t.get("priority", 0)),
                    "last_updated_time": _now_ms(),
                }
            )
        return {
            "description": policy.get("description", ""),
            "default_state": default,
            "states": out_states,
            "ism_template": templates or None,
            "error_notification": policy.get("error_notification"),
        }

    def put_policy(self, req: Request) -> tuple[int, Any]:
        pid = req.params["id"]
        policy = self._check_policy(req.json())
        have = self.ism.get(pid)
        seq, term = req.arg("if_seq_no"), req.arg("if_primary_term")
        if have is not None and (seq is None or term is None):
            return 409, error(
                "version_conflict_engine_exception", f"[{pid}]: version conflict, document already exists"
            )
        if have is not None and (int(seq) != have["_seq_no"] or int(term) != have["_primary_term"]):
            return 409, error("version_conflict_engine_exception", f"[{pid}]: version conflict, required seqNo [{seq}]")
        if have is None and (seq is not None or term is not None):
            return 404, error("document_missing_exception", f"[{pid}]: document missing")
        version = (have or {}).get("_version", 0) + 1
        item = {
            "_id": pid,
            "_version": version,
            "_seq_no": self._next_seq(),
            "_primary_term": 1,
            "policy": {"policy_id": pid, "last_updated_time": _now_ms(), "schema_version": 19, **policy},
        }
        self.ism[pid] = item
        return (201 if have is None else 200), item

    def get_policy(self, req: Request) -> tuple[int, Any]:
        item = self.ism.get(req.params["id"])
        if item is None:
            return 404, error("status_exception", "Policy not found")
        return 200, item

    def list_policies(self, req: Request) -> tuple[int, Any]:
        return 200, {"policies": [self.ism[k] for k in sorted(self.ism)], "total_policies": len(self.ism)}

    def delete_policy(self, req: Request) -> tuple[int, Any]:
        if self.ism.pop(req.params["id"], None) is None:
            return 404, {"_id": req.params["id"], "result": "not_found"}
        return 200, {"_id": req.params["id"], "result": "deleted"}

    # ------------------------------------------------------------------ notifications
    def _check_config(self, config: dict[str, Any]) -> dict[str, Any]:
        _only(config, {"name", "description", "config_type", "is_enabled", *NOTIFY_TYPES}, "config")
        _need(config, "name", str, "config")
        ctype = _need(config, "config_type", str, "config")
        if ctype not in NOTIFY_TYPES:
            raise Invalid(f"Invalid config_type [{ctype}]", "illegal_argument_exception")
        spec = _need(config, ctype, dict, "config")
        if ctype == "sns":
            _only(spec, {"topic_arn", "role_arn"}, "sns")
            if not ARN.match(str(spec.get("topic_arn", ""))) or ":sns:" not in spec["topic_arn"]:
                raise Invalid("Invalid AWS SNS topic ARN", "illegal_argument_exception")
            if "role_arn" in spec and not (ARN.match(spec["role_arn"]) and ":iam::" in spec["role_arn"]):
                raise Invalid("Invalid AWS IAM role ARN", "illegal_argument_exception")
        return {"description": "", "is_enabled": True, **config}

    def create_config(self, req: Request) -> tuple[int, Any]:
        body = req.json()
        _only(body, {"config_id", "config"}, "root")
        config = self._check_config(_need(body, "config", dict, "root"))
        cid = body.get("config_id") or _id()
        if cid in self.configs:
            return 409, error("version_conflict_engine_exception", f"config [{cid}] already exists")
        self.configs[cid] = {
            "config_id": cid,
            "created_time_ms": _now_ms(),
            "last_updated_time_ms": _now_ms(),
            "config": config,
        }
        return 200, {"config_id": cid}

    def update_config(self, req: Request) -> tuple[int, Any]:
        cid = req.params["id"]
        if cid not in self.configs:
            return 404, error("status_exception", f"NotificationConfig {cid} not found")
        body = req.json()
        _only(body, {"config"}, "root")
        self.configs[cid].update(
            config=self._check_config(_need(body, "config", dict, "root")), last_updated_time_ms=_now_ms()
        )
        return 200, {"config_id": cid}

    def get_config(self, req: Request) -> tuple[int, Any]:
        cid = req.params["id"]
        if cid not in self.configs:
            return 404, error("status_exception", f"NotificationConfig {cid} not found")
        return 200, {"start_index": 0, "total_hits": 1, "config_list": [self.configs[cid]]}

    def list_configs(self, req: Request) -> tuple[int, Any]:
        items = [self.configs[k] for k in sorted(self.configs)]
        return 200, {"start_index": 0, "total_hits": len(items), "total_hit_relation": "eq", "config_list": items}

    def delete_config(self, req: Request) -> tuple[int, Any]:
        cid = req.params["id"]
        if self.configs.pop(cid, None) is None:
            return 404, error("status_exception", f"NotificationConfig {cid} not found")
        return 200, {"delete_response_list": {cid: "OK"}}

    # ------------------------------------------------------------------ anomaly detection
    def _field_type(self, indices: list[str], field: str) -> str | None:
        for t in self.fake.templates.values():
            if any(
                fnmatch.fnmatchcase(p, i) or fnmatch.fnmatchcase(i, p) for p in t["index_patterns"] for i in indices
            ):
                props = ((t.get("template") or {}).get("mappings") or {}).get("properties") or {}
                for part in field.split(".")[:-1]:
                    props = (props.get(part) or {}).get("properties") or {}
                leaf = props.get(field.split(".")[-1])
                if leaf:
                    return leaf.get("type", "object")
        return None

    def _docs(self, indices: list[str]) -> list[dict[str, Any]]:
        out = []
        for pattern in indices:
            for name, docs in self.fake.indices.items():
                if fnmatch.fnmatchcase(name, pattern):
                    out += list(docs.values())
        return out

    def _check_detector(self, body: dict[str, Any], own_id: str | None) -> dict[str, Any]:
        _only(
            body,
            {
                "name",
                "description",
                "time_field",
                "indices",
                "feature_attributes",
                "filter_query",
                "detection_interval",
                "window_delay",
                "category_field",
                "result_index",
                "shingle_size",
                "ui_metadata",
            },
            "anomaly_detector",
        )
        name = _need(body, "name", str, "anomaly_detector")
        if not re.fullmatch(r"[a-zA-Z0-9._-]{1,64}", name):
            raise Invalid(
                "Valid characters for detector name are a-z, A-Z, 0-9, -(hyphen), _(underscore) and .(period)",
                "illegal_argument_exception",
            )
        for other_id, d in self.detectors.items():
            if d["detector"]["name"] == name and other_id != own_id:
                raise Invalid(
                    f"Cannot create anomaly detector with name [{name}] as it's already used by detector [{other_id}]",
                    "illegal_argument_exception",
                )
        time_field = _need(body, "time_field", str, "anomaly_detector")
        indices = _need(body, "indices", list, "anomaly_detector")
        if not indices:
            raise Invalid("Indices should be set", "illegal_argument_exception")
        features = _need(body, "feature_attributes", list, "anomaly_detector")
        if not 1 <= len(features) <= 5:
            raise Invalid("Can't create more than 5 features", "illegal_argument_exception")
        out_features, seen = [], set()
        for f in features:
            _only(f, {"feature_id", "feature_name", "feature_enabled", "aggregation_query"}, "feature_attributes")
            fname = _need(f, "feature_name", str, "feature_attributes")
            if fname in seen:
                raise Invalid(f"Detector has duplicate feature names: {fname}", "illegal_argument_exception")
            seen.add(fname)
            _need(f, "feature_enabled", bool, "feature_attributes")
            agg = _need(f, "aggregation_query", dict, "feature_attributes")
            if len(agg) != 1:
                raise Invalid("Failed to parse aggregation: one aggregation per feature", "illegal_argument_exception")
            ((agg_name, agg_body),) = agg.items()
            if not isinstance(agg_body, dict) or len(agg_body) != 1 or next(iter(agg_body)) not in AGGS:
                raise Invalid(f"Failed to parse aggregation [{agg_name}]", "illegal_argument_exception")
            agg_field = next(iter(agg_body.values())).get("field")
            kind = next(iter(agg_body))
            ftype = self._field_type(indices, agg_field or "")
            if kind in ("sum", "avg", "min", "max") and ftype not in (
                "integer",
                "long",
                "float",
                "double",
                "short",
                "scaled_float",
            ):
                raise Invalid(
                    f"Feature [{fname}]: field [{agg_field}] is {ftype or 'not mapped'}, not numeric",
                    "illegal_argument_exception",
                )
            out_features.append(
                {
                    "feature_id": f.get("feature_id") or _id(),
                    "feature_name": fname,
                    "feature_enabled": f["feature_enabled"],
                    "aggregation_query": agg,
                }
            )
        for key in ("detection_interval", "window_delay"):
            period = (body.get(key) or {}).get("period") if key in body or key == "detection_interval" else None
            if key == "detection_interval" and period is None:
                raise Invalid("[anomaly_detector] required field [detection_interval] is missing")
            if period is not None:
                _only(period, {"interval", "unit"}, key)
                if (
                    not isinstance(period.get("interval"), int)
                    or period["interval"] <= 0
                    or period.get("unit") not in ("Minutes", "MINUTES")
                ):
                    raise Invalid(
                        f"{key}: interval must be a positive integer in Minutes", "illegal_argument_exception"
                    )
        categories = body.get("category_field") or []
        if not isinstance(categories, list) or len(categories) > 2:
            raise Invalid(
                "We only support filtering data by one or two categorical fields", "illegal_argument_exception"
            )
        for c in categories:
            ctype = self._field_type(indices, c)
            if ctype not in ("keyword", "ip"):
                raise Invalid(
                    f"A categorical field must be of type keyword or ip: [{c}] is {ctype or 'not mapped'}",
                    "illegal_argument_exception",
                )
        if self._field_type(indices, time_field) != "date":
            raise Invalid(
                f"Can't find time field [{time_field}] of type date in indices {indices}", "illegal_argument_exception"
            )
        if not self._docs(indices):
            raise Invalid(
                f"Can't create anomaly detector as no document is found in the indices: {indices}",
                "illegal_argument_exception",
            )
        filter_query = parsed_query(body.get("filter_query") or {"match_all": {}})
        return {
            "name": name,
            "description": body.get("description", ""),
            "time_field": time_field,
            "indices": indices,
            "filter_query": filter_query,
            "detection_interval": body["detection_interval"],
            "window_delay": body.get("window_delay") or {"period": {"interval": 0, "unit": "Minutes"}},
            "shingle_size": body.get("shingle_size", 8),
            "schema_version": 2,
            "feature_attributes": out_features,
            "last_update_time": _now_ms(),
            "category_field": categories or None,
            "detector_type": "MULTI_ENTITY" if categories else "SINGLE_ENTITY",
        }

    def create_detector(self, req: Request) -> tuple[int, Any]:
        detector = self._check_detector(req.json(), None)
        did = _id()
        self.detectors[did] = {
            "detector": detector,
            "_seq_no": self._next_seq(),
            "_primary_term": 1,
            "_version": 1,
            "job": None,
            "tasks": [],
        }
        return 201, {
            "_id": did,
            "_version": 1,
            "_seq_no": self.detectors[did]["_seq_no"],
            "_primary_term": 1,
            "anomaly_detector": detector,
        }

    def _detector(self, req: Request) -> dict[str, Any] | None:
        return self.detectors.get(req.params["id"])

    def get_detector(self, req: Request) -> tuple[int, Any]:
        d = self._detector(req)
        if d is None:
            return 404, error("status_exception", f"Can't find detector with id: {req.params['id']}")
        out: dict[str, Any] = {
            "_id": req.params["id"],
            "_version": d["_version"],
            "_seq_no": d["_seq_no"],
            "_primary_term": d["_primary_term"],
            "anomaly_detector": d["detector"],
        }
        if req.arg("job") == "true":
            out["anomaly_detector_job"] = d["job"]
        if req.arg("task") == "true":
            historical = [t for t in d["tasks"] if t["task_type"].startswith("HISTORICAL")]
            if historical:
                out["historical_analysis_task"] = historical[-1]
        return 200, out

    def update_detector(self, req: Request) -> tuple[int, Any]:
        d = self._detector(req)
        if d is None:
            return 404, error("status_exception", f"Can't find detector with id: {req.params['id']}")
        if d["job"] and d["job"]["enabled"]:
            return 400, error("illegal_argument_exception", f"Detector job is running: {req.params['id']}")
        seq, term = req.arg("if_seq_no"), req.arg("if_primary_term")
        if seq is not None and (int(seq) != d["_seq_no"] or int(term or -1) != d["_primary_term"]):
            return 409, error("version_conflict_engine_exception", "version conflict")
        detector = self._check_detector(req.json(), req.params["id"])
        d.update(detector=detector, _seq_no=self._next_seq(), _version=d["_version"] + 1)
        return 200, {
            "_id": req.params["id"],
            "_version": d["_version"],
            "_seq_no": d["_seq_no"],
            "_primary_term": 1,
            "anomaly_detector": detector,
        }

    def delete_detector(self, req: Request) -> tuple[int, Any]:
        d = self._detector(req)
        if d is None:
            return 404, error("status_exception", f"Can't find detector with id: {req.params['id']}")
        if d["job"] and d["job"]["enabled"]:
            return 400, error("illegal_argument_exception", f"Detector job is running: {req.params['id']}")
        del self.detectors[req.params["id"]]
        return 200, {"_index": ".opendistro-anomaly-detectors", "_id": req.params["id"], "result": "deleted"}

    def search_detectors(self, req: Request) -> tuple[int, Any]:
        body = req.json() if req.body else {}
        query = _plain(parsed_query(body.get("query") or {"match_all": {}}))
        from anomaly_guardian.local.opensearch import _matches

        hits = [
            {
                "_index": ".opendistro-anomaly-detectors",
                "_id": did,
                "_version": d["_version"],
                "_seq_no": d["_seq_no"],
                "_primary_term": d["_primary_term"],
                "_score": 1.0,
                "_source": d["detector"],
            }
            for did, d in sorted(self.detectors.items())
            if _matches(d["detector"], query)
        ]
        size = int(body.get("size", 10))
        return 200, {
            "took": 1,
            "timed_out": False,
            "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits[:size]},
        }

    def start_detector(self, req: Request) -> tuple[int, Any]:
        d = self._detector(req)
        if d is None:
            return 404, error("status_exception", f"Can't find detector with id: {req.params['id']}")
        body = req.json() if req.body else {}
        if body:
            _only(body, {"start_time", "end_time"}, "date_range")
            start, end = _need(body, "start_time", int, "date_range"), _need(body, "end_time", int, "date_range")
            if end <= start:
                raise Invalid("start time must be before end time", "illegal_argument_exception")
            task = {
                "task_id": _id(),
                "task_type": "HISTORICAL_HC_DETECTOR"
                if d["detector"]["category_field"]
                else "HISTORICAL_SINGLE_ENTITY",
                "state": "FINISHED",
                "detector_id": req.params["id"],
                "detection_date_range": {"start_time": start, "end_time": end},
                "execution_start_time": _now_ms(),
                "execution_end_time": _now_ms(),
            }
            d["tasks"].append(task)
            self._historical(req.params["id"], d["detector"], start, end, task["task_id"])
            return 200, {"_id": task["task_id"], "_version": 1, "_seq_no": self._next_seq(), "_primary_term": 1}
        if d["job"] and d["job"]["enabled"]:
            return 400, error("illegal_argument_exception", f"Detector job is running: {req.params['id']}")
        d["job"] = {
            "name": req.params["id"],
            "enabled": True,
            "enabled_time": _now_ms(),
            "schedule": {"interval": {"start_time": _now_ms(), **d["detector"]["detection_interval"]["period"]}},
        }
        return 200, {"_id": req.params["id"], "_version": 1, "_seq_no": self._next_seq(), "_primary_term": 1}

    def stop_detector(self, req: Request) -> tuple[int, Any]:
        d = self._detector(req)
        if d is None:
            return 404, error("status_exception", f"Can't find detector with id: {req.params['id']}")
        if req.arg("historical") == "true":
            return 200, {"_id": req.params["id"], "_version": 0, "_seq_no": 0, "_primary_term": 0}
        if not d["job"] or not d["job"]["enabled"]:
            return 400, error(
                "illegal_argument_exception", "Anomaly detector job is already stopped: " + req.params["id"]
            )
        d["job"]["enabled"] = False
        d["job"]["disabled_time"] = _now_ms()
        return 200, {"_id": req.params["id"], "_version": 0, "_seq_no": 0, "_primary_term": 0}

    def _historical(self, did: str, det: dict[str, Any], start: int, end: int, task_id: str) -> None:
        """Result documents per entity and interval: a robust z-score stands in for the forest."""
        from anomaly_guardian.local.opensearch import _get, _matches

        interval = det["detection_interval"]["period"]["interval"] * 60_000
        feature = det["feature_attributes"][0]
        ((kind, spec),) = next(iter(feature["aggregation_query"].values())).items()
        query = _plain(det["filter_query"])
        series: dict[tuple, dict[int, float]] = defaultdict(lambda: defaultdict(float))
        for doc in self._docs(det["indices"]):
            if not _matches(doc, query):
                continue
            ts = _epoch_ms(_get(doc, det["time_field"]))
            if ts is None or not start <= ts < end:
                continue
            entity = tuple(str(_get(doc, c)) for c in det["category_field"] or [])
            value = float(_get(doc, spec["field"]) or 0) if kind == "sum" else 1.0
            series[entity][(ts - start) // interval] += value
        results = self.fake.indices.setdefault(RESULT_INDEX, {})
        buckets = math.ceil((end - start) / interval)
        for entity, counts in series.items():
            values = [counts.get(b, 0.0) for b in range(buckets)]
            ordered = sorted(values)
            median = ordered[len(ordered) // 2]
            mad = sorted(abs(v - median) for v in values)[len(values) // 2] or 1.0
            for b, v in enumerate(values):
                z = (v - median) / (1.4826 * mad)
                grade = 0.0 if z < 4 else min(1.0, (z - 4) / 8 + 0.5)
                rid = _id()
                results[rid] = {
                    "detector_id": did,
                    "task_id": task_id,
                    "anomaly_grade": round(grade, 3),
                    "confidence": 0.9 if len(values) > 16 else 0.5,
                    "anomaly_score": round(max(z, 0.0), 3),
                    "data_start_time": start + b * interval,
                    "data_end_time": start + (b + 1) * interval,
                    "execution_start_time": _now_ms(),
                    "execution_end_time": _now_ms(),
                    "feature_data": [
                        {"feature_id": feature["feature_id"], "feature_name": feature["feature_name"], "data": v}
                    ],
                    "entity": [
                        {"name": c, "value": val} for c, val in zip(det["category_field"] or [], entity, strict=True)
                    ],
                }

    def search_results(self, req: Request) -> tuple[int, Any]:
        body = req.json() if req.body else {}
        from anomaly_guardian.local.opensearch import _matches

        query = _plain(parsed_query(body.get("query") or {"match_all": {}}))
        docs = [(i, d) for i, d in self.fake.indices.get(RESULT_INDEX, {}).items() if _matches(d, query)]
        for spec in reversed(body.get("sort") or []):
            fld, order = next(iter(spec.items())) if isinstance(spec, dict) else (spec, "asc")
            order = order.get("order", "asc") if isinstance(order, dict) else order
            docs.sort(key=lambda x, f=fld: x[1].get(f) or 0, reverse=order == "desc")
        size = int(body.get("size", 10))
        hits = [{"_index": RESULT_INDEX, "_id": i, "_score": 1.0, "_source": d} for i, d in docs[:size]]
        return 200, {
            "took": 1,
            "timed_out": False,
            "hits": {"total": {"value": len(docs), "relation": "eq"}, "hits": hits},
        }

    # ------------------------------------------------------------------ alerting
    def _check_monitor(self, body: dict[str, Any]) -> dict[str, Any]:
        _only(
            body,
            {
                "type",
                "monitor_type",
                "name",
                "enabled",
                "schedule",
                "inputs",
                "triggers",
                "ui_metadata",
                "owner",
                "data_sources",
            },
            "monitor",
        )
        if body.get("type") != "monitor":
            raise Invalid("[monitor] type must be [monitor]", "illegal_argument_exception")
        mtype = body.get("monitor_type", "query_level_monitor")
        if mtype not in ("query_level_monitor", "bucket_level_monitor", "doc_level_monitor", "cluster_metrics_monitor"):
            raise Invalid(f"No enum constant MonitorType [{mtype}]", "illegal_argument_exception")
        _need(body, "name", str, "monitor")
        schedule = _need(body, "schedule", dict, "monitor")
        if "period" in schedule:
            p = schedule["period"]
            if (
                not isinstance(p.get("interval"), int)
                or p["interval"] <= 0
                or p.get("unit") not in ("MINUTES", "HOURS", "DAYS")
            ):
                raise Invalid(
                    "schedule period: interval must be positive, unit MINUTES|HOURS|DAYS", "illegal_argument_exception"
                )
        elif "cron" not in schedule:
            raise Invalid("Invalid schedule: period or cron", "illegal_argument_exception")
        inputs = _need(body, "inputs", list, "monitor")
        out_inputs = []
        for i in inputs:
            search = _need(i, "search", dict, "input")
            _only(search, {"indices", "query"}, "search")
            _need(search, "indices", list, "search")
            q = json.loads(json.dumps(search.get("query") or {}))
            if "query" in q:
                q["query"] = parsed_query(q["query"])
            out_inputs.append({"search": {"indices": search["indices"], "query": q}})
        out_triggers = []
        for t in _need(body, "triggers", list, "monitor"):
            if set(t) != {"query_level_trigger"} and mtype == "query_level_monitor" and "query_level_trigger" in t:
                raise Invalid("trigger: one trigger type per entry")
            inner = t.get("query_level_trigger", t)
            _only(
                inner,
                {"id", "name", "severity", "condition", "actions", "min_time_between_executions"},
                "query_level_trigger",
            )
            _need(inner, "name", str, "trigger")
            if str(inner.get("severity")) not in {"1", "2", "3", "4", "5"}:
                raise Invalid("Trigger severity must be 1..5", "illegal_argument_exception")
            script = _need(inner, "condition", dict, "trigger").get("script") or {}
            if not isinstance(script.get("source"), str):
                raise Invalid("[script] source is required")
            actions = []
            for a in inner.get("actions") or []:
                _only(
                    a,
                    {
                        "id",
                        "name",
                        "destination_id",
                        "message_template",
                        "subject_template",
                        "throttle_enabled",
                        "throttle",
                        "action_execution_policy",
                    },
                    "action",
                )
                _need(a, "name", str, "action")
                _need(a, "destination_id", str, "action")
                if not isinstance((a.get("message_template") or {}).get("source"), str):
                    raise Invalid("[action] message_template.source is required")
                if a.get("throttle_enabled") and not isinstance((a.get("throttle") or {}).get("value"), int):
                    raise Invalid("Throttle value must be set when throttle is enabled", "illegal_argument_exception")
                actions.append(
                    {"id": a.get("id") or _id(), **a, "message_template": {"lang": "mustache", **a["message_template"]}}
                )
            out_triggers.append(
                {
                    "query_level_trigger": {
                        "id": inner.get("id") or _id(),
                        **inner,
                        "condition": {"script": {"lang": "painless", **script}},
                        "actions": actions,
                    }
                }
            )
        return {
            "type": "monitor",
            "schema_version": 5,
            "monitor_type": mtype,
            "name": body["name"],
            "enabled": body.get("enabled", True),
            "enabled_time": _now_ms() if body.get("enabled", True) else None,
            "schedule": schedule,
            "inputs": out_inputs,
            "triggers": out_triggers,
            "last_update_time": _now_ms(),
        }

    def create_monitor(self, req: Request) -> tuple[int, Any]:
        monitor = self._check_monitor(req.json())
        mid = _id()
        self.monitors[mid] = {"monitor": monitor, "_seq_no": self._next_seq(), "_primary_term": 1, "_version": 1}
        return 201, {
            "_id": mid,
            "_version": 1,
            "_seq_no": self.monitors[mid]["_seq_no"],
            "_primary_term": 1,
            "monitor": monitor,
        }

    def get_monitor(self, req: Request) -> tuple[int, Any]:
        m = self.monitors.get(req.params["id"])
        if m is None:
            return 404, error("status_exception", "Monitor not found.")
        return 200, {
            "_id": req.params["id"],
            "_version": m["_version"],
            "_seq_no": m["_seq_no"],
            "_primary_term": 1,
            "monitor": m["monitor"],
        }

    def update_monitor(self, req: Request) -> tuple[int, Any]:
        m = self.monitors.get(req.params["id"])
        if m is None:
            return 404, error("status_exception", "Monitor not found.")
        seq, term = req.arg("if_seq_no"), req.arg("if_primary_term")
        if seq is not None and (int(seq) != m["_seq_no"] or int(term or -1) != m["_primary_term"]):
            return 409, error("version_conflict_engine_exception", "version conflict")
        m.update(monitor=self._check_monitor(req.json()), _seq_no=self._next_seq(), _version=m["_version"] + 1)
        return 200, {
            "_id": req.params["id"],
            "_version": m["_version"],
            "_seq_no": m["_seq_no"],
            "_primary_term": 1,
            "monitor": m["monitor"],
        }

    def delete_monitor(self, req: Request) -> tuple[int, Any]:
        if self.monitors.pop(req.params["id"], None) is None:
            return 404, error("status_exception", "Monitor not found.")
        return 200, {"_index": ".opendistro-alerting-config", "_id": req.params["id"], "result": "deleted"}

    def search_monitors(self, req: Request) -> tuple[int, Any]:
        body = req.json() if req.body else {}
        parsed_query(body.get("query") or {"match_all": {}})
        hits = [
            {
                "_index": ".opendistro-alerting-config",
                "_id": mid,
                "_version": m["_version"],
                "_seq_no": m["_seq_no"],
                "_primary_term": 1,
                "_score": 1.0,
                "_source": {"monitor": m["monitor"]},
            }
            for mid, m in sorted(self.monitors.items())
        ]
        size = int(body.get("size", 10))
        return 200, {
            "took": 1,
            "timed_out": False,
            "hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits[:size]},
        }

    # ------------------------------------------------------------------ security
    def _store(self, res: str) -> dict[str, dict[str, Any]]:
        return self.roles if res == "roles" else self.mappings

    def put_security(self, req: Request) -> tuple[int, Any]:
        res, name = req.params["res"], req.params["name"]
        body = req.json()
        if res == "roles":
            _only(body, {"description", "cluster_permissions", "index_permissions", "tenant_permissions"}, "role")
            for p in body.get("index_permissions") or []:
                _only(p, {"index_patterns", "dls", "fls", "masked_fields", "allowed_actions"}, "index_permissions")
                if not p.get("index_patterns"):
                    raise Invalid("index_patterns must not be empty", "illegal_argument_exception")
                if p.get("dls"):
                    try:
                        json.loads(p["dls"])
                    except (TypeError, ValueError):
                        raise Invalid(
                            "Invalid DLS query: must be a JSON query string", "illegal_argument_exception"
                        ) from None
            stored = {
                "reserved": False,
                "hidden": False,
                "static": False,
                "cluster_permissions": [],
                "tenant_permissions": [],
                **body,
                "index_permissions": [
                    {"fls": [], "masked_fields": [], **p} for p in body.get("index_permissions") or []
                ],
            }
        else:
            _only(body, {"backend_roles", "hosts", "users", "and_backend_roles", "description"}, "role_mapping")
            if name not in self.roles and not name.startswith("all_access"):
                return 404, {"status": "NOT_FOUND", "message": f"role '{name}' not found."}
            stored = {"hosts": [], "users": [], "and_backend_roles": [], "reserved": False, "hidden": False, **body}
        store = self._store(res)
        created = name not in store
        store[name] = stored
        return (201 if created else 200), {
            "status": "CREATED" if created else "OK",
            "message": f"'{name}' {'created' if created else 'updated'}.",
        }

    def get_security(self, req: Request) -> tuple[int, Any]:
        store = self._store(req.params["res"])
        if req.params["name"] not in store:
            return 404, {"status": "NOT_FOUND", "message": f"Resource '{req.params['name']}' not found."}
        return 200, {req.params["name"]: store[req.params["name"]]}

    def list_security(self, req: Request) -> tuple[int, Any]:
        return 200, dict(sorted(self._store(req.params["res"]).items()))

    def delete_security(self, req: Request) -> tuple[int, Any]:
        store = self._store(req.params["res"])
        if store.pop(req.params["name"], None) is None:
            return 404, {"status": "NOT_FOUND", "message": f"Resource '{req.params['name']}' not found."}
        return 200, {"status": "OK", "message": f"'{req.params['name']}' deleted."}

    # ------------------------------------------------------------------ dashboards
    def _xsrf(self, req: Request) -> tuple[int, Any] | None:
        if req.method != "GET" and "osd-xsrf" not in req.headers:
            return 400, {
                "statusCode": 400,
                "error": "Bad Request",
                "message": "Request must contain a osd-xsrf header.",
            }
        return None

    def put_saved(self, req: Request) -> tuple[int, Any]:
        if (bad := self._xsrf(req)) is not None:
            return bad
        otype, oid = req.params["type"], req.params["id"]
        if otype not in SAVED_TYPES:
            return 400, {
                "statusCode": 400,
                "error": "Bad Request",
                "message": f"Unsupported saved object type: '{otype}'",
            }
        body = req.json()
        unknown = set(body) - {"attributes", "references", "migrationVersion", "initialNamespaces"}
        if unknown or not isinstance(body.get("attributes"), dict):
            return 400, {
                "statusCode": 400,
                "error": "Bad Request",
                "message": f"[request body.{sorted(unknown)[0] if unknown else 'attributes'}]: invalid",
            }
        attrs = body["attributes"]
        required = {
            "index-pattern": ["title"],
            "visualization": ["title", "visState"],
            "dashboard": ["title", "panelsJSON"],
            "search": ["title"],
        }.get(otype, [])
        for key in required:
            if not isinstance(attrs.get(key), str):
                return 400, {"statusCode": 400, "error": "Bad Request", "message": f"[attributes.{key}] is required"}
        for key in ("visState", "panelsJSON", "optionsJSON", "uiStateJSON"):
            if key in attrs:
                try:
                    json.loads(attrs[key])
                except ValueError:
                    return 400, {
                        "statusCode": 400,
                        "error": "Bad Request",
                        "message": f"[attributes.{key}] is not JSON",
                    }
        for ref in body.get("references") or []:
            if set(ref) != {"name", "type", "id"}:
                return 400, {"statusCode": 400, "error": "Bad Request", "message": "references need name, type and id"}
        key = f"{otype}/{oid}"
        if key in self.saved and req.arg("overwrite") != "true":
            return 409, {"statusCode": 409, "error": "Conflict", "message": f"Saved object [{key}] conflict"}
        version = f"W{self._next_seq()}"
        self.saved[key] = {
            "id": oid,
            "type": otype,
            "attributes": attrs,
            "references": body.get("references") or [],
            "updated_at": datetime.now(UTC).isoformat(),
            "version": version,
            "migrationVersion": {otype: "7.10.0"},
        }
        return 200, self.saved[key]

    def get_saved(self, req: Request) -> tuple[int, Any]:
        key = f"{req.params['type']}/{req.params['id']}"
        if key not in self.saved:
            return 404, {"statusCode": 404, "error": "Not Found", "message": f"Saved object [{key}] not found"}
        return 200, self.saved[key]

    def delete_saved(self, req: Request) -> tuple[int, Any]:
        if (bad := self._xsrf(req)) is not None:
            return bad
        key = f"{req.params['type']}/{req.params['id']}"
        if self.saved.pop(key, None) is None:
            return 404, {"statusCode": 404, "error": "Not Found", "message": f"Saved object [{key}] not found"}
        return 200, {}

    def find_saved(self, req: Request) -> tuple[int, Any]:
        types = req.query.get("type") or []
        if not types:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "[request query.type]: expected value"}
        per_page, page = int(req.arg("per_page", "20")), int(req.arg("page", "1"))
        items = [o for k, o in sorted(self.saved.items()) if o["type"] in types]
        return 200, {
            "page": page,
            "per_page": per_page,
            "total": len(items),
            "saved_objects": items[(page - 1) * per_page : page * per_page],
        }


def _flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in settings.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _nest(flat: dict[str, str]) -> dict[str, Any]:
    """OpenSearch nests only the first segment it knows; keep dotted keys flat below `index` as it does."""
    return dict(sorted(flat.items()))


def _epoch_ms(value: Any) -> int | None:
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            return None
    return None


def install(fake: FakeOpenSearch) -> Plugins:
    """Add the plugin APIs to a fake (the local stack does this for its domain)."""
    plugins = Plugins(fake)
    plugins.install()
    fake.state["plugins"] = plugins
    return plugins
