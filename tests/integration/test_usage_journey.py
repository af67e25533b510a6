"""The demo's usage path over the local stack: a generated CloudTrail trail (daily cycle, then a Lambda
loop and a leaked key launching GPU instances) sent to the local CloudTrail log group is delivered by
the subscription to usage_ingest, both episodes become usage anomalies of the account's tenant with no
false alarm, the enriched alert is printed, and a signed one-click snooze works without a sign-in."""

from __future__ import annotations

import os
from pathlib import Path

ARTIFACTS = Path(
    os.environ.get("USAGE_ARTIFACTS", Path(__file__).resolve().parents[2] / "build" / "artifacts" / "usage")
)


def test_cloudtrail_through_the_log_group_to_the_enriched_alert(local_stack, tmp_path, capsys):
    from anomaly_guardian.local.demo_usage import run_usage_demo

    ok = run_usage_demo(local_stack, local_stack.api, tmp_path, timeout=240)
    out = capsys.readouterr().out
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "usage-demo.txt").write_text(out)  # what `make demo` prints for the usage path
    assert ok, out
    assert "lambda_loop: detected" in out and "leaked_key: detected" in out
    assert "| Who:      arn:aws:iam::123456789012:user/deploy-bot-" in out  # the readable principal
    assert "access key AKIA" in out and "CloudTrail: https://" in out and "Snooze 4h: http" in out
    assert "POST 200 (pattern silenced)" in out
    # every alert printed says what the spike costs, from the bundled price table
    alerts = out.count("---- the alert on-call receives")
    costs = [line for line in out.splitlines() if line.strip().startswith("| Cost:")]
    assert alerts == 2 and len(costs) == alerts, out
    assert all("about $" in c and "per hour" in c and "if it runs 24 h" in c for c in costs), costs
    assert (tmp_path / "demo-cloudtrail.jsonl").stat().st_size > 0
