"""Usage anomalies: CloudTrail API call counts per API and entity against a seasonal baseline.

Catches a Lambda stuck in a loop (Invoke per function), a burst of CreateVolume, and leaked keys
launching GPU instances. Calls are counted per `metadata.api` (see usage/cloudtrail.py) in buckets
(default 5 min). Each key keeps an hour-of-day baseline (EWMA of bucket counts per UTC hour) and an
overall EWMA mean/variance that also learns from empty buckets. A bucket is a spike when its count is
at least `min_count` (`sensitive_min_count` for compute/credential APIs, `readonly_min_count` for
read-only calls), `min_ratio` times the
expected count, and `z_threshold` Poisson-style deviations above it; one anomaly per key and bucket.
A principal's first GPU launch is flagged once the tenant's usage history is `warmup_hours` old.
Priceable spikes (RunInstances, CreateVolume, Invoke) carry a dollar estimate (`anomaly_guardian.pricing`):
`costEstimate` on the anomaly, an explanation entry and the description's "about $X per hour".
Hour-of-day slots learn only from buckets that saw calls, which errs towards fewer alarms for rare APIs.

Order: an event older than its key's open bucket counts toward that bucket, unless it is more than
`rewind_hours` older: then it is a backfill (an older trail replayed into a live tenant) and the key's
history starts again from it, with its own `warmup_hours` before it is judged (otherwise a whole older
trail folds into one bucket of the live history and nothing in it is ever seen). The tenant's history
starts at the oldest event it has seen. Interleaving a backfill with live traffic restarts keys each
time the stream jumps back; replay backfills before live traffic resumes.

Enrichment: each key's open bucket also tallies who and what made its calls (principal ARNs, access key
ids, session issuers, accounts, regions, source IPs, user agents, resources, error codes; at most
`MAX_DISTINCT` values each, the rest as "(other)"), and each principal keeps its own tally of APIs,
regions and error codes over its last two buckets. A spike carries these as `usage` (a dict on the
anomaly, `usage_context`), and its `userId` is the readable ARN of the principal that made most of the
calls: CloudTrail principals are IAM identities, not end users (they never reach the business detectors).
The tallies are those of the bucket up to the call that crossed the threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime

from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.cost import aws_entity
from anomaly_guardian.detection.base import Finding, PreparedEvent
from anomaly_guardian.models.anomaly import AnomalyType, Explanation
from anomaly_guardian.pricing import CostEstimate, estimate_usage
from anomaly_guardian.state.store import StateItem, state_key
from anomaly_guardian.usage.cloudtrail import EVENT_TYPE

KIND = "usage"
ALPHA = 0.05  # EWMA weight of one bucket in the overall baseline
SLOT_ALPHA = 0.2  # weight of one day's bucket in its hour-of-day slot
MAX_ZERO_FILL = 2016  # a week of 5-minute buckets: older silence adds nothing
MAX_DISTINCT = 10  # values kept per enrichment dimension and bucket (the rest count as "(other)")
OTHER = "(other)"
TOP = 5  # values shown per dimension in the alert
# enrichment dimension -> where it comes from (event field or metadata key)
KEY_DIMENSIONS = {
    "principals": "userId",
    "accessKeys": "accessKeyId",
    "sessionIssuers": "sessionIssuer",
    "accounts": "accountId",
    "regions": "awsRegion",
    "sourceIps": "ipAddress",
    "userAgents": "userAgent",
    "resources": "resource",
    "errorCodes": "errorCode",
}
PRINCIPAL_DIMENSIONS = {"apis": "api", "regions": "awsRegion", "errorCodes": "errorCode"}


def _tally(groups: dict, dimension: str, value, n: int = 1) -> None:
    if value is None or value == "":
        return
    counts = groups.setdefault(dimension, {})
    value = str(value)[:256]
    if value not in counts and len(counts) >= MAX_DISTINCT:
        value = OTHER
    counts[value] = counts.get(value, 0) + n


def _value(ev: PreparedEvent, meta: dict, source: str):
    if source in ("userId", "ipAddress", "userAgent"):
        return getattr(ev.event, source)
    return meta.get(source)


def top(counts: dict | None, n: int = TOP) -> list[dict]:
    """[{"value", "count"}] most frequent first ("(other)" last), ties by value."""
    items = sorted(((v, c) for v, c in (counts or {}).items() if v != OTHER), key=lambda kv: (-kv[1], kv[0]))
    out = [{"value": v, "count": c} for v, c in items[:n]]
    rest = sum(c for _, c in items[n:]) + (counts or {}).get(OTHER, 0)
    if rest:
        out.append({"value": OTHER, "count": rest})
    return out


def _merge(*groups: dict | None) -> dict:
    out: dict = {}
    for g in groups:
        for dim, counts in (g or {}).items():
            for v, c in counts.items():
                out.setdefault(dim, {})
                out[dim][v] = out[dim].get(v, 0) + c
    return out


def _ewma(mean: float, var: float, x: float, alpha: float) -> tuple[float, float]:
    d = x - mean
    return mean + alpha * d, (1 - alpha) * (var + alpha * d * d)


def aws_key(api: str, meta: dict) -> dict[str, str]:
    """The `aws` correlation entity ({account}|{service}|{region}) a cost anomaly of the same service,
    account and region also carries (anomaly_guardian.cost)."""
    key = aws_entity(meta.get("accountId"), api.split(":", 1)[0], meta.get("awsRegion"))
    return {"aws": key} if key else {}


def priced(finding: Finding, estimate: CostEstimate | None) -> Finding:
    """Attach a dollar estimate: anomaly field `costEstimate`, an explanation entry, the description."""
    if estimate is None:
        return finding
    finding.description = f"{finding.description} ({estimate.text})"
    finding.explanation.append(
        Explanation(
            feature="costEstimate",
            observed=estimate.hourly,
            expected=0,
            detail=f"{estimate.text}; {estimate.basis} ({estimate.source}, prices as of {estimate.asOf})",
        )
    )
    finding.extra["costEstimate"] = estimate.as_dict()
    return finding


class UsageDetector:
    name = "usage"
    judges_usage = True

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        if ev.event.eventType != EVENT_TYPE:
            return ()
        meta = ev.event.metadata or {}
        keys = [
            state_key(ev.tenant, KIND, f"api|{meta.get('api', 'unknown')}"),
            state_key(ev.tenant, KIND, "_meta"),
            state_key(ev.tenant, KIND, f"prin|{ev.user}"),
        ]
        if meta.get("gpu"):
            keys.append(state_key(ev.tenant, KIND, f"gpu|{ev.user}"))
        return keys

    def detect(self, ev: PreparedEvent, states: dict[str, StateItem], config: DetectionConfig) -> list[Finding]:
        if ev.event.eventType != EVENT_TYPE:
            return []
        cfg = config.usage
        meta = ev.event.metadata or {}
        api = str(meta.get("api", "unknown"))
        count = int(meta.get("count") or 1)
        tenant_meta = states[state_key(ev.tenant, KIND, "_meta")].state
        first_seen = tenant_meta["t0"] = min(tenant_meta.get("t0", ev.epoch), ev.epoch)
        warmed = ev.epoch - first_seen >= cfg.warmup_hours * 3600
        findings: list[Finding] = []
        bucket = int(ev.epoch // cfg.bucket_seconds)
        rewind = max(1, int(cfg.rewind_hours * 3600 // cfg.bucket_seconds))
        principal = self._principal_tally(
            states[state_key(ev.tenant, KIND, f"prin|{ev.user}")].state, bucket, ev, meta, rewind
        )
        spike = self._count(
            states[state_key(ev.tenant, KIND, f"api|{api}")].state, ev, count, meta, cfg, warmed, principal
        )
        if spike is not None:
            findings.append(spike)
        if meta.get("gpu"):
            gpu = states[state_key(ev.tenant, KIND, f"gpu|{ev.user}")].state
            if not gpu.get("seen"):
                gpu["seen"] = ev.epoch
                if warmed:
                    estimate = estimate_usage(api, meta, count, cfg.bucket_seconds)
                    findings.append(
                        priced(
                            Finding(
                                AnomalyType.USAGE,
                                0.85,
                                f"First GPU instance launch ({api.rsplit(':', 1)[-1]}) by this principal",
                                [
                                    Explanation(
                                        feature="gpuLaunchesByPrincipal",
                                        observed=count,
                                        expected=0,
                                        detail="no GPU launch by this principal before",
                                    )
                                ],
                                detector=self.name,
                                entities={
                                    "api": api,
                                    "principal": ev.user,
                                    "userId": ev.event.userId,
                                    **aws_key(api, meta),
                                },
                                extra={"usage": gpu_context(ev, meta, api, count, principal)},
                            ),
                            estimate,
                        )
                    )
        return findings

    @staticmethod
    def _principal_tally(st: dict, bucket: int, ev: PreparedEvent, meta: dict, rewind: int) -> dict:
        """This principal's APIs, regions and errors over its current and previous bucket."""
        if not st or bucket > st.get("b", -1) or bucket < st["b"] - rewind:
            previous = st.get("g") if st and bucket == st.get("b", -2) + 1 else None
            st.clear()
            st.update(b=bucket, g={}, p=previous or {})
        for dim, source in PRINCIPAL_DIMENSIONS.items():
            _tally(st["g"], dim, _value(ev, meta, source))
        return st

    @staticmethod
    def _count(
        st: dict, ev: PreparedEvent, count: int, meta: dict, cfg, warmed: bool, principal: dict | None = None
    ) -> Finding | None:
        bucket = int(ev.epoch // cfg.bucket_seconds)
        if st and bucket < st["b"] - max(1, int(cfg.rewind_hours * 3600 // cfg.bucket_seconds)):
            st.clear()
            st["w"] = ev.epoch  # a backfill: this key's history starts again here
        if "b" not in st:
            st.update(b=bucket, c=0, m=0.0, v=0.0, s={}, a=-1)
        if bucket > st["b"]:
            UsageDetector._close(st, bucket, cfg.bucket_seconds)
        st["c"] += count  # a late event (bucket < current, within rewind_hours) counts toward the open bucket
        if "w" in st and ev.epoch - st["w"] < cfg.warmup_hours * 3600:
            warmed = False
        groups = st.setdefault("g", {})
        for dim, source in KEY_DIMENSIONS.items():
            _tally(groups, dim, _value(ev, meta, source), count if dim == "principals" else 1)
        if st["a"] == st["b"] or not warmed:
            return None
        slot = st["s"].get(str(int(st["b"] * cfg.bucket_seconds // 3600) % 24))
        expected = slot[0] if slot and slot[1] >= 3 else st["m"]
        variance = max(st["v"], expected) + 1.0
        observed = st["c"]
        z = (observed - expected) / math.sqrt(variance)
        if meta.get("sensitive") or meta.get("gpu"):
            floor = cfg.sensitive_min_count
        elif meta.get("readOnly"):
            floor = cfg.readonly_min_count
        else:
            floor = cfg.min_count
        if observed < floor or observed < cfg.min_ratio * max(expected, 1e-9) or z < cfg.z_threshold:
            return None
        st["a"] = st["b"]
        ratio = observed / max(expected, 1.0)
        score = min(1.0, 0.6 + 0.4 * min(1.0, math.log(ratio) / math.log(50)))
        api = str(meta.get("api"))
        estimate = estimate_usage(
            api,
            meta,
            observed - expected,
            cfg.bucket_seconds,
            lambda_memory_mb=cfg.lambda_typical_memory_mb,
            lambda_duration_ms=cfg.lambda_typical_duration_ms,
        )
        context = usage_context(st, ev, meta, api, observed, expected, cfg.bucket_seconds, principal)
        finding = Finding(
            AnomalyType.USAGE,
            score,
            f"{api}: {observed} calls in {cfg.bucket_seconds // 60} min against about {expected:.1f} expected"
            f" (mostly {context['principal']['arn']})",
            [
                Explanation(
                    feature="apiCallsPerBucket",
                    observed=observed,
                    expected=round(expected, 2),
                    detail=f"z={z:.1f}, bucket={cfg.bucket_seconds}s",
                )
            ],
            detector="usage",
            entities={"api": api, "userId": context["principal"]["arn"], **aws_key(api, meta)},
            extra={"usage": context},
        )
        return priced(finding, estimate)

    @staticmethod
    def _close(st: dict, bucket: int, bucket_seconds: int) -> None:
        """Fold the finished bucket (and the empty ones since) into the baselines."""
        closed, count = st["b"], float(st["c"])
        slot_id = str(int(closed * bucket_seconds // 3600) % 24)
        mean, n = st["s"].get(slot_id, (count, 0))
        st["s"][slot_id] = [mean + SLOT_ALPHA * (count - mean) if n else count, n + 1]
        m, v = _ewma(st["m"], st["v"], count, ALPHA)
        for _ in range(min(bucket - closed - 1, MAX_ZERO_FILL)):
            m, v = _ewma(m, v, 0.0, ALPHA)
        st.update(b=bucket, c=0, m=m, v=v, g={})


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def usage_context(
    st: dict,
    ev: PreparedEvent,
    meta: dict,
    api: str,
    observed: float,
    expected: float,
    bucket_seconds: int,
    principal: dict | None,
) -> dict:
    """The structured enrichment of a spike (`anomaly.usage`): who, where, what, expected vs observed.

    Other parts add their own keys to this dict (the cost estimate, the alert's links); readers must
    ignore keys they do not know.
    """
    groups = st.get("g") or {}
    principals = top(groups.get("principals"), 1)
    arn = principals[0]["value"] if principals and principals[0]["value"] != OTHER else ev.event.userId
    same = arn == ev.event.userId
    start = st["b"] * bucket_seconds
    prin_groups = _merge((principal or {}).get("p"), (principal or {}).get("g")) if same else {}
    return {
        "api": api,
        "principal": {
            "arn": arn,
            "type": meta.get("principalType") if same else None,
            "accessKeyId": meta.get("accessKeyId") if same else None,
            "sessionIssuer": meta.get("sessionIssuer") if same else None,
        },
        "accountId": meta.get("accountId"),
        "region": meta.get("awsRegion"),
        "window": {"start": _iso(start), "end": _iso(start + bucket_seconds)},
        "observed": observed,
        "expected": round(expected, 2),
        "top": {dim: top(groups.get(dim)) for dim in KEY_DIMENSIONS},
        "principalActivity": {dim: top(prin_groups.get(dim)) for dim in PRINCIPAL_DIMENSIONS},
    }


def gpu_context(ev: PreparedEvent, meta: dict, api: str, count: int, principal: dict | None = None) -> dict:
    """A first GPU launch: the call itself, and what this principal did over its last two buckets."""
    activity = _merge((principal or {}).get("p"), (principal or {}).get("g"))
    return {
        "api": api,
        "principal": {
            "arn": ev.event.userId,
            "type": meta.get("principalType"),
            "accessKeyId": meta.get("accessKeyId"),
            "sessionIssuer": meta.get("sessionIssuer"),
        },
        "accountId": meta.get("accountId"),
        "region": meta.get("awsRegion"),
        "window": {"start": _iso(ev.epoch), "end": _iso(ev.epoch + 1)},
        "observed": count,
        "expected": 0,
        "top": {
            "sourceIps": [{"value": ev.event.ipAddress, "count": 1}] if ev.event.ipAddress else [],
            "userAgents": [{"value": ev.event.userAgent, "count": 1}] if ev.event.userAgent else [],
            "resources": [{"value": meta["resource"], "count": count}] if meta.get("resource") else [],
            "regions": top(activity.get("regions")),
            "errorCodes": top(activity.get("errorCodes")),
        },
        "principalActivity": {dim: top(activity.get(dim)) for dim in PRINCIPAL_DIMENSIONS},
    }
