"""Tenant settings -> rails: kill switch, dry-run (tenant, per action, global), caps."""

from __future__ import annotations

from anomaly_guardian.response.safety import DEFAULT_CAPS, ResponseSettings


def test_defaults_are_live_except_scale():
    s = ResponseSettings.from_item({})
    assert not s.kill_switch
    assert not s.dry_run_for("rate_limit")
    assert s.dry_run_for("scale")
    assert s.cap_for("rate_limit") == DEFAULT_CAPS["rate_limit"]


def test_tenant_settings_override():
    s = ResponseSettings.from_item(
        {"killSwitch": True, "dryRunActions": [], "actionCaps": {"rate_limit": 3}, "dryRun": "false"}
    )
    assert s.kill_switch
    assert not s.dry_run_for("scale")
    assert s.cap_for("rate_limit") == 3


def test_global_dry_run_forces_every_action():
    assert ResponseSettings.from_item({"dryRun": False}, forced_dry_run=True).dry_run_for("notify")
    assert not ResponseSettings.from_item({"dryRun": False}).dry_run_for("notify")


def test_the_response_functions_get_the_global_switch_from_their_settings():
    from anomaly_guardian import wiring
    from anomaly_guardian.settings import ResponseSettings as FunctionSettings

    tables = {
        n: n.lower() for n in ("CONFIG_TABLE", "AUDIT_TABLE", "BLOCKLIST_TABLE", "INCIDENTS_TABLE", "ANOMALIES_TABLE")
    }
    env = tables | {
        "AWS_DEFAULT_REGION": "us-east-1",
        "RESPONSE_DRY_RUN": "true",
        "GUARDIAN_WEBHOOK_ALLOW_LOOPBACK": "1",
        "ENVIRONMENT": "test",  # the loopback switch is refused in a deployed environment
    }
    ports = wiring.response_ports(FunctionSettings.from_env(env))
    assert ports.global_dry_run and ports.allow_loopback
    assert not wiring.response_ports(FunctionSettings.from_env(tables)).global_dry_run


def test_request_can_ask_for_dry_run():
    assert ResponseSettings.from_item({}).dry_run_for("rate_limit", requested=True)
