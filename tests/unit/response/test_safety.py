"""Tenant settings -> rails: kill switch, dry-run (tenant, per action, global), caps."""

from __future__ import annotations

from anomaly_guardian.response.safety import DEFAULT_CAPS, ResponseSettings


def test_defaults_are_live_except_scale(monkeypatch):
    monkeypatch.delenv("RESPONSE_DRY_RUN", raising=False)
    s = ResponseSettings.from_item({})
    assert not s.kill_switch
    assert not s.dry_run_for("rate_limit")
    assert s.dry_run_for("scale")
    assert s.cap_for("rate_limit") == DEFAULT_CAPS["rate_limit"]


def test_tenant_settings_override(monkeypatch):
    monkeypatch.delenv("RESPONSE_DRY_RUN", raising=False)
    s = ResponseSettings.from_item(
        {"killSwitch": True, "dryRunActions": [], "actionCaps": {"rate_limit": 3}, "dryRun": "false"}
    )
    assert s.kill_switch
    assert not s.dry_run_for("scale")
    assert s.cap_for("rate_limit") == 3


def test_global_dry_run_forces_every_action(monkeypatch):
    monkeypatch.setenv("RESPONSE_DRY_RUN", "true")
    assert ResponseSettings.from_item({"dryRun": False}).dry_run_for("notify")


def test_request_can_ask_for_dry_run(monkeypatch):
    monkeypatch.delenv("RESPONSE_DRY_RUN", raising=False)
    assert ResponseSettings.from_item({}).dry_run_for("rate_limit", requested=True)
