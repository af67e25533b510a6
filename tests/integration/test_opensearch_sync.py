"""OpenSearch objects as code against the local fake, over HTTP with SigV4 (opensearch-py AWSV4SignerAuth).

Given the declared objects, when `guardian opensearch sync` runs twice, the second run writes nothing;
when someone changes, deletes or adds managed objects on the domain, `--check` reports the drift and
the next sync repairs it (a running detector is stopped, updated and started again) and deletes managed
objects no longer declared, never unmanaged ones. The fake checks every request's shape the way the
plugin's parser does, so a request the real API would refuse fails here too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import requests

from anomaly_guardian.adapters.opensearch_admin import OpenSearchAdmin
from anomaly_guardian.cli import main
from anomaly_guardian.local.opensearch import FakeOpenSearch
from anomaly_guardian.local.server import DUMMY_CREDENTIALS
from anomaly_guardian.search.declared import SyncContext, UsageDetectorSpec, build, managed
from anomaly_guardian.search.sync import AD, differences, sync
from anomaly_guardian.search.trail import bulk_lines

ROOT = Path(__file__).resolve().parents[2]
WRITES = ("PUT", "POST", "DELETE")


@pytest.fixture
def fake(monkeypatch):
    for k, v in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    f = FakeOpenSearch()
    f.serve("127.0.0.1", 0)
    yield f
    f.shutdown()


def admin(fake) -> OpenSearchAdmin:
    return OpenSearchAdmin(fake.url, region="us-east-1")


def ctx() -> SyncContext:
    return SyncContext(
        sns_topic_arn="arn:aws:sns:us-east-1:123456789012:guardian-alerts",
        sns_role_arn="arn:aws:iam::123456789012:role/guardian-opensearch-sns",
        indexer_backend_roles=["arn:aws:iam::123456789012:role/guardian-search-indexer"],
        analyst_backend_roles=["arn:aws:iam::123456789012:role/guardian-analysts"],
        tenant_backend_roles={"acme": ["arn:aws:iam::123456789012:role/acme"], "globex": ["arn:aws:iam::1:role/g"]},
    )


def record(i: int, name: str, source: str, **params) -> dict:
    return {
        "eventID": f"ev-{i}",
        "eventTime": f"2026-03-02T10:{i % 60:02d}:00Z",
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "recipientAccountId": "123456789012",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/ci/x"},
        "requestParameters": params,
    }


def seed_trail(a: OpenSearchAdmin) -> None:
    recs = [record(i, "RunInstances", "ec2.amazonaws.com", instanceType="m5.large", maxCount=2) for i in range(5)]
    recs += [record(100 + i, "CreateVolume", "ec2.amazonaws.com", volumeType="gp3", size=20) for i in range(5)]
    recs += [record(200 + i, "Invoke", "lambda.amazonaws.com", functionName="orders") for i in range(20)]
    status, out = a.request("POST", "/_bulk", bulk_lines(recs))
    assert status == 200 and not out["errors"], out


def writes_since(fake, mark: int) -> list[tuple[str, str, int]]:
    return [r for r in fake.requests[mark:] if r[0] in WRITES and not r[1].endswith("/_search")]


def test_sync_twice_the_second_run_writes_nothing(fake):
    a = admin(fake)
    first = sync(a, build(ctx()))
    # No trail documents yet: AD refuses detectors over empty indices, so they (and their monitors) wait.
    assert {c.name for c in first.changes if c.action == "skipped"} == {
        managed(n) for n in ("ec2-runinstances", "ebs-createvolume", "lambda-invoke")
    } | {managed(f"{n}-anomalies") for n in ("ec2-runinstances", "ebs-createvolume", "lambda-invoke")}
    seed_trail(a)
    mark = len(fake.requests)
    second = sync(a, build(ctx()))
    assert second.count("create") == 6 and second.count("skipped") == 0  # the 3 detectors and their monitors
    assert sorted(second.started) == sorted(
        managed(n) for n in ("ec2-runinstances", "ebs-createvolume", "lambda-invoke")
    )
    refused = [r for r in fake.requests[mark:] if r[2] >= 400]
    assert refused == []  # every request the sync made has the shape the APIs accept
    mark = len(fake.requests)
    third = sync(a, build(ctx()))
    assert third.writes == [] and third.started == []
    assert writes_since(fake, mark) == []  # not a single write request on the idempotent run
    plugins = fake.state["plugins"]
    assert {d["detector"]["name"] for d in plugins.detectors.values()} >= {managed("lambda-invoke")}
    # monitors point at the real detector ids and notify the SNS channel
    ids = {d["detector"]["name"]: i for i, d in plugins.detectors.items()}
    for m in plugins.monitors.values():
        q = json.dumps(m["monitor"]["inputs"][0]["search"]["query"])
        assert any(i in q for i in ids.values()) and "@detector:" not in q
        action = m["monitor"]["triggers"][0]["query_level_trigger"]["actions"][0]
        assert action["destination_id"] == managed("sns-alerts")
    assert plugins.configs[managed("sns-alerts")]["config"]["sns"]["topic_arn"].endswith(":guardian-alerts")
    # per-tenant document-level security on the anomalies
    dls = json.loads(plugins.roles[managed("tenant-acme")]["index_permissions"][0]["dls"])
    assert dls == {"term": {"tenantId": "acme"}}
    assert plugins.mappings[managed("tenant-acme")]["backend_roles"] == ["arn:aws:iam::123456789012:role/acme"]


def test_drift_is_reported_then_repaired_and_undeclared_managed_objects_deleted(fake, capsys):
    a = admin(fake)
    seed_trail(a)
    sync(a, build(ctx()))
    plugins = fake.state["plugins"]
    # Someone edits the domain by hand:
    pid = managed("cloudtrail-retention")
    item = plugins.ism[pid]
    policy = json.loads(json.dumps(item["policy"]))
    policy["states"][0]["transitions"][0]["conditions"]["min_index_age"] = "7d"
    for k in ("policy_id", "last_updated_time", "schema_version"):
        policy.pop(k)
    status, _ = a.request(
        "PUT",
        f"/_plugins/_ism/policies/{pid}",
        {"policy": policy},
        {"if_seq_no": item["_seq_no"], "if_primary_term": item["_primary_term"]},
    )
    assert status == 200
    role = plugins.roles[managed("analyst-readonly")]
    a.request(
        "PUT",
        f"/_plugins/_security/api/roles/{managed('analyst-readonly')}",
        {k: role[k] for k in ("cluster_permissions", "tenant_permissions")}
        | {"index_permissions": [{"index_patterns": ["*"], "allowed_actions": ["indices_all"]}]},
    )
    a.request("DELETE", f"/api/saved_objects/dashboard/{managed('ebs-usage')}", target="dashboards")
    stray = {
        "type": "monitor",
        "name": managed("retired-monitor"),
        "enabled": True,
        "schedule": {"period": {"interval": 5, "unit": "MINUTES"}},
        "inputs": [{"search": {"indices": ["x"], "query": {"query": {"match_all": {}}}}}],
        "triggers": [],
    }
    assert a.request("POST", "/_plugins/_alerting/monitors", stray)[0] == 200
    assert a.request("POST", "/_plugins/_alerting/monitors", {**stray, "name": "team-own-monitor"})[0] == 200
    # ...and the declarations change: the Invoke detector now runs every 10 minutes.
    specs = tuple(
        UsageDetectorSpec(**{**s.__dict__, "interval_minutes": 10}) if s.name == "lambda-invoke" else s
        for s in __import__("anomaly_guardian.search.declared", fromlist=["x"]).USAGE_DETECTORS
    )
    mark = len(fake.requests)
    check = sync(a, build(ctx(), specs), dry_run=True)
    assert writes_since(fake, mark) == []  # --check writes nothing
    by = {(c.kind, c.name): c for c in check.changes}
    assert by[("ism_policy", pid)].action == "update"
    assert any("min_index_age" in d and '"7d"' in d for d in by[("ism_policy", pid)].drift)
    assert by[("role", managed("analyst-readonly"))].action == "update"
    assert by[("saved_object", f"dashboard/{managed('ebs-usage')}")].action == "create"
    assert by[("monitor", managed("retired-monitor"))].action == "delete"
    assert by[("detector", managed("lambda-invoke"))].action == "update"
    assert ("monitor", "team-own-monitor") not in by  # not ours: never touched
    # The CLI reports the same drift and exits 1
    code = main(
        [
            "opensearch",
            "sync",
            "--check",
            "--endpoint",
            fake.url,
            "--region",
            "us-east-1",
            "--sns-topic-arn",
            ctx().sns_topic_arn,
            "--sns-role-arn",
            ctx().sns_role_arn,
            *[arg for r in ctx().indexer_backend_roles for arg in ("--indexer-role", r)],
            *[arg for r in ctx().analyst_backend_roles for arg in ("--analyst-role", r)],
            "--tenant-role",
            "acme=arn:aws:iam::123456789012:role/acme",
            "--tenant-role",
            "globex=arn:aws:iam::1:role/g",
        ]
    )
    out = capsys.readouterr()
    assert code == 1 and "drift" in out.err
    assert (
        f"update    ism_policy    {pid}" in out.out
        and f"delete    monitor       {managed('retired-monitor')}" in out.out
    )
    # Repair
    mark = len(fake.requests)
    fixed = sync(a, build(ctx(), specs))
    calls = [(m, p) for m, p, _ in fake.requests[mark:]]
    did = next(i for i, d in plugins.detectors.items() if d["detector"]["name"] == managed("lambda-invoke"))
    stop, put, start = (
        calls.index(("POST", f"{AD}/{did}/_stop")),
        calls.index(("PUT", f"{AD}/{did}")),
        calls.index(("POST", f"{AD}/{did}/_start")),
    )
    assert stop < put < start  # a running detector is stopped, updated, started again
    assert plugins.detectors[did]["detector"]["detection_interval"]["period"]["interval"] == 10
    assert plugins.detectors[did]["job"]["enabled"] is True
    assert plugins.ism[pid]["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"] == "90d"
    assert f"dashboard/{managed('ebs-usage')}" in plugins.saved
    names = {m["monitor"]["name"] for m in plugins.monitors.values()}
    assert managed("retired-monitor") not in names and "team-own-monitor" in names
    assert fixed.count("delete") == 1
    assert sync(a, build(ctx(), specs)).writes == []


def test_dropping_a_declaration_deletes_its_objects(fake):
    a = admin(fake)
    seed_trail(a)
    full = ctx()
    sync(a, build(full))
    fewer = SyncContext(**{**full.__dict__, "tenant_backend_roles": {"acme": full.tenant_backend_roles["acme"]}})
    specs = tuple(
        s
        for s in __import__("anomaly_guardian.search.declared", fromlist=["x"]).USAGE_DETECTORS
        if s.name != "ebs-createvolume"
    )
    report = sync(a, build(fewer, specs))
    deleted = {(c.kind, c.name) for c in report.changes if c.action == "delete"}
    assert deleted == {
        ("detector", managed("ebs-createvolume")),
        ("monitor", managed("ebs-createvolume-anomalies")),
        ("role", managed("tenant-globex")),
        ("role_mapping", managed("tenant-globex")),
    }
    plugins = fake.state["plugins"]
    assert managed("ebs-createvolume") not in {d["detector"]["name"] for d in plugins.detectors.values()}
    assert managed("tenant-globex") not in plugins.roles


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "reason"),
    [
        (
            "POST",
            AD,
            {
                "name": "d",
                "time_field": "eventTime",
                "indices": ["cloudtrail-*"],
                "feature_attributes": [],
                "detection_interval": {"period": {"interval": 5, "unit": "Minutes"}},
                "typo": 1,
            },
            {},
            "unknown field [typo]",
        ),
        (
            "POST",
            AD,
            {
                "name": "d",
                "time_field": "eventTime",
                "indices": ["cloudtrail-*"],
                "feature_attributes": [
                    {
                        "feature_name": "c",
                        "feature_enabled": True,
                        "aggregation_query": {"c": {"value_count": {"field": "eventID"}}},
                    }
                ],
                "detection_interval": {"period": {"interval": 5, "unit": "Minutes"}},
                "category_field": ["errorMessage"],
            },
            {},
            "must be of type keyword or ip",
        ),
        (
            "POST",
            AD,
            {
                "name": "d",
                "time_field": "eventTime",
                "indices": ["cloudtrail-*"],
                "feature_attributes": [
                    {
                        "feature_name": "c",
                        "feature_enabled": True,
                        "aggregation_query": {"c": {"sum": {"field": "eventName"}}},
                    }
                ],
                "detection_interval": {"period": {"interval": 5, "unit": "Minutes"}},
            },
            {},
            "not numeric",
        ),
        (
            "PUT",
            "/_plugins/_ism/policies/p",
            {
                "policy": {
                    "default_state": "hot",
                    "states": [{"name": "hot", "actions": [{"explode": {}}], "transitions": []}],
                }
            },
            {},
            "Invalid field: [explode]",
        ),
        (
            "PUT",
            "/_plugins/_ism/policies/p",
            {"policy": {"default_state": "warm", "states": [{"name": "hot", "actions": [], "transitions": []}]}},
            {},
            "default state [warm] does not exist",
        ),
        (
            "POST",
            "/_plugins/_alerting/monitors",
            {
                "type": "monitor",
                "name": "m",
                "schedule": {"period": {"interval": 1, "unit": "MINUTES"}},
                "inputs": [],
                "triggers": [
                    {
                        "query_level_trigger": {
                            "name": "t",
                            "severity": "9",
                            "condition": {"script": {"source": "true"}},
                            "actions": [],
                        }
                    }
                ],
            },
            {},
            "severity must be 1..5",
        ),
        (
            "POST",
            "/_plugins/_notifications/configs",
            {"config": {"name": "c", "config_type": "sns", "sns": {"topic_arn": "nope"}}},
            {},
            "Invalid AWS SNS topic ARN",
        ),
        (
            "PUT",
            "/_plugins/_security/api/roles/r",
            {"index_permissions": [{"index_patterns": ["a"], "dls": "{not json", "allowed_actions": ["read"]}]},
            {},
            "Invalid DLS",
        ),
        (
            "PUT",
            "/_index_template/t",
            {
                "index_patterns": ["x-*"],
                "template": {"settings": {"index": {"plugins.index_state_management.policy_id": "p"}}},
            },
            {},
            "unknown setting",
        ),
        (
            "POST",
            "/_dashboards/api/saved_objects/dashboard/d",
            {"attributes": {"title": "t", "panelsJSON": "[]"}},
            {"osd-xsrf": None},
            "osd-xsrf",
        ),
        (
            "POST",
            "/_dashboards/api/saved_objects/visualization/v",
            {"attributes": {"title": "t", "visState": "{bad"}},
            {"osd-xsrf": "true"},
            "not JSON",
        ),
    ],
)
def test_the_fake_refuses_what_the_real_api_refuses(fake, method, path, body, headers, reason):
    seed_trail(admin(fake))
    a = admin(fake)
    a.request("PUT", "/_index_template/guardian-cloudtrail", build(ctx())[2].body)  # the trail mapping, for AD checks
    if headers.get("osd-xsrf", "true") is None:  # straight HTTP, signed like the client, without the header
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        req = AWSRequest(
            method=method,
            url=f"{fake.url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        SigV4Auth(Credentials("testing", "testing", "testing"), "es", "us-east-1").add_auth(req)
        resp = requests.request(method, f"{fake.url}{path}", data=req.body, headers=dict(req.headers), timeout=5)
        status, payload = resp.status_code, resp.json()
    else:
        target = "dashboards" if path.startswith("/_dashboards") else "search"
        status, payload = a.request(method, path.removeprefix("/_dashboards"), body, target=target)
    assert status == 400, payload
    assert reason in json.dumps(payload)


def test_unsigned_requests_are_refused(fake):
    resp = requests.put(f"{fake.url}/_plugins/_ism/policies/p", json={"policy": {}}, timeout=5)
    assert resp.status_code == 403


def test_containment_comparison_tolerates_server_defaults_but_not_changes():
    assert differences({"a": {"b": 1}}, {"a": {"b": 1, "server": True}, "id": "x"}) == []
    assert differences({"a": [1, 2]}, {"a": [1, 2, 3]}) != []
    assert differences({"x": 1.0}, {"x": 1}) == []
    assert differences({"x": "7d"}, {"x": "90d"}) == ['/x: "90d" != declared "7d"']


def test_the_ci_smoke_script_passes_against_the_fake(fake, capsys):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import opensearch_smoke
    finally:
        sys.path.pop(0)
    code = opensearch_smoke.main(["--endpoint", fake.url, "--region", "us-east-1", "--days", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "sync 3 (must change nothing): create 0, update 0, delete 0" in out
    assert "historical analysis: FINISHED" in out and "OK" in out
    assert fake.stats()["denied"] == 0
