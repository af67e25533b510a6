"""The local stack's Cost Explorer stand-in for `GetAnomalies`, which moto does not implement.

moto serves the `ce` API (cost categories, GetCostAndUsage) but answers GetAnomalies with "not yet
implemented", so the scheduled cost_anomalies function could not run locally. `install()` adds
`GetAnomalies` to moto's Cost Explorer (in moto's server process, `local/moto_main.py`, or in-process)
and a feed route beside moto's own static-result routes:

    POST {emulation}/moto-api/static/ce/anomalies  {"Anomalies": [<Cost Explorer Anomaly>, ...]}

`guardian cost send FILE` posts a file there (a saved `aws ce get-anomalies` answer, a list, or one
anomaly per line). Anomalies are kept per account (moto's reset clears them) and replaced by
`AnomalyId`, the way Cost Explorer updates an open anomaly whose impact grows.

GetAnomalies answers as AWS documents it: `DateInterval` is required and selects anomalies whose
`AnomalyEndDate` falls in [StartDate, EndDate] (an open anomaly without an end date by its start date);
`MonitorArn` and `TotalImpact` (NumericOperator, StartValue, EndValue) filter; `MaxResults` pages with
an opaque `NextPageToken`. What it does not do: Cost Explorer's own detection (the anomalies are what
was fed) and `Feedback`.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from typing import Any

FEED_PATH = "/moto-api/static/ce/anomalies"
DEFAULT_ACCOUNT = "123456789012"
MAX_RESULTS = 100
REQUIRED = ("AnomalyId", "AnomalyStartDate", "MonitorArn", "Impact", "AnomalyScore")
_OPS = {
    "EQUAL": lambda v, a, b: v == a,
    "GREATER_THAN_OR_EQUAL": lambda v, a, b: v >= a,
    "LESS_THAN_OR_EQUAL": lambda v, a, b: v <= a,
    "GREATER_THAN": lambda v, a, b: v > a,
    "LESS_THAN": lambda v, a, b: v < a,
    "BETWEEN": lambda v, a, b: a <= v <= b,
}


class InvalidAnomaly(ValueError):
    pass


def check(item: Any) -> dict[str, Any]:
    """An anomaly as GetAnomalies returns it, or InvalidAnomaly naming what is missing."""
    if not isinstance(item, dict):
        raise InvalidAnomaly("an anomaly is a JSON object")
    missing = [k for k in REQUIRED if k not in item]
    if missing:
        raise InvalidAnomaly(f"{item.get('AnomalyId', '?')}: missing {', '.join(missing)}")
    if "TotalImpact" not in (item.get("Impact") or {}):
        raise InvalidAnomaly(f"{item['AnomalyId']}: Impact.TotalImpact missing")
    for key in ("AnomalyStartDate", "AnomalyEndDate"):
        if item.get(key) is not None:
            try:
                date.fromisoformat(str(item[key])[:10])
            except ValueError:
                raise InvalidAnomaly(f"{item['AnomalyId']}: {key} is not YYYY-MM-DD") from None
    return item


class AnomalyStore:
    """What was fed, per account, in feed order; `get_anomalies` is the API's selection and paging."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def put(self, anomalies: list[Any]) -> int:
        """Store all of `anomalies` or, when one is invalid (InvalidAnomaly, a 400), none of them."""
        for checked in [check(item) for item in anomalies]:
            self.items.pop(str(checked["AnomalyId"]), None)
            self.items[str(checked["AnomalyId"])] = checked
        return len(anomalies)

    def get_anomalies(self, request: dict[str, Any]) -> dict[str, Any]:
        interval = request.get("DateInterval") or {}
        if not interval.get("StartDate"):
            raise ValueError("DateInterval.StartDate is required")
        start = str(interval["StartDate"])[:10]
        end = str(interval.get("EndDate") or "9999-12-31")[:10]
        monitor = request.get("MonitorArn")
        impact = request.get("TotalImpact")
        size = min(int(request.get("MaxResults") or MAX_RESULTS), MAX_RESULTS)
        offset = int(base64.b64decode(request["NextPageToken"]).decode()) if request.get("NextPageToken") else 0

        def selected(a: dict[str, Any]) -> bool:
            day = str(a.get("AnomalyEndDate") or a["AnomalyStartDate"])[:10]
            if not start <= day <= end or (monitor and a.get("MonitorArn") != monitor):
                return False
            if impact:
                op = _OPS[impact["NumericOperator"]]
                return op(float(a["Impact"]["TotalImpact"]), float(impact["StartValue"]), impact.get("EndValue"))
            return True

        matches = [a for a in self.items.values() if selected(a)]
        page = matches[offset : offset + size]
        out: dict[str, Any] = {"Anomalies": page}
        if offset + size < len(matches):
            out["NextPageToken"] = base64.b64encode(str(offset + size).encode()).decode()
        return out


_STORES: dict[str, AnomalyStore] = {}


def store(account_id: str = DEFAULT_ACCOUNT) -> AnomalyStore:
    return _STORES.setdefault(account_id, AnomalyStore())


def reset() -> None:
    """Forget every fed anomaly (moto's reset does; so do tests, the store being process-wide)."""
    _STORES.clear()


def install() -> bool:
    """Add GetAnomalies to moto's Cost Explorer and the feed route to moto's API (idempotent)."""
    from moto.ce.responses import CostExplorerResponse
    from moto.moto_api._internal import urls

    if getattr(CostExplorerResponse, "_guardian_get_anomalies", False):
        return False

    def get_anomalies(self: Any) -> str:
        from moto.core.exceptions import JsonRESTError

        try:
            return json.dumps(store(self.current_account).get_anomalies(json.loads(self.body or "{}")))
        except (ValueError, KeyError) as exc:
            raise JsonRESTError("ValidationException", str(exc)) from None

    def feed(request: Any, full_url: str, headers: Any) -> tuple[int, dict[str, str], str]:
        try:
            if hasattr(request, "environ"):  # moto's server: a werkzeug request
                body = json.loads(request.environ["wsgi.input"].read(int(headers.get("Content-Length") or 0)) or b"{}")
            else:  # in-process mock: botocore's AWSPreparedRequest
                body = json.loads(request.body or b"{}")
            items = body.get("Anomalies", []) if isinstance(body, dict) else body
            n = store(str((body if isinstance(body, dict) else {}).get("account_id", DEFAULT_ACCOUNT))).put(items)
        except (ValueError, InvalidAnomaly) as exc:
            return 400, {"Content-Type": "application/json"}, json.dumps({"message": str(exc)})
        return 201, {"Content-Type": "application/json"}, json.dumps({"stored": n})

    CostExplorerResponse.get_anomalies = get_anomalies  # type: ignore[attr-defined]
    CostExplorerResponse._guardian_get_anomalies = True  # type: ignore[attr-defined]
    urls.url_paths["{0}" + FEED_PATH] = feed
    _reset_with_moto()
    return True


def _reset_with_moto() -> None:
    """moto's /moto-api/reset forgets every backend's state; the stand-in's anomalies go with it."""
    from moto.moto_api._internal.models import moto_api_backend

    original = moto_api_backend.reset

    def reset_all() -> None:
        reset()
        original()

    moto_api_backend.reset = reset_all  # type: ignore[method-assign]
