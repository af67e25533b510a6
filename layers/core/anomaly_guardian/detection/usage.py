"""Usage anomalies: CloudTrail API call counts per API and entity against a seasonal baseline.

Catches a Lambda stuck in a loop (Invoke per function), a burst of CreateVolume, and leaked keys
launching GPU instances. Calls are counted per `metadata.api` (see usage/cloudtrail.py) in buckets
(default 5 min). Each key keeps an hour-of-day baseline (EWMA of bucket counts per UTC hour) and an
overall EWMA mean/variance that also learns from empty buckets. A bucket is a spike when its count is
at least `min_count` (`sensitive_min_count` for compute/credential APIs), `min_ratio` times the
expected count, and `z_threshold` Poisson-style deviations above it; one anomaly per key and bucket.
A principal's first GPU launch is flagged once the tenant's usage history is `warmup_hours` old.
Priceable spikes (RunInstances, CreateVolume, Invoke) carry a dollar estimate (`anomaly_guardian.pricing`):
`costEstimate` on the anomaly, an explanation entry and the description's "about $X per hour".
Hour-of-day slots learn only from buckets that saw calls, which errs towards fewer alarms for rare APIs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

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

    def state_keys(self, ev: PreparedEvent) -> Iterable[str]:
        if ev.event.eventType != EVENT_TYPE:
            return ()
        meta = ev.event.metadata or {}
        keys = [state_key(ev.tenant, KIND, f"api|{meta.get('api', 'unknown')}"), state_key(ev.tenant, KIND, "_meta")]
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
        first_seen = tenant_meta.setdefault("t0", ev.epoch)
        warmed = ev.epoch - first_seen >= cfg.warmup_hours * 3600
        findings: list[Finding] = []
        spike = self._count(states[state_key(ev.tenant, KIND, f"api|{api}")].state, ev, count, meta, cfg, warmed)
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
                                entities={"api": api, "principal": ev.user, **aws_key(api, meta)},
                            ),
                            estimate,
                        )
                    )
        return findings

    @staticmethod
    def _count(st: dict, ev: PreparedEvent, count: int, meta: dict, cfg, warmed: bool) -> Finding | None:
        bucket = int(ev.epoch // cfg.bucket_seconds)
        if not st:
            st.update(b=bucket, c=0, m=0.0, v=0.0, s={}, a=-1)
        if bucket > st["b"]:
            UsageDetector._close(st, bucket, cfg.bucket_seconds)
        st["c"] += count  # a late event (bucket < current) counts toward the open bucket
        if st["a"] == st["b"] or not warmed:
            return None
        slot = st["s"].get(str(int(st["b"] * cfg.bucket_seconds // 3600) % 24))
        expected = slot[0] if slot and slot[1] >= 3 else st["m"]
        variance = max(st["v"], expected) + 1.0
        observed = st["c"]
        z = (observed - expected) / math.sqrt(variance)
        floor = cfg.sensitive_min_count if meta.get("sensitive") or meta.get("gpu") else cfg.min_count
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
        finding = Finding(
            AnomalyType.USAGE,
            score,
            f"{api}: {observed} calls in {cfg.bucket_seconds // 60} min against about {expected:.1f} expected",
            [
                Explanation(
                    feature="apiCallsPerBucket",
                    observed=observed,
                    expected=round(expected, 2),
                    detail=f"z={z:.1f}, bucket={cfg.bucket_seconds}s",
                )
            ],
            detector="usage",
            entities={"api": api, **aws_key(api, meta)},
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
        st.update(b=bucket, c=0, m=m, v=v)
