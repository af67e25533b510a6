"""ConfigRepository against emulated DynamoDB: settings, per-tenant partitions, the detector's rule loader."""

from __future__ import annotations

import pytest

from anomaly_guardian.adapters.config_repo import ConfigNotFound, ConfigRepository, rule_provider
from anomaly_guardian.detection.rules import RuleSpec

SPEC = RuleSpec(ruleName="big", conditions={"metric": "transactionAmount", "operator": ">", "threshold": 10})


@pytest.fixture
def repo(tables):
    return ConfigRepository("test-config")


def test_settings_are_per_tenant(repo):
    assert repo.get_settings("acme") == {}
    repo.put_settings("acme", {"killSwitch": True, "dryRun": False, "pk": "T#globex"})
    assert repo.get_settings("acme")["killSwitch"] is True
    assert repo.get_settings("globex") == {}  # a `pk` in the settings body cannot redirect the write


def test_rules_live_in_the_tenants_partition_only(repo):
    rule = repo.create_rule("acme", SPEC)
    assert [r.ruleId for r in repo.list_rules("acme")] == [rule.ruleId]
    assert repo.list_rules("globex") == []
    with pytest.raises(ConfigNotFound):
        repo.get_rule("globex", rule.ruleId)
    with pytest.raises(ConfigNotFound):
        repo.replace_rule("globex", rule.ruleId, SPEC)
    assert repo.get_rule("acme", rule.ruleId).version == 1


def test_detector_loader_sees_changes_after_the_cache_ttl(repo):
    provider = rule_provider(ConfigRepository("test-config"), ttl_seconds=0.05)
    assert provider("acme") == []
    rule = repo.create_rule("acme", SPEC)
    import time

    time.sleep(0.06)
    assert [r.ruleId for r in provider("acme")] == [rule.ruleId]
    repo.replace_rule("acme", rule.ruleId, SPEC.model_copy(update={"enabled": False}))
    time.sleep(0.06)
    assert provider("acme") == []
