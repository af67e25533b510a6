#!/usr/bin/env python3
"""OpenSearch end to end: sync the declared objects, index a CloudTrail trail, sync again (detectors
now creatable) and once more (must change nothing), run a detector over the trail and read its results.

The GitHub Actions job `opensearch` runs this against a real OpenSearch container (AD and alerting
plugins bundled); the tests run it against the local fake:

    python tools/opensearch_smoke.py --endpoint https://localhost:9200 --auth basic --insecure
    (OPENSEARCH_USERNAME / OPENSEARCH_PASSWORD for basic auth; SigV4 otherwise)

Exit 0 when every step held, 1 with the failing step otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta

from anomaly_guardian.adapters.opensearch_admin import OpenSearchAdmin
from anomaly_guardian.scenario.cloudtrail import generate_trail
from anomaly_guardian.search.declared import SyncContext, build, managed
from anomaly_guardian.search.sync import AD, sync
from anomaly_guardian.search.trail import bulk_lines

DETECTOR = managed("lambda-invoke")


class StepFailed(RuntimeError):
    pass


def call(admin, method, path, body=None, params=None, ok=(200, 201)):
    status, payload = admin.request(method, path, body, params)
    if status not in ok:
        raise StepFailed(f"{method} {path} -> HTTP {status}: {json.dumps(payload)[:400]}")
    return payload


def shifted_trail(seed: int, days: int) -> tuple[list[dict], datetime, datetime]:
    """A generated trail moved so that it ends an hour ago (historical analysis reads the past)."""
    trail = generate_trail(seed, days, "small", 1)
    last = datetime.fromisoformat(trail.records[-1]["eventTime"].replace("Z", "+00:00"))
    delta = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1) - last
    for rec in trail.records:
        t = datetime.fromisoformat(rec["eventTime"].replace("Z", "+00:00")) + delta
        rec["eventTime"] = t.isoformat().replace("+00:00", "Z")
    first = datetime.fromisoformat(trail.records[0]["eventTime"].replace("Z", "+00:00"))
    loops = [e for e in trail.episodes if e.kind == "lambda_loop"]
    print(
        f"trail: {len(trail.records):,} records, {first:%Y-%m-%d %H:%M} .. {last + delta:%Y-%m-%d %H:%M} UTC, "
        f"lambda loop(s): {[sorted(e.apis) for e in loops]}"
    )
    return trail.records, first, last + delta


def run_sync(admin, ctx, skip, label, expect_no_writes=False):
    report = sync(admin, build(ctx), skip=skip)
    for c in report.changes:
        if c.action != "unchanged":
            print(f"  {c.line()}")
    print(f"sync {label}: {report.summary()}; started {report.started or 'none'}")
    if expect_no_writes and report.writes:
        raise StepFailed(f"sync {label} was not idempotent: {[c.line() for c in report.writes]}")
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--dashboards-url")
    p.add_argument("--auth", choices=["sigv4", "basic"], default="sigv4")
    p.add_argument("--insecure", action="store_true")
    p.add_argument("--region", default=None)
    p.add_argument(
        "--skip", action="append", default=[], help="object kinds to leave out (e.g. saved_object without Dashboards)"
    )
    p.add_argument("--days", type=int, default=3)
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the historical analysis")
    args = p.parse_args(argv)
    admin = OpenSearchAdmin(
        args.endpoint,
        args.dashboards_url,
        region=args.region,
        auth=args.auth,
        username=os.environ.get("OPENSEARCH_USERNAME"),
        password=os.environ.get("OPENSEARCH_PASSWORD"),
        verify_certs=not args.insecure,
    )
    ctx = SyncContext(
        sns_topic_arn=os.environ.get("SMOKE_SNS_TOPIC_ARN"),
        sns_role_arn=os.environ.get("SMOKE_SNS_ROLE_ARN"),
        indexer_backend_roles=["arn:aws:iam::123456789012:role/guardian-indexer"],
        analyst_backend_roles=["arn:aws:iam::123456789012:role/guardian-analysts"],
        tenant_backend_roles={"acme": ["arn:aws:iam::123456789012:role/acme-analysts"]},
    )
    try:
        info = call(admin, "GET", "/")
        print(
            f"cluster: {info.get('cluster_name')} {info.get('version', {}).get('distribution', '')} "
            f"{info.get('version', {}).get('number', '')}"
        )
        run_sync(admin, ctx, args.skip, "1 (empty trail indexes)")
        records, first, last = shifted_trail(args.seed, args.days)
        for start in range(0, len(records), 5000):
            out = call(admin, "POST", "/_bulk", bulk_lines(records[start : start + 5000]))
            if out.get("errors"):
                bad = [i for i in out["items"] if next(iter(i.values()))["status"] >= 300][:3]
                raise StepFailed(f"bulk indexing rejected documents: {bad}")
        call(admin, "POST", "/cloudtrail-*/_refresh")
        count = call(admin, "GET", "/cloudtrail-*/_count")["count"]
        print(f"indexed {count:,} CloudTrail documents")
        if count < len(records):
            raise StepFailed(f"only {count} of {len(records)} documents searchable")
        run_sync(admin, ctx, args.skip, "2 (detectors creatable)")
        run_sync(admin, ctx, args.skip, "3 (must change nothing)", expect_no_writes=True)
        hits = call(admin, "POST", f"{AD}/_search", {"query": {"match_all": {}}, "size": 100})["hits"]["hits"]
        ids = {h["_source"]["name"]: h["_id"] for h in hits}
        if DETECTOR not in ids:
            raise StepFailed(f"detector {DETECTOR} not found after sync: {sorted(ids)}")
        did = ids[DETECTOR]
        window = {"start_time": int(first.timestamp() * 1000), "end_time": int(last.timestamp() * 1000) + 60_000}
        task = call(admin, "POST", f"{AD}/{did}/_start", window)
        print(f"historical analysis of {DETECTOR} started: task {task.get('_id')}")
        deadline = time.monotonic() + args.timeout
        state = "?"
        while time.monotonic() < deadline:
            detail = call(admin, "GET", f"{AD}/{did}", params={"task": "true"})
            state = (detail.get("historical_analysis_task") or {}).get("state", "?")
            if state in ("FINISHED", "FAILED", "STOPPED", "FAILED_TO_START"):
                break
            time.sleep(5)
        print(f"historical analysis: {state}")
        if state != "FINISHED":
            raise StepFailed(f"historical analysis ended {state}")
        query = {
            "size": 5,
            "sort": [{"anomaly_grade": {"order": "desc"}}],
            "query": {"bool": {"filter": [{"term": {"detector_id": did}}]}},
        }
        results = call(admin, "POST", f"{AD}/results/_search", query)["hits"]
        total = results["total"]["value"] if isinstance(results["total"], dict) else results["total"]
        print(f"detector results: {total} documents; top by grade:")
        for h in results["hits"]:
            s = h["_source"]
            print(
                f"  grade {s.get('anomaly_grade')} confidence {s.get('confidence')} entity {s.get('entity')} "
                f"{datetime.fromtimestamp(s.get('data_start_time', 0) / 1000, UTC):%Y-%m-%d %H:%M}"
            )
        if not total:
            raise StepFailed("the detector wrote no results")
        flagged = [h for h in results["hits"] if (h["_source"].get("anomaly_grade") or 0) > 0]
        print(f"anomalies with grade > 0 among the top results: {len(flagged)}")
    except StepFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
