"""The local emulation's Cost Explorer GetAnomalies stand-in: AWS's selection (DateInterval on the end date,
MonitorArn, TotalImpact) and paging, fed over moto's API route and read through a real boto3 client
against a moto server, and `guardian cost send`'s file formats."""

from __future__ import annotations

import json

import boto3
import pytest
import requests

from anomaly_guardian.local import cost_explorer
from anomaly_guardian.local.cost_explorer import FEED_PATH, AnomalyStore, InvalidAnomaly


def item(aid, start, end, impact=150.0, monitor="arn:aws:ce::123456789012:anomalymonitor/svc"):
    return {
        "AnomalyId": aid,
        "AnomalyStartDate": start,
        "AnomalyEndDate": end,
        "DimensionValue": "AWS Lambda",
        "MonitorArn": monitor,
        "RootCauses": [{"Service": "AWS Lambda", "Region": "us-east-1", "LinkedAccount": "123456789012"}],
        "AnomalyScore": {"MaxScore": 0.9, "CurrentScore": 0.8},
        "Impact": {"TotalImpact": impact, "MaxImpact": impact / 2},
    }


def ids(resp):
    return [a["AnomalyId"] for a in resp["Anomalies"]]


def test_selection_by_end_date_monitor_and_impact():
    s = AnomalyStore()
    s.put(
        [
            item("before", "2026-11-01", "2026-11-02"),
            item("in", "2026-11-05", "2026-11-06"),
            item("open", "2026-11-07", None),  # still open: its start date counts
            item("other-monitor", "2026-11-05", "2026-11-06", monitor="arn:aws:ce::1:anomalymonitor/acct"),
            item("small", "2026-11-06", "2026-11-06", impact=20.0),
            item("after", "2026-11-09", "2026-11-10"),
        ]
    )
    window = {"DateInterval": {"StartDate": "2026-11-03", "EndDate": "2026-11-08"}}
    assert ids(s.get_anomalies(window)) == ["in", "open", "other-monitor", "small"]
    svc = window | {"MonitorArn": "arn:aws:ce::123456789012:anomalymonitor/svc"}
    assert ids(s.get_anomalies(svc)) == ["in", "open", "small"]
    big = window | {"TotalImpact": {"NumericOperator": "GREATER_THAN_OR_EQUAL", "StartValue": 100}}
    assert ids(s.get_anomalies(big)) == ["in", "open", "other-monitor"]
    between = window | {"TotalImpact": {"NumericOperator": "BETWEEN", "StartValue": 10, "EndValue": 30}}
    assert ids(s.get_anomalies(between)) == ["small"]
    with pytest.raises(ValueError, match="DateInterval"):
        s.get_anomalies({})


def test_pages_and_replacement_by_anomaly_id():
    s = AnomalyStore()
    s.put([item(f"a{i:03d}", "2026-11-05", "2026-11-06") for i in range(250)])
    s.put([item("a007", "2026-11-05", "2026-11-06", impact=999.0)])  # Cost Explorer updated it: one, newest
    req = {"DateInterval": {"StartDate": "2026-11-01", "EndDate": "2026-11-30"}, "MaxResults": 100}
    seen, pages = [], 0
    while True:
        resp = s.get_anomalies(req)
        seen += resp["Anomalies"]
        pages += 1
        if "NextPageToken" not in resp:
            break
        req["NextPageToken"] = resp["NextPageToken"]
    assert pages == 3 and len(seen) == 250 and len({a["AnomalyId"] for a in seen}) == 250
    assert next(a for a in seen if a["AnomalyId"] == "a007")["Impact"]["TotalImpact"] == 999.0


def test_an_anomaly_without_its_impact_or_dates_is_refused():
    with pytest.raises(InvalidAnomaly, match="missing"):
        cost_explorer.check({"AnomalyId": "x"})
    bad = item("x", "2026-11-05", "5 Nov")
    with pytest.raises(InvalidAnomaly, match="AnomalyEndDate"):
        cost_explorer.check(bad)
    no_total = item("y", "2026-11-05", "2026-11-06")
    no_total["Impact"] = {"MaxImpact": 1.0}
    with pytest.raises(InvalidAnomaly, match="TotalImpact"):
        cost_explorer.check(no_total)
    s = AnomalyStore()  # a feed with one invalid anomaly (answered 400) stores none of it
    with pytest.raises(InvalidAnomaly):
        s.put([item("ok", "2026-11-05", "2026-11-06"), no_total])
    assert s.items == {}


@pytest.fixture
def moto_server(monkeypatch):
    from anomaly_guardian.local.server import DUMMY_CREDENTIALS, MotoServer

    for k, v in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    cost_explorer.reset()
    server = MotoServer(in_process=True).start()
    try:
        yield server
    finally:
        server.stop()
        cost_explorer.reset()


def test_fed_over_http_and_read_by_a_real_client(moto_server, tmp_path):
    # Given two anomalies posted to the feed route (what `guardian cost send` does)
    resp = requests.post(
        moto_server.url + FEED_PATH,
        json={"Anomalies": [item("http-1", "2026-11-05", "2026-11-06"), item("http-2", "2026-11-06", "2026-11-07")]},
        timeout=10,
    )
    assert resp.status_code == 201 and resp.json() == {"stored": 2}
    assert requests.post(moto_server.url + FEED_PATH, json={"Anomalies": [{}]}, timeout=10).status_code == 400
    # When boto3's Cost Explorer client asks the emulation, one per page
    ce = boto3.client("ce", endpoint_url=moto_server.url, region_name="us-east-1")
    first = ce.get_anomalies(DateInterval={"StartDate": "2026-11-01", "EndDate": "2026-11-30"}, MaxResults=1)
    rest = ce.get_anomalies(
        DateInterval={"StartDate": "2026-11-01", "EndDate": "2026-11-30"},
        MaxResults=1,
        NextPageToken=first["NextPageToken"],
    )
    # Then it gets them as Cost Explorer would, typed by botocore's model
    assert ids(first) == ["http-1"] and ids(rest) == ["http-2"] and "NextPageToken" not in rest
    assert rest["Anomalies"][0]["Impact"]["TotalImpact"] == 150.0
    # and moto's reset forgets them with everything else
    requests.post(moto_server.url + "/moto-api/reset", timeout=10)
    assert ce.get_anomalies(DateInterval={"StartDate": "2026-11-01"})["Anomalies"] == []


def test_guardian_cost_send_reads_a_saved_answer_a_list_or_json_lines(moto_server, tmp_path, capsys):
    from anomaly_guardian.cli import main

    saved = tmp_path / "get-anomalies.json"
    saved.write_text(json.dumps({"Anomalies": [item("f-1", "2026-11-05", "2026-11-06")]}))
    lines = tmp_path / "more.jsonl"
    lines.write_text("\n".join(json.dumps(item(f"f-{i}", "2026-11-05", "2026-11-06")) for i in (2, 3)) + "\n")
    assert main(["cost", "send", str(saved), str(lines), "--endpoint-url", moto_server.url]) == 0
    assert "stored 3 Cost Explorer anomalies" in capsys.readouterr().out
    ce = boto3.client("ce", endpoint_url=moto_server.url, region_name="us-east-1")
    assert ids(ce.get_anomalies(DateInterval={"StartDate": "2026-11-01"})) == ["f-1", "f-2", "f-3"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([{"AnomalyId": "no-impact"}]))
    assert main(["cost", "send", str(broken), "--endpoint-url", moto_server.url]) == 1
    assert "missing" in capsys.readouterr().err
