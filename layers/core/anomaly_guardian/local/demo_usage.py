"""The demo's usage path: a CloudTrail trail through the local log group to the enriched alert.

A generated trail (two days of an account's ordinary calls with a daily cycle, then a Lambda stuck in a
loop and a leaked access key launching GPU instances in several regions) is written as CloudTrail
JSON lines and sent to the stack's CloudTrail log group exactly as `guardian cloudtrail send` does; the
log subscription delivers it to usage_ingest, which puts it on the stream for the detector. The demo then
polls GET /anomalies of the account's tenant until each episode has a usage anomaly, prints the alert
on-call would receive for it (`usage.alerts.alert_context`, the text the notify action publishes), and
clicks one of its signed one-click links (snooze 4 h) through the API without a sign-in token.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import requests

USAGE_TENANT = "platform"  # the template's UsageTenantId default


def say(text: str = "") -> None:
    print(text, flush=True)


def _matches(anomaly: dict[str, Any], episode: Any) -> bool:
    if anomaly.get("anomalyType") != "usage":
        return False
    if anomaly["originalEvent"].get("eventId") in episode.event_ids:
        return True
    return (anomaly.get("entities") or {}).get("api") in episode.apis and str(episode.start.date()) in str(
        anomaly["originalEvent"].get("timestamp", "")
    )


def _drain(stack: Any, until: float) -> None:
    """Wait until the log subscription and the stream have nothing left for the detector."""
    quiet = 0
    while time.time() < until and quiet < 3:
        stats = stack.stats()
        quiet = quiet + 1 if stats.get("kinesis_caught_up") else 0
        time.sleep(1.0)


def run_usage_demo(stack: Any, api: str, out_dir: Path, seed: int = 5, timeout: float = 180.0) -> bool:
    from anomaly_guardian.auth.action_links import link_key
    from anomaly_guardian.auth.keys import load_signing_key
    from anomaly_guardian.auth.tokens import DEFAULT_SCOPES, TokenSettings, sign_token
    from anomaly_guardian.commands.cloudtrail import run_send
    from anomaly_guardian.local.demo import fetch_anomalies
    from anomaly_guardian.scenario.cloudtrail import generate_trail
    from anomaly_guardian.settings import AuthorizerSettings
    from anomaly_guardian.usage.alerts import LinkSettings, alert_context

    say()
    say("Usage path: CloudTrail -> CloudWatch Logs -> usage_ingest -> Kinesis -> detector ...")
    groups = sorted(set((stack.info.get("log_groups") or {}).values()))
    if not groups:
        say("  Usage demo FAILED: the local stack has no CloudTrail log group subscription")
        return False
    trail = generate_trail(seed, 2, "demo", 1, kinds=("lambda_loop", "leaked_key"), max_loop_calls=1500)
    path = out_dir / "demo-cloudtrail.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, separators=(",", ":")) + "\n" for r in trail.records))
    say(
        f"  trail: {len(trail.records):,} CloudTrail records over 2 days (daily cycle, deploys, autoscaling), "
        f"episodes: {', '.join(f'{e.kind} at {e.start:%Y-%m-%d %H:%M}' for e in trail.episodes)} -> {path}"
    )
    trail_ids = {r["eventID"] for r in trail.records}
    sent_at = time.time()
    out = io.StringIO()
    with redirect_stdout(out):
        code = run_send(
            argparse.Namespace(files=[path], endpoint_url=stack.aws_endpoint_url, log_group=groups[0], state_dir=None)
        )
    say(f"  {out.getvalue().strip()} (guardian cloudtrail send)")
    if code != 0:
        say("  Usage demo FAILED: the trail could not be sent")
        return False

    key = load_signing_key(settings=AuthorizerSettings.from_env())
    settings = TokenSettings.from_settings(AuthorizerSettings.from_env(), key)
    token = sign_token(
        key, USAGE_TENANT, scopes=DEFAULT_SCOPES, ttl_seconds=3600, issuer=settings.issuer, audience=settings.audience
    )
    session = requests.Session()
    found: dict[int, dict[str, Any]] = {}
    seen_at: dict[int, float] = {}
    anomalies: list[dict[str, Any]] = []
    deadline = time.time() + timeout
    while time.time() < deadline and len(found) < len(trail.episodes):
        anomalies = [  # this trail's (the account's tenant may hold other usage anomalies)
            a
            for a in fetch_anomalies(session, api, token)
            if a.get("anomalyType") == "usage" and a["originalEvent"].get("eventId") in trail_ids
        ]
        for i, ep in enumerate(trail.episodes):
            hits = sorted((a for a in anomalies if _matches(a, ep)), key=lambda a: a["originalEvent"]["timestamp"])
            if hits and i not in found:
                found[i], seen_at[i] = hits[0], time.time()
        time.sleep(0.5)
    _drain(stack, deadline + 60)  # the rest of the trail: leave the stream caught up for what runs next
    false_alarms = [a for a in anomalies if not any(_matches(a, ep) for ep in trail.episodes)]
    for i, ep in enumerate(trail.episodes):
        if i in found:
            say(f"  {ep.kind}: detected {seen_at[i] - sent_at:.1f} s after the send ({found[i]['description']})")
        else:
            say(f"  {ep.kind}: NOT detected within {timeout:.0f} s")
    say(f"  usage anomalies on this trail: {len(anomalies)}, on no episode: {len(false_alarms)}")
    if not found:
        say("  Usage demo FAILED: no episode detected")
        return False

    links = LinkSettings(api_url=api, dashboards_url=None, key=link_key(key))
    for i in sorted(found):
        ctx = alert_context(found[i], links)
        say()
        say(f"  ---- the alert on-call receives ({trail.episodes[i].kind}) ----")
        for line in ctx["text"].splitlines():
            say(f"  | {line}")
    # One click on a signed link, without a sign-in token: GET confirms, POST (the page's button) applies.
    last = found[max(found)]
    snooze = alert_context(last, links)["actions"]["snooze4h"]
    confirm = session.get(snooze, timeout=30)
    applied = session.post(snooze, timeout=30)
    ok_click = confirm.status_code == 200 and "<form method=post>" in confirm.text and applied.status_code == 200
    say()
    say(
        f"  one-click snooze 4 h (no sign-in): GET {confirm.status_code} (confirmation page), "
        f"POST {applied.status_code} ({'pattern silenced' if ok_click else applied.text[:120]})"
    )
    return len(found) == len(trail.episodes) and not false_alarms and ok_click
