"""Idempotent sync of the declared OpenSearch objects (`guardian opensearch sync`).

For each kind (index templates, ISM policies, the SNS notification channel, Anomaly Detection
detectors, alerting monitors, Dashboards saved objects, security roles and role mappings) the sync
lists what exists under the managed prefix, compares it with the declaration and then creates what
is missing, updates what drifted (reporting the paths that differ) and deletes managed objects that
are no longer declared. A second run with nothing changed makes no write.

Comparison: the declaration must be contained in what the server returns (servers add ids,
timestamps, defaults such as an ISM action's `retry`); queries are compared in canonical form
(`term` values as `{"value": ...}`, `range` bounds as from/to/include_*, `boost: 1.0` and
`adjust_pure_negative: true` dropped) because AD and alerting store parsed queries, not the JSON sent.
Index settings are compared flattened and as strings (`{"index": {"number_of_shards": "1"}}`).

Detectors can only be updated or deleted while stopped: a running detector is stopped, changed and
started again. Monitors reference detectors by name (`@detector:<name>@`), resolved to ids here.
Pure logic over a `Transport` (adapters/opensearch_admin.py implements it with opensearch-py + SigV4).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from anomaly_guardian.search.declared import MANAGED_PREFIX, Declared

AD = "/_plugins/_anomaly_detection/detectors"
ALERTING = "/_plugins/_alerting/monitors"
ISM = "/_plugins/_ism/policies"
NOTIFY = "/_plugins/_notifications/configs"
SECURITY = "/_plugins/_security/api"
SAVED = "/api/saved_objects"
SAVED_TYPES = ("index-pattern", "visualization", "dashboard", "search")
NO_DOCUMENTS = "no document is found in the indices"  # AD's answer when the source indices are empty


class Transport(Protocol):
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, Any] | None = None,
        target: str = "search",  # "search" (the domain) or "dashboards"
    ) -> tuple[int, Any]: ...


class SyncError(RuntimeError):
    """OpenSearch refused a request the sync needs; the message names the object and the answer."""


@dataclass
class Change:
    kind: str
    name: str
    action: str  # create | update | delete | unchanged | skipped
    drift: list[str] = field(default_factory=list)  # paths that differ (update) or the reason (skipped)

    def line(self) -> str:
        extra = f"  ({'; '.join(self.drift[:6])}{' ...' if len(self.drift) > 6 else ''})" if self.drift else ""
        return f"{self.action:9} {self.kind:13} {self.name}{extra}"


@dataclass
class SyncReport:
    changes: list[Change] = field(default_factory=list)
    dry_run: bool = False
    started: list[str] = field(default_factory=list)  # detectors started by this run

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.action in ("create", "update", "delete")]

    def count(self, action: str) -> int:
        return sum(c.action == action for c in self.changes)

    def summary(self) -> str:
        verb = "would " if self.dry_run else ""
        return (
            f"{verb}create {self.count('create')}, {verb}update {self.count('update')}, "
            f"{verb}delete {self.count('delete')}, unchanged {self.count('unchanged')}, skipped {self.count('skipped')}"
        )


# ----------------------------------------------------------------------------- comparison
def _canonical_query(q: Any) -> Any:
    if isinstance(q, list):
        return [_canonical_query(x) for x in q]
    if not isinstance(q, dict):
        return q
    out: dict[str, Any] = {}
    for key, value in q.items():
        if key == "boost" and value == 1.0:
            continue
        if key == "adjust_pure_negative" and value is True:
            continue
        if key in ("term", "prefix") and isinstance(value, dict):
            out[key] = {f: _canonical_query(v if isinstance(v, dict) else {"value": v}) for f, v in value.items()}
        elif key == "range" and isinstance(value, dict):
            out[key] = {f: _canonical_range(v) for f, v in value.items()}
        elif key == "bool" and isinstance(value, dict):
            out[key] = {
                k: _canonical_query(v if isinstance(v, list) or k not in _BOOL_LISTS else [v]) for k, v in value.items()
            }
        else:
            out[key] = _canonical_query(value)
    return out


_BOOL_LISTS = ("must", "filter", "must_not", "should")


def _canonical_range(bounds: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in bounds.items() if k not in ("gt", "gte", "lt", "lte", "boost")}
    for op, (side, inclusive) in {
        "gte": ("from", True),
        "gt": ("from", False),
        "lte": ("to", True),
        "lt": ("to", False),
    }.items():
        if op in bounds:
            out[side] = bounds[op]
            out[f"include_{'lower' if side == 'from' else 'upper'}"] = inclusive
    out.setdefault("from", None)
    out.setdefault("to", None)
    out.setdefault("include_lower", True)
    out.setdefault("include_upper", True)
    return out


def _flat_settings(settings: dict[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (settings or {}).items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat_settings(value, f"{path}."))
        else:
            out[path.removeprefix("index.")] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def differences(declared: Any, actual: Any, path: str = "") -> list[str]:
    """Paths where `declared` is not contained in `actual` (dict keys: subset; lists: same length)."""
    if isinstance(declared, dict):
        if not isinstance(actual, dict):
            return [path or "/"]
        out: list[str] = []
        for key, value in declared.items():
            if key not in actual:
                if value in (None, [], {}, ""):
                    continue  # servers omit empty fields
                out.append(f"{path}/{key} missing")
                continue
            out += differences(value, actual[key], f"{path}/{key}")
        return out
    if isinstance(declared, list):
        if not isinstance(actual, list) or len(actual) != len(declared):
            return [f"{path} has {len(actual) if isinstance(actual, list) else 'no'} items, declared {len(declared)}"]
        return [
            d for i, (a, b) in enumerate(zip(declared, actual, strict=True)) for d in differences(a, b, f"{path}[{i}]")
        ]
    if isinstance(declared, float) or isinstance(actual, float):
        try:
            return [] if float(declared) == float(actual) else [f"{path}: {actual!r} != {declared!r}"]
        except (TypeError, ValueError):
            pass
    return [] if declared == actual else [f"{path}: {_short(actual)} != declared {_short(declared)}"]


def _short(v: Any) -> str:
    text = json.dumps(v, sort_keys=True, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


# ----------------------------------------------------------------------------- kinds
@dataclass
class Existing:
    name: str
    body: dict[str, Any]
    ident: str  # id used in paths (name, or the server's id for detectors/monitors)
    version: dict[str, Any] = field(default_factory=dict)  # if_seq_no / if_primary_term


class Kind:
    kind = ""
    target = "search"

    def __init__(self, t: Transport, report: SyncReport, resolve: Callable[[Any], Any]):
        self.t = t
        self.report = report
        self.resolve = resolve

    def call(self, method: str, path: str, body: Any = None, params: dict | None = None, ok=(200, 201)) -> Any:
        status, payload = self.t.request(method, path, body, params, self.target)
        if status not in ok:
            raise SyncError(f"{self.kind}: {method} {path} -> HTTP {status}: {json.dumps(payload, default=str)[:500]}")
        return payload

    def existing(self) -> dict[str, Existing]:
        raise NotImplementedError

    def comparable(self, body: dict[str, Any]) -> dict[str, Any]:
        return body

    def create(self, d: Declared, body: dict[str, Any]) -> str:
        raise NotImplementedError

    def update(self, d: Declared, body: dict[str, Any], have: Existing) -> None:
        self.create(d, body)

    def delete(self, have: Existing) -> None:
        raise NotImplementedError

    def after(self, d: Declared, ident: str) -> None:
        """Hook after create/update/unchanged (detectors start here)."""


class IndexTemplates(Kind):
    kind = "index_template"

    def existing(self) -> dict[str, Existing]:
        payload = self.call("GET", "/_index_template", ok=(200, 404))
        out = {}
        for item in (payload or {}).get("index_templates", []):
            if item["name"].startswith(MANAGED_PREFIX):
                out[item["name"]] = Existing(item["name"], item["index_template"], item["name"])
        return out

    def comparable(self, body: dict[str, Any]) -> dict[str, Any]:
        body = json.loads(json.dumps(body))
        template = body.get("template") or {}
        if "settings" in template:
            template["settings"] = _flat_settings(template["settings"])
        return body

    def create(self, d: Declared, body: dict[str, Any]) -> str:
        self.call("PUT", f"/_index_template/{d.name}", body)
        return d.name

    def delete(self, have: Existing) -> None:
        self.call("DELETE", f"/_index_template/{have.ident}")


class IsmPolicies(Kind):
    kind = "ism_policy"

    def existing(self) -> dict[str, Existing]:
        payload = self.call("GET", ISM, params={"size": 1000}, ok=(200, 404))
        out = {}
        for item in (payload or {}).get("policies", []):
            pid = item.get("_id") or item["policy"].get("policy_id")
            if pid.startswith(MANAGED_PREFIX):
                version = {"if_seq_no": item.get("_seq_no"), "if_primary_term": item.get("_primary_term")}
                out[pid] = Existing(pid, {"policy": item["policy"]}, pid, version)
        return out

    def create(self, d: Declared, body: dict[str, Any]) -> str:
        self.call("PUT", f"{ISM}/{d.name}", body)
        return d.name

    def update(self, d: Declared, body: dict[str, Any], have: Existing) -> None:
        self.call("PUT", f"{ISM}/{d.name}", body, params=have.version)

    def delete(self, have: Existing) -> None:
        self.call("DELETE", f"{ISM}/{have.ident}")


class Channels(Kind):
    kind = "channel"

    def existing(self) -> dict[str, Existing]:
        payload = self.call("GET", NOTIFY, params={"max_items": 1000}, ok=(200, 404))
        out = {}
        for item in (payload or {}).get("config_list", []):
            cid = item["config_id"]
            if cid.startswith(MANAGED_PREFIX):
                out[cid] = Existing(cid, {"config_id": cid, "config": item["config"]}, cid)
        return out

    def create(self, d: Declared, body: dict[str, Any]) -> str:
        self.call("POST", NOTIFY, body)
        return d.name

    def update(self, d: Declared, body: dict[str, Any], have: Existing) -> None:
        self.call("PUT", f"{NOTIFY}/{have.ident}", {"config": body["config"]})

    def delete(self, have: Existing) -> None:
        self.call("DELETE", f"{NOTIFY}/{have.ident}")


class Detectors(Kind):
    kind = "detector"

    def __init__(self, *args: Any, start: bool = True, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.start = start

    def existing(self) -> dict[str, Existing]:
        payload = self.call("POST", f"{AD}/_search", {"query": {"match_all": {}}, "size": 1000}, ok=(200, 404))
        out = {}
        for hit in ((payload or {}).get("hits") or {}).get("hits", []):
            src = hit.get("_source") or {}
            name = src.get("name", "")
            if name.startswith(MANAGED_PREFIX):
                version = {"if_seq_no": hit.get("_seq_no"), "if_primary_term": hit.get("_primary_term")}
                out[name] = Existing(name, src, hit["_id"], version)
        return out

    def comparable(self, body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        if "filter_query" in body:
            body["filter_query"] = _canonical_query(body["filter_query"])
        return body

    def _running(self, ident: str) -> bool:
        payload = self.call("GET", f"{AD}/{ident}", params={"job": "true"})
        return bool(((payload or {}).get("anomaly_detector_job") or {}).get("enabled"))

    def create(self, d: Declared, body: dict[str, Any]) -> str:
        return self.call("POST", AD, body)["_id"]

    def update(self, d: Declared, body: dict[str, Any], have: Existing) -> None:
        if self._running(have.ident):
            self.call("POST", f"{AD}/{have.ident}/_stop")
        self.call("PUT", f"{AD}/{have.ident}", body, params=have.version)

    def delete(self, have: Existing) -> None:
        if self._running(have.ident):
            self.call("POST", f"{AD}/{have.ident}/_stop")
        self.call("DELETE", f"{AD}/{have.ident}")

    def after(self, d: Declared, ident: str) -> None:
        """Declared detectors run (real-time): start one that is stopped (after create or update)."""
        if self.start and not self._running(ident):
            self.call("POST", f"{AD}/{ident}/_start")
            self.report.started.append(d.name)


class Monitors(Kind):
    kind = "monitor"

    def existing(self) -> dict[str, Existing]:
        payload = self.call("POST", f"{ALERTING}/_search", {"query": {"match_all": {}}, "size": 1000}, ok=(200, 404))
        out = {}
        for hit in ((payload or {}).get("hits") or {}).get("hits", []):
            src = hit.get("_source") or {}
            src = src.get("monitor", src)
            name = src.get("name", "")
            if src.get("type", "monitor") == "monitor" and name.startswith(MANAGED_PREFIX):
                version = {"if_seq_no": hit.get("_seq_no"), "if_primary_term": hit.get("_primary_term")}
                out[name] = Existing(name, src, hit["_id"], version)
        return out

    def comparable(self, body: dict[str, Any]) -> dict[str, Any]:
        body = json.loads(json.dumps(body))
        for inp in body.get("inputs") or []:
            search = inp.get("search") or {}
            if "query" in search:
                q = search["query"]
                if "query" in q:
                    q["query"] = _canonical_query(q["query"])
        return body

    def create(self, d: Declared, body: dict[str, Any]) -> str:
        return self.call("POST", ALERTING, body)["_id"]

    def update(self, d: Declared, body: dict[str, Any], have: Existing) -> None:
        self.call("PUT", f"{ALERTING}/{have.ident}", body, params=have.version)

    def delete(self, have: Existing) -> None:
        self.call("DELETE", f"{ALERTING}/{have.ident}")


class SavedObjects(Kind):
    kind = "saved_object"
    target = "dashboards"

    def existing(self) -> dict[str, Existing]:
        out = {}
        for otype in SAVED_TYPES:  # one type per _find call: `type` lists are encoded differently by clients
            page = 1
            while True:
                payload = self.call("GET", f"{SAVED}/_find", params={"type": otype, "per_page": 1000, "page": page})
                objects = payload.get("saved_objects", [])
                for obj in objects:
                    if obj["id"].startswith(MANAGED_PREFIX):
                        name = f"{obj['type']}/{obj['id']}"
                        body = {"attributes": obj.get("attributes", {}), "references": obj.get("references", [])}
                        out[name] = Existing(name, body, name)
                if page * 1000 >= int(payload.get("total", 0)) or not objects:
                    break
                page += 1
        return out

    def create(self, d: Declared, body: dict[str, Any]) -> str:
        self.call("POST", f"{SAVED}/{d.name}", body, params={"overwrite": "true"})
        return d.name

    def delete(self, have: Existing) -> None:
        self.call("DELETE", f"{SAVED}/{have.ident}")


class SecurityObjects(Kind):
    resource = ""

    def existing(self) -> dict[str, Existing]:
        payload = self.call("GET", f"{SECURITY}/{self.resource}")
        return {
            name: Existing(name, body, name)
            for name, body in (payload or {}).items()
            if name.startswith(MANAGED_PREFIX) and isinstance(body, dict)
        }

    def comparable(self, body: dict[str, Any]) -> dict[str, Any]:
        body = json.loads(json.dumps(body))
        for perm in body.get("index_permissions") or []:
            if isinstance(perm.get("dls"), str) and perm["dls"]:
                # the security plugin keeps DLS as a string; compare its JSON, not its spacing
                with contextlib.suppress(ValueError):
                    perm["dls"] = json.loads(perm["dls"])
        return body

    def create(self, d: Declared, body: dict[str, Any]) -> str:
        self.call("PUT", f"{SECURITY}/{self.resource}/{d.name}", body)
        return d.name

    def delete(self, have: Existing) -> None:
        self.call("DELETE", f"{SECURITY}/{self.resource}/{have.ident}")


class Roles(SecurityObjects):
    kind = "role"
    resource = "roles"


class RoleMappings(SecurityObjects):
    kind = "role_mapping"
    resource = "rolesmapping"


KINDS: dict[str, type[Kind]] = {
    k.kind: k for k in (IsmPolicies, IndexTemplates, Channels, Detectors, Monitors, SavedObjects, Roles, RoleMappings)
}


# ----------------------------------------------------------------------------- the sync
def sync(
    transport: Transport,
    declared: Iterable[Declared],
    *,
    dry_run: bool = False,
    delete_undeclared: bool = True,
    start_detectors: bool = True,
    skip: Iterable[str] = (),
) -> SyncReport:
    """Apply the declarations (or with `dry_run`, only report what would change: drift)."""
    declared = list(declared)
    skip = set(skip)
    report = SyncReport(dry_run=dry_run)
    ids: dict[str, str] = {}

    def resolve(body: Any) -> Any:
        text = json.dumps(body)
        for name, ident in ids.items():
            text = text.replace(f"@{name}@", ident)
        return json.loads(text)

    blocked: dict[str, str] = {}  # detector name -> why it could not be created yet
    order = list(KINDS)
    by_kind: dict[str, list[Declared]] = {k: [] for k in order}
    for d in declared:
        if d.kind not in KINDS:
            raise ValueError(f"unknown declared kind {d.kind!r} ({d.name})")
        by_kind[d.kind].append(d)
    handlers: dict[str, Kind] = {}
    existing: dict[str, dict[str, Existing]] = {}
    for kind in order:
        if kind in skip:
            for d in by_kind[kind]:
                report.changes.append(Change(kind, d.name, "skipped", [f"--skip {kind}"]))
            continue
        cls = KINDS[kind]
        if cls is Detectors:
            handler: Kind = Detectors(transport, report, resolve, start=start_detectors and not dry_run)
        else:
            handler = cls(transport, report, resolve)
        handlers[kind] = handler
        have = handler.existing()
        existing[kind] = have
        for d in by_kind[kind]:
            body = resolve(d.body)
            current = have.get(d.name)
            waiting = [blocked[dep.split(":", 1)[1]] for dep in d.depends_on if dep.split(":", 1)[1] in blocked]
            if waiting:
                report.changes.append(Change(kind, d.name, "skipped", [f"waits for its detector: {waiting[0]}"]))
                continue
            if dry_run and any(f"@{dep}@" in json.dumps(body) for dep in d.depends_on):
                action = "create" if current is None else "update"
                report.changes.append(Change(kind, d.name, action, ["its detector is not created yet"]))
                continue
            if current is None:
                if not dry_run:
                    try:
                        ident = handler.create(d, body)
                    except SyncError as exc:
                        if kind != "detector" or NO_DOCUMENTS not in str(exc):
                            raise
                        # AD refuses a detector over indices without documents: the trail has not
                        # delivered yet. Not an error: the next sync (every make deploy) creates it.
                        blocked[d.name] = f"no documents in {', '.join(d.body.get('indices', []))} yet"
                        report.changes.append(Change(kind, d.name, "skipped", [blocked[d.name]]))
                        continue
                    handler.after(d, ident)
                    _remember(ids, kind, d.name, ident)
                report.changes.append(Change(kind, d.name, "create"))
                continue
            _remember(ids, kind, d.name, current.ident)
            drift = differences(handler.comparable(body), handler.comparable(current.body))
            if drift:
                if not dry_run:
                    handler.update(d, body, current)
                report.changes.append(Change(kind, d.name, "update", drift))
            else:
                report.changes.append(Change(kind, d.name, "unchanged"))
            if not dry_run:
                handler.after(d, current.ident)
    if delete_undeclared:
        for kind in reversed(order):
            if kind in skip or kind not in handlers:
                continue
            names = {d.name for d in by_kind[kind]}
            for name, have in sorted(existing[kind].items()):
                if name not in names:
                    if not dry_run:
                        handlers[kind].delete(have)
                    report.changes.append(Change(kind, name, "delete", ["no longer declared"]))
    return report


def _remember(ids: dict[str, str], kind: str, name: str, ident: str) -> None:
    if kind == "detector":
        ids[f"detector:{name}"] = ident
