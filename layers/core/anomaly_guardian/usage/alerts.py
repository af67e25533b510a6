"""The enriched usage alert: what on-call needs to act on a usage anomaly without opening five consoles.

`alert_context(anomaly, links)` returns the additions to the alert message for a usage anomaly: the
anomaly's structured `usage` enrichment (readable principal ARN, access key id, session issuer, account,
region, the calls behind the spike: top APIs, resources, regions, error codes, source IPs, user agents,
expected vs observed), links (CloudTrail event history filtered to the principal and window, the same
lookup as an AWS CLI command, the OpenSearch dashboard of the service over the window) and the signed
one-click actions (mark false positive, snooze the pattern N hours). `text_summary` renders it for
e-mail/SMS subscribers. Pure: the link base URLs and the signing key come from the caller.

What goes where: principals, access key ids and source IPs of CloudTrail calls are IAM identities and
AWS-side addresses, not end users' data; they go to the alert (SNS, KMS-encrypted, to on-call) and the
anomaly record, never to the functions' logs (which carry anomaly ids and counts only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from anomaly_guardian.auth.action_links import sign

SNOOZE_HOURS = (4, 24)
DASHBOARDS = {"ec2": "guardian-ec2-usage", "lambda": "guardian-lambda-usage"}


@dataclass
class LinkSettings:
    api_url: str | Callable[[], str] | None = None  # https://<api>/<stage> (or its loader): where action links point
    dashboards_url: str | None = None  # https://<domain>/_dashboards
    key: bytes | Callable[[], bytes] | None = None  # action-link key, or its loader (auth.action_links.link_key)
    ttl_hours: float = 72
    snooze_hours: tuple[int, ...] = field(default=SNOOZE_HOURS)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def event_history_links(usage: Mapping[str, Any]) -> dict[str, str]:
    """CloudTrail event history filtered to the principal over the window (+/- 15 minutes)."""
    principal = usage.get("principal") or {}
    region = usage.get("region") or "us-east-1"
    window = usage.get("window") or {}
    start = _when(window["start"]) - timedelta(minutes=15) if window.get("start") else None
    end = _when(window["end"]) + timedelta(minutes=15) if window.get("end") else None
    if principal.get("accessKeyId"):
        attr, value = "AccessKeyId", principal["accessKeyId"]
    elif principal.get("arn"):  # user name or role session name: the last path segment of the ARN
        attr, value = "Username", str(principal["arn"]).rsplit("/", 1)[-1]
    else:
        return {}
    query = {attr: value} | ({"StartTime": _iso(start), "EndTime": _iso(end)} if start and end else {})
    console = f"https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}#/events?{urlencode(query)}"
    cli = (
        f"aws cloudtrail lookup-events --region {region} "
        f"--lookup-attributes AttributeKey={attr},AttributeValue={value}"
        + (f" --start-time {_iso(start)} --end-time {_iso(end)}" if start and end else "")
    )
    return {"cloudTrailEventHistory": console, "cloudTrailLookupCli": cli}


def dashboard_link(usage: Mapping[str, Any], dashboards_url: str | None) -> str | None:
    if not dashboards_url:
        return None
    api = str(usage.get("api", ""))
    board = (
        DASHBOARDS["lambda"]
        if api.startswith("lambda:")
        else "guardian-ebs-usage"
        if "CreateVolume" in api
        else DASHBOARDS["ec2"]
    )
    window = usage.get("window") or {}
    if window.get("start") and window.get("end"):
        start = _iso(_when(window["start"]) - timedelta(hours=6))
        g = f"(time:(from:'{start}',to:'{window['end']}'))"
        return f"{dashboards_url.rstrip('/')}/app/dashboards#/view/{board}?_g={quote(g, safe='():,')}"
    return f"{dashboards_url.rstrip('/')}/app/dashboards#/view/{board}"


def action_links(anomaly: Mapping[str, Any], links: LinkSettings, now: float | None = None) -> dict[str, str]:
    if not links.api_url or links.key is None:
        return {}
    try:  # links are best effort: the alert goes out without them rather than not at all
        if callable(links.key):
            links.key = links.key()
        if callable(links.api_url):
            links.api_url = links.api_url()
    except Exception:  # SSM unreachable or parameter missing
        return {}
    tenant, aid = str(anomaly["tenantId"]), str(anomaly["anomalyId"])
    base = f"{links.api_url.rstrip('/')}/alert-actions/"
    out = {"falsePositive": base + sign(links.key, tenant, aid, "false_positive", ttl_hours=links.ttl_hours, now=now)}
    for hours in links.snooze_hours:
        out[f"snooze{hours}h"] = base + sign(
            links.key, tenant, aid, "snooze", hours, ttl_hours=links.ttl_hours, now=now
        )
    return out


def alert_context(anomaly: Mapping[str, Any], links: LinkSettings, now: float | None = None) -> dict[str, Any]:
    """The additions to a usage anomaly's alert message ({} for other anomaly types)."""
    usage = anomaly.get("usage")
    if anomaly.get("anomalyType") != "usage" or not isinstance(usage, Mapping):
        return {}
    out: dict[str, Any] = {"usage": dict(usage)}
    refs = event_history_links(usage)
    dash = dashboard_link(usage, links.dashboards_url)
    if dash:
        refs["dashboard"] = dash
    out["links"] = refs
    actions = action_links(anomaly, links, now)
    if actions:
        out["actions"] = actions
    out["text"] = text_summary(anomaly, out)
    return out


def _top(items: Any, n: int = 3) -> str:
    return ", ".join(f"{i['value']} ({i['count']})" for i in (items or [])[:n]) or "-"


def text_summary(anomaly: Mapping[str, Any], ctx: Mapping[str, Any]) -> str:
    u = ctx["usage"]
    p = u.get("principal") or {}
    top = u.get("top") or {}
    activity = u.get("principalActivity") or {}
    lines = [
        f"{anomaly.get('severity')} usage anomaly: {anomaly.get('description')}",
        f"Who:      {p.get('arn')} ({p.get('type') or 'principal'})"
        + (f", access key {p['accessKeyId']}" if p.get("accessKeyId") else "")
        + (f", session issuer {p['sessionIssuer']}" if p.get("sessionIssuer") else ""),
        f"Where:    account {u.get('accountId')}, region {u.get('region')}; regions {_top(top.get('regions'))}",
        f"When:     {u.get('window', {}).get('start')} .. {u.get('window', {}).get('end')}",
        f"Volume:   {u.get('observed')} calls against about {u.get('expected')} expected",
        f"From:     {_top(top.get('sourceIps'))}; agents {_top(top.get('userAgents'), 2)}",
        f"Calls:    {_top(activity.get('apis'), 5)}",
        f"Targets:  {_top(top.get('resources'))}",
        f"Errors:   {_top(top.get('errorCodes'))}",
    ]
    estimate = anomaly.get("costEstimate")
    if isinstance(estimate, Mapping) and estimate.get("text"):
        lines.append(f"Cost:     {estimate['text']}")
    links = ctx.get("links") or {}
    if links.get("cloudTrailEventHistory"):
        lines.append(f"CloudTrail: {links['cloudTrailEventHistory']}")
    if links.get("cloudTrailLookupCli"):
        lines.append(f"  or: {links['cloudTrailLookupCli']}")
    if links.get("dashboard"):
        lines.append(f"Dashboard: {links['dashboard']}")
    for name, url in (ctx.get("actions") or {}).items():
        label = "Mark false positive" if name == "falsePositive" else f"Snooze {name.removeprefix('snooze')}"
        lines.append(f"{label}: {url}")
    return "\n".join(lines)
