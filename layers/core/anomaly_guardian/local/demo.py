"""`make demo`: a labelled stream through the local stack over HTTP, measured end to end.

1. Start the local stack (moto + real handlers) on free ports.
2. Generate a stream with every anomaly type (`anomaly_guardian.scenario`), split over tenants by
   entity, and POST it to /events in batches of up to 500 with each tenant's bearer token. Sending
   is paced by the stream backlog (the next batch goes when the detector has caught up to within
   `max_backlog` records), like a system running below capacity; the achieved rate is printed.
3. While sending, a watcher polls GET /anomalies (every tenant, paginated, recent window) and notes
   when each anomaly first becomes visible. Latency = that moment minus the moment the POST that
   carried the anomaly's event returned 202 (client clock, both ends; the poll interval is an upper
   bound on the error). detectedAt minus accepted is printed too (server clock, no polling error).
4. Send a few deliberately bad requests and print the API's reasons.
5. Wait for the stream to drain, read all anomalies, print the table and write the HTML report.

Exit status: 0 when every injected type was detected, no accepted event was lost and the p95
visibility latency is within the target; 1 otherwise.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

LATENCY_TARGET_S = 2.0
REQUIRED_FUNCTIONS = frozenset({"AuthorizerFunction", "IngestFunction", "DetectorFunction", "ApiFunction"})


@dataclass
class DemoOptions:
    events: int = 4000
    seed: int = 7
    tenants: tuple[str, ...] = ("acme", "globex", "initech")
    batch: int = 100
    max_backlog: int = 50
    poll_interval: float = 0.25
    drain_timeout: float = 180.0
    report: Path = Path("build/demo-report.html")
    template: Path | None = None
    log_level: str = "ERROR"
    usage: bool = True  # also stream a CloudTrail trail through the local log group (demo_usage)


@dataclass
class Run:
    accepted_at: dict[str, float] = field(default_factory=dict)  # eventId -> when its POST returned 202
    tenant_of_event: dict[str, str] = field(default_factory=dict)
    accepted: int = 0
    rejected: list[tuple[str, int, str]] = field(default_factory=list)
    first_seen: dict[str, float] = field(default_factory=dict)  # anomalyId -> first poll that returned it
    seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    send_started: float = 0.0
    send_finished: float = 0.0


def say(text: str = "") -> None:
    print(text, flush=True)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def tenant_for(event: dict[str, Any], label: tuple[str, str] | None, tenants: tuple[str, ...]) -> str:
    """Whole entities go to one tenant: a user's history, a service's metric, a velocity episode."""
    if label is not None and label[0] == "velocity":
        key = label[1]
    elif event.get("eventType") == "metric":
        key = f"{event.get('service')}#{event.get('metricName')}"
    else:
        key = str(event.get("userId"))
    return tenants[zlib.crc32(key.encode()) % len(tenants)]


class Watcher(threading.Thread):
    """Polls GET /anomalies for one tenant (recent window) and notes when each anomaly first appears."""

    def __init__(self, api: str, token: str, run: Run, interval: float, stop: threading.Event):
        super().__init__(name="demo-watcher", daemon=True)
        self.api, self.token, self.run_data, self.interval, self.stop = api, token, run, interval, stop
        self.session = requests.Session()
        self.errors = 0

    def run(self) -> None:
        while not self.stop.is_set():
            since = datetime.now(UTC) - timedelta(seconds=20)
            try:
                items = fetch_anomalies(self.session, self.api, self.token, since)
                now = time.time()  # when the response was in hand: an upper bound on visibility
                for item in items:
                    if item["anomalyId"] not in self.run_data.first_seen:
                        self.run_data.first_seen[item["anomalyId"]] = now
                        self.run_data.seen[item["anomalyId"]] = item
            except requests.RequestException:
                self.errors += 1
            self.stop.wait(self.interval)


def fetch_anomalies(
    session: requests.Session, api: str, token: str, since: datetime | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {"limit": limit}
    if since is not None:
        params["fromDate"] = since.isoformat().replace("+00:00", "Z")
    out: list[dict[str, Any]] = []
    while True:
        resp = session.get(f"{api}/anomalies", params=params, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if resp.status_code != 200:
            raise requests.HTTPError(f"GET /anomalies -> {resp.status_code}: {resp.text[:200]}")
        body = resp.json()
        out.extend(body["anomalies"])
        token_next = (body.get("pagination") or {}).get("nextToken")
        if not token_next:
            return out
        params["nextToken"] = token_next


def bad_requests(api: str, token: str) -> list[tuple[str, int, str]]:
    """Deliberately bad inputs: each must be refused with a reason a person can act on."""
    good = {"eventId": "bad-demo-ok", "userId": "u1", "timestamp": "2026-03-02T10:00:00Z", "eventType": "login"}
    cases: list[tuple[str, Any, dict[str, str]]] = [
        ("malformed JSON", b'{"eventId": "x", "userId": ', {}),
        ("missing userId", {k: v for k, v in good.items() if k != "userId"}, {}),
        ("transactionAmount is text", {**good, "eventId": "bad-2", "transactionAmount": "lots"}, {}),
        ("timestamp not ISO 8601", {**good, "eventId": "bad-3", "timestamp": "yesterday"}, {}),
        ("tenantId in the body", {**good, "eventId": "bad-4", "tenantId": "globex"}, {}),
        ("batch with one bad event", {"events": [good, {**good, "eventId": "bad-5", "eventType": ""}]}, {}),
        ("no bearer token", good, {"Authorization": ""}),
    ]
    out = []
    for name, body, headers in cases:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers}
        hdrs = {k: v for k, v in hdrs.items() if v}
        resp = requests.post(f"{api}/events", data=data, headers=hdrs, timeout=30)
        try:
            reason = resp.json().get("message") or resp.text
        except ValueError:
            reason = resp.text
        out.append((name, resp.status_code, str(reason)[:160]))
    return out


def run_demo(opts: DemoOptions) -> int:
    from anomaly_guardian.auth.keys import load_signing_key
    from anomaly_guardian.auth.tokens import DEFAULT_SCOPES, TokenSettings, sign_token
    from anomaly_guardian.local.process import StackProcess
    from anomaly_guardian.scenario.generator import TYPES, generate
    from anomaly_guardian.settings import AuthorizerSettings

    started = time.time()
    say(f"Generating a labelled stream of ~{opts.events:,} events (seed {opts.seed}) ...")
    scenario = generate(opts.events, opts.seed)
    label_of = {row["eventId"]: (row["label"], row["episode"]) for row in scenario.labels}
    episodes: dict[str, set[str]] = defaultdict(set)
    for kind, episode in label_of.values():
        episodes[kind].add(episode)
    say(
        f"  {len(scenario.events):,} events over {scenario.stats['span_hours']:.0f} h of event time, "
        f"{len(scenario.labels)} labelled in {sum(len(v) for v in episodes.values())} injected episodes "
        f"({', '.join(f'{k} {len(episodes[k])}' for k in TYPES)})"
    )

    log_path = opts.report.parent / "demo-stack.log"
    stack = StackProcess(log_path, port=0, log_level=opts.log_level, template=opts.template)
    say("Starting the local stack (moto on loopback, tables/queues/topics from sam/template.yaml, real handlers) ...")
    stack.start()
    run = Run()
    usage_ok = True
    watch_stop = threading.Event()
    watchers: list[Watcher] = []
    try:
        api = stack.api
        say(f"  API {api}   AWS_ENDPOINT_URL {stack.aws_endpoint_url}   handler logs: {log_path}")
        for note in stack.info.get("notes", []):
            say(f"  note: {note}")
        missing_fns = sorted(REQUIRED_FUNCTIONS - set(stack.info.get("functions", [])))
        if missing_fns or not stack.info.get("streams"):
            say(f"Demo FAILED: the stack has no {', '.join(missing_fns) or 'Kinesis stream'} (see the notes above)")
            return 1
        key = load_signing_key(settings=AuthorizerSettings.from_env())
        settings = TokenSettings.from_settings(AuthorizerSettings.from_env(), key)
        tokens = {
            t: sign_token(
                key, t, scopes=DEFAULT_SCOPES, ttl_seconds=3600, issuer=settings.issuer, audience=settings.audience
            )
            for t in opts.tenants
        }
        say(
            f"  console (while the demo runs) {stack.info.get('console', api + '/console/')}"
            f"#token={tokens[opts.tenants[0]]}  (other tenants: guardian token --tenant T)"
        )
        watchers = [Watcher(api, token, run, opts.poll_interval, watch_stop) for token in tokens.values()]
        for w in watchers:
            w.start()

        # ---- send
        session = requests.Session()
        by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
        chunk = opts.batch * len(opts.tenants)
        say(f"Sending through POST /events: batches of up to {opts.batch}, {len(opts.tenants)} tenants ...")
        run.send_started = time.time()
        last_report = time.time()
        for start in range(0, len(scenario.events), chunk):
            by_tenant.clear()
            for ev in scenario.events[start : start + chunk]:
                tenant = tenant_for(ev, label_of.get(ev["eventId"]), opts.tenants)
                by_tenant[tenant].append(ev)
            for tenant, evs in by_tenant.items():
                for i in range(0, len(evs), opts.batch):
                    part = evs[i : i + opts.batch]
                    _wait_backlog(stack, run, opts.max_backlog)
                    resp = session.post(
                        f"{api}/events",
                        json={"events": part},
                        headers={"Authorization": f"Bearer {tokens[tenant]}"},
                        timeout=60,
                    )
                    now = time.time()
                    if resp.status_code == 202:
                        run.accepted += len(part)
                        for ev in part:
                            run.accepted_at[ev["eventId"]] = now
                            run.tenant_of_event[ev["eventId"]] = tenant
                    else:
                        run.rejected.append((f"stream batch ({tenant})", resp.status_code, resp.text[:160]))
            if time.time() - last_report > 5:
                last_report = time.time()
                say(
                    f"  sent {min(start + chunk, len(scenario.events)):,}/{len(scenario.events):,}, "
                    f"processed {_processed(stack):,}, anomalies visible {len(run.first_seen):,}"
                )
        run.send_finished = time.time()
        say("Sending deliberately bad requests ...")
        bad = bad_requests(api, tokens[opts.tenants[0]])

        # ---- drain
        deadline = time.time() + opts.drain_timeout
        while time.time() < deadline:
            stats = stack.stats()["kinesis"]
            done = sum(s["processed"] + s["sent_to_destination"] + s["discarded"] for s in stats)
            if done >= run.accepted and stack.stats()["kinesis_caught_up"]:
                break
            time.sleep(0.25)
        time.sleep(max(0.5, 2 * opts.poll_interval))  # let the watcher see the last anomalies
        watch_stop.set()
        for w in watchers:
            w.join(timeout=10)
        all_anomalies: list[dict[str, Any]] = []
        for token in tokens.values():
            all_anomalies.extend(fetch_anomalies(session, api, token))
        final_stats = stack.stats()
        isolation = _isolation_check(session, api, tokens, run)
        if opts.usage:
            from anomaly_guardian.local.demo_usage import run_usage_demo

            usage_ok = run_usage_demo(stack, api, opts.report.parent)
        report_line = _daily_report(session, api, opts.tenants[0], tokens[opts.tenants[0]])
        say(report_line)
    except DemoStalled as exc:
        say(f"Demo FAILED: {exc}; handler logs in {log_path}")
        return 1
    finally:
        watch_stop.set()
        stack.stop()

    code = _summarise(
        opts, scenario, label_of, episodes, run, all_anomalies, final_stats, bad, isolation, started, TYPES
    )
    if not usage_ok:
        say("Demo FAILED: the usage path (CloudTrail through the local log group) did not find every episode")
        return 1
    return code


def _daily_report(session: requests.Session, api: str, tenant: str, token: str) -> str:
    """POST /reports for today's daily report (written to the emulated reports bucket as JSON and HTML)."""
    day = time.strftime("%Y-%m-%d", time.gmtime())
    resp = session.post(
        f"{api}/reports",
        json={"period": "daily", "date": day},
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    if resp.status_code != 200:
        return f"Daily report of {tenant}: FAILED ({resp.status_code} {resp.text[:160]})"
    rep = resp.json()
    s = rep["summary"]
    return (
        f"Daily report of {tenant} (guardian report daily): {s['anomalies_detected']} anomalies, "
        f"{s['total_events_processed']:,} events, {s['actions_performed']} actions, posture "
        f"{rep['kpis']['securityPostureScore']} -> {rep['links']['s3Json']} and .html"
    )


def _processed(stack: Any) -> int:
    return sum(s["processed"] + s["sent_to_destination"] + s["discarded"] for s in stack.stats()["kinesis"])


class DemoStalled(RuntimeError):
    pass


def _wait_backlog(stack: Any, run: Run, max_backlog: int, stall_after: float = 60.0) -> None:
    """Wait until the detector is within `max_backlog` records; give up if it makes no progress."""
    last, since = -1, time.time()
    while True:
        done = _processed(stack)
        if run.accepted - done <= max_backlog:
            return
        if done != last:
            last, since = done, time.time()
        elif time.time() - since > stall_after:
            raise DemoStalled(f"the detector processed nothing for {stall_after:.0f}s ({done} of {run.accepted})")
        time.sleep(0.05)


def _isolation_check(session: requests.Session, api: str, tokens: dict[str, str], run: Run) -> str:
    """Tenant A's token must not read tenant B's anomalies, even by id."""
    tenants = list(tokens)
    if len(tenants) < 2:
        return "skipped (one tenant)"
    a, b = tenants[0], tenants[1]
    b_ids = [aid for aid, item in run.seen.items() if item.get("tenantId") == b][:5]
    leaks = 0
    for aid in b_ids:
        resp = session.get(f"{api}/anomalies/{aid}", headers={"Authorization": f"Bearer {tokens[a]}"}, timeout=30)
        leaks += resp.status_code == 200
    listed = fetch_anomalies(session, api, tokens[a])
    leaks += sum(1 for x in listed if x.get("tenantId") != a)
    return "ok" if leaks == 0 and b_ids else ("LEAK" if leaks else "not checked (no anomalies for tenant 2)")


def _summarise(opts, scenario, label_of, episodes, run, anomalies, stats, bad, isolation, started, types) -> int:
    kinesis = stats["kinesis"]
    detected: dict[str, set[str]] = defaultdict(set)
    raised: Counter = Counter()
    actions: Counter = Counter()
    ttd: dict[str, list[float]] = defaultdict(list)
    server_ttd: list[float] = []
    after_detect: list[float] = []  # detectedAt -> first seen: the write, the poll and the GET
    timing: list[dict[str, Any]] = []  # per anomaly, written next to the report
    visible_latency: list[float] = []
    unseen = 0
    for a in anomalies:
        kind = a["anomalyType"]
        raised[kind] += 1
        actions[kind] += len(a.get("actionsPerformed") or [])
        eid = a["originalEvent"]["eventId"]
        label = label_of.get(eid)
        accepted = run.accepted_at.get(eid)
        seen = run.first_seen.get(a["anomalyId"])
        if accepted is not None and seen is not None:
            visible_latency.append(seen - accepted)
        elif accepted is not None:
            unseen += 1
        if accepted is not None:
            server_ttd.append(_epoch(a["detectedAt"]) - accepted)
        if seen is not None:
            after_detect.append(seen - _epoch(a["detectedAt"]))
        timing.append(
            {
                "anomalyId": a["anomalyId"],
                "type": kind,
                "eventId": eid,
                "label": label[0] if label else None,
                "accepted": accepted,
                "detectedAt": a["detectedAt"],
                "seen": seen,
            }
        )
        if label and label[0] == kind:
            detected[kind].add(label[1])
            if accepted is not None and seen is not None:
                ttd[kind].append(seen - accepted)

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}s"

    headers = ["type", "episodes sent", "detected", "anomalies", "actions", "TTD p50", "TTD p95"]
    rows = []
    for kind in [*types, *sorted(set(raised) - set(types))]:
        rows.append(
            [
                kind,
                len(episodes.get(kind, ())),
                len(detected[kind]),
                raised[kind],
                actions[kind],
                fmt(percentile(ttd[kind], 50)),
                fmt(percentile(ttd[kind], 95)),
            ]
        )
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    say()
    say("  ".join(h.ljust(widths[i]) if i == 0 else h.rjust(widths[i]) for i, h in enumerate(headers)))
    for r in rows:
        say("  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r)))
    say(
        f"(TTD: POST /events 202 -> anomaly first returned by GET /anomalies, polled every {opts.poll_interval:.2f}s"
        " per tenant."
        " An episode is detected when an anomaly of its type was raised on one of its events.)"
    )

    p50, p95 = percentile(visible_latency, 50), percentile(visible_latency, 95)
    s95 = percentile(server_ttd, 95)
    received = sum(s["received"] for s in kinesis)
    processed = sum(s["processed"] for s in kinesis)
    to_dlq = sum(s["sent_to_destination"] for s in kinesis)
    discarded = sum(s["discarded"] for s in kinesis)
    send_s = max(run.send_finished - run.send_started, 1e-9)
    say()
    say(
        f"Accepted -> visible latency over {len(visible_latency)} anomalies: p50 {fmt(p50)}, p95 {fmt(p95)} "
        f"(target <= {LATENCY_TARGET_S:.0f}s){'' if not unseen else f'; {unseen} never seen by the watcher'}"
    )
    say(
        f"  of which accepted -> detectedAt (stream + detector) p95 {fmt(s95)}; detectedAt -> seen by GET "
        f"(anomaly write, poll interval, API) p95 {fmt(percentile(after_detect, 95))}"
    )
    say(
        f"Sent {run.accepted:,} events in {send_s:.1f}s ({run.accepted / send_s:,.0f} events/s, paced to a stream "
        f"backlog <= {opts.max_backlog} records)"
    )
    det = stats["functions"].get("DetectorFunction") or {}
    if det.get("invocations"):
        n = det["invocations"]
        say(
            f"Detector: {n} invocations, {received / n:.0f} records and {1000 * det['busy_s'] / n:.0f} ms per "
            f"invocation on average ({received / max(det['busy_s'], 1e-9):,.0f} events/s of handler time)"
        )
    lost = run.accepted - (processed + to_dlq)
    say(
        f"Events: accepted {run.accepted:,}; delivered to the detector {received:,}; processed {processed:,}; "
        f"to the failure destination {to_dlq:,}; discarded {discarded:,}"
    )
    no_loss = lost == 0 and received == run.accepted and discarded == 0
    say("No event lost" if no_loss else f"EVENTS LOST: {lost} accepted event(s) unaccounted for")
    say("Rejected requests (each with the API's reason):")
    for name, status, reason in [*run.rejected, *bad]:
        say(f"  {status}  {name}: {reason}")
    say(f"Tenant isolation (token of one tenant reading another's anomalies): {isolation}")

    missing = [k for k in types if episodes.get(k) and not detected[k]]
    latency_ok = p95 is not None and p95 <= LATENCY_TARGET_S
    bad_ok = all(400 <= status < 500 for _, status, _ in bad)
    facts = [
        ("events generated", f"{len(scenario.events):,}"),
        ("accepted", f"{run.accepted:,}"),
        ("processed / failure destination / discarded", f"{processed:,} / {to_dlq:,} / {discarded:,}"),
        ("send rate", f"{run.accepted / send_s:,.0f} events/s"),
        ("accepted -> visible p50 / p95", f"{fmt(p50)} / {fmt(p95)}"),
        ("accepted -> detectedAt p95", fmt(s95)),
        ("tenants", ", ".join(opts.tenants)),
        ("tenant isolation", isolation),
        ("wall time", f"{time.time() - started:.0f}s"),
    ]
    opts.report.parent.mkdir(parents=True, exist_ok=True)
    from anomaly_guardian.local.report import render

    opts.report.write_text(
        render(
            title="Anomaly Guardian local demo",
            summary_headers=headers,
            summary_rows=rows,
            facts=facts,
            anomalies=anomalies,
            rejected=[*run.rejected, *bad],
            notes=[
                "Latency is measured by the demo client: from the 202 of the POST that carried the event to the "
                f"first GET /anomalies poll (every {opts.poll_interval:.2f}s) that returned the anomaly.",
            ],
        ),
        encoding="utf-8",
    )
    timing_path = opts.report.with_name("demo-latency.json")
    timing_path.write_text(json.dumps(timing, indent=1), encoding="utf-8")
    say(f"Report: {opts.report.resolve()} (per-anomaly timings: {timing_path})")
    failures = []
    if missing:
        failures.append(f"not detected: {', '.join(missing)}")
    if not no_loss:
        failures.append("events lost")
    if not latency_ok:
        failures.append(f"p95 latency {fmt(p95)} above {LATENCY_TARGET_S:.0f}s")
    if not bad_ok:
        failures.append("a bad request was not refused with a 4xx")
    if isolation == "LEAK":
        failures.append("tenant isolation")
    say(f"Demo {'FAILED: ' + '; '.join(failures) if failures else 'passed'} ({time.time() - started:.0f}s)")
    return 1 if failures else 0


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def main(argv: list[str] | None = None) -> int:
    return run_demo(DemoOptions())


if __name__ == "__main__":
    sys.exit(main())
