"""Built-in rule settings -> DetectionConfig, the pipeline's per-tenant switch, the cached provider."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from anomaly_guardian.adapters.config_repo import TenantConfigProvider
from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.detection.builtin import (
    BUILTINS,
    InvalidSetting,
    Override,
    effective_config,
    parse_update,
    render,
    validate_threshold,
)
from anomaly_guardian.detection.pipeline import DetectionPipeline
from anomaly_guardian.models.event import parse_event
from anomaly_guardian.state.store import InMemoryStateStore


def test_every_builtin_threshold_is_the_config_default_it_sets():
    config = DetectionConfig()
    for rule_id, spec in BUILTINS.items():
        rule = render(rule_id, None)
        assert rule.conditions.threshold == getattr(getattr(config, spec.section), spec.fields[0]), rule_id
        assert rule.enabled and rule.version == 1 and rule.builtIn


def test_overrides_apply_per_section_and_leave_the_rest_default():
    config = effective_config(
        {"velocity-check": Override(threshold=150, version=2), "usage-check": Override(enabled=False, version=2)}
    )
    assert config.velocity.max_events_per_user == 150 and config.velocity.max_events_per_ip == 150
    assert config.usage.enabled is False and config.usage.z_threshold == DetectionConfig().usage.z_threshold
    assert config.value == DetectionConfig().value
    assert effective_config({}) == DetectionConfig()
    # A stored value that no longer validates is ignored, not fatal.
    assert effective_config({"velocity-check": Override(threshold=-1)}).velocity.max_events_per_user == 100


@pytest.mark.parametrize(
    ("rule_id", "value", "ok"),
    [
        ("velocity-check", 150, 150),
        ("velocity-check", 150.0, 150),
        ("velocity-check", 0, None),
        ("behavioral-check", 1, 1.0),
        ("behavioral-check", 0, None),
        ("cost-check", 0.01, 0.01),
        ("cost-check", True, None),
        ("system-check", float("inf"), None),
    ],
)
def test_threshold_bounds(rule_id, value, ok):
    if ok is None:
        with pytest.raises(InvalidSetting):
            validate_threshold(rule_id, value)
    else:
        assert validate_threshold(rule_id, value) == ok


def test_parse_update_takes_only_threshold_and_enabled():
    current = render("velocity-check", None)
    body = current.model_dump(mode="json")
    assert parse_update("velocity-check", {**body, "enabled": False}, current) == (100, False)
    assert parse_update("velocity-check", {"conditions": {"threshold": 120}}, current) == (120, True)
    with pytest.raises(InvalidSetting, match="ruleName"):
        parse_update("velocity-check", {**body, "ruleName": "mine"}, current)


def events(user, n, seconds):
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    return [
        parse_event(
            {
                "eventId": f"{user}-{i}",
                "userId": user,
                "eventType": "login",
                "timestamp": (start + timedelta(seconds=seconds * i / n)).isoformat(),
            }
        )
        for i in range(n)
    ]


def test_pipeline_judges_each_tenant_with_its_config_and_skips_disabled_detectors():
    configs = {
        "tuned": effective_config({"velocity-check": Override(threshold=150)}),
        "off": effective_config({"velocity-check": Override(enabled=False)}),
    }
    store = InMemoryStateStore()
    pipeline = DetectionPipeline(store, config_for=lambda t: configs.get(t, DetectionConfig()))
    found = {t: pipeline.process(t, events("u", 130, 120)) for t in ("tuned", "off", "x")}
    kinds = {t: [a.anomalyType for a in found[t] if a.anomalyType == "velocity"] for t in found}
    assert kinds["tuned"] == [] and kinds["off"] == [] and kinds["x"] == ["velocity"]
    assert not [k for k in store._items if k.startswith("off#velu#")]  # a disabled detector keeps no state
    assert [k for k in store._items if k.startswith("tuned#velu#")]


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_provider_caches_per_tenant_batches_reads_and_fails_open():
    stored = {"a": {"velocity-check": Override(threshold=150)}}
    calls = []

    def loader(tenants):
        calls.append(sorted(tenants))
        if stored is None:
            raise RuntimeError("throttled")
        return {t: stored.get(t, {}) for t in tenants}

    clock = Clock()
    provider = TenantConfigProvider(loader, ttl_seconds=30, clock=clock)
    provider.prefetch(["a", "b"])
    assert provider("a").velocity.max_events_per_user == 150 and provider("b") == DetectionConfig()
    assert calls == [["a", "b"]]
    stored["a"] = {"velocity-check": Override(threshold=200)}
    clock.t = 29
    assert provider("a").velocity.max_events_per_user == 150  # cached
    clock.t = 30
    assert provider("a").velocity.max_events_per_user == 200  # within the TTL of the change
    stored = None
    clock.t = 61
    assert provider("a").velocity.max_events_per_user == 200  # read failed: last known settings
    with pytest.raises(ValueError):
        TenantConfigProvider(loader, ttl_seconds=120)
