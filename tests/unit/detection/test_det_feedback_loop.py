"""The feedback loop without AWS: which anomalies a suppression may silence, the batch applying it
(one lookup, only when there are anomalies; suppressed ones neither stored nor responded to), the
lookup cache, and enhanced monitoring's scaled thresholds in the pipeline."""

from __future__ import annotations

import base64
import json

import pytest

from anomaly_guardian.adapters.feedback_loop import KeyCache, MonitoringLookup, SuppressionLookup
from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.base import Finding
from anomaly_guardian.detection.batch import BatchDetector, InMemoryAnomalySink, InMemoryDedupe, ListPoisonSink
from anomaly_guardian.detection.behavioral import BehavioralDetector
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.detection.sensitivity import scaled_config
from anomaly_guardian.detection.suppression import SuppressionPolicy, pattern_of, split, suppressible, suppression_sk
from anomaly_guardian.detection.velocity import VelocityDetector
from anomaly_guardian.models.anomaly import Anomaly, AnomalyType, severity_for
from anomaly_guardian.privacy import Pseudonymiser
from anomaly_guardian.state.store import InMemoryStateStore

POLICY = SuppressionPolicy()


def anomaly(kind="velocity", score=0.75, user="u-pseudo", amount=None, **extra):
    event = {"eventId": "e1", "timestamp": "2026-03-01T12:00:00Z", "eventType": "transaction"}
    if amount is not None:
        event["transactionAmount"] = amount
    return Anomaly(
        tenantId="acme",
        severity=severity_for(score),
        anomalyScore=score,
        userId=user,
        anomalyType=kind,
        description="d",
        originalEvent=event,
        **extra,
    )


class TestSuppressionDecision:
    def test_patterns_name_the_entity_of_each_type(self):
        assert pattern_of(anomaly()) == ("velocity", "u-pseudo")
        assert pattern_of(anomaly("system", user="checkout|latency_ms")) == ("system", "checkout|latency_ms")
        usage = anomaly("usage", user="fn-a", entities={"api": "lambda:Invoke"})
        assert pattern_of(usage) == ("usage", "lambda:Invoke|fn-a")
        assert pattern_of(usage.model_dump(mode="json")) == ("usage", "lambda:Invoke|fn-a")  # stored form
        assert suppression_sk(("velocity", "u1")) == "SUPPRESS#velocity#u1"

    @pytest.mark.parametrize(
        ("a", "allowed"),
        [
            (anomaly(score=0.75), True),
            (anomaly(score=0.89), True),
            (anomaly(score=0.9), False),  # CRITICAL
            (anomaly("rule", score=0.6), False),  # a tenant's explicit rule
            (anomaly("value", score=0.8, amount=5000.01), False),  # above the absolute limit
            (anomaly("value", score=0.8, amount=900.0), True),  # statistical value finding
        ],
    )
    def test_only_statistical_findings_below_the_cap_can_be_suppressed(self, a, allowed):
        assert suppressible(a, POLICY) is allowed

    def test_the_cap_is_configurable_and_checked(self):
        assert not suppressible(anomaly(score=0.7), SuppressionPolicy(max_score=0.7))
        with pytest.raises(ValueError, match="max_score"):
            SuppressionPolicy(max_score=0)

    def test_split_drops_only_suppressible_anomalies_of_active_patterns(self):
        keep_other_user = anomaly(user="other")
        keep_critical = anomaly(score=0.95)
        drop = anomaly()
        kept, dropped = split([keep_other_user, keep_critical, drop], {("velocity", "u-pseudo")}, POLICY)
        assert kept == [keep_other_user, keep_critical] and dropped == [drop]


# ---- the batch ---------------------------------------------------------------------------------------


class Flagger:
    name = "flagger"

    def state_keys(self, pe):
        return ()

    def detect(self, pe, states, config):
        amount = pe.event.transactionAmount or 0
        return [Finding(AnomalyType.VALUE, 0.8, "odd", detector=self.name)] if amount > 1000 else []


class FakeSuppressions:
    def __init__(self, active=()):
        self.patterns = set(active)
        self.calls: list[set] = []

    def active(self, tenant, patterns):
        self.calls.append(set(patterns))
        return self.patterns & set(patterns)


def record(seq, user, amount, tenant="acme"):
    event = {"eventId": f"e{seq}", "userId": user, "timestamp": "2026-03-01T12:00:00Z"}
    event |= {"eventType": "transaction", "transactionAmount": amount}
    data = json.dumps({"tenantId": tenant, "receivedAt": "2026-03-01T12:00:01Z", "event": event}).encode()
    return {"kinesis": {"sequenceNumber": str(seq), "data": base64.b64encode(data).decode()}, "eventID": f"s:{seq}"}


