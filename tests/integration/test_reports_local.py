"""On the local stack, after a demo-like stream through POST /events: `guardian report daily` writes the JSON
and HTML to the emulated reports bucket; its counts agree with GET /anomalies and the detector's counters;
and the HTML, opened in a real headless browser (Debian's chromium via selenium), renders its charts.
The report's JSON, HTML and screenshot go to build/artifacts/reports/ (gitignored; CI uploads them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from local_helpers import wait_for

from anomaly_guardian.scenario.generator import generate

TENANT = "reports-it"
ARTIFACTS = Path(
    os.environ.get("REPORT_ARTIFACTS", Path(__file__).resolve().parents[2] / "build" / "artifacts" / "reports")
)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


def aws(stack, service):
    return boto3.client(
        service,
        endpoint_url=stack.aws_endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def counted_events(stack, day):
    audit = stack.info["tables"]["AuditTable"]
    items = aws(stack, "dynamodb").query(
        TableName=audit,
        KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
        ExpressionAttributeValues={":p": {"S": f"T#{TENANT}"}, ":c": {"S": f"CNT#{day:%Y%m%d}"}},
    )["Items"]
    return sum(int(i.get("events", {}).get("N", 0)) for i in items), sum(
        int(i.get("anomalies", {}).get("N", 0)) for i in items
    )


def all_anomalies(api, day):
    out, token = [], None
    while True:
        params = {"fromDate": f"{day:%Y-%m-%d}T00:00:00Z", "toDate": f"{day:%Y-%m-%d}T23:59:59.999Z", "limit": "1000"}
        if token:
            params["nextToken"] = token
        resp = api("GET", "/anomalies", tenant=TENANT, params=params)
        assert resp.status_code == 200, f"GET /anomalies {params}: {resp.status_code} {resp.text[:500]}"
        body = resp.json()
        out += body["anomalies"]
        token = body["pagination"]["nextToken"]
        if not token:
            return out


def looks_blank(png: Path) -> bool:
    from PIL import Image

    img = Image.open(png).convert("RGB")
    colours = img.resize((160, 200)).getcolors(maxcolors=160 * 200)  # [(count, (r, g, b)), ...]
    total = sum(n for n, _ in colours)
    non_white = sum(n for n, rgb in colours if sum(rgb) < 720)
    return len(colours) <= 20 or non_white / total <= 0.03


@pytest.fixture(scope="module")
def streamed(local_stack, api):
    """A demo-like labelled stream (the demo's generator) plus a velocity burst, all through POST /events."""
    events = generate(3000, seed=11).events
    burst_at = datetime.now(UTC) - timedelta(minutes=3)
    events += [
        {
            "eventId": f"burst-{i}",
            "userId": "bot-7",
            "timestamp": (burst_at + timedelta(seconds=i)).isoformat().replace("+00:00", "Z"),
            "eventType": "api_request",
            "ipAddress": "198.51.100.77",
        }
        for i in range(150)
    ]
    accepted = 0
    for start in range(0, len(events), 500):
        resp = api("POST", "/events", tenant=TENANT, json={"events": events[start : start + 500]})
        # a batch naming a user the response side has blocked meanwhile is refused whole (403)
        assert resp.status_code in (202, 403), resp.text
        accepted += resp.json().get("accepted", 0) if resp.status_code == 202 else 0
    assert accepted >= 1000
    day = datetime.now(UTC).date()
    assert wait_for(lambda: counted_events(local_stack, day)[0] >= accepted, timeout=240, interval=1.0)
    # the response side (actions on the anomalies) settles
    wait_for(lambda: local_stack.stats().get("kinesis_caught_up"), timeout=60, interval=1.0)
    return {"accepted": accepted, "day": day}


def test_guardian_report_daily_writes_json_and_html_whose_counts_agree(local_stack, api, token_for, streamed, tmp_path):
    day = streamed["day"]
    before = all_anomalies(api, day)
    html_path = tmp_path / "daily.html"
    env = os.environ | {"GUARDIAN_TOKEN": token_for(TENANT)}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "anomaly_guardian.cli",
            "report",
            "daily",
            "--date",
            day.isoformat(),
            "--api",
            local_stack.api,
            "--html",
            str(html_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    after = all_anomalies(api, day)

    # JSON and HTML are in the emulated reports bucket
    s3 = aws(local_stack, "s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "reportsbucket" in b["Name"])
    key = f"reports/{TENANT}/daily/{day.isoformat()}"
    stored = json.loads(s3.get_object(Bucket=bucket, Key=f"{key}.json")["Body"].read())
    html = s3.get_object(Bucket=bucket, Key=f"{key}.html")["Body"].read().decode()
    assert stored["summary"] == printed["summary"] and html_path.read_text() == html

    # counts agree with GET /anomalies and the detector's counters
    events, counted_anomalies = counted_events(local_stack, day)
    summary = stored["summary"]
    assert summary["total_events_processed"] == events == streamed["accepted"]
    assert len(before) == summary["anomalies_detected"] == len(after) == counted_anomalies
    assert summary["anomalies_detected"] >= 1
    acted = lambda items: sum(len(a.get("actionsPerformed") or []) for a in items)  # noqa: E731
    assert acted(before) <= summary["actions_performed"] <= acted(after)
    assert {t for t in stored["by_type"]} == {a["anomalyType"] for a in after}
    assert "velocity" in stored["by_type"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "daily.json").write_text(json.dumps(stored, indent=2))
    (ARTIFACTS / "daily.html").write_text(html)
    (ARTIFACTS / "counts.json").write_text(
        json.dumps(
            {
                "accepted": streamed["accepted"],
                "counter_events": events,
                "counter_anomalies": counted_anomalies,
                "get_anomalies_before": len(before),
                "get_anomalies_after": len(after),
                "report": {
                    k: summary[k] for k in ("total_events_processed", "anomalies_detected", "actions_performed")
                },
                "by_type": stored["by_type"],
            },
            indent=2,
        )
    )


def test_the_report_html_renders_in_headless_chromium(local_stack, api, token_for, streamed, tmp_path):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f"{CHROMIUM} / {CHROMEDRIVER} missing: run `make browser-deps` (Debian chromium, chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    day = streamed["day"]
    html_path = tmp_path / "daily.html"
    env = os.environ | {"GUARDIAN_TOKEN": token_for(TENANT)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "anomaly_guardian.cli",
            "report",
            "daily",
            "--date",
            day.isoformat(),
            "--api",
            local_stack.api,
            "--html",
            str(html_path),
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--no-first-run",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.get(html_path.as_uri())
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shot = Path(os.environ.get("REPORT_SCREENSHOT", ARTIFACTS / "daily.png"))
        driver.save_screenshot(str(shot))
        charts = driver.find_elements(By.CSS_SELECTOR, "svg rect")
        bars = [c for c in charts if float(c.get_attribute("width") or 0) > 0 and c.is_displayed()]
        title = driver.find_element(By.TAG_NAME, "h1").text
        cards = driver.find_elements(By.CSS_SELECTOR, ".card .v")
        assert title.startswith("Anomaly Guardian daily report") and TENANT in title
        assert len(cards) >= 8 and cards[1].text.replace(",", "").isdigit()
        assert len(bars) >= 3  # severity, type and hour-of-day charts drew bars
        driver.get("about:blank")
        blank = tmp_path / "blank.png"
        driver.save_screenshot(str(blank))
    finally:
        driver.quit()
    # not a blank page: the screenshot has many distinct colours and a good share of non-white pixels,
    # and the same check does call a blank page blank
    assert not looks_blank(shot)
    assert looks_blank(blank)


def test_a_usage_spike_alert_says_what_it_costs(local_stack, api, token_for, tmp_path):
    """CloudTrail (guardian cloudtrail send) -> usage_ingest -> detector -> response: the usage anomalies
    carry the dollar estimate and the notify step's alert subject says it. The local stack runs with
    RESPONSE_DRY_RUN, so the alert is recorded in the audit trail as what it would have published (the
    live SNS message is checked against moto in tests/functions/test_actions.py)."""
    from anomaly_guardian.scenario.gpu_spike import gpu_spike_records

    trail = tmp_path / "trail.jsonl"
    trail.write_text("\n".join(json.dumps(r) for r in gpu_spike_records(prefix="it-gpu")) + "\n")
    group = sorted(set(local_stack.info["log_groups"].values()))[0]
    sent = subprocess.run(
        [
            sys.executable,
            "-m",
            "anomaly_guardian.cli",
            "cloudtrail",
            "send",
            str(trail),
            "--endpoint-url",
            local_stack.aws_endpoint_url,
            "--log-group",
            group,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert sent.returncode == 0, sent.stderr
    usage_tenant = "platform"  # sam/template.yaml UsageTenantId default
    ddb = aws(local_stack, "dynamodb")
    audit = local_stack.info["tables"]["AuditTable"]

    def notify_records():
        items = ddb.query(
            TableName=audit,
            KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
            ExpressionAttributeValues={":p": {"S": f"T#{usage_tenant}"}, ":a": {"S": "AU#"}},
        )["Items"]
        subjects = [i.get("detail", {}).get("M", {}).get("subject", {}).get("S", "") for i in items]
        return [s for s in subjects if "per hour" in s]

    subjects = wait_for(notify_records, timeout=90, interval=0.5)
    assert subjects and all(s.startswith("[") and "if it runs 24 h" in s for s in subjects), subjects

    def priced_usage():
        usage = api("GET", "/anomalies", tenant=usage_tenant, params={"anomalyType": "usage"}).json()["anomalies"]
        return [a for a in usage if a.get("costEstimate")]

    # Other journeys share the account's usage tenant (e.g. a first-GPU alert): wait for this spike itself.
    spike = wait_for(lambda: next((a for a in priced_usage() if "calls in" in a["description"]), None), timeout=90)
    priced = priced_usage()
    assert spike and all(a["costEstimate"]["text"] in a["description"] for a in priced)
    assert spike["costEstimate"]["unit"] == "instances"
    assert spike["costEstimate"]["hourly"] == pytest.approx(spike["costEstimate"]["quantity"] * 32.7726, rel=1e-3)
    text = spike["costEstimate"]["text"]
    assert wait_for(lambda: any(text in s for s in notify_records()), timeout=60, interval=0.5)