def batch(suppressions):
    sink, dedupe, responded = InMemoryAnomalySink(), InMemoryDedupe(), []
    det = BatchDetector(
        lambda s: DetectionPipeline(s, detectors=[Flagger()], pseudonymiser=Pseudonymiser(b"k")),
        InMemoryStateStore(),
        sink,
        dedupe,
        ListPoisonSink(),
        on_anomalies=[lambda tenant, anomalies, events: responded.extend(anomalies)],
        suppressions=suppressions,
    )
    return det, sink, dedupe, responded


def test_suppressed_anomalies_are_counted_not_stored_and_start_no_response():
    alice = Pseudonymiser(b"k").user("acme", "alice")
    fake = FakeSuppressions({("value", alice)})
    det, sink, dedupe, responded = batch(fake)
    result = det.process([record(1, "alice", 2000), record(2, "bob", 2000), record(3, "alice", 10)])
    assert result.suppressed == 1 and not result.failed
    assert [a.originalEvent["eventId"] for a in sink.items.values()] == ["e2"]
    assert [a.originalEvent["eventId"] for a in responded] == ["e2"]
    assert dedupe.done == {"acme#e1", "acme#e2", "acme#e3"}  # the suppressed event is complete, not pending
    # one lookup for the batch, with only the patterns of its anomalies
    assert fake.calls == [{("value", alice), ("value", Pseudonymiser(b"k").user("acme", "bob"))}]


def test_a_batch_without_anomalies_looks_nothing_up():
    fake = FakeSuppressions()
    det, *_ = batch(fake)
    det.process([record(1, "alice", 10), record(2, "bob", 20)])
    assert fake.calls == []


# ---- cache and fail-open lookups ----------------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_key_cache_reads_missing_keys_once_and_honours_item_expiry():
    clock, reads = Clock(), []
    cache = KeyCache(30, clock)

    def fetch(missing):
        reads.append(set(missing))
        return {"a": (0.5, 1010), "b": (0.7, 0)}

    assert cache.get_many("t", {"a", "b", "c"}, fetch) == {"a": 0.5, "b": 0.7}
    clock.now = 1011  # a's own expiry passed; still within the cache TTL
    assert cache.get_many("t", {"a", "b", "c"}, fetch) == {"b": 0.7}
    assert reads == [{"a", "b", "c"}]  # negatives cached too
    clock.now = 1031  # cache TTL over: read again
    cache.get_many("t", {"c"}, fetch)
    assert reads[-1] == {"c"}
    assert cache.get_many("other", {"c"}, lambda m: {}) == {}  # per tenant


def test_lookups_fail_open():
    class Broken:
        def suppression_expiries(self, tenant, patterns):
            raise RuntimeError("throttled")

        def monitor_flags(self, tenant, users):
            raise RuntimeError("throttled")

    assert SuppressionLookup(Broken(), ttl_seconds=0).active("t", {("velocity", "u")}) == set()
    assert MonitoringLookup(Broken(), ttl_seconds=0).factors("t", {"u"}) == {}


# ---- enhanced monitoring: scaled thresholds ----------------------------------------------------------


def test_scaled_config_lowers_only_user_level_thresholds():
    base = DetectionConfig()
    half = scaled_config(base, 0.5)
    assert half.velocity.max_events_per_user == 50 and half.velocity.max_requests_per_second == 25
    assert half.value.z_threshold == base.value.z_threshold / 2 and half.min_score == 0.25
    assert half.behavioral.score_threshold == 0.3
    assert half.value.absolute_limit == base.value.absolute_limit
    assert half.geolocation == base.geolocation and half.system == base.system
    assert scaled_config(base, 1.0) is base and scaled_config(base, 0.5) is half  # cached


def burst(h, user, n=60):
    return [h.event(i * 3.0, userId=user, eventType="api_request") for i in range(n)]


def test_a_monitored_users_moderate_burst_fires_and_an_unmonitored_users_does_not(harness):
    monitored = Pseudonymiser().user("t1", "mallory")
    asked = []

    def sensitivity(tenant, users):
        asked.append((tenant, set(users)))
        return {monitored: 0.5}

    h = harness([VelocityDetector(), BehavioralDetector()])
    h.pipeline.sensitivity = sensitivity
    # 60 requests in 3 minutes: under the limit of 100, over the monitored limit of 50
    anomalies = h.run(burst(h, "mallory") + burst(h, "bob"))
    assert {a.userId for a in anomalies} == {monitored}
    assert {a.anomalyType for a in anomalies} == {"velocity"}
    assert len(asked) == 1 and len(asked[0][1]) == 2  # one lookup per batch, every user of the batch


def test_without_a_provider_the_same_burst_is_quiet(harness):
    h = harness([VelocityDetector()])
    assert h.run(burst(h, "mallory")) == []
